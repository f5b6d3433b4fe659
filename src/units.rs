//! Units used everywhere: time is `f64` seconds, money is `f64` US dollars.
//!
//! Why `f64` seconds and not integer nanoseconds: a 3-year horizon is ~9.5e7 s,
//! where an `f64` still resolves ~1.5e-8 s, far below any step time (≥ 1e-4 s).
//! Event order never depends on float rounding alone: the calendar breaks ties
//! by (class, insertion sequence), so equal times pop in a fixed order.

/// Simulated time or a duration, in seconds.
pub type Seconds = f64;

pub const MINUTE_S: Seconds = 60.0;
pub const HOUR_S: Seconds = 3600.0;
pub const DAY_S: Seconds = 86_400.0;
/// A billing month: 30 days (docs/outputs.md, `cost_per_month_usd`).
pub const MONTH_S: Seconds = 30.0 * DAY_S;
/// A year for amortization: 365 days.
pub const YEAR_S: Seconds = 365.0 * DAY_S;

/// Parses `"90s"`, `"5m"`, `"2h"`, `"1d"`, `"3y"`, `"250ms"`, `"1h30m"`.
///
/// Units: `us`, `ms`, `s`, `m`/`min`, `h`, `d`, `w`, `mo` (30 days), `y` (365 days).
/// A bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Seconds, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("an empty duration".into());
    }
    if let Ok(v) = trimmed.parse::<f64>() {
        return Ok(v);
    }
    let mut total = 0.0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("`{trimmed}` is not a duration"));
        }
        let number: f64 = rest[..num_len]
            .replace('_', "")
            .parse()
            .map_err(|_| format!("`{trimmed}` is not a duration"))?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_alphabetic() && c != 'µ')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = match unit {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" => 1.0,
            "m" | "min" => MINUTE_S,
            "h" | "hr" => HOUR_S,
            "d" => DAY_S,
            "w" => 7.0 * DAY_S,
            "mo" => MONTH_S,
            "y" | "yr" => YEAR_S,
            "" => return Err(format!("`{trimmed}` needs a unit after {number}")),
            other => {
                return Err(format!(
                    "`{other}` is not a time unit (use us, ms, s, m, h, d, w, mo, y)"
                ));
            }
        };
        total += number * scale;
        rest = rest[unit_len..].trim_start();
    }
    Ok(total)
}

/// Short human form of a duration for tables: `850ms`, `12.5s`, `3.2h`.
pub fn format_duration(s: Seconds) -> String {
    if !s.is_finite() {
        return "-".into();
    }
    let a = s.abs();
    if a < 1e-3 {
        format!("{:.0}us", s * 1e6)
    } else if a < 1.0 {
        format!("{:.0}ms", s * 1e3)
    } else if a < 120.0 {
        format!("{s:.2}s")
    } else if a < HOUR_S {
        format!("{:.1}m", s / MINUTE_S)
    } else if a < 2.0 * DAY_S {
        format!("{:.1}h", s / HOUR_S)
    } else {
        format!("{:.1}d", s / DAY_S)
    }
}

/// A value from the user's input as an error message can show it: control
/// characters escaped (they would reach the terminal), numbers of more than
/// 20 characters in scientific form (`5e-324`, not 324 decimals), and cut
/// to 120 characters with the length said.
pub fn readable_value(value: &str) -> String {
    const MAX: usize = 120;
    let out = readable_numbers(value);
    let n = out.chars().count();
    if n > MAX {
        let cut: String = out.chars().take(MAX).collect();
        format!("{cut}… ({} characters)", value.chars().count())
    } else {
        out
    }
}

