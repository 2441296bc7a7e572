//! The symbol index: every declaration of a checked project and every place its
//! name is written, found by walking the ASTs with the checker's answers (what a
//! name expression refers to, the type of a record a field is read from).

use std::collections::HashMap;

use crate::ast::*;
use crate::check::{Checked, Model, NameRef};
use crate::format::comments;
use crate::types::Type;

use super::{Occurrence, Symbol, SymbolId, SymbolKind};

/// Who owns the names a `Name` expression with [`NameRef::Field`] refers to.
#[derive(Clone, Copy)]
enum FieldOwner<'a> {
    None,
    Workorder(&'a str),
    Campaign(&'a str),
}

/// What is in scope while walking: the flow (for variables and labels) and the
/// record whose fields bare names are (workorder guards, campaign filters).
#[derive(Clone, Copy)]
struct Cx<'a> {
    flow: Option<&'a str>,
    fields: FieldOwner<'a>,
}

const TOP: Cx<'static> = Cx {
    flow: None,
    fields: FieldOwner::None,
};

pub(super) struct Builder<'a> {
    model: &'a Model,
    pub(super) symbols: Vec<Symbol>,
    pub(super) occurrences: Vec<Occurrence>,
    /// The first declaration of each (kind, owner, name).
    by_key: HashMap<(SymbolKind, String, String), SymbolId>,
    /// Own-line comments per file, by the 0-based line they end on, and comments
    /// after code, by line: the text of each.
    pub(super) comments: Vec<FileComments>,
}

/// The comments of one file, by line, for the documentation hover shows.
#[derive(Debug, Default, Clone)]
pub(super) struct FileComments {
    /// Comment alone on its line: line → text without `#`.
    pub(super) own_line: HashMap<usize, String>,
    /// Comment after code: line → text without `#`.
    pub(super) trailing: HashMap<usize, String>,
}

