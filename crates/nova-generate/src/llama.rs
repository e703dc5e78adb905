//! A Llama-architecture decoder over GGUF weights (quantized matmuls from candle-core): RMS norm,
//! grouped-query attention with rotary positions and a key/value cache, SwiGLU feed-forward. Written
//! here rather than taken from candle-transformers, which would add minutes of build time for one of
//! its hundred models; the maths follows llama.cpp and candle's `quantized_llama`.

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::QMatMul;
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::kv_cache::KvCache;
use std::io::{Read, Seek};

/// The shape of the network, from the GGUF metadata.
#[derive(Debug, Clone)]
pub(crate) struct Hyper {
    pub(crate) layers: usize,
    pub(crate) heads: usize,
    pub(crate) kv_heads: usize,
    pub(crate) embedding: usize,
    pub(crate) rope_dim: usize,
    pub(crate) rope_base: f32,
    pub(crate) norm_eps: f64,
    pub(crate) context: usize,
    /// Rotary embedding on the two halves of a head (NeoX) rather than on interleaved pairs (Llama).
    pub(crate) neox: bool,
}

impl Hyper {
    pub(crate) fn from_gguf(content: &Content) -> Result<Self, String> {
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        let neox = match arch.as_str() {
            "llama" | "mistral" | "granite" => false,
            "qwen2" | "qwen3" => true,
            other => {
                return Err(format!(
                    "general.architecture is `{other}`; the local generator runs Llama-family models (llama, mistral, granite, qwen2, qwen3)"
                ))
            }
        };
        let key = |name: &str| format!("{arch}.{name}");
        let get = |name: &str| {
            content
                .metadata
                .get(&key(name))
                .ok_or_else(|| format!("no `{}` in the GGUF metadata", key(name)))
        };
        let int = |name: &str| -> Result<usize, String> {
            let value = get(name)?;
            value
                .to_u32()
                .map(|v| v as usize)
                .or_else(|_| value.to_u64().map(|v| v as usize))
                .map_err(|e| format!("`{}`: {e}", key(name)))
        };
        let heads = int("attention.head_count")?;
        let embedding = int("embedding_length")?;
        Ok(Self {
            layers: int("block_count")?,
            heads,
            kv_heads: int("attention.head_count_kv").unwrap_or(heads),
            embedding,
            rope_dim: int("rope.dimension_count").unwrap_or(embedding / heads),
            rope_base: get("rope.freq_base")
                .and_then(|v| v.to_f32().map_err(|e| e.to_string()))
                .unwrap_or(10_000.0),
            norm_eps: get("attention.layer_norm_rms_epsilon")
                .and_then(|v| v.to_f32().map_err(|e| e.to_string()))
                .map_or(1e-5, f64::from),
            context: int("context_length").unwrap_or(4096),
            neox,
        })
    }

    fn head_dim(&self) -> usize {
        self.embedding / self.heads
    }
}

#[derive(Debug, Clone)]
struct Layer {
    attn_norm: Tensor,
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    wo: QMatMul,
    /// Qwen 2 has biases on q, k and v.
    bq: Option<Tensor>,
    bk: Option<Tensor>,
    bv: Option<Tensor>,
    ffn_norm: Tensor,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
}

/// The weights, shared by every generation (cloning is cheap: tensors are reference-counted).
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    pub(crate) hyper: Hyper,
    embeddings: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    output: QMatMul,
    cos: Tensor,
    sin: Tensor,
}

