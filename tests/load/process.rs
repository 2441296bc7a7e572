//! What the load tools read: the runtime's process from /proc, and SIPp's
//! statistics file.

/// User + system CPU seconds of process `pid` so far (0 when it cannot be read).
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after it are fixed.
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The successful and failed calls of a SIPp run, from the last line of its
/// statistics file (`-trace_stat -stf FILE`); zeros when there is none.
pub(crate) fn sipp_totals(stats: &std::path::Path) -> (u64, u64) {
    let csv = std::fs::read_to_string(stats).unwrap_or_default();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(';').collect();
    let last: Vec<&str> = lines.last().unwrap_or("").split(';').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| last.get(i)?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (col("SuccessfulCall(C)"), col("FailedCall(C)"))
}
