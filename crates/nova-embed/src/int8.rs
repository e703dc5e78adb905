//! Opt-in int8 inference for the encoder's dense layers (`model.precision = "int8"`).
//!
//! - Weights: symmetric int8 per output channel (scale = max |w| / 127), quantised once at load.
//! - Activations: symmetric int8 per row (one token's vector), quantised on every call ("dynamic").
//! - Products: exact integer dot products in i32, scaled back with both scales and added to the output,
//!   which already holds the bias (and the residual) — the same fused form as the f32 path.
//!
//! Attention's own products (q·kᵀ, p·v) stay f32: they are a small share of the work for queries and
//! passages of a few hundred tokens, and they are where precision matters most.
//!
//! Three kernels, picked once per process, give the same integers (so the same vectors on any machine):
//! AVX-512 VNNI (`vpdpbusd`: 64 u8 × i8 multiply-adds per instruction — the activations are shifted by
//! +128 into u8 and the shift is taken back out by starting each sum at −128 · Σ w), AVX2 (`vpmaddwd`
//! on i16 pairs: 16 exact multiply-adds per instruction, no saturation), and a portable loop.
//!
//! This and `blas` are the crate's only modules with `unsafe`: SIMD intrinsics behind runtime feature
//! checks, reading buffers whose sizes are checked before the kernels run (contracts at each block).

#![allow(unsafe_code)]

use crate::tiles::{accumulate_in_place, PackedWeights, Target};
use candle_core::bail;
use std::ops::Range;
use std::sync::OnceLock;

/// Which arithmetic the encoder's dense layers use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 everywhere: numerically equal to sentence-transformers. The default.
    #[default]
    Fp32,
    /// Dynamically quantised int8 dense layers: faster, vectors at cosine ≈ 0.99 to f32's.
    Int8,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Fp32 => "fp32",
            Self::Int8 => "int8",
        })
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" => Ok(Self::Fp32),
            "int8" | "i8" => Ok(Self::Int8),
            other => Err(format!("unknown precision `{other}` (fp32 or int8)")),
        }
    }
}

/// An int8 product is split over the cores only when it is this many times bigger than an f32 one would
/// need to be (`threads::SPLIT_MIN_MACS`): its integer work is ~4× faster per core, so the hand-off
/// costs relatively more. Measured with `nova bench embed --thread-counts 2` (p50, 2 runs each): one
/// query 3.3–3.8 ms at 64 against 4.3 ms at 8 and 6.0 ms at 1; 8 queries 21–22 ms against 23–27 and 33.
const SPLIT_DISCOUNT: usize = 64;

/// The integer kernel this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Kernel {
    /// AVX-512 VNNI (`vpdpbusd`).
    Avx512Vnni,
    /// AVX2 + FMA (`vpmaddwd` on i16 pairs).
    Avx2,
    /// Plain Rust loops (any CPU).
    Portable,
}

impl Int8Kernel {
    /// The best kernel this CPU runs (checked once).
    pub fn detect() -> Self {
        static KERNEL: OnceLock<Int8Kernel> = OnceLock::new();
        *KERNEL.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
                {
                    return Self::Avx512Vnni;
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    return Self::Avx2;
                }
            }
            Self::Portable
        })
    }

    /// Every kernel this CPU runs, best first (tests compare each with the portable one).
    pub fn available() -> Vec<Self> {
        let mut kernels = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if Self::detect() == Self::Avx512Vnni {
                kernels.push(Self::Avx512Vnni);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                kernels.push(Self::Avx2);
            }
        }
        kernels.push(Self::Portable);
        kernels
    }

    /// Output columns per register block.
    fn lanes(self) -> usize {
        match self {
            Self::Avx512Vnni => 16,
            Self::Avx2 => 8,
            Self::Portable => 1,
        }
    }

    /// Input values one 32-bit activation word holds (4 u8, 2 i16, or 1).
    fn group(self) -> usize {
        match self {
            Self::Avx512Vnni => 4,
            Self::Avx2 => 2,
            Self::Portable => 1,
        }
    }
}

impl std::fmt::Display for Int8Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Avx512Vnni => "avx512-vnni",
            Self::Avx2 => "avx2",
            Self::Portable => "portable",
        })
    }
}

/// Weights packed for one kernel: column blocks of `lanes`, inside each the `k` inputs in groups of
/// `group`, so one vector load gives `lanes` columns × `group` inputs.
enum Packed {
    Bytes(Vec<i8>),
    Words(Vec<i16>),
}

