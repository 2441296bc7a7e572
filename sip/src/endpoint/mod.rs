//! The SIP endpoint: the one object the runtime holds. It owns the transports and
//! the transaction tables, routes what arrives, and offers the UA-core operations
//! a call task needs (answer an INVITE, send in-dialog requests, place a call).
//!
//! Routing of a received message, in order:
//! - a response goes to its client transaction (by branch and CSeq method);
//! - a request matching a server transaction (retransmission, ACK for a non-2xx)
//!   goes to it; a CANCEL is answered 200 and cancels its INVITE (or gets 481);
//! - an ACK for a 2xx stops that 2xx's retransmission and reaches the dialog;
//! - a request with a To tag goes to its dialog's [`DialogEvents`] channel, or
//!   gets 481 when [`EndpointConfig::reject_unknown_dialogs`] is set;
//! - OPTIONS outside a dialog is answered 200 here unless
//!   [`EndpointConfig::deliver_options`] is set;
//! - anything else is a new [`IncomingRequest`] on the channel `bind` returned.
//!
//! The UAS core's 2xx retransmission (RFC 3261 13.3.1.4) lives here too: after
//! [`UasInvite::answer`] the 200 is repeated (T1 doubling to T2, UDP only) until
//! the ACK arrives ([`DialogEvent::Ack`]) or 64*T1 passes
//! ([`DialogEvent::AckTimeout`], time to send BYE).
//!
//! No lock is held across an `.await`: the tables sit behind one `std` mutex
//! taken only for lookups and inserts.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use rsip::headers::UntypedHeader;
use rsip::{Header, Method};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::auth::DigestClient;
use super::dialog::{Dialog, DialogId, DialogState};
use super::message::{self, CounterSnapshot, Counters, SipError};
use super::transaction::{self, ClientEvent, ClientInput, ServerInput, Timers, TxContext, TxKey};
use super::transport::{
    Outgoing, Target, TcpLimits, TransportConfig, TransportKind, TransportLayer,
};

/// The methods we implement, for Allow headers.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REFER, NOTIFY, REGISTER, UPDATE";

/// How the endpoint listens and behaves.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// UDP listen address (`127.0.0.1:0` in tests).
    pub udp: Option<SocketAddr>,
    /// TCP listen address.
    pub tcp: Option<SocketAddr>,
    /// Host to advertise in Via and Contact instead of the bound IP (needed when
    /// bound to 0.0.0.0 or behind NAT).
    pub public_host: Option<String>,
    /// User-Agent / Server header value.
    pub user_agent: String,
    /// Hand out-of-dialog OPTIONS to the application instead of answering 200 here.
    pub deliver_options: bool,
    /// Answer 481 to in-dialog requests for dialogs nobody registered, instead of
    /// handing them to the application.
    pub reject_unknown_dialogs: bool,
    /// T1/T2/T4.
    pub timers: Timers,
    /// Size and header-count limits of received messages (UDP and TCP).
    pub limits: message::MessageLimits,
    /// Caps and time-outs of TCP connections others open to us.
    pub tcp_limits: TcpLimits,
    /// Capacity of the new-request channel; beyond it requests get 503.
    pub incoming_queue: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            udp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            tcp: None,
            public_host: None,
            user_agent: "Dialect".into(),
            deliver_options: false,
            reject_unknown_dialogs: true,
            timers: Timers::default(),
            limits: message::MessageLimits::default(),
            tcp_limits: TcpLimits::default(),
            incoming_queue: 1024,
        }
    }
}

/// Something that happens inside a dialog, delivered to the call task that owns it.
#[derive(Debug)]
pub enum DialogEvent {
    /// A request in the dialog: BYE, re-INVITE, INFO, REFER, UPDATE, OPTIONS...
    /// Answer it through the handle (the transaction answers 500 if it is dropped).
    Request(IncomingRequest),
    /// The ACK for our 2xx arrived (its body holds the SDP answer of a late offer).
    Ack(rsip::Request),
    /// No ACK for our 2xx within 64*T1: the call should be ended with BYE.
    AckTimeout,
}

