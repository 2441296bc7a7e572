//! Lowering: a checked project (AST + [`Model`]) becomes a [`ProgramIr`].
//!
//! Flows become state machines: every statement that needs the outside world
//! (play, say, menu, collect, lookup, record, create workorder, notify, transfer,
//! pause, sub-flow call) ends its block with a suspension and continues in a
//! resume block that reads the result. Menus and collects keep their attempt
//! counter in a hidden slot and pick the no-input / no-match handler for each
//! attempt at compile time. `and`/`or`/`?:` short-circuit with branches.
//! Constants are inlined where they are used. Queue, campaign and workorder
//! expressions become predicates over an environment vector.

use std::collections::HashMap;

use dialect_lang::ast::{self, *};
use dialect_lang::check::{Checked, ItemRef, Model, NameRef};
use dialect_lang::options;
use dialect_lang::types::{Builtin, Function, Type};

use crate::CompileError;
use crate::ir::*;
use crate::value::date_to_days;

/// Default time for the first key of a menu or collect.
const DEFAULT_TIMEOUT_MS: i64 = 5000;
/// Default time between keys.
const DEFAULT_DIGIT_TIMEOUT_MS: i64 = 3000;
/// Default attempts of a menu or collect.
const DEFAULT_RETRIES: u32 = 3;
/// Default lookup time-out when neither the lookup nor the service gives one.
const DEFAULT_LOOKUP_TIMEOUT_MS: i64 = 3000;

/// Lowers a checked project; refuses one with errors.
pub fn lower(checked: &Checked) -> Result<ProgramIr, CompileError> {
    let (errors, _) = checked.counts();
    if errors > 0 {
        return Err(CompileError::Check(errors));
    }
    let mut l = Lowerer {
        checked,
        model: &checked.model,
        ir: ProgramIr::default(),
        syms: HashMap::new(),
        locs: HashMap::new(),
        files: HashMap::new(),
    };
    l.intern("");
    l.program()?;
    Ok(l.ir)
}

struct Lowerer<'a> {
    checked: &'a Checked,
    model: &'a Model,
    ir: ProgramIr,
    syms: HashMap<String, Sym>,
    locs: HashMap<(u32, u32), LocId>,
    files: HashMap<u32, u32>,
}

/// Where a name in an expression is read from while lowering.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Inside a flow: slots, call data, builtins.
    Flow,
    /// Inside a predicate: the environment vector.
    Pred,
}

/// Builds one function body.
struct Fb {
    body: Body,
    terminated: Vec<bool>,
    cur: BlockId,
    cur_loc: LocId,
    slots: Vec<(String, Type)>,
    slot_ids: HashMap<String, SlotId>,
    resumes: Vec<BlockId>,
    labels: HashMap<String, BlockId>,
    /// Where `repeat` goes, innermost last.
    repeat: Vec<BlockId>,
    env: Vec<(EnvVar, Type)>,
    ctx: Ctx,
    /// Campaign or workorder field names, for `NameRef::Field`.
    fields: Vec<String>,
}

impl Fb {
    fn new(ctx: Ctx, loc: LocId) -> Fb {
        let mut fb = Fb {
            body: Body::default(),
            terminated: Vec::new(),
            cur: 0,
            cur_loc: loc,
            slots: Vec::new(),
            slot_ids: HashMap::new(),
            resumes: Vec::new(),
            labels: HashMap::new(),
            repeat: Vec::new(),
            env: Vec::new(),
            ctx,
            fields: Vec::new(),
        };
        fb.cur = fb.block(loc);
        fb.body.entry = fb.cur;
        fb
    }

    fn block(&mut self, loc: LocId) -> BlockId {
        self.body.blocks.push(BlockIr {
            insts: Vec::new(),
            term: Term::Fail {
                message: "internal error: unterminated block".into(),
                loc,
            },
            loc,
        });
        self.terminated.push(false);
        (self.body.blocks.len() - 1) as BlockId
    }

    fn reg(&mut self, ty: Type) -> Reg {
        let ty = match ty {
            Type::Error | Type::Void | Type::List => Type::Duration,
            t => t,
        };
        self.body.regs.push(ty);
        (self.body.regs.len() - 1) as Reg
    }

    fn emit(&mut self, inst: Inst) {
        self.body.blocks[self.cur as usize].insts.push(inst);
    }

    /// Ends the current block; code after it goes into a fresh (unreachable) block.
    fn term(&mut self, t: Term) {
        let c = self.cur as usize;
        if !self.terminated[c] {
            self.body.blocks[c].term = t;
            self.terminated[c] = true;
        }
        let loc = self.cur_loc;
        self.cur = self.block(loc);
    }

    /// Continues in block `b` (falling through into it from the current block).
    fn switch_to(&mut self, b: BlockId) {
        let c = self.cur as usize;
        if !self.terminated[c] {
            self.body.blocks[c].term = Term::Jump(b);
            self.terminated[c] = true;
        }
        self.cur = b;
    }

    fn konst(&mut self, ty: Type, value: Const) -> Reg {
        let r = self.reg(ty);
        self.emit(Inst::Const { dst: r, value });
        r
    }

    fn int(&mut self, v: i64) -> Reg {
        self.konst(Type::Duration, Const::Int(v))
    }

    fn slot(&mut self, name: &str, ty: Type) -> SlotId {
        if let Some(&s) = self.slot_ids.get(name) {
            return s;
        }
        let id = self.slots.len() as SlotId;
        self.slots.push((name.to_string(), ty));
        self.slot_ids.insert(name.to_string(), id);
        id
    }

    fn hidden_slot(&mut self, prefix: &str, ty: Type) -> SlotId {
        let name = format!("%{prefix}{}", self.slots.len());
        self.slot(&name, ty)
    }

    fn resume_point(&mut self, loc: LocId) -> (u32, BlockId) {
        let b = self.block(loc);
        self.resumes.push(b);
        ((self.resumes.len() - 1) as u32, b)
    }

    fn env_index(&mut self, var: EnvVar, ty: Type) -> u32 {
        if let Some(i) = self.env.iter().position(|(v, _)| *v == var) {
            return i as u32;
        }
        self.env.push((var, ty));
        (self.env.len() - 1) as u32
    }
}

impl<'a> Lowerer<'a> {
    fn intern(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.syms.get(s) {
            return id;
        }
        let id = self.ir.texts.len() as Sym;
        self.ir.texts.push(s.to_string());
        self.syms.insert(s.to_string(), id);
        id
    }

    fn loc(&mut self, span: Span) -> LocId {
        if let Some(&l) = self.locs.get(&(span.file.0, span.start)) {
            return l;
        }
        let Some(f) = self.checked.project.sources.get(span.file) else {
            return 0;
        };
        let file = match self.files.get(&span.file.0) {
            Some(&i) => i,
            None => {
                let i = self.ir.files.len() as u32;
                let root = &self.checked.project.root;
                let rel = f.path.strip_prefix(root).unwrap_or(&f.path);
                self.ir.files.push(rel.display().to_string());
                self.files.insert(span.file.0, i);
                i
            }
        };
        let (line, col) = f.line_col(span.start as usize);
        let id = self.ir.locations.len() as LocId;
        self.ir.locations.push(SourceLoc {
            file,
            line: line as u32,
            col: col as u32,
        });
        self.locs.insert((span.file.0, span.start), id);
        id
    }

