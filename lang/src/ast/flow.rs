//! Flows: their statements, prompts, menus with choices and handlers, digit
//! collection, lookups and destinations.

use serde::{Deserialize, Serialize};

use super::decls::*;
use super::expr::*;
use super::span::*;

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
        /// The operation, its arguments, time-out and `else` branch.
        lookup: Lookup,
    },
    /// `name = record (max 60s, silence 5s, beep)`
    Record {
        /// Variable that receives the recording.
        target: Ident,
        /// `max`, `silence`, `beep`, `terminator`.
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
    /// `transition workorder n to closed comment "..." else { ... }`: moves an
    /// order along the transition from its current state to `to` that the IVR
    /// may take.
    TransitionWorkorder {
        /// The order's number (a text).
        order: Expr,
        /// The state to move it to.
        to: Ident,
        /// Kept in the order's history; the reason a `(reason required)` step needs.
        comment: Option<Expr>,
        /// What happens when the order cannot be moved (no such order, another
        /// state, a guard that does not hold, the engine unavailable).
        otherwise: Option<Block>,
    },
    /// `o = lookup workorder fault_repair(n) else { ... }`: the order's number,
    /// state, department, handler and fields as a record.
    LookupWorkorder {
        /// Variable that receives the record.
        target: Ident,
        /// The workorder type (its fields are the record's).
        kind: Ident,
        /// The order's number.
        number: Expr,
        /// What happens when there is no such order of that type.
        otherwise: Option<Block>,
        /// The whole lookup.
        span: Span,
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
        /// Gives the variable its type on first assignment.
        value: Expr,
    },
    /// `data.field = expr`
    SetData {
        /// Call-data field.
        field: Ident,
        /// Of the field's declared type.
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
    /// `notify sms to x "text"` / `notify email to x subject "s" "body"
    /// attach message`
    Notify {
        /// SMS or e-mail.
        channel: NotifyChannel,
        /// Recipient.
        to: Expr,
        /// E-mail subject.
        subject: Option<Expr>,
        /// Message text.
        body: Expr,
        /// A recording to attach to the e-mail (`attach message`).
        attach: Option<Expr>,
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
    /// `for each bill in bills (max 3) { ... }`: the block once per record of
    /// a lookup's list, at most `max` times.
    ForEach {
        /// Takes each record in turn (a variable of the flow).
        var: Ident,
        /// The variable holding the list (a lookup's target).
        list: Ident,
        /// `max N`: the most records read (default [`crate::options::FOR_EACH_DEFAULT_MAX`]).
        options: Vec<Opt>,
        /// Run for each record.
        body: Block,
    },
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
///
/// `value` is any expression; `kind` says how it is read.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)]
pub struct SayItem {
    /// How to read the value.
    pub kind: SayKind,
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
    /// Choices in source order (the runtime answers with the index of the one taken).
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
///
/// `options` are the ones in parentheses (`min`, `max`, `terminator`, time-outs).
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)]
pub struct Collect {
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
///
/// `value` must have the field's declared type.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)]
pub struct FieldInit {
    /// Field name.
    pub name: Ident,
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
    /// Wait in a queue for an agent.
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
