//! One knob for inference parallelism.
//!
//! Parallelism is rayon's, in two places: across batches (one forward pass per worker when there are
//! several), and inside a big enough matmul, whose output columns (or attention heads) are spread over the
//! pool's workers ([`split_output`]) — so a lone query's forward pass uses every core instead of one. When
//! every worker already runs a batch, the split parts are not stolen and run one after another, so the
//! two never oversubscribe. OpenBLAS's own threads stay off: its spinning pool competing with rayon's
//! costs more than it saves.

use rayon::prelude::*;
use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Outputs at least this many rows tall are split by rows rather than columns: each part then reads
/// all of the weights, but it writes its own contiguous rows of the output in place — no copies — and a
/// part's arithmetic (≥ 128 rows × the layer) dwarfs a second read of the weights. Shorter outputs (a
/// few queries) are split by columns, where reading the weights once is what counts.
const ROW_SPLIT_MIN_ROWS: usize = 256;

/// Runs `part(rows, columns, piece)` over parts of the row-major output `c` (`n` columns), spread over
/// the pool's workers when the product (`macs` multiply-adds) is big enough: a lone query's forward pass
/// then uses every core, not one. `piece` is `rows × columns` of `c`, holding the values already there.
/// Tall outputs are split by rows, in place; short ones by columns of at least `min_width`, starting on
/// multiples of `align`, each part working on its own copy of its columns (copied back after) — split by
/// columns, each part reads only its slice of the weights, so together they read them once.
pub(crate) fn split_output<E: Send>(
    c: &mut [f32],
    n: usize,
    macs: usize,
    (min_width, align): (usize, usize),
    part: impl Fn(Range<usize>, Range<usize>, &mut [f32]) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let rows = c.len().checked_div(n).unwrap_or(0);
    if parts_for(macs) < 2 || n == 0 || !c.len().is_multiple_of(n) {
        // One part — or sizes that do not match, which `part` reports.
        return part(0..rows, 0..n, c);
    }
    if rows >= ROW_SPLIT_MIN_ROWS {
        let per_part = rows.div_ceil(parts_for(macs));
        return c
            .par_chunks_mut(per_part * n)
            .enumerate()
            .try_for_each(|(p, piece)| {
                let start = p * per_part;
                part(start..start + piece.len() / n, 0..n, piece)
            });
    }
    let Some(columns) = column_parts(rows, n, macs, (min_width, align)) else {
        return part(0..rows, 0..n, c);
    };
    let pieces: Vec<Result<Vec<f32>, E>> = columns
        .par_iter()
        .map(|cols| {
            let mut piece = Vec::with_capacity(rows * cols.len());
            for row in c.chunks_exact(n) {
                piece.extend_from_slice(&row[cols.clone()]);
            }
            part(0..rows, cols.clone(), &mut piece)?;
            Ok(piece)
        })
        .collect();
    for (cols, piece) in columns.iter().zip(pieces) {
        let piece = piece?;
        for (row, part) in c.chunks_exact_mut(n).zip(piece.chunks_exact(cols.len())) {
            row[cols.clone()].copy_from_slice(part);
        }
    }
    Ok(())
}

/// The column ranges [`split_output`] gives its parts for a `rows × n` output of `macs` multiply-adds
/// (at least `min_width` wide, starting on multiples of `align`); `None` when it would not split by
/// columns (one part, or a tall output split by rows). For kernels that can write their columns of the
/// output in place, without the copies `split_output` makes.
pub(crate) fn column_parts(
    rows: usize,
    n: usize,
    macs: usize,
    (min_width, align): (usize, usize),
) -> Option<Vec<Range<usize>>> {
    if rows >= ROW_SPLIT_MIN_ROWS {
        return None;
    }
    let parts = parts_for(macs).min(n / min_width.max(1));
    if parts < 2 {
        return None;
    }
    let width = n.div_ceil(parts).next_multiple_of(align.max(1));
    Some(
        (0..n.div_ceil(width))
            .map(|p| p * width..((p + 1) * width).min(n))
            .collect(),
    )
}

