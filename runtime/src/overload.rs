//! Admission by measured load: past what the machine can carry, new calls are
//! refused at once with 503 so that the calls already admitted keep prompt
//! answers and media on time, and a SIP front (Kamailio's dispatcher probing
//! with OPTIONS) sends new calls to nodes with room.
//!
//! Static limits (`max_calls`, `calls_per_second`) are right only for the
//! machine they were measured on, and wrong when the machine is shared or a
//! call costs more than usual. So a sampler measures, every
//! [`SAMPLE_PERIOD`], three signs of a machine past its capacity:
//!
//! - how late the call tasks' scheduler runs a task that asked to wake up
//!   (a smoothed average): answers, prompts and transfers all wait that long;
//! - the share of the media clock threads' wake-ups more than 1 ms late over
//!   the last window: packets leave off time;
//! - the CPU idle share of the whole machine (`/proc/stat`), as FreeSWITCH's
//!   `min-idle-cpu` does, when configured.
//!
//! Any one past its limit makes the node overloaded; it stays so until every
//! signal is back well inside (half the delay, 5 points under the media
//! share, 5 points over the idle floor), so that the answer does not flap
//! with each sample.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::Limits;

/// How often the scheduler's lateness is sampled.
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(10);

/// Samples per window of the slower signals (media clock, CPU idle).
const SAMPLES_PER_WINDOW: u32 = 50;

/// The limits the guard enforces (zero turns a signal off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Smoothed scheduling delay past which the node is overloaded.
    pub max_scheduling_delay: Duration,
    /// Share of late media clock wake-ups (percent) past which it is.
    pub max_media_late_percent: u32,
    /// CPU idle (percent of the machine) under which it is.
    pub min_idle_cpu: u32,
}

impl Thresholds {
    /// From the configuration's `limits`.
    pub fn of(limits: &Limits) -> Thresholds {
        Thresholds {
            max_scheduling_delay: limits.max_scheduling_delay.0,
            max_media_late_percent: limits.max_media_late_percent,
            min_idle_cpu: limits.min_idle_cpu,
        }
    }
}

/// One reading of the signals.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reading {
    /// Smoothed scheduling delay.
    pub scheduling_delay: Duration,
    /// Late media wake-ups in the last window, percent (0 without media).
    pub media_late_percent: u32,
    /// CPU idle in the last window, percent (100 where it cannot be read).
    pub idle_cpu: u32,
}

/// Why a node is overloaded, or `None`.
pub fn judge(t: &Thresholds, r: &Reading, was_overloaded: bool) -> Option<&'static str> {
    // Leaving takes a margin, entering none: no flapping around a limit.
    let (delay_limit, media_limit, idle_floor) = if was_overloaded {
        (
            t.max_scheduling_delay / 2,
            t.max_media_late_percent.saturating_sub(5),
            t.min_idle_cpu.saturating_add(5).min(100),
        )
    } else {
        (
            t.max_scheduling_delay,
            t.max_media_late_percent,
            t.min_idle_cpu,
        )
    };
    if !t.max_scheduling_delay.is_zero() && r.scheduling_delay > delay_limit {
        return Some("the call tasks run late");
    }
    if t.max_media_late_percent > 0 && r.media_late_percent > media_limit {
        return Some("the media clock runs late");
    }
    if t.min_idle_cpu > 0 && r.idle_cpu < idle_floor {
        return Some("the CPU is busy");
    }
    None
}

#[derive(Debug, Default)]
struct Shared {
    overloaded: AtomicBool,
    /// Why, as an index into [`REASONS`] (meaningful while overloaded).
    reason: AtomicU32,
    delay_us: AtomicU64,
    media_late_percent: AtomicU32,
    idle_cpu: AtomicU32,
    /// Times the node became overloaded.
    episodes: AtomicU64,
}

const REASONS: [&str; 3] = [
    "the call tasks run late",
    "the media clock runs late",
    "the CPU is busy",
];

