//! The endpoint on real sockets (127.0.0.1): malformed input answered 400 or
//! dropped and counted, OPTIONS answered, unknown dialogs get 481, the 2xx is
//! retransmitted until ACK and "no ACK" is reported, TCP framing limits.

// Helpers outside #[test] functions unwrap too: this is a test harness.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use dialect_sip::endpoint::DialogEvent;
use dialect_sip::transaction::Timers;
use dialect_sip::{EndpointConfig, SipEndpoint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(10);

async fn start(
    config: EndpointConfig,
) -> (
    SipEndpoint,
    tokio::sync::mpsc::Receiver<dialect_sip::endpoint::IncomingRequest>,
    CancellationToken,
) {
    let shutdown = CancellationToken::new();
    let (ep, rx) = SipEndpoint::bind(config, shutdown.clone()).await.unwrap();
    (ep, rx, shutdown)
}

fn udp_config() -> EndpointConfig {
    EndpointConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        ..EndpointConfig::default()
    }
}

async fn exchange(sock: &UdpSocket, to: SocketAddr, msg: &str) -> Option<String> {
    sock.send_to(msg.as_bytes(), to).await.unwrap();
    recv(sock, Duration::from_millis(500)).await
}

async fn recv(sock: &UdpSocket, wait: Duration) -> Option<String> {
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
        _ => None,
    }
}

fn request(method: &str, branch: &str, port: u16, extra: &str, to_tag: &str) -> String {
    format!(
        "{method} sip:ivr@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:caller@127.0.0.1>;tag=caller1\r\n\
To: <sip:ivr@127.0.0.1>{to_tag}\r\n\
Call-ID: {branch}@test\r\n\
CSeq: 1 {method}\r\n\
Contact: <sip:caller@127.0.0.1:{port}>\r\n\
{extra}Content-Length: 0\r\n\r\n"
    )
}

#[tokio::test]
async fn malformed_requests_get_400_or_are_dropped_and_counted() {
    let (ep, _rx, shutdown) = start(udp_config()).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let good = request("OPTIONS", "z9hG4bKm1", port, "", "");

    let answered = [
        good.replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS"),
        good.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"),
        good.replace(
            "OPTIONS sip:ivr@127.0.0.1 SIP/2.0",
            "OPTIONS sip:ivr@127.0.0.1 SIP/3.0",
        ),
        good.replace("Max-Forwards: 70", "Max-Forwards: many"),
        good.replace("Content-Length: 0", "Content-Length: 50"),
        good.replace("Content-Length: 0", "Content-Length: zero"),
        good.replace(";branch=z9hG4bKm1;rport", ""),
        good.replace("OPTIONS sip:", "OPTIONS <<garbage>> sip:"),
    ];
    for (i, bad) in answered.iter().enumerate() {
        let reply = exchange(&sock, to, bad)
            .await
            .unwrap_or_else(|| panic!("no reply to case {i}"));
        assert!(
            reply.starts_with("SIP/2.0 400 Bad Request\r\n"),
            "case {i}: {reply}"
        );
        assert!(reply.contains("Warning: 399 dialect"), "case {i}: {reply}");
        assert!(
            reply.contains("Call-ID: z9hG4bKm1@test"),
            "case {i}: {reply}"
        );
    }
    let unknown = good.replace("OPTIONS", "FROBNICATE");
    let reply = exchange(&sock, to, &unknown).await.unwrap();
    assert!(reply.starts_with("SIP/2.0 501 Not Implemented"), "{reply}");

    let dropped = [
        "hello".to_string(),
        good.replace("Call-ID: z9hG4bKm1@test\r\n", ""),
        good.replace("Via: SIP/2.0/UDP", "Via: SIP/2.0/"),
        "SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n".to_string(),
        String::from_utf8_lossy(&[0xff; 64]).to_string(),
    ];
    for bad in &dropped {
        assert_eq!(exchange(&sock, to, bad).await, None, "{bad:?}");
    }
    // Keep-alives are ignored silently and not counted as malformed.
    assert_eq!(exchange(&sock, to, "\r\n\r\n").await, None);
    let c = ep.counters();
    assert_eq!(c.bad_request_sent, answered.len() as u64 + 1);
    assert_eq!(c.malformed_dropped, dropped.len() as u64);

    // The endpoint is still fine: OPTIONS is answered by the endpoint itself.
    let reply = exchange(&sock, to, &good).await.unwrap();
    assert!(reply.starts_with("SIP/2.0 200 OK\r\n"), "{reply}");
    assert!(reply.contains("Allow: INVITE"), "{reply}");
    assert!(reply.contains(&format!("rport={port}")), "{reply}");
    shutdown.cancel();
}

