//! The rules a lifecycle (a compiled `workorder` declaration, [`WorkorderIr`])
//! imposes, as pure functions: field validation, the transition that applies, the
//! guard, the time limit and timers of a state (business hours or wall time), and
//! the readable order number.

use std::collections::BTreeMap;

use dialect_compiler::calendar::Calendar;
use dialect_compiler::ir::{EnvVar, RemindIr, TransitionIr, WorkorderIr, WorkorderStateIr};
use dialect_compiler::value::Value;
use dialect_compiler::{Evaluator, Program};
use dialect_lang::types::{Builtin, Type};

use super::WoError;
use super::model::{Timer, TimerLimit};

/// A lifecycle by name.
pub fn lifecycle<'a>(program: &'a Program, kind: &str) -> Result<&'a WorkorderIr, WoError> {
    program
        .ir()
        .workorders
        .iter()
        .find(|w| w.name == kind)
        .ok_or_else(|| {
            let known: Vec<&str> = program
                .ir()
                .workorders
                .iter()
                .map(|w| w.name.as_str())
                .collect();
            WoError::invalid(
                "kind",
                format!(
                    "there is no workorder type `{kind}`; the types are: {}",
                    known.join(", ")
                ),
            )
        })
}

/// A state of a lifecycle by name.
pub fn state<'a>(ir: &'a WorkorderIr, name: &str) -> Option<&'a WorkorderStateIr> {
    ir.states.iter().find(|s| s.name == name)
}

/// Whether a state is final (unknown states count as open).
pub fn is_final(ir: &WorkorderIr, name: &str) -> bool {
    state(ir, name).is_some_and(|s| s.is_final)
}

/// True when `s` looks like a telephone number: an optional `+`, then 3 to 20
/// digits, with `-` or spaces between groups.
pub fn is_phone(s: &str) -> bool {
    let body = s.strip_prefix('+').unwrap_or(s);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    (3..=20).contains(&digits)
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
        && body.starts_with(|c: char| c.is_ascii_digit())
        && body.ends_with(|c: char| c.is_ascii_digit())
}

/// Checks one field value against its declaration and returns its stored form.
fn check_value(
    ir: &WorkorderIr,
    name: &str,
    v: &serde_json::Value,
) -> Result<serde_json::Value, WoError> {
    let Some(f) = ir.fields.iter().find(|f| f.name == name) else {
        let known: Vec<&str> = ir.fields.iter().map(|f| f.name.as_str()).collect();
        return Err(WoError::invalid(
            name,
            format!(
                "a `{}` workorder has no field `{name}`; its fields are: {}",
                ir.name,
                known.join(", ")
            ),
        ));
    };
    let wrong = |what: &str| {
        WoError::invalid(
            name,
            format!(
                "`{name}` must be {what}, not {}",
                match v {
                    serde_json::Value::Null => "null".to_string(),
                    serde_json::Value::Bool(_) => "true/false".to_string(),
                    serde_json::Value::Number(n) => format!("the number {n}"),
                    serde_json::Value::String(s) => format!("the text \"{s}\""),
                    serde_json::Value::Array(_) => "a list".to_string(),
                    serde_json::Value::Object(_) => "an object".to_string(),
                }
            ),
        )
    };
    match f.kind.as_str() {
        "enum" => {
            let s = v.as_str().ok_or_else(|| wrong("one of the listed words"))?;
            if !f.values.iter().any(|x| x == s) {
                return Err(WoError::invalid(
                    name,
                    format!(
                        "`{s}` is not a value of `{name}`; use one of: {}",
                        f.values.join(", ")
                    ),
                ));
            }
            Ok(v.clone())
        }
        "phone" => {
            let s = v
                .as_str()
                .ok_or_else(|| wrong("a telephone number (text)"))?;
            if !s.is_empty() && !is_phone(s) {
                return Err(WoError::invalid(
                    name,
                    format!("`{s}` is not a telephone number (digits, such as 02012345678)"),
                ));
            }
            Ok(v.clone())
        }
        _ => match f.ty {
            Type::Number => {
                let n = v.as_f64().ok_or_else(|| wrong("a number"))?;
                if !n.is_finite() {
                    return Err(wrong("a finite number"));
                }
                Ok(v.clone())
            }
            Type::Bool => {
                v.as_bool().ok_or_else(|| wrong("true or false"))?;
                Ok(v.clone())
            }
            Type::Date => {
                let s = v
                    .as_str()
                    .ok_or_else(|| wrong("a date such as 2026-11-22"))?;
                if !s.is_empty() && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
                    return Err(WoError::invalid(
                        name,
                        format!("`{s}` is not a date such as 2026-11-22"),
                    ));
                }
                Ok(v.clone())
            }
            Type::DateTime => {
                let s = v
                    .as_str()
                    .ok_or_else(|| wrong("a date and time such as 2026-12-07 14:30"))?;
                if !s.is_empty()
                    && dialect_lang::literal::parse_datetime(s).is_none()
                    && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err()
                {
                    return Err(WoError::invalid(
                        name,
                        format!("`{s}` is not a date and time such as 2026-12-07 14:30"),
                    ));
                }
                Ok(v.clone())
            }
            _ => {
                let s = v.as_str().ok_or_else(|| wrong("a text"))?;
                if s.chars().count() > 10_000 {
                    return Err(WoError::invalid(
                        name,
                        format!("`{name}` is longer than 10000 characters"),
                    ));
                }
                Ok(v.clone())
            }
        },
    }
}

