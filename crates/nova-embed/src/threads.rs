//! One knob for inference parallelism.
//!
//! Parallelism is rayon's, in two places: across batches (one forward pass per worker when there are
//! several), and inside a big enough matmul, whose rows (or attention heads) are spread over the pool's
//! workers (`blas::sgemm_rows`) — so a lone query's forward pass uses every core instead of one. When
//! every worker already runs a batch, the split parts are not stolen and run one after another, so the
//! two never oversubscribe. OpenBLAS's own threads stay off: its spinning pool competing with rayon's
//! costs more than it saves.

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

/// `nice` of the bulk pool's threads: under contention the scheduler gives queries' threads the cores
/// first, so a forward pass of an ingest that is already running slows a query only a little.
pub(crate) const BULK_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to [`BULK_NICE`] (Linux: per thread). Best effort:
/// a refusal (some containers forbid it) only costs query latency under load, so it is logged, not fatal.
pub(crate) fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // One syscall on this thread's own id; no memory is shared with the kernel.
        #[allow(unsafe_code)]
        let rc = unsafe {
            libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, BULK_NICE)
        };
        if rc != 0 {
            tracing::debug!(
                "could not lower the bulk embedding thread's priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
