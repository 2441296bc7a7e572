//! RFC 4733 telephone-events: the 4-byte payload, a receiver that turns a
//! stream of event packets into key presses, and a sender that produces the
//! packet sequence for one key.
//!
//! # What the receiver reports
//! An event is identified by its RTP timestamp (all packets of one key press
//! carry the timestamp of its start). The receiver reports
//! [`EventNotice::started`] on the first packet of a new event (for barge-in)
//! and [`EventNotice::ended`] exactly once per event, with its duration:
//! - on the first packet with the end bit (the two redundant end packets
//!   that follow are swallowed);
//! - when the end packets were all lost: as soon as a packet with a newer
//!   timestamp starts another event, or when no packet has updated the event
//!   for the end timeout ([`EventReceiver::poll`], default 300 ms);
//! - when only end packets arrived (start lost), at once.
//!
//! Packets older than the current event (reordered) are ignored, and a long
//! press with many duration updates is still one key. Events above 15 (flash,
//! fax tones) are tracked so their packets are swallowed, but not reported.
//!
//! Time for the timeout is passed in by the caller as milliseconds on any
//! monotonic clock, so the state machine is pure and testable.

use super::dtmf::DtmfKey;
use super::rtp::timestamp_diff;

/// Length of one telephone-event block.
pub const PAYLOAD_LEN: usize = 4;

/// Why a payload is not a telephone-event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Fewer than 4 bytes.
    #[error("telephone-event payload shorter than 4 bytes")]
    TooShort,
}

/// One telephone-event block (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    /// Event code: 0-15 are DTMF keys.
    pub event: u8,
    /// End bit: the last packets of the event.
    pub end: bool,
    /// Power level in −dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in timestamp units (samples at 8 kHz).
    pub duration: u16,
}

impl EventPayload {
    /// Parses the first block of a payload (extra blocks are ignored).
    pub fn parse(data: &[u8]) -> Result<Self, EventError> {
        if data.len() < PAYLOAD_LEN {
            return Err(EventError::TooShort);
        }
        Ok(EventPayload {
            event: data[0],
            end: data[1] & 0x80 != 0,
            volume: data[1] & 0x3F,
            duration: u16::from_be_bytes([data[2], data[3]]),
        })
    }

    /// The four bytes of the block (the reserved bit is zero).
    pub fn to_bytes(&self) -> [u8; PAYLOAD_LEN] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (self.volume & 0x3F) | if self.end { 0x80 } else { 0 },
            d[0],
            d[1],
        ]
    }
}

/// A key press that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndedKey {
    /// The key the event code names.
    pub key: DtmfKey,
    /// The event's RTP timestamp (its start).
    pub timestamp: u32,
    /// Its length in samples (8 kHz).
    pub duration: u32,
    /// Whether it ended without an end packet (timeout or a newer event).
    pub end_lost: bool,
}

impl EndedKey {
    /// The length as a `Duration` (8 kHz clock).
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.duration as u64 * 125)
    }
}

/// What one packet (or a timeout) changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventNotice {
    /// A key press that finished; reported once per event.
    pub ended: Option<EndedKey>,
    /// A key press that began with this packet.
    pub started: Option<DtmfKey>,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: u32,
    event: u8,
    /// Duration of earlier segments of a long event (RFC 4733 §2.5.1.3).
    base: u32,
    duration: u16,
    ended: bool,
    /// The end arrived but could not be reported yet: report on next poll.
    end_pending: bool,
    last_update_ms: u64,
}

impl Current {
    fn report(&self, end_lost: bool) -> Option<EndedKey> {
        Some(EndedKey {
            key: DtmfKey::from_event_code(self.event)?,
            timestamp: self.timestamp,
            duration: self.base + self.duration as u32,
            end_lost,
        })
    }
}

/// Receiving side state machine (one per RTP stream).
#[derive(Debug, Clone)]
pub struct EventReceiver {
    current: Option<Current>,
    end_timeout_ms: u64,
}

impl Default for EventReceiver {
    fn default() -> Self {
        Self::new(300)
    }
}

impl EventReceiver {
    /// A receiver that gives up waiting for a lost end after `end_timeout_ms`
    /// without updates.
    pub fn new(end_timeout_ms: u64) -> Self {
        EventReceiver {
            current: None,
            end_timeout_ms,
        }
    }

    /// Forgets the current event (new SSRC, re-INVITE).
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// The key being held, if an event is in progress.
    pub fn pressed(&self) -> Option<DtmfKey> {
        self.current
            .filter(|c| !c.ended)
            .and_then(|c| DtmfKey::from_event_code(c.event))
    }

