//! What happens on each call as it happens: the prompt the caller is about to
//! hear, every step of the IVR trail when it is written, and the end. The
//! contact record holds the same trail once the call is over; these events are
//! for whoever watches live (`dialect call`, a supervisor's screen), through
//! `GET /api/v1/calls/events` (`api/calls.rs`). Sending costs nothing when
//! nobody listens, and a slow listener misses events instead of slowing calls.

use serde::Serialize;
use tokio::sync::broadcast;

/// Events kept for listeners that fall behind before they miss some.
const BACKLOG: usize = 1024;

/// One thing that happened on a call.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CallEvent {
    /// The call's SIP Call-ID: the caller knows it before the call is answered,
    /// so it can listen before the first prompt.
    pub call_id: String,
    /// The contact record the call writes (`GET /api/v1/contacts/{id}`).
    pub contact: u64,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// What happened.
    pub kind: CallEventKind,
    /// The flow step (menu name, `play`, `lookup crm.customer`...).
    pub node: String,
    /// For a prompt, what is played or said; for a step, its trail detail;
    /// for the end, how the call ended.
    pub detail: String,
}

/// The kinds of [`CallEvent`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CallEventKind {
    /// The caller is about to hear this (prompt files or text to speech).
    Prompt,
    /// An entry of the IVR trail, as it is written.
    Step,
    /// The call is over; the contact record is saved.
    Ended,
}

/// The sending side, shared by every call task and the API.
#[derive(Debug, Clone)]
pub struct CallEvents {
    tx: broadcast::Sender<CallEvent>,
}

impl Default for CallEvents {
    fn default() -> Self {
        CallEvents {
            tx: broadcast::channel(BACKLOG).0,
        }
    }
}

impl CallEvents {
    /// Sends an event to every listener (none is fine).
    pub fn send(&self, event: CallEvent) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(event);
        }
    }

    /// A new listener: every event sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<CallEvent> {
        self.tx.subscribe()
    }
}