/// A dense layer's weights in int8, ready for [`linear`].
pub(crate) struct QuantLinear {
    kernel: Int8Kernel,
    k: usize,
    n: usize,
    /// `k` rounded up to the kernel's group.
    k_pad: usize,
    /// Per output column: the weight scale.
    scales: Vec<f32>,
    /// Per output column (padded to the block): where each integer sum starts — −128 · Σ w for the VNNI
    /// kernel (removing its +128 activation shift), 0 otherwise.
    starts: Vec<i32>,
    packed: Packed,
}

/// `v` rounded to the nearest integer (ties to even) as i8, for |v| ≤ 127.5: adding 1.5·2^23 rounds in
/// the FPU's own mode and leaves the integer in the sum's low mantissa bits, read out with integer
/// arithmetic — no float → int cast, which Rust saturates and the compiler then keeps scalar (a
/// min/max/convert/insert per value; `f32::round` is a libm call per value on baseline x86-64).
#[inline(always)]
fn round_i8(v: f32) -> i8 {
    const ROUND: f32 = 12_582_912.0;
    (v + ROUND).to_bits().wrapping_sub(ROUND.to_bits()) as i8
}

/// Symmetric int8 of `values` with one scale: `q = round(v / scale)`, scale = max |v| / 127; written
/// through `store` into `out` (left as it is when every value is 0, or any is not finite).
#[inline(always)]
fn quantize_into<T>(values: &[f32], out: &mut [T], store: impl Fn(i8) -> T) -> f32 {
    let max = max_abs(values);
    if max == 0.0 || !max.is_finite() {
        return 0.0;
    }
    let inv = 127.0 / max;
    for (q, &v) in out.iter_mut().zip(values) {
        *q = store(round_i8(v * inv));
    }
    max / 127.0
}

/// The largest |v| (NaN if any value is NaN, so the caller skips the row). 64 independent
/// running maxima, compared with `>` rather than f32::max: a single running maximum is a loop-carried
/// chain and f32::max's NaN rules both keep the loop scalar (it was 4 % of an int8 passage pass).
#[inline(always)]
fn max_abs(values: &[f32]) -> f32 {
    const LANES: usize = 64;
    let mut acc = [0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            let v = v.abs();
            // A NaN is taken too, so it reaches the caller's finiteness check.
            *a = if v > *a || v.is_nan() { v } else { *a };
        }
    }
    let mut max = 0f32;
    for &v in acc.iter().chain(tail) {
        let v = v.abs();
        max = if v > max || v.is_nan() { v } else { max };
    }
    max
}

impl QuantLinear {
    /// Quantises `w_t`, the `k × n` row-major transposed weight (`y = x · w_t`), for `kernel`.
    pub(crate) fn new(w_t: &[f32], k: usize, n: usize, kernel: Int8Kernel) -> Self {
        let (lanes, group) = (kernel.lanes(), kernel.group());
        let k_pad = k.next_multiple_of(group);
        let n_pad = n.next_multiple_of(lanes);
        let mut scales = vec![0f32; n];
        let mut columns = vec![0i8; n * k];
        let mut column_f32 = vec![0f32; k];
        for (c, (scale, column)) in scales
            .iter_mut()
            .zip(columns.chunks_exact_mut(k))
            .enumerate()
        {
            for (r, v) in column_f32.iter_mut().enumerate() {
                *v = w_t[r * n + c];
            }
            *scale = quantize_into(&column_f32, column, |q| q);
        }
        let mut starts = vec![0i32; n_pad];
        if kernel == Int8Kernel::Avx512Vnni {
            for (start, column) in starts.iter_mut().zip(columns.chunks_exact(k)) {
                *start = -128 * column.iter().map(|&q| i32::from(q)).sum::<i32>();
            }
        }
        // Column c, input r → block c / lanes, group r / group, lane c % lanes, slot r % group; the
        // padding past n columns and k inputs stays 0.
        let groups = k_pad / group;
        let mut bytes = vec![0i8; n_pad * k_pad];
        for (c, column) in columns.chunks_exact(k).enumerate() {
            let (block, lane) = (c / lanes, c % lanes);
            for (r, &q) in column.iter().enumerate() {
                bytes[((block * groups + r / group) * lanes + lane) * group + r % group] = q;
            }
        }
        let packed = match kernel {
            Int8Kernel::Avx2 => Packed::Words(bytes.into_iter().map(i16::from).collect()),
            _ => Packed::Bytes(bytes),
        };
        Self {
            kernel,
            k,
            n,
            k_pad,
            scales,
            starts,
            packed,
        }
    }

