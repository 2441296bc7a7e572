//! The options that may appear in parentheses after a construct, what value each
//! takes, and typed accessors the checker and the compiler share. One table per
//! construct, so that an unknown option gets a "did you mean" from the right list.

use crate::ast::{DurationLit, Opt, OptValue};

/// What value an option takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptKind {
    /// No value: present means on.
    Flag,
    /// A number in a range; `whole` when it must be an integer.
    Number {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
        /// Must be a whole number.
        whole: bool,
    },
    /// A duration with a unit.
    Duration,
    /// A percentage such as 3%.
    Percent,
    /// A text in quotes.
    Text,
    /// A DTMF key (`#`, `*` or a digit).
    Key,
    /// A number range `1.0 to 2.5`.
    Range,
    /// A clock range `22:00-07:00`.
    TimeRange,
}

impl OptKind {
    /// How the expected value is described in messages.
    pub fn describe(self) -> &'static str {
        match self {
            OptKind::Flag => "no value",
            OptKind::Number { whole: true, .. } => "a whole number",
            OptKind::Number { .. } => "a number",
            OptKind::Duration => "a duration such as 5s",
            OptKind::Percent => "a percentage such as 3%",
            OptKind::Text => "a text in quotes",
            OptKind::Key => "a key such as # or *",
            OptKind::Range => "a range such as 1.0 to 2.5",
            OptKind::TimeRange => "a time range such as 22:00-07:00",
        }
    }
}

/// One allowed option.
#[derive(Debug, Clone, Copy)]
pub struct OptSpec {
    /// Its name, words separated by single spaces.
    pub name: &'static str,
    /// Its value.
    pub kind: OptKind,
    /// What it does (shown in hints and the language reference).
    pub doc: &'static str,
}

const fn spec(name: &'static str, kind: OptKind, doc: &'static str) -> OptSpec {
    OptSpec { name, kind, doc }
}

const fn whole(min: f64, max: f64) -> OptKind {
    OptKind::Number {
        min,
        max,
        whole: true,
    }
}

/// Options of `menu`.
pub const MENU: &[OptSpec] = &[
    spec(
        "retries",
        whole(1.0, 9.0),
        "attempts before the final handler runs (default 3)",
    ),
    spec(
        "timeout",
        OptKind::Duration,
        "how long to wait for a key after the prompt (default 5s)",
    ),
    spec(
        "digit timeout",
        OptKind::Duration,
        "time allowed between keys of a key sequence (default 3s)",
    ),
    spec(
        "barge in",
        OptKind::Flag,
        "a key stops the prompt (the default)",
    ),
    spec(
        "no barge in",
        OptKind::Flag,
        "the prompt plays to the end before keys count",
    ),
    spec(
        "speech",
        OptKind::Flag,
        "listen for the spoken phrases as well as keys",
    ),
    spec(
        "confidence",
        OptKind::Number {
            min: 0.0,
            max: 1.0,
            whole: false,
        },
        "lowest speech-recognition confidence accepted (default 0.5)",
    ),
];

/// Options of `collect`.
pub const COLLECT: &[OptSpec] = &[
    spec(
        "min",
        whole(1.0, 32.0),
        "fewest digits accepted (default 1)",
    ),
    spec("max", whole(1.0, 32.0), "most digits accepted (default 16)"),
    spec(
        "terminator",
        OptKind::Key,
        "key that ends the entry early (not part of the digits)",
    ),
    spec(
        "timeout",
        OptKind::Duration,
        "time for the first digit (default 5s)",
    ),
    spec(
        "digit timeout",
        OptKind::Duration,
        "time between digits (default 3s)",
    ),
    spec(
        "retries",
        whole(1.0, 9.0),
        "attempts before the final handler runs (default 3)",
    ),
    spec(
        "barge in",
        OptKind::Flag,
        "a key stops the prompt (the default)",
    ),
    spec(
        "no barge in",
        OptKind::Flag,
        "the prompt plays to the end first",
    ),
    spec("speech", OptKind::Flag, "also accept spoken digits"),
    spec(
        "confidence",
        OptKind::Number {
            min: 0.0,
            max: 1.0,
            whole: false,
        },
        "lowest speech confidence accepted",
    ),
    spec(
        "mask",
        OptKind::Flag,
        "keep the digits out of logs and the IVR trail (passwords)",
    ),
];

