//! The intermediate representation: what a checked project becomes, and what a
//! bundle stores.
//!
//! A flow is a state machine ([`FlowIr`]): blocks of instructions over typed
//! registers, persistent slots for its variables, and explicit suspension points
//! ([`Term::Suspend`]) where it needs the outside world. Each suspension names a
//! [`CommandTemplate`] (what to ask the runtime) and a resume point; when the result
//! comes back, the block at that resume point reads it with [`Inst::Input`].
//! Queue priorities and conditions, campaign filters and workorder guards are
//! [`PredicateIr`]s: the same blocks, no slots, no suspensions, reading their inputs
//! from an environment vector. Calendars, lists, retry rules and time limits are
//! data ([`CalendarIr`], [`ListIr`], ...) with pure functions over them in
//! [`crate::calendar`] and [`crate::value`].
//!
//! Values in registers and slots are 64-bit: numbers are `f64` (held as their
//! bits), durations milliseconds, clock times seconds after midnight, dates days
//! since 1970-01-01, booleans 0/1, texts symbol ids (see [`crate::value::Interner`]),
//! records handles into the execution context.

use serde::{Deserialize, Serialize};

pub use dialect_lang::ast::{
    DayType, HttpMethod, NoAnswerAction, NotFound, NotifyChannel, Outcome, OverflowDirection,
    SayKind, TransitionKind,
};
pub use dialect_lang::types::{Builtin, Function, RecordId, Type};

/// A virtual register of a function (typed, function-wide, not live across suspensions).
pub type Reg = u32;
/// A block index within a function.
pub type BlockId = u32;
/// A persistent variable slot of a flow.
pub type SlotId = u32;
/// An index into [`ProgramIr::flows`].
pub type FlowId = u32;
/// An index into [`ProgramIr::predicates`].
pub type PredId = u32;
/// An index into [`ProgramIr::templates`].
pub type TemplateId = u32;
/// An index into [`ProgramIr::locations`] (a source position).
pub type LocId = u32;
/// A text symbol: an index into the program's constant texts, or above them a text
/// made at run time.
pub type Sym = u32;

/// The format version written into bundles; loading refuses any other.
pub const FORMAT_VERSION: u32 = 2;

/// A source position kept for run-time error messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLoc {
    /// Index into [`ProgramIr::files`].
    pub file: u32,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (characters).
    pub col: u32,
}

/// Everything a project compiles to.
///
/// Tables are indexed by the ids the code uses (`FlowId`, `PredId`, calendar
/// and list indices); one named after a kind of declaration has an entry per
/// declaration of that kind, in the order the model lists them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ProgramIr {
    /// Constant texts; symbol `i` is `texts[i]`.
    pub texts: Vec<String>,
    /// Source files, for locations.
    pub files: Vec<String>,
    /// Source positions referred to by [`LocId`].
    pub locations: Vec<SourceLoc>,
    pub flows: Vec<FlowIr>,
    /// Predicates and rules compiled to functions.
    pub predicates: Vec<PredicateIr>,
    /// Suspension templates.
    pub templates: Vec<CommandTemplate>,
    /// Text interpolation templates.
    pub formats: Vec<FormatTemplate>,
    /// Record types (service answers).
    pub records: Vec<RecordTypeIr>,
    /// Call-data fields.
    pub calldata: Vec<CallDataFieldIr>,
    /// Languages; the first is the default.
    pub languages: Vec<String>,
    /// Dialled numbers and the flow answering each.
    pub numbers: Vec<(String, FlowId)>,
    pub calendars: Vec<CalendarIr>,
    /// Number lists.
    pub lists: Vec<ListIr>,
    /// External services.
    pub services: Vec<ServiceIr>,
    pub queues: Vec<QueueIr>,
    pub campaigns: Vec<CampaignIr>,
    /// Workorder lifecycles.
    pub workorders: Vec<WorkorderIr>,
    /// Skills and their level ranges.
    pub skills: Vec<(String, u32, u32)>,
    /// Departments (name, label).
    pub departments: Vec<(String, String)>,
    /// Agents known to the project.
    pub agents: Vec<AgentIr>,
}

