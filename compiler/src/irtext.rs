//! A readable text form of the IR, for `dialect inspect --ir`, debugging and the
//! snapshot tests of every reference flow.

use std::fmt::Write as _;

use crate::ir::*;

fn reg_ty(t: Type) -> &'static str {
    match t {
        Type::Number => "num",
        Type::Text => "text",
        Type::Bool => "bool",
        Type::Duration => "int",
        Type::Time => "time",
        Type::Date => "date",
        Type::DateTime => "datetime",
        Type::Recording => "rec",
        Type::Record(_) => "record",
        Type::RecordList(_) => "records",
        _ => "?",
    }
}

fn text(ir: &ProgramIr, s: Sym) -> String {
    format!(
        "{:?}",
        ir.texts.get(s as usize).map(String::as_str).unwrap_or("?")
    )
}

fn operand(ir: &ProgramIr, o: &Operand) -> String {
    match o {
        Operand::Text(s) => text(ir, *s),
        Operand::Arg(i, _) => format!("${i}"),
    }
}

fn inst(ir: &ProgramIr, i: &Inst) -> String {
    match i {
        Inst::Const { dst, value } => match value {
            Const::Num(n) => format!("r{dst} = {n:?}"),
            Const::Int(v) => format!("r{dst} = {v}"),
            Const::Text(s) => format!("r{dst} = {}", text(ir, *s)),
        },
        Inst::Copy { dst, src } => format!("r{dst} = r{src}"),
        Inst::Load { dst, slot } => format!("r{dst} = s{slot}"),
        Inst::Store { slot, src } => format!("s{slot} = r{src}"),
        Inst::LoadData { dst, field } => format!(
            "r{dst} = data.{}",
            ir.calldata
                .get(*field as usize)
                .map(|f| f.name.as_str())
                .unwrap_or("?")
        ),
        Inst::StoreData { field, src } => format!(
            "data.{} = r{src}",
            ir.calldata
                .get(*field as usize)
                .map(|f| f.name.as_str())
                .unwrap_or("?")
        ),
        Inst::Builtin { dst, which } => format!("r{dst} = {}", which.name()),
        Inst::Env { dst, index } => format!("r{dst} = env[{index}]"),
        Inst::ItemCount { dst, list } => format!("r{dst} = count r{list}"),
        Inst::Item {
            dst, list, index, ..
        } => format!("r{dst} = r{list}[r{index}]"),
        Inst::Field {
            dst, record, field, ..
        } => format!("r{dst} = r{record}.{field}"),
        Inst::Unary { dst, op, src } => format!("r{dst} = {op:?} r{src}"),
        Inst::Binary { dst, op, a, b, .. } => format!("r{dst} = {op:?} r{a}, r{b}"),
        Inst::Cmp {
            dst,
            cond,
            kind,
            a,
            b,
        } => format!("r{dst} = cmp.{kind:?}.{cond:?} r{a}, r{b}"),
        Inst::Concat { dst, a, b } => format!("r{dst} = concat r{a}, r{b}"),
        Inst::Format {
            dst,
            template,
            args,
        } => format!("r{dst} = format f{template}({})", regs(args)),
        Inst::InList {
            dst,
            value,
            list,
            category,
        } => {
            let l = ir.lists.get(*list as usize);
            let name = l.map(|l| l.name.as_str()).unwrap_or("?");
            let cat = category
                .and_then(|c| l.and_then(|l| l.categories.get(c as usize)))
                .map(|c| format!(".{}", c.name))
                .unwrap_or_default();
            format!("r{dst} = r{value} in {name}{cat}")
        }
        Inst::Call {
            dst, func, args, ..
        } => format!("r{dst} = {}({})", func.name(), regs(args)),
        Inst::Input { dst, what } => format!("r{dst} = input.{what:?}"),
        Inst::SetLanguage { language } => format!(
            "language {}",
            ir.languages
                .get(*language as usize)
                .map(String::as_str)
                .unwrap_or("?")
        ),
    }
}

