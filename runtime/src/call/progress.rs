//! What happens on each call as it happens: the prompt the caller is about to
//! hear, every step of the IVR trail when it is written, and the end. The
//! contact record holds the same trail once the call is over; these events are
//! for whoever watches live (`dialect call`, a supervisor's screen), through
//! `GET /api/v1/calls/events` (`api/calls.rs`). Sending costs nothing when
//! nobody listens, and a slow listener misses events instead of slowing calls.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

/// Events kept for listeners that fall behind before they miss some.
const BACKLOG: usize = 1024;
/// Listeners at once: each holds a connection and a place in the backlog, so
/// their number is bounded like any other network input.
pub const MAX_LISTENERS: usize = 64;
/// The longest `detail` sent, in bytes: a text to speech prompt can be long,
/// and a listener needs its start, not a megabyte of it.
pub const MAX_DETAIL: usize = 1024;

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
    listeners: Arc<Semaphore>,
}

impl Default for CallEvents {
    fn default() -> Self {
        CallEvents::new(MAX_LISTENERS)
    }
}

/// A listener: the events, and its place among the [`MAX_LISTENERS`] (given
/// back when it is dropped).
#[derive(Debug)]
pub struct Listener {
    /// Every event sent since the listener was made.
    pub events: broadcast::Receiver<CallEvent>,
    _place: OwnedSemaphorePermit,
}

impl CallEvents {
    /// Events with room for `max_listeners` listeners at once.
    pub fn new(max_listeners: usize) -> CallEvents {
        CallEvents {
            tx: broadcast::channel(BACKLOG).0,
            listeners: Arc::new(Semaphore::new(max_listeners)),
        }
    }

    /// Sends an event to every listener (none is fine). A `detail` longer
    /// than [`MAX_DETAIL`] is cut at a character boundary, with `…` after it.
    pub fn send(&self, mut event: CallEvent) {
        if self.tx.receiver_count() > 0 {
            if event.detail.len() > MAX_DETAIL {
                let mut end = MAX_DETAIL;
                while !event.detail.is_char_boundary(end) {
                    end -= 1;
                }
                event.detail.truncate(end);
                event.detail.push('…');
            }
            let _ = self.tx.send(event);
        }
    }

    /// A new listener, receiving every event sent from now on; `None` when
    /// [`MAX_LISTENERS`] (or the number given to [`CallEvents::new`]) are
    /// already listening.
    pub fn subscribe(&self) -> Option<Listener> {
        let place = self.listeners.clone().try_acquire_owned().ok()?;
        Some(Listener {
            events: self.tx.subscribe(),
            _place: place,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(detail: &str) -> CallEvent {
        CallEvent {
            call_id: "c1".into(),
            contact: 1,
            at_ms: 0,
            kind: CallEventKind::Prompt,
            node: "menu".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn listeners_are_bounded_and_places_come_back() {
        let events = CallEvents::new(2);
        let a = events.subscribe().expect("first place");
        let _b = events.subscribe().expect("second place");
        assert!(events.subscribe().is_none());
        drop(a);
        assert!(events.subscribe().is_some());
    }

    #[test]
    fn a_long_detail_is_cut_at_a_character_boundary() {
        let events = CallEvents::new(1);
        let mut l = events.subscribe().expect("a place");
        events.send(event(&"您好".repeat(MAX_DETAIL)));
        let got = l.events.try_recv().expect("the event");
        assert!(got.detail.len() <= MAX_DETAIL + '…'.len_utf8());
        assert!(got.detail.ends_with('…'));
        assert!(got.detail.starts_with("您好您好"));
        events.send(event("short"));
        assert_eq!(l.events.try_recv().expect("the event").detail, "short");
    }
}
