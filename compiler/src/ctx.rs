//! The execution context both back-ends run in, and the operations they share.
//!
//! A flow step or a predicate runs against an [`ExecCtx`]: the call's texts and
//! records, its call data, the result it was resumed with, the clock, a step budget
//! and the error raised, if any. Everything that is not plain arithmetic goes
//! through the methods here — the interpreter calls them directly and the native
//! code calls them through the `extern "C"` helpers of `jit::helpers` — so both
//! back-ends compute the same thing by construction.

use std::sync::Arc;

use crate::calendar::{Calendar, local_in};
use crate::ir::{FormatPart, Function, InputField, LocId, ProgramIr, Sym, TemplateId, Type};
use crate::value::{
    CompiledList, Entries, Interner, RecordValue, Texts, date_to_days, days_to_date, number_text,
    raw_text,
};

/// Blocks a single step may run before it is stopped as a runaway loop.
pub const STEP_BUDGET: i64 = 100_000;

/// The parts of a program every execution shares (read-only).
#[derive(Debug)]
pub struct Shared {
    /// The program's IR, which both back-ends run and which holds the texts and
    /// locations error messages refer to.
    pub ir: ProgramIr,
    /// The constant texts.
    pub interner: Arc<Interner>,
    /// Lists, compiled.
    pub lists: Vec<CompiledList>,
    /// Calendars, compiled.
    pub calendars: Vec<Calendar>,
    /// The project's time zone (the first calendar's; UTC without calendars).
    pub tz: chrono_tz::Tz,
}

impl Shared {
    /// Prepares the shared parts of a program.
    pub fn new(ir: ProgramIr) -> Shared {
        let interner = Arc::new(Interner::from_texts(&ir.texts));
        let lists = ir
            .lists
            .iter()
            .map(|l| CompiledList {
                all: Entries::new(&l.entries),
                categories: l
                    .categories
                    .iter()
                    .map(|c| (Entries::new(&c.entries), c.active))
                    .collect(),
            })
            .collect();
        let calendars: Vec<Calendar> = ir.calendars.iter().map(Calendar::new).collect();
        let tz = calendars
            .first()
            .map(Calendar::timezone)
            .unwrap_or(chrono_tz::Tz::UTC);
        Shared {
            ir,
            interner,
            lists,
            calendars,
            tz,
        }
    }
}

/// A run-time error: what went wrong and where in the flow text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtError {
    /// What went wrong, such as `division by zero`.
    pub message: String,
    /// Where (a [`LocId`]).
    pub loc: LocId,
}

/// What a step stopped on, besides an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// A suspension: template, argument values and resume id.
    Suspend(TemplateId, Vec<u64>, u32),
    /// A sub-flow call: flow, arguments and resume id.
    Call(u32, Vec<u64>, u32),
    /// The flow returned (with a value, if it returns one).
    Return(Option<u64>),
    /// The flow hung up or fell off its end.
    Hangup,
}

/// The result a suspension was resumed with, as registers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InputRegs {
    /// [`crate::ir::InputKind`] as an integer.
    pub kind: i64,
    /// Choice index.
    pub choice: i64,
    /// A text symbol (digits, recording, workorder number, failure reason).
    pub text: u64,
    /// A record handle.
    pub record: u64,
    /// A returned value.
    pub returned: u64,
}

/// The state one execution works on.
#[derive(Debug)]
pub struct ExecCtx {
    /// The program.
    pub shared: Arc<Shared>,
    /// Texts made while running.
    pub texts: Texts,
    /// Records; handle `h` (from 1) is `records[h - 1]`; handle 0 is "no record".
    pub records: Vec<RecordValue>,
    /// Lists of records (their handles); list handle `h` (from 1) is
    /// `record_lists[h - 1]`; handle 0 is the empty list.
    pub record_lists: Vec<Vec<u64>>,
    /// Call data, raw, in declaration order.
    pub data: Vec<u64>,
    /// The calling number.
    pub caller: Sym,
    /// The dialled number.
    pub called: Sym,
    /// The trunk group.
    pub trunk: Sym,
    /// Index of the call's language.
    pub language: u32,
    /// The result being resumed with.
    pub input: InputRegs,
    /// Now, in Unix milliseconds (set before each step).
    pub now_ms: i64,
    /// The error raised by the step, if any.
    pub error: Option<RtError>,
    /// What the step stopped on.
    pub pending: Option<Pending>,
    /// Blocks left before the step counts as a runaway loop.
    pub budget: i64,
}