impl ProgramIr {
    /// A flow by name.
    pub fn flow_id(&self, name: &str) -> Option<FlowId> {
        self.flows
            .iter()
            .position(|f| f.name == name)
            .map(|i| i as FlowId)
    }

    /// A source position as `file:line:col`.
    pub fn location(&self, loc: LocId) -> String {
        match self.locations.get(loc as usize) {
            Some(l) => format!(
                "{}:{}:{}",
                self.files
                    .get(l.file as usize)
                    .map(String::as_str)
                    .unwrap_or("?"),
                l.line,
                l.col
            ),
            None => "<unknown>".to_string(),
        }
    }
}

/// A constant value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Const {
    /// A number.
    Num(f64),
    /// A 64-bit integer (duration, time, date, bool).
    Int(i64),
    /// A constant text.
    Text(Sym),
}

/// A function body: typed registers and blocks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Body {
    /// The type of each register.
    pub regs: Vec<Type>,
    /// Blocks; execution starts at `entry`.
    pub blocks: Vec<BlockIr>,
    /// The first block.
    pub entry: BlockId,
}

/// A basic block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockIr {
    /// Instructions in order.
    pub insts: Vec<Inst>,
    /// How the block ends.
    pub term: Term,
    /// The source position of the statement the block comes from.
    pub loc: LocId,
}

/// A flow compiled to a state machine: its slots, its body, and the blocks it
/// resumes at after each command it hands to the runtime.
///
/// `name` is the flow's name in the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct FlowIr {
    pub name: String,
    /// Parameters: their values are the first slots.
    pub params: Vec<(String, Type)>,
    /// Return type (`Void` when none).
    pub returns: Type,
    /// Persistent variable slots (parameters first, then variables, then hidden counters).
    pub slots: Vec<(String, Type)>,
    /// The code.
    pub body: Body,
    /// Blocks execution can resume at after a suspension, by resume id.
    pub resumes: Vec<BlockId>,
    /// Where run-time errors go, if the flow has `on error`.
    pub on_error: Option<BlockId>,
}

/// What a predicate computes, and for whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PredKind {
    /// A constant's value (evaluated at compile time).
    Const(String),
    /// A queue's caller priority.
    QueuePriority(u32),
    /// A queue announcement condition.
    Announcement(u32, u32),
    /// A queue overflow condition.
    Overflow(u32, u32),
    /// The condition of a queue's key.
    Key(u32, u32),
    /// A campaign's filters, combined.
    CampaignFilter(u32),
    /// One filter of a campaign (campaign, filter), to explain a refusal.
    CampaignFilterPart(u32, u32),
    /// A workorder transition guard.
    Guard(u32, u32),
    /// A call-data default.
    CallDataDefault(u32),
}

/// Where a predicate reads each input from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum EnvVar {
    /// A built-in figure (`waited`, `caller`...).
    Builtin(Builtin),
    /// A record field (campaign list field, workorder field), by index.
    Field(u32),
    /// A call-data field, by index.
    Data(u32),
}

/// A pure function over an environment vector: priorities, conditions, filters, guards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredicateIr {
    /// What it is for.
    pub kind: PredKind,
    /// The environment layout: `Inst::Env { index }` reads `env[index]`, which holds `vars[index]`.
    pub vars: Vec<(EnvVar, Type)>,
    /// Result type (Bool or Number).
    pub result: Type,
    /// The code; it ends with `Term::Return(Some(reg))`.
    pub body: Body,
}

/// Unary operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnOp {
    /// Negate a number.
    NegF,
    /// Negate an integer (duration).
    NegI,
    /// Boolean not.
    Not,
}

