//! Number lists prepared for native code: list membership (`phone not in
//! do_not_call`) is the one helper call campaign filters make per record, so it
//! gets a faster path than [`CompiledList::contains`], with the same answers.
//!
//! The exact entries of a list whose entries are all digit strings (after the
//! normalization lists apply: surrounding space and leading `+` signs ignored) are
//! kept as integers, so a lookup is one pass over the number's digits and one
//! integer hash probe; prefixes are compared as bytes. Lists with other entries
//! take the general path.
//!
//! Which parts of a list hold a text never changes, so the answer is remembered
//! per text symbol in the evaluator's [`crate::value::SymbolMemo`]. Native code
//! reads that memo inline (`Translator::in_list`): the remembered parts, masked
//! with the parts active at the current instant ([`FastList::active_parts`],
//! kept beside the memo table), give the answer without a call; only a text not
//! seen yet, or a new instant, goes through the `dl_in_list` helper, which
//! remembers both. Membership cannot fail, so the lowering evaluates it eagerly
//! with the other cheap conditions, and a campaign filter runs without branches.

use rustc_hash::FxHashSet;

use crate::ir::ListIr;
use crate::value::CompiledList;

/// Longest digit string read as an integer (with the leading-1 sentinel it stays
/// below 2^64).
const MAX_DIGITS: usize = 18;

/// The digits of `s` as an integer with a leading 1 (so `"0755"` and `"755"`
/// differ); `None` unless `s` is 1 to 18 ASCII digits.
fn key(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > MAX_DIGITS {
        return None;
    }
    let mut acc = 1u64;
    for b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        acc = acc * 10 + u64::from(d);
    }
    Some(acc)
}

/// As `value::normalize_number`: lists ignore surrounding space and leading `+`.
fn normalize(s: &str) -> &str {
    // `trim` changes nothing when both ends are ASCII characters other than
    // white space (ASCII white space is 9..=13 and the space).
    let plain = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii() && !matches!(b, 9..=13 | b' '));
    let bytes = s.as_bytes();
    if plain(bytes.first()) && plain(bytes.last()) {
        s.trim_start_matches('+')
    } else {
        s.trim().trim_start_matches('+')
    }
}

/// One set of entries (a list's own entries or one category's).
#[derive(Debug, Default)]
struct FastEntries {
    /// Exact entries, as [`key`]s.
    exact: FxHashSet<u64>,
    /// Prefixes, normalized.
    prefixes: Vec<Box<[u8]>>,
}

impl FastEntries {
    /// `None` when an exact entry is not a digit string of 1 to 18 digits.
    fn new(entries: &[String]) -> Option<FastEntries> {
        let mut e = FastEntries::default();
        for s in entries {
            // As `Entries::add`: a trailing `*` makes a prefix; both are normalized.
            match s.strip_suffix('*') {
                Some(p) => e.prefixes.push(normalize(p).as_bytes().into()),
                None => {
                    e.exact.insert(key(normalize(s).as_bytes())?);
                }
            }
        }
        Some(e)
    }

    /// Whether the normalized number `n` (with its key, if it has one) is listed:
    /// every exact entry has a key, so a number without one matches none of them.
    fn contains(&self, n: &[u8], k: Option<u64>) -> bool {
        k.is_some_and(|k| self.exact.contains(&k)) || self.prefixes.iter().any(|p| n.starts_with(p))
    }
}

/// A list with its fast path (when all its exact entries are digit strings).
#[derive(Debug)]
pub(crate) struct FastList {
    fast: Option<(FastEntries, Vec<FastEntries>)>,
    /// Daily windows of the categories.
    windows: Vec<Option<(u32, u32)>>,
}

/// Bit set in a remembered [`FastList::parts`] answer (so that it is never 0).
pub(crate) const KNOWN: u32 = 1 << 31;

/// Most categories whose answers fit in one remembered `u32`.
const MAX_REMEMBERED_CATEGORIES: usize = 30;

impl FastList {
    /// Prepares a list.
    pub(crate) fn new(list: &ListIr) -> FastList {
        let all = FastEntries::new(&list.entries);
        let cats: Option<Vec<FastEntries>> = list
            .categories
            .iter()
            .map(|c| FastEntries::new(&c.entries))
            .collect();
        FastList {
            fast: all.zip(cats),
            windows: list.categories.iter().map(|c| c.active).collect(),
        }
    }

    /// The parts of the list active at `now` (time of day), as a mask over
    /// [`Self::parts`]: bit 0 (the list's own entries) always, bit `i + 1` when
    /// category `i` has no daily window or is inside it.
    pub(crate) fn active_parts(&self, now: impl Fn() -> u32) -> u32 {
        let mut t = None;
        let mut bits = 1;
        for (i, w) in self.windows.iter().enumerate() {
            let on = match w {
                None => true,
                Some((a, b)) => {
                    let t = *t.get_or_insert_with(&now);
                    if a <= b {
                        t >= *a && t < *b
                    } else {
                        t >= *a || t < *b
                    }
                }
            };
            bits |= u32::from(on) << (i + 1);
        }
        bits
    }

    /// For native code that tests membership inline, the mask that selects the
    /// parts `value in list[.category]` asks about (`parts & active & mask != 0`
    /// is the answer); `None` when the answers are not remembered.
    pub(crate) fn inline_mask(&self, category: Option<u32>) -> Option<u32> {
        if !self.rememberable() {
            return None;
        }
        Some(match category {
            None => !KNOWN,
            Some(c) if (c as usize) < self.windows.len() => 1 << (c + 1),
            Some(_) => 0,
        })
    }

    /// Whether [`Self::parts`] answers can be remembered per text.
    pub(crate) fn rememberable(&self) -> bool {
        self.windows.len() <= MAX_REMEMBERED_CATEGORIES
    }