/// The node's load, as the sampler last judged it; cheap to ask on every INVITE.
#[derive(Debug, Clone, Default)]
pub struct LoadGuard {
    shared: Arc<Shared>,
}

impl LoadGuard {
    /// A guard that never refuses (for tests and tools that run no sampler).
    pub fn off() -> LoadGuard {
        LoadGuard::default()
    }

    /// Starts the sampler on the current runtime (the call tasks' own, so its
    /// lateness is theirs) until `shutdown`.
    pub fn start(thresholds: Thresholds, shutdown: CancellationToken) -> LoadGuard {
        let guard = LoadGuard::default();
        let shared = guard.shared.clone();
        shared.idle_cpu.store(100, Ordering::Relaxed);
        tokio::spawn(async move {
            let mut delay = Duration::ZERO;
            let mut sample = 0u32;
            let mut clock = dialect_media::clock_stats();
            let mut cpu = CpuTimes::read();
            loop {
                let asked = Instant::now();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(SAMPLE_PERIOD) => {}
                }
                let late = asked.elapsed().saturating_sub(SAMPLE_PERIOD);
                // An average over about eight samples: one slow poll is noise.
                delay = (delay * 7 + late) / 8;
                shared
                    .delay_us
                    .store(delay.as_micros() as u64, Ordering::Relaxed);
                sample += 1;
                if sample.is_multiple_of(SAMPLES_PER_WINDOW) {
                    let now = dialect_media::clock_stats();
                    let wakes = now.wakes.saturating_sub(clock.wakes);
                    let late_wakes = now.late_wakes.saturating_sub(clock.late_wakes);
                    let share = (late_wakes * 100).checked_div(wakes).unwrap_or(0) as u32;
                    shared.media_late_percent.store(share, Ordering::Relaxed);
                    clock = now;
                    let times = CpuTimes::read();
                    if let (Some(before), Some(after)) = (cpu, times) {
                        shared
                            .idle_cpu
                            .store(after.idle_percent_since(&before), Ordering::Relaxed);
                    }
                    cpu = times;
                }
                let reading = guard_reading(&shared);
                let was = shared.overloaded.load(Ordering::Relaxed);
                match judge(&thresholds, &reading, was) {
                    Some(why) => {
                        let index = REASONS.iter().position(|r| *r == why).unwrap_or(0);
                        shared.reason.store(index as u32, Ordering::Relaxed);
                        if !was {
                            shared.episodes.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(
                                delay_ms = reading.scheduling_delay.as_millis() as u64,
                                media_late_percent = reading.media_late_percent,
                                idle_cpu = reading.idle_cpu,
                                "overloaded ({why}): new calls get 503"
                            );
                        }
                        shared.overloaded.store(true, Ordering::Relaxed);
                    }
                    None => {
                        if was {
                            tracing::info!("load back within limits: new calls are admitted");
                        }
                        shared.overloaded.store(false, Ordering::Relaxed);
                    }
                }
            }
        });
        guard
    }

    /// Why new calls are refused now, or `None` when the node has room.
    pub fn refusal(&self) -> Option<&'static str> {
        self.shared
            .overloaded
            .load(Ordering::Relaxed)
            .then(|| REASONS[self.shared.reason.load(Ordering::Relaxed) as usize % REASONS.len()])
    }

    /// The last reading of the signals.
    pub fn reading(&self) -> Reading {
        guard_reading(&self.shared)
    }

    /// Times the node became overloaded since it started.
    pub fn episodes(&self) -> u64 {
        self.shared.episodes.load(Ordering::Relaxed)
    }
}

fn guard_reading(shared: &Shared) -> Reading {
    Reading {
        scheduling_delay: Duration::from_micros(shared.delay_us.load(Ordering::Relaxed)),
        media_late_percent: shared.media_late_percent.load(Ordering::Relaxed),
        idle_cpu: shared.idle_cpu.load(Ordering::Relaxed),
    }
}