/// True for a value that counts as not given.
fn is_blank(v: &serde_json::Value) -> bool {
    v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())
}

/// Validates the fields of a new order: no unknown field, each of its type, every
/// required field present. Blank optional values are dropped.
pub fn validate_new(
    ir: &WorkorderIr,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<BTreeMap<String, serde_json::Value>, WoError> {
    let mut out = BTreeMap::new();
    for (k, v) in fields {
        if is_blank(v) {
            check_known(ir, k)?;
            continue;
        }
        out.insert(k.clone(), check_value(ir, k, v)?);
    }
    for f in &ir.fields {
        if f.required && !out.contains_key(&f.name) {
            return Err(WoError::invalid(
                &f.name,
                format!("a `{}` workorder needs the field `{}`", ir.name, f.name),
            ));
        }
    }
    Ok(out)
}

fn check_known(ir: &WorkorderIr, name: &str) -> Result<(), WoError> {
    if ir.fields.iter().any(|f| f.name == name) {
        Ok(())
    } else {
        check_value(ir, name, &serde_json::Value::Null).map(|_| ())
    }
}

/// Validates changed fields (in a transition): known, typed, and a required field
/// cannot be emptied.
pub fn validate_update(
    ir: &WorkorderIr,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<BTreeMap<String, serde_json::Value>, WoError> {
    let mut out = BTreeMap::new();
    for (k, v) in fields {
        check_known(ir, k)?;
        if is_blank(v) {
            if ir.fields.iter().any(|f| f.name == *k && f.required) {
                return Err(WoError::invalid(
                    k,
                    format!("`{k}` is required and cannot be emptied"),
                ));
            }
            out.insert(k.clone(), serde_json::Value::Null);
            continue;
        }
        out.insert(k.clone(), check_value(ir, k, v)?);
    }
    Ok(out)
}

/// Converts the values a flow gives (`create workorder ... { }`) to field values.
pub fn fields_from_flow(
    ir: &WorkorderIr,
    values: Vec<(String, Value)>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (name, v) in values {
        let ty = ir.fields.iter().find(|f| f.name == name).map(|f| f.ty);
        let j = match (v, ty) {
            (Value::Number(n), Some(Type::Text | Type::Recording)) => {
                serde_json::Value::String(dialect_compiler::value::number_text(n))
            }
            (Value::Number(n), _) => serde_json::Number::from_f64(n)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            (Value::Text(t), _) => serde_json::Value::String(t),
            (Value::Bool(b), _) => serde_json::Value::Bool(b),
            (Value::Date(d), _) => serde_json::Value::String(d.format("%Y-%m-%d").to_string()),
            (Value::DateTime(d), _) => {
                serde_json::Value::String(dialect_lang::literal::datetime_to_string(d))
            }
            (other, _) => serde_json::Value::String(other.to_text()),
        };
        out.insert(name, j);
    }
    out
}

/// Why a transition cannot be taken (before roles and guards).
pub enum TransitionCheck<'a> {
    /// This transition applies.
    Ok(&'a TransitionIr),
    /// The lifecycle has no transition of that name.
    Unknown,
    /// It exists, but not from the order's current state.
    NotFromHere,
}

/// The transition called `name` out of `current`.
pub fn find_transition<'a>(ir: &'a WorkorderIr, name: &str, current: &str) -> TransitionCheck<'a> {
    let mut known = false;
    for t in &ir.transitions {
        if t.name != name {
            continue;
        }
        known = true;
        if ir
            .states
            .get(t.from as usize)
            .is_some_and(|s| s.name == current)
        {
            return TransitionCheck::Ok(t);
        }
    }
    if known {
        TransitionCheck::NotFromHere
    } else {
        TransitionCheck::Unknown
    }
}

