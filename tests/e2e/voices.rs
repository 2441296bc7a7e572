//! Phones that speak and listen, to check who hears whom in a bridged call.
//!
//! Each party speaks its own pure tone ([`CALLER_HZ`], [`AGENT_HZ`],
//! [`SUPERVISOR_HZ`]), and each phone measures, in every 20 ms packet it
//! receives, how strong each party's tone is (a Goertzel filter per tone). The
//! tones sit on exact DFT bins of a 160-sample packet (multiples of 50 Hz), so one
//! tone leaks next to nothing into another's bin whatever its phase, and a mix of
//! two or three voices (a whisper, a barge) still shows each of them. None of them
//! is a DTMF frequency, so the runtime's in-band key detector leaves them alone.
//! Tests count the packets that carry a voice in a time window: robust to jitter
//! and to when exactly a media path starts, with no timing-based assertion.
//!
//! [`answering`] is a registered phone (an agent's or a supervisor's) that answers
//! one INVITE; [`dialling`] is a caller that dials a service number, talks for a
//! while and hangs up. Both end at a BYE or at their time limit and return a
//! [`Heard`].

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use dialect_media::g711::Law;

/// The caller's voice.
pub(crate) const CALLER_HZ: f64 = 400.0;
/// The agent's voice.
pub(crate) const AGENT_HZ: f64 = 600.0;
/// The supervisor's voice.
pub(crate) const SUPERVISOR_HZ: f64 = 1050.0;
/// Every voice a phone listens for, in this order in [`Heard::packets`].
pub(crate) const VOICES: [f64; 3] = [CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ];
/// The Chinese ringback tone's frequency (checked by [`Heard::count`] too).
pub(crate) const RINGBACK_HZ: f64 = 425.0;
/// The test queue's music on hold (a tone in `prompts/hold.wav`).
pub(crate) const MUSIC_HZ: f64 = 500.0;
/// The test queue's position announcement (a tone in `prompts/queue_position_1.wav`).
pub(crate) const ANNOUNCE_HZ: f64 = 900.0;
/// Every frequency measured: [`VOICES`], the ringback tone, the queue's sounds.
const MEASURED: [f64; 6] = [
    CALLER_HZ,
    AGENT_HZ,
    SUPERVISOR_HZ,
    RINGBACK_HZ,
    MUSIC_HZ,
    ANNOUNCE_HZ,
];

/// Amplitude of each spoken tone (a mix of three stays below full scale).
pub(crate) const LEVEL: f64 = 6000.0;
/// A tone counts as heard in a packet from this amplitude on: far above G.711
/// quantisation noise and leakage, far below a tone at [`LEVEL`] even when it
/// only fills part of a packet.
const HEARD: f64 = 1200.0;

/// What a phone received.
#[derive(Debug, Default)]
pub(crate) struct Heard {
    /// When the call was answered (by this phone, or by the far end for a caller).
    pub(crate) answered: Option<Instant>,
    /// Per audio packet received: when, and which of the measured frequencies it
    /// carried.
    pub(crate) packets: Vec<(Instant, [bool; MEASURED.len()])>,
    /// The far end hung up with BYE.
    pub(crate) bye: bool,
    /// When the call ended: this phone sent BYE or received one.
    pub(crate) hung_up: Option<Instant>,
}

impl Heard {
    /// Packets carrying the tone `hz` received in `[from, to)`.
    pub(crate) fn count(&self, hz: f64, from: Instant, to: Instant) -> usize {
        let Some(i) = MEASURED.iter().position(|f| *f == hz) else {
            panic!("{hz} Hz is not measured");
        };
        self.packets
            .iter()
            .filter(|(t, tones)| *t >= from && *t < to && tones[i])
            .count()
    }

    /// When the first packet carrying `hz` arrived.
    pub(crate) fn first(&self, hz: f64) -> Option<Instant> {
        let i = MEASURED.iter().position(|f| *f == hz).expect("measured");
        self.packets.iter().find(|(_, t)| t[i]).map(|(at, _)| *at)
    }

    /// Packets carrying both `a` and `b`.
    pub(crate) fn count_together(&self, a: f64, b: f64) -> usize {
        let i = MEASURED.iter().position(|f| *f == a).expect("measured");
        let j = MEASURED.iter().position(|f| *f == b).expect("measured");
        self.packets.iter().filter(|(_, t)| t[i] && t[j]).count()
    }