/// Options of `play`.
pub const PLAY: &[OptSpec] = &[
    spec("barge in", OptKind::Flag, "a key stops the prompt"),
    spec(
        "no barge in",
        OptKind::Flag,
        "the prompt plays to the end (the default outside menus)",
    ),
];

/// Options of `say`.
pub const SAY: &[OptSpec] = &[
    spec("voice", OptKind::Text, "the TTS voice"),
    spec(
        "rate",
        whole(80.0, 450.0),
        "speaking rate in words per minute",
    ),
    spec("barge in", OptKind::Flag, "a key stops the speech"),
    spec(
        "no barge in",
        OptKind::Flag,
        "the speech plays to the end (the default outside menus)",
    ),
];

/// Options of `record`.
pub const RECORD: &[OptSpec] = &[
    spec(
        "max",
        OptKind::Duration,
        "longest recording (default 60s, at most 10m)",
    ),
    spec(
        "silence",
        OptKind::Duration,
        "this much silence ends the recording (default 5s)",
    ),
    spec("terminator", OptKind::Key, "key that ends the recording"),
    spec("beep", OptKind::Flag, "play a beep before recording"),
];

/// Options of `lookup`.
pub const LOOKUP: &[OptSpec] = &[spec(
    "timeout",
    OptKind::Duration,
    "how long to wait for the service (default: the service's)",
)];

/// How many records `for each` reads when it has no `max`.
pub const FOR_EACH_DEFAULT_MAX: u32 = 10;

/// The largest `max` of `for each`: a caller cannot follow a longer list.
pub const FOR_EACH_LIMIT: u32 = 100;

/// Options of `for each`.
pub const FOR_EACH: &[OptSpec] = &[spec(
    "max",
    whole(1.0, FOR_EACH_LIMIT as f64),
    "the most records read, 1 to 100 (default 10); the rest are skipped",
)];

/// Options of `transfer`.
pub const TRANSFER: &[OptSpec] = &[
    spec(
        "timeout",
        OptKind::Duration,
        "how long the far end may ring (number and agent transfers)",
    ),
    spec(
        "via",
        OptKind::Text,
        "trunk group for a transfer to a number",
    ),
    spec(
        "caller id",
        OptKind::Text,
        "number presented on a transfer to a number",
    ),
    spec(
        "priority",
        OptKind::Number {
            min: 0.0,
            max: 1000.0,
            whole: false,
        },
        "added to the queue's priority for this call (transfers to a queue)",
    ),
];

/// Options of a list category.
pub const LIST_CATEGORY: &[OptSpec] = &[
    spec(
        "max transfers",
        whole(0.0, 100.0),
        "how many times a listed caller may reach an agent per day",
    ),
    spec(
        "active",
        OptKind::TimeRange,
        "the category applies only in this daily window",
    ),
];

/// Options of `agent policy` in a queue.
pub const AGENT_POLICY: &[OptSpec] = &[
    spec(
        "max missed",
        whole(1.0, 20.0),
        "after this many unanswered offers in a row the agent is made not ready",
    ),
    spec(
        "reject delay",
        OptKind::Duration,
        "an agent who rejects an offer is skipped for this long",
    ),
    spec(
        "busy delay",
        OptKind::Duration,
        "an agent whose phone was busy is skipped for this long",
    ),
    spec(
        "unregistered delay",
        OptKind::Duration,
        "an agent whose phone is not registered is skipped for this long",
    ),
];

