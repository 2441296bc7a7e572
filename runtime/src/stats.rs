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
    /// Flow steps run.
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
    /// The SIP endpoint's message counters, once it is bound.
    pub sip: std::sync::OnceLock<std::sync::Arc<dialect_sip::message::Counters>>,
    /// Digest authentication of agent phones (failures by reason, lock-outs).
    pub sip_auth: std::sync::OnceLock<std::sync::Arc<dialect_sip::auth::AuthCounters>>,
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
        }
        if let Some(auth) = self.sip_auth.get() {
            sip_auth(&mut out, auth);
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
