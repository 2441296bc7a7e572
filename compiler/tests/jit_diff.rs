//! Differential tests of the native back-end against the reference interpreter on
//! hand-built IR: every instruction, terminator, built-in function, binary
//! operation, comparison condition and kind, the errors (division by zero, missing
//! records, runaway loops), through the `Backend` trait (every effect on the
//! context compared) and through `Program` (the commands a call sees). A proptest
//! generates random typed expression trees as predicates and compares both
//! back-ends on random environments, NaN, infinities and zero divisors included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use dialect_compiler::ctx::{InputRegs, Pending};
use dialect_compiler::ir::*;
use dialect_compiler::value::{RecordValue, Value};
use dialect_compiler::{CallInfo, Command, Engine, Input, Program};

const FLOATS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.5,
    2.5,
    0.1,
    1e308,
    -1e308,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MIN_POSITIVE,
    3.0e-320,
    1e19,
    -1e19,
    9.3e18,
    86_400_000.0,
    0.49999999999999994,
];

const INTS: &[i64] = &[
    0,
    1,
    -1,
    999,
    -999,
    1000,
    -1000,
    -1001,
    86_399,
    86_400,
    -86_400,
    86_400_000,
    -86_400_000,
    86_399_999,
    -86_400_001,
    123_456_789_012,
    i64::MAX,
    i64::MIN,
    i64::MIN + 1,
];

/// A flow computing `slot2 = slot0 op slot1` for slots of the given types.
fn binary_flow(op: BinOp, ta: Type, tb: Type, tr: Type) -> FlowIr {
    let mut f = Fb::default();
    let a = f.reg(ta);
    let b = f.reg(tb);
    let r = f.reg(tr);
    f.block(
        vec![
            Inst::Load { dst: a, slot: 0 },
            Inst::Load { dst: b, slot: 1 },
            bin(r, op, a, b),
            store(2, r),
        ],
        Term::Return(None),
    );
    flow(&format!("{op:?}"), vec![ta, tb, tr], f.body())
}

fn class_type(float: bool) -> Type {
    if float { Type::Number } else { Type::Duration }
}

fn raws(float: bool) -> Vec<u64> {
    if float {
        FLOATS.iter().map(|f| f.to_bits()).collect()
    } else {
        INTS.iter().map(|i| *i as u64).collect()
    }
}

#[test]
fn every_binary_operation_agrees_on_edge_values() {
    use BinOp::*;
    let ops = [
        (AddF, true, true, true),
        (SubF, true, true, true),
        (MulF, true, true, true),
        (DivF, true, true, true),
        (AddI, false, false, false),
        (SubI, false, false, false),
        (MulIF, false, true, false),
        (DivIF, false, true, false),
        (DivII, false, false, true),
        (DateAddMs, false, false, false),
        (DateSubMs, false, false, false),
        (DateDiff, false, false, false),
        (TimeAddMs, false, false, false),
        (TimeSubMs, false, false, false),
        (TimeDiff, false, false, false),
    ];
    let mut ir = base();
    for (op, fa, fb, fr) in ops {
        ir.flows.push(binary_flow(
            op,
            class_type(fa),
            class_type(fb),
            class_type(fr),
        ));
    }
    let both = Both::new(ir);
    let mut errors = 0;
    for (i, (_, fa, fb, _)) in ops.iter().enumerate() {
        for a in raws(*fa) {
            for b in raws(*fb) {
                let e = both.run_flow(i as FlowId, 0, &[a, b, 7], |_| {});
                if e.error.is_some() {
                    errors += 1;
                    assert_eq!(e.slots[2], 7, "nothing stored after an error");
                }
            }
        }
    }
    // DivF, DivIF on ±0 and DivII on 0: the zero divisors were all reached.
    assert_eq!(errors, FLOATS.len() * 2 + INTS.len() * 2 + INTS.len());
}

#[test]
fn division_errors_name_the_problem_and_the_place() {
    let mut ir = base();
    ir.flows.push(binary_flow(
        BinOp::DivF,
        Type::Number,
        Type::Number,
        Type::Number,
    ));
    ir.flows.push(binary_flow(
        BinOp::DivII,
        Type::Duration,
        Type::Duration,
        Type::Number,
    ));
    let both = Both::new(ir);
    let e = both.run_flow(0, 0, &[1f64.to_bits(), 0f64.to_bits(), 0], |_| {});
    let err = e.error.unwrap();
    assert_eq!(err.message, "division by zero");
    assert_eq!(err.loc, 1);
    assert_eq!(e.pending, None);
    let e = both.run_flow(1, 0, &[5, 0, 0], |_| {});
    assert_eq!(e.error.unwrap().message, "division by a zero duration");
    let e = both.run_flow(1, 0, &[5, 2, 0], |_| {});
    assert_eq!(f64::from_bits(e.slots[2]), 2.5);
    assert_eq!(e.pending, Some(Pending::Return(None)));
}

/// A flow computing `slot2 = slot0 cond slot1`.
fn cmp_flow(cond: Cond, kind: CmpKind) -> FlowIr {
    let t = if kind == CmpKind::Num {
        Type::Number
    } else if kind == CmpKind::Text {
        Type::Text
    } else {
        Type::Duration
    };
    let mut f = Fb::default();
    let a = f.reg(t);
    let b = f.reg(t);
    let r = f.reg(Type::Bool);
    f.block(
        vec![
            Inst::Load { dst: a, slot: 0 },
            Inst::Load { dst: b, slot: 1 },
            cmp(r, cond, kind, a, b),
            store(2, r),
        ],
        Term::Return(None),
    );
    flow(
        &format!("{cond:?}{kind:?}"),
        vec![t, t, Type::Bool],
        f.body(),
    )
}

#[test]
fn every_comparison_agrees_including_nan_and_text_order() {
    let conds = [Cond::Eq, Cond::Ne, Cond::Lt, Cond::Le, Cond::Gt, Cond::Ge];
    let kinds = [CmpKind::Num, CmpKind::Int, CmpKind::Text];
    let mut ir = base();
    let mut which = Vec::new();
    for k in kinds {
        for c in conds {
            ir.flows.push(cmp_flow(c, k));
            which.push((c, k));
        }
    }
    let both = Both::new(ir);
    let texts: Vec<u64> = ["", "a", "b", "abc", "ABC", "中文电话", "x", "the end"]
        .iter()
        .map(|s| u64::from(sym(s)))
        .collect();
    let mut trues = 0;
    for (i, (_, k)) in which.iter().enumerate() {
        let vals = match k {
            CmpKind::Num => raws(true),
            CmpKind::Int => raws(false),
            CmpKind::Text => texts.clone(),
        };
        for a in &vals {
            for b in &vals {
                let e = both.run_flow(i as FlowId, 0, &[*a, *b, 9], |_| {});
                assert!(e.slots[2] <= 1);
                trues += e.slots[2];
            }
        }
    }
    assert!(trues > 0);
    // Texts made at run time compare by content, not by symbol.
    let mut ir = base();
    ir.flows.push(cmp_flow(Cond::Lt, CmpKind::Text));
    let both = Both::new(ir);
    let e = both.run_flow(0, 0, &[0, 0, 9], |c| {
        let z = c.intern("zzz");
        let a = c.intern("aaa");
        assert!(z < a);
    });
    assert_eq!(e.slots[2], 0);
}

