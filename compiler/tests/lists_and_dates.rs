//! Lookups that answer lists of records, `for each` with its bound, a service's
//! "not found" answer, and dates with times, on both engines: each case runs on
//! the interpreter and the native code, and both must say the same thing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dialect_compiler::exec::{Prompt, Speech};
use dialect_compiler::value::Value;
use dialect_compiler::{CallInfo, Command, Engine, Input, Program};

mod common;

const SOURCE: &str = r#"
service billing {
  url "http://127.0.0.1:9/billing"
  get bills "/bills/{account}" (account: text) -> list of { month: text, amount: money }
}

service crm {
  url "http://127.0.0.1:9/crm"
  not found -> answer
  get customer "/customers/{phone}" (phone: phone) -> { name: text, repair_at: datetime }
  get visits "/visits/{phone}" (phone: phone) -> list of { at: datetime }
}

flow bills on "100" {
  bills = lookup billing.bills("A1") else {
    say "the billing system is busy"
    hangup
  }
  say "you have {count(bills)} bills"
  for each bill in bills (max 3) {
    say bill.month, money bill.amount
  }
  say "that is all"
}

flow repair on "200" {
  customer = lookup crm.customer(caller) else {
    say "the customer system is busy"
    hangup
  }
  if not known(customer) {
    say "no such customer"
    hangup
  }
  say "expected at", customer.repair_at
  late = customer.repair_at > 2026-12-07 12:00
  say "late: {late}, two hours later: {customer.repair_at + 2h}"
  say "the day: {2026-12-07 + 18:30}, waited {customer.repair_at - 2026-12-07T12:00}"
  say date customer.repair_at, time customer.repair_at
}

flow visits on "300" {
  visits = lookup crm.visits(caller) else {
    hangup
  }
  for each visit in visits {
    say "visit", visit.at
  }
  say "visits: {count(visits)}"
}
"#;

const ENGINES: [Engine; 2] = [Engine::Native, Engine::Interp];

fn program(engine: Engine) -> Program {
    common::program_from_source("lists_and_dates.flow", SOURCE, engine)
}

/// Runs `flow` with `answer` for its first lookup; returns what was said, one
/// line per `say`, until the flow hangs up or ends.
fn said(p: &Program, called: &str, flow: &str, answer: Input) -> Vec<String> {
    let call = CallInfo {
        caller: "13800000000".into(),
        called: called.into(),
        trunk: String::new(),
        args: Vec::new(),
    };
    let mut inst = p.start(flow, call).unwrap();
    let mut c = inst.step(Input::Start);
    assert!(matches!(c, Command::Lookup { .. }), "{c:?}");
    c = inst.step(answer);
    let mut out = Vec::new();
    for _ in 0..50 {
        match &c {
            Command::Play {
                prompt: Prompt::Speech { items, .. },
                ..
            } => {
                out.push(
                    items
                        .iter()
                        .map(|s| match s {
                            Speech::Text(t) => t.clone(),
                            Speech::Money(n) => format!("money {n}"),
                            Speech::DateTime(d) => format!("datetime {d}"),
                            Speech::Date(d) => format!("date {d}"),
                            Speech::Time(t) => format!("time {t}"),
                            other => format!("{other:?}"),
                        })
                        .collect::<Vec<_>>()
                        .join(" | "),
                );
                c = inst.step(Input::Done);
            }
            Command::Hangup | Command::Finished => return out,
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("the flow did not end: {out:?}")
}

fn bill(month: &str, amount: f64) -> Vec<(String, Value)> {
    vec![
        ("month".into(), Value::Text(month.into())),
        ("amount".into(), Value::Number(amount)),
    ]
}

#[test]
fn each_bill_is_said_and_the_bound_stops_the_loop() {
    let answer = || {
        Input::Records(vec![
            bill("October", 58.5),
            bill("November", 61.0),
            bill("December", 12.25),
            bill("January", 99.0),
        ])
    };
    for e in ENGINES {
        let p = program(e);
        assert_eq!(
            said(&p, "100", "bills", answer()),
            [
                "you have 4 bills",
                "October | money 58.5",
                "November | money 61",
                "December | money 12.25",
                "that is all",
            ],
            "{e:?}"
        );
    }
}

#[test]
fn an_empty_list_runs_the_loop_zero_times() {
    for e in ENGINES {
        let p = program(e);
        assert_eq!(
            said(&p, "100", "bills", Input::Records(Vec::new())),
            ["you have 0 bills", "that is all"],
            "{e:?}"
        );
    }
}

#[test]
fn a_failed_list_lookup_takes_else() {
    for e in ENGINES {
        let p = program(e);
        assert_eq!(
            said(&p, "100", "bills", Input::Failed("503".into())),
            ["the billing system is busy"],
            "{e:?}"
        );
    }
}

#[test]
fn not_found_is_an_answer_without_a_record() {
    for e in ENGINES {
        let p = program(e);
        assert_eq!(
            said(&p, "200", "repair", Input::NotFound),
            ["no such customer"],
            "{e:?}"
        );
        assert_eq!(
            said(&p, "300", "visits", Input::NotFound),
            ["visits: 0"],
            "{e:?}"
        );
    }
}

#[test]
fn dates_with_times_compare_add_and_are_said() {
    let answer = || {
        Input::Record(vec![
            ("name".into(), Value::Text("Li".into())),
            (
                "repair_at".into(),
                Value::Text("2026-12-07T14:30:00+08:00".into()),
            ),
        ])
    };
    for e in ENGINES {
        let p = program(e);
        assert_eq!(
            said(&p, "200", "repair", answer()),
            [
                "expected at | datetime 2026-12-07 14:30:00",
                "late: true, two hours later: 2026-12-07 16:30",
                "the day: 2026-12-07 18:30, waited 2h30m",
                "date 2026-12-07 | time 52200",
            ],
            "{e:?}"
        );
    }
}

#[test]
fn each_visit_reads_its_own_date_and_time() {
    let visit = |at: &str| vec![("at".to_string(), Value::Text(at.into()))];
    for e in ENGINES {
        let p = program(e);
        assert_eq!(
            said(
                &p,
                "300",
                "visits",
                Input::Records(vec![visit("2026-11-30 09:00"), visit("2026-12-01T10:15")])
            ),
            [
                "visit | datetime 2026-11-30 09:00:00",
                "visit | datetime 2026-12-01 10:15:00",
                "visits: 2",
            ],
            "{e:?}"
        );
    }
}
