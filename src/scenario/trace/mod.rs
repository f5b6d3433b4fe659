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

use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;

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

/// Longest trace accepted: the longest horizon.
const MAX_SPAN_S: f64 = super::defaults::MAX_HORIZON_S;

/// A trace, sorted by time, starting at 0: every request a run can reach.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceData {
    pub rows: Vec<TraceRow>,
    /// Requests in the file (rows past the reach of the run are not kept).
    pub requests: u64,
    /// Whether `rows` holds every request of the file.
    pub complete: bool,
    /// Trace seconds from the start within which every request is kept
    /// (infinite when the trace is complete).
    pub kept_s: f64,
    /// Seconds from the first request to the last one in the file.
    pub span: f64,
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
        self.span
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

/// Longest line of a trace file: a row is tens of bytes, a Mooncake record
/// with its hashes a few kilobytes. Without a bound, a file with no line
/// breaks (a gzip bomb, /dev/zero) would be buffered whole.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Passes bytes through, failing once a line runs past [`MAX_LINE_BYTES`].
struct LineLimit<R> {
    inner: R,
    since_newline: usize,
    line: u64,
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.since_newline = 0;
                self.line += 1;
            } else {
                self.since_newline += 1;
                if self.since_newline > MAX_LINE_BYTES {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "line {} is longer than {} MiB: not a trace",
                            self.line + 1,
                            MAX_LINE_BYTES >> 20
                        ),
                    ));
                }
            }
        }
        Ok(n)
    }
}

/// Decompresses gzip content (every member of a concatenated file); passes
/// anything else through. Lines are bounded by [`MAX_LINE_BYTES`].
pub fn decompressing<'a>(src: impl Read + 'a) -> Result<Box<dyn BufRead + 'a>, String> {
    let mut buf = BufReader::with_capacity(1 << 16, src);
    let head = buf
        .fill_buf()
        .map_err(|e| format!("cannot read the file: {e}"))?;
    let limit = |inner: Box<dyn Read + 'a>| LineLimit {
        inner,
        since_newline: 0,
        line: 0,
    };
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            limit(Box::new(MultiGzDecoder::new(buf))),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            limit(Box::new(buf)),
        )))
    }
}

/// Largest length table read whole (a PMF is kilobytes).
const MAX_TABLE_BYTES: u64 = 256 << 20;