/// The IP a received request came from, as the transport stamped it in the top
/// Via on arrival: its `received` parameter, else the Via's host (which then
/// was that IP). A peer cannot forge this: the stamp replaces any `received`
/// it wrote. Call tasks use it on [`DialogEvent::Ack`] to tell whether the
/// ACK came from the host the SDP names.
pub fn source_ip(request: &rsip::Request) -> Option<IpAddr> {
    let via = message::top_via(&request.headers)?;
    let received = via.split(';').skip(1).find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("received")
            .then(|| value.trim().parse::<IpAddr>().ok())
            .flatten()
    });
    received.or_else(|| {
        let info = message::parse_via(&via)?;
        info.host
            .trim_matches(|c| c == '[' || c == ']')
            .parse()
            .ok()
    })
}

/// The receiving side of a dialog's events. Dropping it unregisters the dialog.
#[derive(Debug)]
pub struct DialogEvents {
    rx: mpsc::Receiver<DialogEvent>,
    id: DialogId,
    inner: Weak<Inner>,
}

impl DialogEvents {
    /// The next event; `None` after shutdown. Cancel-safe.
    pub async fn recv(&mut self) -> Option<DialogEvent> {
        self.rx.recv().await
    }

    /// The dialog these events belong to.
    pub fn id(&self) -> &DialogId {
        &self.id
    }
}

impl Drop for DialogEvents {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.tables().dialogs.remove(&self.id);
        }
    }
}

/// A received request with the handle to answer it.
#[derive(Debug)]
pub struct IncomingRequest {
    /// The request (top Via already carries `received`/`rport`).
    pub request: rsip::Request,
    /// Where it came from.
    pub source: Target,
    to_tag: String,
    responder: mpsc::UnboundedSender<rsip::Response>,
    cancelled: CancellationToken,
}

impl IncomingRequest {
    /// The method.
    pub fn method(&self) -> Method {
        self.request.method
    }

    /// The To tag our responses carry (the request's own, or one chosen for it).
    pub fn to_tag(&self) -> &str {
        &self.to_tag
    }

    /// Whether the request carries a To tag (it claims to be inside a dialog).
    pub fn in_dialog(&self) -> bool {
        message::to_tag(&self.request.headers).is_some()
    }

    /// A response skeleton with the mandatory headers and our To tag.
    pub fn response(&self, code: u16) -> rsip::Response {
        message::response_for(&self.request, code, Some(&self.to_tag))
    }

    /// Sends a response (provisional or final) through the server transaction.
    pub fn respond(&self, response: rsip::Response) {
        let _ = self.responder.send(response);
    }

    /// Sends a response with just a status code.
    pub fn reply(&self, code: u16) {
        self.respond(self.response(code));
    }

    /// INVITE only: resolves once a CANCEL arrived (487 is already sent). Cancel-safe.
    pub async fn cancelled(&self) {
        self.cancelled.cancelled().await
    }

    /// INVITE only: whether a CANCEL arrived.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.is_cancelled()
    }
}

#[derive(Default)]
struct Tables {
    server_txs: HashMap<TxKey, mpsc::UnboundedSender<ServerInput>>,
    client_txs: HashMap<TxKey, mpsc::UnboundedSender<ClientInput>>,
    dialogs: HashMap<DialogId, mpsc::Sender<DialogEvent>>,
    pending_acks: HashMap<(DialogId, u32), oneshot::Sender<()>>,
}

struct Inner {
    config: EndpointConfig,
    transport: Arc<TransportLayer>,
    sink: transaction::Sink,
    counters: Arc<Counters>,
    tables: Mutex<Tables>,
    incoming: mpsc::Sender<IncomingRequest>,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipEndpoint")
            .field("udp", &self.transport.udp_addr())
            .field("tcp", &self.transport.tcp_addr())
            .finish()
    }
}