impl<'a> Builder<'a> {
    pub(super) fn new(checked: &'a Checked) -> Builder<'a> {
        let mut comments_by_file = Vec::new();
        for module in &checked.project.modules {
            let mut fc = FileComments::default();
            if let Some(f) = checked.project.sources.get(module.file) {
                for c in comments(module, &f.text) {
                    let (line, _) = f.line_col(c.span.start as usize);
                    let text = c.text.trim_start_matches('#').trim().to_string();
                    if c.own_line {
                        fc.own_line.insert(line - 1, text);
                    } else {
                        fc.trailing.insert(line - 1, text);
                    }
                }
            }
            let idx = module.file.0 as usize;
            if comments_by_file.len() <= idx {
                comments_by_file.resize(idx + 1, FileComments::default());
            }
            comments_by_file[idx] = fc;
        }
        Builder {
            model: &checked.model,
            symbols: Vec::new(),
            occurrences: Vec::new(),
            by_key: HashMap::new(),
            comments: comments_by_file,
        }
    }

    fn declare(
        &mut self,
        kind: SymbolKind,
        owner: Option<&str>,
        name: &Ident,
        span: Span,
        detail: String,
    ) -> SymbolId {
        let id = SymbolId(self.symbols.len() as u32);
        self.symbols.push(Symbol {
            kind,
            name: name.name.clone(),
            decl: name.span,
            span,
            owner: owner.map(str::to_string),
            detail,
        });
        let key = (
            kind,
            owner.unwrap_or_default().to_string(),
            name.name.clone(),
        );
        let first = *self.by_key.entry(key).or_insert(id);
        self.occurrences.push(Occurrence {
            span: name.span,
            symbol: first,
            is_decl: first == id,
        });
        id
    }

    fn find(&self, kind: SymbolKind, owner: Option<&str>, name: &str) -> Option<SymbolId> {
        self.by_key
            .get(&(
                kind,
                owner.unwrap_or_default().to_string(),
                name.to_string(),
            ))
            .copied()
    }

    /// Records that `ident` names the symbol of `kind`, if there is one.
    fn refer(&mut self, kind: SymbolKind, owner: Option<&str>, ident: &Ident) -> bool {
        match self.find(kind, owner, &ident.name) {
            Some(symbol) => {
                self.occurrences.push(Occurrence {
                    span: ident.span,
                    symbol,
                    is_decl: false,
                });
                true
            }
            None => false,
        }
    }

    /// A name in a `by` list, a reminder's or escalation's targets or an
    /// `assign`: a project role or a department (built-in roles are no
    /// declaration).
    fn recipient(&mut self, ident: &Ident) {
        if !self.refer(SymbolKind::Role, None, ident) {
            self.refer(SymbolKind::Department, None, ident);
        }
    }

    // ------------------------------------------------------------ declarations

    /// First pass: every declaration, so that uses anywhere find them.
    pub(super) fn declarations(&mut self, modules: &'a [Module]) {
        for module in modules {
            for item in &module.items {
                self.declare_item(item);
            }
        }
    }

    fn declare_item(&mut self, item: &'a Item) {
        let model = self.model;
        match item {
            Item::Import(_) | Item::Languages(_) | Item::Agent(_) => {}
            Item::Const(d) => {
                let ty = model
                    .consts
                    .get(&d.name.name)
                    .map(|(_, t)| type_name(model, *t))
                    .unwrap_or_default();
                self.declare(
                    SymbolKind::Constant,
                    None,
                    &d.name,
                    d.span,
                    format!("const {}: {ty}", d.name),
                );
            }
            Item::CallData(d) => {
                for f in &d.fields {
                    let ty = type_expr_name(&f.ty);
                    self.declare(
                        SymbolKind::CallData,
                        None,
                        &f.name,
                        f.name.span.to(f.ty.span()),
                        format!("data.{}: {ty}", f.name),
                    );
                }
            }
            Item::Skill(d) => {
                let (lo, hi) = d.levels.map(|(a, b, _)| (a, b)).unwrap_or((1, 5));
                for n in &d.names {
                    self.declare(
                        SymbolKind::Skill,
                        None,
                        n,
                        d.span,
                        format!("skill {n} levels {lo}..{hi}"),
                    );
                }
            }
            Item::Role(d) => {
                self.declare(
                    SymbolKind::Role,
                    None,
                    &d.name,
                    d.span,
                    format!("role {}{}", d.name, label(&d.label)),
                );
            }
            Item::Department(d) => {
                self.declare(
                    SymbolKind::Department,
                    None,
                    &d.name,
                    d.span,
                    format!("department {}{}", d.name, label(&d.label)),
                );
            }
            Item::List(d) => {
                self.declare(
                    SymbolKind::List,
                    None,
                    &d.name,
                    d.span,
                    format!("list {}{}", d.name, label(&d.label)),
                );
                for c in &d.categories {
                    self.declare(
                        SymbolKind::Category,
                        Some(&d.name.name),
                        &c.name,
                        c.span,
                        format!("category {}.{}{}", d.name, c.name, label(&c.label)),
                    );
                }
            }
            Item::Calendar(d) => {
                self.declare(
                    SymbolKind::Calendar,
                    None,
                    &d.name,
                    d.span,
                    format!("calendar {}{}", d.name, label(&d.label)),
                );
            }
            Item::Service(d) => {
                self.declare(
                    SymbolKind::Service,
                    None,
                    &d.name,
                    d.span,
                    format!("service {}{}", d.name, label(&d.label)),
                );
                for op in &d.operations {
                    let params = typed_fields(&op.params);
                    let fields = typed_fields(&op.fields);
                    self.declare(
                        SymbolKind::Operation,
                        Some(&d.name.name),
                        &op.name,
                        op.span,
                        format!("lookup {}.{}({params}) -> {{ {fields} }}", d.name, op.name),
                    );
                    let owner = format!("{}.{}", d.name, op.name);
                    for f in &op.fields {
                        self.declare(
                            SymbolKind::RecordField,
                            Some(&owner),
                            &f.name,
                            f.name.span.to(f.ty.span()),
                            format!("{}: {} (answer of {owner})", f.name, type_expr_name(&f.ty)),
                        );
                    }
                }
            }
            Item::Flow(d) => {
                let sig = flow_signature(d);
                self.declare(SymbolKind::Flow, None, &d.name, d.span, sig);
                for p in &d.params {
                    self.declare(
                        SymbolKind::Variable,
                        Some(&d.name.name),
                        &p.name,
                        p.name.span.to(p.ty.span()),
                        format!(
                            "{}: {} (parameter of {})",
                            p.name,
                            type_expr_name(&p.ty),
                            d.name
                        ),
                    );
                }
                let flow = d.name.name.as_str();
                let mut labels = Vec::new();
                let mut targets = Vec::new();
                let mut menus = Vec::new();
                crate::check::walk_stmts(&d.body, &mut |s| match &s.kind {
                    StmtKind::Label(l) => labels.push(l),
                    StmtKind::Menu(m) => menus.push((&m.name, m.span)),
                    StmtKind::Collect { target, .. }
                    | StmtKind::Lookup { target, .. }
                    | StmtKind::Record { target, .. }
                    | StmtKind::CreateWorkorder { target, .. }
                    | StmtKind::LookupWorkorder { target, .. }
                    | StmtKind::Assign { target, .. }
                    | StmtKind::Call {
                        target: Some(target),
                        ..
                    }
                    | StmtKind::ForEach { var: target, .. } => targets.push((target, s.span)),
                    _ => {}
                });
                for l in labels {
                    self.declare(
                        SymbolKind::Label,
                        Some(flow),
                        l,
                        l.span,
                        format!("{l}: (label in {flow})"),
                    );
                }
                for (m, span) in menus {
                    self.declare(
                        SymbolKind::Menu,
                        Some(flow),
                        m,
                        span,
                        format!("menu {m} (in {flow})"),
                    );
                }
                let locals = model.flows.get(flow).map(|f| &f.locals);
                for (t, span) in targets {
                    if self
                        .find(SymbolKind::Variable, Some(flow), &t.name)
                        .is_some()
                    {
                        continue;
                    }
                    if model.consts.contains_key(&t.name)
                        || crate::types::Builtin::from_name(&t.name).is_some()
                    {
                        continue;
                    }
                    let ty = locals
                        .and_then(|l| l.get(&t.name))
                        .map(|t| type_name(model, *t))
                        .unwrap_or_else(|| "unknown".into());
                    self.declare(
                        SymbolKind::Variable,
                        Some(flow),
                        t,
                        span,
                        format!("{t}: {ty} (variable of {flow})"),
                    );
                }
            }
            Item::Queue(d) => {
                self.declare(
                    SymbolKind::Queue,
                    None,
                    &d.name,
                    d.span,
                    format!("queue {}{}", d.name, label(&d.label)),
                );
            }
            Item::Campaign(d) => {
                self.declare(
                    SymbolKind::Campaign,
                    None,
                    &d.name,
                    d.span,
                    format!("campaign {}{}", d.name, label(&d.label)),
                );
                if let Some(l) = &d.list {
                    for (f, column) in &l.fields {
                        self.declare(
                            SymbolKind::CampaignField,
                            Some(&d.name.name),
                            &f.name,
                            f.name.span.to(column.span),
                            format!(
                                "{}: {} <- {} (field of the list of {})",
                                f.name,
                                type_expr_name(&f.ty),
                                crate::format::text_to_string(column),
                                d.name
                            ),
                        );
                    }
                }
            }
            Item::Workorder(d) => {
                self.declare(
                    SymbolKind::Workorder,
                    None,
                    &d.name,
                    d.span,
                    format!("workorder {}{}", d.name, label(&d.label)),
                );
                let owner = d.name.name.as_str();
                for f in &d.fields {
                    let mut flags = String::new();
                    if f.required {
                        flags.push_str(" required");
                    }
                    if f.sensitive {
                        flags.push_str(" sensitive");
                    }
                    self.declare(
                        SymbolKind::WorkorderField,
                        Some(owner),
                        &f.name,
                        f.span,
                        format!(
                            "field {}: {}{flags} (of {owner})",
                            f.name,
                            type_expr_name(&f.ty)
                        ),
                    );
                }
                for s in &d.states {
                    let mut flags = String::new();
                    if s.initial {
                        flags.push_str(" initial");
                    }
                    if s.is_final {
                        flags.push_str(" final");
                    }
                    if let Some(l) = &s.limit {
                        flags.push_str(&format!(
                            " limit {} {}",
                            crate::literal::duration_to_string(l.duration.millis),
                            if l.business { "business" } else { "wall" }
                        ));
                    }
                    self.declare(
                        SymbolKind::State,
                        Some(owner),
                        &s.name,
                        s.span,
                        format!("state {}{}{flags} (of {owner})", s.name, label(&s.label)),
                    );
                }
                for t in &d.transitions {
                    self.declare(
                        SymbolKind::Transition,
                        Some(owner),
                        &t.name,
                        t.span,
                        format!("transition {}: {} -> {} (of {owner})", t.name, t.from, t.to),
                    );
                }
            }
        }
    }

    // ------------------------------------------------------------ uses

    /// Second pass: every place a declared name is used.
    pub(super) fn uses(&mut self, modules: &'a [Module]) {
        for module in modules {
            for item in &module.items {
                self.item_uses(item);
            }
        }
    }

    fn item_uses(&mut self, item: &'a Item) {
        match item {
            Item::Import(_)
            | Item::Languages(_)
            | Item::Department(_)
            | Item::Role(_)
            | Item::Service(_) => {}
            Item::Const(d) => self.expr(&d.value, TOP),
            Item::CallData(d) => {
                for f in &d.fields {
                    if let Some(e) = &f.default {
                        self.expr(e, TOP);
                    }
                }
            }
            Item::Skill(_) => {}
            Item::Agent(d) => {
                for s in &d.skills {
                    self.refer(SymbolKind::Skill, None, &s.skill);
                }
            }
            Item::List(d) => {
                for c in &d.categories {
                    self.options(&c.options, TOP);
                }
            }
            Item::Calendar(_) => {}
            Item::Flow(d) => {
                let cx = Cx {
                    flow: Some(&d.name.name),
                    fields: FieldOwner::None,
                };
                self.block(&d.body, cx);
            }
            Item::Queue(d) => {
                for s in &d.skills {
                    self.refer(SymbolKind::Skill, None, &s.skill);
                }
                if let Some(e) = &d.priority {
                    self.expr(e, TOP);
                }
                if let Some(e) = &d.music {
                    self.expr(e, TOP);
                }
                for a in &d.announcements {
                    if let AnnounceWhat::Prompt(e) = &a.what {
                        self.expr(e, TOP);
                    }
                    if let Some(e) = &a.when {
                        self.expr(e, TOP);
                    }
                }
                if let Some((_, dest, _)) = &d.max_wait {
                    self.destination(dest, TOP);
                }
                for o in &d.overflows {
                    self.refer(SymbolKind::Queue, None, &o.target);
                    self.expr(&o.when, TOP);
                }
                for k in &d.keys {
                    self.destination(&k.dest, TOP);
                    if let Some(when) = &k.when {
                        self.expr(when, TOP);
                    }
                }
                self.options(&d.agent_policy, TOP);
                if let Some((cal, dest, _)) = &d.hours {
                    self.refer(SymbolKind::Calendar, None, cal);
                    self.destination(dest, TOP);
                }
            }
            Item::Campaign(d) => {
                let cx = Cx {
                    flow: None,
                    fields: FieldOwner::Campaign(&d.name.name),
                };
                for f in &d.filters {
                    self.expr(f, cx);
                }
                if let Some(m) = &d.mode {
                    self.options(&m.options, TOP);
                    if let Some(dest) = &m.dest {
                        self.destination(dest, TOP);
                    }
                }
                if let Some(c) = &d.calendar {
                    self.refer(SymbolKind::Calendar, None, c);
                }
                if let Some((e, _, _)) = &d.dropped {
                    self.expr(e, TOP);
                }
            }
            Item::Workorder(d) => {
                let owner = d.name.name.as_str();
                if let Some(c) = &d.calendar {
                    self.refer(SymbolKind::Calendar, None, c);
                }
                for s in &d.states {
                    for r in &s.reminders {
                        for to in &r.to {
                            self.recipient(to);
                        }
                    }
                    for e in &s.escalations {
                        for to in &e.to {
                            self.recipient(to);
                        }
                    }
                }
                for l in &d.span_limits {
                    self.refer(SymbolKind::State, Some(owner), &l.target);
                    self.refer(SymbolKind::State, Some(owner), &l.from);
                    for r in &l.reminders {
                        for to in &r.to {
                            self.recipient(to);
                        }
                    }
                    for e in &l.escalations {
                        for to in &e.to {
                            self.recipient(to);
                        }
                    }
                }
                for t in &d.triggers {
                    self.refer(SymbolKind::State, Some(owner), &t.state);
                    match &t.action {
                        TriggerAction::Assign(role) => self.recipient(role),
                        TriggerAction::Notify { to, .. } => {
                            self.refer(SymbolKind::WorkorderField, Some(owner), to);
                        }
                        TriggerAction::Call {
                            flow,
                            args,
                            campaign,
                        } => {
                            self.refer(SymbolKind::Flow, None, flow);
                            for a in args {
                                self.refer(SymbolKind::WorkorderField, Some(owner), a);
                            }
                            self.refer(SymbolKind::Campaign, None, campaign);
                        }
                    }
                }
                let cx = Cx {
                    flow: None,
                    fields: FieldOwner::Workorder(owner),
                };
                for t in &d.transitions {
                    self.refer(SymbolKind::State, Some(owner), &t.from);
                    self.refer(SymbolKind::State, Some(owner), &t.to);
                    for r in &t.roles {
                        self.recipient(r);
                    }
                    if let Some(g) = &t.guard {
                        self.expr(g, cx);
                    }
                }
            }
        }
    }

    fn block(&mut self, b: &'a Block, cx: Cx<'a>) {
        for s in &b.stmts {
            self.stmt(s, cx);
        }
    }

    fn target(&mut self, t: &Ident, cx: Cx<'a>) {
        let Some(flow) = cx.flow else { return };
        // The first assignment is the declaration, recorded with it.
        if let Some(symbol) = self.find(SymbolKind::Variable, Some(flow), &t.name)
            && self.symbols[symbol.0 as usize].decl != t.span
        {
            self.occurrences.push(Occurrence {
                span: t.span,
                symbol,
                is_decl: false,
            });
        }
    }

    fn stmt(&mut self, s: &'a Stmt, cx: Cx<'a>) {
        match &s.kind {
            StmtKind::Play { prompts, options } => {
                for p in prompts {
                    self.expr(p, cx);
                }
                self.options(options, cx);
            }
            StmtKind::Say(say) => self.say(say, cx),
            StmtKind::Menu(m) => {
                self.options(&m.options, cx);
                for p in &m.prompts {
                    self.stmt(p, cx);
                }
                for c in &m.choices {
                    for p in &c.patterns {
                        if let ChoicePattern::Phrase(t) = p {
                            self.text(t, cx);
                        }
                    }
                    self.block(&c.action, cx);
                }
                for h in &m.handlers {
                    self.block(&h.action, cx);
                }
            }
            StmtKind::Collect { target, collect } => {
                self.target(target, cx);
                self.options(&collect.options, cx);
                for p in &collect.prompts {
                    self.stmt(p, cx);
                }
                for h in &collect.handlers {
                    self.block(&h.action, cx);
                }
                for v in &collect.valid {
                    self.expr(v, cx);
                }
            }
            StmtKind::Lookup { target, lookup } => {
                self.target(target, cx);
                self.refer(SymbolKind::Service, None, &lookup.service);
                self.refer(
                    SymbolKind::Operation,
                    Some(&lookup.service.name),
                    &lookup.operation,
                );
                for a in &lookup.args {
                    self.expr(a, cx);
                }
                self.options(&lookup.options, cx);
                if let Some(b) = &lookup.otherwise {
                    self.block(b, cx);
                }
            }
            StmtKind::Record { target, options } => {
                self.target(target, cx);
                self.options(options, cx);
            }
            StmtKind::CreateWorkorder {
                target,
                kind,
                fields,
            } => {
                self.target(target, cx);
                self.refer(SymbolKind::Workorder, None, kind);
                for f in fields {
                    self.refer(SymbolKind::WorkorderField, Some(&kind.name), &f.name);
                    self.expr(&f.value, cx);
                }
            }
            StmtKind::LookupWorkorder {
                target,
                kind,
                number,
                otherwise,
                ..
            } => {
                self.target(target, cx);
                self.refer(SymbolKind::Workorder, None, kind);
                self.expr(number, cx);
                if let Some(b) = otherwise {
                    self.block(b, cx);
                }
            }
            StmtKind::TransitionWorkorder {
                order,
                comment,
                otherwise,
                ..
            } => {
                self.expr(order, cx);
                if let Some(c) = comment {
                    self.expr(c, cx);
                }
                if let Some(b) = otherwise {
                    self.block(b, cx);
                }
            }
            StmtKind::Call { target, flow, args } => {
                if let Some(t) = target {
                    self.target(t, cx);
                }
                self.refer(SymbolKind::Flow, None, flow);
                for a in args {
                    self.expr(a, cx);
                }
            }
            StmtKind::Assign { target, value } => {
                self.target(target, cx);
                self.expr(value, cx);
            }
            StmtKind::SetData { field, value } => {
                self.refer(SymbolKind::CallData, None, field);
                self.expr(value, cx);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond, cx);
                self.block(then, cx);
                if let Some(o) = otherwise {
                    self.block(o, cx);
                }
            }
            StmtKind::Match { scrutinee, arms } => {
                self.expr(scrutinee, cx);
                for a in arms {
                    for p in &a.patterns {
                        self.expr(p, cx);
                    }
                    self.block(&a.action, cx);
                }
            }
            StmtKind::Label(_) | StmtKind::Repeat | StmtKind::Hangup | StmtKind::Language(_) => {}
            StmtKind::Goto(l) => {
                self.refer(SymbolKind::Label, cx.flow, l);
            }
            StmtKind::Return(e) => {
                if let Some(e) = e {
                    self.expr(e, cx);
                }
            }
            StmtKind::Notify {
                to,
                subject,
                body,
                attach,
                ..
            } => {
                self.expr(to, cx);
                if let Some(s) = subject {
                    self.expr(s, cx);
                }
                self.expr(body, cx);
                if let Some(a) = attach {
                    self.expr(a, cx);
                }
            }
            StmtKind::Transfer {
                dest,
                options,
                otherwise,
            } => {
                self.destination(dest, cx);
                self.options(options, cx);
                if let Some(b) = otherwise {
                    self.block(b, cx);
                }
            }
            StmtKind::Pause(e) => self.expr(e, cx),
            StmtKind::OnError(b) | StmtKind::Block(b) => self.block(b, cx),
            StmtKind::ForEach {
                var,
                list,
                options,
                body,
            } => {
                self.target(var, cx);
                self.refer(SymbolKind::Variable, cx.flow, list);
                self.options(options, cx);
                self.block(body, cx);
            }
        }
    }

