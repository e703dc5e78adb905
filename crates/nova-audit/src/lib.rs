//! The audit trail: who did what, to which knowledge base, and what they were shown.
//!
//! One JSON record per line in `audit-NNNNNN.jsonl` files under one folder. Every record carries the
//! hash of the record before it (`prev`) and its own `hash` over its exact bytes, so an edited, removed
//! or reordered record breaks the chain where it happened. With an HMAC key the hashes are HMAC-SHA256
//! under that key: someone who can edit the files but does not hold the key cannot re-seal them.
//! `head.json` names the last record (so a removed tail is seen too) and `anchor.json` the last record
//! that retention removed (so what remains still verifies).
//!
//! This crate writes, verifies and reads the trail. It does not decide what is recorded (the engine
//! does) and has no HTTP.

mod error;
mod files;
mod query;
mod record;
mod seal;
mod trail;
mod verify;

pub use error::{AuditError, Result};
pub use query::{export, read, ExportFormat, Query};
pub use record::{Event, Record};
pub use seal::Sealer;
pub use trail::{AuditTrail, TrailOptions};
pub use verify::{verify, Problem, Verification};
