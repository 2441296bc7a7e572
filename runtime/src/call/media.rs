//! How a call leg's media meets the network: which address its RTP is taken
//! from and sent to, and whether it uses SRTP, by the kind of leg (a caller,
//! a number dialled through a trunk, an agent's or supervisor's phone) and the
//! configuration (`rtp.latch`, `rtp.srtp`, a trunk's `latch`/`srtp`,
//! `rtp.phones`). The call tasks say which kind of leg they start; the policy
//! lives here. What the settings mean: `docs/operations.md`, "Media: latching
//! and SRTP".

use std::net::IpAddr;

use dialect_media::g711::Law;
use dialect_media::srtp::{MasterKey, SrtpKeys};
use dialect_media::{RemoteMedia, RtpSession, SessionConfig};
use dialect_sip::sdp::{LocalMedia, SdesKeys};

use super::CallEnv;
use crate::config::{Config, LatchMode, SrtpMode, TrunkConfig};

/// Who is at the far end of a leg.
#[derive(Debug, Clone, Copy)]
pub(super) enum LegKind<'a> {
    /// A caller, through this trunk if it came through one.
    Caller(Option<&'a TrunkConfig>),
    /// A number dialled through this trunk.
    Trunk(&'a TrunkConfig),
    /// An agent's or a supervisor's registered phone.
    Phone,
}

impl LegKind<'_> {
    /// The leg's latching and SRTP settings.
    fn settings(self, config: &Config) -> (LatchMode, SrtpMode) {
        let rtp = &config.rtp;
        let (latch, srtp) = match self {
            LegKind::Caller(Some(t)) | LegKind::Trunk(t) => (t.latch, t.srtp),
            LegKind::Caller(None) => (None, None),
            LegKind::Phone => (rtp.phones.latch, rtp.phones.srtp),
        };
        (latch.unwrap_or(rtp.latch), srtp.unwrap_or(rtp.srtp))
    }
}

/// Our SDP side of a leg on `port`: G.711, telephone-event, the leg's SRTP
/// policy and a fresh key.
pub(super) fn local_media(env: &CallEnv, kind: LegKind<'_>, port: u16) -> LocalMedia {
    let mut local = LocalMedia::g711(env.media_ip, port);
    local.srtp = kind.settings(&env.config).1.policy();
    local
}

/// The media session settings of a leg. `signalled` is the far end's IP in
/// signalling (its INVITE's source, or where ours went); `confirmed` an IP
/// whose signalling already confirmed the call (for a leg we call: the same).
pub(super) fn session_config(
    env: &CallEnv,
    kind: LegKind<'_>,
    remote: RemoteMedia,
    signalled: Option<IpAddr>,
    confirmed: Option<IpAddr>,
) -> SessionConfig {
    let mut config = SessionConfig::new(remote);
    config.inband = env.config.rtp.inband_dtmf.mode();
    config.latch = kind.settings(&env.config).0.latch();
    config.signalled_ip = signalled;
    config.confirmed_ip = confirmed;
    config
}

/// Starts the media of a leg we call at `target` (where our INVITE goes; its
/// answer comes back on our transaction, so that IP confirms itself): nothing
/// is known of the far end's media until it answers. Returns the session and
/// our SDP side for the offer.
pub(super) fn called_leg(
    env: &CallEnv,
    kind: LegKind<'_>,
    law: Law,
    target: Option<IpAddr>,
) -> Result<(RtpSession, LocalMedia), dialect_media::session::SessionError> {
    let remote = RemoteMedia {
        addr: None,
        codec: law,
        event_pt: Some(101),
        srtp: None,
    };
    let session = RtpSession::start(
        &env.ports,
        session_config(env, kind, remote, target, target),
    )?;
    let local = local_media(env, kind, session.local_addr().port());
    Ok((session, local))
}

/// The IP of a trunk's proxy when it is written as an IP address (a host name
/// is resolved by the SIP layer at each call; its legs are then proved by
/// their first RTP packet).
pub(super) fn trunk_ip(trunk: &dialect_sip::trunk::TrunkConfig) -> Option<IpAddr> {
    dialect_sip::endpoint::resolve_literal(&trunk.proxy, trunk.transport).map(|t| t.addr.ip())
}

/// The media session's SRTP keys from the negotiated SDES keys.
pub(super) fn srtp_keys(keys: SdesKeys) -> SrtpKeys {
    SrtpKeys {
        send: MasterKey::from_bytes(&keys.ours.0),
        receive: MasterKey::from_bytes(&keys.theirs.0),
    }
}
