//! Errors in a scenario: what the user wrote wrong, where, and what is allowed.
//!
//! Every variant is the user's to fix; the CLI prints it as one paragraph
//! and exits with code 2, before anything is written to `outputs/`.

use std::fmt;

/// Where an error was found: file (or `<embedded>`), line, column.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub origin: String,
    pub line: Option<usize>,
    pub col: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (Some(l), Some(c)) => write!(f, "{}, line {l}, column {c}", self.origin),
            (Some(l), None) => write!(f, "{}, line {l}", self.origin),
            _ => write!(f, "{}", self.origin),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    /// The text is not valid TOML, or does not match the schema (unknown
    /// field, wrong type). `field` is the path of the value at fault when known.
    #[error("{at}: {}{message}", field_prefix(.field))]
    Syntax {
        at: Location,
        field: Option<String>,
        message: String,
    },
    /// A field has a value outside what is allowed.
    #[error("{at}: `{field}` = {value} is not allowed: expected {allowed}.{}", hint_suffix(.hint))]
    Invalid {
        at: Location,
        field: String,
        value: String,
        allowed: String,
        hint: Option<String>,
    },
    /// A required field is absent.
    #[error("{at}: `{field}` is missing: {what}.")]
    Missing {
        at: Location,
        field: String,
        what: String,
    },
    /// A file the scenario refers to (a trace) cannot be read or parsed.
    #[error("{at}: `{field}`: {message}")]
    File {
        at: Location,
        field: String,
        message: String,
    },
}

fn field_prefix(field: &Option<String>) -> String {
    field
        .as_ref()
        .map(|f| format!("in `{f}`: "))
        .unwrap_or_default()
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(" {h}")).unwrap_or_default()
}

impl ScenarioError {
    pub fn field(&self) -> Option<&str> {
        match self {
            ScenarioError::Syntax { field, .. } => field.as_deref(),
            ScenarioError::Invalid { field, .. }
            | ScenarioError::Missing { field, .. }
            | ScenarioError::File { field, .. } => Some(field),
        }
    }

    pub fn location(&self) -> &Location {
        match self {
            ScenarioError::Syntax { at, .. }
            | ScenarioError::Invalid { at, .. }
            | ScenarioError::Missing { at, .. }
            | ScenarioError::File { at, .. } => at,
        }
    }
}