impl Inner {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The SIP endpoint. Cheap to clone; every clone is the same endpoint.
#[derive(Debug, Clone)]
pub struct SipEndpoint {
    inner: Arc<Inner>,
}

/// Requests the application receives outside any registered dialog.
pub type IncomingRequests = mpsc::Receiver<IncomingRequest>;

impl SipEndpoint {
    /// Binds the transports and starts routing. New requests arrive on the returned
    /// channel. Everything stops when `shutdown` is cancelled.
    pub async fn bind(
        config: EndpointConfig,
        shutdown: CancellationToken,
    ) -> Result<(Self, IncomingRequests), SipError> {
        let counters = Arc::new(Counters::default());
        let (received_tx, received_rx) = mpsc::unbounded_channel();
        let transport = TransportLayer::bind(
            &TransportConfig {
                udp: config.udp,
                tcp: config.tcp,
                limits: config.limits,
                tcp_limits: config.tcp_limits,
            },
            counters.clone(),
            received_tx,
            shutdown.clone(),
        )
        .await?;
        let unspecified = [transport.udp_addr(), transport.tcp_addr()]
            .iter()
            .flatten()
            .any(|a| a.ip().is_unspecified());
        if unspecified && config.public_host.is_none() {
            tracing::warn!(
                "SIP bound to a wildcard address without public_host: Via and Contact will be unusable"
            );
        }
        let (incoming_tx, incoming_rx) = mpsc::channel(config.incoming_queue.max(1));
        let inner = Arc::new(Inner {
            sink: transport.sink(),
            config,
            transport,
            counters,
            tables: Mutex::new(Tables::default()),
            incoming: incoming_tx,
            shutdown,
        });
        tokio::spawn(dispatch_loop(
            Arc::downgrade(&inner),
            received_rx,
            inner.shutdown.clone(),
        ));
        Ok((Self { inner }, incoming_rx))
    }

    /// The bound UDP address (the port the system chose when 0 was asked for);
    /// `None` when UDP is off.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.inner.transport.udp_addr()
    }

