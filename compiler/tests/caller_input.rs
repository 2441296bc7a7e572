//! What the caller types and how a call leaves for a queue, on both engines:
//! a collect's terminator is never part of the digits (nor counted against
//! `min` and `max`), a transfer's `(priority N)` reaches the queue, and a
//! scripted call's transcript shows keys as pressed and masked digits masked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dialect_compiler::exec::Transfer;
use dialect_compiler::script::{CallScript, run_script};
use dialect_compiler::{CallInfo, Command, Engine, Input, Program};

mod common;

const SOURCE: &str = r#"
skill general
queue general {
  skills general
  max wait 5m -> hangup
}

flow main on "100" {
  account = collect (min 6, max 11, terminator #, retries 1) {
    play "enter_account.wav"
    no input final -> hangup
    no match final -> hangup
  }
  data.account = account
  transfer queue general (priority 10)
}

flow secret on "101" {
  pin = collect (min 6, max 6, retries 1, mask) {
    play "enter_pin.wav"
    no input final -> hangup
    no match final -> hangup
  }
  menu main (retries 1) {
    play "menu.wav"
    0 -> transfer queue general
    no input final -> hangup
    no match final -> hangup
  }
}

calldata {
  account: text
}
"#;

const ENGINES: [Engine; 2] = [Engine::Native, Engine::Interp];

fn program(engine: Engine) -> Program {
    common::program_from_source("caller_input.flow", SOURCE, engine)
}

/// Runs `main` with `digits` entered at the collect; returns what follows it.
fn after_entering(p: &Program, digits: &str) -> Command {
    let call = CallInfo {
        caller: "13800000000".into(),
        called: "100".into(),
        trunk: String::new(),
        args: Vec::new(),
    };
    let mut inst = p.start("main", call).unwrap();
    let mut c = inst.step(Input::Start);
    while matches!(c, Command::Play { .. }) {
        c = inst.step(Input::Done);
    }
    assert!(matches!(c, Command::Collect { .. }), "{c:?}");
    let mut c = inst.step(Input::Digits(digits.into()));
    while matches!(c, Command::Play { .. }) {
        c = inst.step(Input::Done);
    }
    c
}

fn transfer_priority(c: &Command) -> Option<Option<f64>> {
    match c {
        Command::Transfer {
            to: Transfer::Queue(_),
            priority,
            ..
        } => Some(*priority),
        _ => None,
    }
}

#[test]
fn the_terminator_is_not_counted_against_min() {
    for e in ENGINES {
        let p = program(e);
        // Five digits and `#` are five digits: fewer than `min 6`.
        assert_eq!(after_entering(&p, "12345#"), Command::Hangup, "{e:?}");
        // Six digits and `#` are enough.
        assert!(
            transfer_priority(&after_entering(&p, "123456#")).is_some(),
            "{e:?}"
        );
    }
}

#[test]
fn the_terminator_is_not_counted_against_max() {
    for e in ENGINES {
        let p = program(e);
        // Eleven digits then `#`: eleven digits, within `max 11`.
        assert!(
            transfer_priority(&after_entering(&p, "13912345678#")).is_some(),
            "{e:?}"
        );
        // Twelve digits are too many, with or without the terminator.
        assert_eq!(
            after_entering(&p, "139123456789#"),
            Command::Hangup,
            "{e:?}"
        );
    }
}

#[test]
fn the_digits_stop_at_the_terminator() {
    for e in ENGINES {
        let p = program(e);
        let c = after_entering(&p, "1234567#89");
        assert!(transfer_priority(&c).is_some(), "{e:?}: {c:?}");
    }
}

#[test]
fn a_transfer_priority_reaches_the_queue() {
    for e in ENGINES {
        let p = program(e);
        let c = after_entering(&p, "12345678");
        assert_eq!(transfer_priority(&c), Some(Some(10.0)), "{e:?}: {c:?}");
    }
}

#[test]
fn the_transcript_shows_keys_as_pressed_and_masked_digits_masked() {
    let script: CallScript = serde_yaml::from_str(
        r#"
number: "101"
caller: "13800000000"
steps:
  - collect pin: enter 123456
  - menu main: press 0
  - transfer queue general
"#,
    )
    .unwrap();
    for e in ENGINES {
        let r = run_script(&program(e), &script);
        assert!(r.passed(), "{e:?}: {r:?}");
        let text = r.transcript.join("\n");
        assert!(text.contains("collect pin  <- digits ******"), "{text}");
        assert!(!text.contains("123456"), "{text}");
        assert!(text.contains("menu main  <- press 0"), "{text}");
    }
}

#[test]
fn a_test_with_an_unknown_key_is_refused() {
    let r = serde_yaml::from_str::<CallScript>(
        "number: \"101\"\natt: 2026-09-21 10:00\nsteps: [hangup]\n",
    );
    let err = r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("unknown field `att`"), "{err}");
}
