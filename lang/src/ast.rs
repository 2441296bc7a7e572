//! The owned syntax tree of a Dialect file.
//!
//! Every node carries a [`Span`] into its source file, so the checker, the
//! compiler's source map and the formatter can point back at the text. Pest pairs
//! never leave the `syntax` module: this tree is what the rest of the project sees.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which loaded source file a span points into (an index into `SourceMap`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct FileId(pub u32);

impl fmt::Debug for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A byte range in one source file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct Span {
    /// The file the range is in.
    pub file: FileId,
    /// Byte offset of the first character.
    pub start: u32,
    /// Byte offset just past the last character.
    pub end: u32,
}

impl Span {
    /// A span covering `start..end` of `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both `self` and `other` (same file).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The byte range, for slicing the source text.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// A name written in the source, with where it was written.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Ident {
    /// The name as written (may be Chinese).
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{:?}", self.name, self.span)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Ident {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

/// Identifies one expression node in a project, so the checker can record its type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ExprId(pub u32);

impl fmt::Debug for ExprId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.0)
    }
}

/// One parsed `.flow` file.
#[derive(Debug, Clone, Serialize)]
pub struct Module {
    /// The file this module was parsed from.
    pub file: FileId,
    /// Top-level declarations in source order.
    pub items: Vec<Item>,
}

/// A top-level declaration.
#[derive(Debug, Clone, Serialize)]
pub enum Item {
    /// `import "other.flow"`
    Import(Import),
    /// `const name = expr`
    Const(ConstDecl),
    /// `languages zh, en`
    Languages(LanguagesDecl),
    /// `calldata { field: type = default }`
    CallData(CallDataDecl),
    /// `skill billing, fault levels 1..5`
    Skill(SkillDecl),
    /// `department network_ops "网络维护中心"`
    Department(DepartmentDecl),
    /// `agent "1001" "王芳" { skills billing 3 }`
    Agent(AgentDecl),
    /// `list blacklist { category harassment { "..." } }`
    List(ListDecl),
    /// `calendar cn_2026 { ... }`
    Calendar(CalendarDecl),
    /// `service crm { url "..." get customer "/c/{phone}" (phone: text) -> {...} }`
    Service(ServiceDecl),
    /// `flow hotline on "10000" { ... }`
    Flow(FlowDecl),
    /// `queue billing { ... }`
    Queue(QueueDecl),
    /// `campaign reminder { ... }`
    Campaign(CampaignDecl),
    /// `workorder complaint { ... }`
    Workorder(WorkorderDecl),
}

impl Item {
    /// The declared name and a word for the kind of declaration, for symbol tables.
    pub fn name(&self) -> Option<&Ident> {
        match self {
            Item::Import(_) | Item::Languages(_) | Item::CallData(_) | Item::Skill(_) => None,
            Item::Const(d) => Some(&d.name),
            Item::Department(d) => Some(&d.name),
            Item::Agent(_) => None,
            Item::List(d) => Some(&d.name),
            Item::Calendar(d) => Some(&d.name),
            Item::Service(d) => Some(&d.name),
            Item::Flow(d) => Some(&d.name),
            Item::Queue(d) => Some(&d.name),
            Item::Campaign(d) => Some(&d.name),
            Item::Workorder(d) => Some(&d.name),
        }
    }

    /// The span of the whole declaration.
    pub fn span(&self) -> Span {
        match self {
            Item::Import(d) => d.span,
            Item::Const(d) => d.span,
            Item::Languages(d) => d.span,
            Item::CallData(d) => d.span,
            Item::Skill(d) => d.span,
            Item::Department(d) => d.span,
            Item::Agent(d) => d.span,
            Item::List(d) => d.span,
            Item::Calendar(d) => d.span,
            Item::Service(d) => d.span,
            Item::Flow(d) => d.span,
            Item::Queue(d) => d.span,
            Item::Campaign(d) => d.span,
            Item::Workorder(d) => d.span,
        }
    }
}

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
    /// Where it is written.
    pub span: Span,
}

