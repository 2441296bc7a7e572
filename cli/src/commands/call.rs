//! `dialect call NUMBER`: walk a flow without a phone. It places a real SIP call
//! (the project's own SIP endpoint and RTP session) to a running server, shows
//! what the caller would hear as it happens (the server's live call events,
//! `GET /api/v1/calls/events`), sends the keys typed as RFC 4733 events, and
//! prints the call's IVR trail from its contact record at the end.
//!
//! Keys are read a line at a time from standard input, so a script can pipe
//! them in (`printf '1\n#\n' | dialect call 10000`); `q` hangs up, and so does
//! Ctrl-C. The end of the input does not end the call: the flow does.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use dialect_media::dtmf::DtmfKey;
use dialect_media::g711::Law;
use dialect_media::{
    MediaEvent, PlayOptions, PortAllocator, Prompt, RemoteMedia, RtpSession, SessionConfig,
};
use dialect_sip::endpoint::{CallProgress, DialogEvent, OutgoingInvite};
use dialect_sip::sdp::{self, LocalMedia, SessionDescription};
use dialect_sip::transport::{Target, TransportKind};
use dialect_sip::{EndpointConfig, SipEndpoint};
use futures::StreamExt as _;
use rsip::Method;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_util::sync::CancellationToken;

/// How long a key is held (RFC 4733 event duration).
const KEY_LENGTH: Duration = Duration::from_millis(120);
/// How long to wait for the server to answer.
const RING_LIMIT: Duration = Duration::from_secs(30);
/// The longest line of keys read at once.
const MAX_LINE: usize = 256;

/// What `dialect call` was asked to do.
pub(crate) struct CallArgs {
    /// The number dialled.
    pub number: String,
    /// The server's SIP address.
    pub server: String,
    /// The server's HTTP API.
    pub api: String,
    /// An API token that may read contacts; `None` for the admin token in
    /// the local data folder.
    pub token: Option<String>,
    /// The calling number presented.
    pub from: String,
    /// The RTP ports this side may use.
    pub rtp_ports: (u16, u16),
}

/// Places the call and follows it to its end. Exit code 0 when the call was
/// answered and ended, 1 when the server refused it.
pub(crate) fn run(args: CallArgs) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(call(args))
}