impl ExecCtx {
    /// A fresh context for one call (or one predicate evaluation).
    pub fn new(shared: Arc<Shared>) -> ExecCtx {
        let texts = Texts::new(shared.interner.clone());
        let empty = shared.interner.get("").unwrap_or(0);
        ExecCtx {
            data: Vec::new(),
            texts,
            records: Vec::new(),
            record_lists: Vec::new(),
            caller: empty,
            called: empty,
            trunk: empty,
            language: 0,
            input: InputRegs::default(),
            now_ms: 0,
            error: None,
            pending: None,
            budget: STEP_BUDGET,
            shared,
        }
    }

    /// Raises a run-time error (the first one wins).
    pub fn fail(&mut self, message: impl Into<String>, loc: LocId) {
        if self.error.is_none() {
            self.error = Some(RtError {
                message: message.into(),
                loc,
            });
        }
    }

    /// `a + b` for texts.
    pub fn concat(&mut self, a: u64, b: u64) -> u64 {
        let s = format!("{}{}", self.texts.get(a as Sym), self.texts.get(b as Sym));
        u64::from(self.texts.intern(&s))
    }

    /// Fills an interpolation template.
    pub fn format(&mut self, template: u32, args: &[u64]) -> u64 {
        let shared = self.shared.clone();
        let Some(t) = shared.ir.formats.get(template as usize) else {
            return u64::from(self.texts.intern(""));
        };
        let mut out = String::new();
        for p in &t.parts {
            match p {
                FormatPart::Lit(s) => out.push_str(s),
                FormatPart::Arg(i, ty) => {
                    let raw = args.get(*i as usize).copied().unwrap_or(0);
                    out.push_str(&raw_text(raw, *ty, &self.texts));
                }
            }
        }
        u64::from(self.texts.intern(&out))
    }

