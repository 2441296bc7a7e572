//! Live counters, exported for Prometheus at `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters and gauges of the running server.
#[derive(Debug, Default)]
pub struct Stats {
    /// Calls received (INVITEs accepted for processing).
    pub calls_total: AtomicU64,
    /// Calls refused with 503 (limits, shutdown).
    pub calls_refused: AtomicU64,
    /// Calls refused with 488 (no common codec).
    pub calls_no_codec: AtomicU64,
    /// Calls in progress.
    pub calls_active: AtomicI64,
    /// Calls that ended in a flow error nothing handled.
    pub flow_errors: AtomicU64,
    /// Steps the flows' programs took, all calls together: one per command a
    /// program returned to its call (a prompt, a menu, a transfer...).
    pub flow_steps: AtomicU64,
    /// 20 ms media ticks of ended calls.
    pub rtp_ticks: AtomicU64,
    /// Of those, ticks sent more than 2 ms from their deadline either way.
    pub rtp_off_time_ticks: AtomicU64,
    /// Ticks skipped after a stall.
    pub rtp_skipped_ticks: AtomicU64,
    /// RTP packets sent by ended calls.
    pub rtp_packets_sent: AtomicU64,
    /// RTP packets received by ended calls.
    pub rtp_packets_received: AtomicU64,
    /// Outbound calls the policy refused (plans, trunks, guard).
    pub outbound_refused: AtomicU64,
    /// Alarms of the outbound guard (an account near its hourly limit).
    pub outbound_alarms: AtomicU64,
    /// The SIP endpoint's message counters, once it is bound.
    pub sip: std::sync::OnceLock<std::sync::Arc<dialect_sip::message::Counters>>,
    /// The RTP port allocator, for its count of sockets refused for want of a
    /// file descriptor.
    pub ports: std::sync::OnceLock<dialect_media::PortAllocator>,
    /// INVITEs refused with 503 because their source reached its per-source limit.
    pub calls_refused_per_source: AtomicU64,
    /// HTTP connections closed at once because a connection cap was reached.
    pub http_connections_refused: AtomicU64,
    /// HTTP connections that could not be accepted for want of a file descriptor.
    pub http_descriptors_exhausted: AtomicU64,
    /// Digest authentication of agent phones (failures by reason, lock-outs).
    pub sip_auth: std::sync::OnceLock<std::sync::Arc<dialect_sip::auth::AuthCounters>>,
    /// INVITEs refused with 503 because the node was overloaded.
    pub calls_refused_overload: AtomicU64,
    /// The measured load, once the server runs.
    pub load: std::sync::OnceLock<crate::overload::LoadGuard>,
    /// The flow-statistics writer's channel, for its count of calls whose
    /// figures were dropped because the writer was behind.
    pub flow_stats: std::sync::OnceLock<crate::flowstats::FlowStatsSink>,
}

impl Stats {
    /// Adds an ended call's media counters.
    pub fn add_media(&self, m: &dialect_media::SessionStats) {
        self.rtp_ticks.fetch_add(m.ticks, Ordering::Relaxed);
        self.rtp_off_time_ticks
            .fetch_add(m.off_time_ticks, Ordering::Relaxed);
        self.rtp_skipped_ticks
            .fetch_add(m.skipped_ticks, Ordering::Relaxed);
        self.rtp_packets_sent
            .fetch_add(m.packets_sent, Ordering::Relaxed);
        self.rtp_packets_received
            .fetch_add(m.packets_received, Ordering::Relaxed);
    }