/// Binary arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinOp {
    /// f64 +
    AddF,
    /// f64 -
    SubF,
    /// f64 *
    MulF,
    /// f64 / (fails on division by zero)
    DivF,
    /// i64 + (durations, dates + days, times)
    AddI,
    /// i64 -
    SubI,
    /// duration (i64) * number (f64) -> duration (i64)
    MulIF,
    /// duration (i64) / number (f64) -> duration (fails on zero)
    DivIF,
    /// duration / duration -> number (fails on zero)
    DivII,
    /// date + duration: days + ms/86400000 -> days
    DateAddMs,
    /// date - duration -> date
    DateSubMs,
    /// date - date -> duration (ms)
    DateDiff,
    /// date + time -> date and time: days * 86400000 + seconds * 1000
    DateAtTime,
    /// time + duration (wraps at midnight) -> time
    TimeAddMs,
    /// time - duration -> time
    TimeSubMs,
    /// time - time -> duration (ms)
    TimeDiff,
    /// Boolean `and` of two computed values (both sides evaluated: the
    /// lowering uses it when the right side is cheap and cannot fail, so
    /// conditions run without branches).
    And,
    /// Boolean `or` of two computed values (see [`BinOp::And`]).
    Or,
}

/// Comparison conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cond {
    /// ==
    Eq,
    /// !=
    Ne,
    /// <
    Lt,
    /// <=
    Le,
    /// >
    Gt,
    /// >=
    Ge,
}

/// What kind of values a comparison compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpKind {
    /// f64
    Num,
    /// i64 (durations, dates, times, booleans)
    Int,
    /// Texts: equality by symbol, order by content.
    Text,
}

/// What to read from the result a suspension was resumed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputField {
    /// Which kind of result ([`InputKind`] as an integer).
    Kind,
    /// The chosen menu choice index.
    Choice,
    /// Digits, a recording id, a workorder number, a failure reason (text).
    Text,
    /// A lookup's record (handle).
    Record,
    /// A sub-flow's returned value.
    Returned,
}

/// The kinds of results a suspension resumes with (the values of `InputField::Kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(i64)]
pub enum InputKind {
    /// Done; nothing to report.
    Done = 0,
    /// A menu choice was made.
    Choice = 1,
    /// Digits were entered.
    Digits = 2,
    /// The caller gave no input.
    NoInput = 3,
    /// The caller's input matched nothing.
    NoMatch = 4,
    /// A lookup answered with a record.
    Record = 5,
    /// A recording was made.
    Recording = 6,
    /// A workorder was created.
    Created = 7,
    /// The operation failed (lookup, transfer, workorder).
    Failed = 8,
    /// A sub-flow returned.
    Returned = 9,
    /// A run-time error happened (resuming at `on error`).
    Error = 10,
}

/// Instructions.
///
/// Each variant's doc shows what it computes. In the fields, `dst` is the register
/// written, `src`, `a` and `b` the registers read, `op`, `cond` and `func` the
/// operation, and `loc` where a run-time error is reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Inst {
    /// `dst = constant`
    Const { dst: Reg, value: Const },
    /// `dst = src`
    Copy { dst: Reg, src: Reg },
    /// `dst = slot`
    Load { dst: Reg, slot: SlotId },
    /// `slot = src`
    Store { slot: SlotId, src: Reg },
    /// `dst = data.field`
    LoadData {
        dst: Reg,
        /// Call-data field index.
        field: u32,
    },
    /// `data.field = src`
    StoreData {
        /// Call-data field index.
        field: u32,
        src: Reg,
    },
    /// `dst = caller / called / trunk` (flows).
    Builtin { dst: Reg, which: Builtin },
    /// `dst = env[index]` (predicates).
    Env {
        dst: Reg,
        /// Environment index.
        index: u32,
    },
    /// `dst = count of records in list` (an integer; 0 for the empty list).
    ItemCount {
        dst: Reg,
        /// List handle.
        list: Reg,
    },
    /// `dst = list[index]`, a record handle (fails when the index is outside
    /// the list).
    Item {
        dst: Reg,
        /// List handle.
        list: Reg,
        /// Integer index from 0.
        index: Reg,
        /// For the error message.
        loc: LocId,
    },
    /// `dst = record.field` (fails when the record is missing).
    Field {
        dst: Reg,
        /// Record handle.
        record: Reg,
        /// Field index in the record type.
        field: u32,
        /// For the error message.
        loc: LocId,
    },
    /// Unary operation.
    Unary { dst: Reg, op: UnOp, src: Reg },
    /// Binary arithmetic (division fails on zero).
    Binary {
        dst: Reg,
        op: BinOp,
        a: Reg,
        b: Reg,
        /// For the error message.
        loc: LocId,
    },
    /// Comparison giving 0/1.
    Cmp {
        dst: Reg,
        cond: Cond,
        /// What is compared.
        kind: CmpKind,
        a: Reg,
        b: Reg,
    },
    /// Text concatenation.
    Concat { dst: Reg, a: Reg, b: Reg },
    /// Text interpolation from a template and argument registers.
    Format {
        dst: Reg,
        /// Index into [`ProgramIr::formats`].
        template: u32,
        /// The interpolated values.
        args: Vec<Reg>,
    },
    /// List membership (`x in list.category`), at the current time of day.
    InList {
        dst: Reg,
        /// The text looked up.
        value: Reg,
        /// Index into [`ProgramIr::lists`].
        list: u32,
        /// Category index, or all entries of the list.
        category: Option<u32>,
    },
    /// A built-in function.
    Call {
        dst: Reg,
        func: Function,
        /// Arguments (a calendar argument is an integer constant: its index).
        args: Vec<Reg>,
        /// For the error message.
        loc: LocId,
    },
    /// Read the result this block was resumed with.
    Input {
        dst: Reg,
        /// What to read.
        what: InputField,
    },
    /// Change the call's language (`language en`).
    SetLanguage {
        /// Index into [`ProgramIr::languages`].
        language: u32,
    },
}

