//! Matrix multiplication through the system's OpenBLAS (`cblas_sgemm`) as a candle custom op.
//!
//! Why: on this project's reference machine (2-core AMD EPYC, AVX-512) candle's built-in `gemm` kernels
//! reach ~50 GFLOP/s per core while OpenBLAS reaches ~100, and the encoder spends >70 % of its time in
//! matmuls. Besides `threads::lower_priority` (one `setpriority`), this is the only module with `unsafe`: one FFI call whose pointer/length contract is checked
//! right above it. Built only with the `openblas` feature (on by default; `libopenblas-dev` on Debian).

#![allow(unsafe_code)]

use crate::kernels::contiguous;
use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use std::os::raw::c_int;

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;

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
}

/// Caps OpenBLAS's own thread pool (it does not read rayon's settings).
pub(crate) fn set_threads(n: usize) {
    let n = c_int::try_from(n.max(1)).unwrap_or(c_int::MAX);
    // SAFETY: plain setter on OpenBLAS's global thread count; any positive value is valid.
    unsafe { openblas_set_num_threads(n) }
}

/// `C = A · B + beta·C` for one row-major `m×k` by `k×n` pair; lengths are checked before the call.
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
    let dim = |x: usize| {
        c_int::try_from(x).map_err(|_| candle_core::Error::Msg(format!("dimension {x} too large")))
    };
    let (mi, ki, ni) = (dim(m)?, dim(k)?, dim(n)?);
    if m == 0 || n == 0 {
        return Ok(());
    }
    // SAFETY: a, b and c are live, non-overlapping slices of exactly m·k, k·n and m·n f32s in row-major
    // order with leading dimensions k, n and n, which is what cblas_sgemm reads and writes.
    unsafe {
        cblas_sgemm(
            ROW_MAJOR,
            NO_TRANS,
            NO_TRANS,
            mi,
            ni,
            ki,
            1.0,
            a.as_ptr(),
            ki,
            b.as_ptr(),
            ni,
            beta,
            c.as_mut_ptr(),
            ni,
        );
    }
    Ok(())
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
        let mut out = vec![0f32; batch * m * n];
        for i in 0..batch {
            let rhs = if rhs_batch == 1 {
                b
            } else {
                &b[i * k * n..(i + 1) * k * n]
            };
            sgemm(
                &a[i * m * k..(i + 1) * m * k],
                rhs,
                &mut out[i * m * n..(i + 1) * m * n],
                (m, k, n),
                0.0,
            )?;
        }
        let mut dims = ad[..ad.len() - 2].to_vec();
        dims.extend([m, n]);
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
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
        if self.bias.len() != n {
            bail!(
                "linear: bias has {} values, output has {n} columns",
                self.bias.len()
            );
        }
        let mut out = match residual {
            Some(r) if r.len() == rows * n => r.to_vec(),
            Some(r) => bail!(
                "linear: residual has {} values, expected {}",
                r.len(),
                rows * n
            ),
            None => vec![0f32; rows * n],
        };
        for row in out.chunks_exact_mut(n) {
            row.iter_mut().zip(self.bias).for_each(|(o, b)| *o += b);
        }
        sgemm(x, w_t, &mut out, (rows, k, n), 1.0)?;
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

fn output_shape(lx: &Layout, n: usize) -> Shape {
    let mut dims = lx.dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = n;
    }
    Shape::from(dims)
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
    use candle_core::Device;

    #[test]
    fn blas_matmul_equals_candle_matmul_for_shared_and_batched_rhs() {
        let dev = Device::Cpu;
        let a = Tensor::randn(0f32, 1.0, (3, 5, 7), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (7, 4), &dev).unwrap();
        let bw = Tensor::randn(0f32, 1.0, (3, 7, 4), &dev).unwrap();
        for rhs in [&w, &bw] {
            let ours = matmul(&a, rhs).unwrap();
            let theirs = a.broadcast_matmul(rhs).unwrap();
            let diff = (ours - theirs)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
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
        let diff = |a: Tensor, b: Tensor| {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert!(diff(linear(&x, &w, &bias, None).unwrap(), reference.clone()) < 1e-4);
        assert!(
            diff(
                linear(&x, &w, &bias, Some(&r)).unwrap(),
                (reference + &r).unwrap()
            ) < 1e-4
        );
    }

    #[test]
    fn mismatched_inner_dimensions_are_an_error() {
        let dev = Device::Cpu;
        let a = Tensor::zeros((2, 3), candle_core::DType::F32, &dev).unwrap();
        let b = Tensor::zeros((4, 2), candle_core::DType::F32, &dev).unwrap();
        assert!(matmul(&a, &b).is_err());
    }
}