    fn say(&mut self, say: &'a Say, cx: Cx<'a>) {
        match &say.content {
            SayContent::Items(items) => {
                for i in items {
                    self.expr(&i.value, cx);
                }
            }
            SayContent::Translations(t) => {
                for (_, items) in t {
                    for i in items {
                        self.expr(&i.value, cx);
                    }
                }
            }
        }
        self.options(&say.options, cx);
    }

    fn options(&mut self, options: &'a [Opt], cx: Cx<'a>) {
        for o in options {
            if let Some(OptValue::Text(t)) = &o.value {
                self.text(t, cx);
            }
        }
    }

    fn destination(&mut self, d: &'a Destination, cx: Cx<'a>) {
        match d {
            Destination::Queue(q) => {
                self.refer(SymbolKind::Queue, None, q);
            }
            Destination::Flow(f) => {
                self.refer(SymbolKind::Flow, None, f);
            }
            Destination::Agent(e) | Destination::Number(e) => self.expr(e, cx),
            Destination::Callback(_) | Destination::Hangup(_) => {}
        }
    }

    fn text(&mut self, t: &'a Text, cx: Cx<'a>) {
        for p in &t.parts {
            if let TextPart::Expr(e) = p {
                self.expr(e, cx);
            }
        }
    }

    fn expr(&mut self, e: &'a Expr, cx: Cx<'a>) {
        match &e.kind {
            ExprKind::Number(_)
            | ExprKind::Percent(_)
            | ExprKind::Bool(_)
            | ExprKind::Duration(_)
            | ExprKind::Clock(_)
            | ExprKind::Date(_)
            | ExprKind::DateTime(_) => {}
            ExprKind::Text(t) => self.text(t, cx),
            ExprKind::Name(n) => self.name(e, n, cx),
            ExprKind::Data(f) => {
                self.refer(SymbolKind::CallData, None, f);
            }
            ExprKind::Field(base, field) => {
                self.expr(base, cx);
                if let Type::Record(r) = self.model.type_of(base)
                    && let Some(rec) = self.model.records.get(r.0 as usize)
                {
                    let owner = rec.name.clone();
                    self.refer(SymbolKind::RecordField, Some(&owner), field);
                }
            }
            ExprKind::Call(_, args) => {
                for a in args {
                    self.expr(a, cx);
                }
            }
            ExprKind::List(items) => {
                for i in items {
                    self.expr(i, cx);
                }
            }
            ExprKind::Unary(_, x) => self.expr(x, cx),
            ExprKind::Binary(_, a, b) => {
                self.expr(a, cx);
                self.expr(b, cx);
            }
            ExprKind::In { value, target, .. } => {
                self.expr(value, cx);
                match target {
                    InTarget::List { list, category } => {
                        self.refer(SymbolKind::List, None, list);
                        if let Some(c) = category {
                            self.refer(SymbolKind::Category, Some(&list.name), c);
                        }
                    }
                    InTarget::Values(items, _) => {
                        for i in items {
                            self.expr(i, cx);
                        }
                    }
                }
            }
            ExprKind::Cond(c, a, b) => {
                self.expr(c, cx);
                self.expr(a, cx);
                self.expr(b, cx);
            }
        }
    }