/// How a block ends.
///
/// A `Switch` jumps to the block of the case equal to `value`, or to `default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Term {
    /// Go to a block.
    Jump(BlockId),
    /// Go to `then` when `cond` is non-zero, else to `otherwise`.
    Branch {
        /// The condition register (0/1).
        cond: Reg,
        /// Taken when true.
        then: BlockId,
        /// Taken when false.
        otherwise: BlockId,
    },
    /// Multi-way branch on an integer.
    Switch {
        value: Reg,
        cases: Vec<(i64, BlockId)>,
        default: BlockId,
    },
    /// Ask the runtime for something; continue at `resumes[resume]` with the result.
    Suspend {
        /// What to ask.
        template: TemplateId,
        /// The dynamic operands of the template.
        args: Vec<Reg>,
        /// Resume id.
        resume: u32,
    },
    /// Run a sub-flow; continue at `resumes[resume]` when it returns.
    CallFlow {
        /// The sub-flow.
        flow: FlowId,
        /// Its arguments.
        args: Vec<Reg>,
        /// Resume id.
        resume: u32,
    },
    /// Return from the flow (or predicate) with a value.
    Return(Option<Reg>),
    /// End the call (`hangup`), or end the flow when it falls off its end.
    Hangup,
    /// Raise a run-time error.
    Fail {
        /// What went wrong.
        message: String,
        /// Where the error is reported in the flow text.
        loc: LocId,
    },
}

/// What a suspension asks the runtime; operands refer to the suspension's args.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandTemplate {
    /// The step's name in the IVR trail (menu name, `play`, `lookup crm.customer`...).
    pub node: String,
    /// The statement it comes from, for `FlowInstance::location` and the trail.
    pub loc: LocId,
    /// What to ask.
    pub kind: TemplateKind,
}

/// An operand: a constant text or the value of argument `i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Operand {
    /// A constant text symbol.
    Text(Sym),
    /// Argument `i` of the suspension, of the given type.
    Arg(u32, Type),
}

/// One item of speech.
///
/// `value` is read the way `kind` says (money, digits, a date...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SpeechIr {
    /// How to read it.
    pub kind: SayKind,
    pub value: Operand,
}

/// A prompt inside a menu or collect, or a play/say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PromptIr {
    /// Play files.
    Play {
        /// File names.
        files: Vec<Operand>,
        /// Whether a key stops it.
        barge_in: Option<bool>,
    },
    /// Speak text; one list of items per language (the first entry's language is
    /// used when the call's language has none; `None` = the call's language).
    Say {
        /// Per-language items.
        translations: Vec<(Option<String>, Vec<SpeechIr>)>,
        /// TTS voice.
        voice: Option<String>,
        /// Speaking rate.
        rate: Option<u32>,
        /// Whether a key stops it.
        barge_in: Option<bool>,
    },
}

