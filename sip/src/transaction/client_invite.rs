//! The INVITE client transaction (RFC 3261 17.1.1 with RFC 6026's Accepted state).
//!
//! Sends the INVITE and retransmits it on timer A (doubling, no cap) until any
//! response; timer B ends it with [`ClientEvent::Timeout`] if none comes. A final
//! non-2xx response is acknowledged here with an ACK built from the INVITE
//! (17.1.1.3), re-sent for each retransmission until timer D. A 2xx moves it to
//! Accepted for timer M, during which retransmitted 2xx responses go up again and
//! the application's ACK (if it gave us one) is repeated.

use bytes::Bytes;
use rsip::headers::UntypedHeader;
use rsip::{Header, Headers, Method};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{ClientEvent, ClientInput, TxContext, sleep_opt};
use crate::message::{self, Counters};
use crate::transport::Outgoing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Calling,
    Proceeding,
    Completed,
    Accepted,
}

/// Runs one INVITE client transaction to its end.
pub async fn run(
    ctx: TxContext,
    request: rsip::Request,
    mut net: mpsc::UnboundedReceiver<ClientInput>,
    events: mpsc::UnboundedSender<ClientEvent>,
) {
    let reliable = ctx.reliable();
    let timers = ctx.timers;
    let data = message::encode_request(&request);
    ctx.send(data.clone(), false);
    let start = Instant::now();
    let mut state = State::Calling;
    let mut a_interval = timers.a();
    let mut timer_a = (!reliable).then(|| start + a_interval);
    let timer_b = start + timers.b();
    let mut deadline: Option<Instant> = None;
    let mut ack: Option<Bytes> = None;
    let mut ack_2xx: Option<Outgoing> = None;
    loop {
        tokio::select! {
            input = net.recv() => match input {
                None => return,
                Some(ClientInput::AckFor2xx(out)) => ack_2xx = Some(out),
                Some(ClientInput::Response(resp)) => {
                    let code = resp.status_code.code();
                    match state {
                        State::Calling | State::Proceeding if code < 200 => {
                            state = State::Proceeding;
                            timer_a = None;
                            let _ = events.send(ClientEvent::Response(resp));
                        }
                        State::Calling | State::Proceeding if code < 300 => {
                            state = State::Accepted;
                            timer_a = None;
                            deadline = Some(Instant::now() + timers.m());
                            let _ = events.send(ClientEvent::Response(resp));
                        }
                        State::Calling | State::Proceeding => {
                            state = State::Completed;
                            timer_a = None;
                            let bytes = message::encode_request(&ack_for_non_2xx(&request, &resp));
                            ctx.send(bytes.clone(), false);
                            ack = Some(bytes);
                            let _ = events.send(ClientEvent::Response(resp));
                            let d = timers.d(reliable);
                            if d.is_zero() {
                                return;
                            }
                            deadline = Some(Instant::now() + d);
                        }
                        State::Completed => {
                            Counters::bump(&ctx.counters.retransmissions_received);
                            if let Some(ack) = &ack {
                                ctx.send(ack.clone(), true);
                            }
                        }
                        State::Accepted => {
                            if (200..300).contains(&code) {
                                Counters::bump(&ctx.counters.retransmissions_received);
                                if let Some(out) = &ack_2xx {
                                    Counters::bump(&ctx.counters.retransmissions);
                                    let _ = ctx.sink.send(out.clone());
                                }
                                let _ = events.send(ClientEvent::Response(resp));
                            }
                        }
                    }
                }
            },
            _ = sleep_opt(timer_a), if timer_a.is_some() => {
                ctx.send(data.clone(), true);
                a_interval *= 2;
                timer_a = Some(Instant::now() + a_interval);
            }
            _ = tokio::time::sleep_until(timer_b), if state == State::Calling => {
                let _ = events.send(ClientEvent::Timeout);
                return;
            }
            _ = sleep_opt(deadline), if deadline.is_some() => return,
        }
    }
}

