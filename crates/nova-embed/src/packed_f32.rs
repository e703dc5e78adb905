//! f32 dense layers for products of few rows (a query, a few queries): the weights packed once, at
//! load, in the order the register tiles read them.
//!
//! Why: OpenBLAS packs both operands on every call. For a 23-token query that packing of a layer's
//! weights cost as much as the multiplication itself (`perf` of `nova bench embed --batch-sizes 1`,
//! one thread: `sgemm_itcopy` 42 % of the pass, `sgemm_kernel` 43 %), and ONNX Runtime, which packs its
//! constant weights once, ran a single query 2.3× faster. Tall products (passages: ~8,000 rows per
//! batch) stay on OpenBLAS, whose packing is spread over thousands of rows there ([`MAX_ROWS`]).
//!
//! Each output element is one f32 fused multiply-add chain over the inputs in order, so results differ
//! from OpenBLAS's only by rounding (~1e-6 relative); the parity tests against sentence-transformers hold.
//! Two kernels, picked once per process: AVX-512 (6 rows × 4 blocks of 16 columns) and AVX2 + FMA
//! (4 rows × 3 blocks of 8); CPUs with neither keep OpenBLAS for every product.

#![allow(unsafe_code)]

use crate::tiles::{accumulate_in_place, PackedWeights, Target};
use candle_core::bail;
use std::ops::Range;

/// Most rows (tokens in a batch) a dense layer multiplies with its packed weights; taller products go to
/// OpenBLAS. Measured with `nova bench embed` (2026-12-07, see `bench/README.md`): up to a few hundred
/// rows the packed kernels win clearly (one query 9.2 → 5.4 ms on one thread, 7.4 → 3.7 ms on two;
/// 8 queries 27 → 20 ms on two); at 32 queries (~730 rows) and at passage batches the two are equal within
/// the host's noise, so passages keep the path their parity with sentence-transformers was measured on.
pub(crate) const MAX_ROWS: usize = 1024;

/// Which f32 kernel the CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Avx512,
    Avx2,
}

impl Kernel {
    /// The kernels this CPU can run, widest first.
    fn available() -> Vec<Self> {
        let mut found = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                found.push(Self::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                found.push(Self::Avx2);
            }
        }
        found
    }

    fn lanes(self) -> usize {
        match self {
            Self::Avx512 => 16,
            Self::Avx2 => 8,
        }
    }
}

/// A dense layer's f32 weights packed for this CPU's kernel.
pub(crate) struct PackedF32 {
    kernel: Kernel,
    k: usize,
    n: usize,
    /// Column blocks of `lanes`; inside a block the `k` inputs in order, `lanes` columns each, so one
    /// vector load gives one input's weights for a block. The padding past `n` columns is 0.
    packed: Vec<f32>,
}

impl PackedF32 {
    /// Packs `w_t`, the `k × n` row-major transposed weight (`y = x · w_t`); `None` on a CPU without
    /// AVX-512 or AVX2 + FMA.
    pub(crate) fn new(w_t: &[f32], k: usize, n: usize) -> Option<Self> {
        let kernel = Kernel::available().into_iter().next()?;
        Some(Self::with_kernel(w_t, k, n, kernel))
    }

