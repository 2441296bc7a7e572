//! Call windows in the callee's local time. A campaign says when it may call per
//! kind of day (`window workday 09:00-12:00, 14:00-20:30`); the kind of day comes
//! from the campaign's calendar (make-up working days are workdays, public
//! holidays are holidays) for the callee's own local date; and whatever the
//! windows say, no call is placed outside the legal 08:00–21:00 local hours,
//! which the checker demands at compile time and the dialer enforces again here.
//!
//! The callee's zone is the target's own (a list column), else the longest
//! matching number prefix in the configured [`ZoneTable`], else the campaign's
//! `timezone`, else the calendar's zone. Times are computed with chrono-tz, so
//! an opening time is exact across days and clock changes.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use dialect_compiler::calendar::{Calendar, instant_in, local_in, weekday};
use dialect_compiler::ir::CampaignIr;
use dialect_lang::ast::DayType;
use serde::Deserialize;

/// The earliest local time any call may be placed, seconds after midnight.
pub const LEGAL_FROM_SECS: u32 = 8 * 3600;
/// The latest local time a call may be placed, seconds after midnight (exclusive).
pub const LEGAL_TO_SECS: u32 = 21 * 3600;
/// How far ahead an opening is searched for: a campaign closed for longer than
/// this is treated as closed for good.
const HORIZON_DAYS: i64 = 400;

/// A time-zone name the configuration gave that chrono-tz does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{zone}` is not an IANA time zone such as Asia/Shanghai (for the prefix `{prefix}`)")]
pub struct UnknownZone {
    /// The number prefix the zone was given for.
    pub prefix: String,
    /// The zone as written.
    pub zone: String,
}

/// Number prefix → time zone, from the operator's configuration: countries whose
/// numbers span several zones (or numbers abroad, `001…`) are called in the
/// callee's hours even when the list has no time-zone column.
#[derive(Debug, Clone, Default)]
pub struct ZoneTable {
    /// Longest prefixes first, so the first match is the most specific.
    entries: Vec<(String, Tz)>,
}

impl ZoneTable {
    /// A table from `(prefix of the canonical number, IANA zone)` pairs.
    pub fn new<P: Into<String>, Z: AsRef<str>>(
        pairs: impl IntoIterator<Item = (P, Z)>,
    ) -> Result<ZoneTable, UnknownZone> {
        let mut entries = Vec::new();
        for (prefix, zone) in pairs {
            let prefix = prefix.into();
            let tz: Tz = zone.as_ref().parse().map_err(|_| UnknownZone {
                prefix: prefix.clone(),
                zone: zone.as_ref().to_string(),
            })?;
            entries.push((prefix, tz));
        }
        entries.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(ZoneTable { entries })
    }

    /// The zone of the longest prefix that the canonical number starts with.
    pub fn zone_of(&self, phone: &str) -> Option<Tz> {
        self.entries
            .iter()
            .find(|(p, _)| phone.starts_with(p.as_str()))
            .map(|(_, tz)| *tz)
    }
}

impl<'de> Deserialize<'de> for ZoneTable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ZoneTable, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        ZoneTable::new(map).map_err(serde::de::Error::custom)
    }
}

/// A campaign's call windows, ready to answer "may this callee be called now,
/// and if not, from when".
#[derive(Debug, Clone)]
pub struct CallWindows {
    /// Allowed spans per kind of day (workday, weekend, holiday), seconds after
    /// local midnight, already cut to the legal hours and sorted.
    spans: [Vec<(u32, u32)>; 3],
    calendar: Option<Calendar>,
    /// The zone used when neither the target nor the prefix table gives one.
    default_zone: Tz,
}

fn day_index(d: DayType) -> usize {
    match d {
        DayType::Workday => 0,
        DayType::Weekend => 1,
        DayType::Holiday => 2,
    }
}

/// Cuts a written window to the legal hours; a window that wraps midnight
/// (`20:00-02:00`) is two spans.
fn legal_spans(from: u32, to: u32) -> Vec<(u32, u32)> {
    let raw = if to > from {
        vec![(from, to)]
    } else {
        vec![(from, 86_400), (0, to)]
    };
    raw.into_iter()
        .map(|(a, b)| (a.max(LEGAL_FROM_SECS), b.min(LEGAL_TO_SECS)))
        .filter(|(a, b)| a < b)
        .collect()
}