    /// Sockets refused for want of a file descriptor, by SIP, HTTP and RTP together.
    pub fn descriptors_exhausted(&self) -> u64 {
        let sip = self
            .sip
            .get()
            .map_or(0, |c| c.descriptors_exhausted.load(Ordering::Relaxed));
        let rtp = self.ports.get().map_or(0, |p| p.descriptors_exhausted());
        sip + rtp + self.http_descriptors_exhausted.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "dialect_calls_total",
            "Calls received.",
            self.calls_total.load(Ordering::Relaxed),
        );
        counter(
            "dialect_outbound_refused_total",
            "Outbound calls the outbound-call policy refused.",
            self.outbound_refused.load(Ordering::Relaxed),
        );
        counter(
            "dialect_outbound_guard_alarms_total",
            "Accounts that neared their hourly outbound limit.",
            self.outbound_alarms.load(Ordering::Relaxed),
        );
        counter(
            "dialect_calls_refused_total",
            "Calls refused with 503.",
            self.calls_refused.load(Ordering::Relaxed),
        );
        counter(
            "dialect_calls_no_codec_total",
            "Calls refused with 488.",
            self.calls_no_codec.load(Ordering::Relaxed),
        );
        counter(
            "dialect_flow_errors_total",
            "Unhandled flow errors.",
            self.flow_errors.load(Ordering::Relaxed),
        );
        counter(
            "dialect_flow_steps_total",
            "Flow steps run.",
            self.flow_steps.load(Ordering::Relaxed),
        );
        counter(
            "dialect_rtp_ticks_total",
            "20 ms media ticks of ended calls.",
            self.rtp_ticks.load(Ordering::Relaxed),
        );
        counter(
            "dialect_rtp_off_time_ticks_total",
            "Media ticks sent more than 2 ms from their deadline, late or early.",
            self.rtp_off_time_ticks.load(Ordering::Relaxed),
        );
        counter(
            "dialect_rtp_skipped_ticks_total",
            "Media ticks skipped after a stall.",
            self.rtp_skipped_ticks.load(Ordering::Relaxed),
        );
        counter(
            "dialect_rtp_packets_sent_total",
            "RTP packets sent by ended calls.",
            self.rtp_packets_sent.load(Ordering::Relaxed),
        );
        counter(
            "dialect_rtp_packets_received_total",
            "RTP packets received by ended calls.",
            self.rtp_packets_received.load(Ordering::Relaxed),
        );
        let drops = dialect_media::drop_stats();
        counter(
            "dialect_rtp_dropped_wrong_source_total",
            "Datagrams to a call's RTP port from a source that is not the call's far end.",
            drops.wrong_source,
        );
        counter(
            "dialect_srtp_rejected_total",
            "SRTP packets from the far end's address that failed authentication or were replayed.",
            drops.srtp_rejected,
        );
        let clock = dialect_media::clock_stats();
        counter(
            "dialect_media_clock_wakes_total",
            "Grid milliseconds the media clock threads woke for.",
            clock.wakes,
        );
        counter(
            "dialect_media_clock_late_wakes_total",
            "Media clock wake-ups more than 1 ms late.",
            clock.late_wakes,
        );
        counter(
            "dialect_media_clock_long_visits_total",
            "Grid milliseconds whose media work took more than 1 ms.",
            clock.long_visits,
        );
        counter(
            "dialect_media_clock_helped_total",
            "Times a media clock thread did the overdue work of another that was held up.",
            clock.helped,
        );
        if let Some(sip) = self.sip.get() {
            let c = sip.snapshot();
            counter(
                "dialect_sip_received_total",
                "SIP messages received and parsed.",
                c.received,
            );
            counter(
                "dialect_sip_bad_request_total",
                "Malformed SIP requests answered 400 (or 501).",
                c.bad_request_sent,
            );
            counter(
                "dialect_sip_malformed_dropped_total",
                "Malformed SIP messages dropped without an answer.",
                c.malformed_dropped,
            );
            counter(
                "dialect_sip_retransmissions_total",
                "SIP retransmissions sent.",
                c.retransmissions,
            );
            counter(
                "dialect_sip_over_limits_total",
                "SIP messages over a size or header-count limit (answered 513 or 400, or dropped).",
                c.over_limits,
            );
            counter(
                "dialect_sip_tcp_refused_total",
                "SIP TCP connections closed at once because a connection cap was reached.",
                c.connections_refused,
            );
            counter(
                "dialect_sip_tcp_timed_out_total",
                "SIP TCP connections closed for a message too slow or a connection idle too long.",
                c.connections_timed_out,
            );
        }
        counter(
            "dialect_flow_stats_dropped_total",
            "Calls whose statistics per flow were dropped because the writer was behind.",
            self.flow_stats.get().map_or(0, |s| s.dropped()),
        );
        counter(
            "dialect_calls_refused_per_source_total",
            "INVITEs refused with 503 because their source address reached its limit.",
            self.calls_refused_per_source.load(Ordering::Relaxed),
        );
        counter(
            "dialect_calls_refused_overload_total",
            "INVITEs refused with 503 because the node was past its measured capacity.",
            self.calls_refused_overload.load(Ordering::Relaxed),
        );
        counter(
            "dialect_http_refused_total",
            "HTTP connections closed at once because a connection cap was reached.",
            self.http_connections_refused.load(Ordering::Relaxed),
        );
        counter(
            "dialect_descriptors_exhausted_total",
            "Sockets (SIP TCP, HTTP, RTP) not opened because the process had no file descriptor left.",
            self.descriptors_exhausted(),
        );
        let fds = crate::limits::open_files();
        if let Some((open, max)) = fds {
            let _ = writeln!(
                out,
                "# HELP process_open_fds Open file descriptors.\n# TYPE process_open_fds gauge\nprocess_open_fds {open}\n\
                 # HELP process_max_fds The open-files limit.\n# TYPE process_max_fds gauge\nprocess_max_fds {max}"
            );
        }
        if let Some(auth) = self.sip_auth.get() {
            sip_auth(&mut out, auth);
        }
        if let Some(load) = self.load.get() {
            let r = load.reading();
            let _ = writeln!(
                out,
                "# HELP dialect_overloaded 1 while new calls are refused for load.
# TYPE dialect_overloaded gauge
dialect_overloaded {}
\
                 # HELP dialect_overload_episodes_total Times the node became overloaded.
# TYPE dialect_overload_episodes_total counter
dialect_overload_episodes_total {}
\
                 # HELP dialect_scheduling_delay_seconds Smoothed lateness of the call tasks' scheduler.
# TYPE dialect_scheduling_delay_seconds gauge
dialect_scheduling_delay_seconds {:.6}
\
                 # HELP dialect_media_late_wakes_percent Media clock wake-ups over 1 ms late in the last half second.
# TYPE dialect_media_late_wakes_percent gauge
dialect_media_late_wakes_percent {}",
                u8::from(load.refusal().is_some()),
                load.episodes(),
                r.scheduling_delay.as_secs_f64(),
                r.media_late_percent,
            );
        }
        let _ = writeln!(
            out,
            "# HELP dialect_calls_active Calls in progress.\n# TYPE dialect_calls_active gauge\ndialect_calls_active {}",
            self.calls_active.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP dialect_media_clock_max_wake_late_us Latest media clock wake-up so far, in microseconds.\n\
             # TYPE dialect_media_clock_max_wake_late_us gauge\n\
             dialect_media_clock_max_wake_late_us {}",
            clock.max_wake_late_us
        );
        let _ = writeln!(
            out,
            "# HELP dialect_media_clock_max_visit_us Longest media work of one grid millisecond so far, in microseconds.\n\
             # TYPE dialect_media_clock_max_visit_us gauge\n\
             dialect_media_clock_max_visit_us {}",
            clock.max_visit_us
        );
        out
    }
}