    fn with_kernel(w_t: &[f32], k: usize, n: usize, kernel: Kernel) -> Self {
        let lanes = kernel.lanes();
        let mut packed = vec![0f32; n.div_ceil(lanes) * k * lanes];
        for (r, row) in w_t.chunks_exact(n.max(1)).take(k).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                packed[((c / lanes) * k + r) * lanes + c % lanes] = v;
            }
        }
        Self {
            kernel,
            k,
            n,
            packed,
        }
    }

    /// `out (rows × cols.len()) += x (rows × k) · W[:, cols]`; `cols` starts on a block.
    fn gemm(&self, x: &[f32], rows: usize, cols: Range<usize>, out: Target) {
        #[cfg(target_arch = "x86_64")]
        match self.kernel {
            // SAFETY: this kernel was picked only after avx512f was detected; the sizes it relies on
            // are checked by `check_sizes` inside; `out`'s contract is the caller's (see `Target`).
            Kernel::Avx512 => unsafe { avx512::gemm(self, x, rows, cols, out) },
            // SAFETY: as above, for avx2 and fma.
            Kernel::Avx2 => unsafe { avx2::gemm(self, x, rows, cols, out) },
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no packed f32 kernel on this architecture: {x:?} {rows} {cols:?} {out:?}");
    }

    /// Checks what the kernels index (panics otherwise, before any access): `x` holds `rows × k`, `out`
    /// `rows` rows of `cols.len()` values, `cols` starts on a block and the packed weights cover it.
    fn check_sizes(&self, x_len: usize, rows: usize, cols: &Range<usize>, out: &Target) {
        let lanes = self.kernel.lanes();
        assert!(cols.start.is_multiple_of(lanes) && cols.start < cols.end && cols.end <= self.n);
        assert_eq!(x_len, rows * self.k);
        out.check(rows, cols.len());
        assert!(self.packed.len() >= cols.end.next_multiple_of(lanes) * self.k);
    }
}

impl PackedWeights for PackedF32 {
    fn dims(&self) -> (usize, usize) {
        (self.k, self.n)
    }

    /// Spread over the pool's workers as the OpenBLAS path is ([`split_output`]): a lone query's
    /// columns in two halves, each reading its half of the weights.
    fn accumulate(&self, x: &[f32], out: &mut [f32], rows: usize) -> candle_core::Result<()> {
        let (k, n) = (self.k, self.n);
        if x.len() != rows * k || out.len() != rows * n {
            bail!("packed linear: buffers do not match {rows}x{k} · {k}x{n}");
        }
        if rows == 0 || n == 0 {
            return Ok(());
        }
        // Column parts are whole 64-column groups: a multiple of either kernel's block.
        accumulate_in_place(out, n, rows * k * n, (64, 64), |part_rows, cols, target| {
            let x_rows = &x[part_rows.start * k..part_rows.end * k];
            self.gemm(x_rows, part_rows.len(), cols, target);
        });
        Ok(())
    }
}

