//! Duration and clock literals, read and written in one place.
//!
//! The parser reads `1h30m` and `08:30` with these functions, the formatter
//! writes them back in canonical form, and the compiler and runtime use the same
//! reading for durations and times that arrive as text (configuration files,
//! simulation inputs, the API), so `90s` means the same thing everywhere.

/// Parses `1h30m`, `500ms`, `2d` into milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    if bytes.is_empty() {
        return None;
    }
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let n: i64 = s.get(start..i)?.parse().ok()?;
        let unit = if s[i..].starts_with("ms") {
            i += 2;
            1
        } else {
            let u = match bytes.get(i)? {
                b'd' => 86_400_000,
                b'h' => 3_600_000,
                b'm' => 60_000,
                b's' => 1000,
                _ => return None,
            };
            i += 1;
            u
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// Parses `08:30` into seconds after midnight; `24:00` is allowed as an end time.
pub fn parse_clock(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 3600 + m * 60)
}

/// Parses a date and time: `2026-12-07 14:30`, `2026-12-07T14:30:05` (ISO 8601),
/// with optional fractions of a second (dropped) and an optional `Z` or UTC
/// offset such as `+08:00`. The clock time is read as written: services answer
/// in the project's own time zone, and an offset does not move the time to
/// another zone.
pub fn parse_datetime(s: &str) -> Option<chrono::NaiveDateTime> {
    let s = s.trim();
    let split = s.find(['T', ' '])?;
    let (date, rest) = (&s[..split], s[split + 1..].trim_start());
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let clock_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(rest.len());
    let (clock, mut zone) = rest.split_at(clock_end);
    if let Some(fraction) = zone.strip_prefix('.') {
        zone = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || (zone.len() >= 3
            && zone.starts_with(['+', '-'])
            && zone[1..].bytes().all(|b| b.is_ascii_digit() || b == b':'));
    if !zone_ok {
        return None;
    }
    let mut parts = clock.split(':');
    let field = |t: Option<&str>| -> Option<u32> {
        let t = t?;
        (!t.is_empty() && t.len() <= 2)
            .then(|| t.parse().ok())
            .flatten()
    };
    let hour = field(parts.next())?;
    let minute = field(parts.next())?;
    let second = match parts.next() {
        Some(t) => field(Some(t))?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    let time = chrono::NaiveTime::from_hms_opt(hour, minute, second)?;
    Some(date.and_time(time))
}

/// A date and time in its canonical form: `2026-12-07 14:30`, with seconds
/// only when they are not zero.
pub fn datetime_to_string(d: chrono::NaiveDateTime) -> String {
    use chrono::Timelike;
    if d.second() == 0 {
        d.format("%Y-%m-%d %H:%M").to_string()
    } else {
        d.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// A duration in its canonical form: `1m30s`, `2h`, `1d12h`; a duration that is not
/// a whole number of seconds stays in milliseconds (`1500ms`).
pub fn duration_to_string(millis: i64) -> String {
    if millis <= 0 || millis % 1000 != 0 {
        return if millis == 0 {
            "0s".to_string()
        } else {
            format!("{millis}ms")
        };
    }
    let mut rest = millis / 1000;
    let mut out = String::new();
    for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= secs {
            out.push_str(&format!("{}{unit}", rest / secs));
            rest %= secs;
        }
    }
    out
}

/// A clock time `HH:MM` from seconds after midnight.
pub fn clock_to_string(secs: u32) -> String {
    format!("{:02}:{:02}", secs / 3600, (secs % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_read_as_written() {
        let at = |y, mo, d, h, mi, s| {
            chrono::NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_opt(h, mi, s)
                .unwrap()
        };
        assert_eq!(
            parse_datetime("2026-12-07 14:30"),
            Some(at(2026, 12, 7, 14, 30, 0))
        );
        assert_eq!(
            parse_datetime("2026-12-07T14:30:05"),
            Some(at(2026, 12, 7, 14, 30, 5))
        );
        assert_eq!(
            parse_datetime("2026-12-07T14:30:05.250Z"),
            Some(at(2026, 12, 7, 14, 30, 5))
        );
        assert_eq!(
            parse_datetime("2026-12-07T08:00:00+08:00"),
            Some(at(2026, 12, 7, 8, 0, 0))
        );
        assert_eq!(
            parse_datetime("2026-2-3 9:05"),
            Some(at(2026, 2, 3, 9, 5, 0))
        );
        assert_eq!(parse_datetime("2026-12-07"), None);
        assert_eq!(parse_datetime("2026-12-07 25:00"), None);
        assert_eq!(parse_datetime("2026-02-30 10:00"), None);
        assert_eq!(parse_datetime("2026-12-07 14:30 tomorrow"), None);
        assert_eq!(
            datetime_to_string(at(2026, 12, 7, 14, 30, 0)),
            "2026-12-07 14:30"
        );
        assert_eq!(
            datetime_to_string(at(2026, 12, 7, 14, 30, 5)),
            "2026-12-07 14:30:05"
        );
    }

    #[test]
    fn durations_and_clocks() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("2d"), Some(172_800_000));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_clock("08:30"), Some(30_600));
        assert_eq!(parse_clock("24:00"), Some(86_400));
        assert_eq!(parse_clock("25:00"), None);
        assert_eq!(parse_clock("12:61"), None);
    }
}