impl CallWindows {
    /// The windows of a compiled campaign. A campaign without any `window` line
    /// may call every day within the legal hours; once it declares windows, a
    /// kind of day it declares none for (or `none`) is closed.
    pub fn new(ir: &CampaignIr, calendar: Option<Calendar>) -> CallWindows {
        let default_zone = ir
            .timezone
            .as_deref()
            .and_then(|z| z.parse::<Tz>().ok())
            .or_else(|| calendar.as_ref().map(Calendar::timezone))
            .unwrap_or(Tz::UTC);
        CallWindows::from_spans(&ir.windows, calendar, default_zone)
    }

    /// Windows from explicit spans (seconds after midnight per kind of day).
    pub fn from_spans(
        windows: &[(DayType, Vec<(u32, u32)>)],
        calendar: Option<Calendar>,
        default_zone: Tz,
    ) -> CallWindows {
        let mut spans: [Vec<(u32, u32)>; 3] = Default::default();
        if windows.is_empty() {
            for s in &mut spans {
                *s = vec![(LEGAL_FROM_SECS, LEGAL_TO_SECS)];
            }
        }
        for (day, list) in windows {
            let slot = &mut spans[day_index(*day)];
            for &(a, b) in list {
                slot.extend(legal_spans(a, b));
            }
        }
        for s in &mut spans {
            s.sort_unstable();
            // Merge overlapping spans so `next_open` and `is_open` see each opening once.
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(s.len());
            for &(a, b) in s.iter() {
                match merged.last_mut() {
                    Some(last) if a <= last.1 => last.1 = last.1.max(b),
                    _ => merged.push((a, b)),
                }
            }
            *s = merged;
        }
        CallWindows {
            spans,
            calendar,
            default_zone,
        }
    }

    /// The zone used when neither the target nor the prefix table names one.
    pub fn default_zone(&self) -> Tz {
        self.default_zone
    }

    /// The callee's zone: the target's own, else the prefix table's, else the default.
    pub fn zone_for(&self, target_zone: Option<&str>, phone: &str, zones: &ZoneTable) -> Tz {
        target_zone
            .and_then(|z| z.parse::<Tz>().ok())
            .or_else(|| zones.zone_of(phone))
            .unwrap_or(self.default_zone)
    }

    /// The kind of a local date (days since 1970-01-01), by the calendar; without
    /// one, Saturdays and Sundays are weekends and there are no holidays.
    pub fn day_type(&self, day: i64) -> DayType {
        match &self.calendar {
            Some(c) => c.day_type(day),
            None if weekday(day) >= 5 => DayType::Weekend,
            None => DayType::Workday,
        }
    }

    /// The allowed spans of a local date.
    pub fn spans_of(&self, day: i64) -> &[(u32, u32)] {
        &self.spans[day_index(self.day_type(day))]
    }

    /// Whether a callee in `zone` may be called at `at_ms`.
    pub fn is_open(&self, zone: Tz, at_ms: i64) -> bool {
        let (day, secs) = local_in(zone, at_ms);
        self.spans_of(day)
            .iter()
            .any(|&(a, b)| secs >= a && secs < b)
    }

    /// The first instant at or after `from_ms` when a callee in `zone` may be
    /// called; `None` when no window opens within the search horizon.
    pub fn next_open(&self, zone: Tz, from_ms: i64) -> Option<i64> {
        if self.is_open(zone, from_ms) {
            return Some(from_ms);
        }
        let (today, secs) = local_in(zone, from_ms);
        for day in today..today + HORIZON_DAYS {
            for &(a, b) in self.spans_of(day) {
                if day == today && b <= secs {
                    continue;
                }
                let start = if day == today { a.max(secs) } else { a };
                let at = instant_in(zone, day, start);
                // A local time skipped by a clock change lands later; it must
                // still be inside the span and after the asking instant.
                if at >= from_ms && self.is_open(zone, at) {
                    return Some(at);
                }
            }
        }
        None
    }

    /// The first instant of the local day after the one `at_ms` falls on, in `zone`.
    pub fn next_local_midnight(zone: Tz, at_ms: i64) -> i64 {
        let (day, _) = local_in(zone, at_ms);
        instant_in(zone, day + 1, 0)
    }
}

#[cfg(test)]
mod tests;