    /// `out (rows × n) += x (rows × k) · W`, the activations quantised per row here; the output split
    /// over the pool's workers when the product is big enough (as the f32 path does).
    fn accumulate(&self, x: &[f32], out: &mut [f32], rows: usize) -> candle_core::Result<()> {
        let (k, n) = (self.k, self.n);
        if x.len() != rows * k || out.len() != rows * n {
            bail!("int8 linear: buffers do not match {rows}x{k} · {k}x{n}");
        }
        let quantize = |r: Range<usize>| {
            Activations::quantize(
                &x[r.start * k..r.end * k],
                r.len(),
                k,
                self.k_pad,
                self.kernel,
            )
        };
        // A part with every column (the whole product, or a slice of rows of a tall one) quantises its
        // own rows — row parts in parallel, nothing done twice; column parts all need every row, so the
        // first to run quantises them for all.
        let shared = OnceLock::new();
        // Column parts are whole 64-column groups: the kernels' widest register tile.
        accumulate_in_place(
            out,
            n,
            rows * k * n / SPLIT_DISCOUNT,
            (64, 64),
            |part_rows, cols, target| {
                if cols.len() == n {
                    self.gemm(&quantize(part_rows), cols, target);
                } else {
                    self.gemm(shared.get_or_init(|| quantize(0..rows)), cols, target);
                }
            },
        );
        Ok(())
    }

    /// `out (rows × cols.len()) += acts · W[:, cols]`; `cols` starts on a block boundary.
    fn gemm(&self, acts: &Activations, cols: Range<usize>, out: Target) {
        match (&self.packed, &acts.values) {
            #[cfg(target_arch = "x86_64")]
            (Packed::Bytes(w), Values::Bytes(a)) if self.kernel == Int8Kernel::Avx512Vnni => {
                // SAFETY: this kernel was picked only after avx512f and avx512vnni were detected; the
                // sizes it relies on are checked by `check_sizes` inside.
                unsafe { vnni::gemm(self, w, a, &acts.scales, cols, out) }
            }
            #[cfg(target_arch = "x86_64")]
            (Packed::Words(w), Values::Words(a)) => {
                // SAFETY: as above, for avx2 and fma.
                unsafe { avx2::gemm(self, w, a, &acts.scales, cols, out) }
            }
            (Packed::Bytes(w), Values::Bytes(a)) => portable(self, w, a, &acts.scales, cols, out),
            _ => unreachable!("activations are quantised for the weights' kernel"),
        }
    }

    /// Checks what every kernel indexes (panics otherwise, before any read): `a` holds `rows × k_pad`,
    /// `out` `rows` rows of `cols.len()` values, the packed weights cover `cols` (rounded up to the block) and `cols`
    /// starts on a block.
    fn check_sizes(
        &self,
        w_len: usize,
        a_len: usize,
        rows: usize,
        cols: &Range<usize>,
        out: &Target,
    ) {
        let lanes = self.kernel.lanes();
        assert!(cols.start.is_multiple_of(lanes) && cols.end <= self.n && cols.start < cols.end);
        out.check(rows, cols.len());
        assert_eq!(a_len, rows * self.k_pad);
        assert!(w_len >= cols.end.next_multiple_of(lanes) * self.k_pad);
        assert!(self.starts.len() >= cols.end.next_multiple_of(lanes));
    }
}

impl PackedWeights for QuantLinear {
    fn dims(&self) -> (usize, usize) {
        (self.k, self.n)
    }

    fn accumulate(&self, x: &[f32], out: &mut [f32], rows: usize) -> candle_core::Result<()> {
        QuantLinear::accumulate(self, x, out, rows)
    }
}

/// One call's activations, quantised per row.
struct Activations {
    values: Values,
    scales: Vec<f32>,
}

enum Values {
    /// For the VNNI kernel: q + 128 as u8; for the portable one: q's bits.
    Bytes(Vec<u8>),
    /// For the AVX2 kernel: q as i16.
    Words(Vec<i16>),
}

