//! The audit `MicroTime` format: RFC 3339 in UTC with six fractional digits, parsed to and
//! printed from microseconds since the Unix epoch.

use chrono::{DateTime, NaiveDateTime, Utc};

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