/// A clock-time range such as `08:00-20:00`, in seconds from midnight.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimeRange {
    /// Start, seconds after midnight.
    pub from: u32,
    /// End, seconds after midnight (may be 24:00 = 86400, or before `from` when it wraps midnight).
    pub to: u32,
    /// Where it is written.
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
    /// Where it is written.
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
    /// The whole operation.
    pub span: Span,
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

/// `flow name(params) -> type "label" on "10000" { ... }`
#[derive(Debug, Clone, Serialize)]
pub struct FlowDecl {
    /// Flow name.
    pub name: Ident,
    /// Parameters when the flow is a sub-flow.
    pub params: Vec<TypedField>,
    /// Return type when the flow returns a value.
    pub returns: Option<TypeExpr>,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Numbers this flow answers.
    pub numbers: Vec<Text>,
    /// The statements.
    pub body: Block,
    /// The whole declaration.
    pub span: Span,
}

/// A `{ ... }` list of statements.
#[derive(Debug, Clone, Serialize)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
    pub span: Span,
}

/// A statement with its span.
#[derive(Debug, Clone, Serialize)]
pub struct Stmt {
    /// What the statement does.
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
}

/// The statements of a flow.
#[derive(Debug, Clone, Serialize)]
pub enum StmtKind {
    /// `play "a.wav", "b.wav" (no barge in)`
    Play {
        /// Prompt files (text expressions).
        prompts: Vec<Expr>,
        /// Options such as `no barge in`.
        options: Vec<Opt>,
    },
    /// `say "text", money x (voice "...")` or `say { zh ... en ... }`
    Say(Say),
    /// `menu name (options) { prompts, choices, handlers }`
    Menu(Menu),
    /// `name = collect (options) { ... }`
    Collect {
        /// Variable that receives the digits.
        target: Ident,
        /// The collection.
        collect: Collect,
    },
    /// `name = lookup svc.op(args) (timeout 2s) else { ... }`
    Lookup {
        /// Variable that receives the record.
        target: Ident,
        /// The lookup.
        lookup: Lookup,
    },
    /// `name = record (max 60s, silence 5s, beep)`
    Record {
        /// Variable that receives the recording.
        target: Ident,
        /// Options.
        options: Vec<Opt>,
    },
    /// `name = create workorder type { field: expr }`
    CreateWorkorder {
        /// Variable that receives the new order's number.
        target: Ident,
        /// The workorder type.
        kind: Ident,
        /// Field values.
        fields: Vec<FieldInit>,
    },
    /// `call sub(args)` or `name = call sub(args)`
    Call {
        /// Variable that receives the returned value.
        target: Option<Ident>,
        /// The flow called.
        flow: Ident,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `name = expr`
    Assign {
        /// Variable assigned (declared on first assignment).
        target: Ident,
        /// Value.
        value: Expr,
    },
    /// `data.field = expr`
    SetData {
        /// Call-data field.
        field: Ident,
        /// Value.
        value: Expr,
    },
    /// `if c { } else if c { } else { }`
    If {
        /// Condition.
        cond: Expr,
        /// Taken when true.
        then: Block,
        /// Taken when false (an `else if` is a block holding one `If`).
        otherwise: Option<Block>,
    },
    /// `match expr { a, b -> ...; else -> ... }`
    Match {
        /// The value matched.
        scrutinee: Expr,
        /// Arms in order.
        arms: Vec<MatchArm>,
    },
    /// `label:`
    Label(Ident),
    /// `goto label`
    Goto(Ident),
    /// `repeat` (inside a menu or collect handler)
    Repeat,
    /// `return [expr]`
    Return(Option<Expr>),
    /// `notify sms to x "text"` / `notify email to x subject "s" "body"`
    Notify {
        /// SMS or e-mail.
        channel: NotifyChannel,
        /// Recipient.
        to: Expr,
        /// E-mail subject.
        subject: Option<Expr>,
        /// Message text.
        body: Expr,
    },
    /// `transfer queue x (options) else { ... }`
    Transfer {
        /// Where the call goes.
        dest: Destination,
        /// Options such as `timeout 30s`, `via "long_distance"`.
        options: Vec<Opt>,
        /// What happens when the transfer cannot be made.
        otherwise: Option<Block>,
    },
    /// `hangup`
    Hangup,
    /// `pause 2s`
    Pause(Expr),
    /// `language en`
    Language(Ident),
    /// `on error { ... }`
    OnError(Block),
    /// `{ ... }`
    Block(Block),
}

/// A `say` statement.
#[derive(Debug, Clone, Serialize)]
pub struct Say {
    /// Items in the call's language, or per-language alternatives.
    pub content: SayContent,
    /// Options such as `voice "..."`, `no barge in`.
    pub options: Vec<Opt>,
}

/// What a `say` speaks.
#[derive(Debug, Clone, Serialize)]
pub enum SayContent {
    /// Items spoken in the call's current language.
    Items(Vec<SayItem>),
    /// One list of items per language.
    Translations(Vec<(Ident, Vec<SayItem>)>),
}

/// One item of a `say`: text, or a value read as money, digits, a number, a date or a time.
#[derive(Debug, Clone, Serialize)]
pub struct SayItem {
    /// How to read the value.
    pub kind: SayKind,
    /// The value.
    pub value: Expr,
}

/// How a value is read aloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SayKind {
    /// As written (text, or a number in words).
    Plain,
    /// As a money amount.
    Money,
    /// Digit by digit.
    Digits,
    /// As a number.
    Number,
    /// As a date.
    Date,
    /// As a clock time.
    Time,
}

