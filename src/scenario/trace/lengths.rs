//! Empirical token-length tables: a `tokens,prob` PMF file, or one column
//! of a trace, as cumulative probabilities to sample from.

use super::formats::{csv_reader, field, header_index, parse_secs, parse_u32};
use super::{TraceFormat, TraceRow, parse_trace, text_of};

/// An empirical token-length distribution: values and cumulative probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct EmpiricalLengths {
    pub tokens: Vec<u32>,
    /// Non-decreasing, last element 1.
    pub cumulative: Vec<f64>,
}

impl EmpiricalLengths {
    fn from_weights(mut pairs: Vec<(u32, f64)>) -> Result<Self, String> {
        pairs.sort_by_key(|p| p.0);
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        if !(total > 0.0 && total.is_finite()) {
            return Err("the length table has no probability mass".into());
        }
        let mut acc = 0.0;
        let mut tokens = Vec::with_capacity(pairs.len());
        let mut cumulative = Vec::with_capacity(pairs.len());
        for (t, w) in pairs {
            if w <= 0.0 {
                continue;
            }
            acc += w / total;
            tokens.push(t);
            cumulative.push(acc);
        }
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Ok(EmpiricalLengths { tokens, cumulative })
    }

    pub fn mean(&self) -> f64 {
        let mut prev = 0.0;
        let mut m = 0.0;
        for (t, c) in self.tokens.iter().zip(&self.cumulative) {
            m += *t as f64 * (c - prev);
            prev = *c;
        }
        m
    }
}

/// Reads an empirical length table: a `tokens,prob` PMF file, or one column
/// (`prompt` or `output`) of a trace in any supported format.
pub fn parse_lengths(
    src: impl std::io::Read,
    format: Option<TraceFormat>,
    column: Option<&str>,
) -> Result<EmpiricalLengths, String> {
    let text = text_of(src)?;
    let first = text.lines().next().unwrap_or("").to_ascii_lowercase();
    if format.is_none() && first.contains("tokens") && first.contains("prob") {
        let mut rdr = csv_reader(text.as_bytes());
        let headers = rdr.headers().map_err(|e| e.to_string())?.clone();
        let ti = header_index(&headers, &["tokens"]).ok_or("missing column tokens")?;
        let pi = header_index(&headers, &["prob"]).ok_or("missing column prob")?;
        let mut pairs = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| format!("malformed CSV: {e}"))?;
            let line = rec.position().map_or(0, |p| p.line());
            let t = parse_u32(field(&rec, ti), line, "tokens")?;
            let p = parse_secs(field(&rec, pi), line, "prob")?;
            if p < 0.0 {
                return Err(format!("line {line}: probability {p} is negative"));
            }
            pairs.push((t, p));
        }
        return EmpiricalLengths::from_weights(pairs);
    }
    let trace = parse_trace(text.as_bytes(), format, None)?;
    if !trace.has_tokens {
        return Err("the trace has no token columns".into());
    }
    let pick: fn(&TraceRow) -> u32 = match column {
        Some("prompt") | Some("input") => |r| r.prompt_tokens,
        Some("output") => |r| r.output_tokens,
        Some(other) => {
            return Err(format!("column `{other}` is not `prompt` or `output`"));
        }
        None => return Err("say which column: column = \"prompt\" or \"output\"".into()),
    };
    let mut counts = std::collections::BTreeMap::<u32, f64>::new();
    for r in &trace.rows {
        *counts.entry(pick(r)).or_default() += 1.0;
    }
    EmpiricalLengths::from_weights(counts.into_iter().collect())
}
