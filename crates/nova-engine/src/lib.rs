//! The engine composes the embedder, the readers and the store: a named knowledge base you can ingest
//! into, search (dense, BM25 or hybrid, with a score breakdown per hit) and evaluate on BEIR sets.
//! It holds no HTTP and no CLI concerns.

mod engine;
mod error;
mod eval;
mod fusion;
mod kb;
mod query;
mod search;
mod steps;
mod tickets;
mod troubleshoot;

pub use engine::{Engine, EngineOptions, Feedback, KbInfo, Rating, StoredChunk, StoredDocument};
pub use error::{EngineError, Result};
pub use eval::{evaluate_beir, BeirSet, ModeReport};
pub use fusion::{fuse, rrf, Fusion, RRF_K};
pub use kb::{IngestProgress, IngestSummary, KnowledgeBase};
pub use search::{DocHit, Mode, SearchOptions};
pub use steps::Step;
pub use tickets::{
    ticket_text, ticket_vector, Classification, RouterInfo, SuggestOptions, Suggestion, TicketSet,
};
pub use troubleshoot::{SuggestedStep, TroubleshootOptions, TroubleshootReport};
