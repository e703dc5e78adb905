//! What the dense layers with weights packed at load share — the int8 layers ([`crate::int8`]) and the
//! f32 layers for few rows ([`crate::packed_f32`]): the walk over register tiles, the dispatch to a
//! tile function compiled for each edge size, where a kernel writes ([`Target`]) and how the output is
//! split over the cores with no copies ([`accumulate_in_place`]), and the candle op that runs
//! `x · W + bias (+ residual)`.
//!
//! `unsafe` here: `Target` is a raw place to write, shared by the parts of a column split (each writes
//! only its own columns).

#![allow(unsafe_code)]

use crate::kernels::{contiguous, fused_output, output_shape};
use crate::threads::{column_parts, split_output};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;
use std::ops::Range;

/// Where a kernel adds its product: row `r`, column `c` of its columns at `base + r·ld + c`, inside
/// `len` values from `base`. The parts of a column split write their own columns of the shared output
/// in place: their values are disjoint, and each part makes `&mut` slices of its own values only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    base: *mut f32,
    len: usize,
    ld: usize,
}

// SAFETY: a `Target` is only a place to write; the parts that share one write disjoint columns
// (`accumulate_in_place`), and the output outlives the parallel section that uses it.
unsafe impl Send for Target {}
// SAFETY: as above.
unsafe impl Sync for Target {}

impl Target {
    /// All of `piece`, `ld` values per row.
    fn of(piece: &mut [f32], ld: usize) -> Self {
        Self {
            base: piece.as_mut_ptr(),
            len: piece.len(),
            ld,
        }
    }

    /// The same rows from column `c` on (`c` < `ld` ≤ `len`).
    fn columns_from(self, c: usize) -> Self {
        assert!(c < self.ld && self.ld <= self.len);
        Self {
            // SAFETY: c < len: inside the values this target covers.
            base: unsafe { self.base.add(c) },
            len: self.len - c,
            ld: self.ld,
        }
    }

    /// Panics unless `rows` rows of `width` values fit (what a kernel checks before it writes).
    pub(crate) fn check(&self, rows: usize, width: usize) {
        assert!(self.ld >= width);
        assert!(rows == 0 || (rows - 1) * self.ld + width <= self.len);
    }

    /// `count` values of row `r` from column `c`.
    ///
    /// # Safety
    /// `check(rows, width)` passed with `r < rows` and `c + count ≤ width`, and no other `&mut` to these
    /// values is alive (the caller's part owns its columns).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn values<'a>(self, r: usize, c: usize, count: usize) -> &'a mut [f32] {
        // SAFETY: inside the checked rows and width (the caller's contract), so within `len` values.
        unsafe { std::slice::from_raw_parts_mut(self.base.add(r * self.ld + c), count) }
    }
}

/// Runs `part(rows, columns, target)` over parts of the row-major output `out` (`n` columns), spread
/// over the pool's workers as [`split_output`] spreads them — but a few rows' column parts write into
/// `out` where their columns are, instead of into copies taken out and put back (a tenth of a lone
/// query's pass). `target` holds the part's rows of its columns, `n` values apart.
pub(crate) fn accumulate_in_place(
    out: &mut [f32],
    n: usize,
    macs: usize,
    (min_width, align): (usize, usize),
    part: impl Fn(Range<usize>, Range<usize>, Target) + Sync,
) {
    let rows = out.len().checked_div(n).unwrap_or(0);
    let Some(columns) = column_parts(rows, n, macs, (min_width, align)) else {
        // One part, or a tall output split by rows: every part has all the columns, in place.
        let _ = split_output(
            out,
            n,
            macs,
            (min_width, align),
            |part_rows, cols, piece| {
                part(part_rows, cols, Target::of(piece, n));
                Ok::<(), ()>(())
            },
        );
        return;
    };
    let whole = Target::of(out, n);
    columns
        .into_par_iter()
        .for_each(|cols| part(0..rows, cols.clone(), whole.columns_from(cols.start)));
}

/// Walks a `rows × blocks` output in register tiles of at most `mr` rows by `nb` column blocks.
pub(crate) fn for_each_tile(
    (rows, blocks): (usize, usize),
    (mr, nb): (usize, usize),
    mut tile: impl FnMut(usize, usize, usize, usize),
) {
    for b in (0..blocks).step_by(nb) {
        for r in (0..rows).step_by(mr) {
            tile(r, (rows - r).min(mr), b, (blocks - b).min(nb));
        }
    }
}

/// Calls `$tile::<R, B>($args…)` for the runtime tile size `($mr, $nb)` — R in 1..=6, B in 1..=4 — so
/// every edge tile runs a loop with its accumulators in registers.
macro_rules! dispatch_tile {
    ($tile:ident, $mr:expr, $nb:expr, ($($arg:expr),*)) => {{
        macro_rules! blocks {
            ($m:literal) => {
                match $nb {
                    1 => $tile::<$m, 1>($($arg),*),
                    2 => $tile::<$m, 2>($($arg),*),
                    3 => $tile::<$m, 3>($($arg),*),
                    _ => $tile::<$m, 4>($($arg),*),
                }
            };
        }
        match $mr {
            1 => blocks!(1),
            2 => blocks!(2),
            3 => blocks!(3),
            4 => blocks!(4),
            5 => blocks!(5),
            _ => blocks!(6),
        }
    }};
}
pub(crate) use dispatch_tile;

/// A dense layer's weights in a packed form: `out (rows × n) += x (rows × k) · W`.
pub(crate) trait PackedWeights: Sync {
    /// Inputs and outputs.
    fn dims(&self) -> (usize, usize);
    /// Adds `x · W` to `out`, which holds the bias (and the residual) already.
    fn accumulate(&self, x: &[f32], out: &mut [f32], rows: usize) -> candle_core::Result<()>;
}

/// `x · W + bias (+ residual)` as a candle op over packed weights.
struct PackedLinear<'a> {
    weights: &'a dyn PackedWeights,
    bias: &'a [f32],
}

impl PackedLinear<'_> {
    fn run(
        &self,
        (sx, lx): (&CpuStorage, &Layout),
        residual: Option<&[f32]>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(sx, lx)?;
        let (k, n) = self.weights.dims();
        if lx.dims().last() != Some(&k) {
            bail!("linear: input {:?} does not match {k} inputs", lx.dims());
        }
        let rows = x.len() / k.max(1);
        let mut out = fused_output(self.bias, residual, rows, n)?;
        self.weights.accumulate(x, &mut out, rows)?;
        Ok((CpuStorage::F32(out), output_shape(lx, n)))
    }
}

impl CustomOp1 for PackedLinear<'_> {
    fn name(&self) -> &'static str {
        "packed-linear"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        self.run((s, l), None)
    }
}

impl CustomOp2 for PackedLinear<'_> {
    fn name(&self) -> &'static str {
        "packed-linear-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.run((s1, l1), Some(contiguous(s2, l2)?))
    }
}

/// `x · W + bias`, plus `residual` when given, with `W` packed.
pub(crate) fn linear(
    x: &Tensor,
    weights: &dyn PackedWeights,
    bias: &[f32],
    residual: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let op = PackedLinear { weights, bias };
    match residual {
        Some(r) => x.apply_op2_no_bwd(r, &op),
        None => x.apply_op1_no_bwd(&op),
    }
}
