//! Shared support for the differential tests: a small IR builder, a base program
//! with one of everything (texts, call data, a record type, a list, a calendar, a
//! service, templates, formats), and runners that execute the same code on the
//! interpreter and the native back-end and return everything the run changed.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use dialect_compiler::backend::Backend;
use dialect_compiler::ctx::{ExecCtx, InputRegs, Pending, RtError, Shared};
use dialect_compiler::interp::Interpreter;
use dialect_compiler::ir::*;
use dialect_compiler::jit::Native;

/// Checks and lowers Dialect source text (which must have no error) and makes a
/// program of it on `engine`.
pub fn program_from_source(
    file: &str,
    text: &str,
    engine: dialect_compiler::Engine,
) -> dialect_compiler::Program {
    let checked = dialect_lang::check_text(file, text.as_bytes());
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    dialect_compiler::Program::new(dialect_compiler::lower(&checked).unwrap(), engine).unwrap()
}

/// Builds one function body.
#[derive(Debug, Default)]
pub struct Fb {
    /// Register types.
    pub regs: Vec<Type>,
    /// Blocks (a block without a terminator yet has `Term::Hangup`).
    pub blocks: Vec<BlockIr>,
}

impl Fb {
    /// A new register of type `t`.
    pub fn reg(&mut self, t: Type) -> Reg {
        self.regs.push(t);
        (self.regs.len() - 1) as Reg
    }

    /// A new empty block.
    pub fn new_block(&mut self) -> BlockId {
        self.blocks.push(BlockIr {
            insts: vec![],
            term: Term::Hangup,
            loc: 0,
        });
        (self.blocks.len() - 1) as BlockId
    }

    /// A block with instructions and a terminator.
    pub fn block(&mut self, insts: Vec<Inst>, term: Term) -> BlockId {
        let b = self.new_block();
        self.blocks[b as usize].insts = insts;
        self.blocks[b as usize].term = term;
        b
    }

    /// Appends an instruction to block `b`.
    pub fn push(&mut self, b: BlockId, i: Inst) {
        self.blocks[b as usize].insts.push(i);
    }

    /// Sets block `b`'s terminator.
    pub fn term(&mut self, b: BlockId, t: Term) {
        self.blocks[b as usize].term = t;
    }

    /// Sets block `b`'s location.
    pub fn loc(&mut self, b: BlockId, loc: LocId) {
        self.blocks[b as usize].loc = loc;
    }

    /// The body, entered at block 0.
    pub fn body(self) -> Body {
        Body {
            regs: self.regs,
            blocks: self.blocks,
            entry: 0,
        }
    }
}

/// `dst = number`
pub fn num(dst: Reg, v: f64) -> Inst {
    Inst::Const {
        dst,
        value: Const::Num(v),
    }
}

/// `dst = integer`
pub fn int(dst: Reg, v: i64) -> Inst {
    Inst::Const {
        dst,
        value: Const::Int(v),
    }
}

/// `dst = text constant`
pub fn txt(dst: Reg, s: Sym) -> Inst {
    Inst::Const {
        dst,
        value: Const::Text(s),
    }
}

/// `dst = a op b`
pub fn bin(dst: Reg, op: BinOp, a: Reg, b: Reg) -> Inst {
    Inst::Binary {
        dst,
        op,
        a,
        b,
        loc: 1,
    }
}

/// `dst = a cond b`
pub fn cmp(dst: Reg, cond: Cond, kind: CmpKind, a: Reg, b: Reg) -> Inst {
    Inst::Cmp {
        dst,
        cond,
        kind,
        a,
        b,
    }
}

/// `slot = src`
pub fn store(slot: SlotId, src: Reg) -> Inst {
    Inst::Store { slot, src }
}

/// Constant texts of the base program, by symbol.
pub const TEXTS: &[&str] = &[
    "",
    "a",
    "b",
    "hello",
    "13800000001",
    "075512345",
    "13600000001",
    "12.5",
    "  42 ",
    "中文电话",
    "abc",
    "ABC",
    "x",
    "the end",
];

/// Symbol of a constant text of the base program.
pub fn sym(s: &str) -> Sym {
    TEXTS.iter().position(|t| *t == s).expect("a base text") as Sym
}