/// Options of a campaign's `mode`.
pub const CAMPAIGN_MODE: &[OptSpec] = &[
    spec(
        "min ratio",
        OptKind::Number {
            min: 0.1,
            max: 10.0,
            whole: false,
        },
        "fewest calls dialled per idle agent (predictive)",
    ),
    spec(
        "max ratio",
        OptKind::Number {
            min: 0.1,
            max: 10.0,
            whole: false,
        },
        "most calls dialled per idle agent (predictive)",
    ),
    spec(
        "abandon max",
        OptKind::Percent,
        "cap on answered calls with no agent free (predictive)",
    ),
    spec(
        "preview time",
        OptKind::Duration,
        "how long an agent may look at a record before it is dialled (preview)",
    ),
    spec(
        "auto dial",
        OptKind::Flag,
        "dial a previewed target when the preview time runs out, instead of handing it back (preview)",
    ),
    spec(
        "ring time",
        OptKind::Duration,
        "how long a number may ring before it counts as no answer",
    ),
    spec(
        "max channels",
        whole(1.0, 10000.0),
        "most simultaneous outgoing calls",
    ),
];

/// Settings of a campaign's `machine detection`: the answering-machine
/// detector's timings (`dialect_media::amd::AmdConfig` has the same names).
pub const MACHINE_DETECTION: &[OptSpec] = &[
    spec(
        "initial silence",
        OptKind::Duration,
        "silence before any word after which the answer is a machine (default 2.5s)",
    ),
    spec(
        "greeting",
        OptKind::Duration,
        "speech longer than this at the start is a machine's greeting (default 1.5s)",
    ),
    spec(
        "after greeting silence",
        OptKind::Duration,
        "silence after the greeting that decides a person (default 800ms)",
    ),
    spec(
        "total",
        OptKind::Duration,
        "longest analysis; undecided by then, the answer is taken for a person (default 5s)",
    ),
    spec(
        "min word",
        OptKind::Duration,
        "shortest sound counted as a word (default 100ms)",
    ),
    spec(
        "between words",
        OptKind::Duration,
        "shortest silence that separates two words (default 50ms)",
    ),
    spec(
        "max word",
        OptKind::Duration,
        "one word longer than this is a machine (default 5s)",
    ),
    spec(
        "max words",
        whole(2.0, 20.0),
        "this many words at the start is a machine (default 6)",
    ),
];

/// Finds an option by name.
pub fn find<'a>(opts: &'a [Opt], name: &str) -> Option<&'a Opt> {
    opts.iter().find(|o| o.name == name)
}

/// True when a flag option is present.
pub fn flag(opts: &[Opt], name: &str) -> bool {
    find(opts, name).is_some()
}

/// A number option's value.
pub fn number(opts: &[Opt], name: &str) -> Option<f64> {
    match find(opts, name)?.value.as_ref()? {
        OptValue::Number(n, _) => Some(*n),
        OptValue::Percent(n, _) => Some(*n),
        _ => None,
    }
}

/// A duration option's value in milliseconds (unit-less values are read as seconds).
pub fn duration_ms(opts: &[Opt], name: &str) -> Option<i64> {
    match find(opts, name)?.value.as_ref()? {
        OptValue::Duration(DurationLit { millis, .. }) => Some(*millis),
        OptValue::Number(n, _) => Some((*n * 1000.0) as i64),
        _ => None,
    }
}

/// A text option's value.
pub fn text(opts: &[Opt], name: &str) -> Option<String> {
    match find(opts, name)?.value.as_ref()? {
        OptValue::Text(t) => Some(t.plain_lossy()),
        _ => None,
    }
}

/// A key option's value (`#`, `*` or a digit).
pub fn key(opts: &[Opt], name: &str) -> Option<char> {
    match find(opts, name)?.value.as_ref()? {
        OptValue::Key(c, _) => Some(*c),
        OptValue::Number(n, _) if (0.0..=9.0).contains(n) && n.fract() == 0.0 => {
            char::from_digit(*n as u32, 10)
        }
        OptValue::Text(t) => t.plain_lossy().chars().next(),
        _ => None,
    }
}

/// A range option's bounds.
pub fn range(opts: &[Opt], name: &str) -> Option<(f64, f64)> {
    match find(opts, name)?.value.as_ref()? {
        OptValue::Range(a, b, _) => Some((*a, *b)),
        _ => None,
    }
}

/// A time-range option's bounds in seconds after midnight.
pub fn time_range(opts: &[Opt], name: &str) -> Option<(u32, u32)> {
    match find(opts, name)?.value.as_ref()? {
        OptValue::TimeRange(r) => Some((r.from, r.to)),
        _ => None,
    }
}
