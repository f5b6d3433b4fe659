//! One parser per trace format: text in, rows (times not yet shifted) out,
//! every error naming its line.

use std::io::{BufRead, Read};

use serde::Deserialize;

use super::Rows;

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

pub(super) fn csv_reader<R: Read>(src: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(src)
}

/// A CSV error, with its line when the reader knows it (invalid UTF-8 included).
fn csv_error(e: csv::Error) -> String {
    match e.position() {
        Some(p) => format!("line {}: malformed CSV: {e}", p.line()),
        None => format!("malformed CSV: {e}"),
    }
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

/// Rows into `out`; whether they carry token counts (always).
pub(super) fn parse_azure(src: impl Read, out: &mut Rows) -> Result<bool, String> {
    let mut rdr = csv_reader(src);
    let headers = rdr.headers().map_err(csv_error)?.clone();
    let ti = header_index(&headers, &["TIMESTAMP"]).ok_or("missing column TIMESTAMP")?;
    let pi = header_index(&headers, &["ContextTokens"]).ok_or("missing column ContextTokens")?;
    let oi =
        header_index(&headers, &["GeneratedTokens"]).ok_or("missing column GeneratedTokens")?;
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(csv_error)? {
        let line = rec.position().map_or(0, |p| p.line());
        let ts = field(&rec, ti);
        let t = parse_datetime(ts).ok_or_else(|| {
            format!("line {line}: `{ts}` is not a timestamp like 2023-11-16 18:15:46.6805900")
        })?;
        let p = parse_u32(field(&rec, pi), line, "ContextTokens")?;
        let o = parse_u32(field(&rec, oi), line, "GeneratedTokens")?.max(1);
        out.push(line, t, p, o, &[])?;
    }
    Ok(true)
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

/// Rows (with their prefix-block hashes) into `out`, one JSON object a line.
pub(super) fn parse_mooncake(mut src: impl BufRead, out: &mut Rows) -> Result<bool, String> {
    let mut buf = String::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        line += 1;
        let n = src.read_line(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => format!("line {line}: not UTF-8 text"),
            _ => format!("line {line}: cannot read: {e}"),
        })?;
        if n == 0 {
            return Ok(true);
        }
        if buf.trim().is_empty() {
            continue;
        }
        // serde would read a struct from a JSON array by position.
        if !buf.trim_start().starts_with('{') {
            return Err(format!(
                "line {line}: not a Mooncake record: expected a JSON object {{\"timestamp\": …}}"
            ));
        }
        let r: MooncakeRow = serde_json::from_str(&buf)
            .map_err(|e| format!("line {line}: not a Mooncake record: {e}"))?;
        if !r.timestamp.is_finite() {
            return Err(format!("line {line}: timestamp is not finite"));
        }
        out.push(
            line,
            r.timestamp / 1000.0,
            r.input_length,
            r.output_length.max(1),
            &r.hash_ids,
        )?;
    }
}

/// Rows into `out`; whether they carry tokens (always) and the failed requests skipped.
pub(super) fn parse_burstgpt(src: impl Read, out: &mut Rows) -> Result<(bool, usize), String> {
    let mut rdr = csv_reader(src);
    let headers = rdr.headers().map_err(csv_error)?.clone();
    let ti = header_index(&headers, &["Timestamp"]).ok_or("missing column Timestamp")?;
    let pi = header_index(&headers, &["Request tokens"]).ok_or("missing column Request tokens")?;
    let oi =
        header_index(&headers, &["Response tokens"]).ok_or("missing column Response tokens")?;
    let mut skipped = 0;
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(csv_error)? {
        let line = rec.position().map_or(0, |p| p.line());
        let o = parse_u32(field(&rec, oi), line, "Response tokens")?;
        if o == 0 {
            skipped += 1;
            continue;
        }
        let t = parse_secs(field(&rec, ti), line, "Timestamp")?;
        let p = parse_u32(field(&rec, pi), line, "Request tokens")?;
        out.push(line, t, p, o, &[])?;
    }
    Ok((true, skipped))
}

/// Rows into `out`; whether they carry token counts, and rows skipped (none).
pub(super) fn parse_plain_csv(src: impl Read, out: &mut Rows) -> Result<(bool, usize), String> {
    let mut rdr = csv_reader(src);
    let headers = rdr.headers().map_err(csv_error)?.clone();
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
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(csv_error)? {
        let line = rec.position().map_or(0, |p| p.line());
        let t = parse_secs(field(&rec, ti), line, &headers[ti])?;
        let (p, o) = match (pi, oi) {
            (Some(pi), Some(oi)) => (
                parse_u32(field(&rec, pi), line, &headers[pi])?,
                parse_u32(field(&rec, oi), line, &headers[oi])?.max(1),
            ),
            _ => (0, 0),
        };
        out.push(line, t, p, o, &[])?;
    }
    Ok((pi.is_some(), 0))
}
