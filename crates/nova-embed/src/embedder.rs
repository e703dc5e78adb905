//! The sentence embedder: tokenize → sort by length → batch → BERT → pool → normalise → original order.

use crate::bert::Bert;
use crate::error::{EmbedError, Result};
use crate::int8::Precision;
use crate::lane::Lane;
use crate::model_dir::{ModelDir, Pooling};
use crate::source::ModelSource;
use candle_core::{Device, Tensor};
use nova_core::{l2_normalize, Embedding};
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams, TruncationStrategy};

/// Anything that turns texts into fixed-size vectors. Implementations must be deterministic and return one
/// vector per input, in input order.
pub trait Embedder: Send + Sync {
    /// Stable id of the model (a folder path or hub id), recorded with what it embeds.
    fn model_id(&self) -> &str;
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Embeds `texts` as a query: someone is waiting, so it goes before any bulk work. An empty slice
    /// gives an empty result.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>>;
    /// Embeds `texts` as bulk work (documents being ingested): the same vectors as [`Self::embed`], but
    /// it yields to queries between forward passes. Defaults to `embed`.
    fn embed_bulk(&self, texts: &[&str]) -> Result<Vec<Embedding>> {
        self.embed(texts)
    }
    /// Tokens each text counts as input to the model (special tokens included, after truncation).
    fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>>;
}

/// How texts are grouped into forward passes.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// Most texts in one forward pass.
    pub max_batch: usize,
    /// Most padded tokens (`texts × longest`) in one forward pass; bounds memory for long passages.
    pub max_batch_tokens: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_batch: 32,
            max_batch_tokens: 1024,
        }
    }
}

/// A sentence-transformers BERT model (e.g. all-MiniLM-L6-v2) running in-process.
pub struct SentenceEmbedder {
    tokenizer: Tokenizer,
    bert: Bert,
    pooling: Pooling,
    normalize: bool,
    batch: BatchOptions,
    precision: Precision,
    id: String,
    /// Queries in flight; bulk forward passes wait while there are any.
    lane: Lane,
    /// Where queries run, so they never queue behind bulk work.
    query_pool: rayon::ThreadPool,
    /// Where bulk work runs, at a lower OS priority ([`crate::threads::BULK_NICE`]).
    bulk_pool: rayon::ThreadPool,
}

impl SentenceEmbedder {
    /// Resolves `source` (downloading hub models) and loads it.
    pub fn load(source: &ModelSource, batch: BatchOptions) -> Result<Self> {
        Self::from_dir(&source.resolve()?, batch)
    }

