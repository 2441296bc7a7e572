//! The types of Dialect values and the built-in names and functions every
//! expression may use. The checker gives every expression one of these types; the
//! compiler reads them back from the [`Model`](crate::check::Model).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies a record type (the answer of a service operation) in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordId(pub u32);

/// The type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    /// Numbers, money amounts, counts, percentages (as fractions).
    Number,
    /// Text, digit strings, phone numbers, workorder numbers.
    Text,
    /// `true` / `false`.
    Bool,
    /// A length of time (`5s`).
    Duration,
    /// A clock time (`08:30`).
    Time,
    /// A calendar date (`2026-10-01`).
    Date,
    /// A date with a clock time (`2026-12-07 14:30`), in the project's time
    /// zone: an expected repair time, an appointment.
    DateTime,
    /// A recorded message.
    Recording,
    /// A record answered by a service operation.
    Record(RecordId),
    /// The records a service operation answers when it answers a list (the
    /// last three months' bills), read one at a time by `for each`.
    RecordList(RecordId),
    /// A list of values (only on the right of `in`).
    List,
    /// Nothing (a sub-flow without a return value).
    Void,
    /// The type of an expression that already has an error (silences follow-up errors).
    Error,
}

impl Type {
    /// The type named in a declaration (`text`, `number`, ...), or `None` when the name is unknown.
    /// `phone` and `customer` are texts; `digits` too.
    pub fn from_name(name: &str) -> Option<Type> {
        Some(match name {
            "number" | "money" => Type::Number,
            "text" | "phone" | "customer" | "digits" => Type::Text,
            "bool" => Type::Bool,
            "duration" => Type::Duration,
            "time" => Type::Time,
            "date" => Type::Date,
            "datetime" => Type::DateTime,
            "recording" => Type::Recording,
            _ => return None,
        })
    }

    /// Type names an analyst may write.
    pub const NAMES: &'static [&'static str] = &[
        "number",
        "money",
        "text",
        "phone",
        "customer",
        "digits",
        "bool",
        "duration",
        "time",
        "date",
        "datetime",
        "recording",
    ];

    /// True when a value of this type can be compared with `<`, `>`.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            Type::Number | Type::Duration | Type::Time | Type::Date | Type::DateTime | Type::Text
        )
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Number => "a number",
            Type::Text => "a text",
            Type::Bool => "a yes/no value (bool)",
            Type::Duration => "a duration",
            Type::Time => "a clock time",
            Type::Date => "a date",
            Type::DateTime => "a date and time",
            Type::Recording => "a recording",
            Type::Record(_) => "a record",
            Type::RecordList(_) => "a list of records",
            Type::List => "a list",
            Type::Void => "nothing",
            Type::Error => "an unknown value",
        })
    }
}

/// Names that exist without being declared; which ones are visible depends on
/// where the expression is written (a flow, a queue rule, a campaign filter...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Builtin {
    /// The calling number (user part of From).
    Caller,
    /// The dialled number (user part of the request URI).
    Called,
    /// The trunk group the call came in on.
    Trunk,
    /// Queue rules: how long this call has waited.
    Waited,
    /// Queue rules: this call's position (1 = next).
    Position,
    /// Queue rules: the estimated wait of this call.
    EstimatedWait,
    /// Queue rules: calls waiting in the queue.
    Waiting,
    /// Queue rules: agents of the queue that are ready and idle.
    IdleAgents,
    /// Queue rules: fraction of recent calls answered within the service-level time.
    ServiceLevel,
    /// Queue rules: the longest wait of a call in the queue.
    LongestWait,
    /// Campaign filters: dial attempts already made for this record.
    Attempts,
    /// Campaign filters: the outcome of the last attempt ("" when none).
    LastOutcome,
    /// Campaign filters: dial attempts made for this record today (the
    /// callee's local day).
    AttemptsToday,
    /// Campaign filters: the time since the last attempt (a very long time
    /// when there was none, so `since_last_attempt > 2h` holds then).
    SinceLastAttempt,
    /// Workorder guards: time since the order was created.
    Age,
}

impl Builtin {
    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Caller => "caller",
            Builtin::Called => "called",
            Builtin::Trunk => "trunk",
            Builtin::Waited => "waited",
            Builtin::Position => "position",
            Builtin::EstimatedWait => "estimated_wait",
            Builtin::Waiting => "waiting",
            Builtin::IdleAgents => "idle_agents",
            Builtin::ServiceLevel => "service_level",
            Builtin::LongestWait => "longest_wait",
            Builtin::Attempts => "attempts",
            Builtin::LastOutcome => "last_outcome",
            Builtin::AttemptsToday => "attempts_today",
            Builtin::SinceLastAttempt => "since_last_attempt",
            Builtin::Age => "age",
        }
    }

    /// The value's type.
    pub fn ty(self) -> Type {
        match self {
            Builtin::Caller | Builtin::Called | Builtin::Trunk | Builtin::LastOutcome => Type::Text,
            Builtin::Waited
            | Builtin::EstimatedWait
            | Builtin::LongestWait
            | Builtin::Age
            | Builtin::SinceLastAttempt => Type::Duration,
            Builtin::Position
            | Builtin::Waiting
            | Builtin::IdleAgents
            | Builtin::ServiceLevel
            | Builtin::Attempts
            | Builtin::AttemptsToday => Type::Number,
        }
    }

    /// Every built-in name.
    pub const ALL: &'static [Builtin] = &[
        Builtin::Caller,
        Builtin::Called,
        Builtin::Trunk,
        Builtin::Waited,
        Builtin::Position,
        Builtin::EstimatedWait,
        Builtin::Waiting,
        Builtin::IdleAgents,
        Builtin::ServiceLevel,
        Builtin::LongestWait,
        Builtin::Attempts,
        Builtin::LastOutcome,
        Builtin::AttemptsToday,
        Builtin::SinceLastAttempt,
        Builtin::Age,
    ];

    /// Looks a built-in up by name.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.iter().copied().find(|b| b.name() == name)
    }
}

