//! The recorded prompts a queue's `announce position` and `announce wait` are
//! made of. The runtime plays them and the checker makes sure the project has
//! every one, so a caller never waits through an announcement that is silent
//! because its file is missing.
//!
//! A position is read from `queue_position_1.wav` to `queue_position_20.wav`,
//! and `queue_position_more.wav` beyond 20 ("more than twenty callers are ahead
//! of you"); an estimated wait, rounded up to whole minutes, from
//! `queue_wait_1m.wav` to `queue_wait_30m.wav`, and `queue_wait_more.wav`
//! beyond 30 minutes.

/// The highest position with a prompt of its own.
pub const MAX_POSITION: u32 = 20;

/// The longest wait, in minutes, with a prompt of its own.
pub const MAX_WAIT_MINUTES: i64 = 30;

/// The prompt that announces a caller's position (1 = next).
pub fn position_prompt(position: u32) -> String {
    match position {
        0 | 1 => "queue_position_1.wav".to_string(),
        p if p <= MAX_POSITION => format!("queue_position_{p}.wav"),
        _ => "queue_position_more.wav".to_string(),
    }
}

/// The prompt that announces an estimated wait, rounded up to whole minutes
/// (at least one).
pub fn wait_prompt(estimated_ms: i64) -> String {
    let minutes = ((estimated_ms.max(0) + 59_999) / 60_000).max(1);
    if minutes <= MAX_WAIT_MINUTES {
        format!("queue_wait_{minutes}m.wav")
    } else {
        "queue_wait_more.wav".to_string()
    }
}

/// Every prompt `announce position` may play.
pub fn position_prompts() -> Vec<String> {
    (1..=MAX_POSITION + 1).map(position_prompt).collect()
}

/// Every prompt `announce wait` may play.
pub fn wait_prompts() -> Vec<String> {
    (1..=MAX_WAIT_MINUTES + 1)
        .map(|m| wait_prompt(m * 60_000))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(position_prompt(1), "queue_position_1.wav");
        assert_eq!(position_prompt(20), "queue_position_20.wav");
        assert_eq!(position_prompt(21), "queue_position_more.wav");
        assert_eq!(wait_prompt(0), "queue_wait_1m.wav");
        assert_eq!(wait_prompt(61_000), "queue_wait_2m.wav");
        assert_eq!(wait_prompt(1_800_000), "queue_wait_30m.wav");
        assert_eq!(wait_prompt(1_800_001), "queue_wait_more.wav");
        assert_eq!(position_prompts().len(), 21);
        assert_eq!(wait_prompts().len(), 31);
    }
}
