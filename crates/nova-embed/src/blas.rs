//! Matrix multiplication through the system's OpenBLAS (`cblas_sgemm`) as a candle custom op.
//!
//! Why: on this project's reference machine (2-core AMD EPYC, AVX-512) candle's built-in `gemm` kernels
//! reach ~50 GFLOP/s per core while OpenBLAS reaches ~100, and the encoder spends >70 % of its time in
//! matmuls. Besides `threads::lower_priority` (one `setpriority`), this is the only module with `unsafe`: FFI calls
//! into OpenBLAS, each contract checked right above it. Built only with the `openblas` feature (on by default; `libopenblas-dev` on Debian).

#![allow(unsafe_code)]

use crate::kernels::{contiguous, fused_output, output_shape};
use crate::threads::{parts_for, split_output};
use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;
use std::os::raw::c_int;

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

#[link(name = "openblas")]
extern "C" {
    fn cblas_sgemm(
        layout: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_corename() -> *const std::os::raw::c_char;
}

/// The kernel family OpenBLAS picked for this CPU at load time (`Haswell`, `SkylakeX`, `Zen`, …).
pub fn core_name() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static, NUL-terminated name (never freed, never null in
    // DYNAMIC_ARCH builds; checked anyway).
    let name = unsafe { openblas_get_corename() };
    if name.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated, as above; only read.
    unsafe { std::ffi::CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned()
}

/// The kernel family OpenBLAS *should* use when it fell back to a generic one for a CPU it does not
/// recognise. OpenBLAS 0.3.21 (Debian 12) does not know newer Xeons whose model is reported as plain
/// "Intel(R) Xeon(R) Processor" (Sapphire Rapids in cloud VMs) and runs them on its SSE3 `Prescott`
/// kernels: ~3× slower than the AVX-512 ones on the same machine (measured with `nova bench embed`:
/// queries 63 → 203 texts/s, passages 6.0 → 17.9 at 2 threads). OpenBLAS reads `OPENBLAS_CORETYPE`
/// only when it loads, so the caller has to start the process again with it set.
pub fn better_core() -> Option<&'static str> {
    const GENERIC: [&str; 8] = [
        "prescott",
        "core2",
        "penryn",
        "dunnington",
        "nehalem",
        "atom",
        "katmai",
        "northwood",
    ];
    let current = core_name().to_ascii_lowercase();
    if !GENERIC.contains(&current.as_str()) {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq");
        if avx512 {
            return Some("SkylakeX");
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Some("Haswell");
        }
    }
    None
}

/// Caps OpenBLAS's own thread pool (it does not read rayon's settings).
pub(crate) fn set_threads(n: usize) {
    let n = c_int::try_from(n.max(1)).unwrap_or(c_int::MAX);
    // SAFETY: plain setter on OpenBLAS's global thread count; any positive value is valid.
    unsafe { openblas_set_num_threads(n) }
}

/// A row-major matrix inside a slice: `rows × cols` from `offset`, consecutive rows `ld` apart — so
/// one head's columns of the fused Q/K/V output, or one head's block of the attention output, are
/// multiplied where they lie instead of being copied out first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub ld: usize,
}

impl View {
    /// A whole contiguous `rows × cols` matrix.
    pub fn dense(rows: usize, cols: usize) -> Self {
        Self {
            offset: 0,
            rows,
            cols,
            ld: cols,
        }
    }

    /// Checks that the view fits a slice of `len` values; its last element is read at
    /// `offset + (rows - 1)·ld + cols - 1`.
    fn check(&self, len: usize, what: &str) -> candle_core::Result<()> {
        let fits = self.ld >= self.cols
            && (self.rows == 0
                || self.cols == 0
                || self.offset + (self.rows - 1) * self.ld + self.cols <= len);
        if !fits {
            bail!("blas matmul: {what} {self:?} does not fit a buffer of {len} values");
        }
        Ok(())
    }
}

fn c_dim(x: usize) -> candle_core::Result<c_int> {
    c_int::try_from(x).map_err(|_| candle_core::Error::Msg(format!("dimension {x} too large")))
}

