//! Documents in: readers turn files into [`Document`]s, the chunker cuts them into ~200-token passages
//! that keep their heading path. A bad file or line is reported as a [`Skip`] and never stops the rest.
//! This crate does no embedding and no storage.

mod chunk;
mod document;
mod read;

pub use chunk::{chunk, Chunk, ChunkOptions};
pub use document::{content_hash, Document};
pub use read::{read_path, ReadOutcome, Skip};