    /// The bound TCP address (the port the system chose when 0 was asked for);
    /// `None` when TCP is off.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.inner.transport.tcp_addr()
    }

    /// The live message counters, shared (for the metrics endpoint).
    pub fn live_counters(&self) -> Arc<Counters> {
        self.inner.counters.clone()
    }

    /// Message counters for metrics.
    pub fn counters(&self) -> CounterSnapshot {
        self.inner.counters.snapshot()
    }

    /// The configuration the endpoint was bound with.
    pub fn config(&self) -> &EndpointConfig {
        &self.inner.config
    }

    /// The shutdown token the endpoint watches.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// TCP connections others opened to us that are open now.
    pub fn incoming_tcp_connections(&self) -> usize {
        self.inner.transport.incoming_tcp_count()
    }

    /// Number of live transactions (server, client): for tests and metrics.
    pub fn transaction_counts(&self) -> (usize, usize) {
        let t = self.inner.tables();
        (t.server_txs.len(), t.client_txs.len())
    }

    fn local_host_port(&self, kind: TransportKind) -> Result<(String, u16), SipError> {
        let addr = self
            .inner
            .transport
            .local_addr(kind)
            .ok_or(SipError::NoTransport(kind.via_name()))?;
        let host = match &self.inner.config.public_host {
            Some(h) => h.clone(),
            None => match addr.ip() {
                IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            },
        };
        Ok((host, addr.port()))
    }

    /// Our Contact URI for a transport (`sip:host:port` plus `;transport=tcp`).
    pub fn contact_uri(&self, kind: TransportKind, user: Option<&str>) -> Result<String, SipError> {
        let (host, port) = self.local_host_port(kind)?;
        let user = user.map(|u| format!("{u}@")).unwrap_or_default();
        Ok(match kind {
            TransportKind::Udp => format!("sip:{user}{host}:{port}"),
            TransportKind::Tcp => format!("sip:{user}{host}:{port};transport=tcp"),
        })
    }

    /// Resolves a SIP URI to a transport target (IP literal, or a DNS A/AAAA
    /// lookup; SRV/NAPTR are not done). `transport=` in the URI wins over `default`.
    pub async fn resolve(&self, uri: &str, default: TransportKind) -> Result<Target, SipError> {
        if let Some(t) = resolve_literal(uri, default) {
            return Ok(t);
        }
        let (host, port) =
            message::uri_host_port(uri).ok_or_else(|| SipError::InvalidUri(uri.to_string()))?;
        let transport = uri_transport(uri).unwrap_or(default);
        let port = port.unwrap_or(5060);
        let found = tokio::net::lookup_host((host.as_str(), port))
            .await
            .ok()
            .and_then(|mut addrs| addrs.next());
        let addr = found.ok_or(SipError::Resolve(host))?;
        Ok(Target { transport, addr })
    }

    fn prepend_via(
        &self,
        req: &mut rsip::Request,
        kind: TransportKind,
        branch: &str,
    ) -> Result<(), SipError> {
        let (host, port) = self.local_host_port(kind)?;
        let via = format!(
            "SIP/2.0/{} {host}:{port};branch={branch};rport",
            kind.via_name()
        );
        let old: Vec<Header> = std::mem::take(&mut req.headers)
            .into_iter()
            .filter(|h| !matches!(h, Header::Via(_)))
            .collect();
        let mut headers = vec![Header::Via(rsip::headers::Via::new(via))];
        headers.extend(old);
        req.headers = headers.into();
        if message::header_value(&req.headers, "Max-Forwards").is_none() {
            req.headers
                .push(Header::MaxForwards(rsip::headers::MaxForwards::from(70u32)));
        }
        if message::header_value(&req.headers, "User-Agent").is_none() {
            req.headers
                .push(Header::UserAgent(rsip::headers::UserAgent::new(
                    self.inner.config.user_agent.clone(),
                )));
        }
        Ok(())
    }

    /// Sends a request as a new client transaction; a fresh Via with a new branch
    /// replaces any Via it had.
    pub fn send_request(
        &self,
        req: rsip::Request,
        target: Target,
    ) -> Result<ClientTransaction, SipError> {
        self.start_client(req, target, None)
    }

    fn start_client(
        &self,
        mut req: rsip::Request,
        target: Target,
        branch: Option<String>,
    ) -> Result<ClientTransaction, SipError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(SipError::Shutdown);
        }
        let branch = branch.unwrap_or_else(message::new_branch);
        self.prepend_via(&mut req, target.transport, &branch)?;
        let key = TxKey::client(&branch, req.method);
        let (net_tx, net_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        self.inner
            .tables()
            .client_txs
            .insert(key.clone(), net_tx.clone());
        let ctx = self.tx_context(target.clone());
        let weak = Arc::downgrade(&self.inner);
        let shutdown = self.inner.shutdown.clone();
        let request = req.clone();
        let key2 = key.clone();
        tokio::spawn(async move {
            let run = async {
                if request.method == Method::Invite {
                    transaction::client_invite::run(ctx, request, net_rx, ev_tx).await
                } else {
                    transaction::client::run(ctx, request, net_rx, ev_tx).await
                }
            };
            tokio::select! {
                _ = run => {}
                _ = shutdown.cancelled() => {}
            }
            if let Some(inner) = weak.upgrade() {
                inner.tables().client_txs.remove(&key2);
            }
        });
        Ok(ClientTransaction {
            events: ev_rx,
            request: req,
            target,
            net: net_tx,
        })
    }

    /// Sends a request and waits for its final response (provisional ones are skipped).
    pub async fn request(
        &self,
        req: rsip::Request,
        target: Target,
    ) -> Result<rsip::Response, SipError> {
        self.send_request(req, target)?.final_response().await
    }

    fn tx_context(&self, target: Target) -> TxContext {
        TxContext {
            sink: self.inner.sink.clone(),
            target,
            timers: self.inner.config.timers,
            counters: self.inner.counters.clone(),
        }
    }

    /// Sends a request outside any transaction (the ACK for a 2xx).
    fn send_stateless(&self, mut req: rsip::Request, target: Target) -> Result<Outgoing, SipError> {
        self.prepend_via(&mut req, target.transport, &message::new_branch())?;
        let out = Outgoing {
            target,
            data: message::encode_request(&req),
        };
        let _ = self.inner.sink.send(out.clone());
        Ok(out)
    }

    /// Where in-dialog requests go: over TCP without a route set, the connection
    /// the dialog was set up on while it is open (the peer's Contact port is often
    /// not where it accepts connections); otherwise the resolved next hop, falling
    /// back to the dialog's flow.
    pub async fn dialog_target(&self, dialog: &Dialog) -> Target {
        if dialog.transport.is_reliable()
            && dialog.route_set.is_empty()
            && self.inner.transport.has_tcp_connection(dialog.flow.addr)
        {
            return dialog.flow.clone();
        }
        match self.resolve(&dialog.next_hop(), dialog.transport).await {
            Ok(t) => t,
            Err(_) => dialog.flow.clone(),
        }
    }

    fn register_dialog(&self, id: DialogId) -> DialogEvents {
        let (tx, rx) = mpsc::channel(32);
        self.inner.tables().dialogs.insert(id.clone(), tx);
        DialogEvents {
            rx,
            id,
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Takes over a received INVITE as UAS: creates the (early) dialog with the
    /// transaction's To tag and registers its event channel.
    pub fn accept_invite(&self, invite: IncomingRequest) -> Result<UasInvite, SipError> {
        let contact = self.contact_uri(invite.source.transport, None)?;
        let dialog = Dialog::uas(
            &invite.request,
            &invite.to_tag,
            &contact,
            invite.source.clone(),
        )?;
        let events = self.register_dialog(dialog.id.clone());
        Ok(UasInvite {
            endpoint: self.clone(),
            invite,
            dialog,
            events,
        })
    }

    /// Sends a request inside a dialog and waits for the final response. For
    /// INVITE (a re-INVITE) a 2xx is acknowledged here and the remote target refreshed.
    pub async fn request_in_dialog(
        &self,
        dialog: &mut Dialog,
        method: Method,
        body: Option<(&str, Vec<u8>)>,
        extra: Vec<Header>,
    ) -> Result<rsip::Response, SipError> {
        let mut req = dialog.new_request(method)?;
        for h in extra {
            req.headers.push(h);
        }
        if let Some((content_type, body)) = body {
            req.headers
                .push(Header::ContentType(rsip::headers::ContentType::new(
                    content_type,
                )));
            req.body = body;
        }
        let target = self.dialog_target(dialog).await;
        let seq = dialog.local_seq;
        let tx = self.send_request(req, target.clone())?;
        let net = tx.net.clone();
        let resp = tx.final_response().await?;
        if method == Method::Invite && (200..300).contains(&resp.status_code.code()) {
            dialog.on_target_refresh_response(&resp);
            let ack = dialog.ack(seq)?;
            let out = self.send_stateless(ack, target)?;
            let _ = net.send(ClientInput::AckFor2xx(out));
        }
        Ok(resp)
    }

    /// Answers a re-INVITE received in `dialog` with 200 and an SDP body. Like the
    /// first answer, the 200 is retransmitted until its ACK, which arrives on the
    /// dialog's events as [`DialogEvent::Ack`] (or [`DialogEvent::AckTimeout`]).
    pub fn answer_reinvite(&self, dialog: &Dialog, request: IncomingRequest, sdp: Vec<u8>) {
        let mut resp = request.response(200);
        resp.headers
            .push(Header::Contact(rsip::headers::Contact::new(format!(
                "<{}>",
                dialog.local_contact
            ))));
        resp.headers
            .push(Header::Allow(rsip::headers::Allow::new(ALLOW)));
        resp.headers
            .push(Header::ContentType(rsip::headers::ContentType::new(
                "application/sdp",
            )));
        resp.body = sdp;
        let seq = message::cseq(&request.request.headers).map_or(0, |(n, _)| n);
        let target = response_target(&request.request, &request.source);
        let data = message::encode_response(&resp);
        request.respond(resp);
        self.start_2xx_retransmission(dialog, seq, data, target);
    }

    /// Sends BYE and waits for its final response.
    pub async fn bye(&self, dialog: &mut Dialog) -> Result<rsip::Response, SipError> {
        self.request_in_dialog(dialog, Method::Bye, None, Vec::new())
            .await
    }

    /// Sends a re-INVITE with a new SDP offer (e.g. hold/resume); ACKs a 2xx.
    pub async fn reinvite(
        &self,
        dialog: &mut Dialog,
        sdp: Vec<u8>,
    ) -> Result<rsip::Response, SipError> {
        self.request_in_dialog(
            dialog,
            Method::Invite,
            Some(("application/sdp", sdp)),
            Vec::new(),
        )
        .await
    }

    /// Sends INFO (e.g. `application/dtmf-relay`).
    pub async fn info(
        &self,
        dialog: &mut Dialog,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<rsip::Response, SipError> {
        self.request_in_dialog(dialog, Method::Info, Some((content_type, body)), Vec::new())
            .await
    }

    /// Sends REFER with a Refer-To URI (blind transfer by the peer).
    pub async fn refer(
        &self,
        dialog: &mut Dialog,
        refer_to: &str,
    ) -> Result<rsip::Response, SipError> {
        let h = message::other("Refer-To", format!("<{refer_to}>"));
        self.request_in_dialog(dialog, Method::Refer, None, vec![h])
            .await
    }

    /// Starts an outgoing call (INVITE as UAC). Drive it with [`OutgoingCall::next`].
    pub fn invite(&self, params: OutgoingInvite) -> Result<OutgoingCall, SipError> {
        let contact = self.contact_uri(params.target.transport, params.contact_user.as_deref())?;
        let mut headers = rsip::Headers::default();
        headers.push(Header::From(rsip::headers::From::new(format!(
            "{};tag={}",
            params.from,
            message::new_tag()
        ))));
        headers.push(Header::To(rsip::headers::To::new(params.to.clone())));
        headers.push(Header::CallId(rsip::headers::CallId::new(
            params.call_id.clone().unwrap_or_else(message::new_call_id),
        )));
        headers.push(Header::CSeq(rsip::headers::CSeq::new("1 INVITE")));
        headers.push(Header::Contact(rsip::headers::Contact::new(format!(
            "<{contact}>"
        ))));
        headers.push(Header::Allow(rsip::headers::Allow::new(ALLOW)));
        for h in params.headers.iter().cloned() {
            headers.push(h);
        }
        let mut body = Vec::new();
        if let Some(sdp) = &params.sdp {
            headers.push(Header::ContentType(rsip::headers::ContentType::new(
                "application/sdp",
            )));
            body = sdp.clone();
        }
        let req = rsip::Request {
            method: Method::Invite,
            uri: message::parse_uri(&params.request_uri)?,
            version: rsip::Version::V2,
            headers,
            body,
        };
        let tx = self.send_request(req, params.target.clone())?;
        Ok(OutgoingCall {
            endpoint: self.clone(),
            invite: tx.request.clone(),
            tx,
            contact,
            digest: params.credentials.map(DigestClient::new),
            auth_tries: 0,
            cancel_requested: false,
            cancel_sent: false,
            got_provisional: false,
            cancel_deadline: None,
            finished: false,
        })
    }

    fn start_2xx_retransmission(&self, dialog: &Dialog, seq: u32, data: Bytes, target: Target) {
        let key = (dialog.id.clone(), seq);
        let (ack_tx, ack_rx) = oneshot::channel();
        let dialog_tx = {
            let mut t = self.inner.tables();
            t.pending_acks.insert(key.clone(), ack_tx);
            t.dialogs.get(&dialog.id).cloned()
        };
        let weak = Arc::downgrade(&self.inner);
        let ctx = self.tx_context(target);
        let shutdown = self.inner.shutdown.clone();
        tokio::spawn(async move {
            let timers = ctx.timers;
            let reliable = ctx.target.transport.is_reliable();
            let mut interval = timers.t1;
            let mut next = Instant::now() + interval;
            let deadline = Instant::now() + timers.t1 * 64;
            let mut ack_rx = ack_rx;
            loop {
                tokio::select! {
                    // The dispatcher delivered the ACK itself (keeping its order
                    // with later requests); this only stops the retransmission.
                    _ = &mut ack_rx => return,
                    _ = tokio::time::sleep_until(next), if !reliable => {
                        Counters::bump(&ctx.counters.retransmissions);
                        let _ = ctx.sink.send(Outgoing { target: ctx.target.clone(), data: data.clone() });
                        interval = (interval * 2).min(timers.t2);
                        next = Instant::now() + interval;
                    }
                    _ = tokio::time::sleep_until(deadline) => {
                        if let Some(inner) = weak.upgrade() {
                            inner.tables().pending_acks.remove(&key);
                        }
                        if let Some(tx) = &dialog_tx {
                            let _ = tx.try_send(DialogEvent::AckTimeout);
                        }
                        return;
                    }
                    _ = shutdown.cancelled() => return,
                }
            }
        });
    }
}

fn uri_transport(uri: &str) -> Option<TransportKind> {
    uri.split(';').skip(1).find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case("transport")
            .then(|| TransportKind::from_name(v.trim()))
            .flatten()
    })
}

