//! The ESME side of SMPP: one link to an SMSC, kept bound, that submits
//! messages and hears their delivery receipts.
//!
//! [`SmppClient::start`] spawns the link's task: it connects, binds as a
//! transceiver, and then serves [`SmppClient::submit`] calls with increasing
//! sequence numbers, at most `window` submits waiting for their response at
//! once (a semaphore the callers hold until their answer comes). It sends
//! `enquire_link` when the link has been quiet for `enquire_link`, answers the
//! SMSC's, and turns each `deliver_sm` receipt into a [`DeliveryReport`] on the
//! channel `start` returns. When the link is lost (closed, silent, a PDU that
//! breaks the framing) the submits waiting fail with [`SmppError::LinkLost`] —
//! the SMSC may or may not have taken them, so the caller retries and accepts
//! the rare duplicate — and the task reconnects after a back-off that doubles
//! up to `reconnect_max`. [`SmppClient::close`] unbinds.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pdu::{Bind, Body, MessageState, Pdu, PduError, ShortMessage, status};
use super::text::{self, TextError};
use super::wire::{self, ReadError};

/// How to reach and bind to an SMSC, and the limits of the link.
#[derive(Debug, Clone)]
pub struct SmppConfig {
    /// The SMSC's host name or address.
    pub host: String,
    /// Its port (2775 by convention).
    pub port: u16,
    /// Our account at the SMSC (at most 15 bytes).
    pub system_id: String,
    /// Its password (at most 8 bytes).
    pub password: String,
    /// The ESME type some SMSCs ask for (at most 12 bytes; often empty).
    pub system_type: String,
    /// The sender shown on handsets: a number or, with TON 5, a name.
    pub source_addr: String,
    /// Type of number of `source_addr`: 5 (alphanumeric) for a name, 1 for an
    /// international number.
    pub source_addr_ton: u8,
    /// Numbering plan of `source_addr`.
    pub source_addr_npi: u8,
    /// Type of number of recipients (1: international).
    pub dest_addr_ton: u8,
    /// Numbering plan of recipients (1: E.164).
    pub dest_addr_npi: u8,
    /// Send `enquire_link` after this long without hearing from the SMSC.
    pub enquire_link: Duration,
    /// How long a response (to bind, submit, enquire_link, unbind) may take,
    /// and a PDU once begun may take to arrive whole.
    pub response_timeout: Duration,
    /// Most submits waiting for their response at once.
    pub window: usize,
    /// First wait before reconnecting after a lost link or a refused bind.
    pub reconnect_min: Duration,
    /// Longest wait between reconnects.
    pub reconnect_max: Duration,
    /// Ask the SMSC for delivery receipts.
    pub registered_delivery: bool,
}

impl SmppConfig {
    /// A configuration with the usual defaults for everything but the
    /// address and the account.
    pub fn new(host: &str, port: u16, system_id: &str, password: &str) -> SmppConfig {
        SmppConfig {
            host: host.to_string(),
            port,
            system_id: system_id.to_string(),
            password: password.to_string(),
            system_type: String::new(),
            source_addr: String::new(),
            source_addr_ton: 5,
            source_addr_npi: 0,
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            enquire_link: Duration::from_secs(30),
            response_timeout: Duration::from_secs(10),
            window: 10,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            registered_delivery: true,
        }
    }
}

