//! Calendars as pure functions: is a calendar open at an instant, when does it
//! open next, what kind of day is a date, and where does a time limit counted in
//! business hours end. Both back-ends and the runtime (queues, campaigns,
//! workorder timers) use these.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::ir::{CalendarIr, DayType};
use crate::value::{date_to_days, days_to_date};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// How far `next_opening` and business-time arithmetic look ahead.
const HORIZON_DAYS: i64 = 800;

/// Opening spans of one day, minutes from midnight: `(from, to)`.
type Spans = Vec<(u32, u32)>;

/// A dated exception: whether the day is a working day, and its own hours if any.
type SpecialDay = (bool, Option<Spans>);

/// A calendar ready to answer questions.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// The calendar's name in the project, for messages about it.
    pub name: String,
    tz: Tz,
    weekly: [Vec<(u32, u32)>; 7],
    special: std::collections::HashMap<i64, SpecialDay>,
    /// Hours of a make-up working day without hours of its own.
    workday_hours: Vec<(u32, u32)>,
}

impl Calendar {
    /// Compiles a calendar; an unknown time zone falls back to UTC.
    pub fn new(ir: &CalendarIr) -> Calendar {
        let tz: Tz = ir.timezone.parse().unwrap_or(Tz::UTC);
        let mut weekly: [Vec<(u32, u32)>; 7] = Default::default();
        for (i, w) in ir.weekly.iter().enumerate().take(7) {
            weekly[i] = w.clone();
        }
        let workday_hours = weekly[..5]
            .iter()
            .find(|h| !h.is_empty())
            .cloned()
            .unwrap_or_default();
        Calendar {
            name: ir.name.clone(),
            tz,
            weekly,
            special: ir
                .special
                .iter()
                .map(|s| (s.day, (s.holiday, s.hours.clone())))
                .collect(),
            workday_hours,
        }
    }

    /// The calendar's time zone.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Local date (days since 1970-01-01) and seconds after midnight of an instant.
    pub fn local(&self, unix_ms: i64) -> (i64, u32) {
        local_in(self.tz, unix_ms)
    }

    /// The opening periods of a date.
    pub fn periods(&self, day: i64) -> &[(u32, u32)] {
        match self.special.get(&day) {
            Some((true, None)) => &[],
            Some((_, Some(h))) => h,
            Some((false, None)) => &self.workday_hours,
            None => &self.weekly[weekday(day) as usize],
        }
    }

    /// What kind of day a date is.
    pub fn day_type(&self, day: i64) -> DayType {
        match self.special.get(&day) {
            Some((true, _)) => DayType::Holiday,
            Some((false, _)) => DayType::Workday,
            None if weekday(day) >= 5 => DayType::Weekend,
            None => DayType::Workday,
        }
    }

    /// Whether the calendar is open at an instant.
    pub fn is_open(&self, unix_ms: i64) -> bool {
        let (day, secs) = self.local(unix_ms);
        self.periods(day)
            .iter()
            .any(|&(a, b)| secs >= a && secs < b)
    }

    /// The next instant at or after `unix_ms` when the calendar is open.
    pub fn next_opening(&self, unix_ms: i64) -> Option<i64> {
        if self.is_open(unix_ms) {
            return Some(unix_ms);
        }
        let (day, secs) = self.local(unix_ms);
        for d in day..day + HORIZON_DAYS {
            for &(a, b) in self.periods(d) {
                if d == day && b <= secs {
                    continue;
                }
                let start = if d == day { a.max(secs) } else { a };
                if start < b {
                    return Some(self.instant(d, start));
                }
            }
        }
        None
    }

    /// The instant at which `duration_ms` of open time has passed after `start_ms`
    /// (a time limit counted in business hours). `None` beyond the horizon.
    pub fn add_business(&self, start_ms: i64, duration_ms: i64) -> Option<i64> {
        let mut left = duration_ms.max(0);
        let (day, secs) = self.local(start_ms);
        for d in day..day + HORIZON_DAYS {
            for &(a, b) in self.periods(d) {
                let from = if d == day { a.max(secs) } else { a };
                if from >= b {
                    continue;
                }
                let avail = i64::from(b - from) * 1000;
                if left <= avail {
                    let at = self.instant(d, from) + left;
                    return Some(at);
                }
                left -= avail;
            }
        }
        None
    }