/// Resolves a URI whose host is an IP literal, without any lookup.
pub fn resolve_literal(uri: &str, default: TransportKind) -> Option<Target> {
    let (host, port) = message::uri_host_port(uri)?;
    let ip: IpAddr = host.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
    Some(Target {
        transport: uri_transport(uri).unwrap_or(default),
        addr: SocketAddr::new(ip, port.unwrap_or(5060)),
    })
}

/// A client transaction in progress, as the sender of the request sees it.
#[derive(Debug)]
pub struct ClientTransaction {
    events: mpsc::UnboundedReceiver<ClientEvent>,
    request: rsip::Request,
    target: Target,
    net: mpsc::UnboundedSender<ClientInput>,
}

impl ClientTransaction {
    /// The request as sent (with our Via).
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    /// Where it was sent.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The next response or timeout; `None` once the transaction is over. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<ClientEvent> {
        self.events.recv().await
    }

    /// Waits for the final response; a timeout becomes [`SipError::Timeout`].
    pub async fn final_response(mut self) -> Result<rsip::Response, SipError> {
        loop {
            match self.events.recv().await {
                Some(ClientEvent::Response(r)) if r.status_code.code() >= 200 => return Ok(r),
                Some(ClientEvent::Response(_)) => {}
                Some(ClientEvent::Timeout) | None => return Err(SipError::Timeout),
            }
        }
    }
}