/// `C = A · op(B) + beta·C` on views (`op(B) = Bᵀ` when `b_t`), each checked to fit its slice and the
/// shapes to agree before OpenBLAS is called.
pub(crate) fn gemm_views(
    (a, va): (&[f32], View),
    (b, vb, b_t): (&[f32], View, bool),
    (c, vc): (&mut [f32], View),
    beta: f32,
) -> candle_core::Result<()> {
    va.check(a.len(), "A")?;
    vb.check(b.len(), "B")?;
    vc.check(c.len(), "C")?;
    let (m, k) = (va.rows, va.cols);
    let (kb, n) = if b_t {
        (vb.cols, vb.rows)
    } else {
        (vb.rows, vb.cols)
    };
    if kb != k || vc.rows != m || vc.cols != n {
        bail!("blas matmul: shapes do not agree: A {va:?}, B {vb:?} (transposed: {b_t}), C {vc:?}");
    }
    let (mi, ni, ki) = (c_dim(m)?, c_dim(n)?, c_dim(k)?);
    let (lda, ldb, ldc) = (c_dim(va.ld)?, c_dim(vb.ld)?, c_dim(vc.ld)?);
    if m == 0 || n == 0 {
        return Ok(());
    }
    // SAFETY: every view was checked above to lie inside its slice (last element at offset + (rows-1)·ld
    // + cols - 1 < len, ld ≥ cols), and the shapes to agree, so OpenBLAS reads m×k of A, k×n of B (n×k
    // when transposed) and writes m×n of C only inside those views; `c` is a unique borrow, so it
    // overlaps neither input. With k = 0 OpenBLAS only scales C by beta.
    unsafe {
        cblas_sgemm(
            ROW_MAJOR,
            NO_TRANS,
            if b_t { TRANS } else { NO_TRANS },
            mi,
            ni,
            ki,
            1.0,
            a.as_ptr().add(va.offset),
            lda,
            b.as_ptr().add(vb.offset),
            ldb,
            beta,
            c.as_mut_ptr().add(vc.offset),
            ldc,
        );
    }
    Ok(())
}

/// `C = A · B + beta·C` for one row-major `m×k` by `k×n` pair.
fn sgemm(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    (m, k, n): (usize, usize, usize),
    beta: f32,
) -> candle_core::Result<()> {
    if a.len() != m * k || b.len() != k * n || c.len() != m * n {
        bail!("blas matmul: buffer sizes do not match {m}x{k} · {k}x{n}");
    }
    gemm_views(
        (a, View::dense(m, k)),
        (b, View::dense(k, n), false),
        (c, View::dense(m, n)),
        beta,
    )
}

/// Fewest output columns one part of a split linear layer gets: narrower slices of the weights make
/// sgemm's blocking inefficient.
const MIN_PART_COLS: usize = 128;

/// `c += a · b` (row-major `m×k` by `k×n`), its output spread over the pool's workers when the product
/// is big enough ([`split_output`]). Each output element is computed as one call would compute it.
fn sgemm_split(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    (m, k, n): (usize, usize, usize),
) -> candle_core::Result<()> {
    if a.len() != m * k || b.len() != k * n || c.len() != m * n {
        bail!("blas matmul: buffer sizes do not match {m}x{k} · {k}x{n}");
    }
    split_output(c, n, m * k * n, (MIN_PART_COLS, 1), |rows, cols, piece| {
        let a_rows = View {
            offset: rows.start * k,
            rows: rows.len(),
            cols: k,
            ld: k,
        };
        let b_cols = View {
            offset: cols.start,
            rows: k,
            cols: cols.len(),
            ld: n,
        };
        let out = View::dense(rows.len(), cols.len());
        gemm_views((a, a_rows), (b, b_cols, false), (piece, out), 1.0)
    })
}

/// `lhs (…, m, k) · rhs (…, k, n)` where `rhs` has the same leading dims as `lhs` or is a shared 2-D matrix.
struct BlasMatmul;