/// A menu: prompts, choices by key or phrase, and no-input / no-match handlers.
#[derive(Debug, Clone, Serialize)]
pub struct Menu {
    /// Menu name (a node in the IVR trail).
    pub name: Ident,
    /// Options: retries, timeout, barge in, speech...
    pub options: Vec<Opt>,
    /// `play`/`say` statements that form the prompt.
    pub prompts: Vec<Stmt>,
    /// Choices.
    pub choices: Vec<MenuChoice>,
    /// No-input / no-match handlers.
    pub handlers: Vec<InputHandler>,
    /// The whole menu.
    pub span: Span,
}

/// `1 | "账单" -> action`
#[derive(Debug, Clone, Serialize)]
pub struct MenuChoice {
    /// Keys, key sequences and spoken phrases that select this choice.
    pub patterns: Vec<ChoicePattern>,
    /// What happens.
    pub action: Block,
    /// The whole choice.
    pub span: Span,
}

/// A way to pick a menu choice.
#[derive(Debug, Clone, Serialize)]
pub enum ChoicePattern {
    /// A DTMF key or key sequence as written (checked to be DTMF keys).
    Keys(String, Span),
    /// A spoken phrase for speech recognition.
    Phrase(Text),
}

impl ChoicePattern {
    /// Where the pattern is written.
    pub fn span(&self) -> Span {
        match self {
            ChoicePattern::Keys(_, s) => *s,
            ChoicePattern::Phrase(t) => t.span,
        }
    }
}

/// `no input [n|first|final] -> action` / `no match ...`
#[derive(Debug, Clone, Serialize)]
pub struct InputHandler {
    /// No input or no match.
    pub event: InputEvent,
    /// Which attempt it handles.
    pub count: HandlerCount,
    /// What happens.
    pub action: Block,
    /// The whole handler.
    pub span: Span,
}

/// The events an input step can end in besides a valid answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InputEvent {
    /// The caller pressed nothing within the time-out.
    NoInput,
    /// The caller's answer was not a choice / not valid.
    NoMatch,
}

/// Which attempts a handler applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HandlerCount {
    /// Every attempt without a more specific handler.
    Any,
    /// From this attempt on (1-based), until a higher count takes over.
    Nth(u32),
    /// When the retries are used up.
    Final,
}

