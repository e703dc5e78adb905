//! KB Nova's shared vocabulary: stable error codes and small domain types.
//!
//! This crate does no I/O and has no async; every other crate depends on it, never the reverse.

mod code;
mod stats;
mod vector;

pub use code::Code;
pub use stats::percentile;
pub use vector::{cosine, l2_normalize, Embedding};
