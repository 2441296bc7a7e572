//! What the network can make the SIP layer hold, on real loopback sockets:
//! oversized datagrams and Via-laden requests are answered 513 or dropped and keep
//! no transaction; Route floods get 400; idle and trickling TCP connections are
//! closed; TCP connections beyond the global and per-source caps are refused.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use dialect_sip::transport::TcpLimits;
use dialect_sip::{EndpointConfig, SipEndpoint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(10);

async fn start(config: EndpointConfig) -> (SipEndpoint, CancellationToken) {
    let shutdown = CancellationToken::new();
    let (ep, mut rx) = SipEndpoint::bind(config, shutdown.clone()).await.unwrap();
    // The application answers whatever reaches it at once.
    tokio::spawn(async move {
        while let Some(req) = rx.recv().await {
            req.reply(200);
        }
    });
    (ep, shutdown)
}

fn config() -> EndpointConfig {
    EndpointConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        ..EndpointConfig::default()
    }
}

/// An OPTIONS with `vias` Via headers after the first and `pad` bytes of an extra header.
fn options(branch: &str, port: u16, vias: usize, pad: usize, extra: &str) -> String {
    let mut more = String::new();
    for i in 0..vias {
        more.push_str(&format!(
            "Via: SIP/2.0/UDP 198.51.100.{}:5060;branch=z9hG4bKhop{i}x{branch}\r\n",
            i % 250
        ));
    }
    let padding = if pad > 0 {
        format!("X-Pad: {}\r\n", "p".repeat(pad))
    } else {
        String::new()
    };
    format!(
        "OPTIONS sip:ivr@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n\
{more}Max-Forwards: 70\r\n\
From: <sip:caller@127.0.0.1>;tag=caller1\r\n\
To: <sip:ivr@127.0.0.1>\r\n\
Call-ID: {branch}@test\r\n\
CSeq: 1 OPTIONS\r\n\
{extra}{padding}Content-Length: 0\r\n\r\n"
    )
}

async fn recv(sock: &UdpSocket, wait: Duration) -> Option<String> {
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
        _ => None,
    }
}

#[tokio::test]
async fn via_laden_udp_options_are_dropped_and_keep_no_transaction() {
    let (ep, shutdown) = start(config()).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    // The attack: OPTIONS with 800 Vias (about 55 KB each), 200 of them.
    let sent = 200;
    for i in 0..sent {
        let msg = options(&format!("z9hG4bKflood{i}"), port, 800, 0, "");
        assert!(msg.len() > 50_000, "{}", msg.len());
        sock.send_to(msg.as_bytes(), to).await.unwrap();
        // Paced a little, so that the receive buffer drops few of them.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // None is answered (an answer would repeat every Via), none is parsed or held
    // for timer J.
    assert_eq!(recv(&sock, Duration::from_millis(500)).await, None);
    assert_eq!(ep.transaction_counts().0, 0, "no transaction kept");
    let c = ep.counters();
    assert!(c.over_limits > sent / 2, "{c:?}");
    assert_eq!(c.received, 0, "{c:?}");
    // A normal request still gets through.
    sock.send_to(options("z9hG4bKok1", port, 0, 0, "").as_bytes(), to)
        .await
        .unwrap();
    let answer = recv(&sock, LIMIT).await.unwrap();
    assert!(answer.starts_with("SIP/2.0 200 OK"), "{answer}");
    shutdown.cancel();
}

#[tokio::test]
async fn udp_requests_over_16k_get_513_and_keep_no_transaction() {
    let (ep, shutdown) = start(config()).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let msg = options("z9hG4bKbig1", port, 0, 20_000, "");
    sock.send_to(msg.as_bytes(), to).await.unwrap();
    let answer = recv(&sock, LIMIT).await.unwrap();
    assert!(
        answer.starts_with("SIP/2.0 513 Message Too Large"),
        "{answer}"
    );
    assert!(
        answer.contains("z9hG4bKbig1"),
        "the answer matches the request: {answer}"
    );
    assert!(
        answer.len() < 1_000,
        "the answer is small: {}",
        answer.len()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ep.transaction_counts().0, 0, "no transaction kept");
    shutdown.cancel();
}

#[tokio::test]
async fn route_floods_get_400_without_the_routes() {
    let (ep, shutdown) = start(config()).await;
    let to = ep.udp_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let routes: String = (0..100)
        .map(|i| format!("Route: <sip:hop{i}.example;lr>\r\n"))
        .collect();
    let msg = options("z9hG4bKroutes", port, 0, 0, &routes);
    assert!(msg.len() < 16 * 1024);
    sock.send_to(msg.as_bytes(), to).await.unwrap();
    let answer = recv(&sock, LIMIT).await.unwrap();
    assert!(answer.starts_with("SIP/2.0 400 Bad Request"), "{answer}");
    assert!(
        answer.contains("Route"),
        "the Warning names the header: {answer}"
    );
    assert!(!answer.contains("hop1"), "no Route is copied: {answer}");
    shutdown.cancel();
}

/// Opens a TCP connection from a chosen loopback address.
async fn connect_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    socket.connect(to).await
}