    fn name(&mut self, e: &Expr, n: &Ident, cx: Cx<'a>) {
        match self.model.names.get(&e.id) {
            Some(NameRef::Local) => {
                self.refer(SymbolKind::Variable, cx.flow, n);
            }
            Some(NameRef::Const) => {
                self.refer(SymbolKind::Constant, None, n);
            }
            Some(NameRef::Calendar) => {
                self.refer(SymbolKind::Calendar, None, n);
            }
            Some(NameRef::Field) => match cx.fields {
                FieldOwner::Workorder(w) => {
                    self.refer(SymbolKind::WorkorderField, Some(w), n);
                }
                FieldOwner::Campaign(c) => {
                    self.refer(SymbolKind::CampaignField, Some(c), n);
                }
                FieldOwner::None => {}
            },
            Some(NameRef::Builtin(_)) => {}
            // The checker did not get here (an error earlier in the flow): the
            // most likely meaning, so that navigation keeps working while typing.
            None => {
                let local = cx
                    .flow
                    .is_some_and(|f| self.refer(SymbolKind::Variable, Some(f), n));
                if !local && !self.refer(SymbolKind::Constant, None, n) {
                    self.refer(SymbolKind::Calendar, None, n);
                }
            }
        }
    }
}

fn label(l: &Option<Text>) -> String {
    match l {
        Some(t) => format!(" {}", crate::format::text_to_string(t)),
        None => String::new(),
    }
}

