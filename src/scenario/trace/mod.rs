//! Request traces and token-length tables read from files (bytes in, rows out).
//!
//! Public formats load without conversion:
//! - Azure LLM inference trace 2023 CSV: `TIMESTAMP,ContextTokens,GeneratedTokens`,
//!   timestamps like `2023-11-16 18:15:46.6805900`.
//! - Mooncake JSONL: `timestamp` (ms), `input_length`, `output_length`.
//! - BurstGPT CSV: `Timestamp` (s), `Model`, `Request tokens`, `Response tokens`,
//!   `Total tokens`, `Log Type`; rows with zero response tokens are failed
//!   requests and are skipped.
//! - Plain CSV: a header naming a time column (`arrival_s`, `timestamp`, `time`)
//!   and optionally `prompt_tokens`/`input_tokens` and `output_tokens`.
//! - PMF CSV for empirical lengths: `tokens,prob` (ServeGen's published PMFs).
//!
//! gzip is detected from the content and read transparently. [`formats`]
//! reads each format; [`lengths`] builds empirical length tables.

pub mod formats;
pub mod lengths;

use std::io::Read;

use flate2::read::GzDecoder;

pub use formats::parse_datetime;
use formats::{parse_azure, parse_burstgpt, parse_mooncake, parse_plain_csv};
pub use lengths::{EmpiricalLengths, parse_lengths};

/// One recorded request. Times are seconds from the trace's first request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceRow {
    pub t: f64,
    pub prompt_tokens: u32,
    pub output_tokens: u32,
    /// (start, count) of its prefix-block hashes in [`TraceData::hash_pool`].
    pub hashes: (u32, u32),
}

/// A whole trace, sorted by time, starting at 0.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceData {
    pub rows: Vec<TraceRow>,
    /// Whether the rows carry token counts (else lengths come from the workload).
    pub has_tokens: bool,
    pub format: TraceFormat,
    /// Rows skipped as failed requests (BurstGPT).
    pub skipped_failures: usize,
    /// Prefix-block hashes of the rows (Mooncake `hash_ids`), and the
    /// tokens each names.
    pub hash_pool: std::sync::Arc<[u64]>,
    pub hash_block_tokens: u32,
}