    /// When the call ended for this phone (BYE either way, or the last packet).
    pub(crate) fn end(&self) -> Instant {
        self.hung_up
            .or_else(|| self.packets.last().map(|(t, _)| *t))
            .unwrap_or_else(Instant::now)
    }
}

/// The amplitude of the `hz` component of `pcm` (8 kHz), by the Goertzel
/// algorithm: exact for a tone on a DFT bin of the window.
pub(crate) fn amplitude(pcm: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for x in pcm {
        let s = f64::from(*x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    2.0 * power.sqrt() / pcm.len().max(1) as f64
}

/// The RTP side of a phone: sends its voice every 20 ms to the far end's
/// address and measures what it receives.
struct Media {
    sock: UdpSocket,
    hz: f64,
    remote: Option<SocketAddr>,
    next: Instant,
    seq: u16,
    sample: u64,
}

impl Media {
    fn new(hz: f64) -> Media {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        Media {
            sock,
            hz,
            remote: None,
            next: Instant::now(),
            seq: 0,
            sample: 0,
        }
    }

    fn port(&self) -> u16 {
        self.sock.local_addr().unwrap().port()
    }

    /// Sends the packets due by now and takes in what arrived.
    fn pump(&mut self, heard: &mut Heard) {
        let mut buf = [0u8; 2048];
        let mut pcm = [0i16; 1024];
        while let Ok((n, _)) = self.sock.recv_from(&mut buf) {
            if n <= 12 || buf[1] & 0x7f != 0 {
                continue;
            }
            let k = Law::Ulaw.decode(&buf[12..n], &mut pcm);
            if k == 0 {
                continue;
            }
            let now = Instant::now();
            let pcm = &pcm[..k];
            let tones = MEASURED.map(|hz| amplitude(pcm, hz) > HEARD);
            heard.packets.push((now, tones));
        }
        let Some(remote) = self.remote else {
            self.next = Instant::now();
            return;
        };
        // Bounded catch-up: at most five packets per call.
        for _ in 0..5 {
            if Instant::now() < self.next {
                break;
            }
            let mut pcm = [0i16; 160];
            for s in pcm.iter_mut() {
                let t = self.sample as f64 / 8000.0;
                *s = ((2.0 * std::f64::consts::PI * self.hz * t).sin() * LEVEL) as i16;
                self.sample += 1;
            }
            let mut pkt = [0u8; 172];
            pkt[0] = 0x80;
            pkt[1] = 0;
            pkt[2..4].copy_from_slice(&self.seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&((self.sample as u32).wrapping_sub(160)).to_be_bytes());
            pkt[8..12].copy_from_slice(&(self.hz as u32).to_be_bytes());
            Law::Ulaw.encode(&pcm, &mut pkt[12..]);
            let _ = self.sock.send_to(&pkt, remote);
            self.seq = self.seq.wrapping_add(1);
            self.next += Duration::from_millis(20);
        }
    }
}

/// A WAV file (8 kHz, mono, 16 bits) of `ms` milliseconds of a tone at `hz`.
pub(crate) fn write_tone_wav(path: &std::path::Path, hz: f64, ms: u32) {
    dialect_e2e::write_tone_wav(path, hz, LEVEL, ms);
}

/// The RTP address in an SDP body (`c=` and the audio `m=` line).
fn sdp_remote(body: &str) -> Option<SocketAddr> {
    let ip = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?
        .trim();
    let port = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))?
        .split(' ')
        .next()?;
    format!("{ip}:{port}").parse().ok()
}

