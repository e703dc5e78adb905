//! Documents in: readers turn files (Markdown, text, HTML, PDF, JSONL, CSV) into [`Document`]s, the
//! chunker cuts them into ~200-token passages that keep their heading path, and the redactor replaces personal
//! data with typed placeholders. A bad file or line is
//! reported as a [`Skip`] and never stops the rest. This crate does no embedding and no storage.

mod chunk;
mod document;
mod html;
mod markdown;
mod outcome;
mod pdf;
mod read;
mod records;
mod redact;
mod tickets;

pub use chunk::{chunk, Chunk, ChunkOptions};
pub use document::{content_hash, Document};
pub use outcome::{ReadOutcome, Skip};
pub use read::{read_bytes, read_path, ReadOptions};
pub use records::FieldMap;
pub use redact::{PatternError, RedactionCounts, Redactor};
pub use tickets::{read_tickets, resolve_mapping, TicketFormat, TicketRead, TICKET_FIELDS};
