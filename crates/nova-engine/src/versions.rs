//! Index versions of a knowledge base and their lineage. Version 1 is the index the KB was created
//! with; a blue-green rebuild (`Engine::build_version`) writes version n beside the serving one, and an
//! alias names which version answers. Files, in `kbs/<kb>/versions/`:
//!
//! ```text
//! alias.json         {"serving": n, "previous": m}: switched by one atomic rename
//! v<n>.json          the version's lineage record (IndexVersion)
//! v<n>.sources.json  its source set: every document id with its content hash
//! v<n>/              its store and settings (n ≥ 2; version 1 lives in the KB's folder)
//! ```
//!
//! A KB that never had a rebuild has no such folder: its version 1 record is made from what is stored
//! the first time it is asked for.

use crate::error::{EngineError, Result};
use crate::files::{read_json, write_json_atomic};
use crate::meta::Chunking;
use nova_core::DataLayout;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which version serves, and which served before it (what `rollback` returns to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Alias {
    pub serving: u32,
    #[serde(default)]
    pub previous: Option<u32>,
}

impl Default for Alias {
    fn default() -> Self {
        Self {
            serving: 1,
            previous: None,
        }
    }
}

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VersionState {
    /// Answers searches.
    Serving,
    /// Served before the current one; kept so `rollback` can switch back at once.
    Standby,
    /// Built, then refused by the eval gate (or built with `--no-switch`, kept for a later switch).
    Candidate,
    /// Refused by the eval gate; its index was deleted, its record kept for the lineage.
    Refused,
    /// Replaced long enough ago that its index was deleted.
    Retired,
}

/// The embedding model a version was built with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelRecord {
    /// Model id (folder path or hub id).
    pub id: String,
    /// SHA-256 of its weights file, when the model is a local folder.
    pub sha256: Option<String>,
    /// Vector dimension.
    pub dim: usize,
}

/// Retrieval quality on the KB's golden set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateMetrics {
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
    /// Mean Recall@5.
    pub recall_at_5: f64,
    /// Mean Recall@100.
    pub recall_at_100: f64,
    /// Mean MRR@10.
    pub mrr_at_10: f64,
}

impl GateMetrics {
    /// (name, value) of each metric, in a fixed order.
    pub fn named(&self) -> [(&'static str, f64); 4] {
        [
            ("ndcg_at_10", self.ndcg_at_10),
            ("recall_at_5", self.recall_at_5),
            ("recall_at_100", self.recall_at_100),
            ("mrr_at_10", self.mrr_at_10),
        ]
    }

    /// The metrics of an evaluation's hybrid report.
    pub(crate) fn of(report: &crate::eval::ModeReport) -> Self {
        Self {
            ndcg_at_10: report.ndcg_at_10,
            recall_at_5: report.recall_at_5,
            recall_at_100: report.recall_at_100,
            mrr_at_10: report.mrr_at_10,
        }
    }
}

/// The eval gate's verdict on a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateRecord {
    /// Every metric within `threshold` of the serving version's (or above it).
    pub passed: bool,
    /// How far below the serving version a metric may fall.
    pub threshold: f64,
    /// The version it was compared with (the one serving then).
    pub compared_with: u32,
    /// The golden set: its name and SHA-256.
    pub golden: String,
    /// Golden queries evaluated.
    pub queries: usize,
    /// The serving version's figures.
    pub serving: GateMetrics,
    /// This version's figures.
    pub candidate: GateMetrics,
    /// Metrics that fell by more than the threshold, e.g. `ndcg_at_10 0.612 → 0.401`.
    pub failures: Vec<String>,
    /// The evaluation run in the tracking store (`nova runs show N`), when it was recorded.
    pub run_id: Option<i64>,
}

/// One version's lineage record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndexVersion {
    /// Its number (1 for the index the KB was created with).
    pub version: u32,
    /// The version it was built from.
    pub parent: Option<u32>,
    /// Where it stands.
    pub state: VersionState,
    /// When it was built (Unix seconds; for version 1 of an older KB, when its record was made).
    pub built_at: u64,
    /// Seconds the build took (0 for version 1).
    pub build_secs: f64,
    /// The embedding model.
    pub model: ModelRecord,
    /// The chunker's settings.
    pub chunking: Chunking,
    /// BM25's average chunk length (length normalisation).
    pub bm25_avg_len: Option<f64>,
    /// Hybrid search's default fusion in this version.
    pub fusion: String,
    /// Documents in its source set.
    pub documents: usize,
    /// Chunks in its index.
    pub chunks: usize,
    /// SHA-256 over the source set (every document id and content hash, sorted): equal digests mean
    /// the same documents in the same versions.
    pub sources_digest: String,
    /// The eval gate's verdict (none for version 1).
    pub gate: Option<GateRecord>,
    /// The fusion weight tuning that set `fusion`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuned: Option<TuneRecord>,
    /// What the version was built for (`--note`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How `nova index tune` chose a version's fusion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TuneRecord {
    /// The fusion before tuning.
    pub before: String,
    /// Each fusion tried with its nDCG@10 on the golden set.
    pub tried: Vec<(String, f64)>,
    /// When (Unix seconds).
    pub at: u64,
    /// The evaluation run in the tracking store.
    pub run_id: Option<i64>,
}

