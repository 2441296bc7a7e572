//! Run-time values: how each type is held in a 64-bit register, texts as interned
//! symbols, records, the [`Value`]s commands carry to the runtime, and how values
//! are written into texts (interpolation).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::ir::{Sym, Type};

/// A date as days since 1970-01-01.
pub fn date_to_days(d: NaiveDate) -> i64 {
    d.signed_duration_since(NaiveDate::default()).num_days()
}

/// Days since 1970-01-01 as a date (clamped to the years 0..4000).
pub fn days_to_date(days: i64) -> NaiveDate {
    let days = days.clamp(-719_000, 740_000);
    NaiveDate::default()
        .checked_add_signed(chrono::Duration::days(days))
        .unwrap_or_default()
}

/// A date and time as milliseconds since 1970-01-01 00:00 on the same wall
/// clock (no time zone), so that adding a duration is adding milliseconds.
pub fn datetime_to_ms(d: NaiveDateTime) -> i64 {
    d.signed_duration_since(NaiveDateTime::default())
        .num_milliseconds()
}

/// Milliseconds since 1970-01-01 00:00 as a date and time (clamped to the
/// years 0..4000, as dates are).
pub fn ms_to_datetime(ms: i64) -> NaiveDateTime {
    let ms = ms.clamp(-719_000 * 86_400_000, 740_000 * 86_400_000);
    NaiveDateTime::default()
        .checked_add_signed(chrono::Duration::milliseconds(ms))
        .unwrap_or_default()
}

/// Constant texts of a program, interned: symbol `i` is `texts[i]`.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    texts: Vec<Arc<str>>,
    map: HashMap<Arc<str>, Sym>,
}

impl Interner {
    /// Interns the program's constant texts, in order.
    pub fn from_texts(texts: &[String]) -> Interner {
        let mut i = Interner::default();
        for t in texts {
            i.intern(t);
        }
        i
    }

    /// The symbol of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = self.texts.len() as Sym;
        let a: Arc<str> = Arc::from(s);
        self.texts.push(a.clone());
        self.map.insert(a, id);
        id
    }

    /// The symbol of `s` if it is interned.
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.map.get(s).copied()
    }

    /// The text of a symbol.
    pub fn text(&self, id: Sym) -> Option<&Arc<str>> {
        self.texts.get(id as usize)
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

/// Texts made while running (interpolations, digits, lookup answers), numbered after
/// the program's constants so that symbol equality is text equality.
#[derive(Debug, Clone)]
pub struct Texts {
    base: Arc<Interner>,
    local: Vec<Arc<str>>,
    map: HashMap<Arc<str>, Sym>,
    /// Facts about texts that back-ends may remember by symbol (the native code's
    /// list memberships); forgotten when symbols are renumbered.
    pub memo: SymbolMemo,
}

/// Small numbers remembered per symbol, in numbered tables (0 = nothing known).
/// Lives in [`Texts`] so that [`Texts::compact`], which renumbers symbols, can
/// forget it.
///
/// Native code reads the tables directly: [`MemoView`]s (one per table, at
/// `views_addr`, `views_len` of them) mirror every table's address and length and
/// are rewritten whenever a table moves, grows or is forgotten. Each view also
/// carries a `stamp` and a `word` that the back-end that owns the table may set
/// (the native code keeps there which parts of a list are active at which instant).
#[derive(Debug, Default)]
pub struct SymbolMemo {
    tables: Vec<Vec<u32>>,
    views: Vec<MemoView>,
    /// Address of the first view (mirrors `views`).
    pub(crate) views_addr: usize,
    /// Number of views (mirrors `views`).
    pub(crate) views_len: usize,
}

/// Where native code finds one memo table, and the owner's stamped word.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MemoView {
    /// Address of the table's first entry.
    pub addr: usize,
    /// Number of entries.
    pub len: usize,
    /// When `word` was computed (`i64::MIN`: never).
    pub stamp: i64,
    /// A number the table's owner keeps with `stamp`.
    pub word: u32,
}

impl MemoView {
    /// The view of an empty table.
    const EMPTY: MemoView = MemoView {
        addr: 0,
        len: 0,
        stamp: i64::MIN,
        word: 0,
    };
}

impl Clone for SymbolMemo {
    fn clone(&self) -> SymbolMemo {
        let mut m = SymbolMemo {
            tables: self.tables.clone(),
            views: self.views.clone(),
            views_addr: 0,
            views_len: 0,
        };
        for i in 0..m.tables.len() {
            m.sync(i);
        }
        m
    }
}

impl SymbolMemo {
    /// The number remembered for `sym` in `table` (0 when none).
    #[inline]
    pub fn get(&self, table: usize, sym: Sym) -> u32 {
        self.tables
            .get(table)
            .and_then(|t| t.get(sym as usize))
            .copied()
            .unwrap_or(0)
    }

