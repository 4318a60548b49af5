//! Directus timestamps as milliseconds since the Unix epoch, and back.
//!
//! Presence is judged from the server's clock (a row's `date_updated`), so the client
//! must compare server dates with each other and with its estimate of the server's
//! time. Directus sends timestamps as ISO 8601 in UTC (`2026-11-25T19:55:01.123Z`); some
//! databases give aggregates (`max`) as `2026-11-25 19:55:01.123` or as a number of
//! milliseconds, which are read too. Written without a date crate: the civil-date
//! arithmetic is a dozen lines (Howard Hinnant's `days_from_civil`).

use serde_json::Value;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn parse_text(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0, 4)?, num(5, 2)?, num(8, 2)?, num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let (f, tail) = frac.split_at(digits);
        // Milliseconds: the first three digits, padded.
        let padded: String = f.chars().chain("000".chars()).take(3).collect();
        ms = padded.parse().ok()?;
        rest = tail;
    }
    let offset_min = match rest {
        "" | "Z" | "z" | "+00:00" | "+0000" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (num(s.len() - 5, 2)? * 60 + num(s.len() - 2, 2)?)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + ms)
}

/// Milliseconds since the Unix epoch of a date as Directus sends it: ISO 8601 text (UTC
/// or with an offset; a date without one is taken as UTC, which is how Directus stores
/// timestamps) or a number of milliseconds. `None` for anything else.
pub fn parse_date_ms(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_text(s.trim()),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// A date as ISO 8601 in UTC with milliseconds, as Directus writes them.
pub fn format_date_ms(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_shapes_directus_sends() {
        let ms = 1_795_636_501_123; // 2026-11-25T19:55:01.123Z
        assert_eq!(parse_date_ms(&json!("2026-11-25T19:55:01.123Z")), Some(ms));
        assert_eq!(parse_date_ms(&json!("2026-11-25 19:55:01.123")), Some(ms));
        assert_eq!(parse_date_ms(&json!("2026-11-25T20:55:01.123+01:00")), Some(ms));
        assert_eq!(parse_date_ms(&json!("2026-11-25T19:55:01Z")), Some(ms - 123));
        assert_eq!(parse_date_ms(&json!("2026-11-25T19:55:01.1Z")), Some(ms - 23));
        assert_eq!(parse_date_ms(&json!(ms)), Some(ms));
        assert_eq!(format_date_ms(ms), "2026-11-25T19:55:01.123Z");
        assert_eq!(parse_date_ms(&json!(format_date_ms(0))), Some(0));
        for bad in [json!("yesterday"), json!("2026-13-01T00:00:00Z"), json!(null), json!("2026-11-25T19:55:01.123Q")] {
            assert_eq!(parse_date_ms(&bad), None, "{bad}");
        }
    }
}