fn regs(rs: &[Reg]) -> String {
    rs.iter()
        .map(|r| format!("r{r}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn term(ir: &ProgramIr, t: &Term) -> String {
    match t {
        Term::Jump(b) => format!("jump b{b}"),
        Term::Branch {
            cond,
            then,
            otherwise,
        } => format!("branch r{cond} ? b{then} : b{otherwise}"),
        Term::Switch {
            value,
            cases,
            default,
        } => {
            let c = cases
                .iter()
                .map(|(v, b)| format!("{v} => b{b}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("switch r{value} [{c}] else b{default}")
        }
        Term::Suspend {
            template,
            args,
            resume,
        } => {
            let node = ir
                .templates
                .get(*template as usize)
                .map(|t| t.node.as_str())
                .unwrap_or("?");
            format!(
                "suspend t{template} {node:?} ({}) resume {resume}",
                regs(args)
            )
        }
        Term::CallFlow { flow, args, resume } => format!(
            "call {}({}) resume {resume}",
            ir.flows
                .get(*flow as usize)
                .map(|f| f.name.as_str())
                .unwrap_or("?"),
            regs(args)
        ),
        Term::Return(Some(r)) => format!("return r{r}"),
        Term::Return(None) => "return".into(),
        Term::Hangup => "hangup".into(),
        Term::Fail { message, .. } => format!("fail {message:?}"),
    }
}

fn body(ir: &ProgramIr, b: &Body, out: &mut String) {
    for (i, blk) in b.blocks.iter().enumerate() {
        let _ = writeln!(out, "b{i}:  # {}", ir.location(blk.loc));
        for x in &blk.insts {
            let _ = writeln!(out, "    {}", inst(ir, x));
        }
        let _ = writeln!(out, "    {}", term(ir, &blk.term));
    }
}

/// The text form of one flow.
pub fn flow_text(ir: &ProgramIr, f: &FlowIr) -> String {
    let mut out = String::new();
    let params = f
        .params
        .iter()
        .map(|(n, t)| format!("{n}: {}", reg_ty(*t)))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(out, "flow {}({params}) -> {}", f.name, reg_ty(f.returns));
    for (i, (n, t)) in f.slots.iter().enumerate() {
        let _ = writeln!(out, "  slot s{i} {n}: {}", reg_ty(*t));
    }
    let _ = writeln!(
        out,
        "  resumes: {}",
        f.resumes
            .iter()
            .enumerate()
            .map(|(i, b)| format!("{i}->b{b}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Some(h) = f.on_error {
        let _ = writeln!(out, "  on error: b{h}");
    }
    let _ = writeln!(out, "  entry: b{}", f.body.entry);
    body(ir, &f.body, &mut out);
    // The templates this flow suspends on.
    let mut used: Vec<TemplateId> = f
        .body
        .blocks
        .iter()
        .filter_map(|b| match &b.term {
            Term::Suspend { template, .. } => Some(*template),
            _ => None,
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    for t in used {
        if let Some(tpl) = ir.templates.get(t as usize) {
            let _ = writeln!(out, "t{t} {}: {}", tpl.node, template_text(ir, &tpl.kind));
        }
    }
    out
}

fn prompt_text(ir: &ProgramIr, p: &PromptIr) -> String {
    match p {
        PromptIr::Play { files, .. } => format!(
            "play {}",
            files
                .iter()
                .map(|o| operand(ir, o))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PromptIr::Say { translations, .. } => translations
            .iter()
            .map(|(l, items)| {
                format!(
                    "say[{}] {}",
                    l.as_deref().unwrap_or("*"),
                    items
                        .iter()
                        .map(|i| format!("{:?}:{}", i.kind, operand(ir, &i.value)))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            })
            .collect::<Vec<_>>()
            .join(" | "),
    }
}

fn template_text(ir: &ProgramIr, k: &TemplateKind) -> String {
    match k {
        TemplateKind::Prompt(p) => prompt_text(ir, p),
        TemplateKind::Menu {
            prompts,
            keys,
            phrases,
            options,
            ..
        } => format!(
            "menu [{}] keys {keys:?} phrases {phrases:?} retries {} timeout {}ms",
            prompts
                .iter()
                .map(|p| prompt_text(ir, p))
                .collect::<Vec<_>>()
                .join("; "),
            options.retries,
            options.timeout_ms
        ),
        TemplateKind::Collect {
            prompts,
            min,
            max,
            terminator,
            options,
            ..
        } => format!(
            "collect [{}] {min}..{max} term {terminator:?} retries {}",
            prompts
                .iter()
                .map(|p| prompt_text(ir, p))
                .collect::<Vec<_>>()
                .join("; "),
            options.retries
        ),
        other => format!("{other:?}"),
    }
}

/// The text form of one predicate.
pub fn predicate_text(ir: &ProgramIr, p: &PredicateIr) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "predicate {:?} -> {}", p.kind, reg_ty(p.result));
    for (i, (v, t)) in p.vars.iter().enumerate() {
        let _ = writeln!(out, "  env[{i}] {v:?}: {}", reg_ty(*t));
    }
    body(ir, &p.body, &mut out);
    out
}
