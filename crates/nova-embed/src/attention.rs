//! Self-attention straight from the fused Q/K/V projection.
//!
//! Why not the generic path (permute Q, K and V into per-head tensors, one batched product for every
//! score, a softmax pass, a second batched product, a transpose back): it copied Q, K, V and the
//! context once each, and wrote the `(batch, heads, len, len)` scores to memory and read them back twice
//! — 100 MB per layer for 32 passages of 256 tokens, more memory traffic than arithmetic (with the page
//! faults of fresh 100 MB buffers, ~15 % of an int8 passage pass). Here each head is multiplied where it
//! lies in the Q/K/V output (strided views into OpenBLAS), one sequence's scores for one head
//! (`len × len`, 256 KB at 256 tokens) stay in cache from the first product through the softmax to the
//! second, and each head's context is written straight into its columns of the output.
//!
//! Batches are packed: the sequences' tokens one after another, no padding, so no mask — each sequence
//! attends within its own rows.

use candle_core::Tensor;

/// Multi-head attention over a packed batch. `qkv` is `(tokens, 3 · hidden)`: each token's queries
/// (already scaled by 1/√head_dim), keys and values, heads side by side; `lens` are the sequences'
/// lengths, their tokens consecutive rows. Returns the context `(tokens, hidden)`.
pub(crate) fn attention(qkv: &Tensor, lens: &[usize], heads: usize) -> candle_core::Result<Tensor> {
    #[cfg(feature = "openblas")]
    {
        qkv.contiguous()?.apply_op1_no_bwd(&fused::FusedAttention {
            heads,
            lens: lens.to_vec(),
        })
    }
    #[cfg(not(feature = "openblas"))]
    {
        generic(qkv, lens, heads)
    }
}

/// The same with candle's own ops, one sequence at a time (the build without OpenBLAS, and the
/// reference the fused op is tested against).
#[cfg(any(test, not(feature = "openblas")))]
fn generic(qkv: &Tensor, lens: &[usize], heads: usize) -> candle_core::Result<Tensor> {
    let h = qkv.dim(1)? / 3;
    let mut parts = Vec::with_capacity(lens.len());
    let mut start = 0;
    for &len in lens.iter().filter(|&&len| len > 0) {
        let seq = qkv
            .narrow(0, start, len)?
            .reshape((len, 3, heads, h / heads))?
            .permute((1, 2, 0, 3))?;
        start += len;
        let q = seq.get(0)?.contiguous()?;
        let k_t = seq.get(1)?.transpose(1, 2)?.contiguous()?;
        let v = seq.get(2)?.contiguous()?;
        let probs = candle_nn::ops::softmax_last_dim(&q.matmul(&k_t)?)?;
        parts.push(probs.matmul(&v)?.transpose(0, 1)?.reshape((len, h))?);
    }
    Tensor::cat(&parts, 0)
}

#[cfg(feature = "openblas")]
mod fused {
    use crate::blas::{gemm_views, View};
    use crate::kernels::{contiguous, softmax_row};
    use crate::threads::parts_for;
    use candle_core::{bail, CpuStorage, CustomOp1, Layout, Shape};
    use rayon::prelude::*;

    pub(super) struct FusedAttention {
        pub heads: usize,
        /// The packed sequences' lengths.
        pub lens: Vec<usize>,
    }

    /// Where one sequence lies: its first row in the Q/K/V output and its length.
    #[derive(Clone, Copy)]
    struct Sequence {
        first_row: usize,
        len: usize,
    }

    /// The shapes every head shares.
    #[derive(Clone, Copy)]
    struct Dims {
        hidden: usize,
        head_dim: usize,
    }

    impl Dims {
        /// Head `head`'s `part` (0 = queries, 1 = keys, 2 = values) of `seq` in the Q/K/V output.
        fn view(self, seq: Sequence, part: usize, head: usize) -> View {
            View {
                offset: seq.first_row * 3 * self.hidden + part * self.hidden + head * self.head_dim,
                rows: seq.len,
                cols: self.head_dim,
                ld: 3 * self.hidden,
            }
        }
    }

    /// One head of one sequence: scores = Q·Kᵀ into `scores`, the softmax in place, then
    /// scores·V into `out`'s view.
    fn head(
        qkv: &[f32],
        (dims, seq, head): (Dims, Sequence, usize),
        scores: &mut [f32],
        (out, out_view): (&mut [f32], View),
    ) -> candle_core::Result<()> {
        if seq.len == 0 {
            return Ok(());
        }
        let square = View::dense(seq.len, seq.len);
        gemm_views(
            (qkv, dims.view(seq, 0, head)),
            (qkv, dims.view(seq, 1, head), true),
            (scores, square),
            0.0,
        )?;
        crate::simd::widest(
            #[inline(always)]
            || {
                // A `for` loop: `for_each` need not be inlined here, and only what is gets compiled
                // for the wider vector unit.
                for row in scores.chunks_exact_mut(seq.len) {
                    softmax_row(row);
                }
            },
        );
        gemm_views(
            (scores, square),
            (qkv, dims.view(seq, 2, head), false),
            (out, out_view),
            0.0,
        )
    }