impl Activations {
    fn quantize(x: &[f32], rows: usize, k: usize, k_pad: usize, kernel: Int8Kernel) -> Self {
        /// Each row quantised straight into the kernel's form; `pad` is q = 0 in that form.
        fn rows_as<T: Copy>(
            x: &[f32],
            (rows, k, k_pad): (usize, usize, usize),
            pad: T,
            store: impl Fn(i8) -> T + Copy,
        ) -> (Vec<T>, Vec<f32>) {
            let mut out = vec![pad; rows * k_pad];
            let scales = crate::simd::widest(
                #[inline(always)]
                || {
                    // A `for` loop, not `map(…).collect()`: the collect's fold need not be inlined,
                    // and only what is inlined here is compiled for the wider vector unit.
                    let mut scales = Vec::with_capacity(rows);
                    for (row, dst) in x.chunks_exact(k).zip(out.chunks_exact_mut(k_pad)) {
                        scales.push(quantize_into(row, &mut dst[..k], store));
                    }
                    scales
                },
            );
            (out, scales)
        }
        let dims = (rows, k, k_pad);
        let (values, scales) = match kernel {
            // q + 128 = q's bits with the sign bit flipped.
            Int8Kernel::Avx512Vnni => {
                let (v, s) = rows_as(x, dims, 0x80u8, |q| (q as u8) ^ 0x80);
                (Values::Bytes(v), s)
            }
            Int8Kernel::Avx2 => {
                let (v, s) = rows_as(x, dims, 0i16, i16::from);
                (Values::Words(v), s)
            }
            Int8Kernel::Portable => {
                let (v, s) = rows_as(x, dims, 0u8, |q| q as u8);
                (Values::Bytes(v), s)
            }
        };
        Self { values, scales }
    }
}

/// The reference kernel: plain integer dot products.
fn portable(
    w: &QuantLinear,
    packed: &[i8],
    a: &[u8],
    row_scales: &[f32],
    cols: Range<usize>,
    target: Target,
) {
    w.check_sizes(packed.len(), a.len(), row_scales.len(), &cols, &target);
    let (k_pad, width) = (w.k_pad, cols.len());
    for r in 0..row_scales.len() {
        // SAFETY: r < rows and width values: what check_sizes checked; this part's own columns.
        let out = unsafe { target.values(r, 0, width) };
        let row = &a[r * k_pad..(r + 1) * k_pad];
        for (o, c) in out.iter_mut().zip(cols.clone()) {
            // Portable packing is one column per block: the column's inputs are contiguous.
            let column = &packed[c * k_pad..(c + 1) * k_pad];
            let dot: i32 = row
                .iter()
                .zip(column)
                .map(|(&x, &y)| i32::from(x as i8) * i32::from(y))
                .sum();
            *o += dot as f32 * (row_scales[r] * w.scales[c]);
        }
    }
}

/// The integer loop both SIMD tiles share: for each group of inputs, one weight vector per column block
/// and one broadcast 32-bit activation word per row, combined into the `$acc[row][block]` accumulators
/// by `$step(accumulator, activations, weights)`.
macro_rules! accumulate {
    ($acc:ident, $w:expr, ($packed:expr, $a:expr), ($r0:expr, $b0:expr), $group:literal, $lanes:literal,
     $zero:ident, $load:ident, $set1:ident, $step:expr) => {{
        let groups = $w.k_pad / $group;
        let (wp, ap) = ($packed.as_ptr(), $a.as_ptr());
        for g in 0..groups {
            let mut wv = [$zero(); B];
            for (j, v) in wv.iter_mut().enumerate() {
                // SAFETY: block b0 + j, group g: one vector inside the packed weights (check_sizes).
                *v = unsafe { $load(wp.add((($b0 + j) * groups + g) * $lanes * $group).cast()) };
            }
            for (i, row) in $acc.iter_mut().enumerate() {
                // SAFETY: row r0 + i < rows, group g: one 32-bit word inside the activations
                // (check_sizes).
                let word = unsafe {
                    ap.add(($r0 + i) * $w.k_pad + g * $group)
                        .cast::<i32>()
                        .read_unaligned()
                };
                let av = $set1(word);
                for (lane, wv) in row.iter_mut().zip(&wv) {
                    *lane = $step(*lane, av, *wv);
                }
            }
        }
    }};
}