/// A received INVITE that we are answering as UAS.
#[derive(Debug)]
pub struct UasInvite {
    endpoint: SipEndpoint,
    invite: IncomingRequest,
    dialog: Dialog,
    events: DialogEvents,
}

impl UasInvite {
    /// The INVITE.
    pub fn request(&self) -> &rsip::Request {
        &self.invite.request
    }

    /// The early dialog, with the transaction's To tag; answering confirms it.
    pub fn dialog(&self) -> &Dialog {
        &self.dialog
    }

    /// Sends a provisional response (180 Ringing, or 183 with early-media SDP).
    pub fn progress(&self, code: u16, sdp: Option<Vec<u8>>) {
        let mut resp = self.invite.response(code);
        self.decorate(&mut resp, sdp);
        self.invite.respond(resp);
    }

    fn decorate(&self, resp: &mut rsip::Response, sdp: Option<Vec<u8>>) {
        resp.headers
            .push(Header::Contact(rsip::headers::Contact::new(format!(
                "<{}>",
                self.dialog.local_contact
            ))));
        resp.headers
            .push(Header::Allow(rsip::headers::Allow::new(ALLOW)));
        resp.headers.push(Header::Server(rsip::headers::Server::new(
            self.endpoint.inner.config.user_agent.clone(),
        )));
        if let Some(sdp) = sdp {
            resp.headers
                .push(Header::ContentType(rsip::headers::ContentType::new(
                    "application/sdp",
                )));
            resp.body = sdp;
        }
    }

