//! What arrives: responses routed to client transactions, requests to server
//! transactions, ACK and CANCEL, in-dialog requests to their dialog, and new
//! requests to the runtime (the routing order is in the parent module).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use rsip::headers::UntypedHeader;
use rsip::{Header, Method};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::dialog::DialogId;
use crate::message::{self, Counters, Inbound};
use crate::transaction::{self, ClientInput, ServerInput, ServerOutcome, TxKey};
use crate::transport::{Outgoing, Received, Target};

use super::*;

/// Where responses to a request go (RFC 3261 18.2.2): back over the connection for
/// TCP, to `received`/`rport` for UDP.
pub(super) fn response_target(req: &rsip::Request, source: &Target) -> Target {
    if source.transport.is_reliable() {
        return source.clone();
    }
    let dest = message::top_via(&req.headers)
        .and_then(|v| message::parse_via(&v))
        .and_then(|v| message::response_destination(&v))
        .and_then(|(host, port)| {
            let ip: IpAddr = host.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
            Some(SocketAddr::new(ip, port))
        });
    Target {
        transport: source.transport,
        addr: dest.unwrap_or(source.addr),
    }
}

pub(super) async fn dispatch_loop(
    inner: Weak<Inner>,
    mut received: mpsc::UnboundedReceiver<Received>,
    shutdown: CancellationToken,
) {
    loop {
        let msg = tokio::select! {
            m = received.recv() => m,
            _ = shutdown.cancelled() => None,
        };
        let Some(msg) = msg else { break };
        let Some(inner) = inner.upgrade() else { break };
        let endpoint = SipEndpoint { inner };
        match msg.message {
            Inbound::Response(resp) => endpoint.on_response(resp),
            Inbound::Request(req) => endpoint.on_request(req, msg.source),
        }
    }
}

impl SipEndpoint {
    fn on_response(&self, resp: rsip::Response) {
        let Some(key) = TxKey::client_for_response(&resp) else {
            return;
        };
        let tx = self.inner.tables().client_txs.get(&key).cloned();
        match tx {
            Some(tx) => {
                let _ = tx.send(ClientInput::Response(resp));
            }
            None => tracing::debug!(
                code = resp.status_code.code(),
                "response matches no transaction"
            ),
        }
    }

    fn on_request(&self, mut req: rsip::Request, source: Target) {
        message::stamp_received(&mut req, source.addr);
        let Some(key) = TxKey::server(&req) else {
            return;
        };
        if req.method == Method::Ack {
            self.on_ack(req, key);
            return;
        }
        let existing = self.inner.tables().server_txs.get(&key).cloned();
        if let Some(tx) = existing {
            let _ = tx.send(ServerInput::Request(Box::new(req)));
            return;
        }
        if req.method == Method::Cancel {
            self.on_cancel(req, source, key);
            return;
        }
        let incoming = self.new_server_tx(req, source, key);
        // RFC 3261 8.2.2.3 and 16.3: extensions we do not have, and looping requests.
        let require = message::header_values(&incoming.request.headers, "Require");
        if !require.is_empty() {
            let mut resp = incoming.response(420);
            resp.headers
                .push(message::other("Unsupported", require.join(", ")));
            incoming.respond(resp);
            return;
        }
        let hops = message::header_value(&incoming.request.headers, "Max-Forwards")
            .and_then(|v| v.trim().parse::<u32>().ok());
        if hops == Some(0) && incoming.method() != Method::Options {
            incoming.reply(483);
            return;
        }
        if incoming.in_dialog() {
            let id = DialogId::of_request(&incoming.request);
            let dialog = id.and_then(|id| self.inner.tables().dialogs.get(&id).cloned());
            match dialog {
                Some(tx) => {
                    if let Err(e) = tx.try_send(DialogEvent::Request(incoming)) {
                        let incoming = match e {
                            mpsc::error::TrySendError::Full(DialogEvent::Request(i))
                            | mpsc::error::TrySendError::Closed(DialogEvent::Request(i)) => i,
                            _ => return,
                        };
                        incoming.reply(500);
                    }
                }
                None if self.inner.config.reject_unknown_dialogs => incoming.reply(481),
                None => self.deliver(incoming),
            }
            return;
        }
        if incoming.method() == Method::Options && !self.inner.config.deliver_options {
            let mut resp = incoming.response(200);
            resp.headers
                .push(Header::Allow(rsip::headers::Allow::new(ALLOW)));
            resp.headers.push(Header::Accept(rsip::headers::Accept::new(
                "application/sdp",
            )));
            resp.headers.push(Header::Server(rsip::headers::Server::new(
                self.inner.config.user_agent.clone(),
            )));
            incoming.respond(resp);
            return;
        }
        self.deliver(incoming);
    }