/// Why a submit or a bind did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmppError {
    /// No TCP connection could be made.
    #[error("cannot reach the SMSC at {addr}: {reason}")]
    Connect {
        /// Where.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The SMSC answered the bind with an error status.
    #[error("the SMSC refused the bind: {}", status_text(*status))]
    BindRefused {
        /// Its `command_status`.
        status: u32,
    },
    /// The SMSC answered a submit with an error status.
    #[error("the SMSC refused the message: {}", status_text(*status))]
    Rejected {
        /// Its `command_status`.
        status: u32,
    },
    /// No response in time.
    #[error("no answer from the SMSC within {0:?}")]
    Timeout(Duration),
    /// The link went down while the submit waited; the SMSC may have taken it.
    #[error("the link to the SMSC was lost: {0}")]
    LinkLost(String),
    /// Not bound now (the link is down, being re-established).
    #[error("not bound to the SMSC: {0}")]
    NotBound(String),
    /// The client was closed.
    #[error("the SMPP client is closed")]
    Closed,
    /// The text cannot be sent as SMS.
    #[error("{0}")]
    Text(#[from] TextError),
    /// A field does not fit in its PDU (an address too long).
    #[error("{0}")]
    Pdu(#[from] PduError),
}

impl SmppError {
    /// Whether trying again cannot help: the message or its address is wrong.
    pub fn is_permanent(&self) -> bool {
        match self {
            SmppError::Rejected { status } => matches!(
                *status,
                status::INVALID_DEST_ADDR | status::INVALID_SOURCE_ADDR | status::INVALID_MSG_LEN
            ),
            SmppError::Text(_) | SmppError::Pdu(_) => true,
            _ => false,
        }
    }
}

/// Words for the statuses an operator meets most.
pub fn status_text(code: u32) -> String {
    let words = match code {
        status::INVALID_PASSWORD => "invalid password",
        status::INVALID_SYSTEM_ID => "invalid system_id",
        status::BIND_FAILED => "bind failed",
        status::ALREADY_BOUND => "already bound",
        status::INVALID_DEST_ADDR => "invalid destination address",
        status::INVALID_SOURCE_ADDR => "invalid source address",
        status::INVALID_MSG_LEN => "invalid message length",
        status::MSG_QUEUE_FULL => "message queue full",
        status::THROTTLED => "throttled",
        status::SYSTEM_ERROR => "system error",
        _ => "",
    };
    if words.is_empty() {
        format!("status {code:#010x}")
    } else {
        format!("{words} (status {code:#010x})")
    }
}

/// What a delivery receipt said about a submitted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The id `submit` returned for the part.
    pub message_id: String,
    /// Its state.
    pub state: MessageState,
    /// The network's error code, when given.
    pub error: Option<String>,
}

/// The link as the client last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Connecting and binding.
    Connecting,
    /// Bound: submits go out.
    Bound,
    /// Down, waiting to reconnect, after this error.
    Down(SmppError),
    /// Closed for good.
    Closed,
}

/// A submit on its way to the link's task.
struct Submit {
    message: ShortMessage,
    reply: oneshot::Sender<Result<String, SmppError>>,
}

/// A handle on one SMPP link; clones share it.
#[derive(Clone)]
pub struct SmppClient {
    commands: mpsc::Sender<Submit>,
    window: Arc<Semaphore>,
    link: watch::Receiver<LinkState>,
    reference: Arc<AtomicU8>,
    config: Arc<SmppConfig>,
    shutdown: CancellationToken,
    task: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for SmppClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmppClient")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("link", &*self.link.borrow())
            .finish()
    }
}

/// Receipts waiting for their reader; beyond this the SMSC is told to try
/// again later.
const REPORT_QUEUE: usize = 1024;

