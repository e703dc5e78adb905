//! Text → dense vectors, numerically equal to sentence-transformers, in-process.
//!
//! Loads a sentence-transformers model folder (local, or fetched from the Hugging Face hub), tokenizes with
//! the model's own `tokenizer.json`, runs a BERT encoder on candle and applies the folder's pooling and L2
//! normalisation. This crate knows nothing of HTTP, storage or documents.

mod attention;
mod batcher;
mod bert;
#[cfg(feature = "openblas")]
mod blas;
mod embedder;
mod error;
mod int8;
mod kernels;
mod lane;
mod matmul;
mod model_dir;
mod packed_f32;
mod peak;
mod simd;
mod source;
mod threads;
mod tiles;

pub use batcher::{BatchObserver, BatchingEmbedder, BatchingOptions};
pub use embedder::{BatchOptions, Embedder, SentenceEmbedder};
pub use error::{EmbedError, Result};
pub use int8::{Int8Kernel, Precision};
pub use lane::{Lane, QueryTurn};
pub use model_dir::{ModelDir, Pooling};
pub use peak::sgemm_gflops;
pub use source::ModelSource;
pub use threads::set_threads;

/// OpenBLAS's kernel family in use, and the one it should use when it fell back to a generic kernel for
/// an unrecognised CPU (see [`blas::better_core`]); `None` without the `openblas` feature.
pub mod blas_core {
    /// The kernel family OpenBLAS picked at load time.
    pub fn current() -> Option<String> {
        #[cfg(feature = "openblas")]
        return Some(crate::blas::core_name());
        #[cfg(not(feature = "openblas"))]
        None
    }

    /// The family to set in `OPENBLAS_CORETYPE` (before the process starts) when OpenBLAS misdetected
    /// this CPU.
    pub fn better() -> Option<&'static str> {
        #[cfg(feature = "openblas")]
        return crate::blas::better_core();
        #[cfg(not(feature = "openblas"))]
        None
    }
}
