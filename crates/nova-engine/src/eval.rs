//! BEIR-style evaluation: nDCG@10 (graded gains, log2 discount, as trec_eval/pytrec_eval), Recall@100 and
//! MRR@10 per retrieval mode, with query latency percentiles.

use crate::error::{EngineError, Result};
use crate::fusion::Fusion;
use crate::search::{DocHit, Mode, SearchOptions};
use nova_core::percentile;
use nova_ingest::{read_path, Document, ReadOptions};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// A BEIR dataset: corpus, test queries and graded relevance judgements.
pub struct BeirSet {
    /// Corpus documents (`title` + `text`).
    pub corpus: Vec<Document>,
    /// Test queries that have judgements: (id, text).
    pub queries: Vec<(String, String)>,
    /// query id → doc id → grade.
    pub qrels: HashMap<String, HashMap<String, u32>>,
}

impl BeirSet {
    /// Loads `corpus.jsonl`, `queries.jsonl` and `qrels/test.tsv` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let err = |path: &Path, problem: String| EngineError::Dataset {
            path: path.to_path_buf(),
            problem,
        };
        let corpus_path = dir.join("corpus.jsonl");
        if !corpus_path.is_file() {
            return Err(err(
                &corpus_path,
                "not found (expected a BEIR folder)".into(),
            ));
        }
        let corpus = read_path(&corpus_path, &ReadOptions::default()).docs;
        let qrels_path = dir.join("qrels/test.tsv");
        let qrels_text = fs_err::read_to_string(&qrels_path).map_err(|source| EngineError::Io {
            path: qrels_path.clone(),
            source,
        })?;
        let mut qrels: HashMap<String, HashMap<String, u32>> = HashMap::new();
        for (n, line) in qrels_text.lines().enumerate() {
            let cols: Vec<&str> = line.split('\t').collect();
            match cols.as_slice() {
                [q, d, grade] => match grade.trim().parse::<u32>() {
                    Ok(g) => {
                        qrels
                            .entry((*q).to_owned())
                            .or_default()
                            .insert((*d).to_owned(), g);
                    }
                    Err(_) if n == 0 => {} // header
                    Err(_) => {
                        return Err(err(
                            &qrels_path,
                            format!("line {}: bad grade `{grade}`", n + 1),
                        ))
                    }
                },
                _ if line.trim().is_empty() => {}
                _ => {
                    return Err(err(
                        &qrels_path,
                        format!("line {}: expected 3 tab-separated columns", n + 1),
                    ))
                }
            }
        }
        let queries_path = dir.join("queries.jsonl");
        let queries = read_path(&queries_path, &ReadOptions::default())
            .docs
            .into_iter()
            .filter(|q| qrels.contains_key(&q.id))
            .map(|q| (q.id, q.text))
            .collect();
        Ok(Self {
            corpus,
            queries,
            qrels,
        })
    }
}

impl BeirSet {
    /// A folder of documents plus a queries file whose lines are `{"id","text","relevant":[paths]}`
    /// (paths relative to the queries file's folder, e.g. `docs/docker/index.md`). A document matches a
    /// relevant path when the path ends with the document's id (its path relative to `docs`).
    pub fn from_kb_queries(docs: &Path, queries_file: &Path) -> Result<Self> {
        let err = |problem: String| EngineError::Dataset {
            path: queries_file.to_path_buf(),
            problem,
        };
        if !docs.is_dir() {
            return Err(EngineError::Dataset {
                path: docs.to_path_buf(),
                problem: "not a folder".into(),
            });
        }
        let corpus = read_path(docs, &ReadOptions::default()).docs;
        let text = fs_err::read_to_string(queries_file).map_err(|source| EngineError::Io {
            path: queries_file.to_path_buf(),
            source,
        })?;
        let (mut queries, mut qrels) = (Vec::new(), HashMap::new());
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| err(format!("line {}: {e}", n + 1)))?;
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
            let (Some(id), Some(q)) = (field("id"), field("text")) else {
                return Err(err(format!(
                    "line {}: needs string fields `id` and `text`",
                    n + 1
                )));
            };
            let relevant: Vec<&str> = v
                .get("relevant")
                .and_then(|r| r.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let grades: HashMap<String, u32> = corpus
                .iter()
                .filter(|d| {
                    relevant
                        .iter()
                        .any(|r| *r == d.id || r.ends_with(&format!("/{}", d.id)))
                })
                .map(|d| (d.id.clone(), 1))
                .collect();
            if grades.is_empty() {
                return Err(err(format!(
                    "line {}: none of {relevant:?} is a document under {}",
                    n + 1,
                    docs.display()
                )));
            }
            qrels.insert(id.clone(), grades);
            queries.push((id, q));
        }
        Ok(Self {
            corpus,
            queries,
            qrels,
        })
    }
}

/// What an evaluation runs: each mode, and hybrid once per fusion (the base options' fusion when
/// `fusions` is empty).
#[derive(Debug, Clone, Copy)]
pub struct EvalRuns<'a> {
    /// Retrieval modes.
    pub modes: &'a [Mode],
    /// Fusions hybrid is scored with, over the same candidates.
    pub fusions: &'a [Fusion],
}

impl EvalRuns<'_> {
    /// Each ranking scored, in order: (mode, its fusion for hybrid); `default` is hybrid's fusion when
    /// none is given.
    pub fn expand(&self, default: Fusion) -> Vec<(Mode, Option<Fusion>)> {
        let fusions = if self.fusions.is_empty() {
            std::slice::from_ref(&default)
        } else {
            self.fusions
        };
        self.modes
            .iter()
            .flat_map(|&mode| match mode {
                Mode::Hybrid => fusions.iter().map(|&f| (mode, Some(f))).collect(),
                _ => vec![(mode, None)],
            })
            .collect()
    }
}