    /// Which parts of the list hold `number`, whatever the time: bit 0 the list's
    /// own entries, bit `i + 1` category `i`; [`KNOWN`] is always set. Only for
    /// lists that are [`Self::rememberable`].
    pub(crate) fn parts(&self, general: &CompiledList, number: &str) -> u32 {
        let mut bits = KNOWN;
        match &self.fast {
            Some((all, cats)) => {
                let n = normalize(number).as_bytes();
                let k = key(n);
                bits |= u32::from(all.contains(n, k));
                for (i, e) in cats.iter().enumerate() {
                    bits |= u32::from(e.contains(n, k)) << (i + 1);
                }
            }
            None => {
                bits |= u32::from(general.all.contains(number));
                for (i, (e, _)) in general.categories.iter().enumerate() {
                    bits |= u32::from(e.contains(number)) << (i + 1);
                }
            }
        }
        bits
    }

    /// `number in list[.category]` from the [`Self::parts`] holding it and the time
    /// of day (asked for only when a daily window matters).
    pub(crate) fn answer(&self, parts: u32, category: Option<u32>, now: impl Fn() -> u32) -> bool {
        let active = |w: &Option<(u32, u32)>| match w {
            None => true,
            Some((a, b)) => {
                let t = now();
                if a <= b {
                    t >= *a && t < *b
                } else {
                    t >= *a || t < *b
                }
            }
        };
        match category {
            Some(c) => {
                (c as usize) < self.windows.len()
                    && parts & (1 << (c + 1)) != 0
                    && active(&self.windows[c as usize])
            }
            None => {
                parts & 1 != 0
                    || self
                        .windows
                        .iter()
                        .enumerate()
                        .any(|(i, w)| parts & (1 << (i + 1)) != 0 && active(w))
            }
        }
    }

    /// `number in list[.category]` at `time_of_day`: the answer of
    /// [`CompiledList::contains`] on `general`.
    pub(crate) fn contains(
        &self,
        general: &CompiledList,
        number: &str,
        category: Option<u32>,
        time_of_day: u32,
    ) -> bool {
        let Some((all, cats)) = &self.fast else {
            return general.contains(number, category, time_of_day);
        };
        let n = normalize(number).as_bytes();
        let k = key(n);
        let active = |w: &Option<(u32, u32)>| match w {
            None => true,
            Some((a, b)) if a <= b => time_of_day >= *a && time_of_day < *b,
            Some((a, b)) => time_of_day >= *a || time_of_day < *b,
        };
        match category {
            Some(c) => match (cats.get(c as usize), self.windows.get(c as usize)) {
                (Some(e), Some(w)) => active(w) && e.contains(n, k),
                _ => false,
            },
            None => {
                all.contains(n, k)
                    || cats
                        .iter()
                        .zip(&self.windows)
                        .any(|(e, w)| active(w) && e.contains(n, k))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ListCategoryIr;
    use crate::value::Entries;
    use proptest::prelude::*;

    fn compiled(l: &ListIr) -> CompiledList {
        CompiledList {
            all: Entries::new(&l.entries),
            categories: l
                .categories
                .iter()
                .map(|c| (Entries::new(&c.entries), c.active))
                .collect(),
        }
    }

    /// A category's entries and its active hours.
    type Category = (Vec<String>, Option<(u32, u32)>);

    fn list(entries: Vec<String>, cats: Vec<Category>) -> ListIr {
        ListIr {
            name: "l".into(),
            entries,
            categories: cats
                .into_iter()
                .enumerate()
                .map(|(i, (entries, active))| ListCategoryIr {
                    name: format!("c{i}"),
                    entries,
                    max_transfers: None,
                    active,
                })
                .collect(),
        }
    }

    fn entry() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,12}",
            "\\+?[0-9]{0,6}\\*",
            "\\+[0-9]{3,12}",
            Just("*".to_string()),
            "[0-9]{17,20}",
            " ?[0-9a]{1,5} ?",
        ]
    }

    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,12}",
            "\\+{0,2}[0-9]{1,12}",
            "[0-9]{16,21}",
            " [0-9]{3,8}",
            "[0-9]{3,8}\\t",
            "[0-9a ]{0,6}",
            Just(String::new()),
            Just("+".to_string()),
            "075[0-9]{0,8}",
        ]
    }

    proptest! {
        #[test]
        fn the_fast_path_answers_like_the_general_one(
            own in proptest::collection::vec(entry(), 0..6),
            cats in proptest::collection::vec(
                (proptest::collection::vec(entry(), 0..5),
                 proptest::option::of((0u32..86_400, 0u32..86_400))),
                0..4),
            numbers in proptest::collection::vec(number(), 1..20),
            time in 0u32..86_400,
        ) {
            let l = list(own, cats);
            let general = compiled(&l);
            let fast = FastList::new(&l);
            // Numbers that are entries (or extend prefixes) as well as random ones.
            let mut probes = numbers;
            for c in l.entries.iter().chain(l.categories.iter().flat_map(|c| &c.entries)) {
                probes.push(c.clone());
                probes.push(format!("{}123", c.trim_end_matches('*')));
            }
            for n in &probes {
                let parts = fast.parts(&general, n);
                for category in [None, Some(0), Some(1), Some(3), Some(9)] {
                    let want = general.contains(n, category, time);
                    prop_assert_eq!(
                        fast.contains(&general, n, category, time),
                        want,
                        "{:?} in {:?}.{:?}", n, l, category
                    );
                    prop_assert_eq!(
                        fast.answer(parts, category, || time),
                        want,
                        "{:?} in {:?}.{:?} (remembered parts)", n, l, category
                    );
                }
            }
        }
    }
}
