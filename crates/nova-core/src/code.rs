//! Machine-readable error codes: snake_case, stable once released, never renamed.

use serde::Serialize;
use std::fmt;

/// A stable error code that every library error maps to; the HTTP layer and the CLI translate it
/// into a status or an exit code, so callers can branch on it without parsing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// A model file is absent from the model folder.
    ModelMissing,
    /// A model file exists but cannot be parsed or has the wrong shape.
    ModelCorrupt,
    /// The caller's input is malformed (bad JSON, missing field, wrong type).
    InvalidInput,
    /// Reading or writing a file failed.
    Io,
    /// Anything unexpected; details go to the log, not the caller.
    Internal,
}

impl Code {
    /// The wire form, e.g. `model_missing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ModelMissing => "model_missing",
            Self::ModelCorrupt => "model_corrupt",
            Self::InvalidInput => "invalid_input",
            Self::Io => "io",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