    /// Handles one event packet with RTP timestamp `timestamp`, received at
    /// `now_ms`.
    pub fn on_packet(
        &mut self,
        timestamp: u32,
        payload: &EventPayload,
        now_ms: u64,
    ) -> EventNotice {
        let mut notice = EventNotice::default();
        if let Some(cur) = &mut self.current {
            if cur.timestamp == timestamp {
                if cur.ended {
                    return notice; // a redundant end packet, or late
                }
                cur.last_update_ms = now_ms;
                cur.duration = cur.duration.max(payload.duration);
                if payload.end {
                    cur.ended = true;
                    notice.ended = cur.report(false);
                }
                return notice;
            }
            let ahead = timestamp_diff(timestamp, cur.timestamp);
            if ahead < 0 {
                return notice; // older than the current event
            }
            // A long event continued in a new segment: same event, no end,
            // starting where the previous segment's duration ran out.
            if !cur.ended
                && cur.event == payload.event
                && cur.duration >= 0xFF00
                && (ahead as i64 - cur.duration as i64).abs() <= 160
            {
                cur.base += ahead as u32;
                cur.timestamp = timestamp;
                cur.duration = payload.duration;
                cur.last_update_ms = now_ms;
                if payload.end {
                    cur.ended = true;
                    notice.ended = cur.report(false);
                }
                return notice;
            }
            if !cur.ended {
                notice.ended = cur.report(true);
            }
        }
        let cur = Current {
            timestamp,
            event: payload.event,
            base: 0,
            duration: payload.duration,
            ended: payload.end,
            end_pending: false,
            last_update_ms: now_ms,
        };
        self.current = Some(cur);
        notice.started = DtmfKey::from_event_code(payload.event);
        if payload.end {
            // Only the end arrived: report at once (a previous event's lost
            // end, reported above, comes first in time).
            let this = cur.report(false);
            if notice.ended.is_none() {
                notice.ended = this;
            } else {
                // Two endings at once cannot be returned; report the older one
                // now and leave this one open so the next poll reports it.
                if let Some(c) = &mut self.current {
                    c.ended = false;
                    c.end_pending = true;
                }
            }
        }
        notice
    }

    /// Ends an event whose end packets were lost, once no packet has updated
    /// it for the end timeout. Call on every media tick.
    pub fn poll(&mut self, now_ms: u64) -> Option<EndedKey> {
        let cur = self.current.as_mut()?;
        if cur.ended {
            return None;
        }
        if cur.end_pending {
            cur.ended = true;
            return cur.report(false);
        }
        if now_ms.saturating_sub(cur.last_update_ms) < self.end_timeout_ms {
            return None;
        }
        cur.ended = true;
        cur.report(true)
    }
}

/// One packet produced by [`EventSender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Marker bit (first packet of the event).
    pub marker: bool,
    /// RTP timestamp (the event's start, the same for all its packets).
    pub timestamp: u32,
    /// The payload: event code, end bit, volume and the duration so far.
    pub payload: EventPayload,
}

/// Produces the packets for one key press, one per packet interval: the
/// first with the marker bit, duration updates, then the final duration
/// three times with the end bit.
#[derive(Debug, Clone)]
pub struct EventSender {
    event: u8,
    volume: u8,
    timestamp: u32,
    total: u16,
    step: u16,
    sent: u16,
    ends_sent: u8,
    first: bool,
}

/// How many end packets are sent (RFC 4733 §2.5.1.4 recommends three).
pub const END_PACKETS: u8 = 3;

impl EventSender {
    /// Packets for `key` lasting `duration_samples` (at most 65535), starting
    /// at RTP timestamp `timestamp`, one every `samples_per_packet`.
    pub fn new(
        key: DtmfKey,
        duration_samples: u16,
        volume: u8,
        timestamp: u32,
        samples_per_packet: u16,
    ) -> Self {
        EventSender {
            event: key.event_code(),
            volume: volume.min(63),
            timestamp,
            total: duration_samples.max(1),
            step: samples_per_packet.max(1),
            sent: 0,
            ends_sent: 0,
            first: true,
        }
    }

    /// The RTP timestamp all packets of this event carry.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Whether all packets, including the three end packets, were produced.
    pub fn is_done(&self) -> bool {
        self.ends_sent >= END_PACKETS
    }
}

impl Iterator for EventSender {
    type Item = EventPacket;

