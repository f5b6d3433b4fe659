//! One parser per trace format: text in, rows (times not yet shifted) out,
//! every error naming its line.

use serde::Deserialize;

use super::TraceRow;

/// Seconds since 1970-01-01 of a `YYYY-MM-DD HH:MM:SS[.fffffff]` timestamp.
pub fn parse_datetime(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    // Real dates only (no February 30th), in years a trace can come from.
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=month_days[(m - 1) as usize]).contains(&day)
    {
        return None;
    }
    let mut t = time.trim_end_matches('Z').split(':');
    let hh: u32 = t.next()?.parse().ok()?;
    let mm: u32 = t.next()?.parse().ok()?;
    let ss: f64 = t.next()?.parse().ok()?;
    if t.next().is_some() || hh > 23 || mm > 59 || !(0.0..60.0).contains(&ss) {
        return None;
    }
    let (hh, mm) = (hh as f64, mm as f64);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + hh * 3600.0 + mm * 60.0 + ss)
}

pub(super) fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes())
}

pub(super) fn header_index(headers: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    headers
        .iter()
        .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
}

pub(super) fn field(rec: &csv::StringRecord, i: usize) -> &str {
    rec.get(i).unwrap_or("")
}

pub(super) fn parse_u32(s: &str, line: u64, column: &str) -> Result<u32, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && v.fract() == 0.0 && *v <= u32::MAX as f64)
        .map(|v| v as u32)
        .ok_or_else(|| format!("line {line}: `{s}` in column {column} is not a token count"))
}

pub(super) fn parse_secs(s: &str, line: u64, column: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("line {line}: `{s}` in column {column} is not a number of seconds"))
}

pub(super) fn parse_azure(text: &str) -> Result<Vec<TraceRow>, String> {
    let mut rdr = csv_reader(text);
    let headers = rdr.headers().map_err(|e| e.to_string())?.clone();
    let ti = header_index(&headers, &["TIMESTAMP"]).ok_or("missing column TIMESTAMP")?;
    let pi = header_index(&headers, &["ContextTokens"]).ok_or("missing column ContextTokens")?;
    let oi =
        header_index(&headers, &["GeneratedTokens"]).ok_or("missing column GeneratedTokens")?;
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("malformed CSV: {e}"))?;
        let line = rec.position().map_or(0, |p| p.line());
        let ts = field(&rec, ti);
        let t = parse_datetime(ts).ok_or_else(|| {
            format!("line {line}: `{ts}` is not a timestamp like 2023-11-16 18:15:46.6805900")
        })?;
        rows.push(TraceRow {
            t,
            prompt_tokens: parse_u32(field(&rec, pi), line, "ContextTokens")?,
            output_tokens: parse_u32(field(&rec, oi), line, "GeneratedTokens")?.max(1),
            hashes: (0, 0),
        });
    }
    Ok(rows)
}

#[derive(Deserialize)]
struct MooncakeRow {
    timestamp: f64,
    input_length: u32,
    output_length: u32,
    /// Prefix-block hashes (blocks of 512 tokens; equal ids, equal prefixes).
    #[serde(default)]
    hash_ids: Vec<u64>,
}

/// Rows, and the pool of prefix-block hashes they index.
pub(super) fn parse_mooncake(text: &str) -> Result<(Vec<TraceRow>, Vec<u64>), String> {
    let mut rows = Vec::new();
    let mut pool = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: MooncakeRow = serde_json::from_str(line)
            .map_err(|e| format!("line {}: not a Mooncake record: {e}", i + 1))?;
        if !r.timestamp.is_finite() {
            return Err(format!("line {}: timestamp is not finite", i + 1));
        }
        let start = pool.len() as u32;
        pool.extend_from_slice(&r.hash_ids);
        rows.push(TraceRow {
            t: r.timestamp / 1000.0,
            prompt_tokens: r.input_length,
            output_tokens: r.output_length.max(1),
            hashes: (start, r.hash_ids.len() as u32),
        });
    }
    Ok((rows, pool))
}

pub(super) fn parse_burstgpt(text: &str) -> Result<(Vec<TraceRow>, usize), String> {
    let mut rdr = csv_reader(text);
    let headers = rdr.headers().map_err(|e| e.to_string())?.clone();
    let ti = header_index(&headers, &["Timestamp"]).ok_or("missing column Timestamp")?;
    let pi = header_index(&headers, &["Request tokens"]).ok_or("missing column Request tokens")?;
    let oi =
        header_index(&headers, &["Response tokens"]).ok_or("missing column Response tokens")?;
    let mut rows = Vec::new();
    let mut skipped = 0;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("malformed CSV: {e}"))?;
        let line = rec.position().map_or(0, |p| p.line());
        let out = parse_u32(field(&rec, oi), line, "Response tokens")?;
        if out == 0 {
            skipped += 1;
            continue;
        }
        rows.push(TraceRow {
            t: parse_secs(field(&rec, ti), line, "Timestamp")?,
            prompt_tokens: parse_u32(field(&rec, pi), line, "Request tokens")?,
            output_tokens: out,
            hashes: (0, 0),
        });
    }
    Ok((rows, skipped))
}

pub(super) fn parse_plain_csv(text: &str) -> Result<(Vec<TraceRow>, bool, usize), String> {
    let mut rdr = csv_reader(text);
    let headers = rdr.headers().map_err(|e| e.to_string())?.clone();
    let ti = header_index(&headers, &["arrival_s", "timestamp", "time", "t", "timestamp_s"])
        .ok_or_else(|| {
            "no time column: the header must name `arrival_s` (or use format = \"azure\", \"mooncake\", \"burstgpt\")".to_string()
        })?;
    let pi = header_index(&headers, &["prompt_tokens", "input_tokens", "input_length"]);
    let oi = header_index(
        &headers,
        &["output_tokens", "output_length", "generated_tokens"],
    );
    if pi.is_some() != oi.is_some() {
        return Err("give both prompt_tokens and output_tokens columns, or neither".into());
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("malformed CSV: {e}"))?;
        let line = rec.position().map_or(0, |p| p.line());
        let t = parse_secs(field(&rec, ti), line, &headers[ti])?;
        let (p, o) = match (pi, oi) {
            (Some(pi), Some(oi)) => (
                parse_u32(field(&rec, pi), line, &headers[pi])?,
                parse_u32(field(&rec, oi), line, &headers[oi])?.max(1),
            ),
            _ => (0, 0),
        };
        rows.push(TraceRow {
            t,
            prompt_tokens: p,
            output_tokens: o,
            hashes: (0, 0),
        });
    }
    Ok((rows, pi.is_some(), 0))
}
