//! Text → dense vectors, numerically equal to sentence-transformers, in-process.
//!
//! Loads a sentence-transformers model folder (local, or fetched from the Hugging Face hub), tokenizes with
//! the model's own `tokenizer.json`, runs a BERT encoder on candle and applies the folder's pooling and L2
//! normalisation. This crate knows nothing of HTTP, storage or documents.

mod batcher;
mod bert;
#[cfg(feature = "openblas")]
mod blas;
mod embedder;
mod error;
mod kernels;
mod lane;
mod matmul;
mod model_dir;
mod peak;
mod source;
mod threads;

pub use batcher::{BatchObserver, BatchingEmbedder, BatchingOptions};
pub use embedder::{BatchOptions, Embedder, SentenceEmbedder};
pub use error::{EmbedError, Result};
pub use lane::{Lane, QueryTurn};
pub use model_dir::{ModelDir, Pooling};
pub use peak::sgemm_gflops;
pub use source::ModelSource;
pub use threads::set_threads;
