//! What a connected party hears while the runtime rings an outgoing leg for it:
//! the ringback tone, or the far end's early media.
//!
//! When the runtime places a call for someone already connected (a flow's
//! `transfer number` or `transfer agent`, an agent's blind transfer to a number,
//! the ACD's transfer to a number, an agent's outbound call from the desktop with
//! the agent's phone as the connected leg), that party hears:
//!
//! - the ringback tone from the moment the INVITE goes out: 425 Hz, 1 s on and
//!   4 s off (the Chinese standard tone, YD/T 1970 / GB 16124: 425 Hz at about
//!   -10 dBm0), generated once, looped as the party's music;
//! - the far end's early media instead, once a provisional response (183 Session
//!   Progress, or a 180 carrying SDP) brings an SDP answer: the outgoing leg's
//!   audio is linked to the party and the tone stops;
//! - nothing of this once the leg answers or fails: `Ringing::stop` (also on
//!   drop, so an early return cannot leave the tone running).
//!
//! # Use
//!
//! ```text
//! let mut ringing = Ringing::start(party_session_handle.clone());
//! loop { match outgoing.next().await {
//!     CallProgress::Provisional(r) => { ringing.progress(&r, leg.handle(), &local); }
//!     ... } }
//! ringing.stop();
//! ```

use std::sync::{Arc, OnceLock};

use dialect_media::{MediaLink, Prompt, SessionHandle, link};
use dialect_sip::sdp::{self, LocalMedia, SessionDescription};

use super::remote_of;

/// The ringback tone's frequency (Hz).
pub const RINGBACK_HZ: f64 = 425.0;
/// How long the tone sounds in each cadence (ms).
pub const RINGBACK_ON_MS: u32 = 1_000;
/// The silence after it (ms).
pub const RINGBACK_OFF_MS: u32 = 4_000;
/// Peak amplitude: about -10 dBm0 on a G.711 line (0 dBm0 is a sine of peak
/// 22,656 in 16-bit PCM).
const RINGBACK_PEAK: f64 = 7_000.0;

/// One cadence of the ringback tone (1 s of 425 Hz, then 4 s of silence), at
/// 8 kHz; looped it is the tone. Built once.
pub fn ringback() -> Arc<Prompt> {
    static TONE: OnceLock<Arc<Prompt>> = OnceLock::new();
    TONE.get_or_init(|| {
        let on = (RINGBACK_ON_MS * 8) as usize;
        let total = on + (RINGBACK_OFF_MS * 8) as usize;
        let samples: Vec<i16> = (0..total)
            .map(|i| {
                if i < on {
                    let t = i as f64 / 8000.0;
                    ((2.0 * std::f64::consts::PI * RINGBACK_HZ * t).sin() * RINGBACK_PEAK) as i16
                } else {
                    0
                }
            })
            .collect();
        Arc::new(Prompt::from_pcm(&samples, 8000))
    })
    .clone()
}

/// The ringback or early media a connected party hears while an outgoing leg
/// rings; stopped by [`Ringing::stop`] or when dropped.
pub(super) struct Ringing {
    party: SessionHandle,
    /// The far end's early media to the party, once a provisional response
    /// brought SDP.
    early: Option<MediaLink>,
    /// Whether the ringback tone still plays (through the party's hold-music
    /// player), so that it is stopped once.
    tone: bool,
}

impl Ringing {
    /// Starts the ringback tone on `party`'s session.
    pub(super) fn start(party: SessionHandle) -> Ringing {
        party.start_moh(ringback());
        Ringing {
            party,
            early: None,
            tone: true,
        }
    }

    /// A provisional response to the outgoing INVITE: with an SDP answer, the
    /// outgoing `leg` plays to the party (early media) instead of the tone.
    /// `true` when early media starts with this response.
    pub(super) fn progress(
        &mut self,
        response: &rsip::Response,
        leg: &SessionHandle,
        local: &LocalMedia,
    ) -> bool {
        if self.early.is_some() || response.body.is_empty() {
            return false;
        }
        let Ok(answer) = SessionDescription::parse(&response.body) else {
            return false;
        };
        let Ok(negotiated) = sdp::read_answer(&answer, local) else {
            return false;
        };
        leg.update_remote(remote_of(&negotiated));
        if self.tone {
            self.party.stop_moh();
            self.tone = false;
        }
        self.early = Some(link(leg, &self.party));
        true
    }

    /// Stops the tone and the early media.
    pub(super) fn stop(mut self) {
        self.silence();
    }

    fn silence(&mut self) {
        if self.tone {
            self.party.stop_moh();
            self.tone = false;
        }
        self.early = None;
    }
}

impl Drop for Ringing {
    fn drop(&mut self) {
        self.silence();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialect_media::g711::Law;

    /// The amplitude of `hz` in `pcm` (Goertzel).
    fn amplitude(pcm: &[i16], hz: f64) -> f64 {
        let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for x in pcm {
            let s = f64::from(*x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        2.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0).sqrt() / pcm.len() as f64
    }

    #[test]
    fn the_ringback_tone_is_425_hz_one_second_on_four_off() {
        let tone = ringback();
        let ulaw = tone.encoded(Law::Ulaw);
        assert_eq!(ulaw.len(), 5 * 8000);
        let mut pcm = vec![0i16; ulaw.len()];
        Law::Ulaw.decode(ulaw, &mut pcm);
        // Each 100 ms of the first second carries the tone; the rest is silent.
        for block in pcm.chunks(800).take(10) {
            let a = amplitude(block, RINGBACK_HZ);
            assert!(a > 6000.0 && a < 8000.0, "{a}");
            assert!(amplitude(block, 1000.0) < 500.0);
        }
        assert!(
            pcm[8000..].iter().all(|s| s.abs() < 16),
            "silence after 1 s"
        );
    }
}