/// `collect (min 6, max 12, terminator #, ...) { prompts, handlers, valid when ... }`
#[derive(Debug, Clone, Serialize)]
pub struct Collect {
    /// Options.
    pub options: Vec<Opt>,
    /// `play`/`say` statements that form the prompt.
    pub prompts: Vec<Stmt>,
    /// No-input / no-match handlers.
    pub handlers: Vec<InputHandler>,
    /// Extra validity conditions on the digits.
    pub valid: Vec<Expr>,
    /// The whole collection.
    pub span: Span,
}

/// `lookup svc.op(args) (timeout 2s) else { ... }`
#[derive(Debug, Clone, Serialize)]
pub struct Lookup {
    /// Service name.
    pub service: Ident,
    /// Operation name.
    pub operation: Ident,
    /// Arguments.
    pub args: Vec<Expr>,
    /// Options (timeout).
    pub options: Vec<Opt>,
    /// What happens when the service fails or times out.
    pub otherwise: Option<Block>,
    /// The whole lookup.
    pub span: Span,
}

/// `field: expr` in `create workorder`.
#[derive(Debug, Clone, Serialize)]
pub struct FieldInit {
    /// Field name.
    pub name: Ident,
    /// Value.
    pub value: Expr,
}

/// One arm of a `match`.
#[derive(Debug, Clone, Serialize)]
pub struct MatchArm {
    /// Values that select the arm; empty for `else`.
    pub patterns: Vec<Expr>,
    /// What happens.
    pub action: Block,
    /// The whole arm.
    pub span: Span,
}

/// Notification channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifyChannel {
    /// SMS to a phone number.
    Sms,
    /// E-mail.
    Email,
}

/// Where a call or a queue rule sends a call.
#[derive(Debug, Clone, Serialize)]
pub enum Destination {
    /// A queue.
    Queue(Ident),
    /// Another flow.
    Flow(Ident),
    /// An agent by id.
    Agent(Expr),
    /// An outside number through a trunk.
    Number(Expr),
    /// Offer a callback that keeps the caller's place.
    Callback(Span),
    /// Release the call.
    Hangup(Span),
}

impl Destination {
    /// Where the destination is written.
    pub fn span(&self) -> Span {
        match self {
            Destination::Queue(i) | Destination::Flow(i) => i.span,
            Destination::Agent(e) | Destination::Number(e) => e.span,
            Destination::Callback(s) | Destination::Hangup(s) => *s,
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
    /// A duration.
    Duration(DurationLit),
    /// A clock time, seconds after midnight.
    Clock(u32, Span),
    /// A clock range.
    TimeRange(TimeRange),
    /// A date.
    Date(chrono::NaiveDate, Span),
    /// A number range `a..b` / `a to b`.
    Range(f64, f64, Span),
    /// Text.
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

/// A duration literal, in milliseconds; `unitless` marks a bare number where a duration belongs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DurationLit {
    /// Milliseconds.
    pub millis: i64,
    /// True when written without a unit (an error the checker reports).
    pub unitless: bool,
    /// Where it is written.
    pub span: Span,
}

/// A text literal, possibly with `{expr}` interpolations.
#[derive(Debug, Clone, Serialize)]
pub struct Text {
    /// Literal chunks and interpolated expressions, in order.
    pub parts: Vec<TextPart>,
    /// The whole literal including quotes.
    pub span: Span,
}

impl Text {
    /// The text when it has no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                TextPart::Lit(s) => out.push_str(s),
                TextPart::Expr(_) => return None,
            }
        }
        Some(out)
    }

    /// The literal chunks joined, with interpolations left out (for labels and messages).
    pub fn plain_lossy(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            if let TextPart::Lit(s) = p {
                out.push_str(s)
            }
        }
        out
    }
}

