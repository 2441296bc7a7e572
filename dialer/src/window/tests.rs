use super::*;
use crate::test_support::{at, campaign, cn_calendar, hm, retention_windows};

fn shanghai() -> Tz {
    chrono_tz::Asia::Shanghai
}

#[test]
fn windows_follow_the_calendar_across_a_holiday_week_and_a_make_up_saturday() {
    let w = CallWindows::new(
        &campaign(retention_windows(), Vec::new()),
        Some(cn_calendar()),
    );
    // Wednesday 30 September after the evening window: 1–7 October are
    // holidays (no window); Thursday 8 October opens at 10:00.
    let after_close = at("Asia/Shanghai", 2026, 9, 30, 20, 0);
    assert!(!w.is_open(shanghai(), after_close));
    assert_eq!(
        w.next_open(shanghai(), after_close),
        Some(at("Asia/Shanghai", 2026, 10, 8, 10, 0))
    );
    // A Saturday that is a make-up working day uses the workday windows.
    let sat = at("Asia/Shanghai", 2026, 10, 10, 9, 0);
    assert_eq!(
        w.day_type(crate::test_support::day(2026, 10, 10)),
        DayType::Workday
    );
    assert_eq!(
        w.next_open(shanghai(), sat),
        Some(at("Asia/Shanghai", 2026, 10, 10, 10, 0))
    );
    assert!(!w.is_open(shanghai(), at("Asia/Shanghai", 2026, 10, 10, 13, 0)));
    // An ordinary Saturday uses the weekend window.
    let sat = at("Asia/Shanghai", 2026, 10, 17, 12, 30);
    assert!(w.is_open(shanghai(), sat));
    assert_eq!(
        w.next_open(shanghai(), at("Asia/Shanghai", 2026, 10, 17, 17, 0)),
        Some(at("Asia/Shanghai", 2026, 10, 18, 10, 0))
    );
    // Between the two workday windows.
    assert_eq!(
        w.next_open(shanghai(), at("Asia/Shanghai", 2026, 10, 8, 12, 0)),
        Some(at("Asia/Shanghai", 2026, 10, 8, 15, 0))
    );
}

#[test]
fn the_legal_hours_cut_every_window() {
    let wide = vec![(DayType::Workday, vec![(hm(7, 0), hm(22, 0))])];
    let w = CallWindows::from_spans(&wide, None, shanghai());
    assert_eq!(
        w.spans_of(crate::test_support::day(2026, 12, 7)),
        &[(hm(8, 0), hm(21, 0))]
    );
    assert!(!w.is_open(shanghai(), at("Asia/Shanghai", 2026, 12, 7, 7, 30)));
    assert!(w.is_open(shanghai(), at("Asia/Shanghai", 2026, 12, 7, 20, 59)));
    assert!(!w.is_open(shanghai(), at("Asia/Shanghai", 2026, 12, 7, 21, 0)));
    // A window across midnight keeps only its legal part.
    let night = vec![(DayType::Workday, vec![(hm(20, 0), hm(2, 0))])];
    let w = CallWindows::from_spans(&night, None, shanghai());
    assert_eq!(
        w.spans_of(crate::test_support::day(2026, 12, 7)),
        &[(hm(20, 0), hm(21, 0))]
    );
    // Without any window line: every day within the legal hours.
    let w = CallWindows::from_spans(&[], None, shanghai());
    assert!(w.is_open(shanghai(), at("Asia/Shanghai", 2026, 12, 6, 8, 0)));
    // A kind of day left out is closed once windows are declared.
    let only_workdays = vec![(DayType::Workday, vec![(hm(9, 0), hm(18, 0))])];
    let w = CallWindows::from_spans(&only_workdays, None, shanghai());
    assert_eq!(
        w.next_open(shanghai(), at("Asia/Shanghai", 2026, 12, 5, 9, 0)),
        Some(at("Asia/Shanghai", 2026, 12, 7, 9, 0))
    );
}

#[test]
fn next_opening_is_exact_across_clock_changes() {
    let ny: Tz = chrono_tz::America::New_York;
    let every_day = vec![
        (DayType::Workday, vec![(hm(9, 0), hm(20, 0))]),
        (DayType::Weekend, vec![(hm(10, 0), hm(14, 0))]),
    ];
    let w = CallWindows::from_spans(&every_day, None, ny);
    // Saturday 7 March 2026 after the window; clocks go forward that night.
    let sat = at("America/New_York", 2026, 3, 7, 15, 0);
    let sunday_ten = w.next_open(ny, sat);
    assert_eq!(sunday_ten, Some(at("America/New_York", 2026, 3, 8, 10, 0)));
    // 10:00 EDT is 14:00 UTC (it was 15:00 UTC the day before).
    assert_eq!(
        sunday_ten.map(|t| t.rem_euclid(86_400_000) / 3_600_000),
        Some(14)
    );
    // Saturday 31 October, clocks go back that night: 10:00 EST = 15:00 UTC.
    let back = w.next_open(ny, at("America/New_York", 2026, 10, 31, 15, 0));
    assert_eq!(back.map(|t| t.rem_euclid(86_400_000) / 3_600_000), Some(15));
}

#[test]
fn zones_come_from_the_target_then_the_longest_prefix_then_the_default() {
    let zones = ZoneTable::new([
        ("001", "America/New_York"),
        ("001808", "Pacific/Honolulu"),
        ("0044", "Europe/London"),
    ])
    .unwrap_or_default();
    let w = CallWindows::from_spans(&[], None, shanghai());
    assert_eq!(
        w.zone_for(None, "0018085550100", &zones),
        chrono_tz::Pacific::Honolulu
    );
    assert_eq!(
        w.zone_for(None, "0012125550100", &zones),
        chrono_tz::America::New_York
    );
    assert_eq!(w.zone_for(None, "13800138000", &zones), shanghai());
    assert_eq!(
        w.zone_for(Some("Europe/Paris"), "0012125550100", &zones),
        chrono_tz::Europe::Paris
    );
    let bad = ZoneTable::new([("001", "America/Gotham")]);
    assert_eq!(
        bad.map(|_| ()).map_err(|e| e.to_string()),
        Err("`America/Gotham` is not an IANA time zone such as Asia/Shanghai (for the prefix `001`)".into())
    );
    let parsed: ZoneTable = serde_yaml::from_str("{'0044': Europe/London}").unwrap_or_default();
    assert_eq!(
        parsed.zone_of("00442071234567"),
        Some(chrono_tz::Europe::London)
    );
}