#[test]
fn constants_copies_slots_and_unary_operations() {
    let mut ir = base();
    let mut f = Fb::default();
    let n = f.reg(Type::Number);
    let n2 = f.reg(Type::Number);
    let i = f.reg(Type::Duration);
    let i2 = f.reg(Type::Duration);
    let t = f.reg(Type::Text);
    let t2 = f.reg(Type::Text);
    let b = f.reg(Type::Bool);
    let b2 = f.reg(Type::Bool);
    let unset = f.reg(Type::Number);
    f.block(
        vec![
            num(n, -2.5),
            Inst::Copy { dst: n2, src: n },
            Inst::Unary {
                dst: n2,
                op: UnOp::NegF,
                src: n2,
            },
            int(i, i64::MIN),
            Inst::Unary {
                dst: i2,
                op: UnOp::NegI,
                src: i,
            },
            txt(t, sym("hello")),
            Inst::Copy { dst: t2, src: t },
            Inst::Load { dst: b, slot: 9 },
            Inst::Unary {
                dst: b2,
                op: UnOp::Not,
                src: b,
            },
            store(0, n),
            store(1, n2),
            store(2, i),
            store(3, i2),
            store(4, t2),
            store(5, b2),
            Inst::Unary {
                dst: b2,
                op: UnOp::Not,
                src: b2,
            },
            store(6, b2),
            num(n, f64::NAN),
            Inst::Unary {
                dst: n,
                op: UnOp::NegF,
                src: n,
            },
            store(7, n),
            store(8, unset),
        ],
        Term::Return(None),
    );
    ir.flows.push(flow(
        "f",
        vec![
            Type::Number,
            Type::Number,
            Type::Duration,
            Type::Duration,
            Type::Text,
            Type::Bool,
            Type::Bool,
            Type::Number,
            Type::Number,
            Type::Bool,
        ],
        f.body(),
    ));
    let both = Both::new(ir);
    for flag in [0u64, 1, 2, u64::MAX] {
        let mut slots = [77u64; 10];
        slots[9] = flag;
        let e = both.run_flow(0, 0, &slots, |_| {});
        assert_eq!(f64::from_bits(e.slots[1]), 2.5);
        assert_eq!(e.slots[3] as i64, i64::MIN, "wrapping negation");
        assert_eq!(e.slots[4], u64::from(sym("hello")));
        assert_eq!(e.slots[5], u64::from(flag == 0));
        assert_eq!(e.slots[8], 0, "registers start at zero");
    }
}

#[test]
fn call_data_builtins_inputs_and_language() {
    let mut ir = base();
    let mut f = Fb::default();
    let n = f.reg(Type::Number);
    let t = f.reg(Type::Text);
    let b = f.reg(Type::Bool);
    let mut insts = vec![
        Inst::LoadData { dst: n, field: 0 },
        Inst::LoadData { dst: t, field: 1 },
        Inst::LoadData { dst: b, field: 2 },
        store(0, n),
        store(1, t),
        store(2, b),
        num(n, 99.25),
        Inst::StoreData { field: 0, src: n },
        Inst::StoreData { field: 1, src: t },
        int(b, 1),
        Inst::StoreData { field: 2, src: b },
        // Out-of-range data fields are ignored on both sides (unverified IR only
        // could do this; the helper checks).
    ];
    let builtins = [
        Builtin::Caller,
        Builtin::Called,
        Builtin::Trunk,
        Builtin::Waited,
        Builtin::Position,
        Builtin::EstimatedWait,
        Builtin::Waiting,
        Builtin::IdleAgents,
        Builtin::ServiceLevel,
        Builtin::LongestWait,
        Builtin::Attempts,
        Builtin::LastOutcome,
        Builtin::Age,
    ];
    let mut slot_types = vec![Type::Number, Type::Text, Type::Bool];
    for which in builtins {
        let r = f.reg(Type::Text);
        insts.push(Inst::Builtin { dst: r, which });
        insts.push(store(slot_types.len() as SlotId, r));
        slot_types.push(Type::Text);
    }
    for what in [
        InputField::Kind,
        InputField::Choice,
        InputField::Text,
        InputField::Record,
        InputField::Returned,
    ] {
        let r = f.reg(Type::Duration);
        insts.push(Inst::Input { dst: r, what });
        insts.push(store(slot_types.len() as SlotId, r));
        slot_types.push(Type::Duration);
    }
    let rf = f.reg(Type::Number);
    insts.push(Inst::Input {
        dst: rf,
        what: InputField::Returned,
    });
    insts.push(store(slot_types.len() as SlotId, rf));
    slot_types.push(Type::Number);
    insts.push(Inst::SetLanguage { language: 1 });
    f.block(insts, Term::Return(None));
    let nslots = slot_types.len();
    ir.flows.push(flow("f", slot_types, f.body()));
    let both = Both::new(ir);
    let e = both.run_flow(0, 0, &vec![0; nslots], |c| {
        c.input = InputRegs {
            kind: InputKind::Returned as i64,
            choice: -3,
            text: 5,
            record: 2,
            returned: 2.75f64.to_bits(),
        };
    });
    assert_eq!(e.language, 1);
    assert_eq!(f64::from_bits(e.data[0]), 99.25);
    assert_eq!(e.data[2], 1);
    assert_eq!(e.texts[e.slots[3] as usize], "13912345678");
    assert_eq!(e.slots[6], 0, "queue figures are 0 in flows");
    assert_eq!(f64::from_bits(e.slots[nslots - 1]), 2.75);
}