impl Weights {
    /// Reads the tensors `content` describes from `reader`.
    pub(crate) fn load<R: Read + Seek>(
        content: &Content,
        reader: &mut R,
        hyper: Hyper,
    ) -> candle_core::Result<Self> {
        let device = Device::Cpu;
        let mut read =
            |name: &str| -> candle_core::Result<QTensor> { content.tensor(reader, name, &device) };
        let embeddings_q = read("token_embd.weight")?;
        let embeddings = embeddings_q.dequantize(&device)?;
        let norm = read("output_norm.weight")?.dequantize(&device)?;
        // Small models tie the output projection to the embeddings.
        let output = match read("output.weight") {
            Ok(t) => QMatMul::from_qtensor(t)?,
            Err(_) => QMatMul::from_qtensor(embeddings_q)?,
        };
        let mut layers = Vec::with_capacity(hyper.layers);
        for i in 0..hyper.layers {
            let mut weight = |part: &str| read(&format!("blk.{i}.{part}.weight"));
            let attn_norm = weight("attn_norm")?.dequantize(&device)?;
            let ffn_norm = weight("ffn_norm")?.dequantize(&device)?;
            let mut matmul = |part: &str| QMatMul::from_qtensor(fast_form(weight(part)?)?);
            let (wq, wk, wv, wo) = (
                matmul("attn_q")?,
                matmul("attn_k")?,
                matmul("attn_v")?,
                matmul("attn_output")?,
            );
            let (gate, up, down) = (matmul("ffn_gate")?, matmul("ffn_up")?, matmul("ffn_down")?);
            let mut bias = |part: &str| match read(&format!("blk.{i}.{part}.bias")) {
                Ok(t) => t.dequantize(&device).map(Some),
                Err(_) => Ok(None),
            };
            let (bq, bk, bv) = (bias("attn_q")?, bias("attn_k")?, bias("attn_v")?);
            layers.push(Layer {
                attn_norm,
                wq,
                wk,
                wv,
                wo,
                bq,
                bk,
                bv,
                ffn_norm,
                gate,
                up,
                down,
            });
        }
        let (cos, sin) = rotary_tables(&hyper, &device)?;
        Ok(Self {
            hyper,
            embeddings,
            layers,
            norm,
            output,
            cos,
            sin,
        })
    }
}

/// `q` in a form candle multiplies with SIMD. candle has AVX2/NEON kernels for Q4_0, Q8_0 and the
/// K-quants but only scalar code for Q4_1, Q5_0 and Q5_1 (6× slower measured on SmolLM2 Q4_1), so those
/// are re-quantized to Q8_0 once at load: 8 bits hold every 4- or 5-bit level almost exactly, for about
/// twice the memory of the file.
fn fast_form(q: QTensor) -> candle_core::Result<QTensor> {
    match q.dtype() {
        GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 => {
            QTensor::quantize(&q.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)
        }
        _ => Ok(q),
    }
}

