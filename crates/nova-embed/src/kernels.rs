//! Two fused element-wise kernels, written because profiling showed candle's generic versions costing
//! ~25 % of a passage forward pass:
//! - `gelu_erf` (a candle custom op): libm's `erff` per element was ~9 %; the Abramowitz–Stegun 7.1.26 rational form (max abs
//!   error 1.5e-7, below f32 resolution of the activations) is several times cheaper.
//! - the attention softmax: one pass per row of a sequence's scores, inside the fused attention (no
//!   padding mask: batches are packed).
//!
//! Both use [`exp`], a branch-free exponential that the compiler vectorises (libm's `expf` is a call per
//! element), with relative error ~2e-7: the same order as f32 rounding.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

/// The f32 values of a contiguous tensor's storage (custom ops here accept no other layout).
pub(crate) fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let (CpuStorage::F32(v), Some((start, end))) = (s, l.contiguous_offsets()) else {
        bail!("custom op needs a contiguous f32 tensor");
    };
    Ok(&v[start..end])
}

/// A linear layer's output before its product is added: the bias in every row, plus the residual when
/// given (both f32 paths and the int8 one accumulate into it, so bias and residual cost no extra pass).
pub(crate) fn fused_output(
    bias: &[f32],
    residual: Option<&[f32]>,
    rows: usize,
    n: usize,
) -> candle_core::Result<Vec<f32>> {
    if bias.len() != n {
        bail!(
            "linear: bias has {} values, output has {n} columns",
            bias.len()
        );
    }
    match residual {
        Some(r) if r.len() == rows * n => {
            let mut out = r.to_vec();
            for row in out.chunks_exact_mut(n.max(1)) {
                row.iter_mut().zip(bias).for_each(|(o, b)| *o += b);
            }
            Ok(out)
        }
        Some(r) => bail!(
            "linear: residual has {} values, expected {}",
            r.len(),
            rows * n
        ),
        // The bias rows written straight away: no zero-filled buffer to add them to.
        None => {
            let mut out = Vec::with_capacity(rows * n);
            (0..rows).for_each(|_| out.extend_from_slice(bias));
            Ok(out)
        }
    }
}

/// `x`'s shape with its last dimension replaced by `n`.
pub(crate) fn output_shape(lx: &Layout, n: usize) -> Shape {
    let mut dims = lx.dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = n;
    }
    Shape::from(dims)
}

/// e^x for x ≤ 88, by Cody–Waite range reduction (x = n·ln2 + r, |r| ≤ ln2/2) and a degree-6 Taylor
/// polynomial for e^r; 2^n is built in the exponent bits. Inputs below -87 flush towards zero.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // t's low mantissa bits hold n as an integer; moving n + 127 into the exponent field gives 2^n. Pure
    // bit arithmetic (no float→int cast, which Rust saturates and so keeps the loop scalar).
    let n_bits = t.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    p * scale
}

/// erf(x) by Abramowitz & Stegun 7.1.26.
#[inline(always)]
fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_7,
        -1.453_152_1,
        1.061_405_4,
    ];
    let ax = x.abs();
    let t = 1.0 / (1.0 + P * ax);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let y = 1.0 - poly * exp(-ax * ax);
    y.copysign(x)
}

struct GeluErf;

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "gelu-erf-fast"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(s, l)?;
        let mut out = vec![0f32; x.len()];
        let chunk = 4096;
        out.par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .for_each(|(o, x)| {
                crate::simd::widest(
                    #[inline(always)]
                    || {
                        for (o, &v) in o.iter_mut().zip(x) {
                            *o = 0.5 * v * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2));
                        }
                    },
                )
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// GELU with the exact (erf) form BERT was trained with.
pub(crate) fn gelu_erf(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&GeluErf)
}

/// Softmax of one row of attention scores, in place (every key real: the fused attention multiplies
/// only a sequence's own tokens). Inlined into its caller's [`crate::simd::widest`] loop.
#[inline(always)]
pub(crate) fn softmax_row(row: &mut [f32]) {
    // Plain `for` loops throughout: iterator adapters' `for_each`/`fold` are functions of their own that
    // need not be inlined, and what is not inlined is not compiled for the wider vector unit.
    let max = max(row);
    for o in row.iter_mut() {
        *o = exp(*o - max);
    }
    let sum = sum(row);
    let inv = if sum > 0.0 { 1.0 / sum } else { 0.0 };
    for o in row.iter_mut() {
        *o *= inv;
    }
}

/// Lanes of the reductions below: independent accumulators let the compiler use SIMD (a single running
/// float sum must be evaluated in order) — four registers' worth even at AVX-512, so consecutive adds
/// do not wait on each other.
const LANES: usize = 64;

#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let mut tail = 0f32;
    for &x in chunks.remainder() {
        tail += x;
    }
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let mut total = 0f32;
    for a in acc {
        total += a;
    }
    total + tail
}

/// The largest value (−∞ for none; NaNs are passed over).
#[inline(always)]
fn max(values: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    let mut max = f32::NEG_INFINITY;
    for &v in acc.iter().chain(tail) {
        max = if v > max { v } else { max };
    }
    max
}

/// The largest absolute difference between two tensors of one shape (tests of this crate's kernels
/// against candle's own ops).
#[cfg(test)]
pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("tensors of one shape")
}

/// A deterministic spread of values in [-0.5, 0.5) (no RNG dependency) for the kernels' tests; with
/// `outliers`, one value in 97 is 20 times larger, like real activations.
#[cfg(test)]
pub(crate) fn test_values(len: usize, seed: u32, outliers: bool) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let h = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed.wrapping_mul(40_503));
            let v = (h >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            if outliers && h.is_multiple_of(97) {
                v * 20.0
            } else {
                v
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn fast_exp_is_within_f32_rounding_of_std_exp() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let (ours, exact) = (exp(x), f64::from(x).exp());
            assert!(
                ((f64::from(ours) - exact) / exact).abs() < 5e-7,
                "exp({x}) = {ours}, want {exact}"
            );
            x += 0.01;
        }
    }

    #[test]
    fn fast_gelu_matches_candles_exact_gelu() {
        let x = Tensor::arange_step(-8f32, 8.0, 0.001, &Device::Cpu).unwrap();
        assert!(max_diff(&gelu_erf(&x).unwrap(), &x.gelu_erf().unwrap()) < 1e-6);
    }
}
