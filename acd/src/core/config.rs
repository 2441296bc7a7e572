//! [`AcdConfig`]: the ACD settings that queues do not state, read from the
//! `acd:` section of the configuration, with their defaults and the reader for
//! durations written as in flows (`20s`) or as milliseconds.

use serde::Deserialize;

/// Reads a duration written as in flows (`20s`) or as a number of milliseconds.
fn de_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ms {
        Num(i64),
        Text(String),
    }
    match Ms::deserialize(d)? {
        Ms::Num(n) => Ok(n),
        Ms::Text(s) => dialect_lang::literal::parse_duration(s.trim())
            .filter(|ms| *ms >= 0)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("`{s}` is not a duration such as 30s"))
            }),
    }
}

/// Settings of the ACD that queues do not state (the `acd:` section of the
/// configuration). Durations are written as in flows (`20s`) or as milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcdConfig {
    /// How long an offer rings when the queue has no `no answer` rule.
    #[serde(deserialize_with = "de_ms")]
    pub default_ring_ms: i64,
    /// Missed offers before an agent is made not ready, when the queue's agent policy does not say.
    pub default_max_missed: u32,
    /// How often time-dependent priorities and overflow rules are looked at.
    #[serde(deserialize_with = "de_ms")]
    pub reevaluate_ms: i64,
    /// Attempts to reach a customer who chose a callback.
    pub callback_attempts: u32,
    /// Wait between callback attempts.
    #[serde(deserialize_with = "de_ms")]
    pub callback_retry_ms: i64,
    /// How long a callback, or an agent's outbound call, rings the far end.
    #[serde(deserialize_with = "de_ms")]
    pub callback_ring_ms: i64,
    /// Trunk (name or group) for callbacks ("" = the trunk the call came in on).
    pub callback_trunk: String,
    /// Caller id presented on callbacks ("" = the trunk's).
    pub callback_caller_id: String,
    /// Handle time assumed before a queue has answered calls.
    #[serde(deserialize_with = "de_ms")]
    pub default_handle_ms: i64,
    /// Recent calls that make up a queue's `service_level`.
    pub service_level_window: usize,
    /// `estimated_wait` in rules when nobody staffs the queue.
    #[serde(deserialize_with = "de_ms")]
    pub unknown_wait_ms: i64,
    /// Wrap-up after an agent's outbound call.
    #[serde(deserialize_with = "de_ms")]
    pub outbound_wrap_ms: i64,
    /// How long a placed call (callback, outbound) may take to answer or fail
    /// before the reserved agent is released.
    #[serde(deserialize_with = "de_ms")]
    pub dial_timeout_ms: i64,
}

impl Default for AcdConfig {
    fn default() -> AcdConfig {
        AcdConfig {
            default_ring_ms: 20_000,
            default_max_missed: 1,
            reevaluate_ms: 1_000,
            callback_attempts: 3,
            callback_retry_ms: 300_000,
            callback_ring_ms: 30_000,
            callback_trunk: String::new(),
            callback_caller_id: String::new(),
            default_handle_ms: 180_000,
            service_level_window: 100,
            unknown_wait_ms: 3_600_000,
            outbound_wrap_ms: 0,
            dial_timeout_ms: 90_000,
        }
    }
}
