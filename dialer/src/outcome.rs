//! What became of one dialled call: the outcomes the retry rules speak of, read
//! from the SIP answer or decided after it (a person, a machine, a fax), plus the
//! two the dialer itself produces — a network failure, which is retried without
//! counting against the number, and an abandoned call, which the abandon cap and
//! the 72-hour rule count.

use dialect_lang::ast::Outcome;
use serde::{Deserialize, Serialize};

/// The result of one attempt on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// A live person answered and was connected to an agent or handled by the flow.
    Person,
    /// An answering machine answered (by answering-machine detection).
    Machine,
    /// A fax answered (CNG or CED tone).
    Fax,
    /// The line was busy (486, 600).
    Busy,
    /// Nobody answered within the ring time (480, 408, or ringing too long).
    NoAnswer,
    /// The number does not exist (404, 484, 604).
    Invalid,
    /// The called party declined (603).
    Rejected,
    /// The call failed in the network (503 and every other failure): not the
    /// number's fault, so it is retried soon and not counted as an attempt.
    NetworkFailure,
    /// A person answered and no agent came within the dropped-call deadline.
    Abandoned,
}

impl CallOutcome {
    /// Every outcome, for reports that list them all.
    pub const ALL: [CallOutcome; 9] = [
        CallOutcome::Person,
        CallOutcome::Machine,
        CallOutcome::Fax,
        CallOutcome::Busy,
        CallOutcome::NoAnswer,
        CallOutcome::Invalid,
        CallOutcome::Rejected,
        CallOutcome::NetworkFailure,
        CallOutcome::Abandoned,
    ];

    /// The outcome of a final SIP response to the INVITE. `None` for 1xx and 2xx:
    /// the call was answered and what answered is decided from the media.
    pub fn from_sip(code: u16) -> Option<CallOutcome> {
        Some(match code {
            100..=299 => return None,
            486 | 600 => CallOutcome::Busy,
            480 | 408 => CallOutcome::NoAnswer,
            404 | 484 | 604 => CallOutcome::Invalid,
            603 => CallOutcome::Rejected,
            _ => CallOutcome::NetworkFailure,
        })
    }

    /// The outcome as the language writes it (`retry no answer ...`), and as
    /// reports and explanations show it.
    pub fn name(self) -> &'static str {
        match self {
            CallOutcome::Person => "person",
            CallOutcome::Machine => "machine",
            CallOutcome::Fax => "fax",
            CallOutcome::Busy => "busy",
            CallOutcome::NoAnswer => "no answer",
            CallOutcome::Invalid => "invalid",
            CallOutcome::Rejected => "rejected",
            CallOutcome::NetworkFailure => "network failure",
            CallOutcome::Abandoned => "abandoned",
        }
    }

    /// The outcome's name in the language's retry rules, if the language has one.
    pub fn rule_outcome(self) -> Option<Outcome> {
        match self {
            CallOutcome::Busy => Some(Outcome::Busy),
            CallOutcome::NoAnswer => Some(Outcome::NoAnswer),
            CallOutcome::Fax => Some(Outcome::Fax),
            CallOutcome::Invalid => Some(Outcome::Invalid),
            CallOutcome::Machine => Some(Outcome::Machine),
            CallOutcome::Rejected => Some(Outcome::Rejected),
            CallOutcome::Person | CallOutcome::NetworkFailure | CallOutcome::Abandoned => None,
        }
    }

    /// Whether the attempt counts against the number's attempt limits.
    pub fn counts_as_attempt(self) -> bool {
        self != CallOutcome::NetworkFailure
    }

    /// Whether a live person was on the line: the abandon rate's denominator.
    pub fn is_live(self) -> bool {
        matches!(self, CallOutcome::Person | CallOutcome::Abandoned)
    }
}

impl From<Outcome> for CallOutcome {
    fn from(o: Outcome) -> CallOutcome {
        match o {
            Outcome::Busy => CallOutcome::Busy,
            Outcome::NoAnswer => CallOutcome::NoAnswer,
            Outcome::Fax => CallOutcome::Fax,
            Outcome::Invalid => CallOutcome::Invalid,
            Outcome::Machine => CallOutcome::Machine,
            Outcome::Rejected => CallOutcome::Rejected,
        }
    }
}

impl std::fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_codes_map_as_the_issue_lists_them() {
        for (code, want) in [
            (486, Some(CallOutcome::Busy)),
            (600, Some(CallOutcome::Busy)),
            (480, Some(CallOutcome::NoAnswer)),
            (408, Some(CallOutcome::NoAnswer)),
            (404, Some(CallOutcome::Invalid)),
            (484, Some(CallOutcome::Invalid)),
            (604, Some(CallOutcome::Invalid)),
            (603, Some(CallOutcome::Rejected)),
            (503, Some(CallOutcome::NetworkFailure)),
            (500, Some(CallOutcome::NetworkFailure)),
            (403, Some(CallOutcome::NetworkFailure)),
            (200, None),
            (183, None),
        ] {
            assert_eq!(CallOutcome::from_sip(code), want, "{code}");
        }
    }

    #[test]
    fn names_round_trip_through_the_language_outcomes() {
        for o in CallOutcome::ALL {
            if let Some(lang) = o.rule_outcome() {
                assert_eq!(CallOutcome::from(lang), o);
            }
        }
        assert_eq!(CallOutcome::NoAnswer.name(), "no answer");
        assert_eq!(CallOutcome::NetworkFailure.to_string(), "network failure");
        assert!(!CallOutcome::NetworkFailure.counts_as_attempt());
        assert!(CallOutcome::Abandoned.is_live());
        assert!(!CallOutcome::Machine.is_live());
    }
}
