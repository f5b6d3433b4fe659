//! Finds where a field path (`strategy[1].pools[0].kind`) is written in a
//! TOML text, so every validation error can name its line and column.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some(close) = rest.find(']') {
            if let Ok(i) = rest[1..close].parse() {
                out.push(Seg::Index(i));
            }
            rest = &rest[close + 1..];
        }
    }
    out
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

/// Line and column of the deepest part of `path` that exists in `text`.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let root = DeTable::parse(text).ok()?;
    let mut span = None;
    let mut table: Option<&DeTable> = Some(root.get_ref());
    let mut value: Option<&Spanned<DeValue>> = None;
    for seg in segments(path) {
        let next = match (seg, table, value) {
            (Seg::Key(k), Some(t), _) => t.get(k),
            (Seg::Key(k), None, Some(v)) => v.get_ref().get(k),
            (Seg::Index(i), None, Some(v)) => v.get_ref().get(i),
            _ => None,
        };
        let Some(next) = next else { break };
        span = Some(next.span());
        table = None;
        value = Some(next);
    }
    span.map(|s| line_col(text, s.start))
}

/// The dotted path of the innermost value whose span contains `offset`.
pub fn path_at(text: &str, offset: usize) -> Option<String> {
    let root = DeTable::parse(text).ok()?;
    find_in_table(root.get_ref(), offset)
}

// A table's own span may cover only its header, so children are searched
// whatever the parent's span says.
fn find_in_table(table: &DeTable, offset: usize) -> Option<String> {
    for (key, value) in table.iter() {
        if key.span().contains(&offset) {
            return Some(key.get_ref().to_string());
        }
        if let Some(inner) = find_in_value(value, offset) {
            return Some(if inner.is_empty() {
                key.get_ref().to_string()
            } else if inner.starts_with('[') {
                format!("{}{inner}", key.get_ref())
            } else {
                format!("{}.{inner}", key.get_ref())
            });
        }
    }
    None
}

/// `Some("")` when `value` itself holds `offset`, `Some(path)` for a child.
fn find_in_value(value: &Spanned<DeValue>, offset: usize) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(t) => {
            find_in_table(t, offset).or_else(|| value.span().contains(&offset).then(String::new))
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(inner) = find_in_value(item, offset) {
                    return Some(if inner.is_empty() || inner.starts_with('[') {
                        format!("[{i}]{inner}")
                    } else {
                        format!("[{i}].{inner}")
                    });
                }
            }
            value.span().contains(&offset).then(String::new)
        }
        _ => value.span().contains(&offset).then(String::new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = \"x\"\n\n[engine]\nmax_batch = 0\n\n[[strategy]]\nname = \"a\"\n\n[[strategy]]\nname = \"b\"\npools = [ { kind = \"reserved\", replicas = 0 } ]\n";

    #[test]
    fn finds_nested_fields() {
        assert_eq!(locate(DOC, "engine.max_batch"), Some((4, 13)));
        assert_eq!(locate(DOC, "strategy[1].name"), Some((10, 8)));
        let (line, _) = locate(DOC, "strategy[1].pools[0].replicas").unwrap();
        assert_eq!(line, 11);
        // A missing leaf falls back to its deepest existing parent.
        let (line, _) = locate(DOC, "strategy[1].pools[0].max_replicas").unwrap();
        assert_eq!(line, 11);
    }

    #[test]
    fn maps_offsets_to_paths() {
        let offset = DOC.find("0\n\n[[").unwrap();
        assert_eq!(path_at(DOC, offset).as_deref(), Some("engine.max_batch"));
    }

    #[test]
    fn splits_paths() {
        assert_eq!(
            segments("a[1].b.c[2][3]"),
            vec![
                Seg::Key("a"),
                Seg::Index(1),
                Seg::Key("b"),
                Seg::Key("c"),
                Seg::Index(2),
                Seg::Index(3)
            ]
        );
    }
}