/// Options of a menu or collect, with defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputOptions {
    /// Time for the first key.
    pub timeout_ms: i64,
    /// Time between keys.
    pub digit_timeout_ms: i64,
    /// Attempts before the final handler.
    pub retries: u32,
    /// A key stops the prompt.
    pub barge_in: bool,
    /// Listen for speech too.
    pub speech: bool,
    /// Lowest accepted recognition confidence.
    pub confidence: f64,
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TransferDest {
    /// A queue by name.
    Queue(String),
    /// An agent (operand: the id).
    Agent(Operand),
    /// An outside number (operand).
    Number(Operand),
    /// Another flow, by name.
    Flow(String),
}

/// The kinds of suspension.
///
/// The fields are what the runtime's [`Command`](crate::exec::Command) of the
/// same name carries; operands are filled from the suspension's arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum TemplateKind {
    /// Play prompts or speak.
    Prompt(PromptIr),
    /// A menu: prompts, the key patterns and phrases of each choice.
    Menu {
        name: String,
        prompts: Vec<PromptIr>,
        /// For each choice, its key sequences.
        keys: Vec<Vec<String>>,
        /// For each choice, its spoken phrases.
        phrases: Vec<Vec<String>>,
        options: InputOptions,
        /// Operand giving the attempt number (1-based), for the trail.
        attempt: Operand,
    },
    /// Digit collection.
    Collect {
        /// The variable being collected (for the trail).
        name: String,
        prompts: Vec<PromptIr>,
        /// Fewest digits.
        min: u32,
        /// Most digits.
        max: u32,
        /// Key that ends the entry.
        terminator: Option<char>,
        options: InputOptions,
        /// Keep the digits out of logs.
        mask: bool,
        /// Attempt number operand.
        attempt: Operand,
    },
    /// A lookup; the args are the operation's parameters in order.
    Lookup {
        /// Index into [`ProgramIr::services`].
        service: u32,
        /// Index of the operation.
        operation: u32,
        /// Time-out.
        timeout_ms: i64,
    },
    /// Record a message.
    Record {
        /// Longest recording.
        max_ms: i64,
        /// Silence that ends it.
        silence_ms: i64,
        /// Key that ends it.
        terminator: Option<char>,
        /// Beep first.
        beep: bool,
    },
    /// Create a workorder; the args are the field values in the order of `fields`.
    CreateWorkorder {
        /// Index into [`ProgramIr::workorders`].
        workorder: u32,
        /// Field names, in argument order.
        fields: Vec<String>,
    },
    /// Send an SMS or an e-mail; args: recipient, (subject,) body, (recording).
    Notify {
        /// SMS or e-mail.
        channel: NotifyChannel,
        to: Operand,
        /// Subject (e-mail).
        subject: Option<Operand>,
        body: Operand,
        /// The recording attached to the e-mail (`attach message`).
        attachment: Option<Operand>,
    },
    /// Read an order of a workorder type as a record; arg 0 is its number.
    LookupWorkorder {
        /// Index into [`ProgramIr::workorders`].
        workorder: u32,
        /// The record type the answer fills.
        record: RecordId,
    },
    /// Move an order to a state along a transition the IVR may take.
    TransitionWorkorder {
        /// The order's number.
        order: Operand,
        /// The state to move it to.
        to: String,
        /// Kept in the order's history (the reason a step may need).
        comment: Option<Operand>,
    },
    /// Transfer the call.
    Transfer {
        dest: TransferDest,
        /// Ring time-out.
        timeout_ms: Option<i64>,
        /// Trunk group.
        via: Option<String>,
        /// Caller id presented.
        caller_id: Option<String>,
        /// Added to the queue's priority for this call (transfers to a queue).
        priority: Option<f64>,
        /// The flow has an `else` branch for a failed transfer.
        has_fallback: bool,
    },
    /// Wait; arg 0 is the duration.
    Pause,
}

/// A text interpolation template: literal pieces and typed holes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormatTemplate {
    /// Pieces in order.
    pub parts: Vec<FormatPart>,
}

/// A piece of an interpolation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FormatPart {
    /// Literal text.
    Lit(String),
    /// Argument `i`, of this type.
    Arg(u32, Type),
}

/// A record type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordTypeIr {
    /// `service.operation`
    pub name: String,
    /// Fields and their types.
    pub fields: Vec<(String, Type)>,
}

