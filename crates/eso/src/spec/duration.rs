//! Go's `time.ParseDuration` spelling (`1h30m`, `90s`, `1.5h`, `300ms`, `0`).

use std::time::Duration;

/// Nanoseconds per unit, longest spellings first so `ms` wins over `m`.
const UNITS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("μs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
];

/// Parses a Go duration (`"1h"`, `"1h30m"`, `"0"`, `"10s"`, `"0s"`, `"1.5h"`, `"300ms"`).
/// A leading `+` is accepted; negative durations and anything malformed give `None`.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let per = UNITS.iter().find(|(u, _)| *u == unit)?.1;
        nanos += value * per;
        rest = next;
    }
    if !nanos.is_finite() || nanos > u64::MAX as f64 {
        return None;
    }
    Some(Duration::from_nanos(nanos.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let cases: &[(&str, Option<u64>)] = &[
            ("1h", Some(3_600_000)),
            ("1h30m", Some(5_400_000)),
            ("90s", Some(90_000)),
            ("0", Some(0)),
            ("0s", Some(0)),
            ("1.5h", Some(5_400_000)),
            ("300ms", Some(300)),
            ("1h0m0s", Some(3_600_000)),
            ("+10s", Some(10_000)),
            ("2m3.5s", Some(123_500)),
            ("", None),
            ("1", None),
            ("-1h", None),
            ("h", None),
            ("1x", None),
            ("1.2.3s", None),
            ("1h 30m", None),
        ];
        for (s, want) in cases {
            let got = parse_go_duration(s).map(|d| d.as_millis() as u64);
            assert_eq!(got, *want, "{s:?}");
        }
        assert_eq!(
            parse_go_duration("1500ns"),
            Some(Duration::from_nanos(1500))
        );
        assert_eq!(parse_go_duration("2us"), Some(Duration::from_micros(2)));
        assert_eq!(parse_go_duration("2µs"), Some(Duration::from_micros(2)));
    }
}
