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
//! Padding is skipped: only a sequence's own tokens are multiplied. Its padded rows of the output stay 0
//! — no real token attends to them (their keys are masked) and pooling ignores them.

use candle_core::Tensor;

/// Multi-head attention. `qkv` is `(batch · len, 3 · hidden)`: each token's queries (already scaled by
/// 1/√head_dim), keys and values, heads side by side; `mask` is `(batch, len)`, 1 for a token and 0 for
/// padding at the end. Returns the context `(batch · len, hidden)`.
pub(crate) fn attention(qkv: &Tensor, mask: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    #[cfg(feature = "openblas")]
    {
        qkv.contiguous()?
            .apply_op2_no_bwd(&mask.contiguous()?, &fused::FusedAttention { heads })
    }
    #[cfg(not(feature = "openblas"))]
    {
        let (b, l) = mask.dims2()?;
        let h = qkv.dim(1)? / 3;
        let qkv = qkv
            .reshape((b, l, 3, heads, h / heads))?
            .permute((2, 0, 3, 1, 4))?;
        let q = qkv.get(0)?.contiguous()?;
        let k_t = qkv.get(1)?.transpose(2, 3)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let probs = crate::kernels::masked_softmax(&q.matmul(&k_t)?, mask)?;
        probs.matmul(&v)?.transpose(1, 2)?.reshape((b * l, h))
    }
}

#[cfg(feature = "openblas")]
mod fused {
    use crate::blas::{gemm_views, View};
    use crate::kernels::{contiguous, softmax_row};
    use crate::threads::parts_for;
    use candle_core::{bail, CpuStorage, CustomOp2, Layout, Shape};
    use rayon::prelude::*;

    pub(super) struct FusedAttention {
        pub heads: usize,
    }

    /// Where one sequence lies: its first row in the Q/K/V output and its real length.
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
            return Ok(()); // an all-padding row of the batch: its output stays 0
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

    impl CustomOp2 for FusedAttention {
        fn name(&self) -> &'static str {
            "fused-attention"
        }

