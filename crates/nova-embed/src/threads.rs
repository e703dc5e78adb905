//! One knob for inference parallelism, whichever matmul backend is compiled in.

/// Caps the threads inference uses. candle reads `RAYON_NUM_THREADS` on every matmul and rayon's global
/// pool reads it once at start, so call this before the first embedding; OpenBLAS is set directly.
/// `0` leaves the defaults (all cores).
pub fn set_threads(threads: usize) {
    if threads == 0 {
        return;
    }
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    #[cfg(feature = "openblas")]
    crate::blas::set_threads(threads);
}