    fn next(&mut self) -> Option<EventPacket> {
        if self.is_done() {
            return None;
        }
        self.sent = self.sent.saturating_add(self.step).min(self.total);
        let end = self.sent >= self.total;
        if end {
            self.ends_sent += 1;
        }
        let marker = std::mem::take(&mut self.first);
        Some(EventPacket {
            marker,
            timestamp: self.timestamp,
            payload: EventPayload {
                event: self.event,
                end,
                volume: self.volume,
                duration: self.sent,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(rx: &mut EventReceiver, packets: &[EventPacket], t0: u64) -> Vec<EndedKey> {
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let n = rx.on_packet(p.timestamp, &p.payload, t0 + 20 * i as u64);
            out.extend(n.ended);
        }
        out
    }

    #[test]
    fn payload_roundtrip_and_known_bytes() {
        let p = EventPayload::parse(&[5, 0x8A, 0x03, 0x20]).unwrap();
        assert_eq!(
            p,
            EventPayload {
                event: 5,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(p.to_bytes(), [5, 0x8A, 0x03, 0x20]);
        // Reserved bit ignored.
        assert_eq!(EventPayload::parse(&[1, 0x4A, 0, 160]).unwrap().volume, 10);
        assert_eq!(EventPayload::parse(&[1, 2, 3]), Err(EventError::TooShort));
    }

    #[test]
    fn sender_sequence() {
        let packets: Vec<_> = EventSender::new(DtmfKey::Pound, 800, 10, 1234, 160).collect();
        assert_eq!(packets.len(), 7);
        assert!(packets[0].marker && packets[1..].iter().all(|p| !p.marker));
        assert!(
            packets
                .iter()
                .all(|p| p.timestamp == 1234 && p.payload.event == 11)
        );
        let durations: Vec<u16> = packets.iter().map(|p| p.payload.duration).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = packets.iter().map(|p| p.payload.end).collect();
        assert_eq!(ends, [false, false, false, false, true, true, true]);
        // A duration that is not a multiple of the packet interval.
        let last = EventSender::new(DtmfKey::Key1, 500, 10, 0, 160)
            .last()
            .unwrap();
        assert_eq!(last.payload.duration, 500);
    }

    #[test]
    fn one_key_per_event_with_redundant_ends() {
        let mut rx = EventReceiver::default();
        let packets: Vec<_> = EventSender::new(DtmfKey::Key7, 800, 10, 5000, 160).collect();
        let first = rx.on_packet(packets[0].timestamp, &packets[0].payload, 0);
        assert_eq!(first.started, Some(DtmfKey::Key7));
        assert_eq!(rx.pressed(), Some(DtmfKey::Key7));
        let ended = feed(&mut rx, &packets[1..], 20);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].key, DtmfKey::Key7);
        assert_eq!(ended[0].duration, 800);
        assert_eq!(ended[0].duration(), std::time::Duration::from_millis(100));
        assert!(!ended[0].end_lost);
        assert_eq!(rx.pressed(), None);
        // Retransmitted end packets much later are still swallowed.
        assert!(feed(&mut rx, &packets[4..], 500).is_empty());
        assert_eq!(rx.poll(10_000), None);
    }

    #[test]
    fn long_press_is_reported_once() {
        let mut rx = EventReceiver::default();
        // 3 seconds of updates.
        let packets: Vec<_> = EventSender::new(DtmfKey::Key0, 24000, 10, 7, 160).collect();
        assert_eq!(packets.len(), 150 + 2);
        let ended = feed(&mut rx, &packets, 0);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].duration, 24000);
        // Retransmitted updates (duplicates) change nothing.
        let mut rx = EventReceiver::default();
        let mut doubled = Vec::new();
        for p in &packets {
            doubled.push(*p);
            doubled.push(*p);
        }
        assert_eq!(feed(&mut rx, &doubled, 0).len(), 1);
    }

    #[test]
    fn very_long_event_in_segments() {
        let mut rx = EventReceiver::default();
        let a = EventPayload {
            event: 3,
            end: false,
            volume: 10,
            duration: 0xFFFF,
        };
        let b = EventPayload {
            event: 3,
            end: true,
            volume: 10,
            duration: 8000,
        };
        assert_eq!(
            rx.on_packet(0, &EventPayload { duration: 160, ..a }, 0)
                .started,
            Some(DtmfKey::Key3)
        );
        assert!(rx.on_packet(0, &a, 20).ended.is_none());
        let n = rx.on_packet(0xFFFF, &b, 40);
        assert_eq!(n.started, None);
        assert_eq!(n.ended.unwrap().duration, 0xFFFF + 8000);
    }

    #[test]
    fn lost_end_recovered_by_next_event_or_timeout() {
        let mut rx = EventReceiver::new(300);
        let first: Vec<_> = EventSender::new(DtmfKey::Key1, 800, 10, 1000, 160).collect();
        let second: Vec<_> = EventSender::new(DtmfKey::Key2, 800, 10, 3000, 160).collect();
        // Drop all end packets of the first.
        let ended = feed(&mut rx, &first[..4], 0);
        assert!(ended.is_empty());
        assert_eq!(rx.poll(100), None);
        let n = rx.on_packet(second[0].timestamp, &second[0].payload, 200);
        assert_eq!(n.started, Some(DtmfKey::Key2));
        let e = n.ended.unwrap();
        assert_eq!((e.key, e.duration, e.end_lost), (DtmfKey::Key1, 640, true));
        // The second loses its ends too and times out.
        assert!(feed(&mut rx, &second[1..4], 220).is_empty());
        assert_eq!(rx.poll(260 + 299), None);
        let e = rx.poll(260 + 300).unwrap();
        assert_eq!((e.key, e.end_lost), (DtmfKey::Key2, true));
        assert_eq!(rx.poll(2000), None);
        // Its end packets arriving late do not report it again.
        assert!(feed(&mut rx, &second[4..], 700).is_empty());
    }

    #[test]
    fn only_end_packets_and_reordering() {
        let mut rx = EventReceiver::default();
        let packets: Vec<_> = EventSender::new(DtmfKey::Star, 480, 10, 100, 160).collect();
        let ended = feed(&mut rx, &packets[3..], 0);
        assert_eq!(ended.len(), 1);
        assert_eq!((ended[0].key, ended[0].duration), (DtmfKey::Star, 480));
        // A newer event then a straggler from the old one.
        let newer: Vec<_> = EventSender::new(DtmfKey::A, 480, 10, 2000, 160).collect();
        assert!(rx.on_packet(2000, &newer[0].payload, 100).ended.is_none());
        let n = rx.on_packet(100, &packets[0].payload, 120);
        assert_eq!(n, EventNotice::default());
        assert_eq!(feed(&mut rx, &newer[1..], 140).len(), 1);
        // Timestamps wrap around.
        let mut rx = EventReceiver::default();
        let a: Vec<_> = EventSender::new(DtmfKey::B, 320, 10, u32::MAX - 100, 160).collect();
        let b: Vec<_> = EventSender::new(DtmfKey::C, 320, 10, 500, 160).collect();
        let mut all = a.clone();
        all.extend(b);
        let keys: Vec<_> = feed(&mut rx, &all, 0).iter().map(|e| e.key).collect();
        assert_eq!(keys, [DtmfKey::B, DtmfKey::C]);
    }

    #[test]
    fn end_only_event_right_after_a_lost_end() {
        let mut rx = EventReceiver::default();
        let first: Vec<_> = EventSender::new(DtmfKey::Key4, 480, 10, 0, 160).collect();
        let second: Vec<_> = EventSender::new(DtmfKey::Key5, 480, 10, 1000, 160).collect();
        feed(&mut rx, &first[..2], 0);
        let n = rx.on_packet(1000, &second[3].payload, 100);
        assert_eq!(n.ended.unwrap().key, DtmfKey::Key4);
        assert_eq!(rx.poll(101).unwrap().key, DtmfKey::Key5);
        assert!(feed(&mut rx, &second[4..], 120).is_empty());
    }

    #[test]
    fn non_dtmf_events_are_swallowed() {
        let mut rx = EventReceiver::default();
        let flash = EventPayload {
            event: 16,
            end: false,
            volume: 10,
            duration: 160,
        };
        let n = rx.on_packet(0, &flash, 0);
        assert_eq!(n, EventNotice::default());
        assert_eq!(
            rx.on_packet(0, &EventPayload { end: true, ..flash }, 20),
            EventNotice::default()
        );
        assert_eq!(rx.poll(5000), None);
    }

    proptest::proptest! {
        /// Whatever arrives, in any order and with any losses, each event
        /// timestamp is reported at most once.
        #[test]
        fn each_event_reported_at_most_once(
            packets in proptest::collection::vec((0u32..6, 0u8..20, proptest::bool::ANY, proptest::num::u16::ANY), 0..60)
        ) {
            let mut rx = EventReceiver::default();
            let mut seen = std::collections::HashMap::new();
            let mut now = 0;
            for (ts, event, end, duration) in packets {
                now += 20;
                let p = EventPayload { event, end, volume: 10, duration };
                let n = rx.on_packet(ts * 1000, &p, now);
                for e in n.ended.into_iter().chain(rx.poll(now)) {
                    *seen.entry(e.timestamp).or_insert(0) += 1;
                }
            }
            // Timestamps only move forward here, so none may repeat.
            for (_, count) in seen {
                proptest::prop_assert!(count <= 1);
            }
        }
    }
}
