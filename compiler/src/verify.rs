//! The IR verifier: every reference is in range, every operand has the register
//! class its instruction needs (64-bit float for numbers, 64-bit integer for
//! everything else), every block is terminated and every suspension has a resume
//! target. It runs after lowering, when a bundle is loaded, and in tests.

use crate::ir::*;

/// Register class of a type: numbers are floats, everything else integers.
fn is_f(t: Type) -> bool {
    t == Type::Number
}

struct V<'a> {
    ir: &'a ProgramIr,
    what: String,
    body: &'a Body,
    errors: Vec<String>,
}

impl V<'_> {
    fn err(&mut self, msg: String) {
        if self.errors.len() < 20 {
            self.errors.push(format!("{}: {msg}", self.what));
        }
    }

    fn reg(&mut self, r: Reg) -> Option<Type> {
        match self.body.regs.get(r as usize) {
            Some(t) => Some(*t),
            None => {
                self.err(format!("register r{r} does not exist"));
                None
            }
        }
    }

    fn float(&mut self, r: Reg, ctx: &str) {
        if let Some(t) = self.reg(r)
            && !is_f(t)
        {
            self.err(format!("{ctx}: r{r} must be a number register, is {t:?}"));
        }
    }

    fn int(&mut self, r: Reg, ctx: &str) {
        if let Some(t) = self.reg(r)
            && is_f(t)
        {
            self.err(format!("{ctx}: r{r} must be an integer register"));
        }
    }

    fn block(&mut self, b: BlockId, ctx: &str) {
        if b as usize >= self.body.blocks.len() {
            self.err(format!("{ctx}: block b{b} does not exist"));
        }
    }

    fn same(&mut self, a: Reg, b: Reg, ctx: &str) {
        if let (Some(x), Some(y)) = (self.reg(a), self.reg(b))
            && is_f(x) != is_f(y)
        {
            self.err(format!("{ctx}: r{a} and r{b} are of different classes"));
        }
    }
}

/// The problems the verifier found in a program, one line each (at most 20 per
/// function), naming the flow or predicate and the register or block at fault.
/// Any of them is a compiler bug, or a bundle that was tampered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct VerifyError {
    /// One problem per line, such as `flow main: b3: r7 must be a number register`.
    pub problems: Vec<String>,
}