impl TraceData {
    /// Time of the last request.
    pub fn span_s(&self) -> f64 {
        self.rows.last().map_or(0.0, |r| r.t)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    Azure,
    Mooncake,
    BurstGpt,
    Csv,
}

impl TraceFormat {
    pub fn parse(name: &str) -> Option<TraceFormat> {
        match name {
            "azure" => Some(TraceFormat::Azure),
            "mooncake" => Some(TraceFormat::Mooncake),
            "burstgpt" => Some(TraceFormat::BurstGpt),
            "csv" => Some(TraceFormat::Csv),
            _ => None,
        }
    }
    pub const NAMES: &'static str = "azure, mooncake, burstgpt or csv";
}

/// Decompresses gzip content; passes anything else through.
pub fn decompress(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| format!("cannot decompress gzip data: {e}"))?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

fn text_of(bytes: &[u8]) -> Result<String, String> {
    let raw = decompress(bytes)?;
    String::from_utf8(raw).map_err(|_| "the file is not UTF-8 text".to_string())
}

fn detect(text: &str) -> TraceFormat {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.trim_start().starts_with('{') {
        TraceFormat::Mooncake
    } else if first.contains("ContextTokens") {
        TraceFormat::Azure
    } else if first.contains("Response tokens") {
        TraceFormat::BurstGpt
    } else {
        TraceFormat::Csv
    }
}

/// Parses a trace file's bytes. `format: None` detects it from the content.
pub fn parse_trace(bytes: &[u8], format: Option<TraceFormat>) -> Result<TraceData, String> {
    let text = text_of(bytes)?;
    let format = format.unwrap_or_else(|| detect(&text));
    let mut hash_pool = Vec::new();
    let (mut rows, has_tokens, skipped) = match format {
        TraceFormat::Azure => (parse_azure(&text)?, true, 0),
        TraceFormat::Mooncake => {
            let (rows, pool) = parse_mooncake(&text)?;
            hash_pool = pool;
            (rows, true, 0)
        }
        TraceFormat::BurstGpt => {
            let (rows, skipped) = parse_burstgpt(&text)?;
            (rows, true, skipped)
        }
        TraceFormat::Csv => parse_plain_csv(&text)?,
    };
    if rows.is_empty() {
        return Err("the trace holds no requests".into());
    }
    finish_rows(&mut rows);
    Ok(TraceData {
        rows,
        has_tokens,
        format,
        skipped_failures: skipped,
        hash_pool: hash_pool.into(),
        // Mooncake's hash_ids name blocks of 512 tokens.
        hash_block_tokens: if format == TraceFormat::Mooncake {
            512
        } else {
            0
        },
    })
}

/// Builds a trace from inline `[arrival_s, prompt, output]` rows.
pub fn inline_trace(rows: &[Vec<f64>]) -> Result<TraceData, String> {
    let mut out = Vec::with_capacity(rows.len());
    let mut has_tokens = None;
    for (i, r) in rows.iter().enumerate() {
        let bad = |what: &str| format!("row {i}: {what}");
        if !(r.len() == 1 || r.len() == 3) {
            return Err(bad(&format!(
                "expected [arrival_s] or [arrival_s, prompt_tokens, output_tokens], got {} values",
                r.len()
            )));
        }
        if has_tokens.is_some_and(|h| h != (r.len() == 3)) {
            return Err(bad("every row must have the same number of values"));
        }
        has_tokens = Some(r.len() == 3);
        if !(r[0].is_finite() && r[0] >= 0.0) {
            return Err(bad(&format!(
                "arrival time {} must be a finite number >= 0",
                r[0]
            )));
        }
        let (p, o) = if r.len() == 3 {
            (
                token_count(r[1], "prompt_tokens", 0).map_err(|e| bad(&e))?,
                token_count(r[2], "output_tokens", 1).map_err(|e| bad(&e))?,
            )
        } else {
            (0, 0)
        };
        out.push(TraceRow {
            t: r[0],
            prompt_tokens: p,
            output_tokens: o,
            hashes: (0, 0),
        });
    }
    if out.is_empty() {
        return Err("`requests` is empty".into());
    }
    // Inline rows keep their absolute times: tests write arrival times by hand.
    out.sort_by(|a, b| a.t.total_cmp(&b.t));
    Ok(TraceData {
        rows: out,
        has_tokens: has_tokens.unwrap_or(false),
        format: TraceFormat::Csv,
        skipped_failures: 0,
        hash_pool: Vec::new().into(),
        hash_block_tokens: 0,
    })
}

fn token_count(v: f64, what: &str, min: u32) -> Result<u32, String> {
    if v.is_finite() && v.fract() == 0.0 && v >= min as f64 && v <= u32::MAX as f64 {
        Ok(v as u32)
    } else {
        Err(format!("{what} {v} must be an integer >= {min}"))
    }
}

/// Sorts by time (stable, so equal times keep file order) and shifts to start at 0.
fn finish_rows(rows: &mut [TraceRow]) {
    rows.sort_by(|a, b| a.t.total_cmp(&b.t));
    let t0 = rows[0].t;
    for r in rows.iter_mut() {
        r.t -= t0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_azure_with_fractional_timestamps() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n";
        let t = parse_trace(text.as_bytes(), None).unwrap();
        assert_eq!(t.format, TraceFormat::Azure);
        assert_eq!(t.rows.len(), 2);
        assert!((t.rows[1].t - 4.314579).abs() < 1e-6);
        assert_eq!(
            (t.rows[1].prompt_tokens, t.rows[1].output_tokens),
            (396, 109)
        );
    }

    #[test]
    fn reads_mooncake_gzip() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let text = "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1]}\n{\"timestamp\": 3000, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": []}\n";
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        let gz = enc.finish().unwrap();
        let t = parse_trace(&gz, None).unwrap();
        assert_eq!(t.format, TraceFormat::Mooncake);
        assert_eq!(t.rows[1].t, 3.0);
        assert_eq!(t.rows[0].prompt_tokens, 6758);
    }

    #[test]
    fn burstgpt_skips_failures() {
        let text = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,472,18,490,Conversation log\n45,ChatGPT,1087,0,1087,Conversation log\n118,GPT-4,417,276,693,API log\n";
        let t = parse_trace(text.as_bytes(), None).unwrap();
        assert_eq!(t.format, TraceFormat::BurstGpt);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.skipped_failures, 1);
        assert_eq!(t.rows[1].t, 113.0);
    }

    #[test]
    fn plain_csv_with_and_without_tokens() {
        let t = parse_trace(b"arrival_s\n1.5\n0.5\n", None).unwrap();
        assert!(!t.has_tokens);
        assert_eq!(t.rows[0].t, 0.0);
        assert_eq!(t.rows[1].t, 1.0);
        let t = parse_trace(b"arrival_s,prompt_tokens,output_tokens\n0,10,3\n", None).unwrap();
        assert!(t.has_tokens);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_trace(
            b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,12,x\n",
            None,
        )
        .unwrap_err();
        assert!(e.contains("line 2") && e.contains("GeneratedTokens"), "{e}");
        let e = parse_trace(b"", None).unwrap_err();
        assert!(
            e.contains("no time column") || e.contains("no requests"),
            "{e}"
        );
        let e = parse_trace(b"arrival_s\n", None).unwrap_err();
        assert!(e.contains("no requests"), "{e}");
    }

    #[test]
    fn datetime_is_epoch_seconds() {
        assert_eq!(parse_datetime("1970-01-01 00:00:00"), Some(0.0));
        assert_eq!(parse_datetime("2000-03-01 00:00:01"), Some(951_868_801.0));
        assert_eq!(parse_datetime("2023-13-01 00:00:00"), None);
        // Impossible dates and times (found by the hostile-input campaign).
        assert_eq!(parse_datetime("2023-02-30 00:00:00"), None);
        assert_eq!(parse_datetime("2023-02-29 00:00:00"), None);
        assert!(parse_datetime("2024-02-29 00:00:00").is_some());
        assert_eq!(parse_datetime("2023-11-16 25:00:00"), None);
        assert_eq!(parse_datetime("2023-11-16 18:99:00"), None);
        assert_eq!(parse_datetime("2023-11-16 18:15:60"), None);
        assert_eq!(parse_datetime("2023-11-16 18:15:46:00"), None);
    }

    #[test]
    fn pmf_and_trace_columns_give_empirical_lengths() {
        let e = parse_lengths(b"tokens,prob\n10,0.25\n20,0.75\n", None, None).unwrap();
        assert_eq!(e.tokens, vec![10, 20]);
        assert_eq!(e.mean(), 17.5);
        let text = b"arrival_s,prompt_tokens,output_tokens\n0,10,1\n1,30,2\n";
        let e = parse_lengths(text, None, Some("prompt")).unwrap();
        assert_eq!(e.mean(), 20.0);
    }
}
