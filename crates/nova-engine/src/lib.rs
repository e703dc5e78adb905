//! The engine composes the embedder, the readers and the store behind one front door, [`Engine`]:
//! named knowledge bases you ingest into, search (dense, BM25 or hybrid, with a score breakdown per hit),
//! troubleshoot, route tickets in, and evaluate on BEIR sets — every call on behalf of a caller
//! ([`RequestCtx`]) whose access filter every store read carries. It holds no HTTP and no CLI concerns.
//!
//! Modules depend one way: `payload`, `meta`, `fusion`, `steps`, `query`, `feedback`, `error` are leaves;
//! `kb` → payload, meta; `ingest` → kb; `search` → kb, fusion; `troubleshoot` → search, steps;
//! `tickets` → troubleshoot; `answer` → troubleshoot (and the `nova-generate` crate); `answer_eval` → answer; `eval` → search; `access` → kb; `audit` is a leaf over the `nova-audit` crate; `engine` → all of them, and nothing imports `engine`.

mod ab;
mod access;
mod answer;
mod answer_eval;
mod audit;
mod chunk_docs;
mod cipher;
mod disk;
mod drift;
mod engine;
mod error;
mod eval;
mod feedback;
mod files;
mod fusion;
mod gaps;
mod health;
mod ingest;
mod kb;
mod lock;
mod meta;
mod payload;
mod prf;
mod query;
mod rekey;
mod sealed_log;
mod search;
mod snapshot;
mod steps;
mod task_worker;
mod tasks;
mod tickets;
mod transfer;
mod troubleshoot;
mod versions;

pub use ab::{
    assign, AbReport, Arm, ArmReport, Experiment, ExperimentState, GuardTest, Guardrails, Rate,
};
pub use access::{AccessQuestion, CallerAccess, DocumentAccess};
pub use answer::{Answer, AnswerOptions, Citation, Timings, Usage, REFUSAL};
pub use answer_eval::{AnswerReport, AnsweredQuery};
pub use audit::AuditSettings;
pub use cipher::{EncryptionSettings, Keyring};
pub use disk::DEFAULT_MIN_FREE_BYTES;
pub use drift::{DriftFigures, DriftReference, DriftReport, DriftSettings, DriftSignal};
pub use engine::{
    tune_grid, AbSpec, BuildReport, BuildSpec, EmbedderLoader, Engine, EngineOptions,
    GeneratorLoader, GoldenReport, GoldenSet, IngestOptions, KbInfo, KbOptions, ModelInfo,
    RedactionSettings, Searched, TuneReport, DEFAULT_GATE_THRESHOLD,
};
pub use error::{EngineError, Result};
pub use eval::{BeirSet, EvalRuns, ModeReport};
pub use feedback::{Feedback, Rating};
pub use fusion::{fuse, rrf, Fusion, RRF_K};
pub use gaps::{Gap, GapOptions};
pub use health::{Health, HEALTH_TTL};
pub use ingest::{CancelCheck, IngestProgress, IngestSummary};
pub use kb::{StoredChunk, StoredDocument};
pub use lock::set_process_label;
pub use meta::Chunking;
pub use nova_audit;
pub use nova_auth::{KeyInfo, KeySpec, NewKey};
pub use nova_core::{
    AccessFilter, Condition, DocId, Filter, Grant, KbName, LabelField, Principal, RequestCtx, Role,
    Visibility,
};
pub use nova_generate;
pub use nova_track;
pub use payload::{ChunkPayload, TICKET_KIND};
pub use rekey::RekeyReport;
pub use search::{DocHit, Mode, RetrieverScore, SearchOptions};
pub use snapshot::{FileEntry, SnapshotInfo};
pub use steps::Step;
pub use tasks::{TaskInfo, TaskSkip, TaskStatus};
pub use tickets::{
    ticket_text, ticket_vector, Classification, RouterDetails, RouterInfo, SuggestOptions,
    Suggestion, TicketQuery, TicketSet, TrainedRouter,
};
pub use transfer::Verification;
pub use troubleshoot::{SuggestedStep, TroubleshootOptions, TroubleshootReport};
pub use versions::{
    weights_sha256, GateMetrics, GateRecord, IndexVersion, ModelRecord, TuneRecord, VersionDiff,
    VersionState,
};