    fn item(&self, r: ItemRef) -> &'a Item {
        &self.checked.project.modules[r.module].items[r.item]
    }

    fn ty(&self, e: &Expr) -> Type {
        self.model.type_of(e)
    }

    // ------------------------------------------------------------ program

    fn program(&mut self) -> Result<(), CompileError> {
        self.ir.languages = self.model.languages.clone();
        for (name, (lo, hi)) in &self.model.skills {
            self.ir.skills.push((name.clone(), *lo, *hi));
        }
        for (name, r) in &self.model.departments {
            if let Item::Department(d) = self.item(*r) {
                let label = d
                    .label
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_default();
                self.ir.departments.push((name.clone(), label));
            }
        }
        for r in self.model.agents.values() {
            if let Item::Agent(a) = self.item(*r) {
                self.ir.agents.push(AgentIr {
                    id: a.id.plain_lossy(),
                    name: a
                        .label
                        .as_ref()
                        .map(|t| t.plain_lossy())
                        .unwrap_or_default(),
                    skills: a
                        .skills
                        .iter()
                        .map(|s| {
                            (
                                s.skill.name.clone(),
                                s.level.map(|l| l.0 as u32).unwrap_or(1),
                            )
                        })
                        .collect(),
                });
            }
        }
        // Records (service answers) in model order.
        for rt in &self.model.records {
            self.ir.records.push(RecordTypeIr {
                name: rt.name.clone(),
                fields: rt.fields.clone(),
            });
        }
        self.calendars();
        self.lists();
        self.services();
        self.calldata();
        // Flows get their ids first so calls and numbers can refer to them.
        let flow_names: Vec<String> = self.model.flows.keys().cloned().collect();
        for name in &flow_names {
            let info = &self.model.flows[name];
            self.ir.flows.push(FlowIr {
                name: name.clone(),
                params: info.params.clone(),
                returns: info.returns,
                slots: Vec::new(),
                body: Body::default(),
                resumes: Vec::new(),
                on_error: None,
            });
        }
        for (number, flow) in &self.model.numbers {
            if let Some(id) = self.ir.flow_id(flow) {
                self.ir.numbers.push((number.clone(), id));
            }
        }
        self.workorders();
        for (i, name) in flow_names.iter().enumerate() {
            let r = self.model.flows[name].item;
            if let Item::Flow(d) = self.item(r) {
                let f = self.flow(d);
                self.ir.flows[i] = f;
            }
        }
        self.queues();
        self.campaigns();
        Ok(())
    }

    fn calendar_index(&self, name: &str) -> Option<u32> {
        self.ir
            .calendars
            .iter()
            .position(|c| c.name == name)
            .map(|i| i as u32)
    }

    fn calendars(&mut self) {
        let cals: Vec<ItemRef> = self.model.calendars.values().copied().collect();
        for r in cals {
            let Item::Calendar(c) = self.item(r) else {
                continue;
            };
            let mut weekly = vec![Vec::new(); 7];
            for h in &c.hours {
                for d in &h.days {
                    for day in d.from..=d.to.min(6) {
                        weekly[day as usize] = h.periods.iter().map(|p| (p.from, p.to)).collect();
                    }
                }
            }
            let mut special = Vec::new();
            for (holiday, list) in [(true, &c.holidays), (false, &c.workdays)] {
                for sd in list {
                    let label = sd
                        .label
                        .as_ref()
                        .map(|t| t.plain_lossy())
                        .unwrap_or_default();
                    for ds in &sd.dates {
                        let (a, b) = (date_to_days(ds.from), date_to_days(ds.to));
                        for day in a..=b.min(a + 366) {
                            special.push(SpecialDayIr {
                                day,
                                holiday,
                                hours: sd
                                    .hours
                                    .as_ref()
                                    .map(|h| h.iter().map(|p| (p.from, p.to)).collect()),
                                label: label.clone(),
                            });
                        }
                    }
                }
            }
            special.sort_by_key(|s| s.day);
            self.ir.calendars.push(CalendarIr {
                name: c.name.name.clone(),
                timezone: c
                    .timezone
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_else(|| "UTC".to_string()),
                weekly,
                special,
            });
        }
    }

    fn lists(&mut self) {
        let lists: Vec<ItemRef> = self.model.lists.values().map(|(r, _)| *r).collect();
        for r in lists {
            let Item::List(l) = self.item(r) else {
                continue;
            };
            self.ir.lists.push(ListIr {
                name: l.name.name.clone(),
                entries: l.entries.iter().map(|t| t.plain_lossy()).collect(),
                categories: l
                    .categories
                    .iter()
                    .map(|c| ListCategoryIr {
                        name: c.name.name.clone(),
                        entries: c.entries.iter().map(|t| t.plain_lossy()).collect(),
                        max_transfers: options::number(&c.options, "max transfers")
                            .map(|n| n as u32),
                        active: options::time_range(&c.options, "active"),
                    })
                    .collect(),
            });
        }
    }

    fn list_index(&self, name: &str) -> Option<(u32, &ListIr)> {
        self.ir
            .lists
            .iter()
            .enumerate()
            .find(|(_, l)| l.name == name)
            .map(|(i, l)| (i as u32, l))
    }

    fn services(&mut self) {
        let svcs: Vec<(String, ItemRef)> = self
            .model
            .services
            .iter()
            .map(|(n, r)| (n.clone(), *r))
            .collect();
        for (name, r) in svcs {
            let Item::Service(s) = self.item(r) else {
                continue;
            };
            let mut ops = Vec::new();
            for op in &s.operations {
                let Some(info) = self
                    .model
                    .operations
                    .get(&(name.clone(), op.name.name.clone()))
                else {
                    continue;
                };
                let mut path = String::new();
                for p in &op.path.parts {
                    match p {
                        TextPart::Lit(t) => path.push_str(t),
                        TextPart::Expr(e) => {
                            if let ExprKind::Name(n) = &e.kind {
                                path.push('{');
                                path.push_str(&n.name);
                                path.push('}');
                            }
                        }
                    }
                }
                ops.push(OperationIr {
                    name: op.name.name.clone(),
                    method: op.method,
                    path,
                    params: info.params.clone(),
                    record: info.record,
                });
            }
            self.ir.services.push(ServiceIr {
                name: name.clone(),
                url: s.url.as_ref().map(|t| t.plain_lossy()).unwrap_or_default(),
                timeout_ms: s
                    .timeout
                    .map(|d| d.millis)
                    .unwrap_or(DEFAULT_LOOKUP_TIMEOUT_MS),
                operations: ops,
            });
        }
    }

    fn calldata(&mut self) {
        let defaults: HashMap<String, Option<&Expr>> = match self.model.calldata_item {
            Some(r) => match self.item(r) {
                Item::CallData(d) => d
                    .fields
                    .iter()
                    .map(|f| (f.name.name.clone(), f.default.as_ref()))
                    .collect(),
                _ => HashMap::new(),
            },
            None => HashMap::new(),
        };
        for (name, ty) in &self.model.calldata {
            let default = defaults
                .get(name)
                .copied()
                .flatten()
                .and_then(|e| self.const_eval(e))
                .unwrap_or_else(|| zero_const(*ty));
            self.ir.calldata.push(CallDataFieldIr {
                name: name.clone(),
                ty: *ty,
                default,
            });
        }
    }

    /// Folds a constant expression (literals, constants, arithmetic); `None` when it
    /// is not constant.
    fn const_eval(&self, e: &Expr) -> Option<ConstValue> {
        Some(match &e.kind {
            ExprKind::Number(n) | ExprKind::Percent(n) => ConstValue::Num(*n),
            ExprKind::Bool(b) => ConstValue::Int(i64::from(*b)),
            ExprKind::Duration(ms) => ConstValue::Int(*ms),
            ExprKind::Clock(s) => ConstValue::Int(i64::from(*s)),
            ExprKind::Date(d) => ConstValue::Int(date_to_days(*d)),
            ExprKind::Text(t) => ConstValue::Text(t.as_plain()?),
            ExprKind::Name(n) => {
                let (r, _) = self.model.consts.get(&n.name)?;
                match self.item(*r) {
                    Item::Const(c) => self.const_eval(&c.value)?,
                    _ => return None,
                }
            }
            ExprKind::Unary(UnaryOp::Neg, x) => match self.const_eval(x)? {
                ConstValue::Num(n) => ConstValue::Num(-n),
                ConstValue::Int(i) => ConstValue::Int(-i),
                _ => return None,
            },
            ExprKind::Binary(op, a, b) => match (self.const_eval(a)?, self.const_eval(b)?) {
                (ConstValue::Num(x), ConstValue::Num(y)) => ConstValue::Num(match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    BinaryOp::Div if y != 0.0 => x / y,
                    _ => return None,
                }),
                (ConstValue::Int(x), ConstValue::Int(y)) => ConstValue::Int(match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    _ => return None,
                }),
                (ConstValue::Text(x), ConstValue::Text(y)) if *op == BinaryOp::Add => {
                    ConstValue::Text(x + &y)
                }
                _ => return None,
            },
            _ => return None,
        })
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self, fb: &mut Fb, e: &Expr) -> Reg {
        let ty = self.ty(e);
        match &e.kind {
            ExprKind::Number(n) | ExprKind::Percent(n) => fb.konst(Type::Number, Const::Num(*n)),
            ExprKind::Bool(b) => fb.konst(Type::Bool, Const::Int(i64::from(*b))),
            ExprKind::Duration(ms) => fb.konst(Type::Duration, Const::Int(*ms)),
            ExprKind::Clock(s) => fb.konst(Type::Time, Const::Int(i64::from(*s))),
            ExprKind::Date(d) => fb.konst(Type::Date, Const::Int(date_to_days(*d))),
            ExprKind::Text(t) => self.text(fb, t),
            ExprKind::Name(n) => self.name(fb, e, n, ty),
            ExprKind::Data(f) => {
                let Some((idx, fty)) = self.model.calldata_field(&f.name) else {
                    return fb.int(0);
                };
                let r = fb.reg(fty);
                match fb.ctx {
                    Ctx::Flow => fb.emit(Inst::LoadData {
                        dst: r,
                        field: idx as u32,
                    }),
                    Ctx::Pred => {
                        let i = fb.env_index(EnvVar::Data(idx as u32), fty);
                        fb.emit(Inst::Env { dst: r, index: i });
                    }
                }
                r
            }
            ExprKind::Field(base, f) => {
                let rec = self.expr(fb, base);
                let Type::Record(rid) = self.ty(base) else {
                    return fb.int(0);
                };
                let idx = self.model.records[rid.0 as usize]
                    .field(&f.name)
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                let r = fb.reg(ty);
                let loc = self.loc(f.span);
                fb.emit(Inst::Field {
                    dst: r,
                    record: rec,
                    field: idx as u32,
                    loc,
                });
                r
            }
            ExprKind::Call(f, args) => self.call(fb, e, f, args, ty),
            ExprKind::List(_) => fb.int(0),
            ExprKind::Unary(op, x) => {
                let xt = self.ty(x);
                let a = self.expr(fb, x);
                let r = fb.reg(ty);
                let op = match (op, xt) {
                    (UnaryOp::Neg, Type::Number) => UnOp::NegF,
                    (UnaryOp::Neg, _) => UnOp::NegI,
                    (UnaryOp::Not, _) => UnOp::Not,
                };
                fb.emit(Inst::Unary { dst: r, op, src: a });
                r
            }
            ExprKind::Binary(op, a, b) => self.binary(fb, e, *op, a, b, ty),
            ExprKind::In {
                value,
                target,
                negated,
            } => {
                let r = match target {
                    InTarget::List { list, category } => {
                        let v = self.expr(fb, value);
                        let Some((li, l)) = self.list_index(&list.name) else {
                            return fb.int(0);
                        };
                        let cat = category.as_ref().and_then(|c| {
                            l.categories
                                .iter()
                                .position(|x| x.name == c.name)
                                .map(|i| i as u32)
                        });
                        let r = fb.reg(Type::Bool);
                        fb.emit(Inst::InList {
                            dst: r,
                            value: v,
                            list: li,
                            category: cat,
                        });
                        r
                    }
                    InTarget::Values(items, _) => {
                        let v = self.expr(fb, value);
                        let vt = self.ty(value);
                        let result = fb.reg(Type::Bool);
                        let zero = fb.int(0);
                        fb.emit(Inst::Copy {
                            dst: result,
                            src: zero,
                        });
                        let done = fb.block(fb.cur_loc);
                        for it in items {
                            let x = self.expr(fb, it);
                            let c = fb.reg(Type::Bool);
                            fb.emit(Inst::Cmp {
                                dst: c,
                                cond: Cond::Eq,
                                kind: cmp_kind(vt),
                                a: v,
                                b: x,
                            });
                            let yes = fb.block(fb.cur_loc);
                            let next = fb.block(fb.cur_loc);
                            let cur = fb.cur;
                            fb.body.blocks[cur as usize].term = Term::Branch {
                                cond: c,
                                then: yes,
                                otherwise: next,
                            };
                            fb.terminated[cur as usize] = true;
                            fb.cur = yes;
                            let one = fb.int(1);
                            fb.emit(Inst::Copy {
                                dst: result,
                                src: one,
                            });
                            fb.term(Term::Jump(done));
                            fb.cur = next;
                        }
                        fb.switch_to(done);
                        result
                    }
                };
                if *negated {
                    let n = fb.reg(Type::Bool);
                    fb.emit(Inst::Unary {
                        dst: n,
                        op: UnOp::Not,
                        src: r,
                    });
                    n
                } else {
                    r
                }
            }
            ExprKind::Cond(c, a, b) => {
                let cond = self.expr(fb, c);
                let result = fb.reg(ty);
                let (then, other, join) = (
                    fb.block(fb.cur_loc),
                    fb.block(fb.cur_loc),
                    fb.block(fb.cur_loc),
                );
                self.branch(fb, cond, then, other);
                fb.cur = then;
                let x = self.expr(fb, a);
                fb.emit(Inst::Copy {
                    dst: result,
                    src: x,
                });
                fb.term(Term::Jump(join));
                fb.cur = other;
                let y = self.expr(fb, b);
                fb.emit(Inst::Copy {
                    dst: result,
                    src: y,
                });
                fb.switch_to(join);
                result
            }
        }
    }

    fn branch(&mut self, fb: &mut Fb, cond: Reg, then: BlockId, otherwise: BlockId) {
        let cur = fb.cur as usize;
        fb.body.blocks[cur].term = Term::Branch {
            cond,
            then,
            otherwise,
        };
        fb.terminated[cur] = true;
    }

    fn text(&mut self, fb: &mut Fb, t: &Text) -> Reg {
        if let Some(s) = t.as_plain() {
            let sym = self.intern(&s);
            return fb.konst(Type::Text, Const::Text(sym));
        }
        let mut parts = Vec::new();
        let mut args = Vec::new();
        for p in &t.parts {
            match p {
                TextPart::Lit(s) => parts.push(FormatPart::Lit(s.clone())),
                TextPart::Expr(x) => {
                    let xt = self.ty(x);
                    let r = self.expr(fb, x);
                    parts.push(FormatPart::Arg(args.len() as u32, xt));
                    args.push(r);
                }
            }
        }
        let template = self.ir.formats.len() as u32;
        self.ir.formats.push(FormatTemplate { parts });
        let r = fb.reg(Type::Text);
        fb.emit(Inst::Format {
            dst: r,
            template,
            args,
        });
        r
    }

    fn name(&mut self, fb: &mut Fb, e: &Expr, n: &Ident, ty: Type) -> Reg {
        match self.model.names.get(&e.id).copied() {
            Some(NameRef::Local) => {
                let s = fb.slot(&n.name, ty);
                let r = fb.reg(ty);
                fb.emit(Inst::Load { dst: r, slot: s });
                r
            }
            Some(NameRef::Const) => {
                let Some((r, _)) = self.model.consts.get(&n.name) else {
                    return fb.int(0);
                };
                match self.item(*r) {
                    Item::Const(c) => self.expr(fb, &c.value),
                    _ => fb.int(0),
                }
            }
            Some(NameRef::Builtin(b)) => {
                let r = fb.reg(b.ty());
                match (fb.ctx, b) {
                    (Ctx::Flow, Builtin::Caller | Builtin::Called | Builtin::Trunk) => {
                        fb.emit(Inst::Builtin { dst: r, which: b })
                    }
                    _ => {
                        let i = fb.env_index(EnvVar::Builtin(b), b.ty());
                        fb.emit(Inst::Env { dst: r, index: i });
                    }
                }
                r
            }
            Some(NameRef::Field) => {
                let idx = fb.fields.iter().position(|f| *f == n.name).unwrap_or(0) as u32;
                let r = fb.reg(ty);
                let i = fb.env_index(EnvVar::Field(idx), ty);
                fb.emit(Inst::Env { dst: r, index: i });
                r
            }
            Some(NameRef::Calendar) => {
                let idx = self.calendar_index(&n.name).unwrap_or(0);
                fb.int(i64::from(idx))
            }
            None => fb.int(0),
        }
    }

    fn call(&mut self, fb: &mut Fb, e: &Expr, f: &Ident, args: &[Expr], ty: Type) -> Reg {
        let Some(func) = Function::from_name(&f.name) else {
            return fb.int(0);
        };
        if matches!(func, Function::Min | Function::Max) && args.len() == 2 {
            let at = self.ty(&args[0]);
            let a = self.expr(fb, &args[0]);
            let b = self.expr(fb, &args[1]);
            let c = fb.reg(Type::Bool);
            fb.emit(Inst::Cmp {
                dst: c,
                cond: if func == Function::Min {
                    Cond::Le
                } else {
                    Cond::Ge
                },
                kind: cmp_kind(at),
                a,
                b,
            });
            let r = fb.reg(at);
            let (x, y, join) = (
                fb.block(fb.cur_loc),
                fb.block(fb.cur_loc),
                fb.block(fb.cur_loc),
            );
            self.branch(fb, c, x, y);
            fb.cur = x;
            fb.emit(Inst::Copy { dst: r, src: a });
            fb.term(Term::Jump(join));
            fb.cur = y;
            fb.emit(Inst::Copy { dst: r, src: b });
            fb.switch_to(join);
            return r;
        }
        let regs: Vec<Reg> = args.iter().map(|a| self.expr(fb, a)).collect();
        let r = fb.reg(if func.result() == Type::Number {
            Type::Number
        } else {
            ty
        });
        let loc = self.loc(e.span);
        fb.emit(Inst::Call {
            dst: r,
            func,
            args: regs,
            loc,
        });
        r
    }

    /// Whether evaluating `e` is cheap and cannot fail or have effects
    /// (constants, reads, comparisons without text ordering, arithmetic that
    /// cannot divide by zero), so it may run even where `and`/`or` would
    /// skip it: the condition then needs no branch.
    fn cheap(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Number(_)
            | ExprKind::Percent(_)
            | ExprKind::Bool(_)
            | ExprKind::Duration(_)
            | ExprKind::Clock(_)
            | ExprKind::Date(_)
            | ExprKind::Data(_) => true,
            ExprKind::Text(t) => t.as_plain().is_some(),
            ExprKind::Name(_) => match self.model.names.get(&e.id).copied() {
                Some(NameRef::Local | NameRef::Builtin(_) | NameRef::Field) => true,
                Some(NameRef::Const) => false,
                _ => false,
            },
            ExprKind::Unary(_, x) => self.cheap(x),
            // List membership cannot fail (a table lookup, remembered per text).
            ExprKind::In {
                value,
                target: InTarget::List { .. },
                ..
            } => self.cheap(value),
            ExprKind::Binary(op, a, b) => {
                let operands = self.cheap(a) && self.cheap(b);
                match op {
                    BinaryOp::And | BinaryOp::Or => operands,
                    BinaryOp::Eq | BinaryOp::Ne => operands,
                    BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                        operands && self.ty(a) != Type::Text
                    }
                    BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => {
                        operands && self.ty(a) != Type::Text
                    }
                    BinaryOp::Div => {
                        operands
                            && matches!(&b.kind, ExprKind::Number(n) | ExprKind::Percent(n) if *n != 0.0)
                    }
                }
            }
            _ => false,
        }
    }

    /// A run of cheap filters, all evaluated and combined with `And`. Those
    /// that test list membership come first: their table lookups may call a
    /// helper (the first time a text is seen), and native code then keeps
    /// nothing else alive across the call.
    fn run_of_filters(&mut self, fb: &mut Fb, run: &[&Expr], loc: LocId) -> Reg {
        let (lists, rest): (Vec<&Expr>, Vec<&Expr>) =
            run.iter().partition(|f| tests_list_membership(f));
        let mut acc: Option<Reg> = None;
        for f in lists.into_iter().chain(rest) {
            let r = self.expr(fb, f);
            acc = Some(match acc {
                Some(a) => Self::eager(fb, BinOp::And, a, r, loc),
                None => r,
            });
        }
        acc.unwrap_or_else(|| fb.int(1))
    }

    /// Both boolean values combined without a branch.
    fn eager(fb: &mut Fb, op: BinOp, a: Reg, b: Reg, loc: LocId) -> Reg {
        let r = fb.reg(Type::Bool);
        fb.emit(Inst::Binary {
            dst: r,
            op,
            a,
            b,
            loc,
        });
        r
    }

    fn binary(&mut self, fb: &mut Fb, e: &Expr, op: BinaryOp, a: &Expr, b: &Expr, ty: Type) -> Reg {
        if matches!(op, BinaryOp::And | BinaryOp::Or) && self.cheap(b) {
            let x = self.expr(fb, a);
            let y = self.expr(fb, b);
            let bop = if op == BinaryOp::And {
                BinOp::And
            } else {
                BinOp::Or
            };
            return Self::eager(fb, bop, x, y, self.loc(e.span));
        }
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let result = fb.reg(Type::Bool);
            let x = self.expr(fb, a);
            fb.emit(Inst::Copy {
                dst: result,
                src: x,
            });
            let (rhs, join) = (fb.block(fb.cur_loc), fb.block(fb.cur_loc));
            if op == BinaryOp::And {
                self.branch(fb, x, rhs, join);
            } else {
                self.branch(fb, x, join, rhs);
            }
            fb.cur = rhs;
            let y = self.expr(fb, b);
            fb.emit(Inst::Copy {
                dst: result,
                src: y,
            });
            fb.switch_to(join);
            return result;
        }
        let (ta, tb) = (self.ty(a), self.ty(b));
        let x = self.expr(fb, a);
        let y = self.expr(fb, b);
        let loc = self.loc(e.span);
        let cond = match op {
            BinaryOp::Eq => Some(Cond::Eq),
            BinaryOp::Ne => Some(Cond::Ne),
            BinaryOp::Lt => Some(Cond::Lt),
            BinaryOp::Le => Some(Cond::Le),
            BinaryOp::Gt => Some(Cond::Gt),
            BinaryOp::Ge => Some(Cond::Ge),
            _ => None,
        };
        if let Some(cond) = cond {
            let r = fb.reg(Type::Bool);
            fb.emit(Inst::Cmp {
                dst: r,
                cond,
                kind: cmp_kind(ta),
                a: x,
                b: y,
            });
            return r;
        }
        use Type::*;
        let (bop, swap) = match (op, ta, tb) {
            (BinaryOp::Add, Text, Text) => {
                let r = fb.reg(Text);
                fb.emit(Inst::Concat { dst: r, a: x, b: y });
                return r;
            }
            (BinaryOp::Add, Number, Number) => (BinOp::AddF, false),
            (BinaryOp::Add, Duration, Duration) => (BinOp::AddI, false),
            (BinaryOp::Add, Date, Duration) => (BinOp::DateAddMs, false),
            (BinaryOp::Add, Duration, Date) => (BinOp::DateAddMs, true),
            (BinaryOp::Add, Time, Duration) => (BinOp::TimeAddMs, false),
            (BinaryOp::Add, Duration, Time) => (BinOp::TimeAddMs, true),
            (BinaryOp::Sub, Number, Number) => (BinOp::SubF, false),
            (BinaryOp::Sub, Duration, Duration) => (BinOp::SubI, false),
            (BinaryOp::Sub, Date, Duration) => (BinOp::DateSubMs, false),
            (BinaryOp::Sub, Date, Date) => (BinOp::DateDiff, false),
            (BinaryOp::Sub, Time, Time) => (BinOp::TimeDiff, false),
            (BinaryOp::Sub, Time, Duration) => (BinOp::TimeSubMs, false),
            (BinaryOp::Mul, Number, Number) => (BinOp::MulF, false),
            (BinaryOp::Mul, Duration, Number) => (BinOp::MulIF, false),
            (BinaryOp::Mul, Number, Duration) => (BinOp::MulIF, true),
            (BinaryOp::Div, Number, Number) => (BinOp::DivF, false),
            (BinaryOp::Div, Duration, Number) => (BinOp::DivIF, false),
            (BinaryOp::Div, Duration, Duration) => (BinOp::DivII, false),
            _ => return fb.int(0),
        };
        let r = fb.reg(ty);
        let (a, b) = if swap { (y, x) } else { (x, y) };
        fb.emit(Inst::Binary {
            dst: r,
            op: bop,
            a,
            b,
            loc,
        });
        r
    }

    /// An operand for a command: a constant text, or a new argument register.
    fn operand(&mut self, fb: &mut Fb, e: &Expr, args: &mut Vec<Reg>) -> Operand {
        if let ExprKind::Text(t) = &e.kind
            && let Some(s) = t.as_plain()
        {
            return Operand::Text(self.intern(&s));
        }
        let ty = self.ty(e);
        let r = self.expr(fb, e);
        args.push(r);
        Operand::Arg((args.len() - 1) as u32, ty)
    }

    // ------------------------------------------------------------ flows

    fn flow(&mut self, d: &FlowDecl) -> FlowIr {
        let loc = self.loc(d.span);
        let mut fb = Fb::new(Ctx::Flow, loc);
        let info = &self.model.flows[&d.name.name];
        for (n, t) in &info.params {
            fb.slot(n, *t);
        }
        for (n, t) in &info.locals {
            fb.slot(n, *t);
        }
        // Labels anywhere in the flow can be jumped to from anywhere in it.
        collect_labels(&d.body, &mut |l: &Ident| {
            let b = fb.block(loc);
            fb.labels.insert(l.name.clone(), b);
        });
        let mut on_error = None;
        for s in &d.body.stmts {
            if let StmtKind::OnError(b) = &s.kind {
                let saved = fb.cur;
                let h = fb.block(self.loc(s.span));
                fb.cur = h;
                self.block(&mut fb, b);
                fb.term(Term::Hangup);
                fb.cur = saved;
                on_error = Some(h);
            }
        }
        self.block(&mut fb, &d.body);
        // Falling off the end: a sub-flow returns its type's zero, a call flow ends.
        if info.returns == Type::Void {
            fb.term(Term::Return(None));
        } else {
            let z = zero_reg(&mut fb, info.returns);
            fb.term(Term::Return(Some(z)));
        }
        let mut body = fb.body;
        let mut resumes = fb.resumes;
        let mut roots: Vec<&mut BlockId> = resumes.iter_mut().collect();
        if let Some(h) = on_error.as_mut() {
            roots.push(h);
        }
        prune(&mut body, roots);
        FlowIr {
            name: d.name.name.clone(),
            params: info.params.clone(),
            returns: info.returns,
            slots: fb.slots,
            body,
            resumes,
            on_error,
        }
    }

    fn block(&mut self, fb: &mut Fb, b: &ast::Block) {
        for s in &b.stmts {
            self.stmt(fb, s);
        }
    }

    fn suspend(
        &mut self,
        fb: &mut Fb,
        node: String,
        span: Span,
        kind: TemplateKind,
        args: Vec<Reg>,
    ) -> BlockId {
        let loc = self.loc(span);
        let template = self.ir.templates.len() as TemplateId;
        self.ir.templates.push(CommandTemplate { node, loc, kind });
        let (resume, rb) = fb.resume_point(loc);
        fb.term(Term::Suspend {
            template,
            args,
            resume,
        });
        fb.cur = rb;
        rb
    }

    fn input_kind(&mut self, fb: &mut Fb) -> Reg {
        let r = fb.reg(Type::Duration);
        fb.emit(Inst::Input {
            dst: r,
            what: InputField::Kind,
        });
        r
    }

    fn stmt(&mut self, fb: &mut Fb, s: &Stmt) {
        let loc = self.loc(s.span);
        fb.cur_loc = loc;
        match &s.kind {
            StmtKind::Play {
                prompts,
                options: o,
            } => {
                let mut args = Vec::new();
                let p = self.play_prompt(fb, prompts, o, &mut args);
                let node = format!(
                    "play {}",
                    prompts
                        .first()
                        .map(|e| self.snippet(e.span))
                        .unwrap_or_default()
                );
                self.suspend(fb, node, s.span, TemplateKind::Prompt(p), args);
            }
            StmtKind::Say(say) => {
                let mut args = Vec::new();
                let p = self.say_prompt(fb, say, &mut args);
                self.suspend(fb, "say".into(), s.span, TemplateKind::Prompt(p), args);
            }
            StmtKind::Menu(m) => self.menu(fb, m, s.span),
            StmtKind::Collect { target, collect } => self.collect(fb, target, collect, s.span),
            StmtKind::Lookup { target, lookup } => self.lookup(fb, target, lookup, s.span),
            StmtKind::Record { target, options: o } => {
                let kind = TemplateKind::Record {
                    max_ms: options::duration_ms(o, "max").unwrap_or(60_000),
                    silence_ms: options::duration_ms(o, "silence").unwrap_or(5000),
                    terminator: options::key(o, "terminator"),
                    beep: options::flag(o, "beep"),
                };
                self.suspend(fb, format!("record {target}"), s.span, kind, Vec::new());
                let k = self.input_kind(fb);
                let slot = fb.slot(&target.name, Type::Recording);
                let (ok, failed, join) = (fb.block(loc), fb.block(loc), fb.block(loc));
                let want = fb.int(InputKind::Recording as i64);
                let c = fb.reg(Type::Bool);
                fb.emit(Inst::Cmp {
                    dst: c,
                    cond: Cond::Eq,
                    kind: CmpKind::Int,
                    a: k,
                    b: want,
                });
                self.branch(fb, c, ok, failed);
                fb.cur = ok;
                let t = fb.reg(Type::Recording);
                fb.emit(Inst::Input {
                    dst: t,
                    what: InputField::Text,
                });
                fb.emit(Inst::Store { slot, src: t });
                fb.term(Term::Jump(join));
                fb.cur = failed;
                let empty = self.intern("");
                let e = fb.konst(Type::Recording, Const::Text(empty));
                fb.emit(Inst::Store { slot, src: e });
                fb.switch_to(join);
            }
            StmtKind::CreateWorkorder {
                target,
                kind,
                fields,
            } => {
                let Some(wi) = self.ir.workorders.iter().position(|w| w.name == kind.name) else {
                    return;
                };
                let mut args = Vec::new();
                let mut names = Vec::new();
                for f in fields {
                    let r = self.expr(fb, &f.value);
                    args.push(r);
                    names.push(f.name.name.clone());
                }
                self.suspend(
                    fb,
                    format!("create workorder {kind}"),
                    s.span,
                    TemplateKind::CreateWorkorder {
                        workorder: wi as u32,
                        fields: names,
                    },
                    args,
                );
                let k = self.input_kind(fb);
                let (ok, failed) = (fb.block(loc), fb.block(loc));
                let want = fb.int(InputKind::Created as i64);
                let c = fb.reg(Type::Bool);
                fb.emit(Inst::Cmp {
                    dst: c,
                    cond: Cond::Eq,
                    kind: CmpKind::Int,
                    a: k,
                    b: want,
                });
                self.branch(fb, c, ok, failed);
                fb.cur = failed;
                fb.term(Term::Fail {
                    message: format!("the {kind} workorder could not be created"),
                    loc,
                });
                fb.cur = ok;
                let t = fb.reg(Type::Text);
                fb.emit(Inst::Input {
                    dst: t,
                    what: InputField::Text,
                });
                let slot = fb.slot(&target.name, Type::Text);
                fb.emit(Inst::Store { slot, src: t });
            }
            StmtKind::Call { target, flow, args } => {
                let Some(fid) = self.ir.flow_id(&flow.name) else {
                    return;
                };
                let regs: Vec<Reg> = args.iter().map(|a| self.expr(fb, a)).collect();
                let (resume, rb) = fb.resume_point(loc);
                fb.term(Term::CallFlow {
                    flow: fid,
                    args: regs,
                    resume,
                });
                fb.cur = rb;
                if let Some(t) = target {
                    let rty = self.ir.flows[fid as usize].returns;
                    let r = fb.reg(rty);
                    fb.emit(Inst::Input {
                        dst: r,
                        what: InputField::Returned,
                    });
                    let slot = fb.slot(&t.name, rty);
                    fb.emit(Inst::Store { slot, src: r });
                }
            }
            StmtKind::Assign { target, value } => {
                let ty = self.ty(value);
                let r = self.expr(fb, value);
                let slot = fb.slot(&target.name, ty);
                fb.emit(Inst::Store { slot, src: r });
            }
            StmtKind::SetData { field, value } => {
                let Some((idx, _)) = self.model.calldata_field(&field.name) else {
                    return;
                };
                let r = self.expr(fb, value);
                fb.emit(Inst::StoreData {
                    field: idx as u32,
                    src: r,
                });
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.expr(fb, cond);
                let (t, o, join) = (fb.block(loc), fb.block(loc), fb.block(loc));
                self.branch(fb, c, t, o);
                fb.cur = t;
                self.block(fb, then);
                fb.term(Term::Jump(join));
                fb.cur = o;
                if let Some(b) = otherwise {
                    self.block(fb, b);
                }
                fb.switch_to(join);
            }
            StmtKind::Match { scrutinee, arms } => {
                let st = self.ty(scrutinee);
                let v = self.expr(fb, scrutinee);
                let join = fb.block(loc);
                for arm in arms {
                    let body = fb.block(loc);
                    if arm.patterns.is_empty() {
                        fb.switch_to(body);
                        self.block(fb, &arm.action);
                        fb.term(Term::Jump(join));
                        break;
                    }
                    let next = fb.block(loc);
                    for (i, p) in arm.patterns.iter().enumerate() {
                        let x = self.expr(fb, p);
                        let c = fb.reg(Type::Bool);
                        fb.emit(Inst::Cmp {
                            dst: c,
                            cond: Cond::Eq,
                            kind: cmp_kind(st),
                            a: v,
                            b: x,
                        });
                        let other = if i + 1 == arm.patterns.len() {
                            next
                        } else {
                            fb.block(loc)
                        };
                        self.branch(fb, c, body, other);
                        fb.cur = other;
                    }
                    let after = fb.cur;
                    fb.cur = body;
                    self.block(fb, &arm.action);
                    fb.term(Term::Jump(join));
                    fb.cur = after;
                }
                fb.switch_to(join);
            }
            StmtKind::Label(l) => {
                if let Some(&b) = fb.labels.get(&l.name) {
                    fb.switch_to(b);
                }
            }
            StmtKind::Goto(l) => {
                if let Some(&b) = fb.labels.get(&l.name) {
                    fb.term(Term::Jump(b));
                }
            }
            StmtKind::Repeat => {
                if let Some(&b) = fb.repeat.last() {
                    fb.term(Term::Jump(b));
                }
            }
            StmtKind::Return(v) => {
                let r = v.as_ref().map(|e| self.expr(fb, e));
                fb.term(Term::Return(r));
            }
            StmtKind::Notify {
                channel,
                to,
                subject,
                body,
            } => {
                let mut args = Vec::new();
                let to = self.operand(fb, to, &mut args);
                let subject = subject.as_ref().map(|s| self.operand(fb, s, &mut args));
                let body = self.operand(fb, body, &mut args);
                let node = match channel {
                    NotifyChannel::Sms => "notify sms",
                    NotifyChannel::Email => "notify email",
                };
                self.suspend(
                    fb,
                    node.into(),
                    s.span,
                    TemplateKind::Notify {
                        channel: *channel,
                        to,
                        subject,
                        body,
                    },
                    args,
                );
            }
            StmtKind::Transfer {
                dest,
                options: o,
                otherwise,
            } => {
                let mut args = Vec::new();
                let (dest, node) = match dest {
                    Destination::Queue(q) => (
                        TransferDest::Queue(q.name.clone()),
                        format!("transfer queue {q}"),
                    ),
                    Destination::Flow(f) => (
                        TransferDest::Flow(f.name.clone()),
                        format!("transfer flow {f}"),
                    ),
                    Destination::Agent(e) => {
                        let op = self.operand(fb, e, &mut args);
                        (TransferDest::Agent(op), "transfer agent".to_string())
                    }
                    Destination::Number(e) => {
                        let op = self.operand(fb, e, &mut args);
                        (TransferDest::Number(op), "transfer number".to_string())
                    }
                    Destination::Callback(_) | Destination::Hangup(_) => {
                        fb.term(Term::Hangup);
                        return;
                    }
                };
                let kind = TemplateKind::Transfer {
                    dest,
                    timeout_ms: options::duration_ms(o, "timeout"),
                    via: options::text(o, "via"),
                    caller_id: options::text(o, "caller id"),
                    has_fallback: otherwise.is_some(),
                };
                self.suspend(fb, node.clone(), s.span, kind, args);
                // Resumed only when the transfer failed (or the runtime says it is done).
                let k = self.input_kind(fb);
                let (failed, done) = (fb.block(loc), fb.block(loc));
                let want = fb.int(InputKind::Failed as i64);
                let c = fb.reg(Type::Bool);
                fb.emit(Inst::Cmp {
                    dst: c,
                    cond: Cond::Eq,
                    kind: CmpKind::Int,
                    a: k,
                    b: want,
                });
                self.branch(fb, c, failed, done);
                fb.cur = done;
                fb.term(Term::Hangup);
                fb.cur = failed;
                match otherwise {
                    Some(b) => self.block(fb, b),
                    None => fb.term(Term::Fail {
                        message: format!("{node} failed"),
                        loc,
                    }),
                }
            }
            StmtKind::Hangup => fb.term(Term::Hangup),
            StmtKind::Pause(e) => {
                let r = self.expr(fb, e);
                self.suspend(fb, "pause".into(), s.span, TemplateKind::Pause, vec![r]);
            }
            StmtKind::Language(l) => {
                if let Some(i) = self.ir.languages.iter().position(|x| *x == l.name) {
                    fb.emit(Inst::SetLanguage { language: i as u32 });
                }
            }
            StmtKind::OnError(_) => {}
            StmtKind::Block(b) => self.block(fb, b),
        }
    }

    fn snippet(&self, span: Span) -> String {
        self.checked
            .project
            .sources
            .get(span.file)
            .map(|f| f.slice(span).to_string())
            .unwrap_or_default()
    }

    fn play_prompt(
        &mut self,
        fb: &mut Fb,
        prompts: &[Expr],
        o: &[Opt],
        args: &mut Vec<Reg>,
    ) -> PromptIr {
        let files = prompts.iter().map(|p| self.operand(fb, p, args)).collect();
        PromptIr::Play {
            files,
            barge_in: barge(o),
        }
    }

    fn say_prompt(&mut self, fb: &mut Fb, say: &Say, args: &mut Vec<Reg>) -> PromptIr {
        let mut translations = Vec::new();
        match &say.content {
            SayContent::Items(items) => {
                let v = self.speech(fb, items, args);
                translations.push((None, v));
            }
            SayContent::Translations(tr) => {
                for (lang, items) in tr {
                    let v = self.speech(fb, items, args);
                    translations.push((Some(lang.name.clone()), v));
                }
            }
        }
        PromptIr::Say {
            translations,
            voice: options::text(&say.options, "voice"),
            rate: options::number(&say.options, "rate").map(|n| n as u32),
            barge_in: barge(&say.options),
        }
    }

    fn speech(&mut self, fb: &mut Fb, items: &[SayItem], args: &mut Vec<Reg>) -> Vec<SpeechIr> {
        items
            .iter()
            .map(|it| SpeechIr {
                kind: it.kind,
                value: self.operand(fb, &it.value, args),
            })
            .collect()
    }

    fn prompts(&mut self, fb: &mut Fb, stmts: &[Stmt], args: &mut Vec<Reg>) -> Vec<PromptIr> {
        let mut out = Vec::new();
        for s in stmts {
            match &s.kind {
                StmtKind::Play {
                    prompts,
                    options: o,
                } => out.push(self.play_prompt(fb, prompts, o, args)),
                StmtKind::Say(say) => out.push(self.say_prompt(fb, say, args)),
                _ => {}
            }
        }
        out
    }

    fn input_options(&self, o: &[Opt]) -> InputOptions {
        InputOptions {
            timeout_ms: options::duration_ms(o, "timeout").unwrap_or(DEFAULT_TIMEOUT_MS),
            digit_timeout_ms: options::duration_ms(o, "digit timeout")
                .unwrap_or(DEFAULT_DIGIT_TIMEOUT_MS),
            retries: options::number(o, "retries")
                .map(|n| n as u32)
                .unwrap_or(DEFAULT_RETRIES)
                .max(1),
            barge_in: !options::flag(o, "no barge in"),
            speech: options::flag(o, "speech"),
            confidence: options::number(o, "confidence").unwrap_or(0.5),
        }
    }

    /// The shared tail of menus and collects: `no input` / `no match` handling with
    /// the attempt counter, handler choice per attempt, final handlers.
    #[allow(clippy::too_many_arguments)]
    fn failure_paths(
        &mut self,
        fb: &mut Fb,
        handlers: &[InputHandler],
        attempt_slot: SlotId,
        retries: u32,
        prompt_block: BlockId,
        after: BlockId,
        noinput: BlockId,
        nomatch: BlockId,
    ) {
        let loc = fb.cur_loc;
        // The retry block: attempt += 1, ask again.
        let retry = fb.block(loc);
        fb.cur = retry;
        let a = fb.reg(Type::Duration);
        fb.emit(Inst::Load {
            dst: a,
            slot: attempt_slot,
        });
        let one = fb.int(1);
        let a2 = fb.reg(Type::Duration);
        fb.emit(Inst::Binary {
            dst: a2,
            op: BinOp::AddI,
            a,
            b: one,
            loc,
        });
        fb.emit(Inst::Store {
            slot: attempt_slot,
            src: a2,
        });
        fb.term(Term::Jump(prompt_block));
        for (event, entry) in [
            (InputEvent::NoInput, noinput),
            (InputEvent::NoMatch, nomatch),
        ] {
            fb.cur = entry;
            let a = fb.reg(Type::Duration);
            fb.emit(Inst::Load {
                dst: a,
                slot: attempt_slot,
            });
            let mut cases = Vec::new();
            for k in 1..retries {
                let handler = handlers
                    .iter()
                    .filter(|h| h.event == event)
                    .filter_map(|h| match h.count {
                        HandlerCount::Nth(n) if n <= k => Some((n, h)),
                        HandlerCount::Any => Some((0, h)),
                        _ => None,
                    })
                    .max_by_key(|(n, _)| *n)
                    .map(|(_, h)| h);
                let b = fb.block(loc);
                cases.push((i64::from(k), b));
                let saved = fb.cur;
                fb.cur = b;
                if let Some(h) = handler {
                    fb.repeat.push(retry);
                    self.block(fb, &h.action);
                    fb.repeat.pop();
                }
                fb.term(Term::Jump(retry));
                fb.cur = saved;
            }
            let final_block = fb.block(loc);
            let cur = fb.cur as usize;
            fb.body.blocks[cur].term = Term::Switch {
                value: a,
                cases,
                default: final_block,
            };
            fb.terminated[cur] = true;
            fb.cur = final_block;
            if let Some(h) = handlers
                .iter()
                .find(|h| h.event == event && h.count == HandlerCount::Final)
            {
                fb.repeat.push(retry);
                self.block(fb, &h.action);
                fb.repeat.pop();
            }
            fb.term(Term::Jump(after));
        }
    }

    fn menu(&mut self, fb: &mut Fb, m: &Menu, span: Span) {
        let loc = self.loc(span);
        let opts = self.input_options(&m.options);
        let attempt_slot = fb.hidden_slot("attempt", Type::Duration);
        let one = fb.int(1);
        fb.emit(Inst::Store {
            slot: attempt_slot,
            src: one,
        });
        let prompt_block = fb.block(loc);
        fb.switch_to(prompt_block);
        let mut args = Vec::new();
        let prompts = self.prompts(fb, &m.prompts, &mut args);
        let at = fb.reg(Type::Duration);
        fb.emit(Inst::Load {
            dst: at,
            slot: attempt_slot,
        });
        args.push(at);
        let attempt = Operand::Arg((args.len() - 1) as u32, Type::Duration);
        let keys = m
            .choices
            .iter()
            .map(|c| {
                c.patterns
                    .iter()
                    .filter_map(|p| match p {
                        ChoicePattern::Keys(k, _) => Some(k.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let phrases: Vec<Vec<String>> = m
            .choices
            .iter()
            .map(|c| {
                c.patterns
                    .iter()
                    .filter_map(|p| match p {
                        ChoicePattern::Phrase(t) => Some(t.plain_lossy()),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let speech = opts.speech || phrases.iter().any(|p| !p.is_empty());
        let kind = TemplateKind::Menu {
            name: m.name.name.clone(),
            prompts,
            keys,
            phrases,
            options: InputOptions {
                speech,
                ..opts.clone()
            },
            attempt,
        };
        self.suspend(fb, m.name.name.clone(), span, kind, args);
        let k = self.input_kind(fb);
        let (choice, noinput, nomatch, after) =
            (fb.block(loc), fb.block(loc), fb.block(loc), fb.block(loc));
        let cur = fb.cur as usize;
        fb.body.blocks[cur].term = Term::Switch {
            value: k,
            cases: vec![
                (InputKind::Choice as i64, choice),
                (InputKind::NoInput as i64, noinput),
            ],
            default: nomatch,
        };
        fb.terminated[cur] = true;
        fb.cur = choice;
        let idx = fb.reg(Type::Duration);
        fb.emit(Inst::Input {
            dst: idx,
            what: InputField::Choice,
        });
        let mut cases = Vec::new();
        let mut bodies = Vec::new();
        for (i, _) in m.choices.iter().enumerate() {
            let b = fb.block(loc);
            cases.push((i as i64, b));
            bodies.push(b);
        }
        let cur = fb.cur as usize;
        fb.body.blocks[cur].term = Term::Switch {
            value: idx,
            cases,
            default: nomatch,
        };
        fb.terminated[cur] = true;
        for (c, b) in m.choices.iter().zip(bodies) {
            fb.cur = b;
            fb.repeat.push(prompt_block);
            self.block(fb, &c.action);
            fb.repeat.pop();
            fb.term(Term::Jump(after));
        }
        self.failure_paths(
            fb,
            &m.handlers,
            attempt_slot,
            opts.retries,
            prompt_block,
            after,
            noinput,
            nomatch,
        );
        fb.cur = after;
    }

    fn collect(&mut self, fb: &mut Fb, target: &Ident, c: &Collect, span: Span) {
        let loc = self.loc(span);
        let opts = self.input_options(&c.options);
        let min = options::number(&c.options, "min").unwrap_or(1.0) as u32;
        let max = options::number(&c.options, "max").unwrap_or(16.0) as u32;
        let attempt_slot = fb.hidden_slot("attempt", Type::Duration);
        let one = fb.int(1);
        fb.emit(Inst::Store {
            slot: attempt_slot,
            src: one,
        });
        let prompt_block = fb.block(loc);
        fb.switch_to(prompt_block);
        let mut args = Vec::new();
        let prompts = self.prompts(fb, &c.prompts, &mut args);
        let at = fb.reg(Type::Duration);
        fb.emit(Inst::Load {
            dst: at,
            slot: attempt_slot,
        });
        args.push(at);
        let kind = TemplateKind::Collect {
            name: target.name.clone(),
            prompts,
            min,
            max,
            terminator: options::key(&c.options, "terminator"),
            options: opts.clone(),
            mask: options::flag(&c.options, "mask"),
            attempt: Operand::Arg((args.len() - 1) as u32, Type::Duration),
        };
        self.suspend(fb, format!("collect {target}"), span, kind, args);
        let k = self.input_kind(fb);
        let (digits, noinput, nomatch, after) =
            (fb.block(loc), fb.block(loc), fb.block(loc), fb.block(loc));
        let cur = fb.cur as usize;
        fb.body.blocks[cur].term = Term::Switch {
            value: k,
            cases: vec![
                (InputKind::Digits as i64, digits),
                (InputKind::NoInput as i64, noinput),
            ],
            default: nomatch,
        };
        fb.terminated[cur] = true;
        fb.cur = digits;
        let d = fb.reg(Type::Text);
        fb.emit(Inst::Input {
            dst: d,
            what: InputField::Text,
        });
        let slot = fb.slot(&target.name, Type::Text);
        fb.emit(Inst::Store { slot, src: d });
        // Length within min..max, then every `valid when`.
        let len = fb.reg(Type::Number);
        fb.emit(Inst::Call {
            dst: len,
            func: Function::Len,
            args: vec![d],
            loc,
        });
        let lo = fb.konst(Type::Number, Const::Num(f64::from(min)));
        let hi = fb.konst(Type::Number, Const::Num(f64::from(max)));
        let (c1, c2) = (fb.reg(Type::Bool), fb.reg(Type::Bool));
        fb.emit(Inst::Cmp {
            dst: c1,
            cond: Cond::Ge,
            kind: CmpKind::Num,
            a: len,
            b: lo,
        });
        let next = fb.block(loc);
        self.branch(fb, c1, next, nomatch);
        fb.cur = next;
        fb.emit(Inst::Cmp {
            dst: c2,
            cond: Cond::Le,
            kind: CmpKind::Num,
            a: len,
            b: hi,
        });
        let next = fb.block(loc);
        self.branch(fb, c2, next, nomatch);
        fb.cur = next;
        for v in &c.valid {
            let r = self.expr(fb, v);
            let next = fb.block(loc);
            self.branch(fb, r, next, nomatch);
            fb.cur = next;
        }
        fb.term(Term::Jump(after));
        self.failure_paths(
            fb,
            &c.handlers,
            attempt_slot,
            opts.retries,
            prompt_block,
            after,
            noinput,
            nomatch,
        );
        fb.cur = after;
    }

    fn lookup(&mut self, fb: &mut Fb, target: &Ident, l: &Lookup, span: Span) {
        let loc = self.loc(span);
        let Some(si) = self
            .ir
            .services
            .iter()
            .position(|s| s.name == l.service.name)
        else {
            return;
        };
        let Some(oi) = self.ir.services[si]
            .operations
            .iter()
            .position(|o| o.name == l.operation.name)
        else {
            return;
        };
        let rid = self.ir.services[si].operations[oi].record;
        let timeout_ms =
            options::duration_ms(&l.options, "timeout").unwrap_or(self.ir.services[si].timeout_ms);
        let args: Vec<Reg> = l.args.iter().map(|a| self.expr(fb, a)).collect();
        self.suspend(
            fb,
            format!("lookup {}.{}", l.service, l.operation),
            span,
            TemplateKind::Lookup {
                service: si as u32,
                operation: oi as u32,
                timeout_ms,
            },
            args,
        );
        let k = self.input_kind(fb);
        let slot = fb.slot(&target.name, Type::Record(rid));
        let (ok, failed, join) = (fb.block(loc), fb.block(loc), fb.block(loc));
        let want = fb.int(InputKind::Record as i64);
        let c = fb.reg(Type::Bool);
        fb.emit(Inst::Cmp {
            dst: c,
            cond: Cond::Eq,
            kind: CmpKind::Int,
            a: k,
            b: want,
        });
        self.branch(fb, c, ok, failed);
        fb.cur = ok;
        let r = fb.reg(Type::Record(rid));
        fb.emit(Inst::Input {
            dst: r,
            what: InputField::Record,
        });
        fb.emit(Inst::Store { slot, src: r });
        fb.term(Term::Jump(join));
        fb.cur = failed;
        let none = fb.konst(Type::Record(rid), Const::Int(0));
        fb.emit(Inst::Store { slot, src: none });
        if let Some(b) = &l.otherwise {
            self.block(fb, b);
        }
        fb.switch_to(join);
    }

    // ------------------------------------------------------------ predicates

    fn predicate(
        &mut self,
        kind: PredKind,
        e: &Expr,
        fields: Vec<String>,
        preset: Vec<(EnvVar, Type)>,
    ) -> PredId {
        let loc = self.loc(e.span);
        let mut fb = Fb::new(Ctx::Pred, loc);
        fb.fields = fields;
        fb.env = preset;
        let r = self.expr(&mut fb, e);
        fb.term(Term::Return(Some(r)));
        let result = self.ty(e);
        let mut body = fb.body;
        prune(&mut body, Vec::new());
        self.ir.predicates.push(PredicateIr {
            kind,
            vars: fb.env,
            result,
            body,
        });
        (self.ir.predicates.len() - 1) as PredId
    }

    /// All filters of a campaign as one predicate (`and` of them, short-circuit).
    fn filters(&mut self, kind: PredKind, filters: &[Expr], fields: Vec<String>) -> Option<PredId> {
        let first = filters.first()?;
        let loc = self.loc(first.span);
        let mut fb = Fb::new(Ctx::Pred, loc);
        fb.fields = fields;
        let result = fb.reg(Type::Bool);
        let zero = fb.int(0);
        fb.emit(Inst::Copy {
            dst: result,
            src: zero,
        });
        let done = fb.block(loc);
        // A run of cheap filters is combined without branches; one branch
        // leaves after the run, and before any filter that is not cheap.
        let mut run: Vec<&Expr> = Vec::new();
        for f in filters {
            if self.cheap(f) {
                run.push(f);
                continue;
            }
            if !run.is_empty() {
                let r = self.run_of_filters(&mut fb, &std::mem::take(&mut run), loc);
                let next = fb.block(loc);
                self.branch(&mut fb, r, next, done);
                fb.cur = next;
            }
            let r = self.expr(&mut fb, f);
            let next = fb.block(loc);
            self.branch(&mut fb, r, next, done);
            fb.cur = next;
        }
        let answer = if run.is_empty() {
            fb.int(1)
        } else {
            // The last run is the answer: no branch at all.
            self.run_of_filters(&mut fb, &run, loc)
        };
        fb.emit(Inst::Copy {
            dst: result,
            src: answer,
        });
        fb.switch_to(done);
        fb.term(Term::Return(Some(result)));
        let mut body = fb.body;
        prune(&mut body, Vec::new());
        self.ir.predicates.push(PredicateIr {
            kind,
            vars: fb.env,
            result: Type::Bool,
            body,
        });
        Some((self.ir.predicates.len() - 1) as PredId)
    }

    fn dest(&self, d: &Destination) -> DestIr {
        let text = |e: &Expr| match &e.kind {
            ExprKind::Text(t) => t.plain_lossy(),
            _ => self.snippet(e.span),
        };
        match d {
            Destination::Queue(q) => DestIr::Queue(q.name.clone()),
            Destination::Flow(f) => DestIr::Flow(f.name.clone()),
            Destination::Agent(e) => DestIr::Agent(text(e)),
            Destination::Number(e) => DestIr::Number(text(e)),
            Destination::Callback(_) => DestIr::Callback,
            Destination::Hangup(_) => DestIr::Hangup,
        }
    }

    fn queues(&mut self) {
        let queues: Vec<(String, ItemRef)> = self
            .model
            .queues
            .iter()
            .map(|(n, r)| (n.clone(), *r))
            .collect();
        for (qi, (name, r)) in queues.iter().enumerate() {
            let Item::Queue(q) = self.item(*r) else {
                continue;
            };
            let qi = qi as u32;
            let priority = q
                .priority
                .as_ref()
                .map(|p| self.predicate(PredKind::QueuePriority(qi), p, Vec::new(), Vec::new()));
            let mut announcements = Vec::new();
            for (ai, a) in q.announcements.iter().enumerate() {
                let what = match &a.what {
                    AnnounceWhat::Position => AnnounceIr::Position,
                    AnnounceWhat::Wait => AnnounceIr::Wait,
                    AnnounceWhat::Prompt(e) => AnnounceIr::Prompt(match &e.kind {
                        ExprKind::Text(t) => t.plain_lossy(),
                        _ => self.snippet(e.span),
                    }),
                };
                let cond = a.when.as_ref().map(|w| {
                    self.predicate(
                        PredKind::Announcement(qi, ai as u32),
                        w,
                        Vec::new(),
                        Vec::new(),
                    )
                });
                announcements.push((what, a.every.millis, cond));
            }
            let mut overflows = Vec::new();
            for (oi, o) in q.overflows.iter().enumerate() {
                let p = self.predicate(
                    PredKind::Overflow(qi, oi as u32),
                    &o.when,
                    Vec::new(),
                    Vec::new(),
                );
                overflows.push((o.direction, o.target.name.clone(), p));
            }
            let music = q.music.as_ref().map(|e| match &e.kind {
                ExprKind::Text(t) => t.plain_lossy(),
                _ => self.snippet(e.span),
            });
            let ir = QueueIr {
                name: name.clone(),
                label: q
                    .label
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_default(),
                skills: q
                    .skills
                    .iter()
                    .map(|s| {
                        (
                            s.skill.name.clone(),
                            s.min_level.map(|l| l.0 as u32).unwrap_or(1),
                        )
                    })
                    .collect(),
                strategy: q
                    .strategy
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| "longest_idle".to_string()),
                priority,
                music,
                announcements,
                max_wait: q
                    .max_wait
                    .as_ref()
                    .map(|(d, dest, _)| (d.millis, self.dest(dest))),
                overflows,
                keys: q
                    .keys
                    .iter()
                    .filter_map(|(k, _, d)| k.chars().next().map(|c| (c, self.dest(d))))
                    .collect(),
                no_answer: q.no_answer.as_ref().map(|n| (n.timeout.millis, n.action)),
                max_missed: options::number(&q.agent_policy, "max missed").map(|n| n as u32),
                reject_delay_ms: options::duration_ms(&q.agent_policy, "reject delay"),
                busy_delay_ms: options::duration_ms(&q.agent_policy, "busy delay"),
                unregistered_delay_ms: options::duration_ms(&q.agent_policy, "unregistered delay"),
                wrap_up_ms: q.wrap_up.map(|d| d.millis).unwrap_or(0),
                hours: q.hours.as_ref().and_then(|(cal, dest, _)| {
                    self.calendar_index(&cal.name).map(|i| (i, self.dest(dest)))
                }),
                service_level: q
                    .service_level
                    .as_ref()
                    .map(|(p, d, _)| (*p, d.millis))
                    .unwrap_or((0.8, 20_000)),
            };
            self.ir.queues.push(ir);
        }
    }

    fn campaigns(&mut self) {
        /// A campaign's name, declaration and list-record fields.
        type CampaignEntry = (String, ItemRef, Vec<(String, Type)>);
        let campaigns: Vec<CampaignEntry> = self
            .model
            .campaigns
            .iter()
            .map(|(n, (r, f))| (n.clone(), *r, f.clone()))
            .collect();
        for (ci, (name, r, fields)) in campaigns.into_iter().enumerate() {
            let Item::Campaign(c) = self.item(r) else {
                continue;
            };
            let field_names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
            let filter = self.filters(PredKind::CampaignFilter(ci as u32), &c.filters, field_names);
            let mode_opts: &[Opt] = c.mode.as_ref().map(|m| m.options.as_slice()).unwrap_or(&[]);
            let list = c.list.as_ref();
            let ir = CampaignIr {
                name,
                label: c
                    .label
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_default(),
                list: list.map(|l| l.name.name.clone()).unwrap_or_default(),
                source: list.map(|l| l.source.plain_lossy()).unwrap_or_default(),
                fields: list
                    .map(|l| {
                        l.fields
                            .iter()
                            .zip(&fields)
                            .map(|((_, col), (n, t))| (n.clone(), *t, col.plain_lossy()))
                            .collect()
                    })
                    .unwrap_or_default(),
                filter,
                mode: c
                    .mode
                    .as_ref()
                    .map(|m| m.mode.name.clone())
                    .unwrap_or_else(|| "manual".into()),
                ratio: (
                    options::number(mode_opts, "min ratio").unwrap_or(1.0),
                    options::number(mode_opts, "max ratio").unwrap_or(2.0),
                ),
                abandon_max: options::number(mode_opts, "abandon max").unwrap_or(0.03),
                preview_ms: options::duration_ms(mode_opts, "preview time"),
                ring_ms: options::duration_ms(mode_opts, "ring time").unwrap_or(30_000),
                max_channels: options::number(mode_opts, "max channels").map(|n| n as u32),
                dest: c
                    .mode
                    .as_ref()
                    .and_then(|m| m.dest.as_ref())
                    .map(|d| self.dest(d)),
                calendar: c
                    .calendar
                    .as_ref()
                    .and_then(|k| self.calendar_index(&k.name)),
                windows: c
                    .windows
                    .iter()
                    .map(|w| {
                        (
                            w.day_type,
                            w.periods.iter().map(|p| (p.from, p.to)).collect(),
                        )
                    })
                    .collect(),
                retries: c
                    .retries
                    .iter()
                    .map(|r| (r.outcome, r.every.as_ref().map(|(d, m)| (d.millis, *m))))
                    .collect(),
                trunk: c.trunk.as_ref().map(|t| t.plain_lossy()),
                caller_id: c.caller_id.as_ref().map(|t| t.plain_lossy()),
                media: c
                    .media
                    .as_ref()
                    .map(|m| m.name.clone())
                    .unwrap_or_else(|| "voice".into()),
                dropped: c.dropped.as_ref().map(|(p, w, _)| {
                    let prompt = match &p.kind {
                        ExprKind::Text(t) => t.plain_lossy(),
                        _ => self.snippet(p.span),
                    };
                    (prompt, w.map(|d| d.millis).unwrap_or(2000))
                }),
                timezone: c.timezone.as_ref().map(|t| t.plain_lossy()),
            };
            self.ir.campaigns.push(ir);
        }
    }

    fn workorders(&mut self) {
        let wos: Vec<(
            String,
            ItemRef,
            Vec<dialect_lang::check::WorkorderFieldInfo>,
        )> = self
            .model
            .workorders
            .iter()
            .map(|(n, (r, f))| (n.clone(), *r, f.clone()))
            .collect();
        for (wi, (name, r, fields)) in wos.into_iter().enumerate() {
            let Item::Workorder(w) = self.item(r) else {
                continue;
            };
            let field_names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            let states: Vec<WorkorderStateIr> = w
                .states
                .iter()
                .map(|s| WorkorderStateIr {
                    name: s.name.name.clone(),
                    label: s
                        .label
                        .as_ref()
                        .map(|t| t.plain_lossy())
                        .unwrap_or_default(),
                    initial: s.initial,
                    is_final: s.is_final,
                    limit: s.limit.as_ref().map(|l| (l.duration.millis, l.business)),
                    reminders: s
                        .reminders
                        .iter()
                        .map(|r| {
                            (
                                match &r.when {
                                    RemindWhen::Before(d) => RemindIr::Before(d.millis),
                                    RemindWhen::AtLimit => RemindIr::AtLimit,
                                    RemindWhen::Fraction(f, _) => RemindIr::Fraction(*f),
                                },
                                r.to.iter().map(|i| i.name.clone()).collect(),
                            )
                        })
                        .collect(),
                    escalations: s
                        .escalations
                        .iter()
                        .map(|e| {
                            (
                                e.after.map(|d| d.millis).unwrap_or(0),
                                e.to.iter().map(|i| i.name.clone()).collect(),
                            )
                        })
                        .collect(),
                })
                .collect();
            let mut transitions = Vec::new();
            for (ti, t) in w.transitions.iter().enumerate() {
                let idx = |n: &str| states.iter().position(|s| s.name == n).unwrap_or(0) as u32;
                let guard = t.guard.as_ref().map(|g| {
                    self.predicate(
                        PredKind::Guard(wi as u32, ti as u32),
                        g,
                        field_names.clone(),
                        Vec::new(),
                    )
                });
                transitions.push(TransitionIr {
                    name: t.name.name.clone(),
                    from: idx(&t.from.name),
                    to: idx(&t.to.name),
                    roles: t.roles.iter().map(|r| r.name.clone()).collect(),
                    kind: t.kind,
                    guard,
                });
            }
            self.ir.workorders.push(WorkorderIr {
                name,
                label: w
                    .label
                    .as_ref()
                    .map(|t| t.plain_lossy())
                    .unwrap_or_default(),
                calendar: w
                    .calendar
                    .as_ref()
                    .and_then(|c| self.calendar_index(&c.name)),
                fields: fields
                    .iter()
                    .map(|f| WorkorderFieldIr {
                        name: f.name.clone(),
                        ty: f.ty,
                        kind: f.kind.clone(),
                        values: f.values.clone(),
                        required: f.required,
                        sensitive: f.sensitive,
                    })
                    .collect(),
                states,
                transitions,
                links: w.links.iter().map(|l| l.name.clone()).collect(),
            });
        }
    }
}

/// Drops the blocks nothing reaches (from the entry or the extra `roots`) and
/// renumbers the rest, updating the roots in place.
/// Whether `e` tests list membership anywhere (`x in some_list`).
fn tests_list_membership(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::In {
            target: InTarget::List { .. },
            ..
        } => true,
        ExprKind::In { value, .. } => tests_list_membership(value),
        ExprKind::Unary(_, x) => tests_list_membership(x),
        ExprKind::Binary(_, a, b) => tests_list_membership(a) || tests_list_membership(b),
        _ => false,
    }
}

fn prune(body: &mut Body, roots: Vec<&mut BlockId>) {
    let n = body.blocks.len();
    let mut reached = vec![false; n];
    let mut stack: Vec<BlockId> = vec![body.entry];
    stack.extend(roots.iter().map(|r| **r));
    while let Some(b) = stack.pop() {
        let Some(seen) = reached.get_mut(b as usize) else {
            continue;
        };
        if *seen {
            continue;
        }
        *seen = true;
        match &body.blocks[b as usize].term {
            Term::Jump(t) => stack.push(*t),
            Term::Branch {
                then, otherwise, ..
            } => stack.extend([*then, *otherwise]),
            Term::Switch { cases, default, .. } => {
                stack.extend(cases.iter().map(|(_, t)| *t));
                stack.push(*default);
            }
            _ => {}
        }
    }
    let mut map = vec![0 as BlockId; n];
    let mut next = 0;
    for (i, r) in reached.iter().enumerate() {
        if *r {
            map[i] = next;
            next += 1;
        }
    }
    let old = std::mem::take(&mut body.blocks);
    for (i, mut b) in old.into_iter().enumerate() {
        if !reached[i] {
            continue;
        }
        match &mut b.term {
            Term::Jump(t) => *t = map[*t as usize],
            Term::Branch {
                then, otherwise, ..
            } => {
                *then = map[*then as usize];
                *otherwise = map[*otherwise as usize];
            }
            Term::Switch { cases, default, .. } => {
                for (_, t) in cases.iter_mut() {
                    *t = map[*t as usize];
                }
                *default = map[*default as usize];
            }
            _ => {}
        }
        body.blocks.push(b);
    }
    body.entry = map[body.entry as usize];
    for r in roots {
        *r = map[*r as usize];
    }
}

fn cmp_kind(t: Type) -> CmpKind {
    match t {
        Type::Number => CmpKind::Num,
        Type::Text | Type::Recording => CmpKind::Text,
        _ => CmpKind::Int,
    }
}

fn barge(o: &[Opt]) -> Option<bool> {
    if options::flag(o, "barge in") {
        Some(true)
    } else if options::flag(o, "no barge in") {
        Some(false)
    } else {
        None
    }
}

fn zero_const(t: Type) -> ConstValue {
    match t {
        Type::Number => ConstValue::Num(0.0),
        Type::Text | Type::Recording => ConstValue::Text(String::new()),
        _ => ConstValue::Int(0),
    }
}

fn zero_reg(fb: &mut Fb, t: Type) -> Reg {
    match t {
        Type::Number => fb.konst(t, Const::Num(0.0)),
        Type::Text | Type::Recording => fb.konst(t, Const::Text(0)),
        _ => fb.konst(t, Const::Int(0)),
    }
}

fn collect_labels(b: &ast::Block, f: &mut impl FnMut(&Ident)) {
    for s in &b.stmts {
        match &s.kind {
            StmtKind::Label(l) => f(l),
            StmtKind::If {
                then, otherwise, ..
            } => {
                collect_labels(then, f);
                if let Some(o) = otherwise {
                    collect_labels(o, f);
                }
            }
            StmtKind::Match { arms, .. } => {
                for a in arms {
                    collect_labels(&a.action, f);
                }
            }
            StmtKind::Menu(m) => {
                for c in &m.choices {
                    collect_labels(&c.action, f);
                }
                for h in &m.handlers {
                    collect_labels(&h.action, f);
                }
            }
            StmtKind::Collect { collect, .. } => {
                for h in &collect.handlers {
                    collect_labels(&h.action, f);
                }
            }
            StmtKind::Lookup { lookup, .. } => {
                if let Some(b) = &lookup.otherwise {
                    collect_labels(b, f);
                }
            }
            StmtKind::Transfer {
                otherwise: Some(b), ..
            }
            | StmtKind::Block(b) => collect_labels(b, f),
            _ => {}
        }
    }
}

/// Checks and lowers a project folder (or files) in one go.
pub fn compile_paths(paths: &[std::path::PathBuf]) -> Result<(Checked, ProgramIr), CompileError> {
    let project =
        dialect_lang::load_project(paths).map_err(|e| CompileError::Load(e.to_string()))?;
    let checked = dialect_lang::check_project(project);
    let ir = lower(&checked)?;
    Ok((checked, ir))
}
