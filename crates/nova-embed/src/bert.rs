//! A BERT encoder for inference only, on candle: embeddings → N × (self-attention, feed-forward).
//!
//! Written for speed on CPU rather than generality: Q, K and V are one fused matmul, weights are stored
//! pre-transposed so every matmul reads contiguous memory, and activations are 2-D `(tokens, hidden)`
//! wherever the maths allows.

use crate::attention::attention;
use crate::error::{EmbedError, Result};
use crate::int8::{Int8Kernel, Precision, QuantLinear};
use crate::kernels::gelu_erf;
use crate::matmul::linear;
use crate::model_dir::{BertConfig, ModelDir};
use crate::packed_f32::PackedF32;
use candle_core::{DType, Device, Tensor};
use candle_nn::{LayerNorm, Module};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `x · Wᵀ + b` with `Wᵀ` kept contiguous.
struct Dense {
    weight_t: Tensor,
    bias: Vec<f32>,
    /// The same weights in int8, when the model runs in [`Precision::Int8`].
    int8: Option<QuantLinear>,
    /// In f32, the same weights packed for products of few rows (queries), which OpenBLAS would pack
    /// again on every call; `None` in int8 and on CPUs without AVX2.
    packed: Option<PackedF32>,
}

impl Dense {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_with(x, None)
    }

    /// `x · Wᵀ + b (+ residual)` in the layer's precision.
    fn forward_with(&self, x: &Tensor, residual: Option<&Tensor>) -> candle_core::Result<Tensor> {
        if let Some(q) = &self.int8 {
            return crate::tiles::linear(x, q, &self.bias, residual);
        }
        if let Some(p) = &self.packed {
            let rows = x.elem_count() / x.dims().last().copied().unwrap_or(1).max(1);
            if rows <= crate::packed_f32::MAX_ROWS {
                return crate::tiles::linear(x, p, &self.bias, residual);
            }
        }
        linear(x, &self.weight_t, &self.bias, residual)
    }

    /// The weights as a `k × n` row-major vector.
    fn weights(&self) -> candle_core::Result<(Vec<f32>, usize, usize)> {
        let (k, n) = self.weight_t.dims2()?;
        Ok((self.weight_t.flatten_all()?.to_vec1::<f32>()?, k, n))
    }

    /// Adds the int8 copy of the weights (and drops the packed f32 one, which int8 never reads).
    fn quantize(&mut self, kernel: Int8Kernel) -> candle_core::Result<()> {
        let (w, k, n) = self.weights()?;
        self.int8 = Some(QuantLinear::new(&w, k, n, kernel));
        self.packed = None;
        Ok(())
    }

    /// Back to f32: packs the weights for few-row products.
    fn use_fp32(&mut self) -> candle_core::Result<()> {
        self.int8 = None;
        if self.packed.is_none() {
            let (w, k, n) = self.weights()?;
            self.packed = PackedF32::new(&w, k, n);
        }
        Ok(())
    }

    /// The same layer with weights and bias multiplied by `factor`.
    fn scaled(self, factor: f64) -> candle_core::Result<Self> {
        let f = factor as f32;
        Ok(Self {
            weight_t: (self.weight_t * factor)?,
            bias: self.bias.iter().map(|b| b * f).collect(),
            int8: None,
            packed: None,
        })
    }

    /// `x · Wᵀ + b + residual`, fused.
    fn forward_add(&self, x: &Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_with(x, Some(residual))
    }
}

struct Layer {
    qkv: Dense,
    attn_out: Dense,
    attn_norm: LayerNorm,
    inter: Dense,
    out: Dense,
    out_norm: LayerNorm,
}

/// The encoder's weights and shape.
pub(crate) struct Bert {
    word: Tensor,
    position: Tensor,
    token_type0: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
}

/// Pulls named tensors out of the safetensors map with shape checks that name the tensor.
struct Weights {
    map: HashMap<String, Tensor>,
    prefix: &'static str,
    path: PathBuf,
}

impl Weights {
    fn get(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let full = format!("{}{name}", self.prefix);
        let bad = |problem: String| EmbedError::BadTensor {
            path: self.path.clone(),
            tensor: full.clone(),
            problem,
        };
        let t = self
            .map
            .remove(&full)
            .ok_or_else(|| bad("is missing".into()))?;
        if t.dims() != shape {
            return Err(bad(format!("has shape {:?}, expected {shape:?}", t.dims())));
        }
        Ok(t.to_dtype(DType::F32)?)
    }

    fn dense(&mut self, name: &str, out: usize, inp: usize) -> Result<Dense> {
        let w = self.get(&format!("{name}.weight"), &[out, inp])?;
        let bias = self
            .get(&format!("{name}.bias"), &[out])?
            .to_vec1::<f32>()?;
        Ok(Dense {
            weight_t: w.t()?.contiguous()?,
            bias,
            int8: None,
            packed: None,
        })
    }

    fn norm(&mut self, name: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm::new(
            self.get(&format!("{name}.weight"), &[dim])?,
            self.get(&format!("{name}.bias"), &[dim])?,
            eps,
        ))
    }
}