/// Verifies a whole program; the error lists the problems found.
pub fn verify(ir: &ProgramIr) -> Result<(), VerifyError> {
    let mut errors = Vec::new();
    for f in &ir.flows {
        let mut v = V {
            ir,
            what: format!("flow {}", f.name),
            body: &f.body,
            errors: Vec::new(),
        };
        if f.slots.len() < f.params.len() {
            v.err("fewer slots than parameters".into());
        }
        for (i, &r) in f.resumes.iter().enumerate() {
            if r as usize >= f.body.blocks.len() {
                v.err(format!("resume point {i} goes to a missing block"));
            }
        }
        if let Some(h) = f.on_error {
            v.block(h, "on error");
        }
        check_body(&mut v, Some(f), None);
        errors.append(&mut v.errors);
    }
    for (i, p) in ir.predicates.iter().enumerate() {
        let mut v = V {
            ir,
            what: format!("predicate {i} ({:?})", p.kind),
            body: &p.body,
            errors: Vec::new(),
        };
        check_body(&mut v, None, Some(p));
        errors.append(&mut v.errors);
    }
    for t in &ir.templates {
        if t.loc as usize >= ir.locations.len().max(1) {
            errors.push(format!("template {}: location out of range", t.node));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(VerifyError { problems: errors })
    }
}

fn check_body(v: &mut V<'_>, flow: Option<&FlowIr>, pred: Option<&PredicateIr>) {
    let body = v.body;
    if body.blocks.is_empty() {
        v.err("no blocks".into());
        return;
    }
    v.block(body.entry, "entry");
    for (bi, b) in body.blocks.iter().enumerate() {
        let at = format!("b{bi}");
        for inst in &b.insts {
            check_inst(v, inst, flow, pred, &at);
        }
        match &b.term {
            Term::Jump(t) => v.block(*t, &at),
            Term::Branch {
                cond,
                then,
                otherwise,
            } => {
                v.int(*cond, &at);
                v.block(*then, &at);
                v.block(*otherwise, &at);
            }
            Term::Switch {
                value,
                cases,
                default,
            } => {
                v.int(*value, &at);
                for (_, t) in cases {
                    v.block(*t, &at);
                }
                v.block(*default, &at);
            }
            Term::Suspend {
                template,
                args,
                resume,
            } => {
                let Some(f) = flow else {
                    v.err(format!("{at}: a predicate cannot suspend"));
                    continue;
                };
                for a in args {
                    v.reg(*a);
                }
                if (*resume as usize) >= f.resumes.len() {
                    v.err(format!("{at}: suspension without a resume target"));
                }
                match v.ir.templates.get(*template as usize) {
                    None => v.err(format!("{at}: template {template} does not exist")),
                    Some(t) => check_template_args(v, t, args, &at),
                }
            }
            Term::CallFlow {
                flow: callee,
                args,
                resume,
            } => {
                let Some(f) = flow else {
                    v.err(format!("{at}: a predicate cannot call a flow"));
                    continue;
                };
                match v.ir.flows.get(*callee as usize) {
                    None => v.err(format!("{at}: flow {callee} does not exist")),
                    Some(c) if c.params.len() != args.len() => v.err(format!(
                        "{at}: {} takes {} arguments",
                        c.name,
                        c.params.len()
                    )),
                    Some(c) => {
                        for (a, (_, t)) in args.iter().zip(&c.params) {
                            if let Some(rt) = v.reg(*a)
                                && is_f(rt) != is_f(*t)
                            {
                                v.err(format!("{at}: argument r{a} has the wrong class"));
                            }
                        }
                    }
                }
                if (*resume as usize) >= f.resumes.len() {
                    v.err(format!("{at}: call without a resume target"));
                }
            }
            Term::Return(r) => {
                let want = match (flow, pred) {
                    (Some(f), _) => f.returns,
                    (_, Some(p)) => p.result,
                    _ => Type::Void,
                };
                match (r, want) {
                    (None, Type::Void) => {}
                    (None, _) if pred.is_some() => {
                        v.err(format!("{at}: a predicate must return a value"))
                    }
                    (None, _) => {}
                    (Some(r), Type::Void) => {
                        v.err(format!("{at}: returns r{r} from a flow returning nothing"))
                    }
                    (Some(r), t) => {
                        if let Some(rt) = v.reg(*r)
                            && is_f(rt) != is_f(t)
                        {
                            v.err(format!("{at}: returns a value of the wrong class"));
                        }
                    }
                }
            }
            Term::Hangup => {
                if pred.is_some() {
                    v.err(format!("{at}: a predicate cannot hang up"));
                }
            }
            Term::Fail { .. } => {}
        }
    }
}

fn check_template_args(v: &mut V<'_>, t: &CommandTemplate, args: &[Reg], at: &str) {
    let mut ops: Vec<&Operand> = Vec::new();
    fn prompt_ops<'a>(p: &'a PromptIr, ops: &mut Vec<&'a Operand>) {
        match p {
            PromptIr::Play { files, .. } => ops.extend(files.iter()),
            PromptIr::Say { translations, .. } => {
                for (_, items) in translations {
                    ops.extend(items.iter().map(|i| &i.value));
                }
            }
        }
    }
    let mut needed = 0usize;
    match &t.kind {
        TemplateKind::Prompt(p) => prompt_ops(p, &mut ops),
        TemplateKind::Menu {
            prompts, attempt, ..
        }
        | TemplateKind::Collect {
            prompts, attempt, ..
        } => {
            for p in prompts {
                prompt_ops(p, &mut ops);
            }
            ops.push(attempt);
        }
        TemplateKind::Lookup {
            service, operation, ..
        } => {
            match v
                .ir
                .services
                .get(*service as usize)
                .and_then(|s| s.operations.get(*operation as usize))
            {
                Some(op) => needed = op.params.len(),
                None => v.err(format!("{at}: lookup of a missing operation")),
            }
        }
        TemplateKind::CreateWorkorder { workorder, fields } => {
            if v.ir.workorders.get(*workorder as usize).is_none() {
                v.err(format!("{at}: workorder type {workorder} does not exist"));
            }
            needed = fields.len();
        }
        TemplateKind::Notify {
            to,
            subject,
            body,
            attachment,
            ..
        } => {
            ops.push(to);
            ops.extend(subject.iter());
            ops.push(body);
            ops.extend(attachment.iter());
        }
        TemplateKind::LookupWorkorder { workorder, record } => {
            if v.ir.workorders.get(*workorder as usize).is_none() {
                v.err(format!("{at}: workorder type {workorder} does not exist"));
            }
            if v.ir.records.get(record.0 as usize).is_none() {
                v.err(format!("{at}: record type {} does not exist", record.0));
            }
            needed = 1;
        }
        TemplateKind::TransitionWorkorder { order, comment, .. } => {
            ops.push(order);
            ops.extend(comment.iter());
        }
        TemplateKind::Transfer { dest, .. } => match dest {
            TransferDest::Agent(o) | TransferDest::Number(o) => ops.push(o),
            _ => {}
        },
        TemplateKind::Pause => needed = 1,
        TemplateKind::Record { .. } => {}
    }
    for o in ops {
        if let Operand::Arg(i, ty) = o {
            match args.get(*i as usize) {
                None => v.err(format!("{at}: operand {i} has no argument")),
                Some(r) => {
                    if let Some(rt) = v.reg(*r)
                        && is_f(rt) != is_f(*ty)
                    {
                        v.err(format!("{at}: operand {i} has the wrong class"));
                    }
                }
            }
        }
    }
    if args.len() < needed {
        v.err(format!("{at}: {} needs {needed} arguments", t.node));
    }
}

