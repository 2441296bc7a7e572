//! Scripted calls: drive a flow through a scenario without any telephony, the
//! basis of `dialect run-flow` and of the flow tests analysts write (`dialect test`).
//!
//! A test names the flow (or the dialled number), the caller, optionally the time,
//! and the steps: what the flow should do next and how the "caller" answers.
//!
//! ```yaml
//! - name: fee inquiry reads the balance as money
//!   number: "10000"
//!   caller: "13912345678"
//!   at: 2026-09-21 10:00
//!   steps:
//!     - lookup crm.customer: { id: C001, name: 张三, level: 2, status: normal, vip: false }
//!     - menu language_choice: press 1
//!     - menu main: press 1
//!     - collect account: enter 12345678
//!     - hears: 您的账户余额为
//!     - menu fee_menu: press 9
//!     - transfer queue billing
//! ```
//!
//! Prompts (play, say), notifications and pauses the steps do not mention are
//! answered "done" automatically, so a test only names what it cares about.

use serde::Deserialize;

use crate::exec::{CallInfo, Command, Input, Program, Prompt, Speech, Transfer};
use crate::ir::NotFound;
use crate::value::Value;

/// One scripted call. A key this does not know is an error (a misspelt `at`
/// would otherwise run the call at the wrong time without a word).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallScript {
    /// A name for reports.
    #[serde(default)]
    pub name: String,
    /// The flow to start.
    #[serde(default)]
    pub flow: Option<String>,
    /// Or the dialled number whose flow starts.
    #[serde(default)]
    pub number: Option<String>,
    /// The calling number.
    #[serde(default)]
    pub caller: String,
    /// The trunk group.
    #[serde(default)]
    pub trunk: String,
    /// Local time of the call, `YYYY-MM-DD HH:MM` in the project's time zone.
    #[serde(default)]
    pub at: Option<String>,
    /// Arguments for a flow that takes parameters (campaign flows).
    #[serde(default)]
    pub args: serde_json::Map<String, serde_json::Value>,
    /// What the call does, in order: each step names the command the flow must
    /// ask for next and, where the command waits for one, the caller's answer.
    pub steps: Vec<serde_json::Value>,
}

/// The outcome of a scripted call.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptResult {
    /// Every command the flow gave and the answer it got, in order.
    pub transcript: Vec<String>,
    /// Why the script failed, if it did.
    pub failure: Option<String>,
}

