//! xs:dateTime as EWS writes and reads it: always written in UTC with a `Z`; read with `Z` or a
//! numeric offset, fractions of a second ignored beyond the second. The calendar (which dates
//! exist, days since the epoch) is the `time` crate's, so `2026-02-31` is refused, not wrapped.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// `time` on the UTC calendar, to the second. Outside the calendar's years (±9999), which no
/// date format we write can hold, it is clamped to the nearest end.
pub(crate) fn utc(time: SystemTime) -> OffsetDateTime {
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(if secs < 0 {
        PrimitiveDateTime::MIN.assume_utc()
    } else {
        PrimitiveDateTime::MAX.assume_utc()
    })
}

/// `2026-11-23T16:00:00Z`.
pub fn format(time: SystemTime) -> String {
    let utc = utc(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`; a time without zone is taken as UTC. A date or
/// time that does not exist (February 31st, 24:00, a 99-minute offset) is `None`.
pub fn parse(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let (date, rest) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-');
    let year: i32 = date_parts.next()?.parse().ok()?;
    let month: u8 = date_parts.next()?.parse().ok()?;
    let day: u8 = date_parts.next()?.parse().ok()?;
    let (clock, offset) = if let Some(clock) = rest.strip_suffix('Z') {
        (clock, UtcOffset::UTC)
    } else if let Some(pos) = rest.rfind(['+', '-']).filter(|&p| p >= 8) {
        let (clock, zone) = rest.split_at(pos);
        let sign: i8 = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone.get(1..)?.split_once(':')?;
        let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
        // XML Schema bounds a time zone to ±14:00.
        if h > 14 || (h == 14 && m != 0) {
            return None;
        }
        (clock, UtcOffset::from_hms(sign * h, sign * m, 0).ok()?)
    } else {
        (rest, UtcOffset::UTC)
    };
    let clock = clock.split('.').next()?;
    let mut clock_parts = clock.splitn(3, ':');
    let hour: u8 = clock_parts.next()?.parse().ok()?;
    let minute: u8 = clock_parts.next()?.parse().ok()?;
    let second: u8 = clock_parts.next()?.parse().ok()?;
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    let secs = PrimitiveDateTime::new(date, time)
        .assume_offset(offset)
        .unix_timestamp();
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_392_000);
        assert_eq!(format(t), "2026-11-23T00:00:00Z");
        assert_eq!(parse("2026-11-23T00:00:00Z"), Some(t));
        assert_eq!(parse("2026-11-23T01:30:00.123+01:30"), Some(t));
        assert_eq!(parse("2026-11-22T19:00:00-05:00"), Some(t));
        assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse("2024-02-29T12:00:00Z").map(format).as_deref(),
            Some("2024-02-29T12:00:00Z")
        );
        assert_eq!(
            parse("1969-12-31T23:59:59Z").map(format).as_deref(),
            Some("1969-12-31T23:59:59Z")
        );
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "2026-11-23",
            "2026-11-23T25:00:00Z",
            "2026-02-31T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-23T12:60:00Z",
            "2026-11-23T12:00:61Z",
            "2026-11-23T12:00:00+25:00",
            "2026-11-23T12:00:00+01:75",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