fn field_flow() -> FlowIr {
    let mut f = Fb::default();
    let rec = f.reg(Type::Record(RecordId(0)));
    let n = f.reg(Type::Number);
    let t = f.reg(Type::Text);
    let b = f.reg(Type::Bool);
    f.block(
        vec![
            Inst::Load { dst: rec, slot: 0 },
            Inst::Field {
                dst: n,
                record: rec,
                field: 0,
                loc: 2,
            },
            store(1, n),
            Inst::Field {
                dst: t,
                record: rec,
                field: 1,
                loc: 2,
            },
            store(2, t),
            Inst::Field {
                dst: b,
                record: rec,
                field: 2,
                loc: 3,
            },
            store(3, b),
        ],
        Term::Return(None),
    );
    flow(
        "fields",
        vec![
            Type::Record(RecordId(0)),
            Type::Number,
            Type::Text,
            Type::Bool,
        ],
        f.body(),
    )
}

#[test]
fn record_fields_and_missing_records() {
    let mut ir = base();
    ir.flows.push(field_flow());
    let both = Both::new(ir);
    let setup = |c: &mut dialect_compiler::ctx::ExecCtx| {
        c.add_record(RecordValue {
            record: 0,
            fields: vec![4.5f64.to_bits(), u64::from(sym("abc")), 1],
        });
        // A record with fewer fields than its type (a short answer).
        c.add_record(RecordValue {
            record: 0,
            fields: vec![1f64.to_bits(), u64::from(sym("x"))],
        });
    };
    let e = both.run_flow(0, 0, &[1, 0, 0, 0], setup);
    assert_eq!(e.error, None);
    assert_eq!(f64::from_bits(e.slots[1]), 4.5);
    assert_eq!(e.slots[3], 1);
    let e = both.run_flow(0, 0, &[0, 0, 0, 0], setup);
    assert!(e.error.as_ref().unwrap().message.contains("did not answer"));
    assert_eq!(e.error.unwrap().loc, 2);
    let e = both.run_flow(0, 0, &[2, 0, 0, 0], setup);
    assert_eq!(
        e.error.as_ref().unwrap().message,
        "the record has no such field"
    );
    assert_eq!(e.error.unwrap().loc, 3);
    assert_eq!(
        e.slots[2],
        u64::from(sym("x")),
        "fields before the error are kept"
    );
    let e = both.run_flow(0, 0, &[99, 0, 0, 0], setup);
    assert!(e.error.is_some());
}

#[test]
fn concatenation_and_interpolation_make_the_same_texts() {
    let mut ir = base();
    let mut f = Fb::default();
    let a = f.reg(Type::Text);
    let b = f.reg(Type::Text);
    let c = f.reg(Type::Text);
    let n = f.reg(Type::Number);
    let d = f.reg(Type::Duration);
    let day = f.reg(Type::Date);
    let tm = f.reg(Type::Time);
    let flag = f.reg(Type::Bool);
    let out = f.reg(Type::Text);
    f.block(
        vec![
            Inst::Load { dst: a, slot: 0 },
            Inst::Load { dst: b, slot: 1 },
            Inst::Concat { dst: c, a, b },
            Inst::Concat { dst: c, a: c, b: c },
            store(2, c),
            Inst::Load { dst: n, slot: 3 },
            int(d, 90_000),
            int(day, 20_000),
            int(tm, 8 * 3600 + 30 * 60),
            int(flag, 1),
            Inst::Format {
                dst: out,
                template: 0,
                args: vec![n, c, d, day, tm, flag],
            },
            store(4, out),
        ],
        Term::Return(None),
    );
    ir.flows.push(flow(
        "f",
        vec![Type::Text, Type::Text, Type::Text, Type::Number, Type::Text],
        f.body(),
    ));
    let both = Both::new(ir);
    for (x, y, v) in [
        ("a", "b", 1.0),
        ("", "", f64::NAN),
        ("中文电话", "hello", 12.345),
        ("a", "", -0.0),
    ] {
        let e = both.run_flow(
            0,
            0,
            &[u64::from(sym(x)), u64::from(sym(y)), 0, v.to_bits(), 0],
            |_| {},
        );
        let made = &e.texts[e.slots[2] as usize];
        assert_eq!(made, &format!("{x}{y}{x}{y}"));
        assert!(e.texts[e.slots[4] as usize].starts_with("n="));
    }
}

#[test]
fn list_membership_by_category_and_time_of_day() {
    let mut ir = base();
    let mut f = Fb::default();
    let v = f.reg(Type::Text);
    let mut insts = vec![Inst::Load { dst: v, slot: 0 }];
    for (i, category) in [None, Some(0), Some(1)].into_iter().enumerate() {
        let r = f.reg(Type::Bool);
        insts.push(Inst::InList {
            dst: r,
            value: v,
            list: 0,
            category,
        });
        insts.push(store(i as SlotId + 1, r));
    }
    f.block(insts, Term::Return(None));
    ir.flows.push(flow(
        "f",
        vec![Type::Text, Type::Bool, Type::Bool, Type::Bool],
        f.body(),
    ));
    let both = Both::new(ir);
    let noon = 1_789_876_800_000i64;
    let night = noon + 11 * 3_600_000; // 23:00 in Shanghai
    let mut hits = 0;
    for number in [
        "13800000001",
        "075512345",
        "13600000001",
        "+13600000001",
        "8613900000000",
        "13900000000",
        "",
        " 13800000001 ",
    ] {
        let s = both.ctx().intern(number);
        for now in [noon, night] {
            let e = both.run_flow(0, 0, &[s, 9, 9, 9], |c| {
                c.now_ms = now;
                // The value is made at run time (not a program constant).
                assert_eq!(c.intern(number), s);
            });
            hits += e.slots[1..].iter().sum::<u64>();
        }
    }
    assert_eq!(hits, 18);
}

/// A flow calling `func` on slot arguments and storing the result in the last slot.
fn call_flow(func: Function, args: &[Type], result: Type) -> FlowIr {
    let mut f = Fb::default();
    let mut insts = vec![];
    let mut regs = vec![];
    for (i, t) in args.iter().enumerate() {
        let r = f.reg(*t);
        insts.push(Inst::Load {
            dst: r,
            slot: i as SlotId,
        });
        regs.push(r);
    }
    let r = f.reg(result);
    insts.push(Inst::Call {
        dst: r,
        func,
        args: regs,
        loc: 2,
    });
    insts.push(store(args.len() as SlotId, r));
    f.block(insts, Term::Return(None));
    let mut slots = args.to_vec();
    slots.push(result);
    flow(func.name(), slots, f.body())
}

