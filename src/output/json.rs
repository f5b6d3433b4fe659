//! `summary.json`: the [`RunSummary`] serialized, NaN as `null`.

use crate::summary::RunSummary;

pub fn summary_json(summary: &RunSummary) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(summary).expect("a summary always serializes");
    bytes.push(b'\n');
    bytes
}
