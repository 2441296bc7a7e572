//! A small SDP parser and generator for the audio subset we use (RFC 4566), and
//! offer/answer negotiation (RFC 3264) for G.711, RFC 4733 telephone-events and
//! SRTP keyed by SDES (RFC 4568).
//!
//! [`SessionDescription::parse`] reads v/o/s/c/t/m lines and the rtpmap, fmtp,
//! ptime, direction and crypto attributes, ignoring the rest; it never panics.
//! [`answer`] picks the offerer's preferred codec among PCMU (0) and PCMA (8),
//! echoes the offerer's telephone-event payload type, mirrors the direction and
//! detects hold; [`NegotiationError::NoCommonCodec`] is the runtime's cue to send
//! 488. [`offer`] and [`read_answer`] are the same for outgoing calls.
//!
//! SRTP follows [`LocalMedia::srtp`] ([`SrtpPolicy`]): an offer with a usable
//! `a=crypto` (see [`crypto`]) is answered with our own key under the same tag
//! and the offer's profile (`RTP/SAVP`, or `RTP/AVP` for best-effort SRTP);
//! [`Negotiated::srtp`] then holds both keys. Our offers carry `a=crypto` in
//! `RTP/AVP` when SRTP is offered and in `RTP/SAVP` when it is required.
//!
//! # Layout
//! - `mod.rs`: the description, parsing, writing, offer/answer.
//! - [`crypto`]: the `a=crypto` attribute.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

pub mod crypto;

pub use crypto::{Crypto, SdesKey};

/// Most `a=crypto` lines kept per media section (an offer lists a few suites).
const MAX_CRYPTO: usize = 16;

/// A parse failure, with the 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}: {reason}")]
pub struct SdpError {
    /// Line number in the body, from 1.
    pub line: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// Media direction attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Both ways (the default).
    SendRecv,
    /// The sender of this SDP only sends.
    SendOnly,
    /// The sender of this SDP only receives.
    RecvOnly,
    /// No media either way.
    Inactive,
}

impl Direction {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "sendrecv" => Some(Self::SendRecv),
            "sendonly" => Some(Self::SendOnly),
            "recvonly" => Some(Self::RecvOnly),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// The direction an answer takes for an offer with this one (RFC 3264 6.1).
    pub fn reversed(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            d => d,
        }
    }
}

/// The `o=` line. Its network and address types are not kept: they are
/// written from the form of `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Username (`-` usually), written back as read.
    pub username: String,
    /// Session id; ours is random.
    pub session_id: u64,
    /// Session version: must grow with every changed SDP we send in a dialog.
    pub version: u64,
    /// Unicast address of the originator, IPv4 or IPv6.
    pub address: String,
}