    /// Open time between two instants, in milliseconds.
    pub fn business_between(&self, from_ms: i64, to_ms: i64) -> i64 {
        if to_ms <= from_ms {
            return 0;
        }
        let (d0, s0) = self.local(from_ms);
        let (d1, s1) = self.local(to_ms);
        let mut total = 0i64;
        for d in d0..=d1.min(d0 + HORIZON_DAYS) {
            for &(a, b) in self.periods(d) {
                let lo = if d == d0 { a.max(s0) } else { a };
                let hi = if d == d1 { b.min(s1) } else { b };
                if hi > lo {
                    total += i64::from(hi - lo) * 1000;
                }
            }
        }
        total
    }

    /// The instant of a local date and time (the earlier one when clocks go back;
    /// skipped local times move forward).
    pub fn instant(&self, day: i64, secs: u32) -> i64 {
        instant_in(self.tz, day, secs)
    }
}

/// Local date and time of day of an instant in a zone.
pub fn local_in(tz: Tz, unix_ms: i64) -> (i64, u32) {
    let utc = chrono::DateTime::from_timestamp_millis(unix_ms).unwrap_or_default();
    let local = utc.with_timezone(&tz);
    (
        date_to_days(local.date_naive()),
        local.num_seconds_from_midnight(),
    )
}

/// The instant of a local date and time in a zone.
pub fn instant_in(tz: Tz, day: i64, secs: u32) -> i64 {
    let date: NaiveDate = days_to_date(day);
    let naive = NaiveDateTime::new(date, chrono::NaiveTime::MIN)
        + chrono::Duration::seconds(i64::from(secs));
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.timestamp_millis(),
        chrono::LocalResult::Ambiguous(a, _) => a.timestamp_millis(),
        chrono::LocalResult::None => {
            // A local time skipped by a clock change: take the same wall time an hour later.
            let later = naive + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.timestamp_millis())
                .unwrap_or(day * DAY_MS + i64::from(secs) * 1000)
        }
    }
}

/// 0 = Monday ... 6 = Sunday.
pub fn weekday(day: i64) -> u32 {
    days_to_date(day).weekday().num_days_from_monday()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::SpecialDayIr;

    fn cn() -> Calendar {
        let d = |y, m, dd| date_to_days(NaiveDate::from_ymd_opt(y, m, dd).unwrap());
        Calendar::new(&CalendarIr {
            name: "cn".into(),
            timezone: "Asia/Shanghai".into(),
            weekly: vec![vec![(8 * 3600 + 1800, 17 * 3600 + 1800)]; 5]
                .into_iter()
                .chain([vec![], vec![]])
                .collect(),
            special: vec![
                SpecialDayIr {
                    day: d(2026, 10, 1),
                    holiday: true,
                    hours: None,
                    label: "国庆".into(),
                },
                SpecialDayIr {
                    day: d(2026, 10, 10),
                    holiday: false,
                    hours: None,
                    label: "调休".into(),
                },
            ],
        })
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn open_on_workdays_closed_on_holidays_and_open_on_makeup_days() {
        let c = cn();
        assert!(c.is_open(at(2026, 9, 30, 9, 0)));
        assert!(!c.is_open(at(2026, 9, 30, 18, 0)));
        assert!(
            !c.is_open(at(2026, 10, 1, 9, 0)),
            "National Day is a holiday"
        );
        assert!(
            c.is_open(at(2026, 10, 10, 9, 0)),
            "Saturday 10 October is a make-up working day"
        );
        assert!(!c.is_open(at(2026, 10, 11, 9, 0)), "Sunday");
        assert_eq!(
            c.day_type(date_to_days(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())),
            DayType::Holiday
        );
        assert_eq!(
            c.day_type(date_to_days(NaiveDate::from_ymd_opt(2026, 10, 11).unwrap())),
            DayType::Weekend
        );
    }

    #[test]
    fn next_opening_skips_closed_days() {
        let c = cn();
        assert_eq!(
            c.next_opening(at(2026, 9, 30, 18, 0)),
            Some(at(2026, 10, 2, 8, 30))
        );
        assert_eq!(
            c.next_opening(at(2026, 9, 30, 10, 0)),
            Some(at(2026, 9, 30, 10, 0))
        );
    }

    #[test]
    fn business_time_runs_only_while_open() {
        let c = cn();
        // 4 business hours from 15:30 on Wednesday 30 Sept: 2h that day, the rest on Friday 2 Oct.
        let end = c
            .add_business(at(2026, 9, 30, 15, 30), 4 * 3_600_000)
            .unwrap();
        assert_eq!(end, at(2026, 10, 2, 10, 30));
        assert_eq!(
            c.business_between(at(2026, 9, 30, 15, 30), end),
            4 * 3_600_000
        );
    }
}