/// A call-data field.
///
/// `name` is the field's name as `data.name` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CallDataFieldIr {
    pub name: String,
    /// Type.
    pub ty: Type,
    /// Value at the start of a call.
    pub default: ConstValue,
}

/// A constant value with its meaning (for defaults and bundle inspection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConstValue {
    /// A number.
    Num(f64),
    /// An integer-represented value (bool, duration, time, date).
    Int(i64),
    /// A text (symbols are only meaningful inside one program, so texts are kept as
    /// written).
    Text(String),
}

/// A calendar: time zone, weekly hours, special days.
///
/// `name` is the calendar's name in the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CalendarIr {
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
    /// Opening periods per weekday (0 = Monday), seconds after midnight.
    pub weekly: Vec<Vec<(u32, u32)>>,
    /// Holidays and special working days by date (days since 1970-01-01), sorted.
    pub special: Vec<SpecialDayIr>,
}

/// A holiday or a special working day.
///
/// `label` is the day's name as written (`"春节"`), empty when none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SpecialDayIr {
    /// Days since 1970-01-01.
    pub day: i64,
    /// Holiday (closed unless hours given) or working day.
    pub holiday: bool,
    /// Opening periods that day; `None` = closed (holiday) or normal working hours.
    pub hours: Option<Vec<(u32, u32)>>,
    pub label: String,
}

/// A number list.
///
/// `name` is the list's name in the project; `categories` hold the numbers
/// filed under each category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ListIr {
    pub name: String,
    /// Entries outside categories.
    pub entries: Vec<String>,
    pub categories: Vec<ListCategoryIr>,
}

/// A list category.
///
/// `name` is the category's name, as `x in list.name` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ListCategoryIr {
    pub name: String,
    /// Entries (a trailing `*` makes a prefix).
    pub entries: Vec<String>,
    /// Agent transfers allowed per day.
    pub max_transfers: Option<u32>,
    /// Daily window in which the category applies (seconds; may wrap midnight).
    pub active: Option<(u32, u32)>,
}

/// An external service.
///
/// `name` is the service's name in the project, and `operations` its
/// operations in declaration order (a lookup refers to one by index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ServiceIr {
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Default time-out.
    pub timeout_ms: i64,
    /// What a 404 or an empty answer means (`not found -> answer`).
    #[serde(default)]
    pub not_found: NotFound,
    pub operations: Vec<OperationIr>,
}

/// One operation of a service.
///
/// `name` is the operation's name, as `lookup service.name(...)` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OperationIr {
    pub name: String,
    /// GET or POST.
    pub method: HttpMethod,
    /// Path with `{param}` placeholders.
    pub path: String,
    /// Parameters.
    pub params: Vec<(String, Type)>,
    /// The answer's record type.
    pub record: RecordId,
    /// The answer is a JSON array of such records.
    #[serde(default)]
    pub list: bool,
}

/// A destination of a queue rule or campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DestIr {
    /// Wait in this queue.
    Queue(String),
    /// Start this flow on the call.
    Flow(String),
    /// Ring this agent (by id).
    Agent(String),
    /// Call this outside number.
    Number(String),
    /// Offer a callback keeping the caller's place.
    Callback,
    /// Release the call.
    Hangup,
}

/// `key 1 -> callback offer "press1.wav" every 1m when waited > 2m`: the
/// prompt telling waiting callers about a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyOfferIr {
    /// The key offered.
    pub key: char,
    /// The prompt file.
    pub prompt: String,
    /// Interval between offers, ms.
    pub every_ms: i64,
    /// The key's condition: the offer is played only while it holds.
    pub when: Option<PredId>,
}

/// What a queue announces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AnnounceIr {
    /// The caller's position.
    Position,
    /// The estimated wait.
    Wait,
    /// A prompt file.
    Prompt(String),
}