#[tokio::test]
async fn unknown_dialog_gets_481_and_cancel_without_invite_gets_481() {
    let (ep, _rx, shutdown) = start(udp_config()).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let bye = request("BYE", "z9hG4bKb1", port, "", ";tag=nosuch");
    let reply = exchange(&sock, to, &bye).await.unwrap();
    assert!(reply.starts_with("SIP/2.0 481 "), "{reply}");
    // A retransmission is answered from the transaction with the same response.
    let again = exchange(&sock, to, &bye).await.unwrap();
    assert_eq!(again, reply);
    let cancel = request("CANCEL", "z9hG4bKc1", port, "", "");
    let reply = exchange(&sock, to, &cancel).await.unwrap();
    assert!(reply.starts_with("SIP/2.0 481 "), "{reply}");
    assert!(ep.counters().retransmissions_received >= 1);
    shutdown.cancel();
}

#[tokio::test]
async fn answered_invite_is_retransmitted_until_ack_and_no_ack_is_reported() {
    let mut config = udp_config();
    config.timers = Timers {
        t1: Duration::from_millis(20),
        t2: Duration::from_millis(80),
        t4: Duration::from_millis(100),
    };
    let (ep, mut rx, shutdown) = start(config).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let sdp_offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let invite = request(
        "INVITE",
        "z9hG4bKi1",
        port,
        "Content-Type: application/sdp\r\n",
        "",
    )
    .replace(
        "Content-Length: 0\r\n\r\n",
        &format!("Content-Length: {}\r\n\r\n{sdp_offer}", sdp_offer.len()),
    );
    sock.send_to(invite.as_bytes(), to).await.unwrap();
    assert!(
        recv(&sock, LIMIT)
            .await
            .unwrap()
            .starts_with("SIP/2.0 100 Trying")
    );
    let incoming = tokio::time::timeout(LIMIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    let uas = ep.accept_invite(incoming).unwrap();
    let (_dialog, mut events) = uas.answer(b"v=0\r\n".to_vec()).unwrap();
    let mut oks = 0;
    while let Some(m) = recv(&sock, Duration::from_millis(300)).await {
        assert!(m.starts_with("SIP/2.0 200 OK"), "{m}");
        oks += 1;
    }
    // 64*T1 = 1.28 s with intervals 20, 40, 80, 80...: about 17 copies; a loaded
    // machine may delay timers, so only a clear majority is required.
    assert!(oks >= 6, "only {oks} copies of the 200");
    assert!(matches!(
        tokio::time::timeout(LIMIT, events.recv()).await.unwrap(),
        Some(DialogEvent::AckTimeout)
    ));
    shutdown.cancel();
}

#[tokio::test]
async fn ack_stops_2xx_retransmission_and_reaches_the_dialog() {
    let mut config = udp_config();
    config.timers.t1 = Duration::from_millis(50);
    let (ep, mut rx, shutdown) = start(config).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let invite = request("INVITE", "z9hG4bKi2", port, "", "");
    sock.send_to(invite.as_bytes(), to).await.unwrap();
    let incoming = tokio::time::timeout(LIMIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    let uas = ep.accept_invite(incoming).unwrap();
    let tag = uas.dialog().id.local_tag.clone();
    let (_dialog, mut events) = uas.answer(b"v=0\r\n".to_vec()).unwrap();
    let mut got_ok = false;
    while let Some(m) = recv(&sock, Duration::from_millis(200)).await {
        if m.starts_with("SIP/2.0 200") {
            got_ok = true;
            break;
        }
    }
    assert!(got_ok);
    let ack = request("ACK", "z9hG4bKa2", port, "", &format!(";tag={tag}"))
        .replace("Call-ID: z9hG4bKa2@test", "Call-ID: z9hG4bKi2@test");
    sock.send_to(ack.as_bytes(), to).await.unwrap();
    assert!(matches!(
        tokio::time::timeout(LIMIT, events.recv()).await.unwrap(),
        Some(DialogEvent::Ack(_))
    ));
    // Drain what was in flight, then silence.
    while recv(&sock, Duration::from_millis(150)).await.is_some() {}
    assert_eq!(recv(&sock, Duration::from_millis(600)).await, None);
    shutdown.cancel();
}

#[tokio::test]
async fn tcp_messages_are_framed_and_oversized_ones_close_the_connection() {
    let mut config = udp_config();
    config.limits.max_stream = 2000;
    let (ep, _rx, shutdown) = start(config).await;
    let to = ep.tcp_addr().unwrap();
    let mut stream = TcpStream::connect(to).await.unwrap();
    let port = stream.local_addr().unwrap().port();
    let a = request("OPTIONS", "z9hG4bKt1", port, "", "").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let b = request("OPTIONS", "z9hG4bKt2", port, "", "").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    // Two messages in one write, split oddly: both are answered on this connection.
    let both = format!("{a}{b}");
    stream.write_all(&both.as_bytes()[..10]).await.unwrap();
    stream.write_all(&both.as_bytes()[10..]).await.unwrap();
    let mut seen = String::new();
    let mut buf = vec![0u8; 8192];
    while seen.matches("SIP/2.0 200 OK").count() < 2 {
        let n = tokio::time::timeout(LIMIT, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("z9hG4bKt1") && seen.contains("z9hG4bKt2"));
    let huge = a.replace("Content-Length: 0", "Content-Length: 100000");
    stream.write_all(huge.as_bytes()).await.unwrap();
    let n = tokio::time::timeout(LIMIT, stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "connection closed");
    shutdown.cancel();
}

#[tokio::test]
async fn options_can_go_to_the_application_and_overload_gets_503() {
    let mut config = udp_config();
    config.deliver_options = true;
    config.incoming_queue = 1;
    let (ep, mut rx, shutdown) = start(config).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    // The first request waits in the queue (nobody reads it yet), the second is refused.
    sock.send_to(request("OPTIONS", "z9hG4bKo1", port, "", "").as_bytes(), to)
        .await
        .unwrap();
    let refused = exchange(&sock, to, &request("OPTIONS", "z9hG4bKo2", port, "", ""))
        .await
        .unwrap();
    assert!(refused.starts_with("SIP/2.0 503 "), "{refused}");
    assert!(refused.contains("Retry-After: 5"), "{refused}");
    let queued = tokio::time::timeout(LIMIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.method(), rsip::Method::Options);
    let mut resp = queued.response(200);
    resp.headers
        .push(rsip::Header::Other("X-App".into(), "yes".into()));
    queued.respond(resp);
    let answered = recv(&sock, LIMIT).await.unwrap();
    assert!(
        answered.starts_with("SIP/2.0 200 OK") && answered.contains("X-App: yes"),
        "{answered}"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn unknown_dialogs_reach_the_application_when_asked() {
    let mut config = udp_config();
    config.reject_unknown_dialogs = false;
    let (ep, mut rx, shutdown) = start(config).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    sock.send_to(
        request("BYE", "z9hG4bKu1", port, "", ";tag=stale").as_bytes(),
        to,
    )
    .await
    .unwrap();
    let bye = tokio::time::timeout(LIMIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(bye.in_dialog());
    assert_eq!(bye.to_tag(), "stale");
    bye.reply(481);
    let reply = recv(&sock, LIMIT).await.unwrap();
    assert!(reply.starts_with("SIP/2.0 481 "), "{reply}");
    assert!(
        reply.contains("To: <sip:ivr@127.0.0.1>;tag=stale"),
        "{reply}"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn required_extensions_get_420_and_exhausted_max_forwards_483() {
    let (ep, _rx, shutdown) = start(udp_config()).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let req = request("INVITE", "z9hG4bKe1", port, "Require: 100rel\r\n", "");
    let reply = exchange(&sock, to, &req).await.unwrap();
    assert!(reply.starts_with("SIP/2.0 100 "), "{reply}");
    let reply = recv(&sock, LIMIT).await.unwrap();
    assert!(reply.starts_with("SIP/2.0 420 Bad Extension"), "{reply}");
    assert!(reply.contains("Unsupported: 100rel"), "{reply}");
    let looped = request("MESSAGE", "z9hG4bKe2", port, "", "")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    let reply = exchange(&sock, to, &looped).await.unwrap();
    assert!(reply.starts_with("SIP/2.0 483 Too Many Hops"), "{reply}");
    shutdown.cancel();
}