    /// Remembers `value` for `sym` in `table`.
    pub fn set(&mut self, table: usize, sym: Sym, value: u32) {
        self.ensure(table);
        let t = &mut self.tables[table];
        if t.len() <= sym as usize {
            // Grow geometrically: symbols arrive in order while a list is filtered.
            let want = (sym as usize + 1).max(t.len() * 2).max(64);
            t.resize(want, 0);
        }
        t[sym as usize] = value;
        self.sync(table);
    }

    /// The stamped word of `table` (see [`MemoView`]).
    pub fn stamped(&self, table: usize) -> Option<(i64, u32)> {
        self.views.get(table).map(|v| (v.stamp, v.word))
    }

    /// Keeps `word` for `table`, computed at `stamp`.
    pub fn stamp(&mut self, table: usize, stamp: i64, word: u32) {
        self.ensure(table);
        self.views[table].stamp = stamp;
        self.views[table].word = word;
    }

    /// Makes `table` exist (with its view).
    fn ensure(&mut self, table: usize) {
        if self.tables.len() <= table {
            self.tables.resize_with(table + 1, Vec::new);
            self.views.resize(table + 1, MemoView::EMPTY);
            self.views_addr = self.views.as_ptr() as usize;
            self.views_len = self.views.len();
        }
    }

    /// Rewrites the view of `table` after it changed.
    fn sync(&mut self, table: usize) {
        let t = &self.tables[table];
        self.views[table].addr = t.as_ptr() as usize;
        self.views[table].len = t.len();
        self.views_addr = self.views.as_ptr() as usize;
        self.views_len = self.views.len();
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.tables.clear();
        self.views.clear();
        self.views_addr = self.views.as_ptr() as usize;
        self.views_len = 0;
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.tables.iter().map(|t| t.capacity() * 4).sum::<usize>()
            + self.views.capacity() * std::mem::size_of::<MemoView>()
    }
}

impl Texts {
    /// An empty local table over the program's constants.
    pub fn new(base: Arc<Interner>) -> Texts {
        Texts {
            base,
            local: Vec::new(),
            map: HashMap::new(),
            memo: SymbolMemo::default(),
        }
    }

    /// The symbol of `s`.
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(id) = self.base.get(s) {
            return id;
        }
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = (self.base.len() + self.local.len()) as Sym;
        let a: Arc<str> = Arc::from(s);
        self.local.push(a.clone());
        self.map.insert(a, id);
        id
    }

    /// The text of a symbol ("" for an unknown symbol).
    pub fn get(&self, id: Sym) -> &str {
        let base = self.base.len();
        if (id as usize) < base {
            self.base.text(id).map(|a| &**a).unwrap_or("")
        } else {
            self.local
                .get(id as usize - base)
                .map(|a| &**a)
                .unwrap_or("")
        }
    }

    /// The text of a symbol as a shared string.
    pub fn get_arc(&self, id: Sym) -> Arc<str> {
        let base = self.base.len();
        if (id as usize) < base {
            self.base.text(id).cloned().unwrap_or_else(|| Arc::from(""))
        } else {
            self.local
                .get(id as usize - base)
                .cloned()
                .unwrap_or_else(|| Arc::from(""))
        }
    }

    /// How many symbols there are: the program's constants and the texts made.
    pub fn len(&self) -> usize {
        self.base.len() + self.local.len()
    }

    /// True when there is no text at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many texts were made at run time (for memory accounting).
    pub fn local_len(&self) -> usize {
        self.local.len()
    }

    /// Bytes held by texts made at run time.
    pub fn local_bytes(&self) -> usize {
        self.local.iter().map(|s| s.len() + 16).sum::<usize>()
            + self.map.capacity() * 24
            + self.memo.bytes()
    }

    /// Keeps only the local texts in `live` (and the constants), renumbering them;
    /// returns the map from old to new symbols for the caller to rewrite its values.
    pub fn compact(&mut self, live: &[Sym]) -> HashMap<Sym, Sym> {
        let base = self.base.len() as Sym;
        let mut remap = HashMap::new();
        self.memo.clear();
        let old = std::mem::take(&mut self.local);
        self.map.clear();
        for &s in live {
            if s < base || remap.contains_key(&s) {
                continue;
            }
            if let Some(t) = old.get((s - base) as usize) {
                let new = base + self.local.len() as Sym;
                self.local.push(t.clone());
                self.map.insert(t.clone(), new);
                remap.insert(s, new);
            }
        }
        remap
    }
}

/// A record answered by a service: raw values in the record type's field order.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordValue {
    /// Index into the program's record types.
    pub record: u32,
    /// Raw field values (texts as symbols of the context that holds the record).
    pub fields: Vec<u64>,
}