/// Built-in functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Function {
    /// `now()`: the current clock time in the project's time zone.
    Now,
    /// `today()`: the current date.
    Today,
    /// `weekday(date)`: 1 = Monday ... 7 = Sunday.
    Weekday,
    /// `is_open(calendar)`: whether the calendar is open now.
    IsOpen,
    /// `is_workday(calendar)`: whether today is a working day in the calendar.
    IsWorkday,
    /// `known(record)`: whether a lookup answered.
    Known,
    /// `len(text)`: number of characters.
    Len,
    /// `minutes(duration)`: whole and fractional minutes.
    Minutes,
    /// `seconds(duration)`.
    Seconds,
    /// `hours(duration)`.
    Hours,
    /// `days_until(date)`: days from today to the date (negative when past).
    DaysUntil,
    /// `round(number)`.
    Round,
    /// `abs(number)`.
    Abs,
    /// `min(a, b)`.
    Min,
    /// `max(a, b)`.
    Max,
    /// `to_number(text)`: the number in a text, 0 when there is none.
    ToNumber,
    /// `to_text(number)`.
    ToText,
    /// `contains(text, part)`.
    Contains,
    /// `starts_with(text, prefix)`.
    StartsWith,
    /// `ends_with(text, suffix)`.
    EndsWith,
    /// `last_digits(text, n)`: the last n characters (read back a card's tail).
    LastDigits,
    /// `count(bills)`: how many records a lookup's list holds (0 when the
    /// service found nothing).
    Count,
}

/// What a built-in function takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// A value of this type.
    Value(Type),
    /// The name of a calendar.
    Calendar,
    /// Any record.
    AnyRecord,
    /// Any list of records.
    AnyList,
    /// The same type as the other argument (numbers, durations, dates).
    SameOrdered,
}

impl Function {
    /// Every function.
    pub const ALL: &'static [Function] = &[
        Function::Now,
        Function::Today,
        Function::Weekday,
        Function::IsOpen,
        Function::IsWorkday,
        Function::Known,
        Function::Len,
        Function::Minutes,
        Function::Seconds,
        Function::Hours,
        Function::DaysUntil,
        Function::Round,
        Function::Abs,
        Function::Min,
        Function::Max,
        Function::ToNumber,
        Function::ToText,
        Function::Contains,
        Function::StartsWith,
        Function::EndsWith,
        Function::LastDigits,
        Function::Count,
    ];

    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            Function::Now => "now",
            Function::Today => "today",
            Function::Weekday => "weekday",
            Function::IsOpen => "is_open",
            Function::IsWorkday => "is_workday",
            Function::Known => "known",
            Function::Len => "len",
            Function::Minutes => "minutes",
            Function::Seconds => "seconds",
            Function::Hours => "hours",
            Function::DaysUntil => "days_until",
            Function::Round => "round",
            Function::Abs => "abs",
            Function::Min => "min",
            Function::Max => "max",
            Function::ToNumber => "to_number",
            Function::ToText => "to_text",
            Function::Contains => "contains",
            Function::StartsWith => "starts_with",
            Function::EndsWith => "ends_with",
            Function::LastDigits => "last_digits",
            Function::Count => "count",
        }
    }

    /// Looks a function up by name.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The parameters.
    pub fn params(self) -> &'static [Param] {
        use Param::*;
        match self {
            Function::Now | Function::Today => &[],
            Function::Weekday | Function::DaysUntil => &[Value(Type::Date)],
            Function::IsOpen | Function::IsWorkday => &[Calendar],
            Function::Known => &[AnyRecord],
            Function::Len | Function::ToNumber => &[Value(Type::Text)],
            Function::Minutes | Function::Seconds | Function::Hours => &[Value(Type::Duration)],
            Function::Round | Function::Abs | Function::ToText => &[Value(Type::Number)],
            Function::Min | Function::Max => &[SameOrdered, SameOrdered],
            Function::Contains | Function::StartsWith | Function::EndsWith => {
                &[Value(Type::Text), Value(Type::Text)]
            }
            Function::LastDigits => &[Value(Type::Text), Value(Type::Number)],
            Function::Count => &[AnyList],
        }
    }

    /// The result type (for `min`/`max`, the arguments' type is used instead).
    pub fn result(self) -> Type {
        match self {
            Function::Now => Type::Time,
            Function::Today => Type::Date,
            Function::IsOpen
            | Function::IsWorkday
            | Function::Known
            | Function::Contains
            | Function::StartsWith
            | Function::EndsWith => Type::Bool,
            Function::ToText | Function::LastDigits => Type::Text,
            Function::Min | Function::Max => Type::Number,
            _ => Type::Number,
        }
    }
}
