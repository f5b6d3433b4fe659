//! `replications.csv` (one row per replication × strategy) and the
//! per-request CSV of `--requests-out`.

use std::io::Write;

use crate::metrics::RequestRecord;
use crate::montecarlo::Replication;
use crate::montecarlo::RunMeta;

/// Shortest round-trip form; empty for undefined values.
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

/// Every metric name that appears for any strategy, in first-seen order.
pub fn metric_columns(reps: &[Replication]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    if let Some(r) = reps.first() {
        for o in &r.outcomes {
            for (n, _) in o.metrics() {
                if !cols.contains(&n) {
                    cols.push(n);
                }
            }
        }
    }
    cols
}

pub fn replications_csv(meta: &RunMeta, reps: &[Replication]) -> Vec<u8> {
    let cols = metric_columns(reps);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["replication".to_string(), "strategy".to_string()];
    header.extend(meta.inputs.iter().map(|(name, _)| format!("input:{name}")));
    header.extend(cols.iter().cloned());
    w.write_record(&header).expect("in-memory write");
    for r in reps {
        for (s, o) in r.outcomes.iter().enumerate() {
            let metrics = o.metrics();
            let mut row = vec![r.index.to_string(), meta.strategies[s].clone()];
            row.extend(r.draws.values.iter().map(|v| num(*v)));
            for c in &cols {
                row.push(
                    metrics
                        .iter()
                        .find(|(n, _)| n == c)
                        .map_or(String::new(), |(_, v)| num(*v)),
                );
            }
            w.write_record(&row).expect("in-memory write");
        }
    }
    w.into_inner().expect("in-memory flush")
}

/// Header of the per-request CSV (docs/outputs.md, "Per-request rows").
pub const REQUESTS_HEADER: &str =
    "id,replica,arrival_s,prompt_tokens,output_tokens,admit_s,first_token_s,done_s";

/// The extra column of the engine-faithful mode: latency outside the engine.
pub const FRONT_END_COLUMN: &str = "front_end_s";

/// One per-request row; empty fields for what did not happen.
pub fn request_row(r: &RequestRecord, front_end: bool) -> String {
    let mut row = format!(
        "{},{},{},{},{},{},{},{}",
        r.id,
        r.replica.map_or(String::new(), |x| x.to_string()),
        num(r.arrival_s),
        r.prompt_tokens,
        r.output_tokens,
        num(r.admit_s),
        num(r.first_token_s),
        num(r.done_s)
    );
    if front_end {
        row.push(',');
        row.push_str(&num(r.front_end_s));
    }
    row
}

/// Streams per-request rows to any writer (the CLI gives it a temp file),
/// in request id (arrival) order. Requests leave out of order, so rows wait
/// in a small reorder buffer until every earlier id is written: its size is
/// bounded by the requests in flight, not by the horizon.
pub struct RequestCsv<W: Write> {
    out: W,
    pub error: Option<std::io::Error>,
    next_id: u64,
    pending: std::collections::BinaryHeap<std::cmp::Reverse<(u64, String)>>,
    front_end: bool,
}

impl<W: Write> RequestCsv<W> {
    /// `front_end`: add the engine-faithful mode's `front_end_s` column.
    pub fn new(mut out: W, front_end: bool) -> Self {
        let error = if front_end {
            writeln!(out, "{REQUESTS_HEADER},{FRONT_END_COLUMN}").err()
        } else {
            writeln!(out, "{REQUESTS_HEADER}").err()
        };
        RequestCsv {
            out,
            error,
            next_id: 0,
            pending: std::collections::BinaryHeap::new(),
            front_end,
        }
    }

    /// The writer, once every request has been written.
    pub fn into_inner(self) -> W {
        debug_assert!(self.pending.is_empty(), "requests missing from the CSV");
        self.out
    }

    fn write(&mut self, line: &str) {
        if self.error.is_none()
            && let Err(e) = writeln!(self.out, "{line}")
        {
            self.error = Some(e);
        }
    }
}

impl<W: Write> crate::simulation::Observer for RequestCsv<W> {
    fn on_request(&mut self, r: &RequestRecord) {
        self.pending
            .push(std::cmp::Reverse((r.id, request_row(r, self.front_end))));
        while self.pending.peek().is_some_and(|p| p.0.0 == self.next_id) {
            let std::cmp::Reverse((_, line)) = self.pending.pop().expect("peeked");
            self.write(&line);
            self.next_id += 1;
        }
    }
}
