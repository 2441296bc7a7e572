//! The INVITE server transaction (RFC 3261 17.2.1 with RFC 6026's Accepted state).
//!
//! Sends `100 Trying` at once, forwards the application's provisional responses,
//! and for a final non-2xx response retransmits it on timer G until the ACK comes
//! (absorbed here) or timer H gives up. A 2xx moves it to Accepted, where it
//! absorbs INVITE retransmissions for timer L; retransmitting the 2xx itself is the
//! UA core's job (see [`crate::endpoint`]). A matched CANCEL answers the
//! INVITE with 487 and fires the `cancelled` token. If the application drops its
//! handle before answering, the transaction answers 500 itself.

use bytes::Bytes;
use rsip::Method;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{ServerInput, ServerOutcome, TxContext, sleep_opt};
use crate::message::{self, Counters};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
}

/// Runs one INVITE server transaction to its end.
///
/// `to_tag` is the tag the UAS uses for its dialog; the transaction puts it on the
/// responses it makes up itself (487, 500).
pub async fn run(
    ctx: TxContext,
    request: rsip::Request,
    to_tag: String,
    mut net: mpsc::UnboundedReceiver<ServerInput>,
    mut tu: mpsc::UnboundedReceiver<rsip::Response>,
    cancelled: CancellationToken,
) -> ServerOutcome {
    let reliable = ctx.reliable();
    let timers = ctx.timers;
    let mut last: Bytes = message::encode_response(&message::response_for(&request, 100, None));
    ctx.send(last.clone(), false);
    // Needed only to make up a 487 or 500 while proceeding; dropped after the final
    // response, so that timers G, H and I keep just the encoded answer.
    let mut request = Some(request);
    let mut state = State::Proceeding;
    let mut g_interval = timers.g();
    let mut timer_g: Option<Instant> = None;
    let mut deadline: Option<Instant> = None;
    let mut tu_open = true;

    let send_final = |resp: &rsip::Response,
                      state: &mut State,
                      last: &mut Bytes,
                      timer_g: &mut Option<Instant>,
                      deadline: &mut Option<Instant>| {
        let code = resp.status_code.code();
        *last = message::encode_response(resp);
        ctx.send(last.clone(), false);
        let now = Instant::now();
        if (200..300).contains(&code) {
            *state = State::Accepted;
            *deadline = Some(now + timers.l());
        } else {
            *state = State::Completed;
            if !reliable {
                *timer_g = Some(now + timers.g());
            }
            *deadline = Some(now + timers.h());
        }
    };

    loop {
        tokio::select! {
            input = net.recv() => match input {
                None => return ServerOutcome::Closed,
                Some(ServerInput::Request(r)) if r.method == Method::Ack => {
                    if state == State::Completed {
                        state = State::Confirmed;
                        timer_g = None;
                        let i = timers.i(reliable);
                        if i.is_zero() {
                            return ServerOutcome::Completed;
                        }
                        deadline = Some(Instant::now() + i);
                    }
                }
                Some(ServerInput::Request(_)) => {
                    Counters::bump(&ctx.counters.retransmissions_received);
                    if matches!(state, State::Proceeding | State::Completed) {
                        ctx.send(last.clone(), true);
                    }
                }
                Some(ServerInput::Cancel) => {
                    if state == State::Proceeding && let Some(req) = request.take() {
                        cancelled.cancel();
                        let resp = message::response_for(&req, 487, Some(&to_tag));
                        send_final(&resp, &mut state, &mut last, &mut timer_g, &mut deadline);
                    }
                }
            },
            resp = tu.recv(), if tu_open => match resp {
                None => {
                    tu_open = false;
                    if state == State::Proceeding && let Some(req) = request.take() {
                        let resp = message::response_for(&req, 500, Some(&to_tag));
                        send_final(&resp, &mut state, &mut last, &mut timer_g, &mut deadline);
                    }
                }
                Some(resp) => {
                    let code = resp.status_code.code();
                    if state == State::Proceeding {
                        if code < 200 {
                            last = message::encode_response(&resp);
                            ctx.send(last.clone(), false);
                        } else {
                            request = None;
                            send_final(&resp, &mut state, &mut last, &mut timer_g, &mut deadline);
                        }
                    } else if state == State::Accepted && (200..300).contains(&code) {
                        // A 2xx retransmission from the UA core.
                        ctx.send(message::encode_response(&resp), true);
                    }
                }
            },
            _ = sleep_opt(timer_g), if timer_g.is_some() => {
                ctx.send(last.clone(), true);
                g_interval = timers.backoff_capped(g_interval);
                timer_g = Some(Instant::now() + g_interval);
            }
            _ = sleep_opt(deadline), if deadline.is_some() => {
                return match state {
                    State::Completed => ServerOutcome::NoAck,
                    State::Accepted => ServerOutcome::Accepted,
                    _ => ServerOutcome::Completed,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::*;
    use crate::transport::TransportKind;

    struct Harness {
        net: mpsc::UnboundedSender<ServerInput>,
        tu: mpsc::UnboundedSender<rsip::Response>,
        out: mpsc::UnboundedReceiver<crate::transport::Outgoing>,
        task: tokio::task::JoinHandle<ServerOutcome>,
        cancelled: CancellationToken,
        req: rsip::Request,
        start: Instant,
    }

    fn start(kind: TransportKind) -> Harness {
        let (ctx, out) = ctx(kind);
        let (net, net_rx) = mpsc::unbounded_channel();
        let (tu, tu_rx) = mpsc::unbounded_channel();
        let cancelled = CancellationToken::new();
        let req = request("INVITE");
        let task = tokio::spawn(run(
            ctx,
            req.clone(),
            "localtag".into(),
            net_rx,
            tu_rx,
            cancelled.clone(),
        ));
        Harness {
            net,
            tu,
            out,
            task,
            cancelled,
            req,
            start: Instant::now(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn non_2xx_final_is_retransmitted_on_g_until_timer_h() {
        let mut h = start(TransportKind::Udp);
        assert_eq!(
            next(&mut h.out, h.start).await.unwrap(),
            (0, "SIP/2.0 100 Trying".into())
        );
        h.tu.send(response(&h.req, 486)).unwrap();
        let mut times = vec![];
        while let Some((t, line)) = next(&mut h.out, h.start).await {
            assert_eq!(line, "SIP/2.0 486 Busy Here");
            times.push(t);
            if times.len() == 11 {
                break;
            }
        }
        // G: 0.5, 1, 2, 4, 4, 4 ... capped at T2, from the first send at 0.
        assert_eq!(
            times,
            vec![
                0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
            ]
        );
        assert_eq!(h.task.await.unwrap(), ServerOutcome::NoAck);
        // Timer H fired at 32 s: nothing after it.
        assert_eq!(h.start.elapsed().as_millis(), 32000);
    }

    #[tokio::test(start_paused = true)]
    async fn ack_stops_retransmissions_and_timer_i_ends_it() {
        let mut h = start(TransportKind::Udp);
        next(&mut h.out, h.start).await.unwrap();
        h.tu.send(response(&h.req, 404)).unwrap();
        assert_eq!(next(&mut h.out, h.start).await.unwrap().0, 0);
        assert_eq!(next(&mut h.out, h.start).await.unwrap().0, 500);
        let mut ack = request("ACK");
        ack.method = Method::Ack;
        h.net.send(ServerInput::Request(Box::new(ack))).unwrap();
        assert_eq!(h.task.await.unwrap(), ServerOutcome::Completed);
        assert_eq!(h.start.elapsed().as_millis(), 500 + 5000, "timer I = T4");
        assert!(h.out.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn request_retransmission_repeats_the_last_provisional() {
        let mut h = start(TransportKind::Udp);
        next(&mut h.out, h.start).await.unwrap();
        h.tu.send(response(&h.req, 180)).unwrap();
        assert_eq!(
            next(&mut h.out, h.start).await.unwrap().1,
            "SIP/2.0 180 Ringing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        h.net
            .send(ServerInput::Request(Box::new(h.req.clone())))
            .unwrap();
        assert_eq!(
            next(&mut h.out, h.start).await.unwrap(),
            (300, "SIP/2.0 180 Ringing".into())
        );
        h.tu.send(response(&h.req, 200)).unwrap();
        assert_eq!(next(&mut h.out, h.start).await.unwrap().1, "SIP/2.0 200 OK");
        // Accepted: INVITE retransmissions are absorbed, not answered.
        h.net
            .send(ServerInput::Request(Box::new(h.req.clone())))
            .unwrap();
        assert_eq!(h.task.await.unwrap(), ServerOutcome::Accepted);
        assert_eq!(h.start.elapsed().as_millis(), 300 + 32000, "timer L");
        assert!(h.out.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_answers_487_and_fires_the_token() {
        let mut h = start(TransportKind::Udp);
        next(&mut h.out, h.start).await.unwrap();
        h.net.send(ServerInput::Cancel).unwrap();
        let (_, line) = next(&mut h.out, h.start).await.unwrap();
        assert_eq!(line, "SIP/2.0 487 Request Terminated");
        assert!(h.cancelled.is_cancelled());
        // A late final answer from the application is ignored.
        h.tu.send(response(&h.req, 200)).unwrap();
        let (t, line) = next(&mut h.out, h.start).await.unwrap();
        assert_eq!((t, line.as_str()), (500, "SIP/2.0 487 Request Terminated"));
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_application_handle_gets_500_and_tcp_has_no_retransmissions() {
        let mut h = start(TransportKind::Tcp);
        next(&mut h.out, h.start).await.unwrap();
        drop(h.tu);
        let (_, line) = next(&mut h.out, h.start).await.unwrap();
        assert_eq!(line, "SIP/2.0 500 Server Internal Error");
        let mut ack = request("ACK");
        ack.method = Method::Ack;
        h.net.send(ServerInput::Request(Box::new(ack))).unwrap();
        assert_eq!(h.task.await.unwrap(), ServerOutcome::Completed);
        assert_eq!(h.start.elapsed().as_millis(), 0, "timer I is zero on TCP");
        assert!(h.out.try_recv().is_err());
    }
}