/// The transition from `current` into `to` whose `by` list names `role`
/// (what a flow's `transition workorder N to STATE` takes), or why there is none.
pub fn transition_to(
    ir: &WorkorderIr,
    current: &str,
    to: &str,
    role: &str,
) -> Result<String, String> {
    let state_name = |i: u32| ir.states.get(i as usize).map(|s| s.name.as_str());
    let mut into_here = false;
    for t in &ir.transitions {
        if state_name(t.from) == Some(current) && state_name(t.to) == Some(to) {
            into_here = true;
            if t.roles.iter().any(|r| r == role) {
                return Ok(t.name.clone());
            }
        }
    }
    if into_here {
        Err(format!(
            "the role `{role}` may take no step from `{current}` to `{to}`"
        ))
    } else if state(ir, to).is_none() {
        Err(format!("a `{}` workorder has no state `{to}`", ir.name))
    } else {
        Err(format!("no step leads from `{current}` to `{to}`"))
    }
}

/// The names of the transitions out of a state.
pub fn transitions_from(ir: &WorkorderIr, current: &str) -> Vec<String> {
    ir.transitions
        .iter()
        .filter(|t| {
            ir.states
                .get(t.from as usize)
                .is_some_and(|s| s.name == current)
        })
        .map(|t| t.name.clone())
        .collect()
}

/// Evaluates a transition's guard over the order's fields and age.
pub fn guard_holds(
    program: &Program,
    evaluator: &mut Evaluator,
    ir: &WorkorderIr,
    pred: u32,
    fields: &BTreeMap<String, serde_json::Value>,
    age_ms: i64,
    now_ms: i64,
) -> Result<bool, String> {
    if program.ir().predicates.get(pred as usize).is_none() {
        return Err("the guard is missing from the deployed program".into());
    }
    evaluator.set_now(now_ms);
    let env = evaluator.env(pred, |var| match var {
        EnvVar::Field(i) => {
            let f = ir.fields.get(*i as usize)?;
            match fields.get(&f.name)? {
                serde_json::Value::String(s) => Some(Value::Text(s.clone())),
                serde_json::Value::Number(n) => n.as_f64().map(Value::Number),
                serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
                _ => None,
            }
        }
        EnvVar::Builtin(Builtin::Age) => Some(Value::Duration(age_ms)),
        _ => None,
    });
    evaluator
        .eval_bool(pred, &env)
        .map_err(|(msg, loc)| format!("{msg} (at {loc})"))
}

