//! Campaigns and calendars built by hand for the unit tests.

use dialect_compiler::calendar::Calendar;
use dialect_compiler::ir::{CalendarIr, CampaignIr, SpecialDayIr};
use dialect_compiler::value::date_to_days;
use dialect_lang::ast::{DayType, Outcome};

/// Seconds after midnight of `h:m`.
pub(crate) fn hm(h: u32, m: u32) -> u32 {
    h * 3600 + m * 60
}

/// Days since 1970-01-01 of a date.
pub(crate) fn day(y: i32, m: u32, d: u32) -> i64 {
    date_to_days(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default())
}

/// Unix ms of a local wall time in a zone.
pub(crate) fn at(zone: &str, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    dialect_compiler::calendar::instant_in(tz, day(y, mo, d), hm(h, mi))
}

/// A campaign with these windows and retry rules, Asia/Shanghai by its calendar.
pub(crate) fn campaign(
    windows: Vec<(DayType, Vec<(u32, u32)>)>,
    retries: Vec<(Outcome, Option<(i64, u32)>)>,
) -> CampaignIr {
    CampaignIr {
        name: "test".into(),
        label: String::new(),
        list: "l".into(),
        source: String::new(),
        fields: Vec::new(),
        filter: None,
        filter_parts: Vec::new(),
        max_attempts: None,
        max_attempts_per_day: None,
        dispositions: Vec::new(),
        script: None,
        machine_detection: None,
        mode: "predictive".into(),
        ratio: (1.0, 2.5),
        abandon_max: 0.03,
        preview_ms: None,
        preview_auto_dial: false,
        ring_ms: 30_000,
        max_channels: None,
        dest: None,
        calendar: Some(0),
        windows,
        retries,
        trunk: None,
        caller_id: None,
        media: "voice".into(),
        dropped: Some(("drop.wav".into(), 2_000)),
        timezone: None,
        orders: None,
    }
}

/// A calendar like the hotline's cn_2026: the National Day week off, Saturday
/// 2026-10-10 a make-up working day.
pub(crate) fn cn_calendar() -> Calendar {
    let mut special: Vec<SpecialDayIr> = (1..=7)
        .map(|d| SpecialDayIr {
            day: day(2026, 10, d),
            holiday: true,
            hours: None,
            label: "国庆节".into(),
        })
        .collect();
    special.push(SpecialDayIr {
        day: day(2026, 10, 10),
        holiday: false,
        hours: None,
        label: "国庆节调休上班".into(),
    });
    let workday = vec![(hm(8, 30), hm(17, 30))];
    Calendar::new(&CalendarIr {
        name: "cn".into(),
        timezone: "Asia/Shanghai".into(),
        weekly: vec![
            workday.clone(),
            workday.clone(),
            workday.clone(),
            workday.clone(),
            workday,
            Vec::new(),
            Vec::new(),
        ],
        special,
    })
}

/// The retention campaign's windows.
pub(crate) fn retention_windows() -> Vec<(DayType, Vec<(u32, u32)>)> {
    vec![
        (
            DayType::Workday,
            vec![(hm(10, 0), hm(12, 0)), (hm(15, 0), hm(20, 0))],
        ),
        (DayType::Weekend, vec![(hm(10, 0), hm(17, 0))]),
        (DayType::Holiday, Vec::new()),
    ]
}