async fn call(mut args: CallArgs) -> Result<ExitCode> {
    if args.token.is_none() {
        args.token = Some(super::run::local_admin_token()?);
    }
    let token = args.token.clone().unwrap_or_default();
    let server = tokio::net::lookup_host(&args.server)
        .await
        .with_context(|| format!("cannot resolve {}", args.server))?
        .next()
        .ok_or_else(|| anyhow!("{} has no address", args.server))?;
    let local_ip = local_ip_towards(server)?;
    let shutdown = CancellationToken::new();
    let (endpoint, _incoming) = SipEndpoint::bind(
        EndpointConfig {
            udp: Some(SocketAddr::new(local_ip, 0)),
            tcp: None,
            user_agent: "dialect call".into(),
            ..EndpointConfig::default()
        },
        shutdown.clone(),
    )
    .await
    .context("cannot open a SIP port")?;
    let ports = PortAllocator::new(local_ip, args.rtp_ports.0..=args.rtp_ports.1);
    let mut config = SessionConfig::new(RemoteMedia {
        addr: None,
        codec: Law::Ulaw,
        event_pt: Some(101),
        srtp: None,
    });
    // Our INVITE goes to the server and its answer comes back on our own
    // transaction, so its address is confirmed: keys and audio may go to it
    // before its first RTP packet arrives (a key typed at once is not lost).
    config.signalled_ip = Some(server.ip());
    config.confirmed_ip = Some(server.ip());
    let mut session = RtpSession::start(&ports, config).context("cannot open an RTP port")?;
    let media = session.handle().clone();
    let local = LocalMedia::g711(local_ip, session.local_addr().port());
    let call_id = format!(
        "{}-{}@dialect-call",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );

    // Listen before dialling, so that the first prompt is not missed.
    let mut live = match live_events(&args.api, &token, &call_id).await {
        Ok(ws) => Some(ws),
        Err(e) => {
            println!(
                "(no live progress from {}: {e:#}; the trail follows at the end)",
                args.api
            );
            None
        }
    };

    println!("calling {} at {server} as {}", args.number, args.from);
    let mut outgoing = endpoint
        .invite(OutgoingInvite {
            request_uri: format!("sip:{}@{server}", args.number),
            from: format!("<sip:{}@{local_ip}>", args.from),
            to: format!("<sip:{}@{server}>", args.number),
            target: Target {
                transport: TransportKind::Udp,
                addr: server,
            },
            sdp: Some(sdp::offer(&local).to_bytes()),
            credentials: None,
            headers: Vec::new(),
            call_id: Some(call_id.clone()),
            contact_user: Some(args.from.clone()),
        })
        .context("cannot send the INVITE")?;
    let ring_until = tokio::time::Instant::now() + RING_LIMIT;
    let answered = loop {
        tokio::select! {
            // Cancel-safe: OutgoingCall::next.
            p = outgoing.next() => match p {
                CallProgress::Provisional(r) => {
                    if r.status_code.code() == 180 {
                        println!("ringing");
                    }
                }
                CallProgress::Answered(a) => break a,
                CallProgress::Rejected(r) => {
                    println!("the server refused the call: {}", r.status_code.code());
                    shutdown.cancel();
                    return Ok(ExitCode::from(1));
                }
                CallProgress::Cancelled | CallProgress::Timeout => {
                    shutdown.cancel();
                    bail!("no answer from {server}");
                }
            },
            _ = tokio::time::sleep_until(ring_until) => outgoing.cancel(),
        }
    };
    let mut dialog = answered.dialog;
    let mut dialog_events = answered.events;
    let answer = SessionDescription::parse(&answered.response.body)
        .map_err(|e| anyhow!("the server's SDP answer cannot be read: {e}"))?;
    let negotiated = sdp::read_answer(&answer, &local)
        .map_err(|e| anyhow!("the server's SDP answer cannot be used: {e}"))?;
    media.update_remote(dialect_runtime::call::remote_of(&negotiated));
    // A phone sends audio the whole call, and the server hangs up on a caller
    // it hears nothing from: send silence, a second at a time, again and again.
    let silence = Arc::new(Prompt::from_pcm(&[0; 8000], 8000));
    media.play(silence.clone(), PlayOptions::default());
    println!("answered; type keys and Enter to press them, q to hang up");

    let mut keys = read_keys();
    let mut keys_open = true;
    let mut media_open = true;
    let mut contact: Option<u64> = None;
    let mut we_hung_up = false;
    let mut ended = false;
    loop {
        tokio::select! {
            // Cancel-safe: the WebSocket stream's next.
            m = next_ws(&mut live) => match m {
                Some(Ok(WsMessage::Text(t))) => {
                    if let Some(ev) = show_event(t.as_str()) {
                        contact = contact.or(ev.contact);
                        if ev.ended {
                            ended = true;
                            break;
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => live = None,
            },
            // Cancel-safe: mpsc::Receiver::recv.
            line = keys.recv(), if keys_open => match line {
                Some(line) if line.trim() == "q" => {
                    println!("hanging up");
                    let _ = tokio::time::timeout(Duration::from_secs(5), endpoint.bye(&mut dialog)).await;
                    we_hung_up = true;
                    break;
                }
                Some(line) => {
                    let pressed: String = line.chars().filter(|c| DtmfKey::from_char(*c).is_some()).collect();
                    for k in pressed.chars().filter_map(DtmfKey::from_char) {
                        media.send_dtmf(k, KEY_LENGTH);
                    }
                    if !pressed.is_empty() {
                        println!("pressed {pressed}");
                    }
                }
                // The input ended: the flow goes on until it ends the call.
                None => keys_open = false,
            },
            // Cancel-safe: DialogEvents::recv.
            ev = dialog_events.recv() => match ev {
                Some(DialogEvent::Request(r)) => {
                    let _ = dialog.on_request(&r.request);
                    match r.method() {
                        Method::Bye => {
                            r.reply(200);
                            break;
                        }
                        Method::Invite => {
                            let answer = SessionDescription::parse(&r.request.body)
                                .ok()
                                .and_then(|o| sdp::answer(&o, &local).ok());
                            match answer {
                                Some((a, n)) => {
                                    media.update_remote(dialect_runtime::call::remote_of(&n));
                                    endpoint.answer_reinvite(&dialog, r, a.to_bytes());
                                }
                                None => r.reply(488),
                            }
                        }
                        _ => r.reply(200),
                    }
                }
                Some(_) => {}
                None => break,
            },
            // Cancel-safe: RtpSession::next_event; media events are not shown.
            ev = session.next_event(), if media_open => match ev {
                None => media_open = false,
                Some(MediaEvent::RemoteSilent { .. }) => println!("no audio from the server"),
                Some(MediaEvent::PlaybackFinished { .. }) => {
                    media.play(silence.clone(), PlayOptions::default());
                }
                Some(_) => {}
            },
            _ = tokio::signal::ctrl_c() => {
                println!("hanging up");
                let _ = tokio::time::timeout(Duration::from_secs(5), endpoint.bye(&mut dialog)).await;
                we_hung_up = true;
                break;
            }
        }
    }
    media.close();
    // The server saves the contact record, then says the call ended.
    if !ended && live.is_some() {
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(Some(Ok(WsMessage::Text(t)))) =
            tokio::time::timeout_at(until, next_ws(&mut live)).await
        {
            if let Some(ev) = show_event(t.as_str()) {
                contact = contact.or(ev.contact);
                if ev.ended {
                    break;
                }
            }
        }
    }
    let record = contact_record(&args, contact, &call_id).await;
    match record {
        Ok(c) => print_trail(&c),
        Err(e) => println!("(the contact record cannot be read: {e:#})"),
    }
    if we_hung_up {
        println!("you hung up");
    }
    shutdown.cancel();
    Ok(ExitCode::SUCCESS)
}

/// The local address the system would use to reach `server`.
fn local_ip_towards(server: SocketAddr) -> Result<IpAddr> {
    if server.ip().is_loopback() {
        return Ok(server.ip());
    }
    let any: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let probe = std::net::UdpSocket::bind(any)?;
    probe.connect(server)?;
    Ok(probe.local_addr()?.ip())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Subscribes to the call's live events; returns once the server confirmed.
async fn live_events(api: &str, token: &str, call_id: &str) -> Result<Ws> {
    let base = api
        .trim_end_matches('/')
        .replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1);
    let url = format!("{base}/api/v1/calls/events?call_id={}", encode(call_id));
    // The token goes in a header: the server takes none in URLs.
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}")
            .parse()
            .map_err(|_| anyhow!("the token cannot be sent in a header"))?,
    );
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .map_err(|_| anyhow!("the API did not answer"))??;
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        Ok(Some(Ok(WsMessage::Text(t)))) if t.as_str().contains("\"subscribed\"") => Ok(ws),
        _ => {
            let _ = ws.close(None).await;
            bail!("the server did not confirm the subscription")
        }
    }
}