/// A value as the runtime sees it, in commands and results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A number: amounts, counts and percentages (as fractions) alike.
    Number(f64),
    /// A text: also digit strings, phone numbers and recordings (their ids).
    Text(String),
    /// A yes/no value.
    Bool(bool),
    /// A duration in milliseconds.
    Duration(i64),
    /// A clock time, seconds after midnight.
    Time(u32),
    /// A calendar date, without a time zone.
    Date(NaiveDate),
    /// A date and time on the project's wall clock.
    DateTime(NaiveDateTime),
    /// A record (field name → value); `None` when the lookup did not answer.
    Record(Option<Vec<(String, Value)>>),
}

impl Value {
    /// A readable form (for trails, logs and interpolation).
    pub fn to_text(&self) -> String {
        match self {
            Value::Number(n) => number_text(*n),
            Value::Text(t) => t.clone(),
            Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
            Value::Duration(ms) => duration_text(*ms),
            Value::Time(s) => clock_text(*s as i64),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::DateTime(d) => dialect_lang::literal::datetime_to_string(*d),
            Value::Record(Some(fields)) => fields
                .iter()
                .map(|(k, v)| format!("{k}={}", v.to_text()))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Record(None) => "(none)".to_string(),
        }
    }
}

/// Converts a register value of `ty` to a [`Value`] (records need the context).
pub fn raw_to_value(raw: u64, ty: Type, texts: &Texts) -> Value {
    match ty {
        Type::Number => Value::Number(f64::from_bits(raw)),
        Type::Text | Type::Recording => Value::Text(texts.get(raw as Sym).to_string()),
        Type::Bool => Value::Bool(raw != 0),
        Type::Duration => Value::Duration(raw as i64),
        Type::Time => Value::Time((raw as i64).rem_euclid(86_400) as u32),
        Type::Date => Value::Date(days_to_date(raw as i64)),
        Type::DateTime => Value::DateTime(ms_to_datetime(raw as i64)),
        _ => Value::Record(None),
    }
}