fn check_inst(
    v: &mut V<'_>,
    inst: &Inst,
    flow: Option<&FlowIr>,
    pred: Option<&PredicateIr>,
    at: &str,
) {
    match inst {
        Inst::Const { dst, value } => match value {
            Const::Num(_) => v.float(*dst, at),
            Const::Int(_) => v.int(*dst, at),
            Const::Text(s) => {
                v.int(*dst, at);
                if *s as usize >= v.ir.texts.len() {
                    v.err(format!("{at}: text constant {s} does not exist"));
                }
            }
        },
        Inst::Copy { dst, src } => v.same(*dst, *src, at),
        Inst::Load { dst, slot } | Inst::Store { slot, src: dst } => match flow {
            None => v.err(format!("{at}: a predicate has no slots")),
            Some(f) => match f.slots.get(*slot as usize) {
                None => v.err(format!("{at}: slot {slot} does not exist")),
                Some((_, t)) => {
                    if let Some(rt) = v.reg(*dst)
                        && is_f(rt) != is_f(*t)
                    {
                        v.err(format!(
                            "{at}: slot {slot} and r{dst} are of different classes"
                        ));
                    }
                }
            },
        },
        Inst::LoadData { dst, field } | Inst::StoreData { field, src: dst } => {
            match v.ir.calldata.get(*field as usize) {
                None => v.err(format!("{at}: call-data field {field} does not exist")),
                Some(f) => {
                    if let Some(rt) = v.reg(*dst)
                        && is_f(rt) != is_f(f.ty)
                    {
                        v.err(format!(
                            "{at}: data.{} and r{dst} are of different classes",
                            f.name
                        ));
                    }
                }
            }
        }
        Inst::Builtin { dst, .. } => v.int(*dst, at),
        Inst::Env { dst, index } => match pred {
            None => v.err(format!("{at}: a flow has no environment")),
            Some(p) => match p.vars.get(*index as usize) {
                None => v.err(format!("{at}: environment entry {index} does not exist")),
                Some((_, t)) => {
                    if let Some(rt) = v.reg(*dst)
                        && is_f(rt) != is_f(*t)
                    {
                        v.err(format!(
                            "{at}: env {index} and r{dst} are of different classes"
                        ));
                    }
                }
            },
        },
        Inst::ItemCount { dst, list } => {
            v.int(*dst, at);
            if !matches!(v.reg(*list), Some(Type::RecordList(_)) | None) {
                v.err(format!("{at}: r{list} is not a list of records"));
            }
        }
        Inst::Item {
            dst, list, index, ..
        } => {
            v.int(*index, at);
            match (v.reg(*list), v.reg(*dst)) {
                (Some(Type::RecordList(l)), Some(Type::Record(r))) if l == r => {}
                (None, _) | (_, None) => {}
                _ => v.err(format!("{at}: r{dst} is not a record of the list r{list}")),
            }
        }
        Inst::Field {
            dst, record, field, ..
        } => match v.reg(*record) {
            Some(Type::Record(rid)) => match v.ir.records.get(rid.0 as usize) {
                Some(rt) => match rt.fields.get(*field as usize) {
                    Some((_, ft)) => {
                        if let Some(d) = v.reg(*dst)
                            && is_f(d) != is_f(*ft)
                        {
                            v.err(format!(
                                "{at}: field {field} and r{dst} are of different classes"
                            ));
                        }
                    }
                    None => v.err(format!("{at}: record field {field} does not exist")),
                },
                None => v.err(format!("{at}: record type does not exist")),
            },
            Some(_) => v.err(format!("{at}: r{record} is not a record")),
            None => {}
        },
        Inst::Unary { dst, op, src } => match op {
            UnOp::NegF => {
                v.float(*dst, at);
                v.float(*src, at);
            }
            UnOp::NegI | UnOp::Not => {
                v.int(*dst, at);
                v.int(*src, at);
            }
        },
        Inst::Binary { dst, op, a, b, .. } => {
            use BinOp::*;
            let (da, aa, ba) = match op {
                AddF | SubF | MulF | DivF => (true, true, true),
                MulIF | DivIF => (false, false, true),
                DivII => (true, false, false),
                _ => (false, false, false),
            };
            for (r, want_f) in [(*dst, da), (*a, aa), (*b, ba)] {
                if want_f { v.float(r, at) } else { v.int(r, at) }
            }
        }
        Inst::Cmp {
            dst, kind, a, b, ..
        } => {
            v.int(*dst, at);
            match kind {
                CmpKind::Num => {
                    v.float(*a, at);
                    v.float(*b, at);
                }
                CmpKind::Int | CmpKind::Text => {
                    v.int(*a, at);
                    v.int(*b, at);
                }
            }
        }
        Inst::Concat { dst, a, b } => {
            v.int(*dst, at);
            v.int(*a, at);
            v.int(*b, at);
        }
        Inst::Format {
            dst,
            template,
            args,
        } => {
            v.int(*dst, at);
            match v.ir.formats.get(*template as usize) {
                None => v.err(format!("{at}: format {template} does not exist")),
                Some(t) => {
                    for p in &t.parts {
                        if let FormatPart::Arg(i, ty) = p {
                            match args.get(*i as usize) {
                                None => v.err(format!("{at}: format argument {i} missing")),
                                Some(r) => {
                                    if let Some(rt) = v.reg(*r)
                                        && is_f(rt) != is_f(*ty)
                                    {
                                        v.err(format!(
                                            "{at}: format argument {i} has the wrong class"
                                        ));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Inst::InList {
            dst,
            value,
            list,
            category,
        } => {
            v.int(*dst, at);
            v.int(*value, at);
            match v.ir.lists.get(*list as usize) {
                None => v.err(format!("{at}: list {list} does not exist")),
                Some(l) => {
                    if let Some(c) = category
                        && *c as usize >= l.categories.len()
                    {
                        v.err(format!("{at}: category {c} does not exist"));
                    }
                }
            }
        }
        Inst::Call {
            dst, func, args, ..
        } => {
            if matches!(func, Function::Min | Function::Max) {
                v.err(format!("{at}: min/max must be lowered to compares"));
            }
            let want_f = func.result() == Type::Number;
            if want_f {
                v.float(*dst, at)
            } else {
                v.int(*dst, at)
            }
            if args.len() != func.params().len() {
                v.err(format!(
                    "{at}: {} takes {} arguments",
                    func.name(),
                    func.params().len()
                ));
            }
            for (a, p) in args.iter().zip(func.params()) {
                match p {
                    dialect_lang::types::Param::Value(t) => {
                        if is_f(*t) {
                            v.float(*a, at)
                        } else {
                            v.int(*a, at)
                        }
                    }
                    _ => v.int(*a, at),
                }
            }
        }
        Inst::Input { dst, what } => {
            if flow.is_none() {
                v.err(format!("{at}: a predicate has no input"));
            }
            match what {
                InputField::Returned => {
                    v.reg(*dst);
                }
                _ => v.int(*dst, at),
            }
        }
        Inst::SetLanguage { language } => {
            if *language as usize >= v.ir.languages.len() {
                v.err(format!("{at}: language {language} does not exist"));
            }
        }
    }
}