/// The ACK for a final non-2xx response (RFC 3261 17.1.1.3): same branch and
/// Request-URI as the INVITE, the To of the response, the INVITE's Route headers.
pub fn ack_for_non_2xx(invite: &rsip::Request, resp: &rsip::Response) -> rsip::Request {
    let mut headers = Headers::default();
    if let Some(via) = message::top_via(&invite.headers) {
        headers.push(Header::Via(rsip::headers::Via::new(via)));
    }
    for h in invite.headers.iter() {
        match h {
            Header::From(_) | Header::CallId(_) | Header::Route(_) => headers.push(h.clone()),
            _ => {}
        }
    }
    if let Some(to) = message::header_value(&resp.headers, "To") {
        headers.push(Header::To(rsip::headers::To::new(to)));
    }
    let seq = message::cseq(&invite.headers).map_or(1, |(n, _)| n);
    headers.push(Header::CSeq(rsip::headers::CSeq::from(rsip::typed::CSeq {
        seq,
        method: Method::Ack,
    })));
    headers.push(Header::MaxForwards(rsip::headers::MaxForwards::from(70u32)));
    rsip::Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::*;
    use crate::transport::TransportKind;

    #[tokio::test(start_paused = true)]
    async fn retransmits_on_a_without_cap_and_times_out_on_b() {
        let (ctx, mut out) = ctx(TransportKind::Udp);
        let (_net, net_rx) = mpsc::unbounded_channel();
        let (ev, mut ev_rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        tokio::spawn(run(ctx, request("INVITE"), net_rx, ev));
        let mut times = vec![];
        for _ in 0..7 {
            times.push(next(&mut out, start).await.unwrap().0);
        }
        assert_eq!(times, vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
        assert!(matches!(ev_rx.recv().await, Some(ClientEvent::Timeout)));
        assert_eq!(start.elapsed().as_millis(), 32000);
    }

    #[tokio::test(start_paused = true)]
    async fn non_2xx_is_acked_by_the_transaction_and_timer_d_ends_it() {
        let (ctx, mut out) = ctx(TransportKind::Udp);
        let (net, net_rx) = mpsc::unbounded_channel();
        let (ev, mut ev_rx) = mpsc::unbounded_channel();
        let req = request("INVITE");
        let start = Instant::now();
        let task = tokio::spawn(run(ctx, req.clone(), net_rx, ev));
        next(&mut out, start).await.unwrap();
        net.send(ClientInput::Response(response(&req, 180)))
            .unwrap();
        assert!(matches!(ev_rx.recv().await, Some(ClientEvent::Response(_))));
        net.send(ClientInput::Response(response(&req, 486)))
            .unwrap();
        let ack = out.recv().await.unwrap();
        let text = String::from_utf8_lossy(&ack.data).to_string();
        assert!(
            text.starts_with("ACK sip:bob@127.0.0.1 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("branch=z9hG4bKtest1"));
        assert!(text.contains("CSeq: 1 ACK"));
        assert!(text.contains("tag=totag"));
        assert!(
            matches!(ev_rx.recv().await, Some(ClientEvent::Response(r)) if r.status_code.code() == 486)
        );
        // A retransmitted 486 is answered with the same ACK and not reported again.
        net.send(ClientInput::Response(response(&req, 486)))
            .unwrap();
        assert_eq!(out.recv().await.unwrap().data, ack.data);
        task.await.unwrap();
        assert_eq!(start.elapsed().as_millis(), 32000, "timer D");
        assert!(ev_rx.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn retransmitted_2xx_is_reported_and_reacked_while_accepted() {
        let (ctx, mut out) = ctx(TransportKind::Udp);
        let (net, net_rx) = mpsc::unbounded_channel();
        let (ev, mut ev_rx) = mpsc::unbounded_channel();
        let req = request("INVITE");
        let start = Instant::now();
        let task = tokio::spawn(run(ctx.clone(), req.clone(), net_rx, ev));
        next(&mut out, start).await.unwrap();
        net.send(ClientInput::Response(response(&req, 200)))
            .unwrap();
        assert!(
            matches!(ev_rx.recv().await, Some(ClientEvent::Response(r)) if r.status_code.code() == 200)
        );
        net.send(ClientInput::AckFor2xx(Outgoing {
            target: ctx.target.clone(),
            data: Bytes::from_static(b"ACK"),
        }))
        .unwrap();
        net.send(ClientInput::Response(response(&req, 200)))
            .unwrap();
        assert_eq!(&out.recv().await.unwrap().data[..], b"ACK");
        assert!(matches!(ev_rx.recv().await, Some(ClientEvent::Response(_))));
        task.await.unwrap();
        assert_eq!(start.elapsed().as_millis(), 32000, "timer M");
    }
}
