//! The process's open-files limit: raised to the hard limit at start, checked
//! against what the configuration may open, and read for `/metrics`.
//!
//! Every SIP TCP connection, HTTP connection and RTP socket is a file
//! descriptor. The usual soft limit of 1,024 is gone after a few hundred calls
//! or a few hundred idle connections, and then nothing new can be opened: calls
//! get 503 and health checks fail. So the soft limit is raised as far as the
//! hard limit allows, the start-up log says what was granted, and a warning
//! names the shortfall when the configured caps could need more.

use crate::config::Config;

/// The open-files limit before and after raising it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit the process started with.
    pub before: u64,
    /// The soft limit now.
    pub granted: u64,
    /// The hard limit (only root can raise it).
    pub hard: u64,
}

/// Raises the soft open-files limit to the hard limit; `None` where the system
/// has no such limit or refuses to say.
pub fn raise_open_files() -> Option<OpenFiles> {
    let (before, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    let granted = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(before);
    Some(OpenFiles {
        before,
        granted,
        hard,
    })
}

/// Descriptors the configuration may need at its limits: two RTP sockets per
/// call (caller and agent legs), every SIP TCP and HTTP connection the caps
/// allow, and a margin for the store, logs, recordings and lookups.
pub fn needed(config: &Config) -> u64 {
    let tcp = if config.sip.tcp {
        config.sip.limits.tcp_connections as u64
    } else {
        0
    };
    2 * config.limits.max_calls as u64 + tcp + config.http.max_connections as u64 + 256
}

/// Raises the limit and logs what was granted, warning when the configured
/// limits could need more descriptors than that.
pub fn raise_and_report(config: &Config) -> Option<OpenFiles> {
    let files = raise_open_files()?;
    let need = needed(config);
    tracing::info!(
        before = files.before,
        granted = files.granted,
        hard = files.hard,
        "open-files limit: {} (was {}, hard limit {})",
        files.granted,
        files.before,
        files.hard
    );
    if files.granted < need {
        tracing::warn!(
            "the open-files limit {} is below the {need} descriptors the limits may need \
             (2 x limits.max_calls + sip.limits.tcp_connections + http.max_connections + 256): \
             raise the hard limit (LimitNOFILE= in systemd, `ulimit -Hn` as root) or lower those limits",
            files.granted
        );
    }
    Some(files)
}

/// Open descriptors now and the soft limit, for `/metrics` (Linux: counts
/// `/proc/self/fd`).
pub fn open_files() -> Option<(u64, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    Some((open, soft))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_limit() {
        let files = raise_open_files().expect("Linux has an open-files limit");
        assert!(files.granted >= files.before);
        assert!(
            files.granted == files.hard || files.granted >= 1 << 20,
            "{files:?}"
        );
        let (open, soft) = open_files().expect("/proc/self/fd");
        assert!(open > 0 && soft == files.granted);
    }

    #[test]
    fn the_budget_counts_calls_and_connections() {
        let c = Config::default();
        assert_eq!(needed(&c), 2 * 4000 + 1024 + 512 + 256);
    }
}