        fn cpu_fwd(
            &self,
            s1: &CpuStorage,
            l1: &Layout,
            s2: &CpuStorage,
            l2: &Layout,
        ) -> candle_core::Result<(CpuStorage, Shape)> {
            let (qkv, mask) = (contiguous(s1, l1)?, contiguous(s2, l2)?);
            let (&[rows, width], &[b, l]) = (l1.dims(), l2.dims()) else {
                bail!("attention needs qkv (tokens, 3·hidden) and mask (batch, len)");
            };
            let heads = self.heads.max(1);
            if rows != b * l || width % 3 != 0 || (width / 3) % heads != 0 {
                bail!(
                    "attention: qkv {:?} does not match mask {:?} and {heads} heads",
                    l1.dims(),
                    l2.dims()
                );
            }
            let dims = Dims {
                hidden: width / 3,
                head_dim: width / 3 / heads,
            };
            let h = dims.hidden;
            let mut ctx = vec![0f32; rows * h];
            if rows == 0 || h == 0 {
                return Ok((CpuStorage::F32(ctx), Shape::from((rows, h))));
            }
            // A sequence's tokens are its mask's leading run of 1s.
            let sequence = |s: usize| Sequence {
                first_row: s * l,
                len: mask[s * l..(s + 1) * l]
                    .iter()
                    .rposition(|&m| m > 0.0)
                    .map_or(0, |p| p + 1),
            };
            let parts = parts_for(b * 2 * l * l * h);
            if b >= parts {
                // One task per sequence, its heads one after another on one scores buffer.
                ctx.par_chunks_mut(l * h)
                    .enumerate()
                    .with_min_len(b.div_ceil(parts))
                    .try_for_each(|(s, out)| {
                        let seq = sequence(s);
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
                for (s, out) in ctx.chunks_exact_mut(l * h).enumerate() {
                    let seq = sequence(s);
                    let pieces: Vec<candle_core::Result<Vec<f32>>> = (0..heads)
                        .into_par_iter()
                        .map(|hd| {
                            let mut scores = vec![0f32; seq.len * seq.len];
                            let mut piece = vec![0f32; seq.len * dims.head_dim];
                            let view = View::dense(seq.len, dims.head_dim);
                            head(qkv, (dims, seq, hd), &mut scores, (&mut piece, view))?;
                            Ok(piece)
                        })
                        .collect();
                    for (hd, piece) in pieces.into_iter().enumerate() {
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
    use candle_core::Device;

    /// The generic path this module replaces: per-head tensors, batched products, additive mask.
    fn reference(qkv: &Tensor, mask: &Tensor, heads: usize) -> Tensor {
        let (b, l) = mask.dims2().unwrap();
        let h = qkv.dim(1).unwrap() / 3;
        let qkv = qkv
            .reshape((b, l, 3, heads, h / heads))
            .unwrap()
            .permute((2, 0, 3, 1, 4))
            .unwrap();
        let q = qkv.get(0).unwrap().contiguous().unwrap();
        let k_t = qkv
            .get(1)
            .unwrap()
            .transpose(2, 3)
            .unwrap()
            .contiguous()
            .unwrap();
        let v = qkv.get(2).unwrap().contiguous().unwrap();
        let bias = ((mask.clone() - 1.0).unwrap() * 1e9)
            .unwrap()
            .reshape((b, 1, 1, l))
            .unwrap();
        let scores = q.matmul(&k_t).unwrap().broadcast_add(&bias).unwrap();
        let probs = candle_nn::ops::softmax_last_dim(&scores).unwrap();
        probs
            .matmul(&v)
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .reshape((b * l, h))
            .unwrap()
    }

    /// Per sequence of `lens`, the largest difference over its real tokens' rows; and whether its
    /// padded rows are all 0.
    fn compare(ours: &Tensor, reference: &Tensor, lens: &[usize], l: usize) -> (f32, bool) {
        let (ours, reference) = (
            ours.to_vec2::<f32>().unwrap(),
            reference.to_vec2::<f32>().unwrap(),
        );
        let mut worst = 0f32;
        let mut padding_zero = true;
        for (s, &len) in lens.iter().enumerate() {
            for r in s * l..(s + 1) * l {
                if r < s * l + len {
                    for (a, b) in ours[r].iter().zip(&reference[r]) {
                        worst = worst.max((a - b).abs());
                    }
                } else {
                    padding_zero &= ours[r].iter().all(|&v| v == 0.0);
                }
            }
        }
        (worst, padding_zero)
    }

    #[test]
    fn fused_attention_equals_the_generic_path_on_real_tokens() {
        let dev = Device::Cpu;
        let (heads, hd, l) = (4, 8, 37);
        let lens = [37, 20, 1, 0, 33];
        let b = lens.len();
        let qkv = Tensor::randn(0f32, 1.0, (b * l, 3 * heads * hd), &dev).unwrap();
        let mask: Vec<f32> = lens
            .iter()
            .flat_map(|&len| (0..l).map(move |i| if i < len { 1.0 } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (b, l), &dev).unwrap();
        let want = reference(&qkv, &mask, heads);
        let ours = attention(&qkv, &mask, heads).unwrap();
        let (worst, padding_zero) = compare(&ours, &want, &lens, l);
        assert!(worst < 1e-4, "max difference {worst}");
        if cfg!(feature = "openblas") {
            assert!(padding_zero, "padded rows must stay 0");
        }
        // A lone sequence long enough to be split over heads in a 2-worker pool (the other layout).
        let (heads, hd, l) = (12, 32, 160);
        const { assert!(2 * 160 * 160 * 384 >= crate::threads::SPLIT_MIN_MACS) };
        let qkv = Tensor::randn(0f32, 1.0, (l, 3 * heads * hd), &dev).unwrap();
        let mask = Tensor::ones((1, l), candle_core::DType::F32, &dev).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let ours = pool.install(|| attention(&qkv, &mask, heads).unwrap());
        let (worst, _) = compare(&ours, &reference(&qkv, &mask, heads), &[l], l);
        assert!(worst < 1e-4, "max difference {worst}");
    }
}
