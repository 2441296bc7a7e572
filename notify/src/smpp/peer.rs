//! A small SMSC on loopback, for tests of this crate and of the runtime: it
//! answers binds (checking the password), `submit_sm` (with message ids),
//! `enquire_link`, `unbind`, sends a `deliver_sm` delivery receipt for each
//! submit that asks for one, and can send its own `enquire_link`s and drop a
//! link in the middle of a submit. It keeps a [`PeerLog`] of what it got,
//! with concatenated messages reassembled and decoded, for tests to inspect.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pdu::{
    BindResp, Body, ESM_DELIVERY_RECEIPT, MessageState, Pdu, ShortMessage, Tlv, status, tag,
};
use super::text;
use super::wire;

/// How the peer behaves.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The account it accepts.
    pub system_id: String,
    /// Its password.
    pub password: String,
    /// The state its receipts report.
    pub receipt_state: MessageState,
    /// Send `enquire_link` to each bound client this often.
    pub enquire_link: Option<Duration>,
    /// Drop the link, unanswered, on the n-th submit it receives (counted
    /// from 1 over all links; once).
    pub drop_on_submit: Option<usize>,
    /// Answer each submit this much later (an SMSC across a network),
    /// without holding up the submits behind it.
    pub answer_delay: Option<Duration>,
}

impl PeerConfig {
    /// Accepts `system_id`/`password`, receipts say delivered, nothing else.
    pub fn new(system_id: &str, password: &str) -> PeerConfig {
        PeerConfig {
            system_id: system_id.to_string(),
            password: password.to_string(),
            receipt_state: MessageState::Delivered,
            enquire_link: None,
            drop_on_submit: None,
            answer_delay: None,
        }
    }
}

/// A message as the peer reassembled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The sender.
    pub from: String,
    /// The recipient.
    pub to: String,
    /// The decoded text, parts joined.
    pub text: String,
    /// `data_coding` of its parts.
    pub data_coding: u8,
    /// The message id given to each part, in part order.
    pub message_ids: Vec<String>,
}

/// One bind attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAttempt {
    /// The account given.
    pub system_id: String,
    /// Whether it was accepted.
    pub accepted: bool,
}

/// What the peer got.
#[derive(Debug, Clone, Default)]
pub struct PeerLog {
    /// TCP connections accepted.
    pub connections: usize,
    /// Binds, in order.
    pub binds: Vec<BindAttempt>,
    /// Every `submit_sm` received, answered or not.
    pub submits: Vec<ShortMessage>,
    /// Whole messages, once all their parts are in.
    pub messages: Vec<ReceivedMessage>,
    /// `enquire_link`s received from clients.
    pub enquire_links: usize,
    /// Answers to the peer's own `enquire_link`s.
    pub enquire_link_resps: usize,
    /// Answers to receipts.
    pub deliver_sm_resps: usize,
    /// `unbind`s received.
    pub unbinds: usize,
    /// Links the peer dropped on purpose.
    pub dropped: usize,
}

/// Parts of concatenated messages waiting for the rest, by (from, to, reference).
type Partial = HashMap<(String, String, u16), Vec<Option<(Vec<u8>, String)>>>;

struct Shared {
    config: Mutex<PeerConfig>,
    log: Mutex<PeerLog>,
    partial: Mutex<Partial>,
    next_id: Mutex<u64>,
}

/// A running peer; it stops when dropped.
pub struct SmscPeer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl Drop for SmscPeer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// How long any one PDU may take to arrive or leave.
const IO_LIMIT: Duration = Duration::from_secs(5);