/// A queue.
///
/// Fields named after the declaration's clauses hold those clauses, resolved
/// (names to indices, durations to milliseconds, conditions to predicates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct QueueIr {
    pub name: String,
    pub label: String,
    /// Required skills with minimum levels.
    pub skills: Vec<(String, u32)>,
    /// Agent-selection strategy.
    pub strategy: String,
    /// Priority predicate.
    pub priority: Option<PredId>,
    /// Music on hold.
    pub music: Option<String>,
    /// Announcements: what, interval, condition.
    pub announcements: Vec<(AnnounceIr, i64, Option<PredId>)>,
    /// Maximum wait and destination.
    pub max_wait: Option<(i64, DestIr)>,
    /// Overflow rules: direction, target queue, condition.
    pub overflows: Vec<(OverflowDirection, String, PredId)>,
    /// Cancel keys, each with the condition under which it works.
    pub keys: Vec<(char, DestIr, Option<PredId>)>,
    /// Prompts offering a key to waiting callers, under the key's condition.
    #[serde(default)]
    pub key_offers: Vec<KeyOfferIr>,
    /// Agent no-answer time-out and action.
    pub no_answer: Option<(i64, NoAnswerAction)>,
    /// Missed offers before an agent is made not ready.
    pub max_missed: Option<u32>,
    /// Delay after an agent rejects.
    pub reject_delay_ms: Option<i64>,
    /// Delay after an agent's phone was busy.
    pub busy_delay_ms: Option<i64>,
    /// Delay after an agent's phone was unregistered.
    pub unregistered_delay_ms: Option<i64>,
    /// Wrap-up time.
    pub wrap_up_ms: i64,
    /// Opening hours: calendar index and closed destination.
    pub hours: Option<(u32, DestIr)>,
    /// Service-level target: fraction and time.
    pub service_level: (f64, i64),
}

/// A campaign.
///
/// Fields named after the declaration's clauses hold those clauses, resolved
/// (names to indices, durations to milliseconds, conditions to predicates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CampaignIr {
    pub name: String,
    pub label: String,
    /// The list's name.
    pub list: String,
    /// Source file.
    pub source: String,
    /// Fields: name, type, source column.
    pub fields: Vec<(String, Type, String)>,
    /// All filters combined.
    pub filter: Option<PredId>,
    /// Each filter on its own, with its text: asked only for a target the
    /// combined filter refused, to say which filter refused it.
    pub filter_parts: Vec<(String, PredId)>,
    /// `max attempts N`.
    pub max_attempts: Option<u32>,
    /// `max attempts per day N`.
    pub max_attempts_per_day: Option<u32>,
    /// Disposition codes: name, label, dial again after (ms) or end the target.
    pub dispositions: Vec<(String, String, Option<i64>)>,
    /// The agent's script.
    pub script: Option<String>,
    /// Answering-machine detection: `None` = off; otherwise the settings
    /// written, in milliseconds (`max words`: a count), the defaults for the rest.
    pub machine_detection: Option<Vec<(String, f64)>>,

    /// Dialing mode.
    pub mode: String,
    /// Pacing ratio bounds.
    pub ratio: (f64, f64),
    /// Abandon-rate cap.
    pub abandon_max: f64,
    /// Preview time.
    pub preview_ms: Option<i64>,
    /// Dial a previewed target when the preview time runs out.
    pub preview_auto_dial: bool,
    /// Ring time before no answer.
    pub ring_ms: i64,
    /// Simultaneous calls.
    pub max_channels: Option<u32>,
    /// What an answered call does.
    pub dest: Option<DestIr>,
    /// Calendar index.
    pub calendar: Option<u32>,
    /// Windows per day type.
    pub windows: Vec<(DayType, Vec<(u32, u32)>)>,
    /// Retry rules: outcome, interval, maximum (None = never).
    pub retries: Vec<(Outcome, Option<(i64, u32)>)>,
    /// Trunk group.
    pub trunk: Option<String>,
    pub caller_id: Option<String>,
    /// Media type.
    pub media: String,
    /// Dropped-call message and its deadline.
    pub dropped: Option<(String, i64)>,
    /// Callee time zone.
    pub timezone: Option<String>,
    /// Targets drawn from orders instead of a file.
    pub orders: Option<OrderSourceIr>,
}

/// A workorder field.
///
/// `name` is the field's name in the workorder type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WorkorderFieldIr {
    pub name: String,
    /// Value type.
    pub ty: Type,
    /// Declared kind (text, phone, enum...).
    pub kind: String,
    /// Enum values.
    pub values: Vec<String>,
    /// Required at creation.
    pub required: bool,
    /// Masked for roles without access.
    pub sensitive: bool,
}