    fn deliver(&self, incoming: IncomingRequest) {
        if let Err(e) = self.inner.incoming.try_send(incoming) {
            let incoming = match e {
                mpsc::error::TrySendError::Full(i) | mpsc::error::TrySendError::Closed(i) => i,
            };
            let mut resp = incoming.response(503);
            resp.headers.push(message::other("Retry-After", "5"));
            incoming.respond(resp);
        }
    }

    fn on_ack(&self, ack: rsip::Request, key: TxKey) {
        let mut tables = self.inner.tables();
        // An ACK for our 2xx first (even if a peer reused the INVITE's branch), then
        // the ACK for a non-2xx, which belongs to the INVITE server transaction.
        if let Some(id) = DialogId::of_request(&ack) {
            let seq = message::cseq(&ack.headers).map_or(0, |(n, _)| n);
            if let Some(waiter) = tables.pending_acks.remove(&(id.clone(), seq)) {
                let _ = waiter.send(());
                if let Some(dialog) = tables.dialogs.get(&id) {
                    let _ = dialog.try_send(DialogEvent::Ack(ack));
                }
                return;
            }
        }
        if let Some(tx) = tables.server_txs.get(&key) {
            let _ = tx.send(ServerInput::Request(Box::new(ack)));
            return;
        }
        Counters::bump(&self.inner.counters.retransmissions_received);
    }

    fn on_cancel(&self, cancel: rsip::Request, source: Target, key: TxKey) {
        let invite_key = TxKey::server_invite_for_cancel(&cancel);
        let invite = invite_key.and_then(|k| self.inner.tables().server_txs.get(&k).cloned());
        match invite {
            Some(invite) => {
                // 200 for the CANCEL goes on the wire before the INVITE's 487.
                let to_tag = message::to_tag(&cancel.headers).unwrap_or_else(message::new_tag);
                let ok =
                    message::encode_response(&message::response_for(&cancel, 200, Some(&to_tag)));
                let target = response_target(&cancel, &source);
                let _ = self.inner.sink.send(Outgoing {
                    target,
                    data: ok.clone(),
                });
                let _ = self.spawn_server_tx(cancel, source, key, Some(ok));
                let _ = invite.send(ServerInput::Cancel);
            }
            None => self.new_server_tx(cancel, source, key).reply(481),
        }
    }

    fn new_server_tx(&self, req: rsip::Request, source: Target, key: TxKey) -> IncomingRequest {
        self.spawn_server_tx(req, source, key, None)
    }

    fn spawn_server_tx(
        &self,
        req: rsip::Request,
        source: Target,
        key: TxKey,
        already_sent: Option<Bytes>,
    ) -> IncomingRequest {
        let to_tag = message::to_tag(&req.headers).unwrap_or_else(message::new_tag);
        let (net_tx, net_rx) = mpsc::unbounded_channel();
        let (tu_tx, tu_rx) = mpsc::unbounded_channel();
        let cancelled = CancellationToken::new();
        let ctx = self.tx_context(response_target(&req, &source));
        self.inner.tables().server_txs.insert(key.clone(), net_tx);
        let weak = Arc::downgrade(&self.inner);
        let shutdown = self.inner.shutdown.clone();
        let request = req.clone();
        let tag = to_tag.clone();
        let token = cancelled.clone();
        tokio::spawn(async move {
            let run = async {
                if request.method == Method::Invite {
                    transaction::server_invite::run(ctx, request, tag, net_rx, tu_rx, token).await
                } else {
                    transaction::server::run(ctx, request, tag, net_rx, tu_rx, already_sent).await
                }
            };
            let outcome = tokio::select! {
                o = run => o,
                _ = shutdown.cancelled() => ServerOutcome::Closed,
            };
            if outcome == ServerOutcome::NoAck {
                tracing::debug!("final response to INVITE was never acknowledged");
            }
            if let Some(inner) = weak.upgrade() {
                inner.tables().server_txs.remove(&key);
            }
        });
        IncomingRequest {
            request: req,
            source,
            to_tag,
            responder: tu_tx,
            cancelled,
        }
    }
}
