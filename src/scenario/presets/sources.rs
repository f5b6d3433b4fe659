//! The source index of docs/sources.md, embedded so that `fleetsim presets`
//! can print where every figure comes from without the repository at hand.

/// docs/sources.md as shipped.
pub const SOURCES_MD: &str = include_str!("../../../docs/sources.md");

/// One entry of the source index: its key and its text (publisher, title,
/// location, date), on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    pub key: String,
    pub text: String,
}

/// Every entry of the "Source index" section, in file order.
pub fn source_index() -> Vec<SourceEntry> {
    let index = SOURCES_MD
        .split("\n## Source index")
        .nth(1)
        .unwrap_or_default();
    let mut out: Vec<SourceEntry> = Vec::new();
    for line in index.lines() {
        if let Some(rest) = line.strip_prefix("- **[") {
            let Some((key, text)) = rest.split_once("]**") else {
                continue;
            };
            out.push(SourceEntry {
                key: key.to_string(),
                text: plain(text),
            });
        } else if line.starts_with("  ")
            && let Some(last) = out.last_mut()
        {
            last.text.push(' ');
            last.text.push_str(&plain(line));
        } else if line.starts_with('#') && !line.starts_with("###") {
            break;
        }
    }
    out
}

/// Markdown emphasis and code marks removed, for a terminal.
fn plain(md: &str) -> String {
    md.trim().replace(['*', '`'], "")
}

/// The source keys cited in a text, `[key]`, in order of first citation.
pub fn cited_keys(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split('[').skip(1) {
        let Some((key, _)) = part.split_once(']') else {
            continue;
        };
        let looks_like_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if looks_like_key && !out.iter().any(|k| k == key) {
            out.push(key.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::presets::{gpus, models};

    #[test]
    fn every_key_a_preset_cites_is_in_the_index() {
        let index = source_index();
        assert!(
            index.len() > 20,
            "the index parsed: {} entries",
            index.len()
        );
        for source in gpus()
            .iter()
            .map(|g| g.source.clone())
            .chain(models().iter().map(|m| m.source.clone()))
        {
            let keys = cited_keys(&source);
            assert!(!keys.is_empty(), "a preset cites no source key: {source}");
            for k in keys {
                assert!(
                    index.iter().any(|e| e.key == k),
                    "[{k}] is cited by a preset but not in docs/sources.md's index"
                );
            }
        }
    }

    #[test]
    fn cited_keys_reads_brackets_only() {
        assert_eq!(
            cited_keys("A [nv-h100-pb], B [hf-llama-3.1-8b]; not [Some Text] or [x"),
            ["nv-h100-pb", "hf-llama-3.1-8b"]
        );
    }
}