    /// Loads the tokenizer and weights from a checked model folder.
    pub fn from_dir(dir: &ModelDir, batch: BatchOptions) -> Result<Self> {
        let tok_path = dir.file("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tok_path).map_err(|source| EmbedError::CorruptFile {
                path: tok_path.clone(),
                source,
            })?;
        // tokenizer.json ships truncation/padding at 128; sentence-transformers overrides both with
        // max_seq_length and pad-to-longest, so we do the same (and pad ourselves, per sorted batch).
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: dir.max_seq_length(),
                strategy: TruncationStrategy::LongestFirst,
                ..TruncationParams::default()
            }))
            .map_err(|source| EmbedError::CorruptFile {
                path: tok_path.clone(),
                source,
            })?;
        tokenizer.with_padding(None);
        let bert = Bert::load(dir)?;
        crate::threads::single_threaded_matmuls();
        let id = dir.id().to_owned();
        let query_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("nova-query-{i}"))
            .build()
            .map_err(EmbedError::Threads)?;
        let bulk_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("nova-bulk-{i}"))
            .start_handler(|_| crate::threads::lower_priority())
            .build()
            .map_err(EmbedError::Threads)?;
        Ok(Self {
            lane: Lane::default(),
            query_pool,
            bulk_pool,
            tokenizer,
            bert,
            pooling: dir.pooling(),
            normalize: dir.normalize(),
            batch,
            precision: Precision::Fp32,
            id,
        })
    }

    /// The same model with its dense layers in `precision` ([`Precision::Int8`]: quantised once, here).
    pub fn with_precision(mut self, precision: Precision) -> Result<Self> {
        self.bert.set_precision(precision)?;
        self.precision = precision;
        Ok(self)
    }

    /// The precision the dense layers run in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Matmul FLOPs of one forward pass over a text of `tokens` tokens (for benchmark reporting).
    pub fn forward_flops(&self, tokens: usize) -> f64 {
        self.bert.forward_flops(tokens)
    }

    /// Token ids exactly as the model sees them (`[CLS]` … `[SEP]`, truncated).
    pub fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(EmbedError::Tokenize)?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Embeds pre-tokenized inputs, keeping their order (in the calling thread's pool, not yielding).
    pub fn embed_ids(&self, ids: &[Vec<u32>]) -> Result<Vec<Embedding>> {
        self.embed_ids_yielding(ids, None)
    }

    /// [`Self::embed_ids`]; with a `lane`, each forward pass first waits for queries in flight.
    fn embed_ids_yielding(&self, ids: &[Vec<u32>], lane: Option<&Lane>) -> Result<Vec<Embedding>> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        // Longest first, so each batch pads to nearly its own length and the big batches run while the
        // allocator is fresh.
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let batches = self.plan_batches(&order, ids);
        let forward =
            |batch: &[usize]| self.forward_batch(batch.iter().map(|&i| ids[i].as_slice()));
        let results: Vec<Result<Vec<Embedding>>> = match (batches.as_slice(), lane) {
            // One query batch (a query, or a server's few): its split products are the only parallel
            // work, so the pool's other workers wait for them awake.
            ([batch], None) => vec![crate::threads::with_workers_awake(|| forward(batch))],
            // Parallel across batches: on 2 cores one batch per core beats splitting every
            // MiniLM-sized matmul over both (measured: +50 % on passages). A big matmul of a lone batch
            // is still split over the idle workers (`threads::split_output`); with every worker busy,
            // its parts stay local.
            _ => batches
                .par_iter()
                .map(|batch| {
                    if let Some(lane) = lane {
                        lane.wait_for_queries();
                    }
                    forward(batch)
                })
                .collect(),
        };
        let mut out: Vec<Embedding> = vec![Vec::new(); ids.len()];
        for (batch, vectors) in batches.iter().zip(results) {
            for (&i, v) in batch.iter().zip(vectors?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Splits length-sorted indices into batches bounded by count and padded-token budget, and small
    /// enough that every rayon worker gets one when there are that many texts.
    fn plan_batches<'a>(&self, order: &'a [usize], ids: &[Vec<u32>]) -> Vec<&'a [usize]> {
        let workers = rayon::current_num_threads().max(1);
        let max_batch = self
            .batch
            .max_batch
            .min(order.len().div_ceil(workers))
            .max(1);
        let mut batches = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let longest = ids[order[start]].len().max(1);
            let fit = (self.batch.max_batch_tokens / longest).clamp(1, max_batch);
            let end = (start + fit).min(order.len());
            batches.push(&order[start..end]);
            start = end;
        }
        batches
    }

    /// One forward pass over `rows`, packed: their tokens one after another, no padding — every
    /// layer but attention works on tokens alone, so a padded batch multiplied padding through every
    /// matmul (a third of the rows for 8 queries of 10–40 tokens).
    fn forward_batch<'a>(
        &self,
        rows: impl Iterator<Item = &'a [u32]> + Clone,
    ) -> Result<Vec<Embedding>> {
        let lens: Vec<usize> = rows.clone().map(<[u32]>::len).collect();
        let total: usize = lens.iter().sum();
        let mut flat_ids = Vec::with_capacity(total);
        let mut positions = Vec::with_capacity(total);
        for row in rows {
            flat_ids.extend_from_slice(row);
            positions.extend(0..row.len() as u32);
        }
        let ids = Tensor::from_vec(flat_ids, total, &Device::Cpu)?;
        let positions = Tensor::from_vec(positions, total, &Device::Cpu)?;
        let hidden = self
            .bert
            .forward(&ids, &positions, &lens)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let h = self.bert.hidden();
        let mut vectors = Vec::with_capacity(lens.len());
        let mut start = 0;
        for &len in &lens {
            let tokens = &hidden[start * h..(start + len) * h];
            start += len;
            let vector = match self.pooling {
                Pooling::Mean => {
                    let mut sum = vec![0f32; h];
                    for token in tokens.chunks_exact(h) {
                        sum.iter_mut().zip(token).for_each(|(s, &t)| *s += t);
                    }
                    let n = len.max(1) as f32;
                    sum.iter_mut().for_each(|s| *s /= n);
                    sum
                }
                Pooling::Cls => tokens
                    .get(..h)
                    .map_or_else(|| vec![0f32; h], <[f32]>::to_vec),
            };
            vectors.push(vector);
        }
        if self.normalize {
            vectors.iter_mut().for_each(|v| l2_normalize(v));
        }
        Ok(vectors)
    }
}

impl Embedder for SentenceEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.bert.hidden()
    }

    fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>> {
        Ok(self.token_ids(texts)?.iter().map(Vec::len).collect())
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let _turn = self.lane.query();
        self.query_pool
            .install(|| self.embed_ids(&self.token_ids(texts)?))
    }

    fn embed_bulk(&self, texts: &[&str]) -> Result<Vec<Embedding>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.bulk_pool
            .install(|| self.embed_ids_yielding(&self.token_ids(texts)?, Some(&self.lane)))
    }
}