/// One mode's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ModeReport {
    /// Retrieval mode.
    pub mode: Mode,
    /// How hybrid fused its retrievers (`None` for the single modes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fusion: Option<String>,
    /// Queries evaluated.
    pub queries: usize,
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
    /// Mean Recall@5.
    pub recall_at_5: f64,
    /// Mean Recall@100.
    pub recall_at_100: f64,
    /// Mean reciprocal rank of the first relevant document within the top 10.
    pub mrr_at_10: f64,
    /// Median query latency (embedding included), milliseconds.
    pub latency_p50_ms: f64,
    /// 95th percentile query latency, milliseconds.
    pub latency_p95_ms: f64,
    /// Each query's ranking (query id, documents with scores, best first), for run files.
    #[serde(skip)]
    pub run: Vec<(String, Vec<(String, f64)>)>,
}

impl ModeReport {
    /// `hybrid-<fusion>` for hybrid, else the mode (a run file's tag).
    pub fn tag(&self) -> String {
        match &self.fusion {
            Some(f) => format!("{}-{f}", self.mode.as_str()),
            None => self.mode.as_str().to_owned(),
        }
    }
}

/// nDCG@k with linear gains (trec_eval's `ndcg_cut`).
pub(crate) fn ndcg(ranked: &[String], rels: &HashMap<String, u32>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| f64::from(*rels.get(d).unwrap_or(&0)) / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<u32> = rels.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &g)| f64::from(g) / (i as f64 + 2.0).log2())
        .sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

pub(crate) fn recall(ranked: &[String], rels: &HashMap<String, u32>, k: usize) -> f64 {
    let relevant = rels.values().filter(|&&g| g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|d| rels.get(*d).is_some_and(|&g| g > 0))
        .count();
    found as f64 / relevant as f64
}

pub(crate) fn mrr(ranked: &[String], rels: &HashMap<String, u32>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|d| rels.get(d).is_some_and(|&g| g > 0))
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0))
}

/// Runs every test query of `set` in each mode through `search` (over a KB already holding the
/// corpus); hybrid runs once per fusion in `fusions` (`base.fusion` when empty). `base` sets the
/// candidate depth; its mode and k are replaced (k = 100 for Recall@100).
pub(crate) fn evaluate(
    set: &BeirSet,
    runs: EvalRuns<'_>,
    base: &SearchOptions,
    search: &dyn Fn(&str, &SearchOptions) -> Result<Vec<DocHit>>,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<ModeReport>> {
    let mut reports = Vec::new();
    let mut done = 0;
    for (mode, fusion) in runs.expand(base.fusion.unwrap_or_default()) {
        let opts = SearchOptions {
            mode,
            k: 100,
            candidates: base.candidates.max(100),
            fusion: fusion.or(base.fusion),
            ..base.clone()
        };
        let mut run = Vec::with_capacity(set.queries.len());
        let (mut n, mut r, mut r5, mut m) = (0.0, 0.0, 0.0, 0.0);
        let mut latencies = Vec::with_capacity(set.queries.len());
        for (qid, text) in &set.queries {
            let start = Instant::now();
            let hits = search(text, &opts)?;
            latencies.push(start.elapsed().as_secs_f64() * 1000.0);
            let ranked: Vec<String> = hits.iter().map(|h| h.doc_id.clone()).collect();
            run.push((
                qid.clone(),
                hits.into_iter().map(|h| (h.doc_id, h.score)).collect(),
            ));
            let rels = &set.qrels[qid];
            n += ndcg(&ranked, rels, 10);
            r += recall(&ranked, rels, 100);
            r5 += recall(&ranked, rels, 5);
            m += mrr(&ranked, rels, 10);
            done += 1;
            progress(done);
        }
        latencies.sort_by(f64::total_cmp);
        let q = set.queries.len().max(1) as f64;
        reports.push(ModeReport {
            mode,
            fusion: fusion.map(|f| f.to_string()),
            queries: set.queries.len(),
            ndcg_at_10: n / q,
            recall_at_5: r5 / q,
            recall_at_100: r / q,
            mrr_at_10: m / q,
            latency_p50_ms: percentile(&latencies, 0.5).unwrap_or(0.0),
            latency_p95_ms: percentile(&latencies, 0.95).unwrap_or(0.0),
            run,
        });
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rels(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(d, g)| ((*d).to_owned(), *g)).collect()
    }

    fn ranked(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn ndcg_matches_a_hand_computed_value() {
        // gains 0,2,1 at ranks 1..3; ideal 2,1 → dcg = 2/log2(3) + 1/2, idcg = 2 + 1/log2(3)
        let got = ndcg(&ranked(&["x", "a", "b"]), &rels(&[("a", 2), ("b", 1)]), 10);
        let want = (2.0 / 3f64.log2() + 0.5) / (2.0 + 1.0 / 3f64.log2());
        assert!((got - want).abs() < 1e-12);
        assert!((ndcg(&ranked(&["a", "b"]), &rels(&[("a", 2), ("b", 1)]), 10) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn recall_and_mrr_count_only_positive_grades() {
        let r = rels(&[("a", 1), ("b", 0), ("c", 1)]);
        assert_eq!(recall(&ranked(&["b", "a"]), &r, 100), 0.5);
        assert_eq!(mrr(&ranked(&["b", "x", "c"]), &r, 10), 1.0 / 3.0);
        assert_eq!(mrr(&ranked(&["b"]), &r, 10), 0.0);
    }
}
