//! The non-INVITE server transaction (RFC 3261 17.2.2).
//!
//! Absorbs request retransmissions until the application answers, then repeats its
//! last response to each retransmission until timer J ends it (zero on TCP). If
//! the application drops its handle without a final answer, it answers 500.

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{ServerInput, ServerOutcome, TxContext, sleep_opt};
use crate::message::{self, Counters};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
}

/// Runs one non-INVITE server transaction to its end.
///
/// `already_sent` is a final response the caller has put on the wire itself (the
/// 200 for a CANCEL, sent before the INVITE's 487 so that their order is fixed):
/// the transaction starts in Completed with it.
pub async fn run(
    ctx: TxContext,
    request: rsip::Request,
    to_tag: String,
    mut net: mpsc::UnboundedReceiver<ServerInput>,
    mut tu: mpsc::UnboundedReceiver<rsip::Response>,
    already_sent: Option<Bytes>,
) -> ServerOutcome {
    let reliable = ctx.reliable();
    // Needed only to make up a 500; dropped once answered, so that timer J keeps
    // just the encoded answer.
    let mut request = Some(request);
    let mut state = State::Trying;
    let mut last: Option<Bytes> = None;
    let mut timer_j: Option<Instant> = None;
    if let Some(sent) = already_sent {
        request = None;
        last = Some(sent);
        state = State::Completed;
        let j = ctx.timers.j(reliable);
        if j.is_zero() {
            return ServerOutcome::Completed;
        }
        timer_j = Some(Instant::now() + j);
    }
    let mut tu_open = true;
    loop {
        tokio::select! {
            input = net.recv() => match input {
                None => return ServerOutcome::Closed,
                Some(ServerInput::Request(_)) => {
                    Counters::bump(&ctx.counters.retransmissions_received);
                    if let Some(last) = &last {
                        ctx.send(last.clone(), true);
                    }
                }
                Some(ServerInput::Cancel) => {}
            },
            resp = tu.recv(), if tu_open => {
                let resp = match resp {
                    Some(r) => r,
                    None => {
                        tu_open = false;
                        match (&request, state) {
                            (Some(req), State::Trying | State::Proceeding) => {
                                message::response_for(req, 500, Some(&to_tag))
                            }
                            _ => continue,
                        }
                    }
                };
                if state == State::Completed {
                    continue;
                }
                let bytes = message::encode_response(&resp);
                ctx.send(bytes.clone(), false);
                last = Some(bytes);
                if resp.status_code.code() < 200 {
                    state = State::Proceeding;
                } else {
                    state = State::Completed;
                    request = None;
                    let j = ctx.timers.j(reliable);
                    if j.is_zero() {
                        return ServerOutcome::Completed;
                    }
                    timer_j = Some(Instant::now() + j);
                }
            },
            _ = sleep_opt(timer_j), if timer_j.is_some() => return ServerOutcome::Completed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::*;
    use crate::transport::TransportKind;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn repeats_the_final_response_until_timer_j() {
        let (ctx, mut out) = ctx(TransportKind::Udp);
        let (net, net_rx) = mpsc::unbounded_channel();
        let (tu, tu_rx) = mpsc::unbounded_channel();
        let req = request("BYE");
        let start = Instant::now();
        let task = tokio::spawn(run(ctx, req.clone(), "t".into(), net_rx, tu_rx, None));
        // Retransmission before any answer: absorbed silently.
        net.send(ServerInput::Request(Box::new(req.clone())))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(out.try_recv().is_err());
        tu.send(response(&req, 200)).unwrap();
        assert_eq!(
            next(&mut out, start).await.unwrap(),
            (100, "SIP/2.0 200 OK".into())
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        net.send(ServerInput::Request(Box::new(req.clone())))
            .unwrap();
        assert_eq!(
            next(&mut out, start).await.unwrap(),
            (10100, "SIP/2.0 200 OK".into())
        );
        assert_eq!(task.await.unwrap(), ServerOutcome::Completed);
        assert_eq!(start.elapsed().as_millis(), 100 + 32000, "timer J = 64*T1");
    }

    #[tokio::test(start_paused = true)]
    async fn reliable_transport_ends_at_once_and_a_dropped_handle_gets_500() {
        let (ctx, mut out) = ctx(TransportKind::Tcp);
        let (_net, net_rx) = mpsc::unbounded_channel();
        let (tu, tu_rx) = mpsc::unbounded_channel::<rsip::Response>();
        let req = request("INFO");
        let task = tokio::spawn(run(ctx, req, "t".into(), net_rx, tu_rx, None));
        drop(tu);
        assert_eq!(task.await.unwrap(), ServerOutcome::Completed);
        let o = out.recv().await.unwrap();
        assert!(o.data.starts_with(b"SIP/2.0 500 "));
    }
}
