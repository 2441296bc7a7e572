//! The pieces printed inside one line: literals (numbers, percentages, texts,
//! dates and day ranges), expressions with the fewest parentheses their
//! precedence allows, types, destinations, `say` items, handler and choice
//! heads, and options in parentheses.

use crate::ast::*;
use crate::literal::{clock_to_string, duration_to_string};
use crate::syntax::RESERVED_WORDS;

/// A number without trailing zeros (`1.50` → `1.5`, `3.0` → `3`).
pub fn number_to_string(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        // A literal too long for a number reads as infinity; print one that reads
        // back the same rather than change the value.
        format!("1{}", "0".repeat(400))
    }
}

/// A fraction as a percentage without trailing zeros (0.8 → `80%`), the shortest
/// decimal that reads back as the same fraction.
pub fn percent_to_string(fraction: f64) -> String {
    let hundred = fraction * 100.0;
    for digits in 0..=17 {
        let s = format!("{hundred:.digits$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.parse::<f64>().map(|v| v / 100.0) == Ok(fraction) {
            return format!("{s}%");
        }
    }
    format!("{}%", number_to_string(hundred))
}

pub(super) fn time_range_to_string(r: &TimeRange) -> String {
    format!("{}-{}", clock_to_string(r.from), clock_to_string(r.to))
}

pub(super) fn date_to_string(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A text literal with its quotes, escapes (`\"`, `\\`, `\{`, `\n`, `\t`) and
/// interpolations printed back.
pub fn text_to_string(t: &Text) -> String {
    let mut out = String::from("\"");
    for part in &t.parts {
        match part {
            TextPart::Lit(s) => {
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '{' => out.push_str("\\{"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        c => out.push(c),
                    }
                }
            }
            TextPart::Expr(e) => {
                out.push('{');
                out.push_str(&expr_to_string(e));
                out.push('}');
            }
        }
    }
    out.push('"');
    out
}

const PREC_COND: u8 = 0;
const PREC_NOT: u8 = 3;
const PREC_CMP: u8 = 4;
const PREC_ADD: u8 = 5;
const PREC_NEG: u8 = 7;
const PREC_POSTFIX: u8 = 8;
const PREC_PRIMARY: u8 = 9;

pub(super) fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Cond(..) => PREC_COND,
        ExprKind::Binary(op, ..) => op.precedence(),
        ExprKind::Unary(UnaryOp::Not, _) => PREC_NOT,
        ExprKind::In { .. } => PREC_CMP,
        ExprKind::Unary(UnaryOp::Neg, _) => PREC_NEG,
        ExprKind::Field(..) => PREC_POSTFIX,
        _ => PREC_PRIMARY,
    }
}

/// An expression in canonical form, with the fewest parentheses its meaning needs.
pub fn expr_to_string(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e, PREC_COND);
    out
}

