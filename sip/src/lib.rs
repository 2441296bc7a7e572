//! Dialect's SIP stack (crate `dialect-sip`): everything between the wire and a call task.
//!
//! rsip supplies message types and parsing; this crate supplies the rest, layer
//! by layer, one state machine a file.
//!
//! # Layout
//!
//! - [`message`]: parsing at the edge ([`message::parse`]: never panics; malformed
//!   requests get a lenient `400 Bad Request` with a `Warning`, the rest are dropped
//!   and counted), size and header-count limits checked on the raw bytes first
//!   ([`message::MessageLimits`]: 513, 400 or nothing), encoding, header helpers,
//!   response builders, [`message::Counters`].
//! - [`transport`]: UDP and TCP listeners ([`transport::udp`], [`transport::tcp`]),
//!   Content-Length framing with a size cap, connection reuse, `received`/`rport`,
//!   caps and time-outs of the TCP connections others open ([`transport::TcpLimits`]).
//! - [`transaction`]: RFC 3261 transactions, each a small task:
//!   [`transaction::server_invite`], [`transaction::server`],
//!   [`transaction::client_invite`], [`transaction::client`]; timers in
//!   [`transaction::timers`].
//! - [`dialog`]: dialog state, route sets, in-dialog request building.
//! - [`endpoint`]: [`SipEndpoint`], routing and the UA core (2xx retransmission,
//!   ACK, CANCEL, OPTIONS, 481), the piece call tasks use.
//! - [`sdp`]: the audio SDP subset and offer/answer for PCMU/PCMA/telephone-event,
//!   and SDES keys for SRTP ([`sdp::crypto`]).
//! - [`auth`]: HTTP digest: the client (trunks) and the [`auth::Authenticator`]
//!   for agent phones (scoped one-time nonce counts, lock-outs, HA1 only,
//!   the password rule).
//! - [`registrar`]: REGISTER handling for agent phones, with expiry and events;
//!   its authenticator also checks REFERs from agents' phones.
//! - [`trunk`]: carrier trunk registration and dialing through a trunk.
//!
//! # Receiving a call
//!
//! [`SipEndpoint::bind`] returns the endpoint and a channel of new requests. A
//! dispatcher loop hands each INVITE to a new call task; the call task takes it
//! over with [`SipEndpoint::accept_invite`], which creates the dialog and a
//! per-dialog channel ([`endpoint::DialogEvents`]) registered under Call-ID and
//! tags, so the task receives its own BYE, re-INVITE, INFO and REFER there.
//! `100 Trying` has already been sent by the transaction.
//!
//! ```rust,no_run
//! use dialect_sip::endpoint::DialogEvent;
//! use dialect_sip::sdp::{self, LocalMedia, NegotiationError, SessionDescription};
//! use dialect_sip::{EndpointConfig, SipEndpoint};
//! use rsip::Method;
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let shutdown = CancellationToken::new();
//! let config = EndpointConfig { udp: Some("0.0.0.0:5060".parse()?), public_host: Some("192.0.2.10".into()), ..Default::default() };
//! let (endpoint, mut incoming) = SipEndpoint::bind(config, shutdown.clone()).await?;
//! while let Some(req) = incoming.recv().await {
//!     match req.method() {
//!         Method::Invite => {
//!             let endpoint = endpoint.clone();
//!             tokio::spawn(async move {
//!                 let call = endpoint.accept_invite(req)?;
//!                 call.progress(180, None);
//!                 // Answer, unless the caller cancels first (487 is sent for us).
//!                 let offer = SessionDescription::parse(&call.request().body);
//!                 let local = LocalMedia::g711("192.0.2.10".parse()?, 30_000);
//!                 let (answer, media) = match offer.map(|o| sdp::answer(&o, &local)) {
//!                     Ok(Ok(a)) => a,
//!                     // No audio, no common codec, SRTP we cannot do, or unreadable SDP: 488.
//!                     Ok(Err(NegotiationError::NoCommonCodec | NegotiationError::NoAudio | NegotiationError::BadAddress
//!                         | NegotiationError::SrtpRequired | NegotiationError::SrtpUnsupported))
//!                     | Err(_) => {
//!                         call.reject(488);
//!                         return Ok(());
//!                     }
//!                 };
//!                 if call.is_cancelled() { return Ok(()); }
//!                 let (mut dialog, mut events) = call.answer(answer.to_bytes())?;
//!                 // `media.remote`, `media.payload_type`, `media.telephone_event` drive RTP.
//!                 let _ = media;
//!                 while let Some(event) = events.recv().await {
//!                     match event {
//!                         // Media may start: `endpoint::source_ip(&ack)` tells the
//!                         // media session which host confirmed the call.
//!                         DialogEvent::Ack(ack) => { let _ = dialect_sip::endpoint::source_ip(&ack); }
//!                         DialogEvent::AckTimeout => { endpoint.bye(&mut dialog).await?; break; }
//!                         DialogEvent::Request(r) if r.method() == Method::Bye => { r.reply(200); break; }
//!                         DialogEvent::Request(r) if r.method() == Method::Info => { r.reply(200); /* DTMF */ }
//!                         DialogEvent::Request(r) => {
//!                             // re-INVITE: dialog.on_request(&r.request), then sdp::answer
//!                             // again (NegotiationError -> 488; media.hold tells hold).
//!                             r.reply(200)
//!                         }
//!                     }
//!                 }
//!                 Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!             });
//!         }
//!         Method::Register => { /* registrar.handle(&req) */ }
//!         _ => req.reply(405),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! While ringing, a task can wait on [`endpoint::UasInvite::cancelled`] (cancel-safe)
//! in a `select!` with its own work; the CANCEL has been answered 200 and the
//! INVITE 487 by then. After [`endpoint::UasInvite::answer`] the 200 is
//! retransmitted (T1 doubling to T2, UDP) until the ACK comes
//! ([`endpoint::DialogEvent::Ack`]) or 64*T1 passes
//! ([`endpoint::DialogEvent::AckTimeout`]: send BYE). If a task drops a request
//! handle without answering, the transaction answers 500 by itself.
//!
//! In-dialog requests from our side: [`SipEndpoint::bye`], [`SipEndpoint::reinvite`]
//! (ACKs the 2xx itself), [`SipEndpoint::info`], [`SipEndpoint::refer`], or the
//! general [`SipEndpoint::request_in_dialog`]. They take `&mut Dialog` (the task
//! owns it; CSeq and target refresh live there) and return the final response.
//! Incoming in-dialog requests should go through [`dialog::Dialog::on_request`]
//! (CSeq order, target refresh) before being acted upon.
//!
//! # Placing a call through a trunk
//!
//! ```rust,no_run
//! use dialect_sip::endpoint::CallProgress;
//! use dialect_sip::sdp::{self, LocalMedia};
//! use dialect_sip::trunk::{self, TrunkConfig};
//! # async fn demo(endpoint: dialect_sip::SipEndpoint, shutdown: tokio_util::sync::CancellationToken) -> Result<(), Box<dyn std::error::Error>> {
//! let mut carrier = TrunkConfig::new("ct", "sip:198.51.100.7:5060", "carrier.example", "10000");
//! carrier.credentials = Some(dialect_sip::auth::Credentials { username: "10000".into(), password: "secret".into() });
//! let status = trunk::start_registration(&endpoint, carrier.clone(), shutdown.child_token());
//! let local = LocalMedia::g711("192.0.2.10".parse()?, 30_002);
//! let mut call = trunk::dial(&endpoint, &carrier, "02112345678", Some("10000"), sdp::offer(&local).to_bytes()).await?;
//! let ring_timeout = tokio::time::sleep(std::time::Duration::from_secs(30));
//! tokio::pin!(ring_timeout);
//! loop {
//!     tokio::select! {
//!         progress = call.next() => match progress {        // cancel-safe
//!             CallProgress::Provisional(_) => {}               // 180/183 (early media SDP in body)
//!             CallProgress::Answered(answered) => {
//!                 let answer = sdp::SessionDescription::parse(&answered.response.body)?;
//!                 let media = sdp::read_answer(&answer, &local)?;
//!                 // Bridge: answered.dialog / answered.events, like an incoming call.
//!                 let _ = (media, status);
//!                 break;
//!             }
//!             CallProgress::Rejected(_) | CallProgress::Cancelled | CallProgress::Timeout => break,
//!         },
//!         _ = &mut ring_timeout => call.cancel(),              // then keep polling `next`
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! 401/407 challenges are answered with the trunk's credentials (CSeq + 1); the ACK
//! for the 2xx is sent (and repeated for 2xx retransmissions) by the UA core; a 2xx
//! that crosses our CANCEL is acknowledged and ended with BYE.
//!
//! # Limits
//!
//! UDP and TCP only (no TLS/WebSocket), no DNS SRV/NAPTR (A/AAAA only), no
//! forking (only the first 2xx to an outgoing INVITE makes a dialog), no PRACK,
//! no RFC 2543 transaction matching. Methods outside rsip's set get 501.

pub mod auth;
pub mod dialog;
pub mod endpoint;
pub mod message;
pub mod registrar;
pub mod sdp;
pub mod transaction;
pub mod transport;
pub mod trunk;

pub use endpoint::{EndpointConfig, SipEndpoint};
