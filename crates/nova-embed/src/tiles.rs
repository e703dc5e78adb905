//! What the dense layers with weights packed at load share — the int8 layers ([`crate::int8`]) and the
//! f32 layers for few rows ([`crate::packed_f32`]): the walk over register tiles, the dispatch to a
//! tile function compiled for each edge size, and the candle op that runs `x · W + bias (+ residual)`.

use crate::kernels::{contiguous, fused_output, output_shape};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

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
