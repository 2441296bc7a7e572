//! Literals and the small parts declarations share: numbers, percentages,
//! durations, clock times, dates and date ranges, texts with interpolations,
//! types and option lists. Malformed values are reported here, with what a
//! well-formed one looks like.

use super::{Builder, P, Rule, first};
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::literal::{parse_clock, parse_duration};

impl Builder<'_> {
    pub(super) fn num(&mut self, p: &P<'_>) -> f64 {
        match p.as_str().trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v.abs() < 1e15 => v,
            _ => {
                let s = self.span(p);
                self.error(
                    "malformed-number",
                    s,
                    "this number is too large (numbers go up to 999999999999999)",
                );
                0.0
            }
        }
    }

    pub(super) fn whole_number(&mut self, p: P<'_>) -> u32 {
        let v = self.num(&p);
        if v.fract() != 0.0 || !(0.0..=u32::MAX as f64).contains(&v) {
            let s = self.span(&p);
            self.error("malformed-number", s, "I expected a whole number here");
            return 0;
        }
        v as u32
    }

    pub(super) fn percent(&mut self, p: &P<'_>) -> f64 {
        let s = p.as_str().trim().trim_end_matches('%');
        s.parse::<f64>().map(|v| v / 100.0).unwrap_or_else(|_| {
            let sp = self.span(p);
            self.error("malformed-number", sp, "this percentage is malformed");
            0.0
        })
    }

    pub(super) fn duration_lit(&mut self, p: P<'_>) -> DurationLit {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::number => {
                let v = self.num(&p);
                DurationLit {
                    millis: (v * 1000.0) as i64,
                    unitless: true,
                    span,
                }
            }
            Rule::bad_duration => {
                let written = p.as_str().trim();
                let (millis, meant) = match meant_duration(written) {
                    Some((ms, meant)) => (ms, Some(meant)),
                    None => (0, None),
                };
                let d = match &meant {
                    Some(m) => Diagnostic::error(
                        "malformed-duration",
                        span,
                        format!("`{written}` is not a duration; did you mean `{m}`?"),
                    )
                    .with_label("not a duration")
                    .with_hint("the units are ms, s, m, h and d, written right after the number")
                    .with_fix(
                        format!("write `{m}`"),
                        vec![crate::diagnostic::Edit {
                            span,
                            replacement: m.clone(),
                        }],
                    ),
                    None => Diagnostic::error(
                        "malformed-duration",
                        span,
                        format!("`{written}` is not a duration"),
                    )
                    .with_label("not a duration")
                    .with_hint("the units are ms, s, m, h and d, written right after the number: 500ms, 30s, 5m, 2h, 1d, 1h30m"),
                };
                self.diags.push(d);
                DurationLit {
                    millis,
                    unitless: false,
                    span,
                }
            }
            _ => {
                let millis = parse_duration(p.as_str()).unwrap_or_else(|| {
                    self.error(
                        "malformed-duration",
                        span,
                        format!("`{}` is not a duration I can read", p.as_str()),
                    );
                    0
                });
                DurationLit {
                    millis,
                    unitless: false,
                    span,
                }
            }
        }
    }

    pub(super) fn clock(&mut self, p: &P<'_>) -> u32 {
        let span = self.span(p);
        match parse_clock(p.as_str()) {
            Some(s) => s,
            None => {
                self.diags.push(
                    Diagnostic::error(
                        "malformed-time",
                        span,
                        format!("`{}` is not a clock time", p.as_str()),
                    )
                    .with_hint("clock times go from 00:00 to 24:00, with minutes below 60"),
                );
                0
            }
        }
    }

    pub(super) fn datetime(&mut self, p: &P<'_>) -> chrono::NaiveDateTime {
        let span = self.span(p);
        match crate::literal::parse_datetime(p.as_str()) {
            Some(d) => d,
            None => {
                self.diags.push(
                    Diagnostic::error(
                        "malformed-date",
                        span,
                        format!("`{}` is not a date and time in the calendar", p.as_str()),
                    )
                    .with_hint("write year-month-day and a clock time, such as 2026-12-07 14:30"),
                );
                chrono::NaiveDateTime::default()
            }
        }
    }

    pub(super) fn date(&mut self, p: &P<'_>) -> chrono::NaiveDate {
        let span = self.span(p);
        match chrono::NaiveDate::parse_from_str(p.as_str(), "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                self.diags.push(
                    Diagnostic::error(
                        "malformed-date",
                        span,
                        format!("`{}` is not a date in the calendar", p.as_str()),
                    )
                    .with_hint("dates are written year-month-day, such as 2026-10-01"),
                );
                chrono::NaiveDate::default()
            }
        }
    }

    pub(super) fn time_range(&mut self, p: P<'_>) -> TimeRange {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let from = it.next().map(|c| self.clock(&c)).unwrap_or(0);
        let to = it.next().map(|c| self.clock(&c)).unwrap_or(0);
        TimeRange { from, to, span }
    }

    pub(super) fn time_ranges(&mut self, p: P<'_>) -> Vec<TimeRange> {
        p.into_inner()
            .filter(|c| c.as_rule() == Rule::time_range)
            .map(|c| self.time_range(c))
            .collect()
    }

    pub(super) fn date_spans(&mut self, p: P<'_>) -> Vec<DateSpan> {
        let mut out = Vec::new();
        for ds in p.into_inner() {
            let span = self.span(&ds);
            let mut it = ds.into_inner();
            let Some(a) = it.next() else { continue };
            let from = self.date(&a);
            let to = match it.next() {
                Some(b) => self.date(&b),
                None => from,
            };
            if to < from {
                self.diags.push(
                    Diagnostic::error(
                        "malformed-date",
                        span,
                        "this date range ends before it starts",
                    )
                    .with_hint("write the earlier date first: 2026-02-15..2026-02-23"),
                );
            }
            out.push(DateSpan { from, to, span });
        }
        out
    }

    pub(super) fn text(&mut self, p: P<'_>) -> Text {
        let span = self.span(&p);
        let mut parts: Vec<TextPart> = Vec::new();
        let inner = if p.as_rule() == Rule::label_text {
            p.into_inner().next()
        } else {
            Some(p)
        };
        if let Some(p) = inner {
            for part in p.into_inner() {
                match part.as_rule() {
                    Rule::text_chunk => push_lit(&mut parts, part.as_str()),
                    Rule::text_escape => {
                        let c = part.as_str().chars().nth(1).unwrap_or('\\');
                        let s = match c {
                            'n' => "\n".to_string(),
                            't' => "\t".to_string(),
                            other => other.to_string(),
                        };
                        push_lit(&mut parts, &s);
                    }
                    Rule::interpolation => {
                        if let Some(e) = first(&part) {
                            parts.push(TextPart::Expr(self.expr(e)));
                        }
                    }
                    _ => {}
                }
            }
        }
        Text { parts, span }
    }

    pub(super) fn type_expr(&mut self, p: P<'_>) -> TypeExpr {
        let inner = first(&p).unwrap_or(p);
        match inner.as_rule() {
            Rule::enum_type => {
                let span = self.span(&inner);
                TypeExpr::Enum(inner.into_inner().map(|i| self.ident(i)).collect(), span)
            }
            _ => TypeExpr::Named(self.ident(inner)),
        }
    }

    pub(super) fn typed_field(&mut self, p: P<'_>) -> Option<TypedField> {
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let ty = self.type_expr(it.next()?);
        Some(TypedField { name, ty })
    }

    pub(super) fn options(&mut self, p: P<'_>) -> Vec<Opt> {
        let mut out = Vec::new();
        for o in p.into_inner() {
            let span = self.span(&o);
            let mut it = o.into_inner();
            let Some(n) = it.next() else { continue };
            let name_span = self.span(&n);
            let name = n
                .as_str()
                .split([' ', '-', '\t'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let value = it.next().and_then(|v| self.opt_value(v));
            out.push(Opt {
                name,
                name_span,
                value,
                span,
            });
        }
        out
    }

    pub(super) fn opt_value(&mut self, p: P<'_>) -> Option<OptValue> {
        let v = first(&p)?;
        let span = self.span(&v);
        Some(match v.as_rule() {
            Rule::date => OptValue::Date(self.date(&v), span),
            Rule::time_range => OptValue::TimeRange(self.time_range(v)),
            Rule::clock => OptValue::Clock(self.clock(&v), span),
            Rule::duration | Rule::bad_duration => OptValue::Duration(self.duration_lit(v)),
            Rule::percent => OptValue::Percent(self.percent(&v), span),
            Rule::range => {
                let mut it = v.into_inner();
                let a = it.next().map(|x| self.num(&x)).unwrap_or(0.0);
                let b = it.next().map(|x| self.num(&x)).unwrap_or(0.0);
                OptValue::Range(a, b, span)
            }
            Rule::number => OptValue::Number(self.num(&v), span),
            Rule::text => OptValue::Text(self.text(v)),
            Rule::key_literal => OptValue::Key(v.as_str().chars().next().unwrap_or('#'), span),
            _ => return None,
        })
    }
}

fn push_lit(parts: &mut Vec<TextPart>, s: &str) {
    if let Some(TextPart::Lit(last)) = parts.last_mut() {
        last.push_str(s);
    } else {
        parts.push(TextPart::Lit(s.to_string()));
    }
}

/// What a duration written with a unit Dialect does not have (`10min`, `30sec`,
/// `2hr`, `1.5h`, `10分钟`) most likely means: its length and how to write it.
fn meant_duration(written: &str) -> Option<(i64, String)> {
    let mut total_ms: f64 = 0.0;
    let mut rest = written;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let word_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_ms = match rest[..word_len].to_lowercase().as_str() {
            "ms" | "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" | "毫秒" => 1.0,
            "s" | "sec" | "secs" | "second" | "seconds" | "秒" | "秒钟" | "秒鐘" => 1000.0,
            "m" | "min" | "mins" | "minute" | "minutes" | "mn" | "分" | "分钟" | "分鐘" => {
                60_000.0
            }
            "h" | "hr" | "hrs" | "hour" | "hours" | "小时" | "小時" | "时" | "時" | "钟头" => {
                3_600_000.0
            }
            "d" | "day" | "days" | "天" | "日" => 86_400_000.0,
            _ => return None,
        };
        rest = &rest[word_len..];
        total_ms += n * unit_ms;
    }
    if !(total_ms.is_finite() && (0.0..1e15).contains(&total_ms)) {
        return None;
    }
    let ms = total_ms.round() as i64;
    Some((ms, crate::literal::duration_to_string(ms)))
}

#[cfg(test)]
mod tests {
    use super::meant_duration;

    #[test]
    fn units_that_are_almost_right() {
        let m = |s: &str| meant_duration(s).map(|(_, w)| w);
        assert_eq!(m("10min").as_deref(), Some("10m"));
        assert_eq!(m("30sec").as_deref(), Some("30s"));
        assert_eq!(m("2hr").as_deref(), Some("2h"));
        assert_eq!(m("1.5h").as_deref(), Some("1h30m"));
        assert_eq!(m("1h30min").as_deref(), Some("1h30m"));
        assert_eq!(m("10分钟").as_deref(), Some("10m"));
        assert_eq!(m("3days").as_deref(), Some("3d"));
        assert_eq!(m("10x"), None);
    }
}
