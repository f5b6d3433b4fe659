//! A number as a scenario file writes it: a value, a duration string, a
//! distribution table (`{ uniform = [2.0, 3.0] }`) or a search space
//! (`{ search = [1, 2, 3] }`), deserialized with messages a user can act on.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::uncertain::Dist;
use crate::units::parse_duration;

/// A number as written in a scenario file.
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    Value(f64),
    Dist(Dist),
    /// Candidate values for `fleetsim size`.
    Search(Vec<f64>),
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Value(v) => write!(f, "{v}"),
            Num::Dist(d) => write!(f, "{d}"),
            Num::Search(vs) => write!(f, "{{ search = {vs:?} }}"),
        }
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Num::Value(v)
    }
}

/// A plain or uncertain number field of the schema.
#[derive(Debug, Clone, PartialEq)]
pub struct RawNum(pub Num);

/// A duration field: a number of seconds, a string such as `"90s"`, or a
/// distribution over seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDur(pub Num);

impl<'de> Deserialize<'de> for RawNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor { durations: false })
            .map(RawNum)
    }
}

impl<'de> Deserialize<'de> for RawDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor { durations: true })
            .map(RawDur)
    }
}

struct NumVisitor {
    durations: bool,
}

fn int_to_f64<E: de::Error>(v: i128) -> Result<f64, E> {
    let f = v as f64;
    if f as i128 == v {
        Ok(f)
    } else {
        Err(E::custom(format!("{v} is too large to represent exactly")))
    }
}

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Num;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.durations {
            f.write_str(
                "a duration (seconds, or a string like \"90s\", \"5m\", \"2h\") or a distribution such as { uniform = [2.0, 3.0] }",
            )
        } else {
            f.write_str("a number or a distribution such as { uniform = [2.0, 3.0] }")
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
        int_to_f64(v as i128).map(Num::Value)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
        int_to_f64(v as i128).map(Num::Value)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
        Ok(Num::Value(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
        if self.durations {
            parse_duration(v)
                .map(Num::Value)
                .map_err(|e| E::custom(format!("invalid duration \"{v}\": {e}")))
        } else {
            Err(E::invalid_type(de::Unexpected::Str(v), &self))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Num, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "an empty table is not a number; write e.g. { uniform = [2.0, 3.0] }",
            ));
        };
        let num = match key.as_str() {
            "uniform" => {
                let v: Vec<f64> = map.next_value()?;
                let [low, high] = v[..] else {
                    return Err(de::Error::custom(format!(
                        "uniform takes [low, high], got {} values",
                        v.len()
                    )));
                };
                Num::Dist(Dist::Uniform { low, high })
            }
            "triangular" => {
                let v: Vec<f64> = map.next_value()?;
                let [low, mode, high] = v[..] else {
                    return Err(de::Error::custom(format!(
                        "triangular takes [low, mode, high], got {} values",
                        v.len()
                    )));
                };
                Num::Dist(Dist::Triangular { low, mode, high })
            }
            "normal" => {
                let p: NormalParams = map.next_value()?;
                Num::Dist(Dist::Normal {
                    mean: p.mean,
                    sd: p.sd,
                })
            }
            "lognormal" => {
                let p: LogNormalParams = map.next_value()?;
                Num::Dist(Dist::LogNormal {
                    median: p.median,
                    sigma: p.sigma,
                })
            }
            "search" => {
                let v: Vec<SearchValue> = map.next_value()?;
                let mut out = Vec::with_capacity(v.len());
                for s in v {
                    out.push(match s {
                        SearchValue::Number(x) => x,
                        SearchValue::Text(t) if self.durations => {
                            parse_duration(&t).map_err(|e| {
                                de::Error::custom(format!("invalid duration \"{t}\": {e}"))
                            })?
                        }
                        SearchValue::Text(t) => {
                            return Err(de::Error::custom(format!(
                                "search values must be numbers, got \"{t}\""
                            )));
                        }
                    });
                }
                Num::Search(out)
            }
            other => {
                return Err(de::Error::custom(format!(
                    "unknown distribution `{other}`; use uniform, triangular, normal, lognormal or search"
                )));
            }
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "a distribution table has exactly one key, found `{key}` and `{extra}`"
            )));
        }
        Ok(num)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Num, A::Error> {
        Err(de::Error::custom(
            "a list is not a number; for candidate values write { search = [1, 2, 3] }",
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalParams {
    mean: f64,
    sd: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogNormalParams {
    median: f64,
    sigma: f64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SearchValue {
    Number(f64),
    Text(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        n: RawNum,
        d: RawDur,
    }

    fn parse(text: &str) -> Result<Doc, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn reads_values_durations_and_distributions() {
        let doc = parse("n = 3\nd = \"5m\"").unwrap();
        assert_eq!(doc.n.0, Num::Value(3.0));
        assert_eq!(doc.d.0, Num::Value(300.0));
        let doc = parse(
            "n = { uniform = [2.0, 3.0] }\nd = { lognormal = { median = 45.0, sigma = 0.5 } }",
        )
        .unwrap();
        assert_eq!(
            doc.n.0,
            Num::Dist(Dist::Uniform {
                low: 2.0,
                high: 3.0
            })
        );
        assert_eq!(
            doc.d.0,
            Num::Dist(Dist::LogNormal {
                median: 45.0,
                sigma: 0.5
            })
        );
        let doc = parse("n = { search = [1, 2, 4] }\nd = { search = [\"1m\", 120] }").unwrap();
        assert_eq!(doc.n.0, Num::Search(vec![1.0, 2.0, 4.0]));
        assert_eq!(doc.d.0, Num::Search(vec![60.0, 120.0]));
    }

    #[test]
    fn rejects_malformed_numbers_with_a_reason() {
        let e = parse("n = \"5m\"\nd = 1").err().unwrap().to_string();
        assert!(e.contains("a number or a distribution"), "{e}");
        let e = parse("n = { gauss = [1, 2] }\nd = 1")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown distribution `gauss`"), "{e}");
        let e = parse("n = { uniform = [1] }\nd = 1")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("uniform takes [low, high]"), "{e}");
        let e = parse("n = 1\nd = \"5 parsecs\"").err().unwrap().to_string();
        assert!(e.contains("invalid duration"), "{e}");
        let e = parse("n = { normal = { mean = 1.0, sd = 0.1, skew = 2 } }\nd = 1")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("skew"), "{e}");
    }
}
