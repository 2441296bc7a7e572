//! The top-level declarations that describe the center's resources (imports,
//! constants, languages, call data, skills, departments, agents, lists,
//! calendars, services), and the options in parentheses every construct takes.

use serde::{Deserialize, Serialize};

use super::expr::*;
use super::span::*;

/// `import "path"`: brings another file of the project folder into this one.
#[derive(Debug, Clone, Serialize)]
pub struct Import {
    /// The path as written, relative to the importing file.
    pub path: String,
    /// Where the path literal is.
    pub path_span: Span,
    /// The whole declaration.
    pub span: Span,
}

/// `const name = expr`: a named value usable in every expression.
#[derive(Debug, Clone, Serialize)]
pub struct ConstDecl {
    /// The constant's name.
    pub name: Ident,
    /// Its value (must be computable at check time).
    pub value: Expr,
    /// The whole declaration.
    pub span: Span,
}

/// `languages zh, en`: the languages prompts exist in; the first is the default.
#[derive(Debug, Clone, Serialize)]
pub struct LanguagesDecl {
    /// Language codes in order of preference.
    pub languages: Vec<Ident>,
    /// The whole declaration.
    pub span: Span,
}

/// `calldata { ... }`: the typed data that travels with every call to the agent.
#[derive(Debug, Clone, Serialize)]
pub struct CallDataDecl {
    /// The fields, each with a type and an optional default.
    pub fields: Vec<CallDataField>,
    /// The whole declaration.
    pub span: Span,
}

/// One field of the call data.
#[derive(Debug, Clone, Serialize)]
pub struct CallDataField {
    /// Field name.
    pub name: Ident,
    /// Declared type.
    pub ty: TypeExpr,
    /// Value at the start of a call.
    pub default: Option<Expr>,
}

/// `skill a, b levels 1..5`: skill names that queues require and agents hold.
#[derive(Debug, Clone, Serialize)]
pub struct SkillDecl {
    /// The skill names.
    pub names: Vec<Ident>,
    /// The allowed level range, inclusive; `1..5` when not written.
    pub levels: Option<(u32, u32, Span)>,
    /// The whole declaration.
    pub span: Span,
}

/// `department name "label"`: where workorders are dispatched.
#[derive(Debug, Clone, Serialize)]
pub struct DepartmentDecl {
    /// Department name used in workorders.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// The whole declaration.
    pub span: Span,
}

/// `role dispatcher "派单员"`: a role of the project beside the built-in ones
/// (agent, supervisor, handler...), named in transitions' `by` lists and
/// reminder targets; the configuration says which API users have it.
#[derive(Debug, Clone, Serialize)]
pub struct RoleDecl {
    /// Role name used in workorders and the configuration.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// The whole declaration.
    pub span: Span,
}

/// `agent "1001" "王芳" { skills billing 3, general }`: an agent known to the project.
#[derive(Debug, Clone, Serialize)]
pub struct AgentDecl {
    /// Agent id (also the phone's user name).
    pub id: Text,
    /// Display name.
    pub label: Option<Text>,
    /// Skills with levels.
    pub skills: Vec<AgentSkill>,
    /// The whole declaration.
    pub span: Span,
}

/// A skill an agent holds, with its level.
#[derive(Debug, Clone, Serialize)]
pub struct AgentSkill {
    /// Skill name.
    pub skill: Ident,
    /// Level; 1 when not written.
    pub level: Option<(f64, Span)>,
}

/// `list name { entries | category ... }`: named number lists (blacklist, red list).
#[derive(Debug, Clone, Serialize)]
pub struct ListDecl {
    /// List name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Entries not in a category.
    pub entries: Vec<Text>,
    /// Categories with their own entries and options.
    pub categories: Vec<ListCategory>,
    /// The whole declaration.
    pub span: Span,
}

/// One category of a list (`category harassment (max transfers 0) { ... }`).
#[derive(Debug, Clone, Serialize)]
pub struct ListCategory {
    /// Category name, used as `list.category`.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Options such as `active 22:00-08:00`, `max transfers 0`.
    pub options: Vec<Opt>,
    /// Numbers (or prefixes ending in `*`).
    pub entries: Vec<Text>,
    /// The whole category.
    pub span: Span,
}

/// `calendar name { timezone, hours, holiday, workday }`.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarDecl {
    /// Calendar name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// IANA time zone, e.g. "Asia/Shanghai".
    pub timezone: Option<Text>,
    /// Weekly opening hours.
    pub hours: Vec<WeeklyHours>,
    /// Holidays (closed unless hours are given).
    pub holidays: Vec<SpecialDays>,
    /// Special working days (make-up working days).
    pub workdays: Vec<SpecialDays>,
    /// The whole declaration.
    pub span: Span,
}

/// `hours mon-fri 08:00-20:00, 21:00-22:00`
#[derive(Debug, Clone, Serialize)]
pub struct WeeklyHours {
    /// Day ranges; `daily` is all seven days.
    pub days: Vec<DayRange>,
    /// Opening periods; empty means closed.
    pub periods: Vec<TimeRange>,
    /// The whole line.
    pub span: Span,
}

/// A weekday or a range of weekdays (0 = Monday).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DayRange {
    /// First day, 0 = Monday.
    pub from: u8,
    /// Last day, inclusive.
    pub to: u8,
    /// `mon-fri` or `sat` as written, for messages about the days.
    pub span: Span,
}