    impl CustomOp1 for FusedAttention {
        fn name(&self) -> &'static str {
            "fused-attention"
        }

        fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
            let qkv = contiguous(s, l)?;
            let &[rows, width] = l.dims() else {
                bail!("attention needs qkv (tokens, 3·hidden)");
            };
            let heads = self.heads.max(1);
            if rows != self.lens.iter().sum::<usize>() || width % 3 != 0 || (width / 3) % heads != 0
            {
                bail!(
                    "attention: qkv {:?} does not match sequences of {:?} tokens and {heads} heads",
                    l.dims(),
                    self.lens
                );
            }
            let dims = Dims {
                hidden: width / 3,
                head_dim: width / 3 / heads,
            };
            let h = dims.hidden;
            let mut ctx = vec![0f32; rows * h];
            // Each sequence with its slice of the output (its rows), cut in order.
            let mut pieces = Vec::with_capacity(self.lens.len());
            let (mut rest, mut first_row) = (ctx.as_mut_slice(), 0);
            for &len in &self.lens {
                let (piece, tail) = rest.split_at_mut(len * h);
                pieces.push((Sequence { first_row, len }, piece));
                (rest, first_row) = (tail, first_row + len);
            }
            let macs: usize = self.lens.iter().map(|&n| 2 * n * n * h).sum();
            let parts = parts_for(macs);
            if self.lens.len() >= parts {
                // One task per sequence, its heads one after another on one scores buffer.
                let per_task = self.lens.len().div_ceil(parts);
                pieces
                    .into_par_iter()
                    .with_min_len(per_task)
                    .try_for_each(|(seq, out)| {
                        let mut scores = vec![0f32; seq.len * seq.len];
                        (0..heads).try_for_each(|hd| {
                            let view = View {
                                offset: hd * dims.head_dim,
                                rows: seq.len,
                                cols: dims.head_dim,
                                ld: h,
                            };
                            head(qkv, (dims, seq, hd), &mut scores, (out, view))
                        })
                    })?;
            } else {
                // Fewer sequences than workers (one long query): its heads in parallel, each into a
                // buffer of its own, copied into its columns after.
                for (seq, out) in pieces {
                    let results: Vec<candle_core::Result<Vec<f32>>> = (0..heads)
                        .into_par_iter()
                        .map(|hd| {
                            let mut scores = vec![0f32; seq.len * seq.len];
                            let mut piece = vec![0f32; seq.len * dims.head_dim];
                            let view = View::dense(seq.len, dims.head_dim);
                            head(qkv, (dims, seq, hd), &mut scores, (&mut piece, view))?;
                            Ok(piece)
                        })
                        .collect();
                    for (hd, piece) in results.into_iter().enumerate() {
                        let piece = piece?;
                        let columns = hd * dims.head_dim..(hd + 1) * dims.head_dim;
                        for (row, src) in out
                            .chunks_exact_mut(h)
                            .zip(piece.chunks_exact(dims.head_dim))
                        {
                            row[columns.clone()].copy_from_slice(src);
                        }
                    }
                }
            }
            Ok((CpuStorage::F32(ctx), Shape::from((rows, h))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::max_diff;
    use candle_core::Device;

    #[test]
    fn fused_attention_equals_candles_per_sequence() {
        let dev = Device::Cpu;
        let (heads, hd) = (4, 8);
        let lens = [37, 20, 1, 0, 33];
        let rows: usize = lens.iter().sum();
        let qkv = Tensor::randn(0f32, 1.0, (rows, 3 * heads * hd), &dev).unwrap();
        let ours = attention(&qkv, &lens, heads).unwrap();
        let diff = max_diff(&ours, &generic(&qkv, &lens, heads).unwrap());
        assert!(diff < 1e-4, "max difference {diff}");
        // A lone sequence long enough to be split over heads in a 2-worker pool (the other layout).
        let (heads, hd, len) = (12, 32, 160);
        const { assert!(2 * 160 * 160 * 384 >= crate::threads::SPLIT_MIN_MACS) };
        let qkv = Tensor::randn(0f32, 1.0, (len, 3 * heads * hd), &dev).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let ours = pool.install(|| attention(&qkv, &[len], heads).unwrap());
        let diff = max_diff(&ours, &generic(&qkv, &[len], heads).unwrap());
        assert!(diff < 1e-4, "max difference {diff}");
    }
}
