//! Expression typing: every expression gets a [`Type`], every name a [`NameRef`],
//! and every mismatch a message that says what was expected and what was found.

use std::collections::BTreeMap;

use crate::ast::*;
use crate::check::{Checker, NameRef};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::types::{Builtin, Function, Param, Type};

/// Where an expression is written decides which names it can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    /// A constant's value: only other constants.
    Const,
    /// A flow: its variables, call data, caller/called/trunk.
    Flow,
    /// A queue rule: call data, the caller and the queue's live figures.
    Queue,
    /// A campaign filter: the record's fields, attempts, last outcome.
    Campaign,
    /// A workorder guard: the order's fields and its age.
    Workorder,
    /// A call-data default: constants only.
    CallData,
}

/// The names visible to an expression.
pub(crate) struct Scope {
    pub(crate) kind: ScopeKind,
    /// Variables (flows) or record fields (campaigns, workorders).
    pub(crate) locals: BTreeMap<String, Type>,
}

impl Scope {
    /// The scope of a constant's value.
    pub(crate) fn constant() -> Scope {
        Scope {
            kind: ScopeKind::Const,
            locals: BTreeMap::new(),
        }
    }

    /// A scope of `kind` with these variables or fields.
    pub(crate) fn new(kind: ScopeKind, locals: BTreeMap<String, Type>) -> Scope {
        Scope { kind, locals }
    }

    fn builtins(&self) -> &'static [Builtin] {
        use Builtin::*;
        match self.kind {
            ScopeKind::Const | ScopeKind::CallData => &[],
            ScopeKind::Flow => &[Caller, Called, Trunk],
            ScopeKind::Queue => &[
                Caller,
                Called,
                Trunk,
                Waited,
                Position,
                EstimatedWait,
                Waiting,
                IdleAgents,
                ServiceLevel,
                LongestWait,
            ],
            ScopeKind::Campaign => &[Attempts, LastOutcome, AttemptsToday, SinceLastAttempt],
            ScopeKind::Workorder => &[Age],
        }
    }

    fn describe(&self) -> &'static str {
        match self.kind {
            ScopeKind::Const => "a constant",
            ScopeKind::CallData => "a call-data default",
            ScopeKind::Flow => "a flow",
            ScopeKind::Queue => "a queue rule",
            ScopeKind::Campaign => "a campaign filter",
            ScopeKind::Workorder => "a workorder guard",
        }
    }

    fn local_ref(&self) -> NameRef {
        match self.kind {
            ScopeKind::Campaign | ScopeKind::Workorder => NameRef::Field,
            _ => NameRef::Local,
        }
    }
}