/// Runs `pass` — one forward pass, the only work of the current pool — with the pool's other workers
/// kept awake until it ends, so each split product's parts are taken at once. rayon parks an idle
/// worker within microseconds and wakes it for the next product: for a lone query's 24 split products
/// that was 15 % of the pass on 2 threads (`perf`: `finish_task_switch`), where ONNX Runtime's pool
/// spins. A waiting worker runs whatever the pool has (`rayon::yield_now`) and otherwise yields its core
/// to the OS (a search thread gets it at once), and it stops when the pass does: it never outlives a few
/// milliseconds.
///
/// Why it cannot deadlock: a helper spins only on a worker with no pass on its stack (it returns at
/// once on the pass's own thread, or on a worker that is inside another pass — two helpers buried on
/// top of each other's passes would wait for ever). So what a spinning helper sits on never waits for
/// it, and a pass waits only for its parts (leaf computations, which any worker, the helper included,
/// runs) and, at its end, for its helpers, which then stop.
pub(crate) fn with_workers_awake<T: Send>(pass: impl FnOnce() -> T + Send) -> T {
    let helpers = rayon::current_num_threads().saturating_sub(1);
    if helpers == 0 || rayon::current_thread_index().is_none() {
        return pass();
    }
    let done = AtomicBool::new(false);
    rayon::scope(|s| {
        for _ in 0..helpers {
            s.spawn(|_| {
                if PASSES.with(Cell::get) > 0 {
                    return;
                }
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::thread::yield_now();
                    }
                }
            });
        }
        // Both guards act on unwinding too: a pass that panics still releases its helpers (else
        // the scope, which waits for them before passing the panic on, would wait for ever).
        let _release = Release(&done);
        let _inside = PassGuard::enter();
        pass()
    })
}

/// Tells a pass's helpers to stop when dropped: after the pass returns, or while it unwinds.
struct Release<'a>(&'a AtomicBool);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

thread_local! {
    /// Passes of [`with_workers_awake`] on this thread's stack.
    static PASSES: Cell<usize> = const { Cell::new(0) };
}

/// Counts a pass on this thread's stack while alive (also when the pass panics).
struct PassGuard;

impl PassGuard {
    fn enter() -> Self {
        PASSES.with(|p| p.set(p.get() + 1));
        Self
    }
}

impl Drop for PassGuard {
    fn drop(&mut self) {
        PASSES.with(|p| p.set(p.get().saturating_sub(1)));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One pass in `pool` with its workers awake: Σ f(i) for i < n, one part per item, so the pass's
    /// parts are spread over the workers (and its helpers) as a forward pass's products are.
    fn awake_sum(pool: &rayon::ThreadPool, n: usize, f: impl Fn(usize) -> usize + Sync) -> usize {
        pool.install(|| with_workers_awake(|| (0..n).into_par_iter().with_max_len(1).map(&f).sum()))
    }

    #[test]
    fn a_pass_with_its_workers_awake_returns_its_value_and_never_waits_on_its_own_helper() {
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            // Many passes, each splitting work the helpers take (or the pass itself, when a helper
            // was not stolen yet): none may hang, and each returns its own sum.
            for round in 0..200usize {
                let sum = awake_sum(&pool, 64, |i| i * round);
                assert_eq!(sum, round * 63 * 64 / 2, "{threads} threads, round {round}");
            }
        }
        // Outside any pool: the pass just runs.
        assert_eq!(with_workers_awake(|| 7), 7);
    }

    #[test]
    fn a_pass_that_panics_releases_its_helpers_and_the_panic_reaches_the_caller() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (finished, report) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| {
                    with_workers_awake(|| {
                        (0..8usize).into_par_iter().sum::<usize>();
                        panic!("a bug in a forward pass")
                    })
                })
            }));
            let _ = finished.send(outcome.is_err());
        });
        let panicked = report
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the pass's helpers kept spinning after it panicked");
        assert!(panicked);
    }

    #[test]
    fn concurrent_passes_in_one_pool_all_finish() {
        // Four callers share a 2-worker pool (as the batcher, /v1/embeddings and troubleshoot share the
        // query pool): passes and helpers land on each other's workers; none may wait for ever.
        let pool = std::sync::Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap(),
        );
        let (finished, report) = std::sync::mpsc::channel();
        for c in 0..4usize {
            let (pool, finished) = (pool.clone(), finished.clone());
            std::thread::spawn(move || {
                for round in 0..300usize {
                    let sum = awake_sum(&pool, 32, |i| i + c + round);
                    assert_eq!(sum, 31 * 32 / 2 + 32 * (c + round));
                }
                // Sent only when every pass returned its own sum.
                let _ = finished.send(c);
            });
        }
        // A hang fails here instead of stalling the suite (the stuck threads end with the process).
        for _ in 0..4 {
            report
                .recv_timeout(std::time::Duration::from_secs(120))
                .expect("a caller's passes hung or panicked");
        }
    }
}