fn rotary_tables(h: &Hyper, device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
    let inv_freq: Vec<f32> = (0..h.rope_dim)
        .step_by(2)
        .map(|i| 1.0 / h.rope_base.powf(i as f32 / h.rope_dim as f32))
        .collect();
    let inv_freq = Tensor::new(inv_freq.as_slice(), device)?;
    let positions = Tensor::arange(0, h.context as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((h.context, 1))?;
    let angles = positions.matmul(&inv_freq.reshape((1, ()))?)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// One generation's state: the weights and the key/value cache of what it has read so far.
pub(crate) struct Session {
    weights: Weights,
    cache: Vec<KvCache>,
    /// Tokens already in the cache.
    pub(crate) position: usize,
}

/// Cache rows allocated at a time: growing copies the cache, so it happens once per this many tokens
/// instead of on every token as concatenating would.
const CACHE_CHUNK: usize = 512;

/// From this many tokens in one forward pass (reading a prompt) a matmul runs on weights dequantized to
/// f32 for the call: the dense kernel is several times faster than candle's quantized one once the
/// dequantizing is shared by enough rows, and nothing extra stays in memory.
const DENSE_FROM_ROWS: usize = 32;

fn matmul(m: &QMatMul, x: &Tensor) -> candle_core::Result<Tensor> {
    match m {
        QMatMul::QTensor(q) if x.dim(1)? >= DENSE_FROM_ROWS => {
            let w = q.dequantize(&Device::Cpu)?;
            x.broadcast_matmul(&w.t()?)
        }
        _ => m.forward(x),
    }
}

impl Session {
    pub(crate) fn new(weights: &Weights) -> Self {
        Self {
            cache: (0..weights.layers.len())
                .map(|_| KvCache::new(2, CACHE_CHUNK))
                .collect(),
            weights: weights.clone(),
            position: 0,
        }
    }

    /// Feeds `tokens` after those already read; the logits of the last one.
    pub(crate) fn forward(&mut self, tokens: &[u32]) -> candle_core::Result<Vec<f32>> {
        let w = &self.weights;
        let h = &w.hyper;
        let n = tokens.len();
        let device = Device::Cpu;
        let ids = Tensor::new(tokens, &device)?;
        let mut x = w.embeddings.index_select(&ids, 0)?.unsqueeze(0)?;
        // Grouped-query attention: each key/value head serves `group` query heads, so the queries are
        // viewed as kv_heads × (group · n) rows against the shared keys instead of copying the keys.
        let group = h.heads / h.kv_heads;
        let mask = (n > 1)
            .then(|| causal_mask(n, self.position, group, &device))
            .transpose()?;
        let (cos, sin) = (
            w.cos.narrow(0, self.position, n)?,
            w.sin.narrow(0, self.position, n)?,
        );
        let head_dim = h.head_dim();
        for (layer, cache) in w.layers.iter().zip(self.cache.iter_mut()) {
            let residual = x.clone();
            let normed = candle_nn::ops::rms_norm(&x, &layer.attn_norm, h.norm_eps as f32)?;
            let project = |m: &QMatMul, b: &Option<Tensor>, heads: usize| {
                let mut t = matmul(m, &normed)?;
                if let Some(b) = b {
                    t = t.broadcast_add(b)?;
                }
                t.reshape((1, n, heads, head_dim))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let q = project(&layer.wq, &layer.bq, h.heads)?;
            let k = project(&layer.wk, &layer.bk, h.kv_heads)?;
            let v = project(&layer.wv, &layer.bv, h.kv_heads)?;
            let rope = |t: &Tensor| {
                if h.neox {
                    candle_nn::rotary_emb::rope(t, &cos, &sin)
                } else {
                    candle_nn::rotary_emb::rope_i(t, &cos, &sin)
                }
            };
            let (q, k) = (rope(&q)?, rope(&k)?.contiguous()?);
            let (k, v) = cache.append(&k, &v)?;
            let q = q.reshape((1, h.kv_heads, group * n, head_dim))?;
            let mut scores = (q.matmul(&k.t()?)? / (head_dim as f64).sqrt())?;
            if let Some(mask) = &mask {
                scores = scores.broadcast_add(mask)?;
            }
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let attended = probs
                .matmul(&v)?
                .reshape((1, h.heads, n, head_dim))?
                .transpose(1, 2)?
                .reshape((1, n, h.embedding))?;
            x = (matmul(&layer.wo, &attended)? + residual)?;

            let residual = x.clone();
            let normed = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, h.norm_eps as f32)?;
            let gate = candle_nn::ops::silu(&matmul(&layer.gate, &normed)?)?;
            let up = matmul(&layer.up, &normed)?;
            x = (matmul(&layer.down, &(gate * up)?)? + residual)?;
        }
        let last = x.i((.., n - 1, ..))?;
        let normed = candle_nn::ops::rms_norm(&last, &w.norm, h.norm_eps as f32)?;
        let logits = w.output.forward(&normed)?.squeeze(0)?;
        self.position += n;
        logits.to_dtype(DType::F32)?.to_vec1()
    }
}

/// Additive mask for `n` new tokens after `past` cached ones: 0 where a token may look, -inf ahead;
/// repeated `group` times down the rows, as the grouped queries are laid out.
fn causal_mask(
    n: usize,
    past: usize,
    group: usize,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let total = past + n;
    let values: Vec<f32> = (0..group)
        .flat_map(|_| 0..n)
        .flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(values, (group * n, total), device)?.reshape((1, 1, group * n, total))
}