/// A piece of a text literal.
#[derive(Debug, Clone, Serialize)]
pub enum TextPart {
    /// Literal characters (escapes resolved).
    Lit(String),
    /// `{expr}`
    Expr(Expr),
}

/// An expression.
#[derive(Debug, Clone, Serialize)]
pub struct Expr {
    /// Project-wide id, for the checker's type table.
    pub id: ExprId,
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
}

/// The forms of expressions.
#[derive(Debug, Clone, Serialize)]
pub enum ExprKind {
    /// `12`, `3.5`
    Number(f64),
    /// `80%` (stored as a fraction)
    Percent(f64),
    /// `true` / `false`
    Bool(bool),
    /// `5s`, `1h30m` (milliseconds)
    Duration(i64),
    /// `08:30` (seconds after midnight)
    Clock(u32),
    /// `2026-10-01`
    Date(chrono::NaiveDate),
    /// `"text {x}"`
    Text(Text),
    /// A variable, constant, parameter or built-in name.
    Name(Ident),
    /// `data.field`
    Data(Ident),
    /// `record.field`
    Field(Box<Expr>, Ident),
    /// `f(a, b)`
    Call(Ident, Vec<Expr>),
    /// `[a, b, c]`
    List(Vec<Expr>),
    /// `-x`, `not x`
    Unary(UnaryOp, Box<Expr>),
    /// `a + b`, `a and b`, `a == b` ...
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `x in list`, `x not in [..]`
    In {
        /// The value looked for.
        value: Box<Expr>,
        /// The list.
        target: InTarget,
        /// True for `not in`.
        negated: bool,
    },
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// The right side of `in`.
#[derive(Debug, Clone, Serialize)]
pub enum InTarget {
    /// A declared list, or one of its categories.
    List {
        /// List name.
        list: Ident,
        /// Category, if given.
        category: Option<Ident>,
    },
    /// `[a, b, c]`
    Values(Vec<Expr>, Span),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `not x`
    Not,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }

    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
        }
    }
}

/// `queue name "label" { ... }`
#[derive(Debug, Clone, Serialize)]
pub struct QueueDecl {
    /// Queue name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Required skills with minimum levels.
    pub skills: Vec<QueueSkill>,
    /// Agent-selection strategy.
    pub strategy: Option<Ident>,
    /// Caller priority (higher is served first).
    pub priority: Option<Expr>,
    /// Music on hold prompt.
    pub music: Option<Expr>,
    /// Announcements while waiting.
    pub announcements: Vec<Announcement>,
    /// Maximum wait and where the call goes then.
    pub max_wait: Option<(DurationLit, Destination, Span)>,
    /// Overflow rules.
    pub overflows: Vec<Overflow>,
    /// Cancel-by-key rules.
    pub keys: Vec<(String, Span, Destination)>,
    /// Agent no-answer time-out and what to do.
    pub no_answer: Option<NoAnswer>,
    /// Agent availability policy (options).
    pub agent_policy: Vec<Opt>,
    /// Wrap-up time after each call.
    pub wrap_up: Option<DurationLit>,
    /// Opening hours and the closed destination.
    pub hours: Option<(Ident, Destination, Span)>,
    /// Service-level target: fraction answered within a time.
    pub service_level: Option<(f64, DurationLit, Span)>,
    /// The whole declaration.
    pub span: Span,
}

/// `billing >= 2`
#[derive(Debug, Clone, Serialize)]
pub struct QueueSkill {
    /// Skill name.
    pub skill: Ident,
    /// Minimum level.
    pub min_level: Option<(f64, Span)>,
}

/// `announce position every 30s when position > 1`
#[derive(Debug, Clone, Serialize)]
pub struct Announcement {
    /// What is announced.
    pub what: AnnounceWhat,
    /// How often.
    pub every: DurationLit,
    /// Only when this holds.
    pub when: Option<Expr>,
    /// The whole rule.
    pub span: Span,
}

