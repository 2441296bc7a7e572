//! The reference project compiles, verifies, and its main flow runs a scripted call
//! on the interpreter: the commands come out in order and variables get their values.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use dialect_compiler::exec::{Prompt, Speech, Transfer};
use dialect_compiler::value::Value;
use dialect_compiler::{CallInfo, Command, Engine, Input, Program, compile_paths};

fn hotline(engine: Engine) -> Program {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let (_, ir) = compile_paths(&[root]).expect("the hotline compiles");
    Program::new(ir, engine).expect("the IR verifies")
}

fn call(p: &Program, caller: &str) -> dialect_compiler::FlowInstance {
    let flow = p.flow_for_number("10000").expect("10000 is answered");
    p.start(
        flow,
        CallInfo {
            caller: caller.into(),
            called: "10000".into(),
            trunk: "local".into(),
            args: vec![],
        },
    )
    .unwrap()
}

const NOON: i64 = 1_789_876_800_000; // 2026-09-20 04:00 UTC = 12:00 Asia/Shanghai

#[test]
fn fee_inquiry_reads_the_balance_as_money() {
    let p = hotline(Engine::Interp);
    let mut f = call(&p, "13912345678");
    let c = f.step_at(Input::Start, NOON);
    assert!(
        matches!(&c, Command::Lookup { service, operation, .. } if service == "crm" && operation == "customer"),
        "{c:?}"
    );
    let c = f.step_at(
        Input::Record(vec![
            ("id".into(), Value::Text("C001".into())),
            ("name".into(), Value::Text("张三".into())),
            ("level".into(), Value::Number(2.0)),
            ("status".into(), Value::Text("normal".into())),
            ("vip".into(), Value::Bool(false)),
        ]),
        NOON,
    );
    let Command::Menu { name, .. } = &c else {
        panic!("{c:?}")
    };
    assert_eq!(name, "language_choice");
    let c = f.step_at(Input::Choice(0), NOON);
    assert!(
        matches!(&c, Command::Menu { name, speech: true, .. } if name == "main"),
        "{c:?}"
    );
    let data = f.data();
    assert!(
        data.contains(&("customer_id".into(), Value::Text("C001".into()))),
        "{data:?}"
    );
    // 1 -> fee inquiry: account, then password, then the balance.
    let c = f.step_at(Input::Choice(0), NOON);
    assert!(
        matches!(&c, Command::Collect { name, min: 8, max: 12, terminator: Some('#'), .. } if name == "account"),
        "{c:?}"
    );
    let c = f.step_at(Input::Digits("12345678".into()), NOON);
    assert!(
        matches!(&c, Command::Collect { name, mask: true, .. } if name == "password"),
        "{c:?}"
    );
    let c = f.step_at(Input::Digits("123456".into()), NOON);
    assert!(
        matches!(&c, Command::Lookup { operation, .. } if operation == "verify_password"),
        "{c:?}"
    );
    let c = f.step_at(
        Input::Record(vec![
            ("ok".into(), Value::Bool(true)),
            ("attempts_left".into(), Value::Number(2.0)),
        ]),
        NOON,
    );
    let Command::Lookup { operation, url, .. } = &c else {
        panic!("{c:?}")
    };
    assert_eq!(operation, "balance");
    assert!(url.ends_with("/balance/12345678"), "{url}");
    let c = f.step_at(
        Input::Record(vec![
            ("balance".into(), Value::Number(58.5)),
            ("due_date".into(), Value::Text("2026-10-15".into())),
            ("overdue".into(), Value::Bool(false)),
            ("last_payment".into(), Value::Number(100.0)),
        ]),
        NOON,
    );
    let Command::Play {
        prompt: Prompt::Speech { items, .. },
        ..
    } = &c
    else {
        panic!("{c:?}")
    };
    assert_eq!(
        items,
        &vec![Speech::Text("您的账户余额为".into()), Speech::Money(58.5)]
    );
    let c = f.step_at(Input::Done, NOON);
    assert!(
        matches!(&c, Command::Menu { name, .. } if name == "fee_menu"),
        "{c:?}"
    );
    // Deep in the call (a sub-flow returned, two lookup records held, call data
    // set), the per-call state stays small.
    assert!(
        f.state_bytes() < 4096,
        "per-call state is {} bytes",
        f.state_bytes()
    );
    // 9 -> transfer to the billing queue.
    let c = f.step_at(Input::Choice(1), NOON);
    assert_eq!(
        c,
        Command::Transfer {
            to: Transfer::Queue("billing".into()),
            timeout_ms: None,
            via: None,
            caller_id: None,
            priority: None,
        }
    );
}

#[test]
fn blacklisted_callers_hear_the_block_message_and_are_hung_up() {
    let p = hotline(Engine::Interp);
    let mut f = call(&p, "13800000001");
    let c = f.step_at(Input::Start, NOON);
    assert!(
        matches!(&c, Command::Play { prompt: Prompt::Files(files), .. } if files == &vec!["blocked.wav".to_string()]),
        "{c:?}"
    );
    assert_eq!(f.step_at(Input::Done, NOON), Command::Hangup);
}

#[test]
fn no_input_three_times_goes_to_an_agent() {
    let p = hotline(Engine::Interp);
    let mut f = call(&p, "13912345678");
    f.step_at(Input::Start, NOON);
    let _ = f.step_at(Input::Failed("timeout".into()), NOON); // CRM down: guest
    let c = f.step_at(Input::Choice(0), NOON);
    assert!(
        matches!(&c, Command::Menu { name, attempt: 1, .. } if name == "main"),
        "{c:?}"
    );
    let c = f.step_at(Input::NoInput, NOON);
    assert!(
        matches!(&c, Command::Play { prompt: Prompt::Files(f), .. } if f[0] == "no_input.wav"),
        "{c:?}"
    );
    let c = f.step_at(Input::Done, NOON);
    assert!(matches!(&c, Command::Menu { attempt: 2, .. }), "{c:?}");
    let c = f.step_at(Input::NoInput, NOON);
    assert!(
        matches!(
            &c,
            Command::Play {
                prompt: Prompt::Speech { .. },
                ..
            }
        ),
        "{c:?}"
    );
    let c = f.step_at(Input::Done, NOON);
    assert!(matches!(&c, Command::Menu { attempt: 3, .. }), "{c:?}");
    let c = f.step_at(Input::NoInput, NOON);
    assert!(
        matches!(&c, Command::Transfer { to: Transfer::Queue(q), .. } if q == "general"),
        "{c:?}"
    );
}

#[test]
fn a_failed_transfer_goes_to_the_flows_error_handling() {
    let p = hotline(Engine::Interp);
    let mut f = call(&p, "13912345678");
    f.step_at(Input::Start, NOON);
    f.step_at(Input::Failed("timeout".into()), NOON);
    f.step_at(Input::Choice(0), NOON);
    let c = f.step_at(Input::Choice(5), NOON); // 0 -> agent
    assert!(matches!(&c, Command::Transfer { .. }), "{c:?}");
    // The queue is not available: no else, so `on error` speaks and transfers again.
    let c = f.step_at(Input::Failed("queue not available".into()), NOON);
    assert!(
        matches!(
            &c,
            Command::Play {
                prompt: Prompt::Speech { .. },
                ..
            }
        ),
        "{c:?}"
    );
}