impl ScriptResult {
    /// True when every step matched and the call ended as expected.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// A command in the words steps use: `menu main`, `play welcome.wav`, `transfer queue billing`.
pub fn describe(c: &Command) -> String {
    match c {
        Command::Play { prompt, .. } => match prompt {
            Prompt::Files(f) => format!("play {}", f.join(", ")),
            Prompt::Speech { items, .. } => format!("say {}", speech_text(items)),
        },
        Command::Menu { name, .. } => format!("menu {name}"),
        Command::Collect { name, .. } => format!("collect {name}"),
        Command::Lookup {
            service, operation, ..
        } => format!("lookup {service}.{operation}"),
        Command::Record { .. } => "record".into(),
        Command::CreateWorkorder { kind, .. } => format!("create workorder {kind}"),
        Command::LookupWorkorder { kind, .. } => format!("lookup workorder {kind}"),
        Command::TransitionWorkorder { to, .. } => format!("transition workorder to {to}"),
        Command::Notify { channel, body, .. } => format!(
            "notify {} {body}",
            match channel {
                crate::ir::NotifyChannel::Sms => "sms",
                crate::ir::NotifyChannel::Email => "email",
            }
        ),
        Command::Transfer { to, .. } => match to {
            Transfer::Queue(q) => format!("transfer queue {q}"),
            Transfer::Agent(a) => format!("transfer agent {a}"),
            Transfer::Number(n) => format!("transfer number {n}"),
            Transfer::Flow(f) => format!("transfer flow {f}"),
        },
        Command::Pause { ms } => format!("pause {ms}ms"),
        Command::Hangup => "hangup".into(),
        Command::Finished => "end".into(),
        Command::Failed { message, location } => format!("error at {location}: {message}"),
    }
}

fn speech_text(items: &[Speech]) -> String {
    items
        .iter()
        .map(|s| match s {
            Speech::Text(t) | Speech::Digits(t) => t.clone(),
            Speech::Money(n) | Speech::Number(n) => crate::value::number_text(*n),
            Speech::Date(d) => d.format("%Y-%m-%d").to_string(),
            Speech::Time(t) => crate::value::clock_text(i64::from(*t)),
            Speech::DateTime(d) => dialect_lang::literal::datetime_to_string(*d),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the flow said or played, as text to match `hears:` against.
fn heard(c: &Command) -> Option<String> {
    let prompts: Vec<&Prompt> = match c {
        Command::Play { prompt, .. } => vec![prompt],
        Command::Menu { prompts, .. } | Command::Collect { prompts, .. } => {
            prompts.iter().collect()
        }
        _ => return None,
    };
    Some(
        prompts
            .iter()
            .map(|p| match p {
                Prompt::Files(f) => f.join(" "),
                Prompt::Speech { items, .. } => speech_text(items),
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn terminal(c: &Command) -> bool {
    matches!(
        c,
        Command::Transfer { .. } | Command::Hangup | Command::Finished | Command::Failed { .. }
    )
}

fn skippable(c: &Command) -> bool {
    matches!(
        c,
        Command::Play { .. } | Command::Notify { .. } | Command::Pause { .. }
    )
}

/// A step: what to expect (`menu main`, `hears`, ...) and the answer.
fn parse_step(v: &serde_json::Value) -> Result<(String, Option<serde_json::Value>), String> {
    match v {
        serde_json::Value::String(s) => Ok((s.trim().to_string(), None)),
        serde_json::Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().ok_or("empty step")?;
            Ok((k.trim().to_string(), Some(v.clone())))
        }
        other => Err(format!(
            "a step is `what: answer` or a single word, not {other}"
        )),
    }
}

fn matches_step(expect: &str, answer: &Option<serde_json::Value>, c: &Command) -> bool {
    if let Some(rest) = expect.strip_prefix("hears") {
        let needle = match answer {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => rest.trim_start_matches(':').trim().to_string(),
        };
        return heard(c).is_some_and(|h| h.contains(&needle));
    }
    let d = describe(c);
    if expect == "play" || expect == "say" {
        return d.starts_with(expect)
            && match answer {
                Some(serde_json::Value::String(s)) => d.contains(s.as_str()),
                _ => true,
            };
    }
    if expect.starts_with("play ") || expect.starts_with("say ") || expect.starts_with("notify") {
        return d.starts_with(expect) || d.contains(expect);
    }
    d == expect
}

fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

fn answer_for(c: &Command, answer: &Option<serde_json::Value>) -> Result<Input, String> {
    let text = match answer {
        Some(serde_json::Value::String(s)) => Some(s.trim().to_string()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let word = |w: &str| {
        text.as_deref()
            .and_then(|t| t.strip_prefix(w))
            .map(|r| r.trim().to_string())
    };
    let is = |w: &str| text.as_deref() == Some(w);
    Ok(match c {
        Command::Menu { keys, phrases, .. } => {
            if is("silence") || is("nothing") {
                Input::NoInput
            } else if is("invalid") {
                Input::NoMatch
            } else if let Some(k) = word("press") {
                match keys.iter().position(|ks| ks.contains(&k)) {
                    Some(i) => Input::Choice(i as u32),
                    None => Input::NoMatch,
                }
            } else if let Some(p) = word("say") {
                match phrases.iter().position(|ps| ps.contains(&p)) {
                    Some(i) => Input::Choice(i as u32),
                    None => Input::NoMatch,
                }
            } else {
                return Err(format!(
                    "answer a menu with `press KEY`, `say PHRASE`, `silence` or `invalid`, not {answer:?}"
                ));
            }
        }
        Command::Collect { .. } => {
            if is("silence") || is("nothing") {
                Input::NoInput
            } else if let Some(d) = word("enter") {
                Input::Digits(d)
            } else if let Some(t) = &text {
                Input::Digits(t.clone())
            } else {
                return Err("answer a collect with `enter DIGITS` or `silence`".into());
            }
        }
        Command::Lookup { not_found, .. } => match answer {
            Some(serde_json::Value::Object(m)) => Input::Record(
                m.iter()
                    .map(|(k, v)| (k.clone(), json_to_value(v)))
                    .collect(),
            ),
            Some(serde_json::Value::Array(items)) => {
                let mut records = Vec::with_capacity(items.len());
                for item in items {
                    let serde_json::Value::Object(m) = item else {
                        return Err(
                            "a lookup answered with a list takes records { name: value } only"
                                .into(),
                        );
                    };
                    records.push(
                        m.iter()
                            .map(|(k, v)| (k.clone(), json_to_value(v)))
                            .collect(),
                    );
                }
                Input::Records(records)
            }
            _ if is("not found") => match not_found {
                NotFound::Answer => Input::NotFound,
                NotFound::Else => Input::Failed("the service found nothing".into()),
            },
            _ if is("fail") || is("timeout") || is("failure") => {
                Input::Failed("scripted failure".into())
            }
            _ => {
                return Err(
                    "answer a lookup with the record's fields { name: value }, a list of records [{ ... }], `not found` or `fail`".into(),
                );
            }
        },
        Command::LookupWorkorder { .. } => match answer {
            Some(serde_json::Value::Object(m)) => Input::Record(
                m.iter()
                    .map(|(k, v)| (k.clone(), json_to_value(v)))
                    .collect(),
            ),
            _ if is("fail") || is("not found") => Input::Failed("scripted failure".into()),
            _ => {
                return Err(
                    "answer a workorder lookup with the order's fields { state: ..., phone: ... } or `not found`".into(),
                );
            }
        },
        Command::Record { .. } => Input::Recording(text.unwrap_or_else(|| "recording-1".into())),
        Command::CreateWorkorder { .. } => {
            if is("fail") {
                Input::Failed("scripted failure".into())
            } else {
                Input::Created(text.unwrap_or_else(|| "WO0001".into()))
            }
        }
        Command::Transfer { .. } => {
            if is("fail") {
                Input::Failed("scripted failure".into())
            } else {
                Input::Done
            }
        }
        _ => {
            if is("fail") {
                Input::Failed("scripted failure".into())
            } else {
                Input::Done
            }
        }
    })
}

/// Local time `YYYY-MM-DD HH:MM` in `tz` as Unix milliseconds.
fn parse_at(at: &str, tz: chrono_tz::Tz) -> Result<i64, String> {
    use chrono::TimeZone;
    let naive = chrono::NaiveDateTime::parse_from_str(at.trim(), "%Y-%m-%d %H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(at.trim(), "%Y-%m-%dT%H:%M"))
        .map_err(|_| format!("`{at}` is not a time like 2026-09-21 10:00"))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| format!("`{at}` does not exist in {tz}"))
}

/// Runs one scripted call.
pub fn run_script(program: &Program, script: &CallScript) -> ScriptResult {
    let mut transcript = Vec::new();
    let fail = |transcript: Vec<String>, msg: String| ScriptResult {
        transcript,
        failure: Some(msg),
    };
    let flow = match (&script.flow, &script.number) {
        (Some(f), _) => f.clone(),
        (None, Some(n)) => match program.flow_for_number(n) {
            Some(f) => f.to_string(),
            None => return fail(transcript, format!("no flow answers {n}")),
        },
        (None, None) => {
            return fail(
                transcript,
                "say which flow: `flow: NAME` or `number: \"10000\"`".into(),
            );
        }
    };
    let now = match &script.at {
        Some(at) => match parse_at(at, program.shared().tz) {
            Ok(t) => t,
            Err(e) => return fail(transcript, e),
        },
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    };
    let call = CallInfo {
        caller: script.caller.clone(),
        called: script.number.clone().unwrap_or_default(),
        trunk: script.trunk.clone(),
        args: script
            .args
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect(),
    };
    let mut inst = match program.start(&flow, call) {
        Ok(i) => i,
        Err(e) => return fail(transcript, e.to_string()),
    };
    let mut steps = Vec::new();
    for s in &script.steps {
        match parse_step(s) {
            Ok(x) => steps.push(x),
            Err(e) => return fail(transcript, e),
        }
    }
    let mut input = Input::Start;
    let mut next = 0;
    for _ in 0..10_000 {
        let c = inst.step_at(input, now);
        let d = describe(&c);
        match steps.get(next) {
            Some((expect, answer)) if matches_step(expect, answer, &c) => {
                next += 1;
                if terminal(&c)
                    && !matches!(answer, Some(serde_json::Value::String(s)) if s == "fail")
                {
                    transcript.push(d);
                    if next < steps.len() {
                        return fail(
                            transcript,
                            format!(
                                "the call ended, but the script goes on with `{}`",
                                steps[next].0
                            ),
                        );
                    }
                    return ScriptResult {
                        transcript,
                        failure: None,
                    };
                }
                match answer_for(&c, answer) {
                    Ok(i) => {
                        transcript.push(format!("{d}  <- {}", answer_text(&c, answer, &i)));
                        input = i;
                    }
                    Err(e) => return fail(transcript, format!("at `{expect}`: {e}")),
                }
            }
            _ if skippable(&c) => {
                transcript.push(format!("{d}  <- done"));
                input = Input::Done;
            }
            Some((expect, _)) => {
                transcript.push(d.clone());
                return fail(
                    transcript,
                    format!(
                        "expected `{expect}`, but the flow did `{d}` ({})",
                        inst.location()
                    ),
                );
            }
            None => {
                transcript.push(d.clone());
                if terminal(&c) {
                    return ScriptResult {
                        transcript,
                        failure: None,
                    };
                }
                return fail(
                    transcript,
                    format!("the script ended, but the flow went on with `{d}`"),
                );
            }
        }
    }
    fail(transcript, "the call went on for 10,000 steps".into())
}

/// How the transcript shows the caller's answer: keys as pressed and phrases
/// as said (not the index of the choice they select), and the digits of a
/// masked collect as `*`, as the runtime's trail shows them.
fn answer_text(c: &Command, answer: &Option<serde_json::Value>, i: &Input) -> String {
    let said = match answer {
        Some(serde_json::Value::String(s)) => s.trim().to_string(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    match (c, i) {
        (Command::Menu { .. }, Input::Choice(_) | Input::NoMatch)
            if said.starts_with("press ") || said.starts_with("say ") =>
        {
            let what = if matches!(i, Input::NoMatch) {
                " (no match)"
            } else {
                ""
            };
            format!("{said}{what}")
        }
        (Command::Collect { mask: true, .. }, Input::Digits(d)) => {
            format!("digits {}", "*".repeat(d.chars().count()))
        }
        _ => input_text(i),
    }
}

fn input_text(i: &Input) -> String {
    match i {
        Input::Start | Input::Done => "done".into(),
        Input::Choice(c) => format!("choice {}", c + 1),
        Input::Digits(d) => format!("digits {d}"),
        Input::NoInput => "no input".into(),
        Input::NoMatch => "no match".into(),
        Input::Record(f) => format!(
            "record {{{}}}",
            f.iter()
                .map(|(k, v)| format!("{k}: {}", v.to_text()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Input::Records(items) => format!("{} records", items.len()),
        Input::NotFound => "not found".into(),
        Input::Recording(r) => format!("recording {r}"),
        Input::Created(n) => format!("created {n}"),
        Input::Failed(r) => format!("failed ({r})"),
    }
}