/// A program with one of everything the instructions refer to, and no code.
pub fn base() -> ProgramIr {
    let loc = |line| SourceLoc {
        file: 0,
        line,
        col: 1,
    };
    ProgramIr {
        texts: TEXTS.iter().map(|s| s.to_string()).collect(),
        files: vec!["test.flow".into()],
        locations: vec![loc(1), loc(2), loc(3), loc(4)],
        flows: vec![],
        predicates: vec![],
        templates: vec![
            CommandTemplate {
                node: "play".into(),
                loc: 0,
                kind: TemplateKind::Prompt(PromptIr::Play {
                    files: vec![Operand::Arg(0, Type::Text)],
                    barge_in: None,
                }),
            },
            CommandTemplate {
                node: "lookup svc.op".into(),
                loc: 1,
                kind: TemplateKind::Lookup {
                    service: 0,
                    operation: 0,
                    timeout_ms: 2000,
                },
            },
            CommandTemplate {
                node: "pause".into(),
                loc: 2,
                kind: TemplateKind::Pause,
            },
            CommandTemplate {
                node: "say".into(),
                loc: 3,
                kind: TemplateKind::Prompt(PromptIr::Say {
                    translations: vec![(
                        None,
                        vec![
                            SpeechIr {
                                kind: SayKind::Number,
                                value: Operand::Arg(0, Type::Number),
                            },
                            SpeechIr {
                                kind: SayKind::Plain,
                                value: Operand::Arg(1, Type::Duration),
                            },
                            SpeechIr {
                                kind: SayKind::Date,
                                value: Operand::Arg(2, Type::Date),
                            },
                            SpeechIr {
                                kind: SayKind::Plain,
                                value: Operand::Arg(3, Type::Text),
                            },
                        ],
                    )],
                    voice: None,
                    rate: None,
                    barge_in: None,
                }),
            },
        ],
        formats: vec![FormatTemplate {
            parts: vec![
                FormatPart::Lit("n=".into()),
                FormatPart::Arg(0, Type::Number),
                FormatPart::Lit(" t=".into()),
                FormatPart::Arg(1, Type::Text),
                FormatPart::Lit(" d=".into()),
                FormatPart::Arg(2, Type::Duration),
                FormatPart::Lit(" day=".into()),
                FormatPart::Arg(3, Type::Date),
                FormatPart::Lit(" at=".into()),
                FormatPart::Arg(4, Type::Time),
                FormatPart::Lit(" b=".into()),
                FormatPart::Arg(5, Type::Bool),
            ],
        }],
        records: vec![RecordTypeIr {
            name: "svc.op".into(),
            fields: vec![
                ("n".into(), Type::Number),
                ("t".into(), Type::Text),
                ("b".into(), Type::Bool),
            ],
        }],
        calldata: vec![
            CallDataFieldIr {
                name: "num".into(),
                ty: Type::Number,
                default: ConstValue::Num(1.5),
            },
            CallDataFieldIr {
                name: "txt".into(),
                ty: Type::Text,
                default: ConstValue::Text("hello".into()),
            },
            CallDataFieldIr {
                name: "flag".into(),
                ty: Type::Bool,
                default: ConstValue::Int(0),
            },
        ],
        languages: vec!["zh".into(), "en".into()],
        numbers: vec![],
        calendars: vec![CalendarIr {
            name: "office".into(),
            timezone: "Asia/Shanghai".into(),
            weekly: (0..7)
                .map(|d| {
                    if d < 5 {
                        vec![(9 * 3600, 18 * 3600)]
                    } else {
                        vec![]
                    }
                })
                .collect(),
            special: vec![SpecialDayIr {
                day: 20_362, // 2025-10-01
                holiday: true,
                hours: None,
                label: "national day".into(),
            }],
        }],
        lists: vec![ListIr {
            name: "blacklist".into(),
            entries: vec!["13800000001".into()],
            categories: vec![
                ListCategoryIr {
                    name: "night".into(),
                    entries: vec!["0755*".into()],
                    max_transfers: None,
                    active: Some((22 * 3600, 7 * 3600)),
                },
                ListCategoryIr {
                    name: "vip".into(),
                    entries: vec!["13600000001".into(), "+8613900000000".into()],
                    max_transfers: Some(3),
                    active: None,
                },
            ],
        }],
        services: vec![ServiceIr {
            name: "svc".into(),
            url: "http://127.0.0.1:9".into(),
            timeout_ms: 2000,
            not_found: NotFound::Else,
            operations: vec![OperationIr {
                name: "op".into(),
                method: HttpMethod::Get,
                path: "/things/{id}".into(),
                params: vec![("id".into(), Type::Text)],
                record: RecordId(0),
                list: false,
            }],
        }],
        queues: vec![],
        campaigns: vec![],
        workorders: vec![],
        skills: vec![],
        departments: vec![],
        agents: vec![],
    }
}

/// A flow named `name` with the given slots and body.
pub fn flow(name: &str, slots: Vec<Type>, body: Body) -> FlowIr {
    FlowIr {
        name: name.into(),
        params: vec![],
        returns: Type::Void,
        slots: slots
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("v{i}"), t))
            .collect(),
        body,
        resumes: vec![],
        on_error: None,
    }
}