pub(super) fn write_expr(out: &mut String, e: &Expr, min: u8) {
    if prec(e) < min {
        out.push('(');
        write_expr(out, e, PREC_COND);
        out.push(')');
        return;
    }
    match &e.kind {
        ExprKind::Number(v) => out.push_str(&number_to_string(*v)),
        ExprKind::Percent(v) => out.push_str(&percent_to_string(*v)),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Duration(ms) => out.push_str(&duration_to_string(*ms)),
        ExprKind::Clock(s) => out.push_str(&clock_to_string(*s)),
        ExprKind::Date(d) => out.push_str(&date_to_string(*d)),
        ExprKind::DateTime(d) => out.push_str(&crate::literal::datetime_to_string(*d)),
        ExprKind::Text(t) => out.push_str(&text_to_string(t)),
        ExprKind::Name(i) => out.push_str(&i.name),
        ExprKind::Data(i) => {
            out.push_str("data.");
            out.push_str(&i.name);
        }
        ExprKind::Field(base, f) => {
            write_expr(out, base, PREC_POSTFIX);
            out.push('.');
            out.push_str(&f.name);
        }
        ExprKind::Call(f, args) => {
            out.push_str(&f.name);
            out.push('(');
            write_list(out, args);
            out.push(')');
        }
        ExprKind::List(items) => {
            out.push('[');
            write_list(out, items);
            out.push(']');
        }
        ExprKind::Unary(UnaryOp::Neg, x) => {
            out.push('-');
            write_expr(out, x, PREC_NEG);
        }
        ExprKind::Unary(UnaryOp::Not, x) => {
            out.push_str("not ");
            write_expr(out, x, PREC_NOT);
        }
        ExprKind::Binary(op, l, r) => {
            let p = op.precedence();
            let (lmin, rmin) = if p == PREC_CMP {
                (PREC_ADD, PREC_ADD)
            } else {
                (p, p + 1)
            };
            write_expr(out, l, lmin);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            write_expr(out, r, rmin);
        }
        ExprKind::In {
            value,
            target,
            negated,
        } => {
            write_expr(out, value, PREC_ADD);
            out.push_str(if *negated { " not in " } else { " in " });
            match target {
                InTarget::List { list, category } => {
                    out.push_str(&list.name);
                    if let Some(c) = category {
                        out.push('.');
                        out.push_str(&c.name);
                    }
                }
                InTarget::Values(items, _) => {
                    out.push('[');
                    write_list(out, items);
                    out.push(']');
                }
            }
        }
        ExprKind::Cond(c, a, b) => {
            write_expr(out, c, PREC_COND + 1);
            out.push_str(" ? ");
            write_expr(out, a, PREC_COND);
            out.push_str(" : ");
            write_expr(out, b, PREC_COND);
        }
    }
}

pub(super) fn write_list(out: &mut String, items: &[Expr]) {
    for (i, a) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_expr(out, a, PREC_COND);
    }
}

/// True when the expression's text ends with a bare name, so that a `(` right after
/// it would read as a function call (`say x (speech)` is the call `x(speech)`).
pub(super) fn ends_with_name(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Name(_) => true,
        ExprKind::Binary(_, _, r) | ExprKind::Unary(_, r) | ExprKind::Cond(_, _, r) => {
            ends_with_name(r)
        }
        _ => false,
    }
}

/// True when options could also be read as the arguments of a call: each is one
/// word without a value that is not a word of the language (`(speech, beep)`).
pub(super) fn options_look_like_args(options: &[Opt]) -> bool {
    !options.is_empty()
        && options.iter().all(|o| {
            o.value.is_none() && !o.name.contains(' ') && !RESERVED_WORDS.contains(&o.name.as_str())
        })
}

/// An expression that is followed by options or by another expression: wrapped in
/// parentheses when the next text would otherwise continue it.
pub(super) fn expr_before(e: &Expr, next_starts_with_paren: bool) -> String {
    if next_starts_with_paren && ends_with_name(e) {
        format!("({})", expr_to_string(e))
    } else {
        expr_to_string(e)
    }
}