    /// Resolves when the caller cancelled (487 is already sent). Cancel-safe.
    pub async fn cancelled(&self) {
        self.invite.cancelled().await
    }

    /// Whether the caller cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.invite.is_cancelled()
    }

    /// Refuses the call with a final status (486, 488, 503...).
    pub fn reject(self, code: u16) {
        self.invite.reply(code);
    }

    /// Refuses with a prepared response (e.g. 488 with a Warning).
    pub fn reject_with(self, response: rsip::Response) {
        self.invite.respond(response);
    }

    /// Answers 200 OK with an SDP body and confirms the dialog. The 200 is
    /// retransmitted until the ACK arrives; watch the events for
    /// [`DialogEvent::Ack`] or [`DialogEvent::AckTimeout`].
    pub fn answer(self, sdp: Vec<u8>) -> Result<(Dialog, DialogEvents), SipError> {
        if self.is_cancelled() {
            return Err(SipError::Cancelled);
        }
        let mut resp = self.invite.response(200);
        self.decorate(&mut resp, Some(sdp));
        let seq = message::cseq(&self.invite.request.headers).map_or(0, |(n, _)| n);
        let target = response_target(&self.invite.request, &self.invite.source);
        let data = message::encode_response(&resp);
        self.invite.respond(resp);
        let mut dialog = self.dialog;
        dialog.state = DialogState::Confirmed;
        self.endpoint
            .start_2xx_retransmission(&dialog, seq, data, target);
        Ok((dialog, self.events))
    }
}

mod outgoing;
mod receive;

pub use outgoing::{Answered, CallProgress, OutgoingCall, OutgoingInvite};
use receive::{dispatch_loop, response_target};