impl SmscPeer {
    /// Listens on 127.0.0.1 on the first free port of `ports` (starting at
    /// one picked by process id, so parallel test processes spread out).
    pub async fn start(
        config: PeerConfig,
        ports: RangeInclusive<u16>,
    ) -> std::io::Result<SmscPeer> {
        let listener = bind_in(ports).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            log: Mutex::new(PeerLog::default()),
            partial: Mutex::new(HashMap::new()),
            next_id: Mutex::new(0),
        });
        let shutdown = CancellationToken::new();
        tokio::spawn(accept_loop(listener, shared.clone(), shutdown.clone()));
        Ok(SmscPeer {
            addr,
            shared,
            shutdown,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it got so far.
    pub fn log(&self) -> PeerLog {
        lock(&self.shared.log).clone()
    }

    /// Changes how it behaves from now on.
    pub fn reconfigure(&self, change: impl FnOnce(&mut PeerConfig)) {
        change(&mut lock(&self.shared.config));
    }

    /// Waits until `done` holds for the log, at most `within`.
    pub async fn wait_for(&self, within: Duration, done: impl Fn(&PeerLog) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if done(&lock(&self.shared.log)) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A listener on 127.0.0.1 in `ports`, starting at a port picked by process
/// id and by how many this process took before, so that parallel tests and
/// test processes spread out.
pub async fn bind_in(ports: RangeInclusive<u16>) -> std::io::Result<TcpListener> {
    static TAKEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let (first, last) = (*ports.start(), *ports.end());
    let span = u32::from(last.saturating_sub(first)) + 1;
    let taken = TAKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = std::process::id().wrapping_add(taken) % span;
    let mut last_error = None;
    for i in 0..span {
        let port = first + ((start + i) % span) as u16;
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return Ok(l),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("an empty port range")))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shutdown.cancelled() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        lock(&shared.log).connections += 1;
        let link = shutdown.child_token();
        tokio::spawn(serve_link(stream, shared.clone(), link));
    }
}

/// Writes what the link's parts queue, until the link is dropped.
async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut out: mpsc::Receiver<Pdu>,
    link: CancellationToken,
) {
    let mut buf = Vec::new();
    loop {
        let pdu = tokio::select! {
            p = out.recv() => p,
            () = link.cancelled() => None,
        };
        let Some(pdu) = pdu else { return };
        if wire::write_pdu(&mut writer, &pdu, &mut buf, IO_LIMIT)
            .await
            .is_err()
        {
            link.cancel();
            return;
        }
    }
}

async fn serve_link(stream: tokio::net::TcpStream, shared: Arc<Shared>, link: CancellationToken) {
    let (mut reader, writer) = stream.into_split();
    let (out, out_rx) = mpsc::channel::<Pdu>(256);
    let writer_task = tokio::spawn(write_loop(writer, out_rx, link.clone()));
    let mut buf = Vec::new();
    let mut bound = false;
    let mut sequence: u32 = 0x4000_0000;
    loop {
        let read = tokio::select! {
            r = wire::read_pdu(&mut reader, &mut buf, IO_LIMIT) => r,
            () = link.cancelled() => break,
        };
        let pdu = match read {
            Ok(p) => p,
            Err(wire::ReadError::Pdu(super::pdu::PduError::UnknownCommand {
                sequence, ..
            })) => {
                let _ = out
                    .send(Pdu {
                        sequence,
                        status: status::INVALID_CMD_ID,
                        body: Body::GenericNack,
                    })
                    .await;
                continue;
            }
            Err(_) => break,
        };
        let answer = |status, body| Pdu {
            sequence: pdu.sequence,
            status,
            body,
        };
        match pdu.body {
            Body::BindTransceiver(ref b) | Body::BindTransmitter(ref b) => {
                let (want_id, want_password, every) = {
                    let c = lock(&shared.config);
                    (c.system_id.clone(), c.password.clone(), c.enquire_link)
                };
                let accepted = b.system_id == want_id && b.password == want_password;
                lock(&shared.log).binds.push(BindAttempt {
                    system_id: b.system_id.clone(),
                    accepted,
                });
                let code = if b.system_id != want_id {
                    status::INVALID_SYSTEM_ID
                } else if !accepted {
                    status::INVALID_PASSWORD
                } else {
                    status::OK
                };
                let resp = BindResp {
                    system_id: if accepted {
                        "DIALECTSMSC".into()
                    } else {
                        String::new()
                    },
                    tlvs: Vec::new(),
                };
                let body = match pdu.body {
                    Body::BindTransmitter(_) => Body::BindTransmitterResp(resp),
                    _ => Body::BindTransceiverResp(resp),
                };
                let _ = out.send(answer(code, body)).await;
                if !accepted {
                    // Let the refusal leave, then close.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    break;
                }
                bound = true;
                if let Some(every) = every {
                    tokio::spawn(enquire_loop(out.clone(), every, link.clone()));
                }
            }
            Body::SubmitSm(sm) if bound => {
                let n = {
                    let mut log = lock(&shared.log);
                    log.submits.push(sm.clone());
                    log.submits.len()
                };
                let drop_now = {
                    let mut c = lock(&shared.config);
                    if c.drop_on_submit == Some(n) {
                        c.drop_on_submit = None;
                        true
                    } else {
                        false
                    }
                };
                if drop_now {
                    lock(&shared.log).dropped += 1;
                    break;
                }
                let id = {
                    let mut next = lock(&shared.next_id);
                    *next += 1;
                    format!("{:08x}", *next)
                };
                record(&shared, &sm, &id);
                let resp = answer(
                    status::OK,
                    Body::SubmitSmResp {
                        message_id: id.clone(),
                    },
                );
                let (state, delay) = {
                    let c = lock(&shared.config);
                    (c.receipt_state, c.answer_delay)
                };
                let follow = (sm.registered_delivery & 0x03 != 0).then(|| {
                    sequence = sequence.wrapping_add(1);
                    receipt(sequence, &sm, &id, state)
                });
                let out = out.clone();
                let send = async move {
                    if let Some(d) = delay {
                        tokio::time::sleep(d).await;
                    }
                    let _ = out.send(resp).await;
                    if let Some(r) = follow {
                        let _ = out.send(r).await;
                    }
                };
                if delay.is_some() {
                    tokio::spawn(send);
                } else {
                    send.await;
                }
            }
            Body::SubmitSm(_) => {
                let _ = out
                    .send(answer(status::INVALID_BIND_STATUS, Body::GenericNack))
                    .await;
            }
            Body::EnquireLink => {
                lock(&shared.log).enquire_links += 1;
                let _ = out.send(answer(status::OK, Body::EnquireLinkResp)).await;
            }
            Body::EnquireLinkResp => lock(&shared.log).enquire_link_resps += 1,
            Body::DeliverSmResp => lock(&shared.log).deliver_sm_resps += 1,
            Body::Unbind => {
                lock(&shared.log).unbinds += 1;
                let _ = out.send(answer(status::OK, Body::UnbindResp)).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                break;
            }
            _ => {
                let _ = out
                    .send(answer(status::INVALID_CMD_ID, Body::GenericNack))
                    .await;
            }
        }
    }
    link.cancel();
    let _ = writer_task.await;
}

