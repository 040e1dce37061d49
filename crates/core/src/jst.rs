//! Japan time (UTC+9, no daylight saving) for what people type and read: a day, a minute. One
//! place for it, so an export's registration days, a take-out's return date, the printed
//! sheet's time and the demo's dates all mean the same.

use mamori_domain::UnixMillis;

/// Japan's offset from UTC.
pub(crate) const OFFSET_MS: i64 = 9 * 3_600_000;
pub(crate) const DAY_MS: i64 = 86_400_000;

/// `YYYY-MM-DD` → the first millisecond of that day in Japan.
pub(crate) fn day_start(text: &str) -> Option<UnixMillis> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text.trim(), format).ok()?;
    Some(UnixMillis(date.midnight().assume_utc().unix_timestamp() * 1000 - OFFSET_MS))
}

/// `YYYY-MM-DDTHH:MM` (an HTML `datetime-local`) → that minute in Japan.
pub(crate) fn minute(text: &str) -> Option<UnixMillis> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let at = time::PrimitiveDateTime::parse(text.trim(), format).ok()?;
    Some(UnixMillis(at.assume_utc().unix_timestamp() * 1000 - OFFSET_MS))
}

/// `2026-11-29 10:15 JST`.
pub(crate) fn format_minute(t: UnixMillis) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp((t.0 + OFFSET_MS).div_euclid(1000)) else {
        return String::new();
    };
    at.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] JST"))
        .unwrap_or_default()
}

/// `YYYY-MM-DD` of the day in Japan `t` falls on.
pub(crate) fn day(t: UnixMillis) -> String {
    UnixMillis(t.0 + OFFSET_MS).rfc3339()[..10].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_minutes_in_japan() {
        let start = day_start("2026-11-29").unwrap();
        assert_eq!(start.rfc3339(), "2026-11-28T15:00:00.000Z");
        assert_eq!(day(start), "2026-11-29");
        assert_eq!(day(UnixMillis(start.0 - 1)), "2026-11-28");
        assert_eq!(minute("2026-12-01T18:30").unwrap().rfc3339(), "2026-12-01T09:30:00.000Z");
        assert_eq!(format_minute(minute("2026-12-01T18:30").unwrap()), "2026-12-01 18:30 JST");
        for bad in ["", "2026-13-01", "29/11/2026", "2026-12-01 18:30"] {
            assert!(day_start(bad).is_none() && minute(bad).is_none(), "{bad}");
        }
    }
}