/// A clock-time range such as `08:00-20:00`, in seconds from midnight.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimeRange {
    /// Start, seconds after midnight.
    pub from: u32,
    /// End, seconds after midnight (may be 24:00 = 86400, or before `from` when it wraps midnight).
    pub to: u32,
    /// `08:00-20:00` as written, for messages about the range.
    pub span: Span,
}

/// `holiday 2026-02-15..2026-02-23 "春节" hours 09:00-17:00`
#[derive(Debug, Clone, Serialize)]
pub struct SpecialDays {
    /// The dates, single days or inclusive ranges.
    pub dates: Vec<DateSpan>,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Opening hours on these days; `None` means closed (holiday) or normal workday hours.
    pub hours: Option<Vec<TimeRange>>,
    /// The whole line.
    pub span: Span,
}

/// A date or an inclusive range of dates.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DateSpan {
    /// First day.
    pub from: chrono::NaiveDate,
    /// Last day (same as `from` for a single day).
    pub to: chrono::NaiveDate,
    /// The date or range as written, for messages about it.
    pub span: Span,
}

/// `service crm { url "..." timeout 2s get customer "/c/{phone}" (phone: text) -> { ... } }`
#[derive(Debug, Clone, Serialize)]
pub struct ServiceDecl {
    /// Service name used in `lookup name.operation(...)`.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Base URL.
    pub url: Option<Text>,
    /// Default time-out for lookups.
    pub timeout: Option<DurationLit>,
    /// `not found -> answer` / `not found -> else`: what a 404 or an empty
    /// answer means (without the clause, a failure for `else`).
    pub not_found: Option<(NotFound, Span)>,
    /// Operations with typed parameters and answers.
    pub operations: Vec<ServiceOperation>,
    /// The whole declaration.
    pub span: Span,
}

/// One HTTP operation of a service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceOperation {
    /// GET or POST.
    pub method: HttpMethod,
    /// Operation name.
    pub name: Ident,
    /// Path below the service URL, with `{param}` placeholders.
    pub path: Text,
    /// Parameters and their types.
    pub params: Vec<TypedField>,
    /// The fields of the JSON answer and their types.
    pub fields: Vec<TypedField>,
    /// `-> list of { ... }`: the answer is a JSON array of such records.
    pub list: bool,
    /// The whole operation.
    pub span: Span,
}

/// What a service's 404 or empty answer means to the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum NotFound {
    /// A failure: the lookup's `else` runs (the default, so that a service
    /// that is down is never mistaken for "no such customer").
    #[default]
    Else,
    /// An answer saying there is nothing: the lookup goes on with an unknown
    /// record (`known(x)` is false) or an empty list.
    Answer,
}

/// HTTP method of a service operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpMethod {
    /// Parameters in the path and query string.
    Get,
    /// Parameters as a JSON body.
    Post,
}

/// `name: type`
#[derive(Debug, Clone, Serialize)]
pub struct TypedField {
    /// Field name.
    pub name: Ident,
    /// Its type.
    pub ty: TypeExpr,
}

/// A type as written: a name (`text`, `number`, a service record...) or an enum.
#[derive(Debug, Clone, Serialize)]
pub enum TypeExpr {
    /// A named type.
    Named(Ident),
    /// `enum(a, b, c)`
    Enum(Vec<Ident>, Span),
}

impl TypeExpr {
    /// Where the type is written.
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named(i) => i.span,
            TypeExpr::Enum(_, s) => *s,
        }
    }
}

/// An option in parentheses: `timeout 5s`, `barge in`, `ratio 1.0 to 2.5`.
#[derive(Debug, Clone, Serialize)]
pub struct Opt {
    /// The option's name, words joined by single spaces.
    pub name: String,
    /// Where the name is.
    pub name_span: Span,
    /// The value, if any.
    pub value: Option<OptValue>,
    /// The whole option.
    pub span: Span,
}

/// The literal value of an option.
#[derive(Debug, Clone, Serialize)]
pub enum OptValue {
    /// A plain number.
    Number(f64, Span),
    /// A percentage, as a fraction (3% = 0.03).
    Percent(f64, Span),
    /// A duration (`5s`); a bare number where a duration belongs is kept and
    /// reported by the checker.
    Duration(DurationLit),
    /// A clock time, seconds after midnight.
    Clock(u32, Span),
    /// A clock range.
    TimeRange(TimeRange),
    /// A calendar date (`2026-10-01`).
    Date(chrono::NaiveDate, Span),
    /// A number range `a..b` / `a to b`.
    Range(f64, f64, Span),
    /// A text, possibly with interpolations (`"{caller}"`).
    Text(Text),
    /// `#` or `*`.
    Key(char, Span),
}

impl OptValue {
    /// Where the value is written.
    pub fn span(&self) -> Span {
        match self {
            OptValue::Number(_, s)
            | OptValue::Percent(_, s)
            | OptValue::Clock(_, s)
            | OptValue::Date(_, s)
            | OptValue::Range(_, _, s)
            | OptValue::Key(_, s) => *s,
            OptValue::Duration(d) => d.span,
            OptValue::TimeRange(r) => r.span,
            OptValue::Text(t) => t.span,
        }
    }
}
