//! Attacks on a call's media from the network, each against the real runtime on
//! loopback: RTP from an address that signalling did not name must neither press
//! keys in a call nor take its audio away, and the server must not send media to
//! an address that never showed it wants it (an INVITE that is never
//! acknowledged, or SDP naming a third party), so that one small INVITE cannot
//! make it flood someone else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use dialect_e2e::{Spray, TestServer, sipp_media_port, spray_rtp, test_sip_port, trail};

/// A UDP socket on `ip` at a port the harness hands out (below the ephemeral range).
fn socket_on(ip: &str) -> UdpSocket {
    let sock = (0..50)
        .find_map(|_| UdpSocket::bind((ip, sipp_media_port())).ok())
        .expect("a free UDP port");
    sock.set_nonblocking(true).unwrap();
    sock
}

/// A caller's INVITE from `sip` (its SIP socket) whose SDP names `media` as its
/// RTP address.
fn invite(sip: &UdpSocket, server: SocketAddr, call_id: &str, media: SocketAddr) -> String {
    let port = sip.local_addr().unwrap().port();
    let sdp = format!(
        "v=0\r\no=caller 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {mport} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
        ip = media.ip(),
        mport = media.port()
    );
    format!(
        "INVITE sip:10000@{server} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{call_id}\r\nFrom: <sip:13900000000@127.0.0.1:{port}>;tag=a{call_id}\r\nTo: <sip:10000@{server}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:13900000000@127.0.0.1:{port}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// An in-dialog request (ACK, BYE) for the call `invite` set up, with the To
/// header of its 200 OK.
fn in_dialog(method: &str, cseq: u32, invite: &str, to: &str) -> String {
    let mut out = format!(
        "{method} {} SIP/2.0\r\n",
        invite.split(' ').nth(1).unwrap_or_default()
    );
    for line in invite.lines().skip(1) {
        let name = line.split(':').next().unwrap_or_default();
        match name {
            "Via" => out.push_str(&format!("{}-{method}\r\n", line.trim_end())),
            "From" | "Call-ID" | "Contact" | "Max-Forwards" => {
                out.push_str(line.trim_end());
                out.push_str("\r\n");
            }
            _ => {}
        }
    }
    out.push_str(&format!(
        "To: {to}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    ));
    out
}

/// Waits (at most `limit`) for the 200 OK to the INVITE; returns its To header
/// and the RTP address its SDP names.
fn answered(sip: &UdpSocket, limit: Duration) -> (String, SocketAddr) {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let Ok((n, _)) = sip.recv_from(&mut buf) else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if text.starts_with("SIP/2.0 200") && text.contains("INVITE") {
            let to = text
                .lines()
                .find_map(|l| l.strip_prefix("To:"))
                .unwrap_or_default()
                .trim()
                .to_string();
            let ip = text
                .lines()
                .find_map(|l| l.strip_prefix("c=IN IP4 "))
                .unwrap_or_default()
                .trim();
            let port = text
                .lines()
                .find_map(|l| l.strip_prefix("m=audio "))
                .and_then(|m| m.split(' ').next())
                .unwrap_or_default();
            return (to, format!("{ip}:{port}").parse().unwrap());
        }
    }
    panic!("no 200 OK to the INVITE");
}

/// Counts the datagrams `sock` receives until `until` (bounded by time).
fn count_until(sock: &UdpSocket, until: Instant) -> u64 {
    let mut n = 0;
    let mut buf = [0u8; 2048];
    while Instant::now() < until {
        match sock.recv_from(&mut buf) {
            Ok(_) => n += 1,
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attacker_spraying_rfc_4733_events_cannot_press_keys_or_take_the_prompts() {
    let s = TestServer::start(|_| {}).await;
    let stop = Arc::new(AtomicBool::new(false));
    // The attacker presses 2 (English) on every port of the range, from before
    // the call until after it; the caller presses 1 (Chinese) 1.5 s after its ACK.
    let attacker = spray_rtp(
        s.rtp_ports,
        Spray::Key(2),
        stop.clone(),
        Duration::from_secs(30),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = s
        .one_call(
            "uac_keys_2833.xml",
            vec![("pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap".into())],
            30,
        )
        .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let report = tokio::task::spawn_blocking(move || attacker.join().unwrap())
        .await
        .unwrap();
    let t = trail(&c[0]);
    assert!(report.sent > 1000, "the attack ran: {report:?}");
    assert_eq!(
        report.received, 0,
        "the attacker received the caller's media: {report:?}"
    );
    assert!(
        t.iter()
            .any(|(n, d)| n == "language_choice" && d.starts_with("choice 1")),
        "the caller's key, not the attacker's, chose the language: {t:?}"
    );
    assert!(
        s.metric("dialect_rtp_dropped_wrong_source_total").await > 0.0,
        "the attacker's packets were counted"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invite_never_acknowledged_sends_no_media_and_ends_at_timer_h() {
    let s = TestServer::start(|_| {}).await;
    let server = s.sip;
    // The INVITE names a third party (another socket) as its media address and
    // is never acknowledged.
    let (victim_packets, waited) = tokio::task::spawn_blocking(move || {
        let sip = UdpSocket::bind(("127.0.0.1", test_sip_port())).unwrap();
        sip.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let victim = socket_on("127.0.0.1");
        let invite = invite(&sip, server, "no-ack-1", victim.local_addr().unwrap());
        sip.send_to(invite.as_bytes(), server).unwrap();
        let _ = answered(&sip, Duration::from_secs(5));
        let answered_at = Instant::now();
        // Timer H is 64*T1 = 32 s; watch a little longer than that.
        let n = count_until(&victim, answered_at + Duration::from_secs(36));
        (n, answered_at)
    })
    .await
    .unwrap();
    assert_eq!(
        victim_packets, 0,
        "media went to an address that never showed it wanted it"
    );
    // The call task hung up at timer H and wrote its record.
    let c = s.wait_contacts(1).await;
    assert_eq!(c.len(), 1, "a contact record for the unacknowledged call");
    assert!(
        c[0]["end"].as_str().unwrap_or_default().contains("no ACK"),
        "{:#}",
        c[0]
    );
    let lasted = c[0]["ended_ms"].as_i64().unwrap() - c[0]["answered_ms"].as_i64().unwrap();
    assert!(
        (30_000..42_000).contains(&lasted),
        "ended at timer H, not {lasted} ms after the answer"
    );
    assert!(waited.elapsed() < Duration::from_secs(60));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sdp_naming_another_host_gets_no_media_until_that_host_sends_rtp() {
    let s = TestServer::start(|_| {}).await;
    let server = s.sip;
    let (before, after) = tokio::task::spawn_blocking(move || {
        let sip = UdpSocket::bind(("127.0.0.1", test_sip_port())).unwrap();
        sip.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        // Another host (127.0.0.2) is named in the SDP; the ACK comes from 127.0.0.1.
        let victim = socket_on("127.0.0.2");
        let invite = invite(&sip, server, "other-host-1", victim.local_addr().unwrap());
        sip.send_to(invite.as_bytes(), server).unwrap();
        let (to, rtp_addr) = answered(&sip, Duration::from_secs(5));
        sip.send_to(in_dialog("ACK", 1, &invite, &to).as_bytes(), server)
            .unwrap();
        let before = count_until(&victim, Instant::now() + Duration::from_secs(3));
        // Once that host sends RTP itself it has shown it wants the call's media.
        let mut rtp = [0u8; 172];
        rtp[0] = 0x80;
        for i in 0..25u16 {
            rtp[2..4].copy_from_slice(&i.to_be_bytes());
            rtp[4..8].copy_from_slice(&(u32::from(i) * 160).to_be_bytes());
            rtp[8..12].copy_from_slice(&7u32.to_be_bytes());
            let _ = victim.send_to(&rtp, rtp_addr);
            std::thread::sleep(Duration::from_millis(20));
        }
        let after = count_until(&victim, Instant::now() + Duration::from_millis(500));
        sip.send_to(in_dialog("BYE", 2, &invite, &to).as_bytes(), server)
            .unwrap();
        (before, after)
    })
    .await
    .unwrap();
    assert_eq!(before, 0, "media went to a host that did not ask for it");
    assert!(after > 0, "media flows once that host sends RTP");
    s.stop().await;
}

/// An SRTP caller's INVITE (RTP/SAVP, our key under tag 1).
fn srtp_invite(
    sip: &UdpSocket,
    server: SocketAddr,
    call_id: &str,
    media: SocketAddr,
    key: dialect_sip::sdp::SdesKey,
) -> String {
    let plain = invite(sip, server, call_id, media);
    let crypto = dialect_sip::sdp::Crypto::ours(1, key);
    let (head, sdp) = plain.split_once("\r\n\r\n").unwrap();
    let sdp = sdp.replace("RTP/AVP", "RTP/SAVP") + &format!("a=crypto:{crypto}\r\n");
    let head = head
        .lines()
        .map(|l| {
            if l.starts_with("Content-Length:") {
                format!("Content-Length: {}", sdp.len())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    format!("{head}\r\n\r\n{sdp}")
}

/// Sends one RFC 4733 press of `key` (event code) from `sock` to `to`,
/// protected by `srtp` if given.
fn press(
    sock: &UdpSocket,
    to: SocketAddr,
    stream: &mut dialect_media::rtp::RtpStream,
    key: dialect_media::dtmf::DtmfKey,
    ts: u32,
    mut srtp: Option<&mut dialect_media::srtp::SrtpContext>,
) {
    let mut buf = [0u8; 256];
    for p in dialect_media::rfc4733::EventSender::new(key, 800, 10, ts, 160) {
        let h = stream.next_at(101, p.marker, p.timestamp);
        let mut n = h.write_packet(&p.payload.to_bytes(), &mut buf).unwrap();
        if let Some(ctx) = srtp.as_deref_mut() {
            n = ctx.protect(&mut buf, n).unwrap();
        }
        sock.send_to(&buf[..n], to).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_srtp_caller_gets_srtp_and_plain_rtp_injected_into_its_call_is_dropped() {
    use dialect_media::dtmf::DtmfKey;
    use dialect_media::rtp::{RtpPacket, RtpStream};
    use dialect_media::srtp::{MasterKey, SrtpContext};
    use dialect_sip::sdp::{SdesKey, SessionDescription};
    let s = TestServer::start(|_| {}).await;
    let server = s.sip;
    let (answer_profile, decrypted) = tokio::task::spawn_blocking(move || {
        let sip = UdpSocket::bind(("127.0.0.1", test_sip_port())).unwrap();
        sip.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let media = socket_on("127.0.0.1");
        let ours = SdesKey::random();
        let invite = srtp_invite(&sip, server, "srtp-1", media.local_addr().unwrap(), ours);
        sip.send_to(invite.as_bytes(), server).unwrap();
        // The 200 OK's SDP, read with our own parser.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 4096];
        let (to, answer) = loop {
            assert!(Instant::now() < deadline, "no 200 OK");
            let Ok((n, _)) = sip.recv_from(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if text.starts_with("SIP/2.0 200") {
                let to = text
                    .lines()
                    .find_map(|l| l.strip_prefix("To:"))
                    .unwrap()
                    .trim()
                    .to_string();
                let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
                break (to, SessionDescription::parse(body.as_bytes()).unwrap());
            }
        };
        sip.send_to(in_dialog("ACK", 1, &invite, &to).as_bytes(), server)
            .unwrap();
        let m = &answer.media[0];
        let theirs = m
            .crypto
            .iter()
            .find(|c| c.tag == 1)
            .and_then(|c| c.usable());
        let theirs = MasterKey::from_bytes(&theirs.expect("an a=crypto answer under tag 1").0);
        let rtp_addr: SocketAddr = format!("{}:{}", answer.connection.clone().unwrap(), m.port)
            .parse()
            .unwrap();
        // A plain RTP key press (what an attacker without the key could send,
        // even from the caller's own address) is dropped; the caller's SRTP one counts.
        let mut stream = RtpStream::new(0x5157, 1, 1);
        press(&media, rtp_addr, &mut stream, DtmfKey::Key2, 1000, None);
        std::thread::sleep(Duration::from_millis(500));
        let mut tx = SrtpContext::new(&MasterKey::from_bytes(&ours.0));
        press(
            &media,
            rtp_addr,
            &mut stream,
            DtmfKey::Key1,
            9000,
            Some(&mut tx),
        );
        // What the server sends decrypts with its key.
        let mut rx = SrtpContext::new(&theirs);
        let mut decrypted = 0;
        let until = Instant::now() + Duration::from_secs(2);
        media.set_nonblocking(false).unwrap();
        media
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        while Instant::now() < until {
            if let Ok((n, _)) = media.recv_from(&mut buf)
                && let Ok(len) = rx.unprotect(&mut buf, n)
                && RtpPacket::parse(&buf[..len]).is_ok()
            {
                decrypted += 1;
            }
        }
        sip.send_to(in_dialog("BYE", 2, &invite, &to).as_bytes(), server)
            .unwrap();
        (m.protocol.clone(), decrypted)
    })
    .await
    .unwrap();
    assert_eq!(answer_profile, "RTP/SAVP");
    assert!(
        decrypted > 20,
        "only {decrypted} SRTP packets from the server"
    );
    let c = s.wait_contacts(1).await;
    let t = trail(&c[0]);
    assert!(
        t.iter()
            .any(|(n, d)| n == "language_choice" && d.starts_with("choice 1")),
        "the SRTP key press chose, the plain one did not: {t:?}"
    );
    assert!(s.metric("dialect_srtp_rejected_total").await >= 3.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn srtp_required_refuses_a_plain_offer_with_488() {
    let s = TestServer::start(|c| c.rtp.srtp = dialect_runtime::config::SrtpMode::Require).await;
    let server = s.sip;
    let status = tokio::task::spawn_blocking(move || {
        let sip = UdpSocket::bind(("127.0.0.1", test_sip_port())).unwrap();
        sip.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let media = socket_on("127.0.0.1");
        let invite = invite(&sip, server, "plain-1", media.local_addr().unwrap());
        sip.send_to(invite.as_bytes(), server).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok((n, _)) = sip.recv_from(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                if !text.starts_with("SIP/2.0 1") {
                    return text.lines().next().unwrap_or_default().to_string();
                }
            }
        }
        String::new()
    })
    .await
    .unwrap();
    assert!(status.starts_with("SIP/2.0 488"), "{status}");
    s.stop().await;
}
