//! Flow checking: statements, lookups, workorders, transfers, variables (typed by
//! their first assignment), labels, and the flow's control flow (unreachable
//! statements, flows that never end, input steps that can ask forever). Menus and
//! digit collection are in `input`, sharing this file's per-flow state.

use std::collections::{HashMap, HashSet};

use crate::ast::*;
use crate::check::expr::{Scope, ScopeKind};
use crate::check::{Checker, ItemRef};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::options;
use crate::types::{Builtin, Type};

/// Per-flow state while its statements are checked.
pub(super) struct FlowCx {
    pub(super) name: String,
    pub(super) returns: Type,
    pub(super) labels: HashMap<String, Span>,
    pub(super) goto_targets: HashSet<String>,
    /// Depth of menu/collect actions and handlers (where `repeat` is allowed).
    pub(super) input_depth: u32,
    /// Inside a `final` handler (where `repeat` would ask forever).
    pub(super) in_final: bool,
    /// Statement nesting depth (`on error` only at depth 0).
    pub(super) depth: u32,
    pub(super) on_error: Option<Span>,
    pub(super) menus: HashMap<String, Span>,
    pub(super) first_assigned: HashMap<String, Span>,
}

impl Checker<'_> {
    pub(super) fn check_flows(&mut self) {
        let flows: Vec<(ItemRef, &FlowDecl)> = self
            .items()
            .filter_map(|(r, i)| match i {
                Item::Flow(f) => Some((r, f)),
                _ => None,
            })
            .collect();
        let mut numbers: HashMap<String, Span> = HashMap::new();
        for (r, d) in flows {
            // Only the first declaration of a name is checked as that flow.
            if self.model.flows.get(&d.name.name).map(|f| f.item) != Some(r) {
                continue;
            }
            for n in &d.numbers {
                let num = n.plain_lossy();
                if num.is_empty()
                    || !num
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '+' || c == '*' || c == '#')
                {
                    self.err(
                        Diagnostic::error(
                            "bad-number",
                            n.span,
                            format!("`{num}` is not a telephone number"),
                        )
                        .with_hint("a flow answers dialled numbers such as \"10000\""),
                    );
                    continue;
                }
                if let Some(&first) = numbers.get(&num) {
                    self.err(
                        Diagnostic::error(
                            "duplicate",
                            n.span,
                            format!("two flows answer the number {num}"),
                        )
                        .with_secondary(first, "also answered here")
                        .with_hint("each dialled number is answered by one flow"),
                    );
                    continue;
                }
                numbers.insert(num.clone(), n.span);
                self.model.numbers.insert(num, d.name.name.clone());
            }
            if !d.numbers.is_empty() && !d.params.is_empty() {
                self.err(
                    Diagnostic::error(
                        "flow-needs-arguments",
                        d.params[0].name.span,
                        format!(
                            "the flow `{}` answers calls, so it cannot take arguments",
                            d.name
                        ),
                    )
                    .with_hint("move the part that needs arguments into a sub-flow and `call` it"),
                );
            }
            self.check_flow(d);
        }
    }

    fn check_flow(&mut self, d: &FlowDecl) {
        let info = self.model.flows.get(&d.name.name).cloned();
        let Some(info) = info else { return };
        let mut seen = HashMap::new();
        for p in &d.params {
            if let Some(&first) = seen.get(&p.name.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        p.name.span,
                        format!("the parameter `{}` is declared twice", p.name),
                    )
                    .with_secondary(first, "first declared here"),
                );
            }
            seen.insert(p.name.name.clone(), p.name.span);
        }
        let mut cx = FlowCx {
            name: d.name.name.clone(),
            returns: info.returns,
            labels: HashMap::new(),
            goto_targets: HashSet::new(),
            input_depth: 0,
            in_final: false,
            depth: 0,
            on_error: None,
            menus: HashMap::new(),
            first_assigned: d
                .params
                .iter()
                .map(|p| (p.name.name.clone(), p.name.span))
                .collect(),
        };
        self.collect_labels(&d.body, &mut cx);

        // Variables are typed by their first assignment; two silent passes find the
        // types of variables used before (in the text) they are assigned.
        let mut scope = Scope::new(ScopeKind::Flow, info.params.iter().cloned().collect());
        let saved = std::mem::take(&mut self.diags);
        for _ in 0..2 {
            self.infer_block(&d.body, &mut scope, &mut cx);
        }
        self.diags = saved;

        let errors_before = self.diags.iter().filter(|d| d.is_error()).count();
        self.check_block(&d.body, &mut scope, &mut cx);
        let clean = self.diags.iter().filter(|d| d.is_error()).count() == errors_before;
        let completes = self.block_completes(&d.body, &cx, true);
        if clean && completes && info.returns != Type::Void {
            self.err(
                Diagnostic::warning(
                    "missing-return",
                    d.name.span,
                    format!("the flow `{}` can reach its end without returning {}", d.name, info.returns),
                )
                .with_hint("add a `return` at the end; without one the caller gets 0, an empty text or `false`"),
            );
        }
        if clean && !completes && !has_terminal(&d.body) {
            self.err(
                Diagnostic::warning(
                    "never-ends",
                    d.name.span,
                    format!("the flow `{}` can never end", d.name),
                )
                .with_hint(
                    "every path loops back; add a hangup, a transfer or a way out of the loop",
                ),
            );
        }
        if let Some(f) = self.model.flows.get_mut(&d.name.name) {
            f.locals = scope.locals;
        }
    }

    fn collect_labels(&mut self, b: &Block, cx: &mut FlowCx) {
        walk_stmts(b, &mut |s| match &s.kind {
            StmtKind::Label(l) => {
                if let Some(&first) = cx.labels.get(&l.name) {
                    self.err(
                        Diagnostic::error(
                            "duplicate",
                            l.span,
                            format!("the label `{}` is used twice in this flow", l.name),
                        )
                        .with_secondary(first, "first used here"),
                    );
                } else {
                    cx.labels.insert(l.name.clone(), l.span);
                }
            }
            StmtKind::Goto(l) => {
                cx.goto_targets.insert(l.name.clone());
            }
            _ => {}
        });
    }

    // ------------------------------------------------------------ type inference

    fn infer_block(&mut self, b: &Block, scope: &mut Scope, cx: &mut FlowCx) {
        for s in &b.stmts {
            self.infer_stmt(s, scope, cx);
        }
    }

    fn infer_stmt(&mut self, s: &Stmt, scope: &mut Scope, cx: &mut FlowCx) {
        let bind = |scope: &mut Scope, cx: &mut FlowCx, t: &Ident, ty: Type| {
            if ty != Type::Error && !scope.locals.contains_key(&t.name) {
                scope.locals.insert(t.name.clone(), ty);
                cx.first_assigned.entry(t.name.clone()).or_insert(t.span);
            }
        };
        match &s.kind {
            StmtKind::Collect { target, collect } => {
                bind(scope, cx, target, Type::Text);
                for h in &collect.handlers {
                    self.infer_block(&h.action, scope, cx);
                }
            }
            StmtKind::Lookup { target, lookup } => {
                let key = (lookup.service.name.clone(), lookup.operation.name.clone());
                if let Some(op) = self.model.operations.get(&key) {
                    bind(scope, cx, target, op.answer_type());
                }
                if let Some(b) = &lookup.otherwise {
                    self.infer_block(b, scope, cx);
                }
            }
            StmtKind::Record { target, .. } => bind(scope, cx, target, Type::Recording),
            StmtKind::CreateWorkorder { target, .. } => bind(scope, cx, target, Type::Text),
            StmtKind::LookupWorkorder {
                target,
                kind,
                otherwise,
                ..
            } => {
                if let Some(rid) = self.workorder_record(&kind.name) {
                    bind(scope, cx, target, Type::Record(rid));
                }
                if let Some(b) = otherwise {
                    self.infer_block(b, scope, cx);
                }
            }
            StmtKind::TransitionWorkorder {
                otherwise: Some(b), ..
            } => self.infer_block(b, scope, cx),
            StmtKind::Call {
                target: Some(t),
                flow,
                ..
            } => {
                if let Some(f) = self.model.flows.get(&flow.name) {
                    let r = f.returns;
                    if r != Type::Void {
                        bind(scope, cx, t, r);
                    }
                }
            }
            StmtKind::Assign { target, value } => {
                let ty = self.type_of(value, scope);
                bind(scope, cx, target, ty);
            }
            StmtKind::Menu(m) => {
                for c in &m.choices {
                    self.infer_block(&c.action, scope, cx);
                }
                for h in &m.handlers {
                    self.infer_block(&h.action, scope, cx);
                }
            }
            StmtKind::If {
                then, otherwise, ..
            } => {
                self.infer_block(then, scope, cx);
                if let Some(o) = otherwise {
                    self.infer_block(o, scope, cx);
                }
            }
            StmtKind::Match { arms, .. } => {
                for a in arms {
                    self.infer_block(&a.action, scope, cx);
                }
            }
            StmtKind::Transfer {
                otherwise: Some(b), ..
            }
            | StmtKind::OnError(b)
            | StmtKind::Block(b) => self.infer_block(b, scope, cx),
            StmtKind::ForEach {
                var, list, body, ..
            } => {
                match scope.locals.get(&list.name) {
                    Some(&Type::RecordList(rid)) => bind(scope, cx, var, Type::Record(rid)),
                    // The list is reported where it is named; the record's
                    // uses would only repeat that.
                    _ => {
                        scope.locals.entry(var.name.clone()).or_insert(Type::Error);
                    }
                }
                self.infer_block(body, scope, cx);
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------ statements

    /// `attach X` of a notify at `stmt`: only an e-mail carries a file, and
    /// only a recording the flow has made by then can be attached.
    fn check_attachment(
        &mut self,
        channel: NotifyChannel,
        a: &Expr,
        stmt: Span,
        scope: &mut Scope,
        cx: &FlowCx,
    ) {
        let ty = self.type_of(a, scope);
        if channel == NotifyChannel::Sms {
            self.err(
                Diagnostic::error("bad-notify", a.span, "an SMS cannot carry a recording")
                    .with_hint("send it by e-mail (`notify email to ... attach message`), or leave `attach` out"),
            );
            return;
        }
        if ty == Type::Error {
            return;
        }
        let recordings: Vec<&str> = scope
            .locals
            .iter()
            .filter(|(_, t)| **t == Type::Recording)
            .map(|(n, _)| n.as_str())
            .collect();
        if ty != Type::Recording {
            let text = self.snippet(a.span);
            let hint = if recordings.is_empty() {
                format!(
                    "the flow `{}` records nothing: record the caller first, such as `message = record (max 2m, beep)`, then `attach message`",
                    cx.name
                )
            } else {
                let names: Vec<String> = recordings.iter().map(|n| format!("`{n}`")).collect();
                format!("the recordings of this flow are {}", names.join(", "))
            };
            self.err(
                Diagnostic::error(
                    "bad-notify",
                    a.span,
                    format!("only a recording can be attached, but `{text}` is {ty}"),
                )
                .with_label(format!("this is {ty}"))
                .with_hint(hint),
            );
            return;
        }
        if let ExprKind::Name(v) = &a.kind
            && let Some(&first) = cx.first_assigned.get(&v.name)
            && first.file == stmt.file
            && first.start > stmt.start
        {
            self.err(
                Diagnostic::error(
                    "bad-notify",
                    a.span,
                    format!(
                        "nothing is recorded in `{}` yet when this e-mail leaves",
                        v.name
                    ),
                )
                .with_secondary(first, "the recording is made here, later in the flow")
                .with_hint("move the `notify` after the `record`"),
            );
        }
    }

    fn check_block(&mut self, b: &Block, scope: &mut Scope, cx: &mut FlowCx) {
        for s in &b.stmts {
            self.check_stmt(s, scope, cx);
        }
    }

    pub(super) fn nested(&mut self, b: &Block, scope: &mut Scope, cx: &mut FlowCx) {
        cx.depth += 1;
        self.check_block(b, scope, cx);
        cx.depth -= 1;
    }

    fn check_target(&mut self, t: &Ident, ty: Type, scope: &Scope, cx: &FlowCx) {
        if self.model.consts.contains_key(&t.name) {
            self.err(
                Diagnostic::error(
                    "assign-constant",
                    t.span,
                    format!("`{}` is a constant and cannot be given a new value", t.name),
                )
                .with_hint("use another name for the variable"),
            );
            return;
        }
        if Builtin::from_name(&t.name).is_some() {
            self.err(
                Diagnostic::error(
                    "assign-constant",
                    t.span,
                    format!("`{}` is built in and cannot be given a new value", t.name),
                )
                .with_hint("use another name for the variable"),
            );
            return;
        }
        if let Some(&declared) = scope.locals.get(&t.name)
            && declared != ty
            && ty != Type::Error
            && declared != Type::Error
        {
            let mut d = Diagnostic::error(
                "type-mismatch",
                t.span,
                format!("`{}` holds {declared}, so it cannot be given {ty}", t.name),
            )
            .with_hint("a variable keeps one kind of value; use a new name for this one");
            if let Some(&first) = cx.first_assigned.get(&t.name)
                && first != t.span
            {
                d = d.with_secondary(first, format!("first given {declared} here"));
            }
            self.err(d);
        }
    }

    pub(super) fn check_stmt(&mut self, s: &Stmt, scope: &mut Scope, cx: &mut FlowCx) {
        match &s.kind {
            StmtKind::Play {
                prompts,
                options: o,
            } => {
                for p in prompts {
                    self.check_prompt(p, scope);
                }
                self.check_options(o, options::PLAY, "play");
            }
            StmtKind::Say(say) => self.check_say(say, scope),
            StmtKind::Menu(m) => self.check_menu(m, scope, cx),
            StmtKind::Collect { target, collect } => {
                self.check_target(target, Type::Text, scope, cx);
                self.check_collect(target, collect, scope, cx);
            }
            StmtKind::Lookup { target, lookup } => self.check_lookup(target, lookup, scope, cx),
            StmtKind::Record { target, options: o } => {
                self.check_target(target, Type::Recording, scope, cx);
                self.check_options(o, options::RECORD, "record");
                if let Some(ms) = options::duration_ms(o, "max")
                    && ms > 600_000
                    && let Some(opt) = options::find(o, "max")
                {
                    self.err(
                        Diagnostic::error(
                            "option-out-of-range",
                            opt.span,
                            "a recording may last at most 10m",
                        )
                        .with_hint("long messages fill the disk and are rarely listened to; ask for a shorter message"),
                    );
                }
            }
            StmtKind::CreateWorkorder {
                target,
                kind,
                fields,
            } => {
                self.check_target(target, Type::Text, scope, cx);
                self.check_create(kind, fields, s.span, scope);
            }
            StmtKind::LookupWorkorder {
                target,
                kind,
                number,
                otherwise,
                span,
            } => {
                self.expect_type(number, Type::Text, scope, "a workorder number");
                match self.workorder_record(&kind.name) {
                    Some(rid) => self.check_target(target, Type::Record(rid), scope, cx),
                    None => {
                        let c = self.names_of("workorder type");
                        self.unknown("workorder type", kind, c.iter().map(String::as_str));
                    }
                }
                match otherwise {
                    Some(b) => self.nested(b, scope, cx),
                    None => self.err(
                        Diagnostic::error(
                            "lookup-no-else",
                            *span,
                            "this lookup has no `else` branch: what should happen when there is no such order?",
                        )
                        .with_hint("add `else { ... }`, for example `else { transfer queue general }`"),
                    ),
                }
            }
            StmtKind::TransitionWorkorder {
                order,
                to,
                comment,
                otherwise,
            } => {
                self.expect_type(order, Type::Text, scope, "a workorder number");
                if let Some(c) = comment {
                    self.expect_type(c, Type::Text, scope, "a comment");
                }
                self.check_wo_transition(to, comment.is_some(), s.span);
                match otherwise {
                    Some(b) => self.nested(b, scope, cx),
                    None => self.err(
                        Diagnostic::error(
                            "transition-no-else",
                            s.span,
                            "this step has no `else` branch: what should happen when the order cannot be moved?",
                        )
                        .with_hint("add `else { ... }`, for example `else { transfer queue general }`")
                        .with_hint("the order may have moved on, or a condition of the step may not hold"),
                    ),
                }
            }
            StmtKind::Call { target, flow, args } => {
                self.check_call(s.span, target.as_ref(), flow, args, scope, cx)
            }
            StmtKind::Assign { target, value } => {
                let ty = self.type_of(value, scope);
                if ty == Type::Void {
                    self.err(Diagnostic::error(
                        "type-mismatch",
                        value.span,
                        "this has no value to assign",
                    ));
                }
                self.check_target(target, ty, scope, cx);
            }
            StmtKind::SetData { field, value } => match self.model.calldata_field(&field.name) {
                Some((_, t)) => {
                    self.expect_type(value, t, scope, &format!("data.{}", field.name));
                }
                None => {
                    self.type_of(value, scope);
                    let hint = did_you_mean(
                        &field.name,
                        self.model.calldata.iter().map(|(n, _)| n.as_str()),
                    )
                    .map(|s| format!("did you mean `data.{s}`?"));
                    self.err(
                        Diagnostic::error(
                            "unknown-field",
                            field.span,
                            format!("there is no call-data field called `{}`", field.name),
                        )
                        .with_label("not declared in calldata")
                        .with_hint_opt(hint)
                        .with_hint("declare it in the project's `calldata { ... }` block"),
                    );
                }
            },
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expect_type(cond, Type::Bool, scope, "the condition of `if`");
                self.nested(then, scope, cx);
                if let Some(o) = otherwise {
                    self.nested(o, scope, cx);
                }
            }
            StmtKind::Match { scrutinee, arms } => {
                let t = self.type_of(scrutinee, scope);
                let mut seen: HashMap<String, Span> = HashMap::new();
                for (i, a) in arms.iter().enumerate() {
                    if a.patterns.is_empty() && i + 1 != arms.len() {
                        self.err(
                            Diagnostic::warning(
                                "unreachable",
                                arms[i + 1].span,
                                "the arms after `else` are never used",
                            )
                            .with_hint("put `else` last"),
                        );
                    }
                    for p in &a.patterns {
                        self.expect_type(p, t, scope, "a match value");
                        let text = self.snippet(p.span);
                        if let Some(&first) = seen.get(&text) {
                            self.err(
                                Diagnostic::warning(
                                    "unreachable",
                                    p.span,
                                    format!("`{text}` is already matched above"),
                                )
                                .with_secondary(first, "matched here"),
                            );
                        }
                        seen.insert(text, p.span);
                    }
                    self.nested(&a.action, scope, cx);
                }
            }
            StmtKind::Label(_) => {}
            StmtKind::Goto(l) => {
                if !cx.labels.contains_key(&l.name) {
                    let names: Vec<String> = cx.labels.keys().cloned().collect();
                    self.unknown("label", l, names.iter().map(String::as_str));
                }
            }
            StmtKind::Repeat => {
                if cx.input_depth == 0 {
                    self.err(
                        Diagnostic::error(
                            "repeat-outside-input",
                            s.span,
                            "`repeat` only works inside a menu or a collect",
                        )
                        .with_hint(
                            "to go back to an earlier point, put a label there and `goto` it",
                        ),
                    );
                } else if cx.in_final {
                    self.err(
                        Diagnostic::error(
                            "input-no-exit",
                            s.span,
                            "`repeat` in a final handler would ask the caller forever",
                        )
                        .with_hint("the final handler runs when the retries are used up: transfer, hang up or go on instead")
                        .with_hint("every input step needs bounded retries and an exit, so that no caller is stuck in a loop"),
                    );
                }
            }
            StmtKind::Return(v) => match (v, cx.returns) {
                (None, Type::Void) => {}
                (Some(e), Type::Void) => {
                    self.type_of(e, scope);
                    self.err(
                        Diagnostic::error(
                            "type-mismatch",
                            e.span,
                            format!("the flow `{}` does not return a value", cx.name),
                        )
                        .with_hint(format!(
                            "declare what it returns: flow {}(...) -> TYPE",
                            cx.name
                        )),
                    );
                }
                (None, t) => {
                    self.err(Diagnostic::error(
                        "type-mismatch",
                        s.span,
                        format!("the flow `{}` must return {t}", cx.name),
                    ));
                }
                (Some(e), t) => {
                    self.expect_type(e, t, scope, "the returned value");
                }
            },
            StmtKind::Notify {
                channel,
                to,
                subject,
                body,
                attach,
            } => {
                self.expect_type(to, Type::Text, scope, "the recipient");
                if let Some(sj) = subject {
                    if *channel == NotifyChannel::Sms {
                        self.err(Diagnostic::error(
                            "bad-notify",
                            sj.span,
                            "an SMS has no subject",
                        ));
                    }
                    self.expect_type(sj, Type::Text, scope, "the subject");
                }
                self.expect_type(body, Type::Text, scope, "the message");
                if let Some(a) = attach {
                    self.check_attachment(*channel, a, s.span, scope, cx);
                }
            }
            StmtKind::Transfer {
                dest,
                options: o,
                otherwise,
            } => {
                match dest {
                    Destination::Callback(sp) | Destination::Hangup(sp) => {
                        self.err(
                            Diagnostic::error(
                                "bad-destination",
                                *sp,
                                "a flow can transfer to a queue, an agent, a flow or a number",
                            )
                            .with_hint("use `hangup` to end the call; callbacks are offered by a queue's `key 9 -> callback`"),
                        );
                    }
                    d => {
                        self.check_destination(d, scope);
                        if let Destination::Agent(e) = d
                            && let ExprKind::Text(t) = &e.kind
                            && let Some(id) = t.as_plain()
                            && !self.model.agents.is_empty()
                            && !self.model.agents.contains_key(&id)
                        {
                            let hint =
                                did_you_mean(&id, self.model.agents.keys().map(String::as_str))
                                    .map(|s| format!("did you mean \"{s}\"?"));
                            self.err(
                                Diagnostic::warning(
                                    "unknown-agent",
                                    e.span,
                                    format!("no agent \"{id}\" is declared in this project"),
                                )
                                .with_hint_opt(hint)
                                .with_hint("the transfer will fail unless the agent is configured on the server"),
                            );
                        }
                    }
                }
                self.check_options(o, options::TRANSFER, "transfer");
                if let Some(p) = o.iter().find(|p| p.name == "priority")
                    && !matches!(dest, Destination::Queue(_))
                {
                    self.err(
                        Diagnostic::error(
                            "unknown-option",
                            p.name_span,
                            "`priority` is an option of a transfer to a queue",
                        )
                        .with_hint("a call has a priority only while it waits in a queue"),
                    );
                }
                if let Some(b) = otherwise {
                    self.nested(b, scope, cx);
                }
            }
            StmtKind::Hangup => {}
            StmtKind::Pause(e) => {
                self.expect_type(e, Type::Duration, scope, "a pause");
            }
            StmtKind::Language(l) => {
                if !self.model.languages.contains(&l.name) {
                    let langs = self.model.languages.clone();
                    let hint = did_you_mean(&l.name, langs.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"));
                    self.err(
                        Diagnostic::error(
                            "unknown-language",
                            l.span,
                            format!("the project has no language `{}`", l.name),
                        )
                        .with_hint_opt(hint)
                        .with_hint(format!(
                            "the project's languages are: {} (declared with `languages ...`)",
                            langs.join(", ")
                        )),
                    );
                }
            }
            StmtKind::OnError(b) => {
                if cx.depth > 0 {
                    self.err(
                        Diagnostic::error(
                            "misplaced-on-error",
                            s.span,
                            "`on error` belongs at the top level of a flow",
                        )
                        .with_hint("it applies to the whole flow; move it out of the block"),
                    );
                } else if let Some(first) = cx.on_error {
                    self.err(
                        Diagnostic::error(
                            "duplicate",
                            s.span,
                            "this flow has two `on error` blocks",
                        )
                        .with_secondary(first, "first one here"),
                    );
                } else {
                    cx.on_error = Some(s.span);
                }
                self.nested(b, scope, cx);
            }
            StmtKind::Block(b) => self.nested(b, scope, cx),
            StmtKind::ForEach {
                var,
                list,
                options: o,
                body,
            } => self.check_for_each(var, list, o, body, scope, cx),
        }
    }

    fn check_say(&mut self, say: &Say, scope: &mut Scope) {
        self.check_options(&say.options, options::SAY, "say");
        match &say.content {
            SayContent::Items(items) => self.check_say_items(items, scope),
            SayContent::Translations(tr) => {
                let mut seen: HashMap<String, Span> = HashMap::new();
                for (lang, items) in tr {
                    if !self.model.languages.contains(&lang.name) {
                        let langs = self.model.languages.clone();
                        let hint = did_you_mean(&lang.name, langs.iter().map(String::as_str))
                            .map(|s| format!("did you mean `{s}`?"));
                        self.err(
                            Diagnostic::error(
                                "unknown-language",
                                lang.span,
                                format!("the project has no language `{}`", lang.name),
                            )
                            .with_hint_opt(hint)
                            .with_hint(format!(
                                "the project's languages are: {}",
                                langs.join(", ")
                            )),
                        );
                    }
                    if let Some(&first) = seen.get(&lang.name) {
                        self.err(
                            Diagnostic::error(
                                "duplicate",
                                lang.span,
                                format!("there are two `{}` texts", lang.name),
                            )
                            .with_secondary(first, "first one here"),
                        );
                    }
                    seen.insert(lang.name.clone(), lang.span);
                    self.check_say_items(items, scope);
                }
                let missing: Vec<String> = self
                    .model
                    .languages
                    .iter()
                    .filter(|l| !seen.contains_key(*l))
                    .cloned()
                    .collect();
                if !missing.is_empty()
                    && let Some((first, _)) = tr.first()
                {
                    self.err(
                        Diagnostic::warning(
                            "missing-translation",
                            first.span,
                            format!("this text has no {} version", missing.join(", ")),
                        )
                        .with_hint("callers who chose that language will hear the default language instead"),
                    );
                }
            }
        }
    }

    fn check_say_items(&mut self, items: &[SayItem], scope: &mut Scope) {
        for it in items {
            let t = self.type_of(&it.value, scope);
            let ok = match it.kind {
                SayKind::Plain => matches!(
                    t,
                    Type::Text
                        | Type::Number
                        | Type::Date
                        | Type::DateTime
                        | Type::Time
                        | Type::Duration
                        | Type::Error
                ),
                SayKind::Money | SayKind::Number => matches!(t, Type::Number | Type::Error),
                SayKind::Digits => matches!(t, Type::Text | Type::Number | Type::Error),
                SayKind::Date => matches!(t, Type::Date | Type::DateTime | Type::Error),
                SayKind::Time => matches!(t, Type::Time | Type::DateTime | Type::Error),
            };
            if !ok {
                let want = match it.kind {
                    SayKind::Money | SayKind::Number => Type::Number,
                    SayKind::Date => Type::Date,
                    SayKind::Time => Type::Time,
                    _ => Type::Text,
                };
                self.mismatch(&it.value, want, t, "what is said");
            }
        }
    }

    fn check_for_each(
        &mut self,
        var: &Ident,
        list: &Ident,
        o: &[Opt],
        body: &Block,
        scope: &mut Scope,
        cx: &mut FlowCx,
    ) {
        self.check_options(o, options::FOR_EACH, "for each");
        match scope.locals.get(&list.name).copied() {
            Some(Type::RecordList(rid)) => {
                if var.name == list.name {
                    self.err(
                        Diagnostic::error(
                            "type-mismatch",
                            var.span,
                            format!(
                                "`{}` cannot name both the list and each of its records",
                                var.name
                            ),
                        )
                        .with_hint("name each record in the singular: `for each bill in bills`"),
                    );
                } else {
                    self.check_target(var, Type::Record(rid), scope, cx);
                }
            }
            Some(Type::Error) => {}
            Some(other) => {
                self.err(
                    Diagnostic::error(
                        "type-mismatch",
                        list.span,
                        format!(
                            "`for each` reads the records of a lookup that answers a list, but `{}` is {other}",
                            list.name
                        ),
                    )
                    .with_label(format!("this is {other}"))
                    .with_hint("declare the service operation's answer as `-> list of { ... }` and look it up into this variable"),
                );
            }
            None => {
                let lists: Vec<String> = scope
                    .locals
                    .iter()
                    .filter(|(_, t)| matches!(t, Type::RecordList(_)))
                    .map(|(n, _)| n.clone())
                    .collect();
                let hint = did_you_mean(&list.name, lists.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"));
                self.err(
                    Diagnostic::error(
                        "unknown-name",
                        list.span,
                        format!("there is no list called `{}` in this flow", list.name),
                    )
                    .with_label("not a lookup's list")
                    .with_hint_opt(hint)
                    .with_hint("look the list up first: `bills = lookup billing.bills(account) else { ... }`"),
                );
            }
        }
        self.nested(body, scope, cx);
    }

    fn check_lookup(&mut self, target: &Ident, l: &Lookup, scope: &mut Scope, cx: &mut FlowCx) {
        self.check_options(&l.options, options::LOOKUP, "lookup");
        let key = (l.service.name.clone(), l.operation.name.clone());
        let op = self.model.operations.get(&key).cloned();
        match op {
            None => {
                for a in &l.args {
                    self.type_of(a, scope);
                }
                if !self.model.services.contains_key(&l.service.name) {
                    let c = self.names_of("service");
                    self.unknown("service", &l.service, c.iter().map(String::as_str));
                } else {
                    let ops: Vec<String> = self
                        .model
                        .operations
                        .keys()
                        .filter(|(s, _)| *s == l.service.name)
                        .map(|(_, o)| o.clone())
                        .collect();
                    let hint = did_you_mean(&l.operation.name, ops.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"));
                    self.err(
                        Diagnostic::error(
                            "unknown-service",
                            l.operation.span,
                            format!(
                                "the service `{}` has no operation `{}`",
                                l.service, l.operation
                            ),
                        )
                        .with_label("no such operation")
                        .with_hint_opt(hint)
                        .with_hint(format!("its operations are: {}", ops.join(", "))),
                    );
                }
            }
            Some(op) => {
                if op.params.len() != l.args.len() {
                    self.err(Diagnostic::error(
                        "wrong-arguments",
                        l.span,
                        format!(
                            "{}.{} takes {} argument{} ({}), but {} {} given",
                            l.service,
                            l.operation,
                            op.params.len(),
                            if op.params.len() == 1 { "" } else { "s" },
                            op.params
                                .iter()
                                .map(|(n, _)| n.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            l.args.len(),
                            if l.args.len() == 1 { "is" } else { "are" }
                        ),
                    ));
                }
                for (i, a) in l.args.iter().enumerate() {
                    match op.params.get(i) {
                        Some((pname, pt)) => {
                            self.expect_type(a, *pt, scope, &format!("the argument `{pname}`"));
                        }
                        None => {
                            self.type_of(a, scope);
                        }
                    }
                }
                self.check_target(target, op.answer_type(), scope, cx);
            }
        }
        match &l.otherwise {
            Some(b) => self.nested(b, scope, cx),
            None => self.err(
                Diagnostic::error(
                    "lookup-no-else",
                    l.span,
                    format!("this lookup has no `else` branch: what should happen when {} does not answer in time?", l.service),
                )
                .with_hint("add `else { ... }`, for example `else { transfer queue general }`")
                .with_hint("external systems fail and time out; a call must never hang on them"),
            ),
        }
    }

    fn check_create(&mut self, kind: &Ident, fields: &[FieldInit], span: Span, scope: &mut Scope) {
        let Some((_, info)) = self.model.workorders.get(&kind.name).cloned() else {
            for f in fields {
                self.type_of(&f.value, scope);
            }
            let c = self.names_of("workorder type");
            self.unknown("workorder type", kind, c.iter().map(String::as_str));
            return;
        };
        let mut given: HashMap<String, Span> = HashMap::new();
        for f in fields {
            if let Some(&first) = given.get(&f.name.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        f.name.span,
                        format!("the field `{}` is given twice", f.name),
                    )
                    .with_secondary(first, "first given here"),
                );
            }
            given.insert(f.name.name.clone(), f.name.span);
            match info.iter().find(|x| x.name == f.name.name) {
                None => {
                    self.type_of(&f.value, scope);
                    let hint = did_you_mean(&f.name.name, info.iter().map(|x| x.name.as_str()))
                        .map(|s| format!("did you mean `{s}`?"));
                    self.err(
                        Diagnostic::error(
                            "unknown-field",
                            f.name.span,
                            format!("the workorder type `{kind}` has no field `{}`", f.name),
                        )
                        .with_label("no such field")
                        .with_hint_opt(hint),
                    );
                }
                Some(fi) => {
                    self.expect_type(&f.value, fi.ty, scope, &format!("the field `{}`", fi.name));
                    if !fi.values.is_empty()
                        && let ExprKind::Text(t) = &f.value.kind
                        && let Some(v) = t.as_plain()
                        && !fi.values.contains(&v)
                    {
                        let hint = did_you_mean(&v, fi.values.iter().map(String::as_str))
                            .map(|s| format!("did you mean \"{s}\"?"));
                        self.err(
                            Diagnostic::error(
                                "bad-enum-value",
                                f.value.span,
                                format!("\"{v}\" is not one of the values of `{}`", fi.name),
                            )
                            .with_hint_opt(hint)
                            .with_hint(format!("the values are: {}", fi.values.join(", "))),
                        );
                    }
                }
            }
        }
        let missing: Vec<&str> = info
            .iter()
            .filter(|x| x.required && !given.contains_key(&x.name))
            .map(|x| x.name.as_str())
            .collect();
        if !missing.is_empty() {
            self.err(
                Diagnostic::error(
                    "missing-field",
                    span,
                    format!(
                        "a `{kind}` workorder needs {}: {}",
                        if missing.len() == 1 {
                            "the field"
                        } else {
                            "the fields"
                        },
                        missing.join(", ")
                    ),
                )
                .with_hint("required fields are marked `required` in the workorder declaration"),
            );
        }
    }

    fn check_call(
        &mut self,
        span: Span,
        target: Option<&Ident>,
        flow: &Ident,
        args: &[Expr],
        scope: &mut Scope,
        cx: &mut FlowCx,
    ) {
        let Some(info) = self.model.flows.get(&flow.name).cloned() else {
            for a in args {
                self.type_of(a, scope);
            }
            let c = self.names_of("flow");
            self.unknown("flow", flow, c.iter().map(String::as_str));
            return;
        };
        if info.params.len() != args.len() {
            self.err(Diagnostic::error(
                "wrong-arguments",
                span,
                format!(
                    "the flow `{}` takes {} argument{}, but {} {} given",
                    flow,
                    info.params.len(),
                    if info.params.len() == 1 { "" } else { "s" },
                    args.len(),
                    if args.len() == 1 { "is" } else { "are" }
                ),
            ));
        }
        for (i, a) in args.iter().enumerate() {
            match info.params.get(i) {
                Some((n, t)) => {
                    self.expect_type(a, *t, scope, &format!("the argument `{n}`"));
                }
                None => {
                    self.type_of(a, scope);
                }
            }
        }
        if let Some(t) = target {
            if info.returns == Type::Void {
                self.err(
                    Diagnostic::error(
                        "type-mismatch",
                        t.span,
                        format!(
                            "the flow `{flow}` returns nothing, so there is nothing to put in `{t}`"
                        ),
                    )
                    .with_hint(format!("write `call {flow}(...)` on its own")),
                );
            } else {
                self.check_target(t, info.returns, scope, cx);
            }
        }
    }

    // ------------------------------------------------------------ control flow

    /// Whether execution can go on after the block; warns about unreachable statements.
    fn block_completes(&mut self, b: &Block, cx: &FlowCx, report: bool) -> bool {
        let mut live = true;
        let mut warned = false;
        for s in &b.stmts {
            if let StmtKind::Label(l) = &s.kind
                && cx.goto_targets.contains(&l.name)
            {
                live = true;
                warned = false;
                continue;
            }
            if !live {
                if report && !warned && !matches!(s.kind, StmtKind::Label(_)) {
                    self.err(
                        Diagnostic::warning("unreachable", s.span, "this statement can never run")
                            .with_label("unreachable")
                            .with_hint(
                                "the statement before it always ends the call or jumps away",
                            ),
                    );
                    warned = true;
                }
                self.stmt_completes(s, cx, report);
                continue;
            }
            live = self.stmt_completes(s, cx, report);
        }
        live
    }

    fn stmt_completes(&mut self, s: &Stmt, cx: &FlowCx, report: bool) -> bool {
        match &s.kind {
            StmtKind::Hangup | StmtKind::Return(_) | StmtKind::Goto(_) | StmtKind::Repeat => false,
            StmtKind::Transfer { otherwise, .. } => match otherwise {
                Some(b) => self.block_completes(b, cx, report),
                None => false,
            },
            StmtKind::If {
                then, otherwise, ..
            } => {
                let a = self.block_completes(then, cx, report);
                let b = match otherwise {
                    Some(o) => self.block_completes(o, cx, report),
                    None => true,
                };
                a || b
            }
            StmtKind::Match { arms, .. } => {
                let mut any = !arms.iter().any(|a| a.patterns.is_empty());
                for a in arms {
                    any |= self.block_completes(&a.action, cx, report);
                }
                any
            }
            StmtKind::Menu(m) => {
                let mut any = false;
                for c in &m.choices {
                    any |= self.block_completes(&c.action, cx, report);
                }
                for ev in [InputEvent::NoInput, InputEvent::NoMatch] {
                    match m
                        .handlers
                        .iter()
                        .find(|h| h.event == ev && h.count == HandlerCount::Final)
                    {
                        Some(h) => any |= self.block_completes(&h.action, cx, report),
                        None => any = true,
                    }
                }
                for h in m.handlers.iter().filter(|h| h.count != HandlerCount::Final) {
                    self.block_completes(&h.action, cx, report);
                }
                any
            }
            StmtKind::Collect { collect, .. } => {
                for h in &collect.handlers {
                    self.block_completes(&h.action, cx, report);
                }
                true
            }
            StmtKind::Lookup { lookup, .. } => {
                if let Some(b) = &lookup.otherwise {
                    self.block_completes(b, cx, report);
                }
                true
            }
            StmtKind::OnError(b) => {
                self.block_completes(b, cx, report);
                true
            }
            StmtKind::Block(b) => self.block_completes(b, cx, report),
            StmtKind::ForEach { body, .. } => {
                // The list may be empty: the statement after the loop is reached
                // whatever the body does.
                self.block_completes(body, cx, report);
                true
            }
            _ => true,
        }
    }
}

/// Calls `f` on every statement in the block, nested ones included.
pub(crate) fn walk_stmts<'a>(b: &'a Block, f: &mut impl FnMut(&'a Stmt)) {
    for s in &b.stmts {
        f(s);
        match &s.kind {
            StmtKind::Menu(m) => {
                for p in &m.prompts {
                    f(p);
                }
                for c in &m.choices {
                    walk_stmts(&c.action, f);
                }
                for h in &m.handlers {
                    walk_stmts(&h.action, f);
                }
            }
            StmtKind::Collect { collect, .. } => {
                for p in &collect.prompts {
                    f(p);
                }
                for h in &collect.handlers {
                    walk_stmts(&h.action, f);
                }
            }
            StmtKind::Lookup { lookup, .. } => {
                if let Some(b) = &lookup.otherwise {
                    walk_stmts(b, f);
                }
            }
            StmtKind::LookupWorkorder {
                otherwise: Some(b), ..
            }
            | StmtKind::TransitionWorkorder {
                otherwise: Some(b), ..
            } => walk_stmts(b, f),
            StmtKind::If {
                then, otherwise, ..
            } => {
                walk_stmts(then, f);
                if let Some(o) = otherwise {
                    walk_stmts(o, f);
                }
            }
            StmtKind::Match { arms, .. } => {
                for a in arms {
                    walk_stmts(&a.action, f);
                }
            }
            StmtKind::Transfer {
                otherwise: Some(b), ..
            }
            | StmtKind::OnError(b)
            | StmtKind::Block(b) => walk_stmts(b, f),
            StmtKind::ForEach { body, .. } => walk_stmts(body, f),
            _ => {}
        }
    }
}

/// Whether the block holds a statement that ends the flow (hang-up, transfer, return).
fn has_terminal(b: &Block) -> bool {
    let mut found = false;
    walk_stmts(b, &mut |s| {
        if matches!(
            s.kind,
            StmtKind::Hangup | StmtKind::Transfer { .. } | StmtKind::Return(_)
        ) {
            found = true;
        }
    });
    found
}