fn typed_fields(fields: &[TypedField]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.name, type_expr_name(&f.ty)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A type as written in a declaration.
pub(super) fn type_expr_name(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Named(n) => n.name.clone(),
        TypeExpr::Enum(values, _) => format!(
            "enum({})",
            values
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A type as an analyst writes it (`number`, `text`), or the record it is.
pub(super) fn type_name(model: &Model, t: Type) -> String {
    match t {
        Type::Number => "number".into(),
        Type::Text => "text".into(),
        Type::Bool => "bool".into(),
        Type::Duration => "duration".into(),
        Type::Time => "time".into(),
        Type::Date => "date".into(),
        Type::DateTime => "datetime".into(),
        Type::Recording => "recording".into(),
        Type::Record(r) => match model.records.get(r.0 as usize) {
            Some(rec) => format!("record {}", rec.name),
            None => "record".into(),
        },
        Type::RecordList(r) => match model.records.get(r.0 as usize) {
            Some(rec) => format!("list of records {}", rec.name),
            None => "list of records".into(),
        },
        Type::List => "list".into(),
        Type::Void => "nothing".into(),
        Type::Error => "unknown".into(),
    }
}

fn flow_signature(d: &FlowDecl) -> String {
    let mut s = format!("flow {}", d.name);
    if !d.params.is_empty() {
        s.push_str(&format!("({})", typed_fields(&d.params)));
    }
    if let Some(r) = &d.returns {
        s.push_str(&format!(" -> {}", type_expr_name(r)));
    }
    s.push_str(&label(&d.label));
    if !d.numbers.is_empty() {
        s.push_str(" on ");
        s.push_str(
            &d.numbers
                .iter()
                .map(crate::format::text_to_string)
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    s
}
