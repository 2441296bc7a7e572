//! The non-INVITE client transaction (RFC 3261 17.1.2).
//!
//! Sends the request, retransmits it on timer E (doubling to T2; at T2 once a
//! provisional response came), gives up on timer F with [`ClientEvent::Timeout`],
//! and after the final response absorbs retransmissions for timer K.

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{ClientEvent, ClientInput, TxContext, sleep_opt};
use crate::message::{self, Counters};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
}

/// Runs one non-INVITE client transaction to its end.
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
    let mut state = State::Trying;
    let mut e_interval = timers.e();
    let mut timer_e = (!reliable).then(|| start + e_interval);
    let timer_f = start + timers.f();
    let mut timer_k: Option<Instant> = None;
    loop {
        tokio::select! {
            input = net.recv() => match input {
                None => return,
                Some(ClientInput::Response(resp)) => {
                    let code = resp.status_code.code();
                    match state {
                        State::Trying | State::Proceeding if code < 200 => {
                            state = State::Proceeding;
                            let _ = events.send(ClientEvent::Response(resp));
                        }
                        State::Trying | State::Proceeding => {
                            state = State::Completed;
                            timer_e = None;
                            let _ = events.send(ClientEvent::Response(resp));
                            let k = timers.k(reliable);
                            if k.is_zero() {
                                return;
                            }
                            timer_k = Some(Instant::now() + k);
                        }
                        State::Completed => {
                            Counters::bump(&ctx.counters.retransmissions_received);
                        }
                    }
                }
                Some(ClientInput::AckFor2xx(_)) => {}
            },
            _ = sleep_opt(timer_e), if timer_e.is_some() => {
                ctx.send(data.clone(), true);
                e_interval = if state == State::Proceeding {
                    timers.t2
                } else {
                    timers.backoff_capped(e_interval)
                };
                timer_e = Some(Instant::now() + e_interval);
            }
            _ = tokio::time::sleep_until(timer_f), if state != State::Completed => {
                let _ = events.send(ClientEvent::Timeout);
                return;
            }
            _ = sleep_opt(timer_k), if timer_k.is_some() => return,
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
    async fn retransmits_on_e_and_times_out_on_f() {
        let (ctx, mut out) = ctx(TransportKind::Udp);
        let (_net, net_rx) = mpsc::unbounded_channel();
        let (ev, mut ev_rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let task = tokio::spawn(run(ctx, request("OPTIONS"), net_rx, ev));
        let mut times = vec![];
        while let Some((t, line)) = next(&mut out, start).await {
            assert!(line.starts_with("OPTIONS "));
            times.push(t);
            if times.len() == 11 {
                break;
            }
        }
        assert_eq!(
            times,
            vec![
                0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
            ]
        );
        assert!(matches!(ev_rx.recv().await, Some(ClientEvent::Timeout)));
        assert_eq!(start.elapsed().as_millis(), 32000);
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn provisional_slows_retransmission_to_t2_and_final_ends_after_k() {
        let (ctx, mut out) = ctx(TransportKind::Udp);
        let (net, net_rx) = mpsc::unbounded_channel();
        let (ev, mut ev_rx) = mpsc::unbounded_channel();
        let req = request("BYE");
        let start = Instant::now();
        let task = tokio::spawn(run(ctx, req.clone(), net_rx, ev));
        assert_eq!(next(&mut out, start).await.unwrap().0, 0);
        assert_eq!(next(&mut out, start).await.unwrap().0, 500);
        net.send(ClientInput::Response(response(&req, 100)))
            .unwrap();
        assert!(
            matches!(ev_rx.recv().await, Some(ClientEvent::Response(r)) if r.status_code.code() == 100)
        );
        // Timer E was already armed for 1500 (interval 1 s); after it, T2 steps.
        assert_eq!(next(&mut out, start).await.unwrap().0, 1500);
        assert_eq!(next(&mut out, start).await.unwrap().0, 5500);
        net.send(ClientInput::Response(response(&req, 200)))
            .unwrap();
        assert!(
            matches!(ev_rx.recv().await, Some(ClientEvent::Response(r)) if r.status_code.code() == 200)
        );
        net.send(ClientInput::Response(response(&req, 200)))
            .unwrap();
        task.await.unwrap();
        assert_eq!(start.elapsed().as_millis(), 5500 + 5000, "timer K = T4");
        assert!(ev_rx.try_recv().is_err(), "retransmitted final is absorbed");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(out.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn tcp_sends_once_and_still_times_out() {
        let (ctx, mut out) = ctx(TransportKind::Tcp);
        let (_net, net_rx) = mpsc::unbounded_channel();
        let (ev, mut ev_rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        tokio::spawn(run(ctx, request("REGISTER"), net_rx, ev));
        assert_eq!(next(&mut out, start).await.unwrap().0, 0);
        assert!(matches!(ev_rx.recv().await, Some(ClientEvent::Timeout)));
        assert_eq!(start.elapsed().as_millis(), 32000);
        assert!(out.try_recv().is_err());
    }
}