#[test]
fn every_builtin_function_agrees() {
    use Function::*;
    let texts = [
        "",
        "12.5",
        "  42 ",
        "中文电话",
        "abc",
        "hello",
        "13800000001",
    ];
    let cases: Vec<(Function, Vec<Type>, Type)> = vec![
        (Now, vec![], Type::Time),
        (Today, vec![], Type::Date),
        (Weekday, vec![Type::Date], Type::Number),
        (IsOpen, vec![Type::Duration], Type::Bool),
        (IsWorkday, vec![Type::Duration], Type::Bool),
        (Known, vec![Type::Record(RecordId(0))], Type::Bool),
        (Len, vec![Type::Text], Type::Number),
        (Minutes, vec![Type::Duration], Type::Number),
        (Seconds, vec![Type::Duration], Type::Number),
        (Hours, vec![Type::Duration], Type::Number),
        (DaysUntil, vec![Type::Date], Type::Number),
        (Round, vec![Type::Number], Type::Number),
        (Abs, vec![Type::Number], Type::Number),
        (ToNumber, vec![Type::Text], Type::Number),
        (ToText, vec![Type::Number], Type::Text),
        (Contains, vec![Type::Text, Type::Text], Type::Bool),
        (StartsWith, vec![Type::Text, Type::Text], Type::Bool),
        (EndsWith, vec![Type::Text, Type::Text], Type::Bool),
        (LastDigits, vec![Type::Text, Type::Number], Type::Text),
    ];
    let mut ir = base();
    for (func, args, result) in &cases {
        ir.flows.push(call_flow(*func, args, *result));
    }
    let both = Both::new(ir);
    let values = |t: Type| -> Vec<u64> {
        match t {
            Type::Number => {
                let mut v = raws(true);
                v.extend(
                    [0.5, -0.5, 1.5, -2.5, 3.0, 64.0, 65.0, -1.0, 4.7, -4.7, 2.0].map(f64::to_bits),
                );
                v
            }
            Type::Text => texts.iter().map(|s| u64::from(sym(s))).collect(),
            Type::Date => vec![0, 20_362, 20_716, 20_717, u64::MAX, 100_000],
            _ => raws(false),
        }
    };
    let mut failures = 0;
    for (i, (func, args, _)) in cases.iter().enumerate() {
        // Every combination of argument values.
        let mut combos: Vec<Vec<u64>> = vec![vec![]];
        for t in args {
            let vs = match func {
                IsOpen | IsWorkday => vec![0, 1, 7],
                Known => vec![0, 1, 5],
                _ => values(*t),
            };
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    vs.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push(*v);
                        c
                    })
                })
                .collect();
        }
        for now in [1_789_876_800_000i64, 1_759_300_000_000, 0, -86_400_001] {
            for c in &combos {
                let mut slots = c.clone();
                slots.push(0);
                let e = both.run_flow(i as FlowId, 0, &slots, |ctx| ctx.now_ms = now);
                failures += usize::from(e.error.is_some());
            }
        }
    }
    // last_digits with a count outside 0..=64 (and NaN).
    assert!(failures > 0);
}

