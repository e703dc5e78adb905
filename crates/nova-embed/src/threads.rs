//! One knob for inference parallelism.
//!
//! Parallelism is rayon's, in two places: across batches (one forward pass per worker when there are
//! several), and inside a big enough matmul, whose output columns (or attention heads) are spread over the
//! pool's workers ([`split_columns`]) — so a lone query's forward pass uses every core instead of one. When
//! every worker already runs a batch, the split parts are not stolen and run one after another, so the
//! two never oversubscribe. OpenBLAS's own threads stay off: its spinning pool competing with rayon's
//! costs more than it saves.

use rayon::prelude::*;
use std::ops::Range;

/// Below this many multiply-adds a matmul stays on one thread: handing a part to the pool's other
/// worker (a rayon join, a few µs when it is taken) costs more than the part saves. Measured with
/// `nova bench embed` batch 1 (see `bench/README.md`).
pub(crate) const SPLIT_MIN_MACS: usize = 1 << 20;

/// Workers to spread `macs` multiply-adds over: all of the current rayon pool's when it pays, else 1.
/// Inside a pool already running one batch per core, the extra parts are not stolen (every worker is
/// busy) and run one after another here, so splitting never oversubscribes.
pub(crate) fn parts_for(macs: usize) -> usize {
    if macs < SPLIT_MIN_MACS {
        1
    } else {
        rayon::current_num_threads().max(1)
    }
}

/// Runs `part(columns, piece)` over column ranges of the row-major `c` (`n` columns), spread over the
/// pool's workers when the product (`macs` multiply-adds) is big enough: a lone query's forward pass then
/// uses every core, not one. Parts are at least `min_width` columns and start on multiples of `align`.
/// Each part works on its own copy of its columns of `c` (the values already in them included), copied
/// back after. Split by columns, not rows: each part reads only its slice of the weights, so together
/// they read the weights once, as one call would.
pub(crate) fn split_columns<E: Send>(
    c: &mut [f32],
    n: usize,
    macs: usize,
    (min_width, align): (usize, usize),
    part: impl Fn(Range<usize>, &mut [f32]) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let parts = parts_for(macs).min(n / min_width.max(1));
    if parts < 2 || n == 0 || !c.len().is_multiple_of(n) {
        // One part — or sizes that do not match, which `part` reports.
        return part(0..n, c);
    }
    let width = n.div_ceil(parts).next_multiple_of(align.max(1));
    let column = |p: usize| p * width..((p + 1) * width).min(n);
    let pieces: Vec<Result<Vec<f32>, E>> = (0..n.div_ceil(width))
        .into_par_iter()
        .map(|p| {
            let cols = column(p);
            let mut piece: Vec<f32> = c
                .chunks_exact(n)
                .flat_map(|row| &row[cols.clone()])
                .copied()
                .collect();
            part(cols, &mut piece)?;
            Ok(piece)
        })
        .collect();
    for (p, piece) in pieces.into_iter().enumerate() {
        let (cols, piece) = (column(p), piece?);
        for (row, part) in c.chunks_exact_mut(n).zip(piece.chunks_exact(cols.len())) {
            row[cols.clone()].copy_from_slice(part);
        }
    }
    Ok(())
}

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