/// True when the server closed the connection (EOF or reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn idle_and_trickling_tcp_connections_are_closed() {
    let mut c = config();
    c.tcp_limits = TcpLimits {
        message_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        ..TcpLimits::default()
    };
    let (ep, shutdown) = start(c).await;
    let to = ep.tcp_addr().unwrap();
    // Silent connections: nothing ever arrives.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(connect_from("127.0.0.1", to).await.unwrap());
    }
    // One byte of a message every half second: never a whole message.
    let mut trickle = connect_from("127.0.0.1", to).await.unwrap();
    let trickler = tokio::spawn(async move {
        for b in b"OPTIONS sip:ivr@127.0.0.1 SIP/2.0\r\n".iter() {
            if trickle.write_all(&[*b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut buf = [0u8; 16];
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(1), trickle.read(&mut buf)).await
            {
                return true;
            }
        }
        false
    });
    for s in &mut idle {
        assert!(
            closed_within(s, Duration::from_secs(4)).await,
            "an idle connection was kept"
        );
    }
    assert!(
        tokio::time::timeout(LIMIT, trickler)
            .await
            .unwrap()
            .unwrap(),
        "a trickling connection was kept"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        ep.counters().connections_timed_out >= 21,
        "{:?}",
        ep.counters()
    );
    assert_eq!(ep.incoming_tcp_connections(), 0);
    // A connection that sends whole messages stays until it is idle.
    let mut live = connect_from("127.0.0.1", to).await.unwrap();
    let port = live.local_addr().unwrap().port();
    let msg = options("z9hG4bKtcp1", port, 0, 0, "").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    live.write_all(msg.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(LIMIT, live.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 OK"));
    // Keep-alives hold it open past the message time-out...
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        live.write_all(b"\r\n\r\n").await.unwrap();
    }
    assert_eq!(ep.incoming_tcp_connections(), 1);
    // ...and silence closes it.
    assert!(closed_within(&mut live, Duration::from_secs(5)).await);
    shutdown.cancel();
}

#[tokio::test]
async fn tcp_connections_beyond_the_caps_are_refused() {
    let mut c = config();
    c.tcp_limits = TcpLimits {
        max_connections: 24,
        max_per_source: 8,
        ..TcpLimits::default()
    };
    let (ep, shutdown) = start(c).await;
    let to = ep.tcp_addr().unwrap();
    // 60 connections from one address: 8 are kept, the rest closed at once.
    let mut flood = Vec::new();
    for _ in 0..60 {
        if let Ok(s) = connect_from("127.0.0.2", to).await {
            flood.push(s);
        }
    }
    let mut open = 0;
    for s in &mut flood {
        if !closed_within(s, Duration::from_millis(200)).await {
            open += 1;
        }
    }
    assert_eq!(open, 8, "the per-source cap");
    assert_eq!(ep.incoming_tcp_connections(), 8);
    // Two more sources fill the global cap (8 + 8 + 8); a fourth is refused.
    let mut more = Vec::new();
    for from in ["127.0.0.3", "127.0.0.4"] {
        for _ in 0..8 {
            more.push(connect_from(from, to).await.unwrap());
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ep.incoming_tcp_connections(), 24);
    let mut refused = connect_from("127.0.0.5", to).await.unwrap();
    assert!(closed_within(&mut refused, Duration::from_secs(2)).await);
    assert!(
        ep.counters().connections_refused >= 53,
        "{:?}",
        ep.counters()
    );
    // Closing some makes room again.
    drop(more);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ok = connect_from("127.0.0.1", to).await.unwrap();
    let port = ok.local_addr().unwrap().port();
    let msg = options("z9hG4bKtcp2", port, 0, 0, "").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    ok.write_all(msg.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(LIMIT, ok.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200 OK"));
    shutdown.cancel();
}