/// The authentication counters: failures by reason (a label each, all listed
/// from zero so that alerts can be written before the first failure),
/// successes, and lock-outs by kind.
fn sip_auth(out: &mut String, auth: &dialect_sip::auth::AuthCounters) {
    use dialect_sip::auth::AuthFailure;
    let _ = writeln!(
        out,
        "# HELP dialect_sip_auth_failures_total SIP digest authentication failures of agent phones, by reason.\n\
         # TYPE dialect_sip_auth_failures_total counter"
    );
    for f in AuthFailure::ALL {
        let _ = writeln!(
            out,
            "dialect_sip_auth_failures_total{{reason=\"{}\"}} {}",
            f.label(),
            auth.failures(f)
        );
    }
    let _ = writeln!(
        out,
        "# HELP dialect_sip_auth_success_total Requests of agent phones authenticated.\n\
         # TYPE dialect_sip_auth_success_total counter\n\
         dialect_sip_auth_success_total {}",
        auth.successes()
    );
    let _ = writeln!(
        out,
        "# HELP dialect_sip_auth_lockouts_total Lock-outs started after repeated authentication failures.\n\
         # TYPE dialect_sip_auth_lockouts_total counter\n\
         dialect_sip_auth_lockouts_total{{kind=\"source\"}} {}\n\
         dialect_sip_auth_lockouts_total{{kind=\"user\"}} {}",
        auth.source_lockouts(),
        auth.user_lockouts()
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::flowstats::{FlowStats, FlowStatsSink};

    /// A listener on a loopback port of 3000–3099 (picked by process id,
    /// the next one tried when taken).
    async fn listener() -> tokio::net::TcpListener {
        let first = 3_000 + (std::process::id() % 100) as u16;
        for i in 0..100 {
            let port = 3_000 + (first - 3_000 + i) % 100;
            if let Ok(l) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                return l;
            }
        }
        panic!("no free port in 3000-3099");
    }

    #[tokio::test]
    async fn metrics_export_the_flow_statistics_dropped() {
        let dir = std::env::temp_dir().join(format!(
            "dialect-stats-metrics-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let store: crate::store::SharedStore =
            Arc::new(crate::store::SledStore::open(&dir).expect("a store"));
        let mut state = crate::api::hotline_state(store, &[]).await;
        let stats = Arc::new(Stats::default());
        let (sink, _held) = FlowStatsSink::stalled(1);
        stats.flow_stats.set(sink.clone()).expect("set once");
        state.stats = stats;
        let l = listener().await;
        let addr = l.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(l, crate::api::router(state)).await });

        let scrape = || async {
            let r = reqwest::get(format!("http://{addr}/metrics"))
                .await
                .expect("an answer");
            assert_eq!(r.status(), 200);
            let text = r.text().await.expect("text");
            text.lines()
                .find_map(|l| l.strip_prefix("dialect_flow_stats_dropped_total "))
                .map(|v| v.parse::<u64>().expect("a count"))
                .expect("the counter is exported")
        };
        assert_eq!(scrape().await, 0);
        // One call fills the stalled writer's channel; the next three are dropped.
        for i in 0..4 {
            sink.record(i, FlowStats::default());
        }
        assert_eq!(scrape().await, 3);
        let _ = std::fs::remove_dir_all(dir);
    }
}