/// When a reminder fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RemindIr {
    /// This long before the limit.
    Before(i64),
    /// At the limit.
    AtLimit,
    /// At a fraction of the limit.
    Fraction(f64),
}

/// A workorder state.
///
/// `name` and `label` are the state's name and its label for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WorkorderStateIr {
    pub name: String,
    pub label: String,
    /// Initial state.
    pub initial: bool,
    /// Final state.
    pub is_final: bool,
    /// Time limit and whether it counts business hours.
    pub limit: Option<(i64, bool)>,
    /// Reminders and who gets them.
    pub reminders: Vec<(RemindIr, Vec<String>)>,
    /// Escalations: delay after the limit and targets.
    pub escalations: Vec<(i64, Vec<String>)>,
}

/// A workorder transition.
///
/// `name` is the transition's name, which a request to move an order gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TransitionIr {
    pub name: String,
    /// From state index.
    pub from: u32,
    /// To state index.
    pub to: u32,
    /// Roles allowed.
    pub roles: Vec<String>,
    /// Special meaning.
    pub kind: Option<TransitionKind>,
    /// Guard predicate.
    pub guard: Option<PredId>,
    /// `(reason required)`: the step needs a comment.
    pub reason_required: bool,
}

/// What an order entering a state sets off (`on enter STATE -> ...`): written
/// in the same store batch as the step that entered the state, so it happens
/// once per entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerIr {
    /// The state entered (index into the lifecycle's states).
    pub state: u32,
    /// What happens.
    pub action: TriggerActionIr,
}

/// A trigger's work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TriggerActionIr {
    /// An SMS or an e-mail through the outbox. `subject` and `body` hold
    /// `{field}` holes filled from the order (`{order}` is its number).
    Notify {
        /// SMS or e-mail.
        channel: NotifyChannel,
        /// The field holding the number or the address.
        to_field: String,
        /// The e-mail's subject.
        subject: Option<String>,
        /// The text.
        body: String,
    },
    /// The role told that the order waits for it.
    Assign(String),
    /// The order becomes a target of an IVR campaign that runs `flow`.
    Call {
        /// The flow the answered call runs.
        flow: String,
        /// The order's fields passed to the flow (by the same names).
        args: Vec<String>,
        /// The campaign whose trunk, windows and retries the call follows.
        campaign: String,
    },
}

/// `TARGET within D from FROM`: a limit spanning the states between entering
/// `from` and reaching `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanLimitIr {
    /// The state to reach (index).
    pub target: u32,
    /// The state the time counts from (index).
    pub from: u32,
    /// The limit, ms, and whether it counts business hours.
    pub limit: (i64, bool),
    /// Reminders before the limit and who gets them.
    pub reminders: Vec<(RemindIr, Vec<String>)>,
    /// Escalations: delay after the limit and targets.
    pub escalations: Vec<(i64, Vec<String>)>,
}

/// `list from workorders KIND in state S`: a campaign's targets are orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSourceIr {
    /// The workorder type.
    pub kind: String,
    /// Orders entering this state become targets (`None`: only those a
    /// trigger's `call` names).
    pub state: Option<String>,
}

/// A workorder lifecycle.
///
/// Fields named after the declaration's clauses hold those clauses, resolved
/// (names to indices, durations to milliseconds, conditions to predicates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WorkorderIr {
    pub name: String,
    pub label: String,
    /// Calendar index for business-hour limits.
    pub calendar: Option<u32>,
    pub fields: Vec<WorkorderFieldIr>,
    pub states: Vec<WorkorderStateIr>,
    pub transitions: Vec<TransitionIr>,
    /// Link kinds.
    pub links: Vec<String>,
    /// `on enter` triggers, in source order.
    pub triggers: Vec<TriggerIr>,
    /// Limits spanning several states.
    pub span_limits: Vec<SpanLimitIr>,
}

/// An agent of the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentIr {
    /// Id (the phone's user name).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Skills and levels.
    pub skills: Vec<(String, u32)>,
}
