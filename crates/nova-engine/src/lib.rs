//! The engine composes the embedder, the readers and the store: a named knowledge base you can ingest
//! into, search (dense, BM25 or hybrid, with a score breakdown per hit) and evaluate on BEIR sets.
//! It holds no HTTP and no CLI concerns.

mod error;
mod eval;
mod fusion;
mod kb;
mod search;

pub use error::{EngineError, Result};
pub use eval::{evaluate_beir, BeirSet, ModeReport};
pub use fusion::{rrf, RRF_K};
pub use kb::{IngestSummary, KnowledgeBase};
pub use search::{DocHit, Mode, SearchOptions};