/// Converts a [`Value`] to a register value of `ty`, interning texts. `None` when the
/// value does not fit the type.
pub fn value_to_raw(v: &Value, ty: Type, texts: &mut Texts) -> Option<u64> {
    Some(match (ty, v) {
        (Type::Number, Value::Number(n)) => n.to_bits(),
        (Type::Number, Value::Text(t)) => t.trim().parse::<f64>().ok()?.to_bits(),
        (Type::Text | Type::Recording, Value::Text(t)) => u64::from(texts.intern(t)),
        (Type::Text | Type::Recording, Value::Number(n)) => {
            u64::from(texts.intern(&number_text(*n)))
        }
        (Type::Bool, Value::Bool(b)) => u64::from(*b),
        (Type::Duration, Value::Duration(d)) => *d as u64,
        (Type::Duration, Value::Number(n)) => (*n * 1000.0) as i64 as u64,
        (Type::Time, Value::Time(s)) => u64::from(*s),
        (Type::Time, Value::Text(t)) => dialect_lang::literal::parse_clock(t).map(u64::from)?,
        (Type::Date, Value::Date(d)) => date_to_days(*d) as u64,
        (Type::Date, Value::Text(t)) => {
            date_to_days(NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").ok()?) as u64
        }
        (Type::DateTime, Value::DateTime(d)) => datetime_to_ms(*d) as u64,
        (Type::DateTime, Value::Date(d)) => (date_to_days(*d) * 86_400_000) as u64,
        // A date alone (a spreadsheet cell shown as a date) is its midnight.
        (Type::DateTime, Value::Text(t)) => match dialect_lang::literal::parse_datetime(t) {
            Some(d) => datetime_to_ms(d) as u64,
            None => {
                (date_to_days(NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").ok()?) * 86_400_000)
                    as u64
            }
        },
        _ => return None,
    })
}

/// A number as text: integers without a decimal point, others with up to 2 decimals.
pub fn number_text(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A duration as text (`1m30s`).
pub fn duration_text(ms: i64) -> String {
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let mut rest = ms.abs() / 1000;
    if rest == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if ms < 0 {
        out.push('-');
    }
    for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= secs {
            out.push_str(&format!("{}{unit}", rest / secs));
            rest %= secs;
        }
    }
    out
}

/// A clock time as `HH:MM`.
pub fn clock_text(secs: i64) -> String {
    let s = secs.rem_euclid(86_400);
    format!("{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

/// A raw value of `ty` as text, for interpolation.
pub fn raw_text(raw: u64, ty: Type, texts: &Texts) -> String {
    match ty {
        Type::Text | Type::Recording => texts.get(raw as Sym).to_string(),
        other => raw_to_value(raw, other, texts).to_text(),
    }
}

/// A compiled number list: exact entries and prefixes, per category.
#[derive(Debug, Clone, Default)]
pub struct CompiledList {
    /// Entries outside categories.
    pub all: Entries,
    /// Categories with their windows.
    pub categories: Vec<(Entries, Option<(u32, u32)>)>,
}

/// Exact numbers and prefixes.
#[derive(Debug, Clone, Default)]
pub struct Entries {
    exact: rustc_hash::FxHashSet<Box<str>>,
    prefixes: Vec<Box<str>>,
}

impl Entries {
    /// Builds the set from list entries (`"0755*"` is a prefix).
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a String>) -> Entries {
        let mut e = Entries::default();
        for s in entries {
            e.add(s);
        }
        e
    }

    /// Adds one entry.
    pub fn add(&mut self, s: &str) {
        match s.strip_suffix('*') {
            Some(p) => self.prefixes.push(normalize_number(p).into()),
            None => {
                self.exact.insert(normalize_number(s).into());
            }
        }
    }

    /// Whether a number is listed.
    pub fn contains(&self, number: &str) -> bool {
        let n = normalize_number(number);
        self.exact.contains(n) || self.prefixes.iter().any(|p| n.starts_with(&**p))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.exact.len() + self.prefixes.len()
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A number without a leading `+86` / `0086` country code for China-style matching
/// is not attempted; only `+` is dropped so `+8613...` and `8613...` agree.
fn normalize_number(s: &str) -> &str {
    s.trim().trim_start_matches('+')
}

impl CompiledList {
    /// Whether `number` is on the list (any category active at `time_of_day`, or the
    /// given category when it is active).
    pub fn contains(&self, number: &str, category: Option<u32>, time_of_day: u32) -> bool {
        let active = |w: &Option<(u32, u32)>| match w {
            None => true,
            Some((a, b)) if a <= b => time_of_day >= *a && time_of_day < *b,
            Some((a, b)) => time_of_day >= *a || time_of_day < *b,
        };
        match category {
            Some(c) => self
                .categories
                .get(c as usize)
                .is_some_and(|(e, w)| active(w) && e.contains(number)),
            None => {
                self.all.contains(number)
                    || self
                        .categories
                        .iter()
                        .any(|(e, w)| active(w) && e.contains(number))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_days() {
        let d = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        assert_eq!(days_to_date(date_to_days(d)), d);
        assert_eq!(
            date_to_days(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()),
            1
        );
    }

    #[test]
    fn dates_and_times_round_trip_through_milliseconds() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(14, 30, 0)
            .unwrap();
        assert_eq!(ms_to_datetime(datetime_to_ms(d)), d);
        let mut texts = Texts::new(Arc::new(Interner::default()));
        for answer in [
            "2026-12-07 14:30",
            "2026-12-07T14:30:00",
            "2026-12-07T14:30:00+08:00",
        ] {
            let raw = value_to_raw(&Value::Text(answer.into()), Type::DateTime, &mut texts);
            assert_eq!(raw, Some(datetime_to_ms(d) as u64), "{answer}");
        }
        assert_eq!(
            value_to_raw(&Value::Text("next week".into()), Type::DateTime, &mut texts),
            None
        );
        let midnight = NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(
            value_to_raw(
                &Value::Text("2026-12-07".into()),
                Type::DateTime,
                &mut texts
            ),
            Some(datetime_to_ms(midnight) as u64)
        );
        assert_eq!(
            raw_to_value(datetime_to_ms(d) as u64, Type::DateTime, &texts).to_text(),
            "2026-12-07 14:30"
        );
    }

    #[test]
    fn local_texts_number_after_constants() {
        let base = Arc::new(Interner::from_texts(&["a".into(), "b".into()]));
        let mut t = Texts::new(base);
        assert_eq!(t.intern("b"), 1);
        assert_eq!(t.intern("c"), 2);
        assert_eq!(t.intern("c"), 2);
        assert_eq!(t.get(2), "c");
        let remap = t.compact(&[2]);
        assert_eq!(remap.get(&2), Some(&2));
    }

    #[test]
    fn lists_match_exact_prefix_and_windows() {
        let mut l = CompiledList::default();
        l.all.add("13800000001");
        let mut night = Entries::default();
        night.add("0755*");
        l.categories.push((night, Some((22 * 3600, 7 * 3600))));
        assert!(l.contains("13800000001", None, 12 * 3600));
        assert!(!l.contains("075512345", None, 12 * 3600));
        assert!(l.contains("075512345", None, 23 * 3600));
        assert!(l.contains("075512345", Some(0), 3 * 3600));
        assert!(!l.contains("075512345", Some(0), 8 * 3600));
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(number_text(12.0), "12");
        assert_eq!(number_text(12.5), "12.5");
        assert_eq!(number_text(0.126), "0.13");
        assert_eq!(duration_text(90_000), "1m30s");
    }
}