/// What an announcement says.
#[derive(Debug, Clone, Serialize)]
pub enum AnnounceWhat {
    /// The caller's position in the queue.
    Position,
    /// The estimated wait.
    Wait,
    /// A prompt file.
    Prompt(Expr),
}

/// `overflow up to senior when waiting > 20`
#[derive(Debug, Clone, Serialize)]
pub struct Overflow {
    /// Up (to a senior queue, only while it has an idle agent) or down (arrives with high priority).
    pub direction: OverflowDirection,
    /// Target queue.
    pub target: Ident,
    /// Condition.
    pub when: Expr,
    /// The whole rule.
    pub span: Span,
}

/// Overflow direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverflowDirection {
    /// To a senior queue.
    Up,
    /// To a junior queue.
    Down,
}

/// `no answer 15s -> requeue first`
#[derive(Debug, Clone, Serialize)]
pub struct NoAnswer {
    /// Ring time before the offer is withdrawn.
    pub timeout: DurationLit,
    /// What happens to the call.
    pub action: NoAnswerAction,
    /// The whole rule.
    pub span: Span,
}

/// What happens to a call whose agent did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoAnswerAction {
    /// Back to the queue at the head (high priority).
    RequeueFirst,
    /// Back to the queue at its normal priority.
    Requeue,
    /// Straight to the next available agent.
    NextAgent,
}

/// `campaign name { ... }`
#[derive(Debug, Clone, Serialize)]
pub struct CampaignDecl {
    /// Campaign name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// The target list and its field mapping.
    pub list: Option<CampaignList>,
    /// Filters (all must hold).
    pub filters: Vec<Expr>,
    /// Dialing mode.
    pub mode: Option<CampaignMode>,
    /// Calendar for day types.
    pub calendar: Option<Ident>,
    /// Call windows per day type.
    pub windows: Vec<CallWindow>,
    /// Retry rules per outcome.
    pub retries: Vec<RetryRule>,
    /// Trunk group for outgoing calls.
    pub trunk: Option<Text>,
    /// Caller id presented.
    pub caller_id: Option<Text>,
    /// Media type (voice, sms...).
    pub media: Option<Ident>,
    /// Message played to a dropped (abandoned) answered call.
    pub dropped: Option<(Expr, Option<DurationLit>, Span)>,
    /// Rules waived, with the reason.
    pub allows: Vec<(Ident, Text, Span)>,
    /// The callee's time zone, when it differs from the calendar's.
    pub timezone: Option<Text>,
    /// The whole declaration.
    pub span: Span,
}

/// `list name from "file.csv" { field: type <- "column" }`
#[derive(Debug, Clone, Serialize)]
pub struct CampaignList {
    /// The list's name (for import and reports).
    pub name: Ident,
    /// Source file.
    pub source: Text,
    /// Fields with their types and source columns.
    pub fields: Vec<(TypedField, Text)>,
    /// The whole list clause.
    pub span: Span,
}

/// `mode predictive (options) -> destination`
#[derive(Debug, Clone, Serialize)]
pub struct CampaignMode {
    /// Mode name: manual, preview, progressive, predictive, ivr.
    pub mode: Ident,
    /// Options such as ratio bounds and the abandon cap.
    pub options: Vec<Opt>,
    /// What an answered call does.
    pub dest: Option<Destination>,
    /// The whole clause.
    pub span: Span,
}

/// `window workday 09:00-12:00, 14:00-20:30`
#[derive(Debug, Clone, Serialize)]
pub struct CallWindow {
    /// Day type: workday, weekend, holiday.
    pub day_type: DayType,
    /// Periods; empty means no calls.
    pub periods: Vec<TimeRange>,
    /// The whole clause.
    pub span: Span,
}

/// Calendar day types for campaign windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DayType {
    /// A working day (including make-up working days).
    Workday,
    /// Saturday or Sunday that is not a make-up working day.
    Weekend,
    /// A public holiday.
    Holiday,
}