impl Checker<'_> {
    /// Types an expression, recording its type (and what its names refer to).
    pub(crate) fn type_of(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        let ty = self.type_of_inner(e, scope);
        self.model.types.insert(e.id, ty);
        ty
    }

    /// Types an expression and reports it when it is not of type `want`.
    pub(crate) fn expect_type(
        &mut self,
        e: &Expr,
        want: Type,
        scope: &mut Scope,
        what: &str,
    ) -> Type {
        let got = self.type_of(e, scope);
        if got != want && got != Type::Error && want != Type::Error {
            self.mismatch(e, want, got, what);
        }
        got
    }

    pub(crate) fn mismatch(&mut self, e: &Expr, want: Type, got: Type, what: &str) {
        let text = self.snippet(e.span);
        let mut d = Diagnostic::error(
            "type-mismatch",
            e.span,
            format!("{what} must be {want}, but `{text}` is {got}"),
        )
        .with_label(format!("this is {got}"));
        d = match (want, got) {
            (Type::Duration, Type::Number) => {
                d.with_hint(format!("add a unit: {text}s, {text}m or {text}h"))
            }
            (Type::Text, Type::Number) => d.with_hint(format!(
                "write text in quotes: \"{text}\", or use to_text({text})"
            )),
            (Type::Number, Type::Text) => {
                d.with_hint(format!("use to_number({text}) to read a number from text"))
            }
            (Type::Bool, _) => {
                d.with_hint("a condition compares values, for example `x == 1` or `x > 0`")
            }
            _ => d,
        };
        self.err(d);
    }

    fn type_of_inner(&mut self, e: &Expr, scope: &mut Scope) -> Type {
        match &e.kind {
            ExprKind::Number(_) | ExprKind::Percent(_) => Type::Number,
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Duration(_) => Type::Duration,
            ExprKind::Clock(_) => Type::Time,
            ExprKind::Date(_) => Type::Date,
            ExprKind::DateTime(_) => Type::DateTime,
            ExprKind::Text(t) => {
                self.check_text_parts(t, scope);
                Type::Text
            }
            ExprKind::Name(n) => self.type_name(e, n, scope),
            ExprKind::Data(f) => self.type_data(f, scope),
            ExprKind::Field(base, f) => {
                let bt = self.type_of(base, scope);
                match bt {
                    Type::Record(id) => {
                        let rec = &self.model.records[id.0 as usize];
                        match rec.field(&f.name) {
                            Some((_, t)) => t,
                            None => {
                                let hint = did_you_mean(
                                    &f.name,
                                    rec.fields.iter().map(|(n, _)| n.as_str()),
                                )
                                .map(|s| format!("did you mean `{s}`?"));
                                let all = rec
                                    .fields
                                    .iter()
                                    .map(|(n, _)| n.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ");
                                let rname = rec.name.clone();
                                self.err(
                                    Diagnostic::error(
                                        "unknown-field",
                                        f.span,
                                        format!("the answer of {rname} has no field `{}`", f.name),
                                    )
                                    .with_label("no such field")
                                    .with_hint_opt(hint)
                                    .with_hint(format!("its fields are: {all}")),
                                );
                                Type::Error
                            }
                        }
                    }
                    Type::Error => Type::Error,
                    other => {
                        let text = self.snippet(base.span);
                        self.err(
                            Diagnostic::error(
                                "type-mismatch",
                                f.span,
                                format!("`{text}` is {other}, which has no fields"),
                            )
                            .with_hint(
                                "only the answer of a lookup has fields, such as customer.level",
                            ),
                        );
                        Type::Error
                    }
                }
            }
            ExprKind::Call(f, args) => self.type_call(e, f, args, scope),
            ExprKind::List(items) => {
                let mut first: Option<Type> = None;
                for it in items {
                    let t = self.type_of(it, scope);
                    match first {
                        None => first = Some(t),
                        Some(f) if f != t && t != Type::Error && f != Type::Error => {
                            self.mismatch(it, f, t, "every item of a list");
                        }
                        _ => {}
                    }
                }
                self.err(
                    Diagnostic::error(
                        "type-mismatch",
                        e.span,
                        "a list can only be used on the right of `in`",
                    )
                    .with_hint("write `x in [1, 2, 3]`"),
                );
                Type::Error
            }
            ExprKind::Unary(op, inner) => {
                let t = self.type_of(inner, scope);
                match (op, t) {
                    (_, Type::Error) => Type::Error,
                    (UnaryOp::Neg, Type::Number | Type::Duration) => t,
                    (UnaryOp::Not, Type::Bool) => Type::Bool,
                    (UnaryOp::Neg, other) => {
                        self.mismatch(inner, Type::Number, other, "the value after `-`");
                        Type::Error
                    }
                    (UnaryOp::Not, other) => {
                        self.mismatch(inner, Type::Bool, other, "the value after `not`");
                        Type::Error
                    }
                }
            }
            ExprKind::Binary(op, a, b) => {
                let ta = self.type_of(a, scope);
                let tb = self.type_of(b, scope);
                self.type_binary(e, *op, a, ta, b, tb)
            }
            ExprKind::In {
                value,
                target,
                negated: _,
            } => {
                let tv = self.type_of(value, scope);
                match target {
                    InTarget::List { list, category } => {
                        self.resolve_list(list, category.as_ref());
                        if tv != Type::Text && tv != Type::Error {
                            self.mismatch(value, Type::Text, tv, "a number looked up in a list");
                        }
                    }
                    InTarget::Values(items, _) => {
                        for it in items {
                            let ti = self.type_of(it, scope);
                            if ti != tv && ti != Type::Error && tv != Type::Error {
                                self.mismatch(it, tv, ti, "every item of the list");
                            }
                        }
                    }
                }
                Type::Bool
            }
            ExprKind::Cond(c, a, b) => {
                self.expect_type(c, Type::Bool, scope, "the condition before `?`");
                let ta = self.type_of(a, scope);
                let tb = self.type_of(b, scope);
                if ta != tb && ta != Type::Error && tb != Type::Error {
                    self.mismatch(b, ta, tb, "both sides of `:`");
                    return Type::Error;
                }
                ta
            }
        }
    }

    fn check_text_parts(&mut self, t: &Text, scope: &mut Scope) {
        for p in &t.parts {
            if let TextPart::Expr(x) = p {
                let ty = self.type_of(x, scope);
                if matches!(
                    ty,
                    Type::Record(_)
                        | Type::RecordList(_)
                        | Type::List
                        | Type::Void
                        | Type::Recording
                ) {
                    self.err(
                        Diagnostic::error(
                            "type-mismatch",
                            x.span,
                            format!("{ty} cannot be put inside a text"),
                        )
                        .with_hint("put a field of it instead, such as {customer.name}"),
                    );
                }
            }
        }
    }

    fn type_name(&mut self, e: &Expr, n: &Ident, scope: &mut Scope) -> Type {
        if let Some(&t) = scope.locals.get(&n.name) {
            self.model.names.insert(e.id, scope.local_ref());
            return t;
        }
        if self.model.consts.contains_key(&n.name) {
            self.model.names.insert(e.id, NameRef::Const);
            return self.const_type(&n.name);
        }
        if let Some(b) = Builtin::from_name(&n.name) {
            if scope.builtins().contains(&b) {
                self.model.names.insert(e.id, NameRef::Builtin(b));
                return b.ty();
            }
            let whr = match b {
                Builtin::Caller | Builtin::Called | Builtin::Trunk => "flows and queue rules",
                Builtin::Attempts
                | Builtin::LastOutcome
                | Builtin::AttemptsToday
                | Builtin::SinceLastAttempt => "campaign filters",
                Builtin::Age => "workorder guards",
                _ => "queue rules",
            };
            self.err(
                Diagnostic::error(
                    "unknown-name",
                    n.span,
                    format!(
                        "`{}` exists only in {whr}, not in {}",
                        n.name,
                        scope.describe()
                    ),
                )
                .with_label("not available here"),
            );
            return Type::Error;
        }
        // Not a value: say what it is when it names something else.
        let kind = if self.model.calendars.contains_key(&n.name) {
            Some("a calendar; use is_open(NAME) to ask whether it is open")
        } else if self.model.lists.contains_key(&n.name) {
            Some("a list; use `x in NAME` to look a number up")
        } else if self.model.queues.contains_key(&n.name) {
            Some("a queue; use `transfer queue NAME` to send the call there")
        } else if self.model.flows.contains_key(&n.name) {
            Some("a flow; use `call NAME()` to run it")
        } else if self.model.calldata_field(&n.name).is_some() {
            Some("a call-data field; write data.NAME")
        } else {
            None
        };
        if let Some(k) = kind {
            self.err(
                Diagnostic::error(
                    "unknown-name",
                    n.span,
                    format!("`{}` is {}", n.name, k.split(';').next().unwrap_or(k)),
                )
                .with_label("not a value")
                .with_hint(k.split("; ").nth(1).unwrap_or("").to_string()),
            );
            return Type::Error;
        }
        let mut candidates: Vec<String> = scope.locals.keys().cloned().collect();
        candidates.extend(self.model.consts.keys().cloned());
        candidates.extend(scope.builtins().iter().map(|b| b.name().to_string()));
        let hint = did_you_mean(&n.name, candidates.iter().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?"));
        let extra = match scope.kind {
            ScopeKind::Flow => "variables get a value with `name = ...` before they are used",
            ScopeKind::Campaign => "a filter can use the list's fields, attempts and last_outcome",
            ScopeKind::Workorder => "a guard can use the order's fields and age",
            ScopeKind::Queue => {
                "queue rules can use waited, position, estimated_wait, waiting, idle_agents, service_level, longest_wait, caller, trunk and data.FIELD"
            }
            _ => "constants can only use other constants",
        };
        self.err(
            Diagnostic::error(
                "unknown-name",
                n.span,
                format!("there is nothing called `{}` here", n.name),
            )
            .with_label("unknown name")
            .with_hint_opt(hint)
            .with_hint(extra),
        );
        Type::Error
    }

    fn type_data(&mut self, f: &Ident, scope: &Scope) -> Type {
        if !matches!(scope.kind, ScopeKind::Flow | ScopeKind::Queue) {
            self.err(Diagnostic::error(
                "unknown-name",
                f.span,
                format!("call data is not available in {}", scope.describe()),
            ));
            return Type::Error;
        }
        match self.model.calldata_field(&f.name) {
            Some((_, t)) => t,
            None => {
                let hint =
                    did_you_mean(&f.name, self.model.calldata.iter().map(|(n, _)| n.as_str()))
                        .map(|s| format!("did you mean `data.{s}`?"));
                self.err(
                    Diagnostic::error(
                        "unknown-field",
                        f.span,
                        format!("there is no call-data field called `{}`", f.name),
                    )
                    .with_label("not declared in calldata")
                    .with_hint_opt(hint)
                    .with_hint("declare it in the project's `calldata { ... }` block"),
                );
                Type::Error
            }
        }
    }

    fn type_call(&mut self, e: &Expr, f: &Ident, args: &[Expr], scope: &mut Scope) -> Type {
        let Some(func) = Function::from_name(&f.name) else {
            for a in args {
                self.type_of(a, scope);
            }
            let mut d = Diagnostic::error(
                "unknown-function",
                f.span,
                format!("there is no function called `{}`", f.name),
            )
            .with_label("unknown function");
            if self.model.flows.contains_key(&f.name) {
                d = d.with_hint(format!(
                    "`{}` is a flow: run it with `call {}(...)` as a statement",
                    f.name, f.name
                ));
            } else {
                d = d.with_hint_opt(
                    did_you_mean(&f.name, Function::ALL.iter().map(|f| f.name()))
                        .map(|s| format!("did you mean `{s}`?")),
                );
            }
            self.err(d);
            return Type::Error;
        };
        if scope.kind == ScopeKind::Const && matches!(func, Function::Now | Function::Today) {
            self.err(Diagnostic::error(
                "not-constant",
                e.span,
                format!("`{}()` changes over time and cannot be a constant", f.name),
            ));
        }
        let params = func.params();
        if params.len() != args.len() {
            self.err(Diagnostic::error(
                "wrong-arguments",
                e.span,
                format!(
                    "`{}` takes {} argument{}, but {} {} given",
                    f.name,
                    params.len(),
                    if params.len() == 1 { "" } else { "s" },
                    args.len(),
                    if args.len() == 1 { "is" } else { "are" }
                ),
            ));
            for a in args {
                self.type_of(a, scope);
            }
            return func.result();
        }
        let mut same: Option<Type> = None;
        for (p, a) in params.iter().zip(args) {
            match p {
                Param::Value(t) => {
                    self.expect_type(a, *t, scope, &format!("the argument of `{}`", f.name));
                }
                Param::Calendar => {
                    self.model.types.insert(a.id, Type::Error);
                    match &a.kind {
                        ExprKind::Name(n) => {
                            if self.resolve_calendar(n) {
                                self.model.names.insert(a.id, NameRef::Calendar);
                            }
                        }
                        _ => self.err(
                            Diagnostic::error(
                                "type-mismatch",
                                a.span,
                                format!("`{}` needs the name of a calendar", f.name),
                            )
                            .with_hint("for example is_open(service_desk)"),
                        ),
                    }
                }
                Param::AnyRecord => {
                    let t = self.type_of(a, scope);
                    if !matches!(t, Type::Record(_) | Type::Error) {
                        self.err(Diagnostic::error(
                            "type-mismatch",
                            a.span,
                            format!("`{}` needs the answer of a lookup, but this is {t}", f.name),
                        ));
                    }
                }
                Param::AnyList => {
                    let t = self.type_of(a, scope);
                    if !matches!(t, Type::RecordList(_) | Type::Error) {
                        self.err(
                            Diagnostic::error(
                                "type-mismatch",
                                a.span,
                                format!("`{}` needs a lookup's list of records, but this is {t}", f.name),
                            )
                            .with_hint("a lookup answers a list when its operation is declared `-> list of { ... }`"),
                        );
                    }
                }
                Param::SameOrdered => {
                    let t = self.type_of(a, scope);
                    match same {
                        None => {
                            if !matches!(
                                t,
                                Type::Number
                                    | Type::Duration
                                    | Type::Date
                                    | Type::DateTime
                                    | Type::Time
                                    | Type::Error
                            ) {
                                self.mismatch(
                                    a,
                                    Type::Number,
                                    t,
                                    &format!("the argument of `{}`", f.name),
                                );
                            }
                            same = Some(t);
                        }
                        Some(s) if s != t && t != Type::Error && s != Type::Error => {
                            self.mismatch(a, s, t, &format!("the second argument of `{}`", f.name));
                        }
                        _ => {}
                    }
                }
            }
        }
        match func {
            Function::Min | Function::Max => same.unwrap_or(Type::Number),
            _ => func.result(),
        }
    }

    fn type_binary(
        &mut self,
        e: &Expr,
        op: BinaryOp,
        a: &Expr,
        ta: Type,
        b: &Expr,
        tb: Type,
    ) -> Type {
        use Type::*;
        if ta == Error || tb == Error {
            return match op {
                BinaryOp::Or
                | BinaryOp::And
                | BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge => Bool,
                _ => Error,
            };
        }
        let sym = op.symbol();
        match op {
            BinaryOp::Or | BinaryOp::And => {
                if ta != Bool {
                    self.mismatch(a, Bool, ta, &format!("the left side of `{sym}`"));
                }
                if tb != Bool {
                    self.mismatch(b, Bool, tb, &format!("the right side of `{sym}`"));
                }
                Bool
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                if ta != tb || matches!(ta, Record(_) | RecordList(_) | List | Void | Recording) {
                    self.err(
                        Diagnostic::error(
                            "type-mismatch",
                            e.span,
                            format!("`{sym}` compares two values of the same kind, but this compares {ta} with {tb}"),
                        )
                        .with_hint_opt(self.compare_hint(a, ta, b, tb)),
                    );
                }
                Bool
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                if ta != tb || !ta.is_ordered() {
                    self.err(
                        Diagnostic::error(
                            "type-mismatch",
                            e.span,
                            format!("`{sym}` needs two numbers, durations, dates, dates with times or times of the same kind, but this compares {ta} with {tb}"),
                        )
                        .with_hint_opt(self.compare_hint(a, ta, b, tb)),
                    );
                }
                Bool
            }
            BinaryOp::Add => match (ta, tb) {
                (Number, Number) => Number,
                (Text, Text) => Text,
                (Duration, Duration) => Duration,
                (Date, Duration) | (Duration, Date) => Date,
                (Time, Duration) | (Duration, Time) => Time,
                (DateTime, Duration) | (Duration, DateTime) => DateTime,
                (Date, Time) | (Time, Date) => DateTime,
                _ => self.bad_arith(e, sym, ta, tb),
            },
            BinaryOp::Sub => match (ta, tb) {
                (Number, Number) => Number,
                (Duration, Duration) => Duration,
                (Date, Duration) => Date,
                (Date, Date) => Duration,
                (Time, Time) => Duration,
                (Time, Duration) => Time,
                (DateTime, Duration) => DateTime,
                (DateTime, DateTime) => Duration,
                _ => self.bad_arith(e, sym, ta, tb),
            },
            BinaryOp::Mul => match (ta, tb) {
                (Number, Number) => Number,
                (Duration, Number) | (Number, Duration) => Duration,
                _ => self.bad_arith(e, sym, ta, tb),
            },
            BinaryOp::Div => match (ta, tb) {
                (Number, Number) => Number,
                (Duration, Number) => Duration,
                (Duration, Duration) => Number,
                _ => self.bad_arith(e, sym, ta, tb),
            },
        }
    }

    fn bad_arith(&mut self, e: &Expr, sym: &str, ta: Type, tb: Type) -> Type {
        self.err(
            Diagnostic::error(
                "type-mismatch",
                e.span,
                format!("I cannot compute {ta} {sym} {tb}"),
            )
            .with_hint_opt(compare_hint(ta, tb)),
        );
        Type::Error
    }

    /// Resolves `list` or `list.category` on the right of `in`.
    pub(crate) fn resolve_list(&mut self, list: &Ident, category: Option<&Ident>) {
        let Some((_, cats)) = self.model.lists.get(&list.name).cloned() else {
            let c = self.names_of("list");
            self.unknown("list", list, c.iter().map(String::as_str));
            return;
        };
        if let Some(cat) = category
            && !cats.contains(&cat.name)
        {
            let hint = did_you_mean(&cat.name, cats.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"));
            self.err(
                Diagnostic::error(
                    "unknown-list",
                    cat.span,
                    format!(
                        "the list `{}` has no category called `{}`",
                        list.name, cat.name
                    ),
                )
                .with_label("no such category")
                .with_hint_opt(hint),
            );
        }
    }
}

impl Checker<'_> {
    /// How to make two sides of a comparison the same kind, pointing at the
    /// side that is most likely mistyped: a quoted number beside a number
    /// loses its quotes, a bare number beside a text (collected digits) gains
    /// them.
    fn compare_hint(&self, a: &Expr, ta: Type, b: &Expr, tb: Type) -> Option<String> {
        let (num, text) = match (ta, tb) {
            (Type::Number, Type::Text) => (a, b),
            (Type::Text, Type::Number) => (b, a),
            _ => return compare_hint(ta, tb),
        };
        if let ExprKind::Text(t) = &text.kind
            && let Some(s) = t.as_plain()
            && s.trim().parse::<f64>().is_ok()
        {
            let n = s.trim();
            return Some(format!(
                "`{}` is a number; write the number without quotes: {n}",
                self.snippet(num.span)
            ));
        }
        if let ExprKind::Number(_) = num.kind {
            let n = self.snippet(num.span);
            return Some(format!(
                "`{}` is a text (digits typed or looked up are texts); write the number in quotes, \"{n}\", or compare to_number({}) with it",
                self.snippet(text.span),
                self.snippet(text.span)
            ));
        }
        Some(format!(
            "use to_number({}) to read the number in the text",
            self.snippet(text.span)
        ))
    }
}

fn compare_hint(a: Type, b: Type) -> Option<String> {
    use Type::*;
    match (a, b) {
        (Duration, Number) | (Number, Duration) => {
            Some("durations need a unit: write 30s instead of 30".to_string())
        }
        (Text, Number) | (Number, Text) => {
            Some("use to_number(...) to read the number in a text".to_string())
        }
        (Time, Text) | (Text, Time) => {
            Some("clock times are written without quotes: 08:30".to_string())
        }
        (Date, Text) | (Text, Date) => {
            Some("dates are written without quotes: 2026-10-01".to_string())
        }
        (DateTime, Text) | (Text, DateTime) => Some(
            "a date and time is written without quotes: 2026-12-07 14:30".to_string(),
        ),
        (DateTime, Date) | (Date, DateTime) => Some(
            "a date has no time of day; add one to compare it with a date and time: 2026-12-07 + 00:00".to_string(),
        ),
        (DateTime, Time) | (Time, DateTime) => Some(
            "a clock time has no day; put a date before it: today() + 14:30".to_string(),
        ),
        _ => None,
    }
}

impl Checker<'_> {
    /// The type of a constant, resolving it (and the constants it uses) on first use.
    pub(crate) fn const_type(&mut self, name: &str) -> Type {
        let Some(&(r, ty)) = self.model.consts.get(name) else {
            return Type::Error;
        };
        match self.const_state.get(name) {
            Some(2) => return ty,
            Some(1) => {
                if let Item::Const(d) = self.project.item(r) {
                    self.err(
                        Diagnostic::error(
                            "const-cycle",
                            d.name.span,
                            format!("the constant `{}` is defined in terms of itself", d.name),
                        )
                        .with_hint("give one of the constants a plain value"),
                    );
                }
                return Type::Error;
            }
            _ => {}
        }
        self.const_state.insert(name.to_string(), 1);
        let Item::Const(d) = self.project.item(r) else {
            return Type::Error;
        };
        let mut scope = Scope::constant();
        let ty = self.type_of(&d.value, &mut scope);
        self.model.consts.insert(name.to_string(), (r, ty));
        self.const_state.insert(name.to_string(), 2);
        ty
    }

    /// Checks a destination used by a queue rule or a campaign.
    pub(crate) fn check_destination(&mut self, d: &Destination, scope: &mut Scope) {
        match d {
            Destination::Queue(q) => {
                self.resolve_queue(q);
            }
            Destination::Flow(f) => {
                self.resolve_flow_destination(f);
            }
            Destination::Agent(e) | Destination::Number(e) => {
                self.expect_type(e, Type::Text, scope, "a destination number");
            }
            Destination::Callback(_) | Destination::Hangup(_) => {}
        }
    }

    /// Checks a prompt file name: a `.wav` under `prompts/` that exists.
    pub(crate) fn check_prompt(&mut self, e: &Expr, scope: &mut Scope) {
        let ty = self.type_of(e, scope);
        if ty != Type::Text && ty != Type::Error && ty != Type::Recording {
            self.err(
                Diagnostic::error(
                    "type-mismatch",
                    e.span,
                    format!("a prompt must be a file name (a text), but this is {ty}"),
                )
                .with_hint("write the file name in quotes: play \"welcome.wav\""),
            );
            return;
        }
        let ExprKind::Text(t) = &e.kind else { return };
        let Some(name) = t.as_plain() else { return };
        if !name.to_ascii_lowercase().ends_with(".wav") {
            self.err(
                Diagnostic::error(
                    "prompt-format",
                    e.span,
                    format!("`{name}` is not a WAV file"),
                )
                .with_hint("prompts are WAV files under prompts/; use `say` for text to speak"),
            );
            return;
        }
        let langs = self.model.languages.clone();
        let exists_somewhere = self.project.prompts.has(&name, None)
            || langs
                .iter()
                .any(|l| self.project.prompts.has(&name, Some(l)));
        if !exists_somewhere {
            let names = self.project.prompts.names();
            let hint = did_you_mean(&name, names.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"));
            self.err(
                Diagnostic::error(
                    "missing-prompt",
                    e.span,
                    format!("there is no prompt file `{name}` under prompts/"),
                )
                .with_label("file not found")
                .with_hint_opt(hint)
                .with_hint(format!(
                    "put the file in prompts/{name}, or one copy per language in prompts/<language>/{name}"
                )),
            );
        }
    }
}
