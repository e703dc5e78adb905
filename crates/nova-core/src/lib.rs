//! KB Nova's shared vocabulary: stable error codes, checked names, the caller of a request with its
//! access filter, payload filter expressions, the data-folder layout and small numeric helpers.
//!
//! This crate does no I/O and has no async; every other crate depends on it, never the reverse.

mod access;
mod authority;
mod cache;
mod code;
mod filter;
mod layout;
mod names;
mod stats;
mod vector;

pub use access::{AccessFilter, Denied, Grant, Principal, RequestCtx, Role, Visibility, ACL_FIELD};
pub use authority::strip_port;
pub use cache::SharedCache;
pub use code::Code;
pub use filter::{Condition, FieldValue, Filter};
pub use layout::DataLayout;
pub use names::{
    excerpt, is_bidi_control, is_blank, to_hex, DocId, KbName, LabelField, NameError, EXCERPT_CHARS,
};
pub use stats::percentile;
pub use vector::{cosine, l2_normalize, Embedding};