/// The whole content as text (small files: length tables).
fn text_of(src: impl Read) -> Result<String, String> {
    let mut raw = Vec::new();
    decompressing(src)?
        .take(MAX_TABLE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if raw.len() as u64 > MAX_TABLE_BYTES {
        return Err(format!(
            "the file holds more than {} MiB: too large for a length table",
            MAX_TABLE_BYTES >> 20
        ));
    }
    String::from_utf8(raw).map_err(|_| "the file is not UTF-8 text".to_string())
}

fn detect(first: &str) -> TraceFormat {
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

/// Parses a trace in one streaming pass. `format: None` detects it from the
/// first non-empty line. Every row is validated (and counts towards the span),
/// but only rows within `keep_s` seconds of the trace's start are kept: a run
/// never reaches the others, so memory follows the horizon, not the file.
pub fn parse_trace(
    src: impl Read,
    format: Option<TraceFormat>,
    keep_s: Option<f64>,
) -> Result<TraceData, String> {
    let mut input = decompressing(src)?;
    // The leading blank lines and the first non-empty one, read to detect the
    // format, then handed back to the parser in front of the rest.
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = input
            .read_until(b'\n', &mut head)
            .map_err(|e| format!("cannot read the file: {e}"))?;
        // Blank lines are bytes too: a file of only spaces ends here.
        if head.len() > MAX_LINE_BYTES {
            return Err(format!(
                "the file starts with more than {} MiB of blank lines: not a trace",
                MAX_LINE_BYTES >> 20
            ));
        }
        if n == 0 || !head[before..].iter().all(u8::is_ascii_whitespace) {
            break;
        }
    }
    let first = String::from_utf8_lossy(&head);
    let format = format.unwrap_or_else(|| detect(first.trim()));
    let reader = std::io::Cursor::new(head).chain(input);
    let mut rows = Rows::new(keep_s.unwrap_or(f64::INFINITY));
    let (has_tokens, skipped) = match format {
        TraceFormat::Azure => (parse_azure(reader, &mut rows)?, 0),
        TraceFormat::Mooncake => (parse_mooncake(BufReader::new(reader), &mut rows)?, 0),
        TraceFormat::BurstGpt => parse_burstgpt(reader, &mut rows)?,
        TraceFormat::Csv => parse_plain_csv(reader, &mut rows)?,
    };
    rows.finish(format, has_tokens, skipped)
}

/// Collects validated rows: the span so far, and the rows a run can reach.
pub(super) struct Rows {
    rows: Vec<TraceRow>,
    pool: Vec<u64>,
    keep_s: f64,
    min_t: f64,
    max_t: f64,
    seen: u64,
}

impl Rows {
    fn new(keep_s: f64) -> Self {
        Rows {
            rows: Vec::new(),
            pool: Vec::new(),
            keep_s,
            min_t: f64::INFINITY,
            max_t: f64::NEG_INFINITY,
            seen: 0,
        }
    }

    /// One request at `t` seconds (any origin; finite), from `line` of the file.
    pub(super) fn push(
        &mut self,
        line: u64,
        t: f64,
        prompt_tokens: u32,
        output_tokens: u32,
        hashes: &[u64],
    ) -> Result<(), String> {
        self.min_t = self.min_t.min(t);
        self.max_t = self.max_t.max(t);
        if self.max_t - self.min_t > MAX_SPAN_S {
            return Err(format!(
                "line {line}: this request is {:.0} days from the trace's earliest one; a trace may span at most 5 years",
                (self.max_t - self.min_t) / 86_400.0
            ));
        }
        self.seen += 1;
        // Kept rows are within keep_s of the earliest time seen so far; the
        // earliest can only move back, so a row left out stays out of reach.
        if t - self.min_t <= self.keep_s {
            let start = self.pool.len() as u32;
            if self.pool.len() + hashes.len() > u32::MAX as usize {
                return Err(format!(
                    "line {line}: more than {} prefix-block hashes in the trace",
                    u32::MAX
                ));
            }
            self.pool.extend_from_slice(hashes);
            self.rows.push(TraceRow {
                t,
                prompt_tokens,
                output_tokens,
                hashes: (start, hashes.len() as u32),
            });
        }
        Ok(())
    }

    fn finish(
        mut self,
        format: TraceFormat,
        has_tokens: bool,
        skipped: usize,
    ) -> Result<TraceData, String> {
        if self.seen == 0 {
            return Err("the trace holds no requests".into());
        }
        let t0 = self.min_t;
        // Stable, so equal times keep file order.
        self.rows.sort_by(|a, b| a.t.total_cmp(&b.t));
        for r in self.rows.iter_mut() {
            r.t -= t0;
        }
        self.rows.shrink_to_fit();
        self.pool.shrink_to_fit();
        let complete = self.rows.len() as u64 == self.seen;
        Ok(TraceData {
            complete,
            kept_s: if complete { f64::INFINITY } else { self.keep_s },
            requests: self.seen,
            span: self.max_t - t0,
            rows: self.rows,
            has_tokens,
            format,
            skipped_failures: skipped,
            hash_pool: self.pool.into(),
            // Mooncake's hash_ids name blocks of 512 tokens.
            hash_block_tokens: if format == TraceFormat::Mooncake {
                512
            } else {
                0
            },
        })
    }
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
        requests: out.len() as u64,
        complete: true,
        kept_s: f64::INFINITY,
        span: out.last().map_or(0.0, |r| r.t),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_azure_with_fractional_timestamps() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n";
        let t = parse_trace(text.as_bytes(), None, None).unwrap();
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
        let t = parse_trace(&gz[..], None, None).unwrap();
        assert_eq!(t.format, TraceFormat::Mooncake);
        assert_eq!(t.rows[1].t, 3.0);
        assert_eq!(t.rows[0].prompt_tokens, 6758);
    }

    #[test]
    fn a_line_without_end_is_refused_in_bounded_memory() {
        // Found by the hostile-input campaign: one 1 GB line (a gzip bomb)
        // or /dev/zero reached 4-24 GB before an error.
        let endless = std::io::repeat(b'0');
        let e = parse_trace(endless, Some(TraceFormat::Csv), None).unwrap_err();
        assert!(e.contains("longer than 1 MiB"), "{e}");
        let mut rows = b"arrival_s\n0\n".to_vec();
        rows.extend(std::iter::repeat_n(b'1', MAX_LINE_BYTES + 10));
        let e = parse_trace(&rows[..], None, None).unwrap_err();
        assert!(e.contains("line 3") && e.contains("longer than"), "{e}");
    }

    #[test]
    fn a_mooncake_line_must_be_an_object() {
        let e = parse_trace(
            &b"{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n[0, 100, 20]\n"[..],
            None,
            None,
        )
        .unwrap_err();
        assert!(e.contains("line 2") && e.contains("JSON object"), "{e}");
    }

    #[test]
    fn every_gzip_member_is_read() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let member = |text: &str| {
            let mut enc = GzEncoder::new(Vec::new(), Compression::default());
            enc.write_all(text.as_bytes()).unwrap();
            enc.finish().unwrap()
        };
        // `cat a.gz b.gz` is one valid gzip file of two members.
        let mut gz = member("arrival_s\n0\n1\n");
        gz.extend(member("2\n3\n"));
        let t = parse_trace(&gz[..], None, None).unwrap();
        assert_eq!(t.rows.len(), 4);
        assert_eq!(t.span_s(), 3.0);
    }

    #[test]
    fn rows_past_the_reach_are_validated_but_not_kept() {
        let text = "arrival_s\n10\n11\n15\n12\n30\n";
        let all = parse_trace(text.as_bytes(), None, None).unwrap();
        assert!(all.complete && all.kept_s.is_infinite());
        let cut = parse_trace(text.as_bytes(), None, Some(2.5)).unwrap();
        assert_eq!(cut.rows, all.rows[..3].to_vec());
        assert!(!cut.complete);
        assert_eq!((cut.requests, cut.span_s(), cut.kept_s), (5, 20.0, 2.5));
        // An earlier row later in the file moves the start back; what was
        // left out stays out of reach, what was kept is still sorted.
        let cut = parse_trace(&b"arrival_s\n10\n13\n9\n"[..], None, Some(2.5)).unwrap();
        let times: Vec<f64> = cut.rows.iter().map(|r| r.t).collect();
        assert_eq!(times, vec![0.0, 1.0]);
        // Rows beyond the reach are still checked.
        let e = parse_trace(&b"arrival_s\n0\n1\nx\n"[..], None, Some(0.5)).unwrap_err();
        assert!(e.contains("line 4"), "{e}");
    }

    #[test]
    fn a_trace_spans_at_most_five_years() {
        let e = parse_trace(
            &b"TIMESTAMP,ContextTokens,GeneratedTokens\n2018-01-01 00:00:00,1,1\n2023-11-16 18:15:46,12,3\n"[..],
            None,
            None,
        )
        .unwrap_err();
        assert!(e.contains("line 3") && e.contains("5 years"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_refused_with_its_line() {
        let e = parse_trace(&b"arrival_s\n0\n\xff\n"[..], None, None).unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = parse_trace(
            &b"{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n\xff\n"[..],
            None,
            None,
        )
        .unwrap_err();
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn burstgpt_skips_failures() {
        let text = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,472,18,490,Conversation log\n45,ChatGPT,1087,0,1087,Conversation log\n118,GPT-4,417,276,693,API log\n";
        let t = parse_trace(text.as_bytes(), None, None).unwrap();
        assert_eq!(t.format, TraceFormat::BurstGpt);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.skipped_failures, 1);
        assert_eq!(t.rows[1].t, 113.0);
    }

    #[test]
    fn plain_csv_with_and_without_tokens() {
        let t = parse_trace(&b"arrival_s\n1.5\n0.5\n"[..], None, None).unwrap();
        assert!(!t.has_tokens);
        assert_eq!(t.rows[0].t, 0.0);
        assert_eq!(t.rows[1].t, 1.0);
        let t = parse_trace(
            &b"arrival_s,prompt_tokens,output_tokens\n0,10,3\n"[..],
            None,
            None,
        )
        .unwrap();
        assert!(t.has_tokens);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_trace(
            &b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,12,x\n"[..],
            None,
            None,
        )
        .unwrap_err();
        assert!(e.contains("line 2") && e.contains("GeneratedTokens"), "{e}");
        let e = parse_trace(&b""[..], None, None).unwrap_err();
        assert!(
            e.contains("no time column") || e.contains("no requests"),
            "{e}"
        );
        let e = parse_trace(&b"arrival_s\n"[..], None, None).unwrap_err();
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
        let e = parse_lengths(&b"tokens,prob\n10,0.25\n20,0.75\n"[..], None, None).unwrap();
        assert_eq!(e.tokens, vec![10, 20]);
        assert_eq!(e.mean(), 17.5);
        let text = b"arrival_s,prompt_tokens,output_tokens\n0,10,1\n1,30,2\n";
        let e = parse_lengths(&text[..], None, Some("prompt")).unwrap();
        assert_eq!(e.mean(), 20.0);
    }
}