/// A phone's 200 OK to request `m`, for `user` listening for SIP on `port`;
/// to an INVITE with an SDP answer: PCMU on `rtp_port`.
pub(crate) fn ok_reply(m: &Message, user: &str, port: u16, rtp_port: u16) -> String {
    let mut to = m.copy("To");
    let (body, ctype) = if m.method() == "INVITE" {
        if !to.contains("tag=") {
            to = format!("{};tag=phone{user}\r\n", to.trim_end());
        }
        (
            format!(
                "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            ),
            "Content-Type: application/sdp\r\n",
        )
    } else {
        (String::new(), "")
    };
    format!(
        "SIP/2.0 200 OK\r\n{}{}{to}{}{}Contact: <sip:{user}@127.0.0.1:{port}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        m.copy("Via"),
        m.copy("From"),
        m.copy("Call-ID"),
        m.copy("CSeq"),
        body.len()
    )
}

/// A SIP message split into its first line, headers and body.
pub(crate) struct Message {
    first: String,
    headers: Vec<String>,
    body: String,
}

impl Message {
    pub(crate) fn parse(text: &str) -> Message {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let first = lines.next().unwrap_or("").to_string();
        Message {
            first,
            headers: lines.map(str::to_string).collect(),
            body: body.to_string(),
        }
    }

    /// Every header line called `name`, each ending in CRLF.
    fn copy(&self, name: &str) -> String {
        self.headers
            .iter()
            .filter(|l| {
                l.split(':')
                    .next()
                    .is_some_and(|h| h.trim().eq_ignore_ascii_case(name))
            })
            .map(|l| format!("{l}\r\n"))
            .collect()
    }

    /// The value of the first header called `name`.
    fn value(&self, name: &str) -> Option<String> {
        self.headers.iter().find_map(|l| {
            let (h, v) = l.split_once(':')?;
            h.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    pub(crate) fn method(&self) -> &str {
        self.first.split(' ').next().unwrap_or("")
    }

    pub(crate) fn status(&self) -> Option<u16> {
        self.first
            .strip_prefix("SIP/2.0 ")
            .and_then(|r| r.split(' ').next())
            .and_then(|c| c.parse().ok())
    }
}

/// A registered phone for `user` speaking `hz`: it answers one INVITE (PCMU)
/// with 200 OK and its voice, and ends at the BYE (or after `limit`).
pub(crate) fn answering(
    server: SocketAddr,
    user: &'static str,
    password: &'static str,
    hz: f64,
    limit: Duration,
) -> std::thread::JoinHandle<Heard> {
    let sip = crate::register(server, user, password);
    let port = sip.local_addr().unwrap().port();
    sip.set_read_timeout(Some(Duration::from_millis(2)))
        .unwrap();
    let mut media = Media::new(hz);
    std::thread::spawn(move || {
        let mut heard = Heard::default();
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline && !heard.bye {
            media.pump(&mut heard);
            let Ok((n, from)) = sip.recv_from(&mut buf) else {
                continue;
            };
            let m = Message::parse(&String::from_utf8_lossy(&buf[..n]));
            if m.status().is_some() || m.method() == "ACK" {
                continue;
            }
            if m.method() == "INVITE" {
                heard.answered.get_or_insert_with(Instant::now);
                if let Some(r) = sdp_remote(&m.body) {
                    media.remote = Some(r);
                }
            }
            let reply = ok_reply(&m, user, port, media.port());
            sip.send_to(reply.as_bytes(), from).unwrap();
            if m.method() == "BYE" {
                heard.bye = true;
                heard.hung_up = Some(Instant::now());
            }
        }
        heard
    })
}

/// A caller speaking `hz`: dials `number` on `server`, talks for `talk` after the
/// answer and hangs up with BYE (or ends at the server's BYE; at the latest
/// after `limit`).
pub(crate) fn dialling(
    server: SocketAddr,
    number: &str,
    hz: f64,
    talk: Duration,
    limit: Duration,
) -> std::thread::JoinHandle<Heard> {
    let sip = UdpSocket::bind("127.0.0.1:0").unwrap();
    sip.set_read_timeout(Some(Duration::from_millis(2)))
        .unwrap();
    let port = sip.local_addr().unwrap().port();
    let mut media = Media::new(hz);
    let number = number.to_string();
    std::thread::spawn(move || {
        let mut heard = Heard::default();
        let deadline = Instant::now() + limit;
        let call_id = format!("voice-{port}@127.0.0.1");
        let from = format!("<sip:13900000000@127.0.0.1:{port}>;tag=caller{port}");
        let request = |method: &str, cseq: u32, uri: &str, to: &str, body: &str| {
            let ctype = if body.is_empty() {
                ""
            } else {
                "Content-Type: application/sdp\r\n"
            };
            format!(
                "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{method}{cseq}-{port}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:13900000000@127.0.0.1:{port}>\r\nMax-Forwards: 70\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let uri = format!("sip:{number}@{server}");
        let offer = format!(
            "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            media.port()
        );
        let invite = request("INVITE", 1, &uri, &format!("<{uri}>"), &offer);
        let mut resend = Instant::now();
        let mut provisional = false;
        // The dialog once answered: the To header with the tag, and where BYE goes.
        let mut dialog: Option<(String, String)> = None;
        let mut bye_sent: Option<(Instant, u32)> = None;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline && !heard.bye {
            media.pump(&mut heard);
            let now = Instant::now();
            if dialog.is_none() && !provisional && now >= resend {
                sip.send_to(invite.as_bytes(), server).unwrap();
                resend = now + Duration::from_millis(500);
            }
            if let (Some((to, target)), Some(answered)) = (&dialog, heard.answered) {
                match bye_sent {
                    None if now >= answered + talk => {
                        sip.send_to(request("BYE", 2, target, to, "").as_bytes(), server)
                            .unwrap();
                        heard.hung_up = Some(now);
                        bye_sent = Some((now, 1));
                    }
                    Some((at, n)) if now >= at + Duration::from_millis(500) => {
                        if n >= 6 {
                            break;
                        }
                        sip.send_to(request("BYE", 2, target, to, "").as_bytes(), server)
                            .unwrap();
                        bye_sent = Some((now, n + 1));
                    }
                    _ => {}
                }
            }
            let Ok((n, src)) = sip.recv_from(&mut buf) else {
                continue;
            };
            let m = Message::parse(&String::from_utf8_lossy(&buf[..n]));
            let cseq = m.value("CSeq").unwrap_or_default();
            match m.status() {
                Some(code) if cseq.ends_with("INVITE") => {
                    if code < 200 {
                        provisional = true;
                        continue;
                    }
                    let to = m.value("To").unwrap_or_default();
                    let target = m
                        .value("Contact")
                        .map(|c| c.trim_matches(|ch| ch == '<' || ch == '>').to_string())
                        .unwrap_or_else(|| uri.clone());
                    sip.send_to(request("ACK", 1, &target, &to, "").as_bytes(), src)
                        .unwrap();
                    if code >= 300 {
                        break;
                    }
                    if dialog.is_none() {
                        media.remote = sdp_remote(&m.body);
                        heard.answered = Some(Instant::now());
                        dialog = Some((to, target));
                    }
                }
                Some(_) => {
                    if cseq.ends_with("BYE") {
                        break;
                    }
                }
                None => {
                    let reply = format!(
                        "SIP/2.0 200 OK\r\n{}{}{}{}{}Content-Length: 0\r\n\r\n",
                        m.copy("Via"),
                        m.copy("From"),
                        m.copy("To"),
                        m.copy("Call-ID"),
                        m.copy("CSeq"),
                    );
                    sip.send_to(reply.as_bytes(), src).unwrap();
                    if m.method() == "BYE" {
                        heard.bye = true;
                        heard.hung_up = Some(Instant::now());
                    }
                }
            }
        }
        heard
    })
}

#[test]
fn the_goertzel_filter_tells_the_voices_apart() {
    let tone = |hz: f64, phase: f64| -> Vec<f64> {
        (0..160)
            .map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0 + phase).sin() * LEVEL)
            .collect()
    };
    let to_pcm = |v: Vec<f64>| -> Vec<i16> {
        let pcm: Vec<i16> = v.iter().map(|x| *x as i16).collect();
        let mut enc = vec![0u8; 160];
        Law::Ulaw.encode(&pcm, &mut enc);
        let mut out = vec![0i16; 160];
        Law::Ulaw.decode(&enc, &mut out);
        out
    };
    for (i, hz) in VOICES.iter().enumerate() {
        let pcm = to_pcm(tone(*hz, 0.3 * i as f64));
        for other in MEASURED {
            let a = amplitude(&pcm, other);
            if other == *hz {
                assert!(a > 5000.0, "{hz} in itself: {a}");
            } else if (other - RINGBACK_HZ).abs() > 1.0 || (hz - RINGBACK_HZ).abs() > 100.0 {
                assert!(a < HEARD, "{other} in {hz}: {a}");
            }
        }
    }
    // A mix of the caller and the supervisor shows both and not the agent.
    let mix: Vec<f64> = tone(CALLER_HZ, 1.0)
        .iter()
        .zip(tone(SUPERVISOR_HZ, 2.0))
        .map(|(a, b)| a + b)
        .collect();
    let pcm = to_pcm(mix);
    assert!(amplitude(&pcm, CALLER_HZ) > 4000.0);
    assert!(amplitude(&pcm, SUPERVISOR_HZ) > 4000.0);
    assert!(amplitude(&pcm, AGENT_HZ) < HEARD);
}