/// The driver both SIMD modules share: checks the sizes once, then runs the module's `tile` over every
/// register tile of `out`. `$features` are the CPU features the module's kernels are compiled for,
/// `$lanes` the columns per block, `$w`/`$a` the packed weights' and activations' element types.
macro_rules! simd_gemm {
    ($features:literal, $lanes:literal, $w:ty, $a:ty) => {
        /// # Safety
        /// The CPU must have the features named in `target_feature`. Sizes are checked here before any
        /// pointer is read.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn gemm(
            w: &QuantLinear,
            packed: &[$w],
            a: &[$a],
            row_scales: &[f32],
            cols: Range<usize>,
            out: Target,
        ) {
            w.check_sizes(packed.len(), a.len(), row_scales.len(), &cols, &out);
            let first = cols.start / $lanes;
            let blocks = cols.len().div_ceil($lanes);
            for_each_tile((row_scales.len(), blocks), TILE, |r, mr, b, nb| {
                // SAFETY: rows r..r+mr and blocks first+b..first+b+nb lie inside what check_sizes
                // verified; the CPU features are this function's own contract.
                unsafe {
                    dispatch_tile!(
                        tile,
                        mr,
                        nb,
                        (w, packed, a, row_scales, &cols, out, r, first + b)
                    )
                }
            });
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::QuantLinear;
    use crate::tiles::{dispatch_tile, for_each_tile, Target};
    use std::arch::x86_64::*;
    use std::ops::Range;

    /// 6 rows × 4 blocks of 16 columns = 24 accumulators of the 32 zmm registers.
    const TILE: (usize, usize) = (6, 4);

    simd_gemm!("avx512f,avx512vnni", 16, i8, u8);

    /// `R` rows × `B` blocks of 16 columns, starting at row `r0` and (absolute) block `b0`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn tile<const R: usize, const B: usize>(
        w: &QuantLinear,
        packed: &[i8],
        a: &[u8],
        row_scales: &[f32],
        cols: &Range<usize>,
        out: Target,
        r0: usize,
        b0: usize,
    ) {
        let width = cols.len();
        // Each sum starts at −128 · Σ w, taking back the +128 the activations carry.
        let mut acc = [[_mm512_setzero_si512(); B]; R];
        for (j, lane) in acc.iter_mut().flat_map(|row| row.iter_mut().enumerate()) {
            // SAFETY: starts covers every block of cols (check_sizes).
            *lane = unsafe { _mm512_loadu_si512(w.starts.as_ptr().add((b0 + j) * 16).cast()) };
        }
        accumulate!(
            acc,
            w,
            (packed, a),
            (r0, b0),
            4,
            16,
            _mm512_setzero_si512,
            _mm512_loadu_si512,
            _mm512_set1_epi32,
            |acc, av, wv| _mm512_dpbusd_epi32(acc, av, wv)
        );
        let col0 = b0 * 16 - cols.start;
        for (i, row) in acc.iter().enumerate() {
            let scale = _mm512_set1_ps(row_scales[r0 + i]);
            for (j, lane) in row.iter().enumerate() {
                let c = col0 + j * 16;
                let valid = (width - c).min(16);
                let mask: __mmask16 = if valid == 16 { !0 } else { (1u16 << valid) - 1 };
                // SAFETY: c + valid ≤ width: the masked lanes stay inside this row of the part's
                // columns (check_sizes) and inside scales (column cols.start + c + valid ≤ n).
                unsafe {
                    let out = out.values(r0 + i, c, valid).as_mut_ptr();
                    let ws = _mm512_maskz_loadu_ps(mask, w.scales.as_ptr().add(cols.start + c));
                    let sum = _mm512_cvtepi32_ps(*lane);
                    let prev = _mm512_maskz_loadu_ps(mask, out);
                    let y = _mm512_fmadd_ps(sum, _mm512_mul_ps(ws, scale), prev);
                    _mm512_mask_storeu_ps(out, mask, y);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::QuantLinear;
    use crate::tiles::{dispatch_tile, for_each_tile, Target};
    use std::arch::x86_64::*;
    use std::ops::Range;

    /// 4 rows × 2 blocks of 8 columns = 8 accumulators of the 16 ymm registers.
    const TILE: (usize, usize) = (4, 2);

    simd_gemm!("avx2,fma", 8, i16, i16);

    /// `R` rows × `B` blocks of 8 columns, starting at row `r0` and (absolute) block `b0`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const R: usize, const B: usize>(
        w: &QuantLinear,
        packed: &[i16],
        a: &[i16],
        row_scales: &[f32],
        cols: &Range<usize>,
        out: Target,
        r0: usize,
        b0: usize,
    ) {
        let width = cols.len();
        let mut acc = [[_mm256_setzero_si256(); B]; R];
        accumulate!(
            acc,
            w,
            (packed, a),
            (r0, b0),
            2,
            8,
            _mm256_setzero_si256,
            _mm256_loadu_si256,
            _mm256_set1_epi32,
            |acc, av, wv| _mm256_add_epi32(acc, _mm256_madd_epi16(av, wv))
        );
        let col0 = b0 * 8 - cols.start;
        for (i, row) in acc.iter().enumerate() {
            let scale = row_scales[r0 + i];
            for (j, lane) in row.iter().enumerate() {
                let c = col0 + j * 8;
                let valid = (width - c).min(8);
                // SAFETY: row r0 + i < rows, c + valid ≤ width (check_sizes); this part's own columns.
                let out = unsafe { out.values(r0 + i, c, valid) };
                let scales = &w.scales[cols.start + c..][..valid];
                if valid == 8 {
                    // SAFETY: 8 f32 inside out and scales (slices of exactly 8).
                    unsafe {
                        let y = _mm256_fmadd_ps(
                            _mm256_cvtepi32_ps(*lane),
                            _mm256_mul_ps(_mm256_loadu_ps(scales.as_ptr()), _mm256_set1_ps(scale)),
                            _mm256_loadu_ps(out.as_ptr()),
                        );
                        _mm256_storeu_ps(out.as_mut_ptr(), y);
                    }
                } else {
                    let mut sums = [0i32; 8];
                    // SAFETY: an 8-lane store into a local array.
                    unsafe { _mm256_storeu_si256(sums.as_mut_ptr().cast(), *lane) };
                    for ((o, &sum), &ws) in out.iter_mut().zip(&sums).zip(scales) {
                        *o += sum as f32 * (ws * scale);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        crate::kernels::test_values(len, seed, true)
    }

    fn run(kernel: Int8Kernel, x: &[f32], w: &[f32], (m, k, n): (usize, usize, usize)) -> Vec<f32> {
        let q = QuantLinear::new(w, k, n, kernel);
        let mut out = vec![0.5f32; m * n];
        // Two workers, so a big enough product is split (200 rows × 1536 × 384: by columns, in place).
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| q.accumulate(x, &mut out, m)).unwrap();
        out
    }

    #[test]
    fn every_kernel_gives_the_portable_integers_and_stays_close_to_f32() {
        // Odd sizes: edges in every direction (rows, 16/8-column blocks, 4/2-input groups).
        for &(m, k, n) in &[
            (1, 384, 1152),
            (7, 37, 41),
            (13, 385, 200),
            (2, 3, 5),
            (200, 1536, 384),
        ] {
            let (x, w) = (values(m * k, 1), values(k * n, 2));
            let reference = run(Int8Kernel::Portable, &x, &w, (m, k, n));
            let exact: Vec<f32> = (0..m * n)
                .map(|i| {
                    let (r, c) = (i / n, i % n);
                    0.5 + (0..k).map(|j| x[r * k + j] * w[j * n + c]).sum::<f32>()
                })
                .collect();
            let err = reference
                .iter()
                .zip(&exact)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            let size = exact.iter().map(|v| v.abs()).fold(0f32, f32::max);
            assert!(
                err < 0.05 * size,
                "{m}x{k}x{n}: int8 error {err} against values up to {size}"
            );
            let kernel = Int8Kernel::detect();
            if kernel != Int8Kernel::Portable {
                let fast = run(kernel, &x, &w, (m, k, n));
                for (a, b) in fast.iter().zip(&reference) {
                    // Same integers; only the final f32 multiply-add may round differently.
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "{kernel}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn zero_rows_and_columns_stay_exact() {
        let (m, k, n) = (3, 8, 16);
        let mut x = values(m * k, 3);
        x[k..2 * k].fill(0.0);
        let mut w = values(k * n, 4);
        for r in 0..k {
            w[r * n + 5] = 0.0;
        }
        for kernel in Int8Kernel::available() {
            let out = run(kernel, &x, &w, (m, k, n));
            assert!(out[n..2 * n].iter().all(|&v| v == 0.5), "{kernel}");
            assert!((0..m).all(|r| out[r * n + 5] == 0.5), "{kernel}");
        }
    }

    #[test]
    fn precision_parses_and_prints() {
        assert_eq!("INT8".parse::<Precision>(), Ok(Precision::Int8));
        assert_eq!("fp32".parse::<Precision>(), Ok(Precision::Fp32));
        assert!("bf16"
            .parse::<Precision>()
            .unwrap_err()
            .contains("fp32 or int8"));
        assert_eq!(Precision::Int8.to_string(), "int8");
    }
}