impl CustomOp2 for BlasMatmul {
    fn name(&self) -> &'static str {
        "blas-matmul"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (a, b) = (contiguous(s1, l1)?, contiguous(s2, l2)?);
        let (ad, bd) = (l1.dims(), l2.dims());
        let (Some(&[m, k]), Some(&[k2, n])) = (
            ad.get(ad.len().saturating_sub(2)..),
            bd.get(bd.len().saturating_sub(2)..),
        ) else {
            bail!("blas matmul needs at least 2-D inputs, got {ad:?} and {bd:?}");
        };
        let batch: usize = ad[..ad.len() - 2].iter().product();
        let rhs_batch: usize = bd[..bd.len() - 2].iter().product();
        if k != k2 || (rhs_batch != batch && rhs_batch != 1) {
            bail!("blas matmul shape mismatch: {ad:?} · {bd:?}");
        }
        if a.len() != batch * m * k || b.len() != rhs_batch * k * n {
            bail!("blas matmul: buffer sizes do not match {ad:?} · {bd:?}");
        }
        let mut out = vec![0f32; batch * m * n];
        if m * n == 0 {
            return Ok((CpuStorage::F32(out), Shape::from(output_dims(ad, m, n))));
        }
        // One product per leading index (the peak measurement's and tests' batched inputs), spread over
        // the pool's workers when they are big enough to pay for it, each product on one thread.
        let parts = parts_for(batch * m * k * n).min(batch);
        out.par_chunks_mut(m * n)
            .enumerate()
            .with_min_len(batch.div_ceil(parts.max(1)))
            .try_for_each(|(i, out)| {
                let rhs = if rhs_batch == 1 {
                    b
                } else {
                    &b[i * k * n..(i + 1) * k * n]
                };
                sgemm(&a[i * m * k..(i + 1) * m * k], rhs, out, (m, k, n), 0.0)
            })?;
        Ok((CpuStorage::F32(out), Shape::from(output_dims(ad, m, n))))
    }
}

/// The leading dims of `lhs` followed by `m, n`.
fn output_dims(lhs: &[usize], m: usize, n: usize) -> Vec<usize> {
    let mut dims = lhs[..lhs.len() - 2].to_vec();
    dims.extend([m, n]);
    dims
}

/// `x · Wᵀ + bias (+ residual)` in one pass: the output starts as the bias rows (plus the residual) and
/// sgemm accumulates into it (beta = 1), so no separate broadcast-add passes over the activations.
struct Linear<'a> {
    bias: &'a [f32],
}

impl Linear<'_> {
    fn run(
        &self,
        x: &[f32],
        w_t: &[f32],
        residual: Option<&[f32]>,
        (rows, k, n): (usize, usize, usize),
    ) -> candle_core::Result<CpuStorage> {
        let mut out = fused_output(self.bias, residual, rows, n)?;
        sgemm_split(x, w_t, &mut out, (rows, k, n))?;
        Ok(CpuStorage::F32(out))
    }
}

impl Linear<'_> {
    /// The shared body of the 2- and 3-input ops: checks shapes, runs, and shapes the output like `x`.
    fn forward(
        &self,
        (sx, lx): (&CpuStorage, &Layout),
        (sw, lw): (&CpuStorage, &Layout),
        residual: Option<&[f32]>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = linear_dims(lx, lw)?;
        let out = self.run(contiguous(sx, lx)?, contiguous(sw, lw)?, residual, dims)?;
        Ok((out, output_shape(lx, dims.2)))
    }
}

/// `(rows, k)` and `(k, n)` from the layouts of `x` (any leading dims) and `w_t`.
fn linear_dims(lx: &Layout, lw: &Layout) -> candle_core::Result<(usize, usize, usize)> {
    let (&k, lead) = lx
        .dims()
        .split_last()
        .ok_or_else(|| candle_core::Error::Msg("linear: scalar input".into()))?;
    let &[k2, n] = lw.dims() else {
        bail!("linear: weight must be 2-D, got {:?}", lw.dims())
    };
    if k != k2 {
        bail!(
            "linear: input {:?} does not match weight {:?}",
            lx.dims(),
            lw.dims()
        );
    }
    Ok((lead.iter().product(), k, n))
}