/// The source set: document id → content hash.
pub(crate) type Sources = BTreeMap<String, String>;

/// SHA-256 over a source set.
pub(crate) fn digest(sources: &Sources) -> String {
    let mut hasher = Sha256::new();
    for (id, hash) in sources {
        hasher.update(id.as_bytes());
        hasher.update([0]);
        hasher.update(hash.as_bytes());
        hasher.update([0]);
    }
    nova_core::to_hex(&hasher.finalize())
}

/// SHA-256 of the weights file of a model folder (`None` for a hub id or a folder without one).
pub fn weights_sha256(folder: &Path) -> Option<String> {
    let file = ["model.safetensors", "pytorch_model.bin"]
        .iter()
        .map(|f| folder.join(f))
        .find(|p| p.is_file())?;
    let mut reader = fs_err::File::open(&file).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut reader, &mut hasher).ok()?;
    Some(nova_core::to_hex(&hasher.finalize()))
}

/// The version files of one KB.
pub(crate) struct VersionFiles {
    dir: PathBuf,
}

impl VersionFiles {
    pub fn new(layout: &DataLayout, kb: &str) -> Self {
        Self {
            dir: layout.versions_dir(kb),
        }
    }

    fn alias_file(&self) -> PathBuf {
        self.dir.join("alias.json")
    }

    fn record_file(&self, n: u32) -> PathBuf {
        self.dir.join(format!("v{n}.json"))
    }

    fn sources_file(&self, n: u32) -> PathBuf {
        self.dir.join(format!("v{n}.sources.json"))
    }

    /// Which version serves (version 1 when the KB never had a rebuild).
    pub fn alias(&self) -> Result<Alias> {
        let path = self.alias_file();
        if path.is_file() {
            read_json(&path)
        } else {
            Ok(Alias::default())
        }
    }

    /// Switches the alias: one atomic rename, so a crash leaves the old or the new, never neither.
    pub fn set_alias(&self, alias: Alias) -> Result<()> {
        self.ensure_dir()?;
        write_json_atomic(&self.alias_file(), &alias)
    }

    fn ensure_dir(&self) -> Result<()> {
        fs_err::create_dir_all(&self.dir).map_err(crate::files::io(&self.dir))
    }