impl SmppClient {
    /// Starts the link's task (it connects at once) and returns the client
    /// and the receipts' channel. Needs a tokio runtime.
    pub fn start(config: SmppConfig) -> (SmppClient, mpsc::Receiver<DeliveryReport>) {
        let config = Arc::new(config);
        let (commands_tx, commands_rx) = mpsc::channel(config.window.max(1) * 2);
        let (reports_tx, reports_rx) = mpsc::channel(REPORT_QUEUE);
        let (link_tx, link_rx) = watch::channel(LinkState::Connecting);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            config.clone(),
            commands_rx,
            reports_tx,
            link_tx,
            shutdown.clone(),
        ));
        let client = SmppClient {
            commands: commands_tx,
            window: Arc::new(Semaphore::new(config.window.max(1))),
            link: link_rx,
            reference: Arc::new(AtomicU8::new(rand::random())),
            config,
            shutdown,
            task: Arc::new(tokio::sync::Mutex::new(Some(task))),
        };
        (client, reports_rx)
    }

    /// The link's state now.
    pub fn link_state(&self) -> LinkState {
        self.link.borrow().clone()
    }

    /// Waits until the link is bound; after `within`, the error that kept it
    /// down (a refused bind, a refused connection) or a timeout.
    pub async fn wait_bound(&self, within: Duration) -> Result<(), SmppError> {
        let mut link = self.link.clone();
        let waited = tokio::time::timeout(within, link.wait_for(|s| *s == LinkState::Bound)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(SmppError::Closed),
            Err(_) => match self.link_state() {
                LinkState::Down(e) => Err(e),
                LinkState::Closed => Err(SmppError::Closed),
                _ => Err(SmppError::Timeout(within)),
            },
        }
    }

    /// Sends `text` to `to`, split and encoded as [`text::encode`] does, and
    /// returns the SMSC's message id of each part once all are accepted. An
    /// error after some parts were accepted leaves those sent.
    pub async fn submit(&self, to: &str, message: &str) -> Result<Vec<String>, SmppError> {
        let reference = self.reference.fetch_add(1, Ordering::Relaxed);
        let encoded = text::encode(message, reference)?;
        let mut ids = Vec::with_capacity(encoded.parts.len());
        for part in encoded.parts {
            let sm = ShortMessage {
                source_addr_ton: self.config.source_addr_ton,
                source_addr_npi: self.config.source_addr_npi,
                source_addr: self.config.source_addr.clone(),
                dest_addr_ton: self.config.dest_addr_ton,
                dest_addr_npi: self.config.dest_addr_npi,
                destination_addr: to.to_string(),
                esm_class: encoded.esm_class,
                registered_delivery: u8::from(self.config.registered_delivery),
                data_coding: encoded.data_coding,
                short_message: part,
                ..ShortMessage::default()
            };
            // Checked here so that a bad address is the caller's error, not
            // the link's.
            Pdu::request(1, Body::SubmitSm(sm.clone())).encode()?;
            ids.push(self.submit_one(sm).await?);
        }
        Ok(ids)
    }

    /// One `submit_sm`, holding a place in the window until its answer.
    async fn submit_one(&self, message: ShortMessage) -> Result<String, SmppError> {
        let _place = self
            .window
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SmppError::Closed)?;
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Submit { message, reply })
            .await
            .map_err(|_| SmppError::Closed)?;
        // The link's task answers within response_timeout once it takes the
        // submit; the wait before that is bounded the same.
        let limit = self.config.response_timeout * 2;
        match tokio::time::timeout(limit, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(SmppError::Closed),
            Err(_) => Err(SmppError::Timeout(limit)),
        }
    }

    /// Unbinds and stops the link's task (submits waiting fail with
    /// [`SmppError::Closed`]).
    pub async fn close(&self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

/// Why a bound session ended.
enum Ended {
    /// Closed on purpose (unbound).
    Closed,
    /// Lost; reconnect.
    Lost(String),
}

/// The link's task: connect, bind, serve, and reconnect with back-off.
async fn run(
    config: Arc<SmppConfig>,
    mut commands: mpsc::Receiver<Submit>,
    reports: mpsc::Sender<DeliveryReport>,
    link: watch::Sender<LinkState>,
    shutdown: CancellationToken,
) {
    let mut backoff = config.reconnect_min;
    loop {
        link.send_replace(LinkState::Connecting);
        let bound = tokio::select! {
            r = connect_and_bind(&config) => r,
            () = shutdown.cancelled() => break,
        };
        let down = match bound {
            Ok((reader, writer)) => {
                tracing::info!(host = %config.host, port = config.port, "bound to the SMSC");
                link.send_replace(LinkState::Bound);
                backoff = config.reconnect_min;
                let mut session = Session::new(&config, writer, &reports);
                match session.serve(reader, &mut commands, &shutdown).await {
                    Ended::Closed => break,
                    Ended::Lost(reason) => {
                        tracing::warn!(host = %config.host, "the SMSC link was lost: {reason}");
                        SmppError::LinkLost(reason)
                    }
                }
            }
            Err(e) => {
                tracing::warn!(host = %config.host, port = config.port, "SMPP bind failed: {e}");
                e
            }
        };
        link.send_replace(LinkState::Down(down.clone()));
        // Submits that come while the link is down fail at once: the caller
        // keeps the message and tries again later.
        let wake = tokio::time::sleep(backoff);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                () = &mut wake => break,
                () = shutdown.cancelled() => {
                    link.send_replace(LinkState::Closed);
                    return;
                }
                submit = commands.recv() => match submit {
                    Some(s) => {
                        let _ = s.reply.send(Err(SmppError::NotBound(down.to_string())));
                    }
                    None => {
                        link.send_replace(LinkState::Closed);
                        return;
                    }
                },
            }
        }
        backoff = (backoff * 2).min(config.reconnect_max);
    }
    link.send_replace(LinkState::Closed);
}