async fn enquire_loop(out: mpsc::Sender<Pdu>, every: Duration, link: CancellationToken) {
    let mut sequence: u32 = 0x6000_0000;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = link.cancelled() => return,
        }
        sequence += 1;
        if out
            .send(Pdu::request(sequence, Body::EnquireLink))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// A receipt for message `id`, in both forms (text and TLVs).
fn receipt(sequence: u32, sm: &ShortMessage, id: &str, state: MessageState) -> Pdu {
    let err = if state == MessageState::Delivered {
        "000"
    } else {
        "001"
    };
    let text = format!(
        "id:{id} sub:001 dlvrd:{} submit date:2612071200 done date:2612071200 stat:{} err:{err} text:",
        if state == MessageState::Delivered {
            "001"
        } else {
            "000"
        },
        state.stat()
    );
    let mut receipted = id.as_bytes().to_vec();
    receipted.push(0);
    Pdu::request(
        sequence,
        Body::DeliverSm(ShortMessage {
            source_addr_ton: sm.dest_addr_ton,
            source_addr_npi: sm.dest_addr_npi,
            source_addr: sm.destination_addr.clone(),
            dest_addr_ton: sm.source_addr_ton,
            dest_addr_npi: sm.source_addr_npi,
            destination_addr: sm.source_addr.clone(),
            esm_class: ESM_DELIVERY_RECEIPT,
            short_message: text.into_bytes(),
            tlvs: vec![
                Tlv {
                    tag: tag::RECEIPTED_MESSAGE_ID,
                    value: receipted,
                },
                Tlv {
                    tag: tag::MESSAGE_STATE,
                    value: vec![state.code()],
                },
            ],
            ..ShortMessage::default()
        }),
    )
}

/// Files a submitted part: a whole message at once, a part with the others
/// of its message until all are in.
fn record(shared: &Shared, sm: &ShortMessage, id: &str) {
    let (concat, body) = text::split_udh(sm.esm_class, &sm.short_message);
    let whole = |text: String, ids: Vec<String>| ReceivedMessage {
        from: sm.source_addr.clone(),
        to: sm.destination_addr.clone(),
        text,
        data_coding: sm.data_coding,
        message_ids: ids,
    };
    let Some(c) = concat.filter(|c| c.total > 1 && c.part >= 1 && c.part <= c.total) else {
        let m = whole(text::decode(sm.data_coding, body), vec![id.to_string()]);
        lock(&shared.log).messages.push(m);
        return;
    };
    let key = (
        sm.source_addr.clone(),
        sm.destination_addr.clone(),
        c.reference,
    );
    let mut partial = lock(&shared.partial);
    let parts = partial
        .entry(key.clone())
        .or_insert_with(|| vec![None; usize::from(c.total)]);
    if parts.len() != usize::from(c.total) {
        *parts = vec![None; usize::from(c.total)];
    }
    parts[usize::from(c.part) - 1] = Some((body.to_vec(), id.to_string()));
    if parts.iter().all(Option::is_some) {
        let parts = partial.remove(&key).unwrap_or_default();
        let mut text_out = String::new();
        let mut ids = Vec::new();
        for (bytes, id) in parts.into_iter().flatten() {
            text_out.push_str(&text::decode(sm.data_coding, &bytes));
            ids.push(id);
        }
        lock(&shared.log).messages.push(whole(text_out, ids));
    }
}