impl Bert {
    /// Loads `model.safetensors` from the folder; weights may be stored with or without a `bert.` prefix.
    pub(crate) fn load(dir: &ModelDir) -> Result<Self> {
        let path = dir.file("model.safetensors");
        let map = read_safetensors(&path)?;
        let prefix = if map.contains_key("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let cfg: &BertConfig = &dir.bert;
        if cfg.hidden_act != "gelu" {
            return Err(EmbedError::BadTensor {
                path: dir.file("config.json"),
                tensor: "hidden_act".into(),
                problem: format!("is `{}`, only `gelu` is supported", cfg.hidden_act),
            });
        }
        let h = cfg.hidden_size;
        let mut w = Weights { map, prefix, path };
        let word = w.get("embeddings.word_embeddings.weight", &[cfg.vocab_size, h])?;
        let position = w.get(
            "embeddings.position_embeddings.weight",
            &[cfg.max_position_embeddings, h],
        )?;
        let token_type0 = w
            .get(
                "embeddings.token_type_embeddings.weight",
                &[cfg.type_vocab_size, h],
            )?
            .get(0)?;
        let emb_norm = w.norm("embeddings.LayerNorm", h, cfg.layer_norm_eps)?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            // Attention scores are q·kᵀ/√d; folding 1/√d into W_q and b_q saves a pass per layer.
            let q = w
                .dense(&format!("{p}.attention.self.query"), h, h)?
                .scaled(1.0 / ((h / cfg.num_attention_heads) as f64).sqrt())?;
            let k = w.dense(&format!("{p}.attention.self.key"), h, h)?;
            let v = w.dense(&format!("{p}.attention.self.value"), h, h)?;
            let qkv = Dense {
                weight_t: Tensor::cat(&[&q.weight_t, &k.weight_t, &v.weight_t], 1)?.contiguous()?,
                bias: [q.bias, k.bias, v.bias].concat(),
                int8: None,
                packed: None,
            };
            layers.push(Layer {
                qkv,
                attn_out: w.dense(&format!("{p}.attention.output.dense"), h, h)?,
                attn_norm: w.norm(
                    &format!("{p}.attention.output.LayerNorm"),
                    h,
                    cfg.layer_norm_eps,
                )?,
                inter: w.dense(&format!("{p}.intermediate.dense"), cfg.intermediate_size, h)?,
                out: w.dense(&format!("{p}.output.dense"), h, cfg.intermediate_size)?,
                out_norm: w.norm(&format!("{p}.output.LayerNorm"), h, cfg.layer_norm_eps)?,
            });
        }
        let heads = cfg.num_attention_heads;
        let mut bert = Self {
            word,
            position,
            token_type0,
            emb_norm,
            layers,
            heads,
            hidden: h,
        };
        bert.set_precision(Precision::Fp32)?;
        Ok(bert)
    }

    /// Runs the encoder on a packed batch: `ids` and `positions` are `(tokens,)`, the sequences' tokens
    /// one after another, `lens` their lengths. Returns the last hidden state `(tokens, hidden)`.
    pub(crate) fn forward(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        lens: &[usize],
    ) -> candle_core::Result<Tensor> {
        let x = self
            .word
            .index_select(ids, 0)?
            .add(&self.position.index_select(positions, 0)?)?
            .broadcast_add(&self.token_type0)?;
        let mut x = self.emb_norm.forward(&x)?;
        for layer in &self.layers {
            let ctx = attention(&layer.qkv.forward(&x)?, lens, self.heads)?;
            let attn = layer
                .attn_norm
                .forward(&layer.attn_out.forward_add(&ctx, &x)?)?;
            let inter = gelu_erf(&layer.inter.forward(&attn)?)?;
            x = layer
                .out_norm
                .forward(&layer.out.forward_add(&inter, &attn)?)?;
        }
        Ok(x)
    }

    /// Switches every dense layer to `precision` (attention's products and the norms stay f32).
    pub(crate) fn set_precision(&mut self, precision: Precision) -> candle_core::Result<()> {
        for layer in &mut self.layers {
            for dense in [
                &mut layer.qkv,
                &mut layer.attn_out,
                &mut layer.inter,
                &mut layer.out,
            ] {
                match precision {
                    Precision::Int8 => dense.quantize(Int8Kernel::detect())?,
                    Precision::Fp32 => dense.use_fp32()?,
                }
            }
        }
        Ok(())
    }

    pub(crate) fn hidden(&self) -> usize {
        self.hidden
    }

    /// Floating-point operations of one forward pass over a `seq`-token text (matmuls only; the
    /// element-wise work is a few percent on top).
    pub(crate) fn forward_flops(&self, seq: usize) -> f64 {
        let (l, h) = (seq as f64, self.hidden as f64);
        let per_layer = self.layers.first().map_or(0.0, |layer| {
            let inter = layer.inter.weight_t.dims()[1] as f64;
            2.0 * l * h * (3.0 * h + h + 2.0 * inter) + 4.0 * l * l * h
        });
        per_layer * self.layers.len() as f64
    }
}

fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    // Read into memory rather than mmap: the file is ~90 MB and this keeps the crate free of `unsafe`.
    let bytes = fs_err::read(path).map_err(|_| EmbedError::MissingFile {
        path: path.to_path_buf(),
    })?;
    candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| {
        EmbedError::CorruptFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        }
    })
}
