//! The audit `MicroTime` format: RFC 3339 in UTC with six fractional digits, parsed to and
//! printed from microseconds since the Unix epoch.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

/// The layout kube-apiserver writes, e.g. `2020-04-21T17:57:05.541358Z`.
const MICROTIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// Layouts accepted besides RFC 3339, read as UTC (some log shippers rewrite timestamps this way).
const SPACE_SEPARATED_FORMATS: [&str; 2] = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"];

/// Parses an RFC 3339 timestamp (any offset, any fraction) or a zone-less
/// `YYYY-MM-DD HH:MM:SS[.fff]` read as UTC. Sub-microsecond digits are truncated.
pub fn parse_micros(text: &str) -> Option<i64> {
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed.with_timezone(&Utc).timestamp_micros());
    }
    for format in SPACE_SEPARATED_FORMATS {
        if let Ok(parsed) = NaiveDateTime::parse_from_str(text, format) {
            return Some(parsed.and_utc().timestamp_micros());
        }
    }
    None
}

/// Parses a timestamp in exactly kube-apiserver's `MicroTime` layout
/// (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), which [`format_micros`] prints back unchanged; `None` for
/// any other text. Far cheaper than [`parse_micros`] followed by a comparison.
pub fn parse_microtime_exact(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 27 {
        return None;
    }
    let layout_ok = b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[26] == b'Z';
    if !layout_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(0..4)?).ok()?,
        number(5..7)?,
        number(8..10)?,
    )?;
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = i64::from(date.num_days_from_ce() - 719_163);
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some(seconds * 1_000_000 + i64::from(number(20..26)?))
}

/// Prints microseconds since the epoch in kube-apiserver's `MicroTime` layout.
pub fn format_micros(micros: i64) -> String {
    match DateTime::<Utc>::from_timestamp_micros(micros) {
        Some(time) => time.format(MICROTIME_FORMAT).to_string(),
        None => micros.to_string(),
    }
}

/// `YYYY-MM-DD` and `HH` (UTC) of a timestamp, as the `date=` and `hour=` partition values.
pub fn partition_of(micros: i64) -> (String, String) {
    let time = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
    (
        time.format("%Y-%m-%d").to_string(),
        time.format("%H").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microtime_round_trips() {
        let text = "2020-04-21T17:57:05.541358Z";
        let micros = parse_micros(text).unwrap();
        assert_eq!(format_micros(micros), text);
    }

    #[test]
    fn the_exact_layout_agrees_with_the_general_parser() {
        for text in [
            "2020-04-21T17:57:05.541358Z",
            "1970-01-01T00:00:00.000000Z",
            "1969-12-31T23:59:59.999999Z",
            "2024-02-29T23:59:59.000001Z",
            "0001-01-01T00:00:00.000000Z",
        ] {
            let exact = parse_microtime_exact(text);
            assert_eq!(exact, parse_micros(text), "{text}");
            assert_eq!(format_micros(exact.unwrap()), text);
        }
        for other in [
            "2020-04-21T17:57:05.54135Z",
            "2020-04-21T17:57:05.541358+00:00",
            "2023-02-29T00:00:00.000000Z",
            "2020-04-21T24:00:00.000000Z",
            "2020-04-21T23:59:60.000000Z",
            "2020-04-21 17:57:05.541358Z",
            "2020-04-21T17:57:05.5413a8Z",
            "+020-04-21T17:57:05.541358Z",
        ] {
            assert_eq!(parse_microtime_exact(other), None, "{other}");
        }
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let a = parse_micros("2020-04-21T19:57:05.5+02:00").unwrap();
        let b = parse_micros("2020-04-21T17:57:05.500000Z").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn space_separated_is_read_as_utc() {
        let a = parse_micros("2022-11-29 00:09:04.38").unwrap();
        assert_eq!(format_micros(a), "2022-11-29T00:09:04.380000Z");
        assert!(parse_micros("2022-11-29 00:09:04").is_some());
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(parse_micros("yesterday"), None);
        assert_eq!(parse_micros(""), None);
    }

    #[test]
    fn partition_is_utc_date_and_hour() {
        let micros = parse_micros("2026-11-30T23:59:59.999999Z").unwrap();
        assert_eq!(
            partition_of(micros),
            ("2026-11-30".to_string(), "23".to_string())
        );
    }
}