/// `retry busy every 10m max 3` / `retry fax never`
#[derive(Debug, Clone, Serialize)]
pub struct RetryRule {
    /// The outcome this rule is for.
    pub outcome: Outcome,
    /// Interval and maximum attempts; `None` = never retry.
    pub every: Option<(DurationLit, u32)>,
    /// The whole rule.
    pub span: Span,
}

/// Outcomes of an outbound attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Line busy.
    Busy,
    /// Rang without answer.
    NoAnswer,
    /// A fax machine answered.
    Fax,
    /// The number does not exist.
    Invalid,
    /// An answering machine answered.
    Machine,
    /// The callee rejected the call.
    Rejected,
}

/// `workorder name { ... }`
#[derive(Debug, Clone, Serialize)]
pub struct WorkorderDecl {
    /// Workorder type name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Calendar for business-hour limits.
    pub calendar: Option<Ident>,
    /// Fields.
    pub fields: Vec<WorkorderField>,
    /// States.
    pub states: Vec<WorkorderState>,
    /// Transitions.
    pub transitions: Vec<Transition>,
    /// Link kinds to other orders.
    pub links: Vec<Ident>,
    /// The whole declaration.
    pub span: Span,
}

/// `field phone: phone required sensitive`
#[derive(Debug, Clone, Serialize)]
pub struct WorkorderField {
    /// Field name.
    pub name: Ident,
    /// Type: text, number, date, phone, customer, recording, or an enum.
    pub ty: TypeExpr,
    /// Must be given at creation.
    pub required: bool,
    /// Masked for roles that may not see it.
    pub sensitive: bool,
    /// The whole field.
    pub span: Span,
}

/// `state name "label" initial limit 4h business { remind ...; escalate ... }`
#[derive(Debug, Clone, Serialize)]
pub struct WorkorderState {
    /// State name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Orders start here.
    pub initial: bool,
    /// Orders end here.
    pub is_final: bool,
    /// Time limit in this state.
    pub limit: Option<StateLimit>,
    /// Reminders (催办).
    pub reminders: Vec<Reminder>,
    /// Escalations (督办).
    pub escalations: Vec<Escalation>,
    /// The whole state.
    pub span: Span,
}

/// A state's time limit.
#[derive(Debug, Clone, Serialize)]
pub struct StateLimit {
    /// How long.
    pub duration: DurationLit,
    /// Counted in the calendar's business hours (true) or wall time.
    pub business: bool,
}

/// `remind 1h before -> handler`
#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    /// When, relative to the limit.
    pub when: RemindWhen,
    /// Roles or departments told.
    pub to: Vec<Ident>,
    /// The whole rule.
    pub span: Span,
}

/// When a reminder fires.
#[derive(Debug, Clone, Serialize)]
pub enum RemindWhen {
    /// This long before the limit.
    Before(DurationLit),
    /// At the limit.
    AtLimit,
    /// At this fraction of the limit.
    Fraction(f64, Span),
}

/// `escalate 2h after -> supervisor`
#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    /// How long after the limit (0 = at the limit).
    pub after: Option<DurationLit>,
    /// Roles or departments escalated to.
    pub to: Vec<Ident>,
    /// The whole rule.
    pub span: Span,
}

/// `transition name: from -> to by roles [kind] [when guard]`
#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    /// Transition name (what the API calls).
    pub name: Ident,
    /// Source state.
    pub from: Ident,
    /// Target state.
    pub to: Ident,
    /// Roles allowed to take it.
    pub roles: Vec<Ident>,
    /// Forward, return, reply, close or reopen.
    pub kind: Option<TransitionKind>,
    /// Guard over the order's fields.
    pub guard: Option<Expr>,
    /// The whole transition.
    pub span: Span,
}

/// Special meanings of a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransitionKind {
    /// Moves the order to another department.
    Forward,
    /// Sends the order back (退单).
    Return,
    /// Records the reply to the customer.
    Reply,
    /// Closes the order.
    Close,
    /// Reopens a closed order.
    Reopen,
}