pub(super) fn type_to_string(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Named(i) => i.name.clone(),
        TypeExpr::Enum(items, _) => format!(
            "enum({})",
            items
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(super) fn typed_fields(fields: &[TypedField]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.name.name, type_to_string(&f.ty)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn idents(items: &[Ident]) -> String {
    items
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn dest_to_string(d: &Destination) -> String {
    match d {
        Destination::Queue(i) => format!("queue {}", i.name),
        Destination::Flow(i) => format!("flow {}", i.name),
        Destination::Agent(e) => format!("agent {}", expr_to_string(e)),
        Destination::Number(e) => format!("number {}", expr_to_string(e)),
        Destination::Callback(_) => "callback".to_string(),
        Destination::Hangup(_) => "hangup".to_string(),
    }
}

/// A destination followed by options: an agent or number expression ending in a
/// name gets parentheses so the options do not read as call arguments.
pub(super) fn dest_before_options(d: &Destination) -> String {
    match d {
        Destination::Agent(e) => format!("agent {}", expr_before(e, true)),
        Destination::Number(e) => format!("number {}", expr_before(e, true)),
        d => dest_to_string(d),
    }
}

pub(super) fn say_kind_word(k: SayKind) -> &'static str {
    match k {
        SayKind::Plain => "",
        SayKind::Money => "money ",
        SayKind::Digits => "digits ",
        SayKind::Number => "number ",
        SayKind::Date => "date ",
        SayKind::Time => "time ",
    }
}

pub(super) fn say_items(items: &[SayItem], options_follow: bool) -> String {
    let n = items.len();
    items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let e = if i + 1 == n {
                expr_before(&it.value, options_follow)
            } else {
                expr_to_string(&it.value)
            };
            format!("{}{e}", say_kind_word(it.kind))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn weekday(d: u8) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .get(d as usize)
        .copied()
        .unwrap_or("sun")
}

pub(super) fn days_to_string(days: &[DayRange]) -> String {
    if let [d] = days
        && d.from == 0
        && d.to == 6
    {
        return "daily".to_string();
    }
    days.iter()
        .map(|d| {
            if d.from == d.to {
                weekday(d.from).to_string()
            } else {
                format!("{}-{}", weekday(d.from), weekday(d.to))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn periods_to_string(periods: &[TimeRange], none_word: &str) -> String {
    if periods.is_empty() {
        return none_word.to_string();
    }
    periods
        .iter()
        .map(time_range_to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn date_spans_to_string(dates: &[DateSpan]) -> String {
    dates
        .iter()
        .map(|d| {
            if d.from == d.to {
                date_to_string(d.from)
            } else {
                format!("{}..{}", date_to_string(d.from), date_to_string(d.to))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `no input`, `no match 2`, `no input final`.
pub(crate) fn handler_head(h: &InputHandler) -> String {
    let event = match h.event {
        InputEvent::NoInput => "no input",
        InputEvent::NoMatch => "no match",
    };
    match h.count {
        HandlerCount::Any => event.to_string(),
        HandlerCount::Nth(n) => format!("{event} {n}"),
        HandlerCount::Final => format!("{event} final"),
    }
}

pub(super) fn choice_head(c: &MenuChoice) -> String {
    c.patterns
        .iter()
        .map(|p| match p {
            ChoicePattern::Keys(k, _) => k.clone(),
            ChoicePattern::Phrase(t) => text_to_string(t),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// An expression placed right after another one (a notify body): a leading `-`
/// would read as subtraction, so such an expression is wrapped in parentheses.
pub(super) fn juxtaposed(e: &Expr) -> String {
    let s = expr_to_string(e);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s
    }
}

pub(super) fn opt_value_to_string(v: &OptValue) -> String {
    match v {
        OptValue::Number(n, _) => number_to_string(*n),
        OptValue::Percent(p, _) => percent_to_string(*p),
        OptValue::Duration(d) => {
            if d.unitless {
                number_to_string(d.millis as f64 / 1000.0)
            } else {
                duration_to_string(d.millis)
            }
        }
        OptValue::Clock(c, _) => clock_to_string(*c),
        OptValue::TimeRange(r) => time_range_to_string(r),
        OptValue::Date(d, _) => date_to_string(*d),
        OptValue::Range(a, b, _) => format!("{}..{}", number_to_string(*a), number_to_string(*b)),
        OptValue::Text(t) => text_to_string(t),
        OptValue::Key(k, _) => k.to_string(),
    }
}

/// `(name value, name value)`.
pub fn options_to_string(options: &[Opt]) -> String {
    let inner = options
        .iter()
        .map(|o| match &o.value {
            Some(v) => format!("{} {}", o.name, opt_value_to_string(v)),
            None => o.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("({inner})")
}

pub(super) fn opts_suffix(options: &[Opt]) -> String {
    if options.is_empty() {
        String::new()
    } else {
        format!(" {}", options_to_string(options))
    }
}