    /// Orders two texts: -1, 0 or 1.
    pub fn text_cmp(&self, a: u64, b: u64) -> i64 {
        match self.texts.get(a as Sym).cmp(self.texts.get(b as Sym)) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }
    }

    /// `value in list[.category]` at the current time of day.
    pub fn in_list(&self, value: u64, list: u32, category: Option<u32>) -> u64 {
        let Some(l) = self.shared.lists.get(list as usize) else {
            return 0;
        };
        let (_, secs) = local_in(self.shared.tz, self.now_ms);
        u64::from(l.contains(self.texts.get(value as Sym), category, secs))
    }

    /// `record.field`; a missing record raises an error.
    pub fn field(&mut self, record: u64, field: u32, loc: LocId) -> u64 {
        if record == 0 {
            self.fail(
                "the lookup did not answer, so its fields have no value (check known(...) first or handle it in `else`)",
                loc,
            );
            return 0;
        }
        match self
            .records
            .get(record as usize - 1)
            .and_then(|r| r.fields.get(field as usize))
        {
            Some(v) => *v,
            None => {
                self.fail("the record has no such field", loc);
                0
            }
        }
    }

    /// Adds a list of record handles and returns the list's handle.
    pub fn add_record_list(&mut self, handles: Vec<u64>) -> u64 {
        self.record_lists.push(handles);
        self.record_lists.len() as u64
    }

    /// How many records a list holds.
    pub fn item_count(&self, list: u64) -> u64 {
        match list {
            0 => 0,
            h => self
                .record_lists
                .get(h as usize - 1)
                .map_or(0, |l| l.len() as u64),
        }
    }

    /// The handle of record `index` of a list; an index outside it raises an error.
    pub fn item(&mut self, list: u64, index: u64, loc: LocId) -> u64 {
        let found = match list {
            0 => None,
            h => self
                .record_lists
                .get(h as usize - 1)
                .and_then(|l| l.get(index as usize))
                .copied(),
        };
        match found {
            Some(record) => record,
            None => {
                self.fail(
                    format!("the list has no record number {}", index.saturating_add(1)),
                    loc,
                );
                0
            }
        }
    }

    /// Adds a record and returns its handle.
    pub fn add_record(&mut self, r: RecordValue) -> u64 {
        self.records.push(r);
        self.records.len() as u64
    }

    /// A built-in function (everything but `min`/`max`, which are lowered to compares).
    pub fn call(&mut self, func: Function, args: &[u64], loc: LocId) -> u64 {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let tz = self.shared.tz;
        match func {
            Function::Now => u64::from(local_in(tz, self.now_ms).1),
            Function::Today => local_in(tz, self.now_ms).0 as u64,
            Function::Weekday => (f64::from(crate::calendar::weekday(arg(0) as i64) + 1)).to_bits(),
            Function::IsOpen => {
                let cal = self.shared.calendars.get(arg(0) as usize);
                u64::from(cal.is_some_and(|c| c.is_open(self.now_ms)))
            }
            Function::IsWorkday => {
                let cal = self.shared.calendars.get(arg(0) as usize);
                u64::from(cal.is_some_and(|c| {
                    c.day_type(c.local(self.now_ms).0) == crate::ir::DayType::Workday
                }))
            }
            Function::Known => u64::from(arg(0) != 0),
            Function::Count => (self.item_count(arg(0)) as f64).to_bits(),
            Function::Len => (self.texts.get(arg(0) as Sym).chars().count() as f64).to_bits(),
            Function::Minutes => (arg(0) as i64 as f64 / 60_000.0).to_bits(),
            Function::Seconds => (arg(0) as i64 as f64 / 1000.0).to_bits(),
            Function::Hours => (arg(0) as i64 as f64 / 3_600_000.0).to_bits(),
            Function::DaysUntil => {
                let today = local_in(tz, self.now_ms).0;
                ((arg(0) as i64 - today) as f64).to_bits()
            }
            Function::Round => f64::from_bits(arg(0)).round().to_bits(),
            Function::Abs => f64::from_bits(arg(0)).abs().to_bits(),
            Function::Min | Function::Max => {
                self.fail("min/max reached the helper", loc);
                0
            }
            Function::ToNumber => self
                .texts
                .get(arg(0) as Sym)
                .trim()
                .parse::<f64>()
                .unwrap_or(0.0)
                .to_bits(),
            Function::ToText => {
                let s = number_text(f64::from_bits(arg(0)));
                u64::from(self.texts.intern(&s))
            }
            Function::Contains | Function::StartsWith | Function::EndsWith => {
                let a = self.texts.get(arg(0) as Sym);
                let b = self.texts.get(arg(1) as Sym);
                u64::from(match func {
                    Function::Contains => a.contains(b),
                    Function::StartsWith => a.starts_with(b),
                    _ => a.ends_with(b),
                })
            }
            Function::LastDigits => {
                let s = self.texts.get(arg(0) as Sym);
                let n = f64::from_bits(arg(1));
                if !(0.0..=64.0).contains(&n) {
                    self.fail("last_digits needs a count from 0 to 64", loc);
                    return 0;
                }
                let chars: Vec<char> = s.chars().collect();
                let tail: String = chars[chars.len().saturating_sub(n as usize)..]
                    .iter()
                    .collect();
                u64::from(self.texts.intern(&tail))
            }
        }
    }

    /// Reads the result being resumed with.
    pub fn input(&self, what: InputField) -> u64 {
        match what {
            InputField::Kind => self.input.kind as u64,
            InputField::Choice => self.input.choice as u64,
            InputField::Text => self.input.text,
            InputField::Record => self.input.record,
            InputField::Returned => self.input.returned,
        }
    }

    /// `caller`, `called` or `trunk`.
    pub fn builtin(&self, which: crate::ir::Builtin) -> u64 {
        use crate::ir::Builtin::*;
        u64::from(match which {
            Caller => self.caller,
            Called => self.called,
            Trunk => self.trunk,
            _ => 0,
        })
    }

    /// Reads a call-data field.
    pub fn load_data(&self, field: u32) -> u64 {
        self.data.get(field as usize).copied().unwrap_or(0)
    }

    /// Writes a call-data field.
    pub fn store_data(&mut self, field: u32, value: u64) {
        if let Some(d) = self.data.get_mut(field as usize) {
            *d = value;
        }
    }

    /// Counts one block against the step budget; false when the budget is spent.
    pub fn tick(&mut self, loc: LocId) -> bool {
        self.budget -= 1;
        if self.budget < 0 {
            self.fail(
                format!("the flow ran {STEP_BUDGET} steps without waiting for the caller: a loop that never ends?"),
                loc,
            );
            return false;
        }
        true
    }

    /// The text of a symbol.
    pub fn text(&self, sym: u64) -> &str {
        self.texts.get(sym as Sym)
    }

    /// Interns a text.
    pub fn intern(&mut self, s: &str) -> u64 {
        u64::from(self.texts.intern(s))
    }

    /// A date register from a calendar date.
    pub fn date(d: chrono::NaiveDate) -> u64 {
        date_to_days(d) as u64
    }

    /// The calendar date of a date register.
    pub fn to_date(raw: u64) -> chrono::NaiveDate {
        days_to_date(raw as i64)
    }
}

/// A duration times a number, rounded toward zero (saturating; NaN gives 0), the
/// same in both back-ends (Cranelift's `fcvt_to_sint_sat`).
pub fn mul_duration(ms: i64, n: f64) -> i64 {
    (ms as f64 * n) as i64
}

/// A duration divided by a (non-zero) number, rounded toward zero (saturating).
pub fn div_duration(ms: i64, n: f64) -> i64 {
    (ms as f64 / n) as i64
}

/// Whether a value of `ty` lives in an `f64` register.
pub fn is_float(ty: Type) -> bool {
    ty == Type::Number
}