/// Everything a run can change in the context, in comparable form.
#[derive(Debug, Clone, PartialEq)]
pub struct Effects {
    /// What the run stopped on.
    pub pending: Option<Pending>,
    /// The error raised.
    pub error: Option<RtError>,
    /// The slots afterwards.
    pub slots: Vec<u64>,
    /// The call data afterwards.
    pub data: Vec<u64>,
    /// Every text of the context, by symbol (constants and the ones made).
    pub texts: Vec<String>,
    /// The call's language.
    pub language: u32,
    /// The step budget left.
    pub budget: i64,
    /// Records held.
    pub records: usize,
    /// A predicate's result.
    pub value: u64,
}

/// Captures the effects of a run.
pub fn effects(ctx: &ExecCtx, slots: &[u64], value: u64) -> Effects {
    let n = ctx.shared.interner.len() + ctx.texts.local_len();
    Effects {
        pending: ctx.pending.clone(),
        error: ctx.error.clone(),
        slots: slots.to_vec(),
        data: ctx.data.clone(),
        texts: (0..n).map(|i| ctx.text(i as u64).to_string()).collect(),
        language: ctx.language,
        budget: ctx.budget,
        records: ctx.records.len(),
        value,
    }
}

/// Both back-ends over one program.
pub struct Both {
    /// The program's shared parts.
    pub shared: Arc<Shared>,
    /// The reference interpreter.
    pub interp: Interpreter,
    /// The native code.
    pub native: Native,
}

impl Both {
    /// Verifies and compiles `ir` for both back-ends.
    pub fn new(ir: ProgramIr) -> Both {
        if let Err(e) = dialect_compiler::verify::verify(&ir) {
            panic!("the test IR does not verify:\n{e}");
        }
        let shared = Arc::new(Shared::new(ir));
        let native = match Native::compile(shared.clone()) {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        Both {
            interp: Interpreter::new(shared.clone()),
            native,
            shared,
        }
    }

    /// A fresh context with call data at its defaults and a few texts interned.
    pub fn ctx(&self) -> ExecCtx {
        let mut ctx = ExecCtx::new(self.shared.clone());
        ctx.data = self
            .shared
            .ir
            .calldata
            .iter()
            .map(|f| match &f.default {
                ConstValue::Num(n) => n.to_bits(),
                ConstValue::Int(i) => *i as u64,
                ConstValue::Text(t) => ctx.intern(t),
            })
            .collect();
        ctx.caller = ctx.intern("13912345678") as Sym;
        ctx.called = ctx.intern("10000") as Sym;
        ctx.trunk = ctx.intern("long_distance") as Sym;
        ctx.now_ms = 1_789_876_800_000; // 2026-09-20 12:00 in Shanghai
        ctx
    }

    /// Runs flow `flow` from `start` on both back-ends after `setup`; asserts that
    /// they agree and returns the effects.
    pub fn run_flow(
        &self,
        flow: FlowId,
        start: BlockId,
        slots: &[u64],
        setup: impl Fn(&mut ExecCtx),
    ) -> Effects {
        let run = |b: &dyn Backend| {
            let mut ctx = self.ctx();
            setup(&mut ctx);
            let mut s = slots.to_vec();
            b.run_flow(flow, &mut ctx, &mut s, start);
            effects(&ctx, &s, 0)
        };
        let i = run(&self.interp);
        let n = run(&self.native);
        assert_eq!(i, n, "interpreter (left) and native code (right) disagree");
        i
    }

    /// Evaluates predicate `pred` over `env` on both back-ends after `setup`;
    /// asserts that they agree and returns the effects.
    pub fn eval(&self, pred: PredId, env: &[u64], setup: impl Fn(&mut ExecCtx)) -> Effects {
        let run = |b: &dyn Backend| {
            let mut ctx = self.ctx();
            setup(&mut ctx);
            let mut v = b.eval_predicate(pred, &mut ctx, env);
            // Which NaN an operation on two NaNs returns is not specified (and
            // Cranelift may swap the operands of `+`); Dialect cannot tell NaNs
            // apart, so a NaN result counts as one value.
            let number = self.shared.ir.predicates[pred as usize].result == Type::Number;
            if number && f64::from_bits(v).is_nan() {
                v = f64::NAN.to_bits();
            }
            effects(&ctx, &[], v)
        };
        let i = run(&self.interp);
        let n = run(&self.native);
        assert_eq!(i, n, "interpreter (left) and native code (right) disagree");
        i
    }
}

/// The resume input of a context, for `setup` closures.
pub fn input(kind: InputKind) -> InputRegs {
    InputRegs {
        kind: kind as i64,
        ..InputRegs::default()
    }
}