/// An `a=rtpmap:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type the entry names, as in the `m=` format list.
    pub payload_type: u8,
    /// Encoding name as written (`PCMU`, `telephone-event`).
    pub encoding: String,
    /// Clock rate in Hz (8000 for G.711 and telephone-event).
    pub clock_rate: u32,
    /// Channel count, if written.
    pub channels: Option<u8>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`...
    pub kind: String,
    /// RTP port (0 = stream rejected or disabled).
    pub port: u16,
    /// `RTP/AVP`...
    pub protocol: String,
    /// Format list, in the sender's preference order.
    pub formats: Vec<String>,
    /// Media-level `c=` address.
    pub connection: Option<String>,
    /// `a=rtpmap` entries, for the formats that have one.
    pub rtpmaps: Vec<RtpMap>,
    /// fmtp attributes (payload type, parameters).
    pub fmtps: Vec<(u8, String)>,
    /// `a=ptime`: packet time in ms, when given.
    pub ptime: Option<u32>,
    /// Media-level direction.
    pub direction: Option<Direction>,
    /// `a=crypto` lines (at most 16; unreadable ones are skipped).
    pub crypto: Vec<Crypto>,
}

/// A parsed session description (the audio subset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// The `o=` line: who made the description, and its version.
    pub origin: Origin,
    /// `s=`.
    pub session_name: String,
    /// Session-level `c=` address.
    pub connection: Option<String>,
    /// Session-level direction.
    pub direction: Option<Direction>,
    /// The `m=` sections, in order: an answer has one for each of the offer's.
    pub media: Vec<MediaDescription>,
}

fn err(line: usize, reason: &'static str) -> SdpError {
    SdpError { line, reason }
}

fn parse_connection(value: &str, line: usize) -> Result<String, SdpError> {
    let mut it = value.split_whitespace();
    let (net, kind, addr) = (it.next(), it.next(), it.next());
    if net != Some("IN") || !matches!(kind, Some("IP4" | "IP6")) {
        return Err(err(line, "c= must be IN IP4 or IN IP6"));
    }
    let addr = addr.ok_or(err(line, "c= has no address"))?;
    Ok(addr.split('/').next().unwrap_or(addr).to_string())
}

impl SessionDescription {
    /// Parses SDP text (CRLF or LF line ends).
    pub fn parse(bytes: &[u8]) -> Result<Self, SdpError> {
        let text = std::str::from_utf8(bytes).map_err(|_| err(0, "not UTF-8"))?;
        let mut origin = None;
        let mut session_name = String::new();
        let mut connection = None;
        let mut direction = None;
        let mut media: Vec<MediaDescription> = Vec::new();
        let mut saw_version = false;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(err(n, "a line must look like x=value"));
            };
            if key.len() != 1 {
                return Err(err(n, "a line must start with one letter and ="));
            }
            if !saw_version && key != "v" {
                return Err(err(n, "SDP must start with v=0"));
            }
            match key {
                "v" => {
                    if value.trim() != "0" {
                        return Err(err(n, "only v=0 is known"));
                    }
                    saw_version = true;
                }
                "o" => {
                    let f: Vec<&str> = value.split_whitespace().collect();
                    if f.len() != 6 {
                        return Err(err(n, "o= needs six fields"));
                    }
                    origin = Some(Origin {
                        username: f[0].to_string(),
                        session_id: f[1]
                            .parse()
                            .map_err(|_| err(n, "o= session id is not a number"))?,
                        version: f[2]
                            .parse()
                            .map_err(|_| err(n, "o= version is not a number"))?,
                        address: f[5].to_string(),
                    });
                }
                "s" => session_name = value.to_string(),
                "c" => {
                    let addr = parse_connection(value, n)?;
                    match media.last_mut() {
                        Some(m) => m.connection = Some(addr),
                        None => connection = Some(addr),
                    }
                }
                "m" => {
                    let f: Vec<&str> = value.split_whitespace().collect();
                    if f.len() < 4 {
                        return Err(err(n, "m= needs media, port, protocol and formats"));
                    }
                    let port = f[1]
                        .split('/')
                        .next()
                        .and_then(|p| p.parse().ok())
                        .ok_or(err(n, "m= port is not a number"))?;
                    media.push(MediaDescription {
                        kind: f[0].to_string(),
                        port,
                        protocol: f[2].to_string(),
                        formats: f[3..].iter().map(|s| s.to_string()).collect(),
                        connection: None,
                        rtpmaps: Vec::new(),
                        fmtps: Vec::new(),
                        ptime: None,
                        direction: None,
                        crypto: Vec::new(),
                    });
                }
                "a" => {
                    let (name, val) = match value.split_once(':') {
                        Some((a, b)) => (a, Some(b)),
                        None => (value, None),
                    };
                    if let Some(d) = Direction::parse(name) {
                        match media.last_mut() {
                            Some(m) => m.direction = Some(d),
                            None => direction = Some(d),
                        }
                        continue;
                    }
                    let Some(m) = media.last_mut() else { continue };
                    let Some(val) = val else { continue };
                    match name {
                        "rtpmap" => {
                            if let Some(map) = parse_rtpmap(val) {
                                m.rtpmaps.push(map);
                            }
                        }
                        "fmtp" => {
                            if let Some((pt, params)) = val.split_once(' ')
                                && let Ok(pt) = pt.parse()
                            {
                                m.fmtps.push((pt, params.trim().to_string()));
                            }
                        }
                        "ptime" => m.ptime = val.trim().parse().ok(),
                        "crypto" if m.crypto.len() < MAX_CRYPTO => {
                            if let Ok(c) = Crypto::parse(val) {
                                m.crypto.push(c);
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
            if media.len() > 64 {
                return Err(err(n, "too many m= lines"));
            }
        }
        if !saw_version {
            return Err(err(0, "empty SDP"));
        }
        Ok(Self {
            origin: origin.ok_or(err(0, "o= is missing"))?,
            session_name,
            connection,
            direction,
            media,
        })
    }

    /// The SDP as bytes for a message body.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

fn parse_rtpmap(val: &str) -> Option<RtpMap> {
    let (pt, rest) = val.trim().split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?.to_string();
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = parts.next().and_then(|c| c.parse().ok());
    Some(RtpMap {
        payload_type: pt.parse().ok()?,
        encoding,
        clock_rate,
        channels,
    })
}

fn ip_kind(addr: &str) -> &'static str {
    if addr.contains(':') { "IP6" } else { "IP4" }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(f, "v=0\r\n")?;
        write!(
            f,
            "o={} {} {} IN {} {}\r\n",
            o.username,
            o.session_id,
            o.version,
            ip_kind(&o.address),
            o.address
        )?;
        let name = if self.session_name.is_empty() {
            "-"
        } else {
            &self.session_name
        };
        write!(f, "s={name}\r\n")?;
        if let Some(c) = &self.connection {
            write!(f, "c=IN {} {c}\r\n", ip_kind(c))?;
        }
        write!(f, "t=0 0\r\n")?;
        if let Some(d) = self.direction {
            write!(f, "a={}\r\n", d.as_str())?;
        }
        for m in &self.media {
            write!(
                f,
                "m={} {} {} {}\r\n",
                m.kind,
                m.port,
                m.protocol,
                m.formats.join(" ")
            )?;
            if let Some(c) = &m.connection {
                write!(f, "c=IN {} {c}\r\n", ip_kind(c))?;
            }
            for r in &m.rtpmaps {
                write!(
                    f,
                    "a=rtpmap:{} {}/{}",
                    r.payload_type, r.encoding, r.clock_rate
                )?;
                if let Some(ch) = r.channels {
                    write!(f, "/{ch}")?;
                }
                write!(f, "\r\n")?;
            }
            for (pt, p) in &m.fmtps {
                write!(f, "a=fmtp:{pt} {p}\r\n")?;
            }
            for c in &m.crypto {
                write!(f, "a=crypto:{c}\r\n")?;
            }
            if let Some(p) = m.ptime {
                write!(f, "a=ptime:{p}\r\n")?;
            }
            if let Some(d) = m.direction {
                write!(f, "a={}\r\n", d.as_str())?;
            }
        }
        Ok(())
    }
}

/// The audio codecs the runtime handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// G.711 mu-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static payload type.
    pub fn static_pt(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
        }
    }

    /// The rtpmap encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Self::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Self::Pcma)
        } else {
            None
        }
    }
}

/// Whether a call leg uses SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// Plain RTP: offers carry no `a=crypto`; an `RTP/SAVP` offer is refused
    /// (488), an `a=crypto` in an `RTP/AVP` offer is ignored.
    Off,
    /// SRTP when the far end can: offers are `RTP/AVP` with `a=crypto` (a far
    /// end that knows SDES answers with its key, one that does not answers
    /// plain RTP); an offer with a usable `a=crypto` is answered with SRTP,
    /// one without with plain RTP.
    #[default]
    Offer,
    /// SRTP only: offers are `RTP/SAVP`; an offer or answer without a usable
    /// `a=crypto` is refused.
    Require,
}

/// Both SDES keys of a call leg using SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesKeys {
    /// Ours (in our SDP): what we encrypt with.
    pub ours: SdesKey,
    /// The far end's (in its SDP): what it encrypts with.
    pub theirs: SdesKey,
}

/// Our side of the media: where we receive RTP and what we can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The IP we receive RTP on.
    pub address: IpAddr,
    /// The RTP port we receive on, written in our `m=` line.
    pub port: u16,
    /// Codecs we accept, in our order of preference (used for offers).
    pub codecs: Vec<Codec>,
    /// Payload type to offer for telephone-event; `None` disables RFC 4733.
    pub telephone_event: Option<u8>,
    /// Packet time in ms.
    pub ptime: u32,
    /// `o=` session id; [`LocalMedia::g711`] picks a random one.
    pub session_id: u64,
    /// `o=` version; bump it for each new SDP in the same dialog.
    pub session_version: u64,
    /// Direction we want (sendrecv normally; sendonly to put the peer on hold).
    pub direction: Direction,
    /// Whether SRTP is offered, accepted or required.
    pub srtp: SrtpPolicy,
    /// Our SRTP master key for this leg (kept for its whole life: re-INVITEs
    /// answer with the same key, so the stream's keystream never repeats).
    pub sdes_key: SdesKey,
}

impl LocalMedia {
    /// G.711 (PCMU then PCMA) and telephone-event 101 at `address:port`,
    /// sendrecv, SRTP offered with a fresh key.
    pub fn g711(address: IpAddr, port: u16) -> Self {
        Self {
            address,
            port,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event: Some(101),
            ptime: 20,
            session_id: rand::random_range(1..u32::MAX as u64),
            session_version: 1,
            direction: Direction::SendRecv,
            srtp: SrtpPolicy::default(),
            sdes_key: SdesKey::random(),
        }
    }
}

/// The result of negotiation: what to send and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec to use both ways.
    pub codec: Codec,
    /// The payload type the codec's RTP packets carry in this session.
    pub payload_type: u8,
    /// The telephone-event payload type, if both sides do RFC 4733.
    pub telephone_event: Option<u8>,
    /// Where to send RTP; `None` when the peer is on hold with c=0.0.0.0.
    pub remote: Option<SocketAddr>,
    /// Our direction in the agreed session.
    pub direction: Direction,
    /// The peer holds the call (sendonly/inactive or c=0.0.0.0 in its SDP).
    pub hold: bool,
    /// The peer's ptime, if given.
    pub ptime: Option<u32>,
    /// The SDES keys when the leg uses SRTP; `None` for plain RTP.
    pub srtp: Option<SdesKeys>,
}

/// Why an offer or answer cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// No usable `m=audio` line (missing, or port 0). Answer 488.
    #[error("the SDP has no audio stream")]
    NoAudio,
    /// Audio offered, but none of our codecs. Answer 488.
    #[error("no common codec")]
    NoCommonCodec,
    /// The address of the stream is not an IP address.
    #[error("the media address is not an IP address")]
    BadAddress,
    /// We require SRTP and the other side has no usable `a=crypto`. Answer 488
    /// (or end the call, for an answer).
    #[error("SRTP is required and the other side has no usable a=crypto")]
    SrtpRequired,
    /// An `RTP/SAVP` offer whose `a=crypto` lines we cannot use (or SRTP is
    /// off). Answer 488.
    #[error("the offer needs SRTP with a crypto suite we do not do")]
    SrtpUnsupported,
}

/// Whether a profile is one of SRTP's (`RTP/SAVP`, `RTP/SAVPF`).
fn secure_profile(protocol: &str) -> bool {
    protocol.contains("SAVP")
}

/// The SRTP outcome of an offer under `local`'s policy: the tag and key of
/// the offered line taken, `None` for plain RTP.
fn srtp_for_offer(
    m: &MediaDescription,
    local: &LocalMedia,
) -> Result<Option<(u32, SdesKey)>, NegotiationError> {
    let secure = secure_profile(&m.protocol);
    let usable = m.crypto.iter().find_map(|c| c.usable().map(|k| (c.tag, k)));
    match (local.srtp, usable) {
        (SrtpPolicy::Off, _) if secure => Err(NegotiationError::SrtpUnsupported),
        (SrtpPolicy::Off, _) => Ok(None),
        (_, Some(found)) => Ok(Some(found)),
        (SrtpPolicy::Require, None) => Err(NegotiationError::SrtpRequired),
        (SrtpPolicy::Offer, None) if secure => Err(NegotiationError::SrtpUnsupported),
        (SrtpPolicy::Offer, None) => Ok(None),
    }
}

fn rtpmap_for(m: &MediaDescription, pt: u8) -> Option<&RtpMap> {
    m.rtpmaps.iter().find(|r| r.payload_type == pt)
}

/// The codec a format stands for, using rtpmap for dynamic types.
fn codec_of(m: &MediaDescription, pt: u8) -> Option<Codec> {
    match rtpmap_for(m, pt) {
        Some(r) if r.clock_rate == 8000 => Codec::from_name(&r.encoding),
        Some(_) => None,
        None => match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        },
    }
}

fn telephone_event_of(m: &MediaDescription) -> Option<u8> {
    m.formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .find(|&pt| {
            rtpmap_for(m, pt).is_some_and(|r| {
                r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == 8000
            })
        })
}

/// The first audio stream that is not disabled, with its index.
fn audio_stream(sdp: &SessionDescription) -> Option<(usize, &MediaDescription)> {
    sdp.media
        .iter()
        .enumerate()
        .find(|(_, m)| m.kind == "audio" && m.port != 0 && m.protocol.starts_with("RTP/"))
}

fn remote_of(
    sdp: &SessionDescription,
    m: &MediaDescription,
) -> Result<(Option<SocketAddr>, bool), NegotiationError> {
    let addr = m
        .connection
        .as_deref()
        .or(sdp.connection.as_deref())
        .ok_or(NegotiationError::BadAddress)?;
    let ip: IpAddr = addr.parse().map_err(|_| NegotiationError::BadAddress)?;
    if ip.is_unspecified() {
        Ok((None, true))
    } else {
        Ok((Some(SocketAddr::new(ip, m.port)), false))
    }
}

fn stream_direction(sdp: &SessionDescription, m: &MediaDescription) -> Direction {
    m.direction.or(sdp.direction).unwrap_or(Direction::SendRecv)
}

/// Answers an offer (RFC 3264 section 6): the offerer's first codec we support,
/// its telephone-event payload type echoed, the direction mirrored.
pub fn answer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<(SessionDescription, Negotiated), NegotiationError> {
    let (index, m) = audio_stream(offer).ok_or(NegotiationError::NoAudio)?;
    let (codec, pt) = m
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .find_map(|pt| {
            codec_of(m, pt)
                .filter(|c| local.codecs.contains(c))
                .map(|c| (c, pt))
        })
        .ok_or(NegotiationError::NoCommonCodec)?;
    let te = local.telephone_event.and(telephone_event_of(m));
    let (remote, zero_addr) = remote_of(offer, m)?;
    let srtp = srtp_for_offer(m, local)?;
    let offered = stream_direction(offer, m);
    let hold = zero_addr || matches!(offered, Direction::SendOnly | Direction::Inactive);
    let mut direction = offered.reversed();
    if zero_addr && direction == Direction::SendRecv {
        direction = Direction::RecvOnly;
    }
    if local.direction != Direction::SendRecv && direction == Direction::SendRecv {
        direction = local.direction;
    }
    let mut media = Vec::with_capacity(offer.media.len());
    for (i, om) in offer.media.iter().enumerate() {
        if i != index {
            media.push(MediaDescription {
                kind: om.kind.clone(),
                port: 0,
                protocol: om.protocol.clone(),
                formats: om.formats.iter().take(1).cloned().collect(),
                connection: None,
                rtpmaps: Vec::new(),
                fmtps: Vec::new(),
                ptime: None,
                direction: None,
                crypto: Vec::new(),
            });
            continue;
        }
        let mut formats = vec![pt.to_string()];
        let mut rtpmaps = vec![RtpMap {
            payload_type: pt,
            encoding: codec.name().to_string(),
            clock_rate: 8000,
            channels: None,
        }];
        let mut fmtps = Vec::new();
        if let Some(te) = te {
            formats.push(te.to_string());
            rtpmaps.push(RtpMap {
                payload_type: te,
                encoding: "telephone-event".into(),
                clock_rate: 8000,
                channels: None,
            });
            let params = om
                .fmtps
                .iter()
                .find(|(p, _)| *p == te)
                .map_or_else(|| "0-16".to_string(), |(_, v)| v.clone());
            fmtps.push((te, params));
        }
        media.push(MediaDescription {
            kind: "audio".into(),
            port: local.port,
            protocol: om.protocol.clone(),
            formats,
            connection: None,
            rtpmaps,
            fmtps,
            ptime: Some(local.ptime),
            direction: Some(direction),
            crypto: srtp
                .map(|(tag, _)| vec![Crypto::ours(tag, local.sdes_key)])
                .unwrap_or_default(),
        });
    }
    let sdp = SessionDescription {
        origin: Origin {
            username: "-".into(),
            session_id: local.session_id,
            version: local.session_version,
            address: local.address.to_string(),
        },
        session_name: "Dialect".into(),
        connection: Some(local.address.to_string()),
        direction: None,
        media,
    };
    Ok((
        sdp,
        Negotiated {
            codec,
            payload_type: pt,
            telephone_event: te,
            remote,
            direction,
            hold,
            ptime: m.ptime,
            srtp: srtp.map(|(_, theirs)| SdesKeys {
                ours: local.sdes_key,
                theirs,
            }),
        },
    ))
}

/// An offer for an outgoing call or a re-INVITE.
pub fn offer(local: &LocalMedia) -> SessionDescription {
    let mut formats: Vec<String> = local
        .codecs
        .iter()
        .map(|c| c.static_pt().to_string())
        .collect();
    let mut rtpmaps: Vec<RtpMap> = local
        .codecs
        .iter()
        .map(|c| RtpMap {
            payload_type: c.static_pt(),
            encoding: c.name().into(),
            clock_rate: 8000,
            channels: None,
        })
        .collect();
    let mut fmtps = Vec::new();
    if let Some(te) = local.telephone_event {
        formats.push(te.to_string());
        rtpmaps.push(RtpMap {
            payload_type: te,
            encoding: "telephone-event".into(),
            clock_rate: 8000,
            channels: None,
        });
        fmtps.push((te, "0-16".to_string()));
    }
    let (protocol, crypto) = match local.srtp {
        SrtpPolicy::Off => ("RTP/AVP", Vec::new()),
        SrtpPolicy::Offer => ("RTP/AVP", vec![Crypto::ours(1, local.sdes_key)]),
        SrtpPolicy::Require => ("RTP/SAVP", vec![Crypto::ours(1, local.sdes_key)]),
    };
    SessionDescription {
        origin: Origin {
            username: "-".into(),
            session_id: local.session_id,
            version: local.session_version,
            address: local.address.to_string(),
        },
        session_name: "Dialect".into(),
        connection: Some(local.address.to_string()),
        direction: None,
        media: vec![MediaDescription {
            kind: "audio".into(),
            port: local.port,
            protocol: protocol.into(),
            formats,
            connection: None,
            rtpmaps,
            fmtps,
            ptime: Some(local.ptime),
            direction: Some(local.direction),
            crypto,
        }],
    }
}

/// Reads the answer to our [`offer`]: the codec the answerer chose (its first
/// format that we offered) and its telephone-event type.
pub fn read_answer(
    answer: &SessionDescription,
    local: &LocalMedia,
) -> Result<Negotiated, NegotiationError> {
    let (_, m) = audio_stream(answer).ok_or(NegotiationError::NoAudio)?;
    let (codec, pt) = m
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .find_map(|pt| {
            codec_of(m, pt)
                .filter(|c| local.codecs.contains(c))
                .map(|c| (c, pt))
        })
        .ok_or(NegotiationError::NoCommonCodec)?;
    let te = local.telephone_event.and(telephone_event_of(m));
    let (remote, zero_addr) = remote_of(answer, m)?;
    // Our offer's line has tag 1; an answer taking it echoes the tag.
    let answered = m
        .crypto
        .iter()
        .find_map(|c| c.usable().filter(|_| c.tag == 1));
    let srtp = match (local.srtp, answered) {
        (SrtpPolicy::Off, _) => None,
        (_, Some(theirs)) => Some(SdesKeys {
            ours: local.sdes_key,
            theirs,
        }),
        (SrtpPolicy::Require, None) => return Err(NegotiationError::SrtpRequired),
        (SrtpPolicy::Offer, None) => None,
    };
    let theirs = stream_direction(answer, m);
    let hold = zero_addr || matches!(theirs, Direction::SendOnly | Direction::Inactive);
    Ok(Negotiated {
        srtp,
        codec,
        payload_type: pt,
        telephone_event: te,
        remote,
        direction: theirs.reversed(),
        hold,
        ptime: m.ptime,
    })
}

/// Parses and answers in one step, for the fuzz target and simple callers.
pub fn answer_bytes(
    offer_bytes: &[u8],
    local: &LocalMedia,
) -> Result<(Vec<u8>, Negotiated), String> {
    let offer = SessionDescription::parse(offer_bytes).map_err(|e| e.to_string())?;
    let (sdp, n) = answer(&offer, local).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let _ = write!(out, "{sdp}");
    Ok((out.into_bytes(), n))
}

#[cfg(test)]
mod tests;