impl CustomOp2 for Linear<'_> {
    fn name(&self) -> &'static str {
        "blas-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.forward((s1, l1), (s2, l2), None)
    }
}

impl CustomOp3 for Linear<'_> {
    fn name(&self) -> &'static str {
        "blas-linear-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.forward((s1, l1), (s2, l2), Some(contiguous(s3, l3)?))
    }
}

/// `x · w_t + bias`, plus `residual` when given; all contiguous f32, `bias` of length `w_t.dims()[1]`.
pub(crate) fn linear(
    x: &Tensor,
    w_t: &Tensor,
    bias: &[f32],
    residual: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let op = Linear { bias };
    match residual {
        Some(r) => x.apply_op3_no_bwd(w_t, r, &op),
        None => x.apply_op2_no_bwd(w_t, &op),
    }
}

/// Matrix product of contiguous f32 tensors through OpenBLAS.
pub(crate) fn matmul(lhs: &Tensor, rhs: &Tensor) -> candle_core::Result<Tensor> {
    lhs.apply_op2_no_bwd(rhs, &BlasMatmul)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::max_diff;
    use candle_core::Device;

    #[test]
    fn blas_matmul_equals_candle_matmul_for_shared_and_batched_rhs() {
        let dev = Device::Cpu;
        let a = Tensor::randn(0f32, 1.0, (3, 5, 7), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (7, 4), &dev).unwrap();
        let bw = Tensor::randn(0f32, 1.0, (3, 7, 4), &dev).unwrap();
        for rhs in [&w, &bw] {
            let diff = max_diff(&matmul(&a, rhs).unwrap(), &a.broadcast_matmul(rhs).unwrap());
            assert!(diff < 1e-4, "max difference {diff}");
        }
    }

    #[test]
    fn fused_linear_equals_matmul_plus_bias_plus_residual() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (6, 5), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (5, 3), &dev).unwrap();
        let r = Tensor::randn(0f32, 1.0, (6, 3), &dev).unwrap();
        let bias = [0.5f32, -1.0, 2.0];
        let b = Tensor::new(&bias, &dev).unwrap();
        let reference = x.matmul(&w).unwrap().broadcast_add(&b).unwrap();
        assert!(max_diff(&linear(&x, &w, &bias, None).unwrap(), &reference) < 1e-4);
        assert!(
            max_diff(
                &linear(&x, &w, &bias, Some(&r)).unwrap(),
                &(reference + &r).unwrap()
            ) < 1e-4
        );
    }

    #[test]
    fn products_split_over_workers_equal_candle_s() {
        // Big enough to cross SPLIT_MIN_MACS, in a 2-worker pool: a linear layer's output columns and
        // the attention products per head are spread over both workers.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 33, 384), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (384, 1536), &dev).unwrap();
        let bias = vec![0.25f32; 1536];
        let q = Tensor::randn(0f32, 1.0, (2, 12, 97, 32), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (2, 12, 32, 97), &dev).unwrap();
        const {
            assert!(
                33 * 2 * 384 * 1536 >= crate::threads::SPLIT_MIN_MACS
                    && 24 * 97 * 32 * 97 >= crate::threads::SPLIT_MIN_MACS
            )
        };
        let (ours_linear, ours_attention) = pool.install(|| {
            (
                linear(&x, &w, &bias, None).unwrap(),
                matmul(&q, &k).unwrap(),
            )
        });
        let b = Tensor::new(bias.as_slice(), &dev).unwrap();
        let reference = x.broadcast_matmul(&w).unwrap().broadcast_add(&b).unwrap();
        assert!(max_diff(&ours_linear, &reference) < 1e-3);
        assert!(max_diff(&ours_attention, &q.matmul(&k).unwrap()) < 1e-3);
    }

    #[test]
    fn mismatched_inner_dimensions_are_an_error() {
        let dev = Device::Cpu;
        let a = Tensor::zeros((2, 3), candle_core::DType::F32, &dev).unwrap();
        let b = Tensor::zeros((4, 2), candle_core::DType::F32, &dev).unwrap();
        assert!(matmul(&a, &b).is_err());
    }
}
