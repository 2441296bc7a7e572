//! The event stream every wallboard follows, serialised once for all of them.
//!
//! A busy center makes a hundred ACD events a second and a floor may have
//! hundreds of wallboards open. Were each page's task to take each event from
//! the ACD's broadcast, clone it and turn it into JSON, the cost would grow with
//! pages × events. Here one task takes the events, writes each one's JSON once,
//! and hands the pages batches of ready text: a page's task only copies frames
//! into its socket and writes once per batch.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;

use crate::acd::AcdHandle;

/// How long the feed gathers the events that follow one before handing them
/// out together: longer means fewer writes per page, shorter a quicker page.
pub const GATHER: std::time::Duration = std::time::Duration::from_millis(50);

/// At most this many events go in one batch (a burst is split).
const MAX_BATCH: usize = 1_000;

/// Batches a slow page may fall behind before it is told it missed some.
const BACKLOG: usize = 256;

/// One batch of events, as the JSON text of each (one WebSocket message each).
#[derive(Debug, Default)]
pub struct FeedBatch {
    /// The events' JSON, in the order the ACD published them.
    pub messages: Vec<Utf8Bytes>,
}

/// The shared, serialised stream of every ACD event; cheap to clone.
#[derive(Clone, Debug)]
pub struct EventFeed {
    batches: broadcast::Sender<Arc<FeedBatch>>,
}

impl EventFeed {
    /// Starts the task that serialises `acd`'s events; it ends when the ACD's
    /// stream closes.
    pub fn start(acd: &AcdHandle) -> EventFeed {
        EventFeed::from_events(acd.subscribe())
    }

    /// The feed of any stream of ACD events.
    pub fn from_events(events: broadcast::Receiver<dialect_acd::AcdEvent>) -> EventFeed {
        let (batches, _) = broadcast::channel(BACKLOG);
        tokio::spawn(serialise(events, batches.clone()));
        EventFeed { batches }
    }

    /// Batches from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FeedBatch>> {
        self.batches.subscribe()
    }
}

fn lagged(missed: u64) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::json!({ "event": "lagged", "missed": missed }).to_string())
}

async fn serialise(
    mut events: broadcast::Receiver<dialect_acd::AcdEvent>,
    batches: broadcast::Sender<Arc<FeedBatch>>,
) {
    use broadcast::error::RecvError;
    loop {
        let mut batch = FeedBatch::default();
        match events.recv().await {
            Ok(ev) => batch.messages.push(Utf8Bytes::from(
                serde_json::to_string(&ev).unwrap_or_default(),
            )),
            Err(RecvError::Lagged(n)) => batch.messages.push(lagged(n)),
            Err(RecvError::Closed) => return,
        }
        let until = tokio::time::Instant::now() + GATHER;
        while batch.messages.len() < MAX_BATCH {
            match tokio::time::timeout_at(until, events.recv()).await {
                Ok(Ok(ev)) => batch.messages.push(Utf8Bytes::from(
                    serde_json::to_string(&ev).unwrap_or_default(),
                )),
                Ok(Err(RecvError::Lagged(n))) => batch.messages.push(lagged(n)),
                Ok(Err(RecvError::Closed)) | Err(_) => break,
            }
        }
        // No page open is not an error: the batch is dropped.
        let _ = batches.send(Arc::new(batch));
    }
}

/// The message a page gets when it fell `n` batches behind.
pub fn lagged_batches(n: u64) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::json!({ "event": "lagged", "missed_batches": n }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialect_acd::AcdEvent;

    fn queued(n: u32) -> AcdEvent {
        AcdEvent::CallQueued {
            call: u64::from(n),
            queue: "billing".into(),
            position: n,
            priority: 0.0,
            at_ms: 1_000 + i64::from(n),
        }
    }

    #[tokio::test]
    async fn a_burst_reaches_every_page_as_one_batch_serialised_once() {
        let (events, rx) = broadcast::channel(64);
        let feed = EventFeed::from_events(rx);
        let mut first = feed.subscribe();
        let mut second = feed.subscribe();
        for n in 1..=3 {
            events.send(queued(n)).unwrap();
        }
        let a = first.recv().await.unwrap();
        let b = second.recv().await.unwrap();
        assert_eq!(
            a.messages.len(),
            3,
            "the burst came within the gathering time"
        );
        for (n, m) in a.messages.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(m.as_str()).unwrap();
            assert_eq!(v["event"], "call_queued");
            assert_eq!(v["position"], n as u64 + 1, "in the order published");
        }
        // The same text, not a copy per page.
        assert!(std::ptr::eq(a.messages[0].as_str(), b.messages[0].as_str()));
        // A later event makes a new batch.
        tokio::time::sleep(GATHER * 2).await;
        events.send(queued(4)).unwrap();
        assert_eq!(first.recv().await.unwrap().messages.len(), 1);
        // The feed ends with the ACD's stream (and its last holder).
        drop(events);
        drop(feed);
        assert!(matches!(
            first.recv().await,
            Err(broadcast::error::RecvError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_feed_that_fell_behind_the_acd_says_how_many_events_it_missed() {
        let (events, rx) = broadcast::channel(2);
        // Published before the feed's task runs: two of the four are lost.
        for n in 1..=4 {
            events.send(queued(n)).unwrap();
        }
        let feed = EventFeed::from_events(rx);
        let mut page = feed.subscribe();
        let batch = page.recv().await.unwrap();
        let first: serde_json::Value = serde_json::from_str(batch.messages[0].as_str()).unwrap();
        assert_eq!(first["event"], "lagged");
        assert_eq!(first["missed"], 2);
        assert_eq!(batch.messages.len(), 3);
    }
}