async fn next_ws(
    ws: &mut Option<Ws>,
) -> Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>> {
    match ws {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What a shown event said that matters to the call loop.
struct Shown {
    contact: Option<u64>,
    ended: bool,
}

/// Prints a live event: what the caller hears, the trail as it is written, the end.
fn show_event(text: &str) -> Option<Shown> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let node = v["node"].as_str().unwrap_or("");
    let detail = v["detail"].as_str().unwrap_or("");
    let mut out = std::io::stdout().lock();
    match v["kind"].as_str() {
        Some("prompt") => {
            let _ = writeln!(out, "  ♪ {node}: {detail}");
        }
        Some("step") => {
            let _ = writeln!(out, "  · {node}: {detail}");
        }
        Some("ended") => {
            let _ = writeln!(out, "call ended: {detail}");
        }
        _ => {
            if v["event"] == "lagged" {
                let _ = writeln!(out, "  (some events were missed)");
            }
            return None;
        }
    }
    let _ = out.flush();
    Some(Shown {
        contact: v["contact"].as_u64(),
        ended: v["kind"] == "ended",
    })
}

/// Lines typed on standard input, each at most [`MAX_LINE`] characters.
fn read_keys() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        use std::io::{BufRead as _, Read as _};
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = match (&mut lock)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut buf)
            {
                Ok(n) => n,
                Err(_) => return,
            };
            if n == 0 {
                return;
            }
            let line = String::from_utf8_lossy(&buf).into_owned();
            if tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The call's contact record: by id when the live events named it, else found
/// among the caller's latest contacts by Call-ID (the record is saved when the
/// call ends, so it is waited for a little).
async fn contact_record(
    args: &CallArgs,
    id: Option<u64>,
    call_id: &str,
) -> Result<serde_json::Value> {
    let http = reqwest::Client::new();
    let api = args.api.trim_end_matches('/');
    for _ in 0..50 {
        let found = match id {
            Some(id) => {
                let r = http
                    .get(format!("{api}/api/v1/contacts/{id}"))
                    .bearer_auth(args.token.as_deref().unwrap_or_default())
                    .send()
                    .await?;
                if r.status().is_success() {
                    Some(r.json::<serde_json::Value>().await?)
                } else {
                    None
                }
            }
            None => {
                let list: serde_json::Value = http
                    .get(format!("{api}/api/v1/contacts"))
                    .query(&[("caller", args.from.as_str()), ("limit", "20")])
                    .bearer_auth(args.token.as_deref().unwrap_or_default())
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                list.as_array()
                    .and_then(|a| a.iter().find(|c| c["call_id"] == call_id))
                    .cloned()
            }
        };
        if let Some(c) = found
            && c["ended_ms"].is_i64()
        {
            return Ok(c);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no contact record for this call")
}

/// The IVR trail, with each step's time from the start of the call.
fn print_trail(c: &serde_json::Value) {
    let start = c["started_ms"].as_i64().unwrap_or(0);
    println!(
        "\nIVR trail of contact {} (flow {}):",
        c["id"],
        c["flow"].as_str().unwrap_or("")
    );
    for t in c["trail"].as_array().into_iter().flatten() {
        let at = t["at_ms"].as_i64().unwrap_or(start) - start;
        println!(
            "  {:>3}.{:02}s  {}: {}",
            at / 1000,
            (at % 1000) / 10,
            t["node"].as_str().unwrap_or(""),
            t["detail"].as_str().unwrap_or("")
        );
    }
    println!("end: {}", c["end"].as_str().unwrap_or(""));
    if let Some(d) = c["digits"].as_str().filter(|d| !d.is_empty()) {
        println!("keys: {d}");
    }
}
