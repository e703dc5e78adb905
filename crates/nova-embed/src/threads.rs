//! One knob for inference parallelism.
//!
//! Parallelism is across batches (rayon), never inside a matmul: each batch runs its matmuls on one
//! thread. Measured on 2 cores, that beats splitting every MiniLM-sized matmul over both cores, whose
//! synchronisation (and OpenBLAS's own spinning threads competing with rayon's) costs more than it saves.

/// Caps the threads inference uses. rayon's global pool reads `RAYON_NUM_THREADS` once, so call this
/// before the first embedding. `0` leaves the default (all cores).
pub fn set_threads(threads: usize) {
    if threads > 0 {
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
}

/// Keeps the matmul backend on the calling thread (OpenBLAS otherwise starts its own pool).
pub(crate) fn single_threaded_matmuls() {
    #[cfg(feature = "openblas")]
    crate::blas::set_threads(1);
}