#[test]
fn terminators_jump_branch_switch_and_stop() {
    let mut ir = base();
    // b0: load v; switch v { 1 -> b1, -7 -> b2, 1 -> b3 (shadowed), 40 -> b4 } else b5
    let mut f = Fb::default();
    let v = f.reg(Type::Duration);
    let t = f.reg(Type::Text);
    let n = f.reg(Type::Number);
    let d = f.reg(Type::Duration);
    let day = f.reg(Type::Date);
    let c = f.reg(Type::Bool);
    f.block(
        vec![Inst::Load { dst: v, slot: 0 }],
        Term::Switch {
            value: v,
            cases: vec![(1, 1), (-7, 2), (1, 3), (40, 4), (i64::MIN, 6), (41, 7)],
            default: 5,
        },
    );
    f.block(vec![txt(t, sym("a"))], Term::Jump(8)); // b1
    f.block(vec![], Term::Hangup); // b2
    f.block(vec![], Term::Return(None)); // b3: never reached
    f.block(
        vec![
            num(n, 3.5),
            int(d, 60_000),
            int(day, 20_000),
            txt(t, sym("b")),
        ],
        Term::Suspend {
            template: 3,
            args: vec![n, d, day, t],
            resume: 0,
        },
    ); // b4
    f.block(
        vec![],
        Term::Fail {
            message: "no such case: 你好".into(),
            loc: 3,
        },
    ); // b5
    f.block(
        vec![],
        Term::CallFlow {
            flow: 1,
            args: vec![v, t],
            resume: 1,
        },
    ); // b6
    f.block(vec![txt(t, sym("hello"))], Term::Jump(8)); // b7
    f.block(
        vec![Inst::Load { dst: c, slot: 1 }],
        Term::Branch {
            cond: c,
            then: 9,
            otherwise: 10,
        },
    ); // b8
    f.block(
        vec![],
        Term::Suspend {
            template: 0,
            args: vec![t],
            resume: 1,
        },
    ); // b9
    f.block(
        vec![int(d, -5)],
        Term::Branch {
            cond: d,
            then: 11,
            otherwise: 11,
        },
    ); // b10
    f.block(vec![], Term::Return(None)); // b11
    let mut main = flow("main", vec![Type::Duration, Type::Bool], f.body());
    main.resumes = vec![8, 11];
    ir.flows.push(main);
    let mut g = Fb::default();
    let x = g.reg(Type::Duration);
    g.block(vec![Inst::Load { dst: x, slot: 0 }], Term::Return(Some(x)));
    let mut sub = flow("sub", vec![Type::Duration, Type::Text], g.body());
    sub.params = vec![("a".into(), Type::Duration), ("b".into(), Type::Text)];
    sub.returns = Type::Duration;
    ir.flows.push(sub);
    let both = Both::new(ir);

    let mut seen = std::collections::HashSet::new();
    for value in [1i64, -7, 40, 41, i64::MIN, 0, 2, i64::MAX] {
        for flag in [0u64, 1, 0x100] {
            let e = both.run_flow(0, 0, &[value as u64, flag], |_| {});
            seen.insert(format!(
                "{:?}",
                e.pending.as_ref().map(std::mem::discriminant)
            ));
            if value == 0 {
                assert_eq!(e.error.as_ref().unwrap().message, "no such case: 你好");
                assert_eq!(e.error.as_ref().unwrap().loc, 3);
            }
            if value == 1 {
                let want = if flag != 0 {
                    Pending::Suspend(0, vec![u64::from(sym("a"))], 1)
                } else {
                    Pending::Return(None)
                };
                assert_eq!(e.pending, Some(want));
            }
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}"); // suspend, call, return, hang up, none (error)
    // Resume points and the sub-flow.
    let e = both.run_flow(0, 8, &[0, 1], |_| {});
    assert_eq!(e.pending, Some(Pending::Suspend(0, vec![0], 1)));
    let e = both.run_flow(1, 0, &[42, 3], |_| {});
    assert_eq!(e.pending, Some(Pending::Return(Some(42))));
    // A start block that does not exist.
    let e = both.run_flow(0, 12, &[0, 1], |_| {});
    assert!(e.error.unwrap().message.contains("missing block"));
    let e = both.run_flow(0, u32::MAX, &[0, 1], |_| {});
    assert!(e.error.is_some());
}

fn spin_flow(with_tail: bool) -> FlowIr {
    // b0 -> b1 -> b2 -> b1 ... counting in slot 0 (b2 suspends when slot0 == limit)
    let mut f = Fb::default();
    let i = f.reg(Type::Duration);
    let one = f.reg(Type::Duration);
    let lim = f.reg(Type::Duration);
    let c = f.reg(Type::Bool);
    f.block(vec![int(one, 1)], Term::Jump(1));
    f.block(
        vec![
            Inst::Load { dst: i, slot: 0 },
            bin(i, BinOp::AddI, i, one),
            store(0, i),
            Inst::Load { dst: lim, slot: 1 },
            cmp(c, Cond::Eq, CmpKind::Int, i, lim),
        ],
        Term::Branch {
            cond: c,
            then: 2,
            otherwise: 1,
        },
    );
    f.block(
        vec![],
        if with_tail {
            Term::Suspend {
                template: 2,
                args: vec![i],
                resume: 0,
            }
        } else {
            Term::Hangup
        },
    );
    f.loc(1, 2);
    let mut fl = flow("spin", vec![Type::Duration, Type::Duration], f.body());
    fl.resumes = vec![0];
    fl
}

#[test]
fn the_step_budget_stops_runaway_loops_at_the_same_block() {
    let mut ir = base();
    ir.flows.push(spin_flow(true));
    ir.flows.push(spin_flow(false));
    let both = Both::new(ir);
    // Never reaches the limit: stopped by the budget.
    let e = both.run_flow(0, 0, &[0, u64::MAX], |_| {});
    let err = e.error.unwrap();
    assert!(err.message.contains("100000 steps"), "{}", err.message);
    assert_eq!(err.loc, 2);
    assert_eq!(e.budget, -1);
    assert_eq!(e.slots[0], 99_999);
    // Budgets right at the edge.
    for budget in [0i64, 1, 2, 3, 4, 5, 10, -3] {
        for lim in [1u64, 2, 3] {
            both.run_flow(0, 0, &[0, lim], |c| c.budget = budget);
            both.run_flow(1, 0, &[0, lim], |c| c.budget = budget);
        }
    }
    let e = both.run_flow(0, 0, &[0, 50_000], |_| {});
    assert_eq!(e.error, None);
    assert_eq!(e.budget, 100_000 - 1 - 50_000 - 1);
}

/// Predicate: `env0 > 1.5 and (env1 == "a" or env2 in blacklist)` plus an error path.
fn predicate() -> PredicateIr {
    let mut f = Fb::default();
    let x = f.reg(Type::Number);
    let k = f.reg(Type::Number);
    let c = f.reg(Type::Bool);
    let t = f.reg(Type::Text);
    let a = f.reg(Type::Text);
    let p = f.reg(Type::Text);
    let q = f.reg(Type::Number);
    f.block(
        vec![
            Inst::Env { dst: x, index: 0 },
            num(k, 1.5),
            cmp(c, Cond::Gt, CmpKind::Num, x, k),
        ],
        Term::Branch {
            cond: c,
            then: 1,
            otherwise: 4,
        },
    );
    f.block(
        vec![
            Inst::Env { dst: t, index: 1 },
            txt(a, sym("a")),
            cmp(c, Cond::Eq, CmpKind::Text, t, a),
        ],
        Term::Branch {
            cond: c,
            then: 4,
            otherwise: 2,
        },
    );
    f.block(
        vec![
            Inst::Env { dst: p, index: 2 },
            Inst::InList {
                dst: c,
                value: p,
                list: 0,
                category: None,
            },
            Inst::Env { dst: q, index: 3 },
            bin(q, BinOp::DivF, k, q),
        ],
        Term::Jump(4),
    );
    f.block(vec![], Term::Return(Some(c))); // b3 unused
    f.block(vec![], Term::Return(Some(c))); // b4
    PredicateIr {
        kind: PredKind::CampaignFilter(0),
        vars: vec![
            (EnvVar::Field(0), Type::Number),
            (EnvVar::Field(1), Type::Text),
            (EnvVar::Builtin(Builtin::Caller), Type::Text),
            (EnvVar::Field(2), Type::Number),
        ],
        result: Type::Bool,
        body: f.body(),
    }
}

#[test]
fn predicates_read_their_environment_and_fail_like_the_interpreter() {
    let mut ir = base();
    ir.predicates.push(predicate());
    let both = Both::new(ir);
    let mut results = vec![];
    for x in [0.0, 2.0, f64::NAN, f64::INFINITY] {
        for t in ["a", "b"] {
            for p in ["13800000001", "hello"] {
                for q in [0.0, 2.0] {
                    let env = [
                        x.to_bits(),
                        u64::from(sym(t)),
                        u64::from(sym(p)),
                        f64::to_bits(q),
                    ];
                    let e = both.eval(0, &env, |_| {});
                    results.push((e.value, e.error.is_some()));
                }
            }
        }
    }
    assert!(results.contains(&(1, false)));
    assert!(results.contains(&(0, true)));
    assert!(results.contains(&(0, false)));
    // A short environment reads as zeros; a stale pending command is dropped.
    let e = both.eval(0, &[3f64.to_bits()], |c| c.pending = Some(Pending::Hangup));
    assert_eq!(e.pending, None);
    // The budget counts predicate blocks too.
    let e = both.eval(0, &[3f64.to_bits(), 0, 0, 0], |c| c.budget = 1);
    assert!(e.error.is_some());
}

// ---- through Program: what a call sees ----------------------------------------

fn program_ir() -> ProgramIr {
    let mut ir = base();
    // main: say n/d/date/t; lookup svc.op(caller); on answer: play record.t and call
    // sub(record.n as duration...); on failure: fail (caught by on error: hang up).
    let mut f = Fb::default();
    let n = f.reg(Type::Number);
    let d = f.reg(Type::Duration);
    let day = f.reg(Type::Date);
    let t = f.reg(Type::Text);
    let kind = f.reg(Type::Duration);
    let rec = f.reg(Type::Record(RecordId(0)));
    let ret = f.reg(Type::Duration);
    let caller = f.reg(Type::Text);
    f.block(
        vec![
            num(n, 12.5),
            int(d, 90_000),
            int(day, 20_362),
            txt(t, sym("hello")),
        ],
        Term::Suspend {
            template: 3,
            args: vec![n, d, day, t],
            resume: 0,
        },
    ); // b0
    f.block(
        vec![Inst::Builtin {
            dst: caller,
            which: Builtin::Caller,
        }],
        Term::Suspend {
            template: 1,
            args: vec![caller],
            resume: 1,
        },
    ); // b1
    f.block(
        vec![Inst::Input {
            dst: kind,
            what: InputField::Kind,
        }],
        Term::Switch {
            value: kind,
            cases: vec![(InputKind::Record as i64, 3)],
            default: 4,
        },
    ); // b2
    f.block(
        vec![
            Inst::Input {
                dst: rec,
                what: InputField::Record,
            },
            store(0, rec),
            Inst::Field {
                dst: t,
                record: rec,
                field: 1,
                loc: 1,
            },
            int(d, 7),
        ],
        Term::CallFlow {
            flow: 1,
            args: vec![d],
            resume: 2,
        },
    ); // b3
    f.block(
        vec![],
        Term::Fail {
            message: "the lookup failed".into(),
            loc: 2,
        },
    ); // b4
    f.block(
        vec![
            Inst::Input {
                dst: ret,
                what: InputField::Returned,
            },
            store(1, ret),
            Inst::Load { dst: rec, slot: 0 },
            Inst::Field {
                dst: t,
                record: rec,
                field: 1,
                loc: 1,
            },
        ],
        Term::Suspend {
            template: 0,
            args: vec![t],
            resume: 3,
        },
    ); // b5
    f.block(vec![], Term::Hangup); // b6 on error
    f.block(vec![], Term::Return(None)); // b7
    let mut main = flow(
        "main",
        vec![Type::Record(RecordId(0)), Type::Duration],
        f.body(),
    );
    main.resumes = vec![1, 2, 5, 7];
    main.on_error = Some(6);
    ir.flows.push(main);
    // sub(x): pause x*3; return x + 1
    let mut g = Fb::default();
    let x = g.reg(Type::Duration);
    let three = g.reg(Type::Number);
    let one = g.reg(Type::Duration);
    g.block(
        vec![
            Inst::Load { dst: x, slot: 0 },
            num(three, 3.0),
            bin(x, BinOp::MulIF, x, three),
        ],
        Term::Suspend {
            template: 2,
            args: vec![x],
            resume: 0,
        },
    );
    g.block(
        vec![
            Inst::Load { dst: x, slot: 0 },
            int(one, 1),
            bin(x, BinOp::AddI, x, one),
        ],
        Term::Return(Some(x)),
    );
    let mut sub = flow("sub", vec![Type::Duration], g.body());
    sub.params = vec![("x".into(), Type::Duration)];
    sub.returns = Type::Duration;
    sub.resumes = vec![1];
    ir.flows.push(sub);
    ir
}

fn run_call(p: &Program, inputs: &[Input]) -> Vec<String> {
    let mut f = p
        .start(
            "main",
            CallInfo {
                caller: "13912345678".into(),
                ..CallInfo::default()
            },
        )
        .unwrap();
    let mut out = vec![];
    let mut input = Input::Start;
    for next in inputs {
        let c = f.step_at(input, 1_789_876_800_000);
        out.push(format!("{c:?} @ {} {}", f.node(), f.location()));
        out.push(format!("{:?}", f.variables()));
        if matches!(
            c,
            Command::Hangup | Command::Finished | Command::Failed { .. }
        ) {
            break;
        }
        input = next.clone();
    }
    out
}

#[test]
fn programs_give_the_same_commands_on_both_engines() {
    let interp = Program::new(program_ir(), Engine::Interp).unwrap();
    let native = Program::new(program_ir(), Engine::Native).unwrap();
    assert_eq!(native.engine(), Engine::Native);
    let answer = Input::Record(vec![
        ("n".into(), Value::Number(1.0)),
        ("t".into(), Value::Text("answer.wav".into())),
    ]);
    let scenarios = vec![
        vec![
            Input::Done,
            answer.clone(),
            Input::Done,
            Input::Done,
            Input::Done,
        ],
        vec![Input::Done, Input::Failed("timeout".into()), Input::Done],
        vec![Input::Done, Input::NoInput, Input::Done],
    ];
    for s in scenarios {
        let a = run_call(&interp, &s);
        let b = run_call(&native, &s);
        assert_eq!(a, b);
        assert!(a.len() >= 4, "{a:?}");
    }
    let a = run_call(
        &native,
        &[Input::Done, answer, Input::Done, Input::Done, Input::Done],
    );
    assert!(a.iter().any(|l| l.contains("Pause { ms: 21 }")), "{a:?}");
    assert!(a.iter().any(|l| l.contains("answer.wav")), "{a:?}");
}

// ---- generated predicates --------------------------------------------------------

mod generated {
    use super::*;
    use proptest::prelude::*;

    /// Reads choices from a proptest-made vector; 0 once it runs out, so shrinking
    /// the vector shrinks the tree.
    struct Choices<'a> {
        v: &'a [u32],
        i: usize,
    }

    impl Choices<'_> {
        fn next(&mut self, n: u32) -> u32 {
            let c = self.v.get(self.i).copied().unwrap_or(0);
            self.i += 1;
            if n == 0 { 0 } else { c % n }
        }
    }

    /// The environment: types of the inputs a generated predicate reads.
    const ENV: &[Type] = &[
        Type::Number,
        Type::Number,
        Type::Number,
        Type::Duration,
        Type::Duration,
        Type::Date,
        Type::Time,
        Type::Bool,
        Type::Bool,
        Type::Text,
        Type::Text,
        Type::Text,
    ];

    const VALUE_TYPES: &[Type] = &[
        Type::Number,
        Type::Duration,
        Type::Date,
        Type::Time,
        Type::Bool,
        Type::Text,
    ];

    /// Emits code computing a value of type `ty` into a fresh register; may add
    /// blocks (branches). `cur` is the block being filled.
    struct Gen<'a, 'b> {
        f: Fb,
        cur: BlockId,
        ch: &'a mut Choices<'b>,
        budget: u32,
    }

    impl Gen<'_, '_> {
        fn emit(&mut self, i: Inst) {
            self.f.push(self.cur, i);
        }

        fn leaf(&mut self, ty: Type) -> Reg {
            let r = self.f.reg(ty);
            let envs: Vec<u32> = ENV
                .iter()
                .enumerate()
                .filter(|(_, t)| **t == ty)
                .map(|(i, _)| i as u32)
                .collect();
            if !envs.is_empty() && self.ch.next(3) != 0 {
                let index = envs[self.ch.next(envs.len() as u32) as usize];
                self.emit(Inst::Env { dst: r, index });
                return r;
            }
            let inst = match ty {
                Type::Number => {
                    const K: &[f64] = &[0.0, 1.0, -2.5, 0.5, 1e300, f64::NAN, -0.0, 3.0, 1000.0];
                    num(r, K[self.ch.next(K.len() as u32) as usize])
                }
                Type::Text => {
                    let s = TEXTS[self.ch.next(TEXTS.len() as u32) as usize];
                    txt(r, sym(s))
                }
                Type::Bool => int(r, i64::from(self.ch.next(2))),
                _ => {
                    const K: &[i64] = &[0, 1, -1, 1000, 86_400_000, -90_000, 86_399, i64::MAX];
                    int(r, K[self.ch.next(K.len() as u32) as usize])
                }
            };
            self.emit(inst);
            r
        }

        fn expr(&mut self, ty: Type, depth: u32) -> Reg {
            if depth == 0 || self.budget == 0 {
                return self.leaf(ty);
            }
            self.budget -= 1;
            let d = depth - 1;
            match ty {
                Type::Number => match self.ch.next(9) {
                    0 => self.leaf(ty),
                    1 => {
                        let op = [BinOp::AddF, BinOp::SubF, BinOp::MulF, BinOp::DivF]
                            [self.ch.next(4) as usize];
                        let a = self.expr(Type::Number, d);
                        let b = self.expr(Type::Number, d);
                        let r = self.f.reg(ty);
                        self.emit(bin(r, op, a, b));
                        r
                    }
                    2 => {
                        let a = self.expr(Type::Duration, d);
                        let b = self.expr(Type::Duration, d);
                        let r = self.f.reg(ty);
                        self.emit(bin(r, BinOp::DivII, a, b));
                        r
                    }
                    3 => {
                        let a = self.expr(Type::Number, d);
                        let r = self.f.reg(ty);
                        self.emit(Inst::Unary {
                            dst: r,
                            op: UnOp::NegF,
                            src: a,
                        });
                        r
                    }
                    4 => {
                        let (func, arg) = [
                            (Function::Round, Type::Number),
                            (Function::Abs, Type::Number),
                            (Function::Minutes, Type::Duration),
                            (Function::Seconds, Type::Duration),
                            (Function::Hours, Type::Duration),
                            (Function::Len, Type::Text),
                            (Function::ToNumber, Type::Text),
                            (Function::Weekday, Type::Date),
                            (Function::DaysUntil, Type::Date),
                        ][self.ch.next(9) as usize];
                        let a = self.expr(arg, d);
                        let r = self.f.reg(ty);
                        self.emit(Inst::Call {
                            dst: r,
                            func,
                            args: vec![a],
                            loc: 1,
                        });
                        r
                    }
                    5 => self.select(ty, d),
                    _ => self.leaf(ty),
                },
                Type::Duration => match self.ch.next(6) {
                    1 => {
                        let op = [BinOp::AddI, BinOp::SubI][self.ch.next(2) as usize];
                        let a = self.expr(ty, d);
                        let b = self.expr(ty, d);
                        let r = self.f.reg(ty);
                        self.emit(bin(r, op, a, b));
                        r
                    }
                    2 => {
                        let op = [BinOp::MulIF, BinOp::DivIF][self.ch.next(2) as usize];
                        let a = self.expr(ty, d);
                        let b = self.expr(Type::Number, d);
                        let r = self.f.reg(ty);
                        self.emit(bin(r, op, a, b));
                        r
                    }
                    3 => {
                        let (op, t) =
                            [(BinOp::DateDiff, Type::Date), (BinOp::TimeDiff, Type::Time)]
                                [self.ch.next(2) as usize];
                        let a = self.expr(t, d);
                        let b = self.expr(t, d);
                        let r = self.f.reg(ty);
                        self.emit(bin(r, op, a, b));
                        r
                    }
                    4 => {
                        let a = self.expr(ty, d);
                        let r = self.f.reg(ty);
                        self.emit(Inst::Unary {
                            dst: r,
                            op: UnOp::NegI,
                            src: a,
                        });
                        r
                    }
                    5 => self.select(ty, d),
                    _ => self.leaf(ty),
                },
                Type::Date | Type::Time => match self.ch.next(4) {
                    1 => {
                        let op = match (ty, self.ch.next(2)) {
                            (Type::Date, 0) => BinOp::DateAddMs,
                            (Type::Date, _) => BinOp::DateSubMs,
                            (_, 0) => BinOp::TimeAddMs,
                            _ => BinOp::TimeSubMs,
                        };
                        let a = self.expr(ty, d);
                        let b = self.expr(Type::Duration, d);
                        let r = self.f.reg(ty);
                        self.emit(bin(r, op, a, b));
                        r
                    }
                    2 => {
                        let func = if ty == Type::Date {
                            Function::Today
                        } else {
                            Function::Now
                        };
                        let r = self.f.reg(ty);
                        self.emit(Inst::Call {
                            dst: r,
                            func,
                            args: vec![],
                            loc: 1,
                        });
                        r
                    }
                    3 => self.select(ty, d),
                    _ => self.leaf(ty),
                },
                Type::Bool => match self.ch.next(9) {
                    1 | 2 => {
                        let (kind, t) = match self.ch.next(6) {
                            0 | 1 => (CmpKind::Num, Type::Number),
                            2 => (CmpKind::Text, Type::Text),
                            3 => (CmpKind::Int, Type::Date),
                            4 => (CmpKind::Int, Type::Time),
                            _ => (CmpKind::Int, Type::Duration),
                        };
                        let cond = [Cond::Eq, Cond::Ne, Cond::Lt, Cond::Le, Cond::Gt, Cond::Ge]
                            [self.ch.next(6) as usize];
                        let a = self.expr(t, d);
                        let b = self.expr(t, d);
                        let r = self.f.reg(ty);
                        self.emit(cmp(r, cond, kind, a, b));
                        r
                    }
                    3 => {
                        let a = self.expr(ty, d);
                        let r = self.f.reg(ty);
                        self.emit(Inst::Unary {
                            dst: r,
                            op: UnOp::Not,
                            src: a,
                        });
                        r
                    }
                    4 => {
                        let and = self.ch.next(2) == 0;
                        self.short_circuit(and, d)
                    }
                    5 => {
                        let a = self.expr(Type::Text, d);
                        let category = [None, Some(0), Some(1)][self.ch.next(3) as usize];
                        let r = self.f.reg(ty);
                        self.emit(Inst::InList {
                            dst: r,
                            value: a,
                            list: 0,
                            category,
                        });
                        r
                    }
                    6 => {
                        let func = [
                            Function::Contains,
                            Function::StartsWith,
                            Function::EndsWith,
                            Function::IsOpen,
                            Function::IsWorkday,
                            Function::Known,
                        ][self.ch.next(6) as usize];
                        let args = match func {
                            Function::IsOpen | Function::IsWorkday => {
                                let c = self.f.reg(Type::Duration);
                                let k = i64::from(self.ch.next(2));
                                self.emit(int(c, k));
                                vec![c]
                            }
                            Function::Known => vec![self.expr(Type::Duration, d)],
                            _ => vec![self.expr(Type::Text, d), self.expr(Type::Text, d)],
                        };
                        let r = self.f.reg(ty);
                        self.emit(Inst::Call {
                            dst: r,
                            func,
                            args,
                            loc: 2,
                        });
                        r
                    }
                    7 => self.select(ty, d),
                    _ => self.leaf(ty),
                },
                _ => match self.ch.next(5) {
                    1 => {
                        let a = self.expr(Type::Text, d);
                        let b = self.expr(Type::Text, d);
                        let r = self.f.reg(Type::Text);
                        self.emit(Inst::Concat { dst: r, a, b });
                        r
                    }
                    2 => {
                        let (func, args) = if self.ch.next(2) == 0 {
                            (Function::ToText, vec![self.expr(Type::Number, d)])
                        } else {
                            (
                                Function::LastDigits,
                                vec![self.expr(Type::Text, d), self.expr(Type::Number, d)],
                            )
                        };
                        let r = self.f.reg(Type::Text);
                        self.emit(Inst::Call {
                            dst: r,
                            func,
                            args,
                            loc: 3,
                        });
                        r
                    }
                    3 => {
                        let args = vec![
                            self.expr(Type::Number, d),
                            self.expr(Type::Text, d),
                            self.expr(Type::Duration, d),
                            self.expr(Type::Date, d),
                            self.expr(Type::Time, d),
                            self.expr(Type::Bool, d),
                        ];
                        let r = self.f.reg(Type::Text);
                        self.emit(Inst::Format {
                            dst: r,
                            template: 0,
                            args,
                        });
                        r
                    }
                    4 => self.select(Type::Text, d),
                    _ => self.leaf(Type::Text),
                },
            }
        }

        /// `cond ? a : b` with a branch (or a switch on the condition) and a join block.
        fn select(&mut self, ty: Type, d: u32) -> Reg {
            let c = self.expr(Type::Bool, d);
            let r = self.f.reg(ty);
            let then = self.f.new_block();
            let other = self.f.new_block();
            let join = self.f.new_block();
            let term = if self.ch.next(2) == 0 {
                Term::Branch {
                    cond: c,
                    then,
                    otherwise: other,
                }
            } else {
                Term::Switch {
                    value: c,
                    cases: vec![(1, then)],
                    default: other,
                }
            };
            self.f.term(self.cur, term);
            for (blk, _) in [(then, 0), (other, 1)] {
                self.cur = blk;
                let v = self.expr(ty, d);
                self.emit(Inst::Copy { dst: r, src: v });
                self.f.term(self.cur, Term::Jump(join));
            }
            self.cur = join;
            r
        }

        /// `a and b` / `a or b`, evaluating `b` only when needed.
        fn short_circuit(&mut self, and: bool, d: u32) -> Reg {
            let a = self.expr(Type::Bool, d);
            let r = self.f.reg(Type::Bool);
            self.emit(Inst::Copy { dst: r, src: a });
            let rhs = self.f.new_block();
            let join = self.f.new_block();
            let (then, otherwise) = if and { (rhs, join) } else { (join, rhs) };
            self.f.term(
                self.cur,
                Term::Branch {
                    cond: a,
                    then,
                    otherwise,
                },
            );
            self.cur = rhs;
            let b = self.expr(Type::Bool, d);
            self.emit(Inst::Copy { dst: r, src: b });
            self.f.term(self.cur, Term::Jump(join));
            self.cur = join;
            r
        }
    }

    fn predicate(choices: &[u32]) -> PredicateIr {
        let mut ch = Choices { v: choices, i: 0 };
        let ty = VALUE_TYPES[ch.next(VALUE_TYPES.len() as u32) as usize];
        let mut g = Gen {
            f: Fb::default(),
            cur: 0,
            ch: &mut ch,
            budget: 40,
        };
        g.cur = g.f.new_block();
        let r = g.expr(ty, 5);
        g.f.term(g.cur, Term::Return(Some(r)));
        PredicateIr {
            kind: PredKind::Const("generated".into()),
            vars: ENV
                .iter()
                .enumerate()
                .map(|(i, t)| (EnvVar::Field(i as u32), *t))
                .collect(),
            result: ty,
            body: g.f.body(),
        }
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            3 => -1e6f64..1e6,
            1 => Just(0.0),
            1 => Just(-0.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => any::<f64>(),
            1 => (-100i32..100).prop_map(|i| f64::from(i) * 0.5),
        ]
    }

    fn integer() -> impl Strategy<Value = i64> {
        prop_oneof![
            3 => -200_000_000i64..200_000_000,
            1 => Just(0i64),
            1 => any::<i64>(),
            1 => Just(i64::MIN),
            1 => (-3i64..3).prop_map(|d| d * 86_400_000),
        ]
    }

    fn env() -> impl Strategy<Value = Vec<u64>> {
        let n = (number(), number(), number()).prop_map(|(a, b, c)| vec![a, b, c]);
        let i = (integer(), integer(), -1000i64..40_000, 0i64..86_400);
        let b = (0u64..2, prop_oneof![Just(0u64), Just(1), any::<u64>()]);
        let t = proptest::collection::vec(0..TEXTS.len() + 6, 3);
        (n, i, b, t).prop_map(|(n, (d1, d2, day, time), (b1, b2), t)| {
            let mut v: Vec<u64> = n.into_iter().map(f64::to_bits).collect();
            v.extend([d1 as u64, d2 as u64, day as u64, time as u64, b1, b2]);
            // Indices past the constants are texts made at run time (see `setup`).
            v.extend(t.into_iter().map(|s| s as u64));
            v
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 600, .. ProptestConfig::default() })]

        #[test]
        fn generated_predicates_agree(
            choices in proptest::collection::vec(any::<u32>(), 0..120),
            envs in proptest::collection::vec(env(), 1..5),
            now in prop_oneof![Just(1_789_876_800_000i64), 0i64..4_000_000_000_000],
        ) {
            let mut ir = base();
            ir.predicates.push(predicate(&choices));
            let both = Both::new(ir);
            for env in &envs {
                both.eval(0, env, |c| {
                    c.now_ms = now;
                    c.intern("0755 88");
                    c.intern("13800000001x");
                });
            }
        }
    }
}