/// Connects and binds as a transceiver, each step within `response_timeout`.
async fn connect_and_bind(
    config: &SmppConfig,
) -> Result<(OwnedReadHalf, OwnedWriteHalf), SmppError> {
    let addr = format!("{}:{}", config.host, config.port);
    let connect_error = |reason: String| SmppError::Connect {
        addr: addr.clone(),
        reason,
    };
    let stream = tokio::time::timeout(config.response_timeout, TcpStream::connect(&addr))
        .await
        .map_err(|_| {
            connect_error(format!(
                "no connection within {:?}",
                config.response_timeout
            ))
        })?
        .map_err(|e| connect_error(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let bind = Pdu::request(
        1,
        Body::BindTransceiver(Bind {
            system_id: config.system_id.clone(),
            password: config.password.clone(),
            system_type: config.system_type.clone(),
            interface_version: 0x34,
            ..Bind::default()
        }),
    );
    let mut buf = Vec::with_capacity(256);
    wire::write_pdu(&mut writer, &bind, &mut buf, config.response_timeout)
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    let answer = tokio::time::timeout(
        config.response_timeout,
        wire::read_pdu(&mut reader, &mut buf, config.response_timeout),
    )
    .await
    .map_err(|_| SmppError::Timeout(config.response_timeout))?
    .map_err(|e| connect_error(format!("during the bind: {e}")))?;
    match answer.body {
        Body::BindTransceiverResp(_) if answer.status == status::OK => Ok((reader, writer)),
        Body::BindTransceiverResp(_) | Body::GenericNack => Err(SmppError::BindRefused {
            status: answer.status,
        }),
        other => Err(connect_error(format!(
            "the SMSC answered the bind with {}",
            other.name()
        ))),
    }
}

/// What the reader task passes on.
enum Incoming {
    /// A PDU.
    Pdu(Pdu),
    /// A whole frame that is not a PDU we know; the link goes on.
    Refused {
        /// Its sequence number, for the `generic_nack`.
        sequence: u32,
        /// Unknown command (else malformed).
        unknown: bool,
        /// Why.
        error: PduError,
    },
    /// The link ended.
    End(ReadError),
}

/// Reads PDUs off the link until it ends or the framing is lost.
async fn read_loop(mut reader: OwnedReadHalf, tx: mpsc::Sender<Incoming>, body_within: Duration) {
    let mut buf = Vec::with_capacity(512);
    loop {
        let item = match wire::read_pdu(&mut reader, &mut buf, body_within).await {
            Ok(pdu) => Incoming::Pdu(pdu),
            Err(ReadError::Pdu(error)) if !matches!(error, PduError::BadLength(_)) => {
                let sequence = buf
                    .get(12..16)
                    .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
                let unknown = matches!(error, PduError::UnknownCommand { .. });
                Incoming::Refused {
                    sequence,
                    unknown,
                    error,
                }
            }
            Err(e) => {
                let _ = tx.send(Incoming::End(e)).await;
                return;
            }
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

/// A submit sent, waiting for its response.
struct Pending {
    reply: oneshot::Sender<Result<String, SmppError>>,
    deadline: Instant,
}

/// One bound link.
struct Session<'a> {
    config: &'a SmppConfig,
    writer: OwnedWriteHalf,
    reports: &'a mpsc::Sender<DeliveryReport>,
    buf: Vec<u8>,
    next_sequence: u32,
    pending: HashMap<u32, Pending>,
    last_heard: Instant,
    enquiry: Option<Instant>,
}

impl<'a> Session<'a> {
    fn new(
        config: &'a SmppConfig,
        writer: OwnedWriteHalf,
        reports: &'a mpsc::Sender<DeliveryReport>,
    ) -> Session<'a> {
        Session {
            config,
            writer,
            reports,
            buf: Vec::with_capacity(512),
            next_sequence: 2,
            pending: HashMap::new(),
            last_heard: Instant::now(),
            enquiry: None,
        }
    }

    fn sequence(&mut self) -> u32 {
        let s = self.next_sequence;
        self.next_sequence = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    async fn send(&mut self, pdu: &Pdu) -> Result<(), String> {
        wire::write_pdu(
            &mut self.writer,
            pdu,
            &mut self.buf,
            self.config.response_timeout,
        )
        .await
        .map_err(|e| format!("cannot write {}: {e}", pdu.body.name()))
    }

    async fn answer(&mut self, sequence: u32, status: u32, body: Body) -> Result<(), String> {
        self.send(&Pdu {
            sequence,
            status,
            body,
        })
        .await
    }

    /// Serves the bound link until it is lost or closed; every submit still
    /// waiting when it ends fails.
    async fn serve(
        &mut self,
        reader: OwnedReadHalf,
        commands: &mut mpsc::Receiver<Submit>,
        shutdown: &CancellationToken,
    ) -> Ended {
        let (tx, mut incoming) = mpsc::channel(64);
        let reader_task = tokio::spawn(read_loop(reader, tx, self.config.response_timeout));
        let ended = self.serve_bound(&mut incoming, commands, shutdown).await;
        reader_task.abort();
        let failure = match &ended {
            Ended::Closed => SmppError::Closed,
            Ended::Lost(reason) => SmppError::LinkLost(reason.clone()),
        };
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(failure.clone()));
        }
        ended
    }

    async fn serve_bound(
        &mut self,
        incoming: &mut mpsc::Receiver<Incoming>,
        commands: &mut mpsc::Receiver<Submit>,
        shutdown: &CancellationToken,
    ) -> Ended {
        let tick = Duration::from_millis(250).min(self.config.enquire_link);
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // All three branches are cancel-safe: mpsc receives and a tick.
            let step = tokio::select! {
                item = incoming.recv() => match item {
                    Some(item) => self.on_incoming(item).await,
                    None => Err("the reader stopped".to_string()),
                },
                submit = commands.recv() => match submit {
                    Some(s) => self.on_submit(s).await,
                    None => return self.unbind(incoming).await,
                },
                () = shutdown.cancelled() => return self.unbind(incoming).await,
                _ = ticker.tick() => self.on_tick().await,
            };
            if let Err(reason) = step {
                return Ended::Lost(reason);
            }
        }
    }

    async fn on_submit(&mut self, submit: Submit) -> Result<(), String> {
        if submit.reply.is_closed() {
            return Ok(());
        }
        let sequence = self.sequence();
        let pdu = Pdu::request(sequence, Body::SubmitSm(submit.message));
        if let Err(e) = self.send(&pdu).await {
            let _ = submit.reply.send(Err(SmppError::LinkLost(e.clone())));
            return Err(e);
        }
        self.pending.insert(
            sequence,
            Pending {
                reply: submit.reply,
                deadline: Instant::now() + self.config.response_timeout,
            },
        );
        Ok(())
    }

    async fn on_tick(&mut self) -> Result<(), String> {
        let now = Instant::now();
        let expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(s, _)| *s)
            .collect();
        for s in expired {
            if let Some(p) = self.pending.remove(&s) {
                let _ = p
                    .reply
                    .send(Err(SmppError::Timeout(self.config.response_timeout)));
            }
        }
        match self.enquiry {
            Some(sent) if now.duration_since(sent) >= self.config.response_timeout => Err(format!(
                "no enquire_link_resp within {:?}",
                self.config.response_timeout
            )),
            None if now.duration_since(self.last_heard) >= self.config.enquire_link => {
                let sequence = self.sequence();
                self.enquiry = Some(now);
                self.send(&Pdu::request(sequence, Body::EnquireLink)).await
            }
            _ => Ok(()),
        }
    }

    async fn on_incoming(&mut self, item: Incoming) -> Result<(), String> {
        self.last_heard = Instant::now();
        let pdu = match item {
            Incoming::Pdu(pdu) => pdu,
            Incoming::Refused {
                sequence,
                unknown,
                error,
            } => {
                tracing::warn!("the SMSC sent a PDU we cannot take: {error}");
                let code = if unknown {
                    status::INVALID_CMD_ID
                } else {
                    status::INVALID_CMD_LEN
                };
                return self.answer(sequence, code, Body::GenericNack).await;
            }
            Incoming::End(e) => return Err(e.to_string()),
        };
        match pdu.body {
            Body::SubmitSmResp { message_id } => {
                if let Some(p) = self.pending.remove(&pdu.sequence) {
                    let result = if pdu.status == status::OK {
                        Ok(message_id)
                    } else {
                        Err(SmppError::Rejected { status: pdu.status })
                    };
                    let _ = p.reply.send(result);
                }
                Ok(())
            }
            Body::GenericNack => {
                if let Some(p) = self.pending.remove(&pdu.sequence) {
                    let _ = p
                        .reply
                        .send(Err(SmppError::Rejected { status: pdu.status }));
                }
                Ok(())
            }
            Body::DeliverSm(sm) => self.on_deliver(pdu.sequence, sm).await,
            Body::EnquireLink => {
                self.answer(pdu.sequence, status::OK, Body::EnquireLinkResp)
                    .await
            }
            Body::EnquireLinkResp => {
                self.enquiry = None;
                Ok(())
            }
            Body::Unbind => {
                let _ = self
                    .answer(pdu.sequence, status::OK, Body::UnbindResp)
                    .await;
                Err("the SMSC unbound".to_string())
            }
            other => {
                tracing::warn!("the SMSC sent {} on a bound link", other.name());
                self.answer(pdu.sequence, status::INVALID_BIND_STATUS, Body::GenericNack)
                    .await
            }
        }
    }

    /// A receipt is passed on before it is acknowledged; when its reader
    /// lags, the SMSC is told to send it again later rather than losing it.
    async fn on_deliver(&mut self, sequence: u32, sm: ShortMessage) -> Result<(), String> {
        let Some(receipt) = sm.receipt() else {
            tracing::info!(
                from = %sm.source_addr,
                text = %text::decode(sm.data_coding, text::split_udh(sm.esm_class, &sm.short_message).1),
                "a message from a handset (not a receipt) was acknowledged and dropped"
            );
            return self.answer(sequence, status::OK, Body::DeliverSmResp).await;
        };
        let report = DeliveryReport {
            message_id: receipt.message_id,
            state: receipt.state,
            error: receipt.error,
        };
        let code = match self.reports.try_send(report) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => status::OK,
            // ESME_RX_T_APPN: a temporary error of the application.
            Err(mpsc::error::TrySendError::Full(_)) => 0x0000_0064,
        };
        self.answer(sequence, code, Body::DeliverSmResp).await
    }

    /// Sends `unbind` and waits (a while) for its answer.
    async fn unbind(&mut self, incoming: &mut mpsc::Receiver<Incoming>) -> Ended {
        let sequence = self.sequence();
        if self
            .send(&Pdu::request(sequence, Body::Unbind))
            .await
            .is_err()
        {
            return Ended::Closed;
        }
        let _ = tokio::time::timeout(self.config.response_timeout, async {
            while let Some(item) = incoming.recv().await {
                match item {
                    Incoming::Pdu(Pdu {
                        body: Body::UnbindResp,
                        ..
                    })
                    | Incoming::End(_) => return,
                    Incoming::Pdu(Pdu {
                        sequence,
                        body: Body::SubmitSmResp { message_id },
                        status: code,
                    }) => {
                        if let Some(p) = self.pending.remove(&sequence) {
                            let _ = p.reply.send(if code == status::OK {
                                Ok(message_id)
                            } else {
                                Err(SmppError::Rejected { status: code })
                            });
                        }
                    }
                    _ => {}
                }
            }
        })
        .await;
        Ended::Closed
    }
}