/// Numbers of more than 20 characters in scientific form, control
/// characters escaped; nothing cut.
pub fn readable_numbers(value: &str) -> String {
    let mut out = String::new();
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        match token.parse::<f64>() {
            Ok(x) if token.len() > 20 => out.push_str(&format!("{x:e}")),
            _ => out.push_str(token),
        }
        token.clear();
    };
    for c in value.chars() {
        if c.is_ascii_digit()
            || (!token.is_empty() && ".eE+-".contains(c))
            || (token.is_empty() && c == '-')
        {
            token.push(c);
            continue;
        }
        flush(&mut token, &mut out);
        if c.is_control() {
            out.push_str(&c.escape_default().to_string());
        } else {
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// How per-month figures come from a horizon, in words: `costs per month
/// are the 1.0h horizon's × 720 (a month is 30 days)`, plus a caution when
/// the horizon is shorter than a day (a month of real traffic has nights
/// and weekends that one peak hour repeated does not).
pub fn month_extrapolation(horizon_s: Seconds) -> (String, Option<String>) {
    let factor = MONTH_S / horizon_s;
    let factor_text = if factor >= 10.0 {
        format!("{factor:.0}")
    } else {
        format!("{factor:.3}")
    };
    let how = format!(
        "the {} horizon's figures × {factor_text} (a month is 30 days)",
        format_duration(horizon_s)
    );
    let caution = if horizon_s < 5.0 * MINUTE_S {
        // An empty fleet at t = 0 and queues cut at the horizon weigh on
        // every figure of a short run.
        Some(format!(
            "A {} horizon starts from an empty, idle fleet and ends before queues and autoscalers settle: latency tails and costs depend on that start, and the month repeats it {factor_text} times. Simulate at least several minutes (a trace scaled with rate_scale is compressed in time: lower it and lengthen the horizon).",
            format_duration(horizon_s)
        ))
    } else if horizon_s < DAY_S {
        Some(format!(
            "The month repeats this {} horizon {factor_text} times: if the traffic simulated is a peak, the monthly cost of elastic plans (autoscaled, serverless, API) is overstated; simulate a day (a diurnal profile) for them.",
            format_duration(horizon_s)
        ))
    } else {
        None
    };
    (how, caution)
}

/// Human form of a count (requests, tokens): `980`, `45,600`,
/// `12.3 million`, `1.39 billion`.
pub fn format_count(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a >= 1e12 {
        format!("{:.2} trillion", x / 1e12)
    } else if a >= 1e9 {
        format!("{:.2} billion", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.1} million", x / 1e6)
    } else {
        let digits = format!("{:.0}", a);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if x < 0.0 { format!("-{out}") } else { out }
    }
}

/// Short human form of an amount of money for tables and axes: `$0.42`,
/// `$850`, `$12.3k`, `$1.25M`.
pub fn format_usd(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let a = x.abs();
    if a >= 1e6 {
        format!("${:.2}M", x / 1e6)
    } else if a >= 1e4 {
        format!("${:.1}k", x / 1e3)
    } else if a >= 100.0 {
        format!("${x:.0}")
    } else {
        format!("${x:.2}")
    }
}

/// A name as it appears in file names: letters, digits, `-` and `_` kept,
/// anything else `_` (strategies' charts are named by it).
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_messages_are_readable() {
        assert_eq!(readable_value(&format!("{}", 5e-324)), "5e-324");
        assert_eq!(
            readable_value(&format!(
                "{{ lognormal = {{ median = {}, sigma = 0.2 }} }}",
                1e308
            )),
            "{ lognormal = { median = 1e308, sigma = 0.2 } }"
        );
        assert_eq!(
            readable_value("\"a\u{7}\u{1b}[31m\""),
            "\"a\\u{7}\\u{1b}[31m\""
        );
        let long = readable_value(&"n".repeat(5_000_000));
        assert!(
            long.len() < 200 && long.ends_with("(5000000 characters)"),
            "{long}"
        );
        assert_eq!(readable_value("-3.5"), "-3.5");
        assert_eq!(readable_value("2023-11-16"), "2023-11-16");
    }

    #[test]
    fn the_month_factor_is_said_with_a_caution_for_short_horizons() {
        let (how, c) = month_extrapolation(HOUR_S);
        assert!(how.contains("× 720") && c.unwrap().contains("elastic plans"));
        let (how, c) = month_extrapolation(60.0);
        assert!(how.contains("× 43200") && c.unwrap().contains("empty, idle fleet"));
        assert!(month_extrapolation(7.0 * DAY_S).1.is_none());
    }

    #[test]
    fn counts_read_as_words() {
        assert_eq!(format_count(980.0), "980");
        assert_eq!(format_count(45_600.0), "45,600");
        assert_eq!(format_count(123_456.4), "123,456");
        assert_eq!(format_count(12_340_000.0), "12.3 million");
        assert_eq!(format_count(1.386e9), "1.39 billion");
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("90s"), Ok(90.0));
        assert_eq!(parse_duration("5m"), Ok(300.0));
        assert_eq!(parse_duration("2h"), Ok(7200.0));
        assert_eq!(parse_duration("1d"), Ok(86_400.0));
        assert_eq!(parse_duration("3y"), Ok(3.0 * 365.0 * 86_400.0));
        assert_eq!(parse_duration("250ms"), Ok(0.25));
        assert_eq!(parse_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_duration("12.5"), Ok(12.5));
        assert_eq!(parse_duration("1mo"), Ok(30.0 * 86_400.0));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5").is_ok());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("10").is_ok());
        assert!(parse_duration("10x").is_err());
    }
}