    /// Version `n`'s record, if there is one.
    pub fn record(&self, n: u32) -> Result<Option<IndexVersion>> {
        let path = self.record_file(n);
        if path.is_file() {
            read_json(&path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Every recorded version, oldest first.
    pub fn records(&self) -> Result<Vec<IndexVersion>> {
        let Ok(entries) = fs_err::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut numbers: Vec<u32> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix('v')?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        numbers
            .into_iter()
            .filter_map(|n| self.record(n).transpose())
            .collect()
    }

    /// The number the next build gets: one above every version recorded or with files.
    pub fn next_number(&self) -> Result<u32> {
        let highest = self.records()?.iter().map(|v| v.version).max().unwrap_or(1);
        let mut n = highest + 1;
        // A build that died before writing its record left a folder: never reuse its number.
        while self.dir.join(format!("v{n}")).exists() {
            n += 1;
        }
        Ok(n)
    }

    /// Writes a version's record (and, when given, its source set).
    pub fn save(&self, record: &IndexVersion, sources: Option<&Sources>) -> Result<()> {
        self.ensure_dir()?;
        if let Some(sources) = sources {
            write_json_atomic(&self.sources_file(record.version), sources)?;
        }
        write_json_atomic(&self.record_file(record.version), record)
    }

    /// A version's source set (empty when it was not kept).
    pub fn sources(&self, n: u32) -> Result<Sources> {
        let path = self.sources_file(n);
        if path.is_file() {
            read_json(&path)
        } else {
            Ok(Sources::new())
        }
    }
}

/// What changed from one version to another.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionDiff {
    /// The older side.
    pub from: u32,
    /// The newer side.
    pub to: u32,
    /// Settings that differ: (setting, from, to).
    pub settings: Vec<(String, String, String)>,
    /// Documents only in `to`.
    pub added: Vec<String>,
    /// Documents only in `from`.
    pub removed: Vec<String>,
    /// Documents in both with another content hash.
    pub changed: Vec<String>,
    /// Documents in both, unchanged.
    pub unchanged: usize,
    /// Golden-set metrics of each side as their gates measured them: (metric, from, to).
    pub metrics: Vec<(String, f64, f64)>,
}

/// Compares two versions and their source sets.
pub(crate) fn diff(
    a: &IndexVersion,
    b: &IndexVersion,
    sources_a: &Sources,
    sources_b: &Sources,
) -> VersionDiff {
    let mut settings = Vec::new();
    let mut setting = |name: &str, x: String, y: String| {
        if x != y {
            settings.push((name.to_owned(), x, y));
        }
    };
    setting("model", a.model.id.clone(), b.model.id.clone());
    setting(
        "model.sha256",
        a.model.sha256.clone().unwrap_or_default(),
        b.model.sha256.clone().unwrap_or_default(),
    );
    setting(
        "chunking.target_words",
        a.chunking.target_words.to_string(),
        b.chunking.target_words.to_string(),
    );
    setting(
        "chunking.overlap_words",
        a.chunking.overlap_words.to_string(),
        b.chunking.overlap_words.to_string(),
    );
    let avg = |v: &IndexVersion| v.bm25_avg_len.map_or("-".into(), |x| format!("{x:.2}"));
    setting("bm25.avg_len", avg(a), avg(b));
    setting("fusion", a.fusion.clone(), b.fusion.clone());
    setting(
        "documents",
        a.documents.to_string(),
        b.documents.to_string(),
    );
    setting("chunks", a.chunks.to_string(), b.chunks.to_string());
    let (mut added, mut removed, mut changed, mut unchanged) = (vec![], vec![], vec![], 0);
    for (id, hash) in sources_b {
        match sources_a.get(id) {
            None => added.push(id.clone()),
            Some(h) if h != hash => changed.push(id.clone()),
            Some(_) => unchanged += 1,
        }
    }
    removed.extend(
        sources_a
            .keys()
            .filter(|id| !sources_b.contains_key(*id))
            .cloned(),
    );
    // Golden-set figures: both from `b`'s gate when it was measured against `a` (one run, same golden
    // set), else each side's own gate.
    let pair = match &b.gate {
        Some(g) if g.compared_with == a.version => Some((g.serving, g.candidate)),
        _ => a
            .gate
            .as_ref()
            .zip(b.gate.as_ref())
            .map(|(x, y)| (x.candidate, y.candidate)),
    };
    let metrics = pair.map_or_else(Vec::new, |(x, y)| {
        x.named()
            .iter()
            .zip(y.named())
            .map(|((k, vx), (_, vy))| ((*k).to_owned(), *vx, vy))
            .collect()
    });
    VersionDiff {
        from: a.version,
        to: b.version,
        settings,
        added,
        removed,
        changed,
        unchanged,
        metrics,
    }
}

/// The gate: every metric of `candidate` at least `serving`'s minus `threshold`. Returns the failures.
pub(crate) fn gate_failures(
    serving: &GateMetrics,
    candidate: &GateMetrics,
    threshold: f64,
) -> Vec<String> {
    serving
        .named()
        .iter()
        .zip(candidate.named())
        .filter(|((_, s), (_, c))| *c < *s - threshold)
        .map(|((k, s), (_, c))| format!("{k} {s:.4} → {c:.4}"))
        .collect()
}

/// An error for a version number the KB does not have.
pub(crate) fn no_such_version(kb: &str, n: u32) -> EngineError {
    EngineError::Invalid(format!(
        "knowledge base `{kb}` has no index version {n} (`nova index list {kb}` shows them)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(n: f64) -> GateMetrics {
        GateMetrics {
            ndcg_at_10: n,
            recall_at_5: n,
            recall_at_100: n,
            mrr_at_10: n,
        }
    }

    #[test]
    fn the_gate_refuses_any_metric_below_the_threshold() {
        assert!(gate_failures(&metrics(0.5), &metrics(0.495), 0.01).is_empty());
        let mut worse = metrics(0.6);
        worse.recall_at_5 = 0.45;
        let failures = gate_failures(&metrics(0.5), &worse, 0.01);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].starts_with("recall_at_5"), "{failures:?}");
    }

    #[test]
    fn source_digests_follow_ids_and_hashes() {
        let a: Sources = [("a".to_string(), "1".to_string())].into();
        let b: Sources = [("a".to_string(), "2".to_string())].into();
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(digest(&a), digest(&a.clone()));
    }
}