/// The time limit and the timers of a state entered at `entered_ms`: limits in
/// business hours count the calendar's opening hours.
pub fn state_timers(
    st: &WorkorderStateIr,
    entered_ms: i64,
    calendar: Option<&Calendar>,
) -> (Option<i64>, Vec<Timer>) {
    let Some((limit, business)) = st.limit else {
        return (None, Vec::new());
    };
    if st.is_final {
        return (None, Vec::new());
    }
    // The instant at which `d` of counted time has passed since entering the state.
    let after = |d: i64| -> i64 {
        match (business, calendar) {
            (true, Some(c)) => c
                .add_business(entered_ms, d.max(0))
                .unwrap_or(entered_ms.saturating_add(d)),
            _ => entered_ms.saturating_add(d.max(0)),
        }
    };
    let deadline = after(limit);
    let watched = TimerLimit {
        target: st.name.clone(),
        from: None,
        limit_ms: limit,
        business: business && calendar.is_some(),
        deadline_ms: deadline,
    };
    let mut timers = Vec::new();
    for (when, to) in &st.reminders {
        let due = match when {
            RemindIr::Before(d) => after(limit - d),
            RemindIr::AtLimit => deadline,
            RemindIr::Fraction(f) => after((limit as f64 * f) as i64),
        };
        timers.push(Timer {
            due_ms: due,
            action: "remind".into(),
            to: to.clone(),
            fired: false,
            limit: Some(watched.clone()),
        });
    }
    for (delay, to) in &st.escalations {
        timers.push(Timer {
            due_ms: after(limit + delay),
            action: "escalate".into(),
            to: to.clone(),
            fired: false,
            limit: Some(watched.clone()),
        });
    }
    (Some(deadline), timers)
}

/// The timers of the lifecycle's limits spanning several states
/// (`TARGET within D from FROM`) for an order that has just entered `current`:
/// each limit counts from the order's latest entry into `FROM` and holds until
/// it reaches `TARGET` (entering `TARGET`, or a final state, ends it). Timers
/// that already fired stay fired.
pub fn span_timers(
    ir: &WorkorderIr,
    current: &str,
    entered_ms: &BTreeMap<String, i64>,
    old: &[Timer],
    calendar: Option<&Calendar>,
) -> Vec<Timer> {
    let mut out = Vec::new();
    if is_final(ir, current) {
        return out;
    }
    let name = |i: u32| ir.states.get(i as usize).map(|s| s.name.as_str());
    for l in &ir.span_limits {
        let (Some(from), Some(target)) = (name(l.from), name(l.target)) else {
            continue;
        };
        if current == target {
            continue;
        }
        let Some(&start) = entered_ms.get(from) else {
            continue;
        };
        if entered_ms.get(target).is_some_and(|&t| t >= start) {
            continue;
        }
        let st = WorkorderStateIr {
            name: target.to_string(),
            label: String::new(),
            initial: false,
            is_final: false,
            limit: Some(l.limit),
            reminders: l.reminders.clone(),
            escalations: l.escalations.clone(),
        };
        let (_, timers) = state_timers(&st, start, calendar);
        for mut t in timers {
            if let Some(l) = &mut t.limit {
                l.from = Some(from.to_string());
            }
            t.fired = old
                .iter()
                .any(|o| o.fired && o.due_ms == t.due_ms && o.action == t.action && o.to == t.to);
            out.push(t);
        }
    }
    out
}

/// The order number for the `seq`-th order of a local date: `YYYYMMDD` and at
/// least five digits (`2026112200017`), digits only so that a flow can read it out
/// and a caller can key it in.
pub fn order_number(date: chrono::NaiveDate, seq: u64) -> String {
    format!("{}{seq:05}", date.format("%Y%m%d"))
}

pub use crate::auth::mask;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_ends() {
        assert_eq!(mask("110101199001011234"), "110***********1234");
        assert_eq!(mask("6222020200112233"), "622*********2233");
        assert_eq!(mask("1234"), "****");
        assert_eq!(mask(""), "");
    }

    #[test]
    fn phone_numbers() {
        assert!(is_phone("13800138000"));
        assert!(is_phone("+86 20 1234 5678"));
        assert!(is_phone("020-12345678"));
        assert!(!is_phone("12"));
        assert!(!is_phone("call me"));
        assert!(!is_phone("1380013800a"));
        assert!(!is_phone("-123"));
    }

    #[test]
    fn numbers_are_date_and_sequence() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(order_number(d, 17), "2026112200017");
        assert_eq!(order_number(d, 123456), "20261122123456");
    }
}