/// The machine's CPU time so far (the `cpu` line of `/proc/stat`), in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuTimes {
    idle: u64,
    total: u64,
}

impl CpuTimes {
    fn read() -> Option<CpuTimes> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        CpuTimes::parse(&text)
    }

    fn parse(text: &str) -> Option<CpuTimes> {
        let line = text.lines().find(|l| l.starts_with("cpu "))?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal ...: idle and iowait
        // are time the CPU could have given to us.
        let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
        Some(CpuTimes {
            idle,
            total: fields.iter().take(8).sum(),
        })
    }

    fn idle_percent_since(&self, before: &CpuTimes) -> u32 {
        let total = self.total.saturating_sub(before.total);
        if total == 0 {
            return 100;
        }
        (self.idle.saturating_sub(before.idle) * 100 / total) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Thresholds = Thresholds {
        max_scheduling_delay: Duration::from_millis(40),
        max_media_late_percent: 20,
        min_idle_cpu: 10,
    };

    fn reading(delay_ms: u64, media: u32, idle: u32) -> Reading {
        Reading {
            scheduling_delay: Duration::from_millis(delay_ms),
            media_late_percent: media,
            idle_cpu: idle,
        }
    }

    #[test]
    fn each_signal_past_its_limit_overloads_the_node() {
        assert_eq!(judge(&LIMITS, &reading(5, 2, 60), false), None);
        assert_eq!(
            judge(&LIMITS, &reading(41, 2, 60), false),
            Some("the call tasks run late")
        );
        assert_eq!(
            judge(&LIMITS, &reading(5, 21, 60), false),
            Some("the media clock runs late")
        );
        assert_eq!(
            judge(&LIMITS, &reading(5, 2, 9), false),
            Some("the CPU is busy")
        );
    }

    #[test]
    fn an_overloaded_node_recovers_only_well_inside_the_limits() {
        // Just under the limits: still overloaded once overloaded...
        assert!(judge(&LIMITS, &reading(30, 2, 60), true).is_some());
        assert!(judge(&LIMITS, &reading(5, 18, 60), true).is_some());
        assert!(judge(&LIMITS, &reading(5, 2, 12), true).is_some());
        // ...and admitted again with the margin.
        assert_eq!(judge(&LIMITS, &reading(19, 14, 16), true), None);
    }

    #[test]
    fn zero_limits_turn_signals_off() {
        let off = Thresholds {
            max_scheduling_delay: Duration::ZERO,
            max_media_late_percent: 0,
            min_idle_cpu: 0,
        };
        assert_eq!(judge(&off, &reading(10_000, 100, 0), false), None);
    }

    #[test]
    fn cpu_idle_is_read_from_proc_stat() {
        let before = CpuTimes::parse("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        let after = CpuTimes::parse("cpu  190 0 190 710 110 0 0 0 0 0\n").unwrap();
        // 200 ticks went by, 20 of them idle or waiting for IO.
        assert_eq!(after.idle_percent_since(&before), 10);
        assert_eq!(CpuTimes::parse("intr 1 2 3\n"), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_runtime_blocked_past_the_limit_refuses_calls_and_recovers() {
        let shutdown = CancellationToken::new();
        let guard = LoadGuard::start(
            Thresholds {
                max_scheduling_delay: Duration::from_millis(20),
                max_media_late_percent: 0,
                min_idle_cpu: 0,
            },
            shutdown.clone(),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(guard.refusal(), None, "{:?}", guard.reading());
        // Tasks that hold the only thread for 300 ms each: the sampler wakes
        // that late, as every call task would.
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(300));
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(guard.refusal(), Some("the call tasks run late"));
        assert_eq!(guard.episodes(), 1);
        // Unblocked, the average decays under half the limit within a second.
        let deadline = Instant::now() + Duration::from_secs(3);
        while guard.refusal().is_some() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(guard.refusal(), None, "{:?}", guard.reading());
        shutdown.cancel();
    }
}
