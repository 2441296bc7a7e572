//! Dialect's media plane (crate `dialect-media`): everything a call does with audio.
//!
//! One [`RtpSession`] per call leg owns a UDP socket. The media clock threads
//! (one per core) tick every session each 20 ms: they read what the far end
//! sent (DTMF detection, recording, audio for bridged legs) and send one paced
//! G.711 packet (prompts, music on hold, bridged audio, DTMF). The call's own
//! task drives its session through a [`SessionHandle`] and
//! reads [`MediaEvent`]s; nothing on the packet path allocates.
//!
//! # Layout
//! - [`session`]: `RtpSession`, its handle and events; bridging
//!   ([`bridge`], [`listen`], [`whisper`]).
//! - [`ports`]: the RTP port allocator (even ports, picked at random).
//! - [`latch`]: which address RTP is taken from and sent to (strict or NAT
//!   latching; nothing sent before the far end proves itself).
//! - [`srtp`]: SRTP (`AES_CM_128_HMAC_SHA1_80`) with SDES keys.
//! - [`pacer`]: the drift-free 20 ms clock and its late-wake-up policy.
//! - `clock`: the media clock threads that tick every session's pacer.
//! - [`rtp`]: RTP header parse/write (RFC 3550) and sender bookkeeping.
//! - [`g711`]: μ-law and A-law.
//! - [`rfc4733`]: telephone-event payloads, receiver and sender.
//! - [`dtmf`]: `DtmfKey`, `KeyEvent`, SIP INFO bodies, the in-band
//!   detector ([`dtmf::detect`], [`dtmf::detect_wav`]) and tone generation.
//! - [`amd`]: answering-machine and fax detection for answered outbound
//!   calls ([`amd::AmdDetector`], [`amd::detect_wav`]).
//! - [`prompt`]: WAV loading, `Prompt` (PCM + both laws), `PromptCache`.
//! - [`resample`]: windowed-sinc resampling to 8 kHz.
//! - [`recorder`]: WAV recording with limits; the silence detector.
//! - [`pipe`]: the jitter ring that carries audio between sessions.
//! - `os`: thread priority and huge pages, the crate's only `unsafe` (libc).
//!
//! # How a call task uses a session
//! ```no_run
//! # use std::{sync::Arc, time::Duration, path::Path};
//! # use dialect_media::*;
//! # async fn call(ports: PortAllocator, cache: Arc<PromptCache>) -> Result<(), Box<dyn std::error::Error>> {
//! // 1. From the SDP offer: where to send, which codec, the telephone-event
//! //    payload type (None if the offer had none: digits then go in-band).
//! //    `srtp`: both SDPs' `a=crypto` keys, if the call uses SRTP.
//! let remote = RemoteMedia {
//!     addr: Some("192.0.2.10:4000".parse()?),
//!     codec: g711::Law::Alaw,
//!     event_pt: Some(101),
//!     srtp: None,
//! };
//! // RTP is taken only from 192.0.2.10:4000 (`latch::Latch::Strict`), and
//! // nothing is sent there until RTP comes from it or the ACK does:
//! let mut config = SessionConfig::new(remote);
//! config.signalled_ip = Some("192.0.2.10".parse()?); // the INVITE's source
//! let mut session = RtpSession::start(&ports, config)?;
//! let local = session.local_addr(); // goes into the SDP answer
//! let media = session.handle().clone();
//!
//! // 2. Play prompts (decoded and transcoded once, shared by all calls).
//! let welcome = cache.load(Path::new("prompts/welcome.wav"))?;
//! let menu = cache.load(Path::new("prompts/menu.wav"))?;
//! media.play(welcome, PlayOptions { barge_in: false });
//! let menu_id = media.play(menu, PlayOptions { barge_in: true });
//!
//! // 3. Collect keys: RFC 4733, in-band and (from the SIP layer)
//! //    INFO all arrive as the same `KeyEvent`.
//! while let Some(event) = session.next_event().await {
//!     match event {
//!         MediaEvent::Key(k) => { /* k.key, k.source, k.duration */ break }
//!         MediaEvent::PlaybackFinished { id, interrupted } if id == menu_id => {
//!             /* start the no-input timer */
//!         }
//!         MediaEvent::RemoteSilent { .. } => { /* dead call: hang up */ }
//!         _ => {}
//!     }
//! }
//!
//! // 4. Record a message, ended by # or 3 s of silence, at most 60 s.
//! let mut rec = RecordOptions::new("/var/spool/dialect/msg-1.wav");
//! rec.end_keys = dtmf::KeySet::parse("#");
//! rec.silence_timeout = Some(Duration::from_secs(3));
//! rec.limits.max_duration = Duration::from_secs(60);
//! media.record(rec)?; // -> MediaEvent::RecordingFinished { path, duration, reason }
//!
//! // 5. Transfer to an agent: bridge the two legs (codecs may differ),
//! //    record the whole call; drop the bridge to separate them.
//! # let agent_session = RtpSession::start(&ports, SessionConfig::new(remote))?;
//! let agent = agent_session.handle();
//! media.start_moh(cache.load(Path::new("prompts/moh.wav"))?); // while waiting
//! media.stop_moh();
//! let _bridge = bridge(&media, agent);
//! let mut whole = RecordOptions::new("/var/spool/dialect/call-1.wav");
//! whole.mode = RecordMode::Both;
//! media.record(whole)?;
//!
//! // The ACK of our 200 OK came from the SDP's host: media may flow.
//! media.confirm_peer("192.0.2.10".parse()?);
//! // Re-INVITE: `media.update_remote(..)`, `hold()`/`resume()`.
//! // Outbound digits: `media.send_dtmf(dtmf::DtmfKey::Key1, Duration::from_millis(100))`.
//! // A SIP INFO: `dtmf::parse_sip_info(content_type, body)?.into_event(now)`.
//! // Hang-up: `media.close()` or drop the session (a recording in progress
//! // ends with `RecordStop::HangUp`).
//! # Ok(()) }
//! ```
//!
//! Prompt loading and recording file creation do blocking file IO: load
//! prompts at deploy time (or in `spawn_blocking`). The session writes its
//! recording through a 64 KiB buffer from its task.

pub mod amd;
mod clock;
pub mod dtmf;
pub mod g711;
pub mod latch;
mod os;
pub mod pacer;
pub mod pipe;
pub mod ports;
pub mod prompt;
pub mod recorder;
pub mod resample;
pub mod rfc4733;
pub mod rtp;
pub mod session;
pub mod srtp;

pub use clock::{ClockStats, clock_stats};
pub use latch::Latch;
pub use ports::PortAllocator;
pub use prompt::{Prompt, PromptCache};
pub use session::{
    AudioTap, Bridge, DropStats, InbandMode, MediaEvent, MediaLink, PlayOptions, PlaybackId,
    RecordMode, RecordOptions, RemoteMedia, RtpSession, SessionConfig, SessionHandle, SessionStats,
    bridge, drop_stats, link, listen, tap, whisper,
};