/// One SIMD kernel: the driver (sizes checked once, then every register tile of the output) and the
/// tile, an `R × B` block of accumulators fed one input at a time — `B` weight vectors loaded, one
/// activation broadcast per row, `R · B` fused multiply-adds.
#[cfg(target_arch = "x86_64")]
macro_rules! f32_kernel {
    ($features:literal, $lanes:literal, $tile:expr,
     $zero:ident, $load:ident, $set1:ident, $fmadd:ident, $store:ident) => {
        use super::PackedF32;
        use crate::tiles::Target;
        use crate::tiles::{dispatch_tile, for_each_tile};
        use std::arch::x86_64::*;
        use std::ops::Range;

        /// # Safety
        /// The CPU must have the features named in `target_feature`. Sizes are checked here before any
        /// pointer is read.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn gemm(
            w: &PackedF32,
            x: &[f32],
            rows: usize,
            cols: Range<usize>,
            out: Target,
        ) {
            w.check_sizes(x.len(), rows, &cols, &out);
            let first = cols.start / $lanes;
            let blocks = cols.len().div_ceil($lanes);
            for_each_tile((rows, blocks), $tile, |r, mr, b, nb| {
                // SAFETY: rows r..r+mr and blocks first+b..first+b+nb lie inside what check_sizes
                // verified; the CPU features are this function's own contract.
                unsafe { dispatch_tile!(tile, mr, nb, (w, x, &cols, out, r, first + b)) }
            });
        }

        /// `R` rows × `B` blocks of columns, from row `r0` and (absolute) block `b0`.
        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn tile<const R: usize, const B: usize>(
            w: &PackedF32,
            x: &[f32],
            cols: &Range<usize>,
            out: Target,
            r0: usize,
            b0: usize,
        ) {
            let k = w.k;
            let (wp, xp) = (w.packed.as_ptr(), x.as_ptr());
            let mut acc = [[$zero(); B]; R];
            for i in 0..k {
                let mut wv = [$zero(); B];
                for (j, v) in wv.iter_mut().enumerate() {
                    // SAFETY: block b0 + j, input i: one vector inside the packed weights
                    // (check_sizes: they cover every block of cols).
                    *v = unsafe { $load(wp.add(((b0 + j) * k + i) * $lanes)) };
                }
                for (r, row) in acc.iter_mut().enumerate() {
                    // SAFETY: row r0 + r < rows, input i < k: inside x (check_sizes).
                    let a = $set1(unsafe { *xp.add((r0 + r) * k + i) });
                    for (lane, wv) in row.iter_mut().zip(&wv) {
                        *lane = $fmadd(a, *wv, *lane);
                    }
                }
            }
            // Added to the output through a small array: one pass per tile, k times cheaper than the
            // loop above, and the last block of a row may be narrower than a vector.
            let width = cols.len();
            let col0 = b0 * $lanes - cols.start;
            let mut sums = [0f32; $lanes];
            for (r, row) in acc.iter().enumerate() {
                for (j, lane) in row.iter().enumerate() {
                    let c = col0 + j * $lanes;
                    let valid = (width - c).min($lanes);
                    // SAFETY: a full-width store into a local array of that width.
                    unsafe { $store(sums.as_mut_ptr(), *lane) };
                    // SAFETY: row r0 + r < rows and c + valid ≤ width, so these values lie inside
                    // `out` (check_sizes); they are this part's own columns, written by no other.
                    let dst = unsafe { out.values(r0 + r, c, valid) };
                    for (o, s) in dst.iter_mut().zip(&sums) {
                        *o += s;
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    // 6 rows × 4 blocks of 16 columns = 24 accumulators of the 32 zmm registers.
    f32_kernel!(
        "avx512f",
        16,
        (6, 4),
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_storeu_ps
    );
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    // 4 rows × 3 blocks of 8 columns = 12 accumulators of the 16 ymm registers.
    f32_kernel!(
        "avx2,fma",
        8,
        (4, 3),
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_storeu_ps
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        crate::kernels::test_values(len, seed, false)
    }

    #[test]
    fn every_kernel_equals_the_plain_product_at_every_edge() {
        if Kernel::available().is_empty() {
            eprintln!("SKIPPED: this CPU has neither AVX-512 nor AVX2 + FMA");
        }
        // Odd sizes: partial row tiles and column blocks, one row, a query through a real layer (on 2
        // threads split by columns in place), a tall product (split by rows).
        let sizes = [
            (1, 384, 1152),
            (7, 37, 41),
            (13, 385, 200),
            (2, 3, 5),
            (23, 1536, 384),
            (300, 96, 130),
        ];
        for &(m, k, n) in &sizes {
            let (x, w) = (values(m * k, 1), values(k * n, 2));
            let exact: Vec<f32> = (0..m * n)
                .map(|i| {
                    let (r, c) = (i / n, i % n);
                    0.5 + (0..k).map(|j| x[r * k + j] * w[j * n + c]).sum::<f32>()
                })
                .collect();
            for kernel in Kernel::available() {
                let packed = PackedF32::with_kernel(&w, k, n, kernel);
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let mut out = vec![0.5f32; m * n];
                    pool.install(|| packed.accumulate(&x, &mut out, m)).unwrap();
                    for (i, (a, b)) in out.iter().zip(&exact).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                            "{kernel:?} {m}x{k}x{n} on {threads} threads, element {i}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn mismatched_buffers_are_an_error_not_a_read_out_of_bounds() {
        let Some(packed) = PackedF32::new(&values(8 * 16, 3), 8, 16) else {
            eprintln!("SKIPPED: this CPU has neither AVX-512 nor AVX2 + FMA");
            return;
        };
        let mut out = vec![0f32; 2 * 16];
        assert!(packed.accumulate(&values(15, 4), &mut out, 2).is_err());
        assert!(packed
            .accumulate(&values(16, 4), &mut out[..31], 2)
            .is_err());
    }
}
