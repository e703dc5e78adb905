//! Index versions behind the engine's front door: golden sets, blue-green rebuilds behind the eval
//! gate, the serving alias, rollback and fusion tuning. The records and files are `crate::versions`;
//! this is the policy: who may, what is locked while, what is audited.

use super::*;
use crate::eval::{evaluate, BeirSet, EvalRuns};
use crate::fusion::Fusion;
use crate::meta::Chunking;
use crate::payload::{keys, ChunkPayload};
use crate::versions::{
    digest, gate_failures, no_such_version, Alias, GateMetrics, GateRecord, IndexVersion,
    ModelRecord, Sources, TuneRecord, VersionDiff, VersionFiles, VersionState,
};
use nova_core::Condition;

/// Judged queries attached to a KB: what a rebuild must keep answering.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GoldenSet {
    /// Where it came from (a file or folder name).
    pub name: String,
    /// (query id, text).
    pub queries: Vec<(String, String)>,
    /// query id → document id → grade.
    pub qrels: HashMap<String, HashMap<String, u32>>,
}

impl GoldenSet {
    /// The judged queries of an evaluation set (its corpus is the KB's documents).
    pub fn of(name: impl Into<String>, set: BeirSet) -> Self {
        Self {
            name: name.into(),
            queries: set.queries,
            qrels: set.qrels,
        }
    }

    /// `name@sha256-prefix`: names the exact set a gate ran.
    fn label(&self) -> String {
        let mut texts: Vec<String> = self
            .queries
            .iter()
            .map(|(id, q)| format!("{id}\t{q}"))
            .collect();
        let mut judged: Vec<String> = self
            .qrels
            .iter()
            .flat_map(|(q, d)| d.iter().map(move |(d, g)| format!("{q}\t{d}\t{g}")))
            .collect();
        texts.sort();
        judged.sort();
        let sources: Sources = texts
            .into_iter()
            .chain(judged)
            .enumerate()
            .map(|(i, t)| (format!("{i:08}"), t))
            .collect();
        format!("{}@{}", self.name, &digest(&sources)[..12])
    }

    fn as_eval_set(&self) -> BeirSet {
        BeirSet {
            corpus: Vec::new(),
            queries: self.queries.clone(),
            qrels: self.qrels.clone(),
        }
    }
}

/// What attaching a golden set found.
#[derive(Debug, Clone, Serialize)]
pub struct GoldenReport {
    /// Queries kept (each with at least one judged document in the KB).
    pub queries: usize,
    /// Judged documents the KB does not hold (their queries are kept if another judged one is there).
    pub missing_documents: usize,
    /// Queries dropped because none of their judged documents is in the KB.
    pub dropped_queries: usize,
}

/// What `nova index build` asks for; unset fields keep the serving version's settings.
#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    /// Words per chunk (at least 8).
    pub chunk_words: Option<usize>,
    /// Words repeated between the pieces of a split paragraph.
    pub overlap_words: Option<usize>,
    /// Hybrid search's default fusion.
    pub fusion: Option<Fusion>,
    /// How far below the serving version a golden-set metric may fall (0.01 by default).
    pub threshold: Option<f64>,
    /// Build and evaluate, but keep serving the old version even when the gate passes.
    pub no_switch: bool,
    /// Why (kept in the lineage).
    pub note: Option<String>,
}

/// The threshold a rebuild's metrics may fall by when the build does not say.
pub const DEFAULT_GATE_THRESHOLD: f64 = 0.01;

/// What a build did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildReport {
    /// The new version's record (its gate verdict included).
    pub version: IndexVersion,
    /// The version serving now.
    pub serving: u32,
    /// Whether the alias switched to the new version.
    pub switched: bool,
}

/// What `nova index tune` did.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    /// The version tuned (the serving one).
    pub version: u32,
    /// The fusion chosen.
    pub chosen: String,
    /// Its nDCG@10 on the golden set.
    pub ndcg_at_10: f64,
    /// The record kept in the version.
    pub record: TuneRecord,
}

/// Fusions `nova index tune` tries when not told: convex α from 0 to 1 by 0.1, RRF, and the adaptive
/// default.
pub fn tune_grid() -> Vec<Fusion> {
    (0..=10)
        .map(|i| Fusion::Convex {
            alpha: f64::from(i) / 10.0,
        })
        .chain([Fusion::Rrf { k: crate::RRF_K }, Fusion::default()])
        .collect()
}

impl Engine {
    /// Attaches the golden query set rebuilds of `name` are gated on, replacing any earlier one
    /// (administrators of the KB). Judged documents are matched to the KB's by id, or by a path that
    /// ends with the id (`docs/vpn/index.md` judges `vpn/index.md`).
    pub fn attach_golden(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        mut golden: GoldenSet,
    ) -> Result<GoldenReport> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let kb = self.kb(name)?;
        let stored = self.source_set(&kb)?;
        let (mut missing, mut dropped) = (0, 0);
        let resolve = |judged: &str| -> Option<String> {
            if stored.contains_key(judged) {
                return Some(judged.to_owned());
            }
            stored
                .keys()
                .find(|id| judged.ends_with(&format!("/{id}")))
                .cloned()
        };
        for grades in golden.qrels.values_mut() {
            let before = grades.len();
            *grades = grades
                .drain()
                .filter_map(|(d, g)| resolve(&d).map(|d| (d, g)))
                .collect();
            missing += before - grades.len();
        }
        golden.queries.retain(|(id, _)| {
            let kept = golden
                .qrels
                .get(id)
                .is_some_and(|g| g.values().any(|&x| x > 0));
            dropped += usize::from(!kept);
            kept
        });
        if golden.queries.is_empty() {
            return Err(EngineError::Invalid(format!(
                "none of the golden set's judged documents is in knowledge base `{name}`: check \
                 that the qrels name its document ids (`nova docs list {name}`)"
            )));
        }
        crate::files::write_sealed_json(
            &self.layout.golden_file(name),
            &golden,
            kb.keyring(),
            GOLDEN_CONTEXT,
        )?;
        let report = GoldenReport {
            queries: golden.queries.len(),
            missing_documents: missing,
            dropped_queries: dropped,
        };
        self.auditor.record(ctx, "index.golden", Some(name), |e| {
            e.detail(serde_json::json!({"name": golden.name, "queries": report.queries}))
        })?;
        Ok(report)
    }

    /// The KB's golden set; an error that says how to attach one when there is none.
    fn golden(&self, kb: &KnowledgeBase) -> Result<GoldenSet> {
        let path = self.layout.golden_file(kb.name());
        if !path.is_file() {
            return Err(EngineError::Invalid(format!(
                "knowledge base `{0}` has no golden query set to gate on: attach one first \
                 (`nova kb attach-eval {0} --beir DIR` or `--docs DIR --queries FILE`)",
                kb.name()
            )));
        }
        crate::files::read_sealed_json(&path, kb.keyring(), GOLDEN_CONTEXT)
    }

    /// Every index version of `name`, oldest first (editors of the KB).
    pub fn versions(&self, ctx: &RequestCtx, name: &KbName) -> Result<Vec<IndexVersion>> {
        ctx.principal.require(Role::Editor, Some(name))?;
        let kb = self.kb(name)?;
        self.ensure_first_record(&kb)?;
        VersionFiles::new(&self.layout, name.as_str()).records()
    }

    /// One version's record.
    pub fn version(&self, ctx: &RequestCtx, name: &KbName, n: u32) -> Result<IndexVersion> {
        self.versions(ctx, name)?
            .into_iter()
            .find(|v| v.version == n)
            .ok_or_else(|| no_such_version(name.as_str(), n))
    }

    /// The version serving `name`.
    pub fn serving_version(&self, ctx: &RequestCtx, name: &KbName) -> Result<u32> {
        ctx.principal.require(Role::Reader, Some(name))?;
        Ok(self.kb(name)?.version())
    }

    /// What changed from version `a` to `b`: settings, documents, golden-set figures.
    pub fn diff_versions(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        a: u32,
        b: u32,
    ) -> Result<VersionDiff> {
        let versions = self.versions(ctx, name)?;
        let find = |n: u32| {
            versions
                .iter()
                .find(|v| v.version == n)
                .ok_or_else(|| no_such_version(name.as_str(), n))
        };
        let (va, vb) = (find(a)?, find(b)?);
        let files = VersionFiles::new(&self.layout, name.as_str());
        Ok(crate::versions::diff(
            va,
            vb,
            &files.sources(a)?,
            &files.sources(b)?,
        ))
    }

    /// Version 1's record, made from what is stored the first time a KB's versions are asked for.
    fn ensure_first_record(&self, kb: &KnowledgeBase) -> Result<()> {
        let files = VersionFiles::new(&self.layout, kb.name().as_str());
        if kb.version() != 1 || files.record(1)?.is_some() {
            return Ok(());
        }
        let sources = self.source_set(kb)?;
        let record = self.record_of(kb, &sources, None, VersionState::Serving)?;
        files.save(&record, Some(&sources))
    }

    /// A lineage record describing `kb` as it is now.
    fn record_of(
        &self,
        kb: &KnowledgeBase,
        sources: &Sources,
        parent: Option<u32>,
        state: VersionState,
    ) -> Result<IndexVersion> {
        let meta = kb.meta();
        let dim = kb.store().dim();
        Ok(IndexVersion {
            version: kb.version(),
            parent,
            state,
            built_at: crate::tasks::now(),
            build_secs: 0.0,
            model: ModelRecord {
                sha256: crate::versions::weights_sha256(Path::new(&meta.model)),
                id: crate::kb::model_id_of(&meta.model),
                dim,
            },
            chunking: kb.chunking(),
            bm25_avg_len: meta.bm25_avg_len,
            fusion: kb.fusion().unwrap_or_default().to_string(),
            documents: sources.len(),
            chunks: kb.chunk_count(&AccessFilter::system())?,
            sources_digest: digest(sources),
            gate: None,
            tuned: None,
            note: None,
        })
    }

    /// Every document id with its content hash (chunk 0 of each stored document).
    fn source_set(&self, kb: &KnowledgeBase) -> Result<Sources> {
        let first = Filter::must([Condition::eq(keys::CHUNK, 0)]);
        let points = kb.store().scan(
            &first,
            &AccessFilter::system(),
            Some(&[keys::DOC_ID, keys::HASH]),
            false,
        )?;
        points
            .into_iter()
            .map(|p| kb.payload(p.payload).map(|c| (c.doc_id, c.hash)))
            .collect()
    }

    /// Builds a new index version of `name` beside the serving one from the documents it holds, with
    /// the settings `spec` changes, and scores both on the KB's golden set. When no metric falls by
    /// more than the threshold the alias switches to it (unless `no_switch`); otherwise the new index
    /// is deleted and its record kept as refused. Searches keep being answered by the serving version
    /// throughout; ingests into the KB wait until the build ends, so the new version misses nothing.
    /// Administrators of the KB.
    pub fn build_version(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        spec: &BuildSpec,
        progress: &(dyn Fn(IngestProgress) + Sync),
    ) -> Result<BuildReport> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let threshold = spec.threshold.unwrap_or(DEFAULT_GATE_THRESHOLD);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(EngineError::Invalid(format!(
                "the gate's `threshold` must be between 0 and 1, got {threshold}"
            )));
        }
        let serving = self.kb(name)?;
        let current = serving.chunking();
        let chunking = Chunking {
            target_words: spec.chunk_words.unwrap_or(current.target_words),
            overlap_words: spec.overlap_words.unwrap_or(current.overlap_words),
        };
        if chunking.target_words < 8 {
            return Err(EngineError::Invalid(format!(
                "chunks must be at least 8 words (`chunk_words`), got {}",
                chunking.target_words
            )));
        }
        let golden = self.golden(&serving)?;
        let model = self.model()?;
        if model.embedder.model_id() != serving.meta().model {
            // Query vectors come from the loaded model: a version built with another could not be
            // searched by this process.
            tracing::warn!(kb = %name, "the loaded model differs from the serving version's");
        }
        let started = Instant::now();
        let _writer = serving.writer.lock();
        self.disk.check()?;
        self.ensure_first_record(&serving)?;
        let files = VersionFiles::new(&self.layout, name.as_str());
        let n = files.next_number()?;
        let physical = name.version(n);
        let meta = KbMeta {
            bm25_avg_len: None,
            model: model.embedder.model_id().to_owned(),
            redact_pii: serving.redacts_pii(),
            key_id: self.keyring.as_ref().map(|k| k.current_id().to_owned()),
            chunking: Some(chunking),
            fusion: spec
                .fusion
                .or_else(|| serving.fusion())
                .map(|f| f.to_string()),
        };
        let candidate = self.create_version(&physical, meta, serving.lock())?;
        let built = self.fill_and_gate(&serving, &candidate, &golden, threshold, progress);
        let (sources, gate) = match built {
            Ok(done) => done,
            Err(e) => {
                drop(candidate);
                self.delete_version(&physical);
                return Err(e);
            }
        };
        let passed = gate.passed;
        let mut record = self.record_of(
            &candidate,
            &sources,
            Some(serving.version()),
            VersionState::Candidate,
        )?;
        record.build_secs = started.elapsed().as_secs_f64();
        record.gate = Some(gate);
        record.note = spec.note.clone();
        let switched = passed && !spec.no_switch;
        if passed {
            files.save(&record, Some(&sources))?;
            if switched {
                self.switch_locked(name, &serving, candidate)?;
                record.state = VersionState::Serving;
            }
        } else {
            record.state = VersionState::Refused;
            drop(candidate);
            self.delete_version(&physical);
            files.save(&record, Some(&sources))?;
        }
        self.auditor.record(ctx, "index.build", Some(name), |e| {
            e.detail(serde_json::json!({
                "version": n, "passed": passed, "switched": switched,
                "failures": record.gate.as_ref().map(|g| g.failures.clone()),
            }))
        })?;
        Ok(BuildReport {
            serving: if switched { n } else { serving.version() },
            version: record,
            switched,
        })
    }

    /// Creates index version `physical`'s store and settings (not yet serving).
    fn create_version(
        &self,
        physical: &KbName,
        meta: KbMeta,
        lock: Arc<KbLock>,
    ) -> Result<Arc<KnowledgeBase>> {
        let dir = self.layout.kb_dir(physical);
        fs_err::create_dir_all(&dir).map_err(crate::files::io(&dir))?;
        let store = self
            .backend
            .create(physical, &store_schema(self.model()?.embedder.dim()));
        let store = match store {
            Ok(s) => s,
            Err(e) => {
                self.delete_version(physical);
                return Err(e.into());
            }
        };
        meta.save(&self.layout.meta_file(physical))?;
        Ok(self.wrap(physical, store, meta, lock))
    }

    /// Deletes an index version's store and folder (best effort: a leftover folder only keeps its
    /// number from being reused).
    fn delete_version(&self, physical: &KbName) {
        if let Err(e) = self.backend.drop_kb(physical) {
            tracing::warn!(version = %physical, "index version's store not deleted: {e}");
        }
        let dir = self.layout.kb_dir(physical);
        if let Err(e) = fs_err::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(version = %physical, "index version's folder not deleted: {e}");
            }
        }
    }

    /// Copies `serving`'s documents into `candidate` (cut and indexed with its settings) and scores
    /// both on the golden set.
    fn fill_and_gate(
        &self,
        serving: &KnowledgeBase,
        candidate: &KnowledgeBase,
        golden: &GoldenSet,
        threshold: f64,
        progress: &(dyn Fn(IngestProgress) + Sync),
    ) -> Result<(Sources, GateRecord)> {
        let sources = self.source_set(serving)?;
        let docs = sources
            .keys()
            .filter_map(|id| rebuild_document(serving, id).transpose())
            .collect::<Result<Vec<_>>>()?;
        candidate.set_avg_len(crate::ingest::mean_tokens(
            &docs,
            candidate.chunking().into(),
        ))?;
        let embedder = self.model()?.embedder.clone();
        crate::ingest::ingest(
            candidate,
            embedder.as_ref(),
            &docs,
            &self.disk,
            progress,
            &|| false,
            Some(&sources),
        )?;
        candidate.optimize()?;
        let vectors = self.golden_vectors(golden)?;
        let before = self.golden_metrics(serving, golden, &vectors, None)?;
        let after = self.golden_metrics(candidate, golden, &vectors, None)?;
        let failures = gate_failures(&before, &after, threshold);
        let mut gate = GateRecord {
            passed: failures.is_empty(),
            threshold,
            compared_with: serving.version(),
            golden: golden.label(),
            queries: golden.queries.len(),
            serving: before,
            candidate: after,
            failures,
            run_id: None,
        };
        gate.run_id = self.record_gate_run(serving.name(), candidate, &gate);
        Ok((sources, gate))
    }

    /// Each golden query's embedding, computed once for every version and fusion scored.
    fn golden_vectors(&self, golden: &GoldenSet) -> Result<HashMap<String, Vec<f32>>> {
        let embedder = self.model()?.embedder.clone();
        let mut out = HashMap::with_capacity(golden.queries.len());
        for (_, text) in &golden.queries {
            if !out.contains_key(text) {
                let v = embedder.embed(&[text.as_str()])?;
                out.insert(text.clone(), v.into_iter().next().unwrap_or_default());
            }
        }
        Ok(out)
    }

    /// Hybrid search's figures on the golden set in `kb` with `fusion` (the version's own when `None`).
    fn golden_metrics(
        &self,
        kb: &KnowledgeBase,
        golden: &GoldenSet,
        vectors: &HashMap<String, Vec<f32>>,
        fusion: Option<Fusion>,
    ) -> Result<GateMetrics> {
        let fusion = fusion.or_else(|| kb.fusion()).unwrap_or_default();
        let access = AccessFilter::system();
        let search = |query: &str, opts: &SearchOptions| {
            let dense = vectors.get(query).map(Vec::as_slice);
            crate::search::search(kb, &access, query, dense, opts)
        };
        let reports = evaluate(
            &golden.as_eval_set(),
            EvalRuns {
                modes: &[Mode::Hybrid],
                fusions: &[fusion],
            },
            &SearchOptions::default(),
            &search,
            &mut |_| {},
        )?;
        reports
            .first()
            .map(GateMetrics::of)
            .ok_or_else(|| EngineError::Internal("the gate's evaluation returned nothing".into()))
    }

    /// Records a gate's evaluation in the tracking store; a failure to record is logged, not fatal.
    fn record_gate_run(
        &self,
        name: &KbName,
        candidate: &KnowledgeBase,
        gate: &GateRecord,
    ) -> Option<i64> {
        let mut run = nova_track::NewRun {
            kind: "index-gate".into(),
            name: format!("gate {name} v{}", candidate.version()),
            started_at: crate::tasks::now(),
            ended_at: crate::tasks::now(),
            report: serde_json::to_value(gate).unwrap_or_default(),
            ..Default::default()
        };
        let chunking = candidate.chunking();
        for (k, v) in [
            ("kb", name.to_string()),
            ("version", candidate.version().to_string()),
            ("compared_with", gate.compared_with.to_string()),
            ("golden", gate.golden.clone()),
            ("chunking.target_words", chunking.target_words.to_string()),
            ("chunking.overlap_words", chunking.overlap_words.to_string()),
            ("fusion", candidate.fusion().unwrap_or_default().to_string()),
            ("threshold", gate.threshold.to_string()),
            ("passed", gate.passed.to_string()),
        ] {
            run.params.insert(k.into(), v);
        }
        for (side, m) in [("serving", &gate.serving), ("candidate", &gate.candidate)] {
            for (k, v) in m.named() {
                run.metrics.insert(format!("{side}.{k}"), v);
            }
        }
        self.record_run_quietly(name, &run, "the gate's evaluation")
    }

    /// Records one of the engine's own runs (a gate, a tuning) in the tracking store: its number, or
    /// `None` after a warning — a tracking store that cannot be written never fails the build or tuning.
    fn record_run_quietly(
        &self,
        name: &KbName,
        run: &nova_track::NewRun,
        what: &str,
    ) -> Option<i64> {
        self.run_store()
            .and_then(|s| Ok(s.record(run)?))
            .map_err(|e| tracing::warn!(kb = %name, "{what} run was not recorded: {e}"))
            .ok()
    }

    /// Switches `name` to another version: `to`, or the one that served before (rollback). At once:
    /// the version is still on disk. Administrators of the KB.
    pub fn switch_version(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        to: Option<u32>,
    ) -> Result<(u32, u32)> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let serving = self.kb(name)?;
        let _writer = serving.writer.lock();
        let files = VersionFiles::new(&self.layout, name.as_str());
        let from = serving.version();
        let to = match to.or(files.alias()?.previous) {
            Some(n) => n,
            None => {
                return Err(EngineError::Invalid(format!(
                    "knowledge base `{name}` has no earlier version to roll back to"
                )))
            }
        };
        if to == from {
            return Ok((from, to));
        }
        let record = files
            .record(to)?
            .ok_or_else(|| no_such_version(name.as_str(), to))?;
        if matches!(record.state, VersionState::Refused | VersionState::Retired) {
            return Err(EngineError::Invalid(format!(
                "version {to} of `{name}` has no index any more (it was {}); build a new one",
                if record.state == VersionState::Refused {
                    "refused by the eval gate"
                } else {
                    "retired"
                }
            )));
        }
        // An A/B test may hold that version open already (a store opens once).
        let target = match self.ab_candidate(name, to) {
            Some(open) => open,
            None => self.open_version(&name.version(to), serving.lock())?,
        };
        self.switch_locked(name, &serving, target)?;
        self.auditor.record(ctx, "index.switch", Some(name), |e| {
            e.detail(serde_json::json!({"from": from, "to": to}))
        })?;
        Ok((from, to))
    }

    /// Points the alias at `target`, keeps `serving` as the standby and retires the version that was
    /// standby before. The caller holds `serving`'s writer lock.
    fn switch_locked(
        &self,
        name: &KbName,
        serving: &KnowledgeBase,
        target: Arc<KnowledgeBase>,
    ) -> Result<()> {
        let files = VersionFiles::new(&self.layout, name.as_str());
        let old = files.alias()?;
        let alias = Alias {
            serving: target.version(),
            previous: Some(serving.version()),
        };
        files.set_alias(alias)?;
        // Requests already holding the old version finish on it; new ones get the new.
        self.open.write().insert(name.clone(), target);
        let mark = |n: u32, state: VersionState| -> Result<()> {
            if let Some(mut r) = files.record(n)? {
                r.state = state;
                files.save(&r, None)?;
            }
            Ok(())
        };
        mark(alias.serving, VersionState::Serving)?;
        mark(serving.version(), VersionState::Standby)?;
        if let Some(p) = old.previous {
            if p != alias.serving && p != serving.version() {
                mark(p, VersionState::Retired)?;
                if p > 1 {
                    self.delete_version(&name.version(p));
                } else {
                    // Version 1 lives in the KB's own folder, beside its logs: only its chunks go.
                    let v1 = self.open_version(name, serving.lock())?;
                    v1.store().delete(&Filter::all())?;
                }
            }
        }
        Ok(())
    }

    /// Re-seals the chunks of `serving`'s other index versions that still have an index, and the golden
    /// set, under `keyring`'s current key (`nova kb rekey`); the caller holds `serving`'s writer lock.
    pub(super) fn reseal_versions(
        &self,
        serving: &KnowledgeBase,
        keyring: &crate::cipher::Keyring,
    ) -> Result<usize> {
        let name = serving.name();
        let golden = self.layout.golden_file(name);
        if golden.is_file() {
            let set: GoldenSet =
                crate::files::read_sealed_json(&golden, Some(keyring), GOLDEN_CONTEXT)?;
            crate::files::write_sealed_json(&golden, &set, Some(keyring), GOLDEN_CONTEXT)?;
        }
        let mut chunks = 0;
        for v in VersionFiles::new(&self.layout, name.as_str()).records()? {
            if v.version == serving.version()
                || !matches!(v.state, VersionState::Standby | VersionState::Candidate)
            {
                continue;
            }
            // A version an A/B test has open is re-sealed through that handle (a store opens once).
            let open = self.ab_candidate(name, v.version);
            let kb = match open {
                Some(kb) => kb,
                None => self.open_version(&name.version(v.version), serving.lock())?,
            };
            chunks += crate::rekey::reseal_chunks(&kb, keyring)?;
        }
        Ok(chunks)
    }

    /// Scores the serving version on the golden set with each of `fusions` ([`tune_grid`] when empty)
    /// and makes the best by nDCG@10 its default fusion (kept when none beats it). Administrators.
    pub fn tune_fusion(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        fusions: &[Fusion],
    ) -> Result<TuneReport> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let kb = self.kb(name)?;
        let golden = self.golden(&kb)?;
        self.ensure_first_record(&kb)?;
        let grid = if fusions.is_empty() {
            tune_grid()
        } else {
            fusions.to_vec()
        };
        let current = kb.fusion().unwrap_or_default();
        let vectors = self.golden_vectors(&golden)?;
        let mut tried = Vec::with_capacity(grid.len() + 1);
        let others = grid.into_iter().filter(|f| *f != current);
        for fusion in std::iter::once(current).chain(others) {
            let m = self.golden_metrics(&kb, &golden, &vectors, Some(fusion))?;
            tried.push((fusion, m.ndcg_at_10));
        }
        // The current fusion is first, so a tie keeps it.
        let (best, score) =
            tried
                .iter()
                .copied()
                .fold(tried[0], |b, t| if t.1 > b.1 + 1e-12 { t } else { b });
        let mut record = TuneRecord {
            before: current.to_string(),
            tried: tried.iter().map(|(f, s)| (f.to_string(), *s)).collect(),
            at: crate::tasks::now(),
            run_id: None,
        };
        record.run_id = self.record_tune_run(name, kb.version(), &golden, &record, best);
        kb.set_fusion(best)?;
        let files = VersionFiles::new(&self.layout, name.as_str());
        if let Some(mut r) = files.record(kb.version())? {
            r.fusion = best.to_string();
            r.tuned = Some(record.clone());
            files.save(&r, None)?;
        }
        self.auditor.record(ctx, "index.tune", Some(name), |e| {
            e.detail(serde_json::json!({"before": record.before, "chosen": best.to_string()}))
        })?;
        Ok(TuneReport {
            version: kb.version(),
            chosen: best.to_string(),
            ndcg_at_10: score,
            record,
        })
    }

    fn record_tune_run(
        &self,
        name: &KbName,
        version: u32,
        golden: &GoldenSet,
        record: &TuneRecord,
        best: Fusion,
    ) -> Option<i64> {
        let mut run = nova_track::NewRun {
            kind: "index-tune".into(),
            name: format!("tune {name} v{version}"),
            started_at: record.at,
            ended_at: crate::tasks::now(),
            report: serde_json::to_value(record).unwrap_or_default(),
            ..Default::default()
        };
        run.params.insert("kb".into(), name.to_string());
        run.params.insert("version".into(), version.to_string());
        run.params.insert("golden".into(), golden.label());
        run.params.insert("chosen".into(), best.to_string());
        for (fusion, ndcg) in &record.tried {
            run.metrics
                .insert(format!("hybrid-{fusion}.ndcg_at_10"), *ndcg);
        }
        self.record_run_quietly(name, &run, "the tuning")
    }
}

/// The golden set's sealing context (bound to its purpose, so sealed text of another file does not
/// open as a golden set).
const GOLDEN_CONTEXT: &str = "golden-set";

/// A stored document read back whole, for a rebuild: its chunks' text joined again, headings restored
/// where the section path changes, the words a split paragraph repeats at the start of its next piece
/// removed. Metadata (title, tags, ACL, fields) as stored.
fn rebuild_document(kb: &KnowledgeBase, id: &str) -> Result<Option<nova_ingest::Document>> {
    let chunks = kb.doc_chunks(id, &AccessFilter::system())?;
    let Some(first) = chunks.first() else {
        return Ok(None);
    };
    let mut doc = nova_ingest::Document::new(id, &first.title, &first.source, "");
    doc.kind = first.kind.clone();
    doc.tags = first.tags.clone();
    doc.acl = first.acl.clone();
    doc.fields = first
        .metadata
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k.clone(), v)
        })
        .collect();
    doc.text = join_chunks(&chunks, kb.chunking().overlap_words);
    Ok(Some(doc))
}

/// The text of `chunks` as one document (see [`rebuild_document`]).
fn join_chunks(chunks: &[ChunkPayload], overlap: usize) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut path: &[String] = &[];
    let mut previous: Option<&str> = None;
    for c in chunks {
        if c.headings.as_slice() != path {
            // Headings below the common prefix are opened again at their depth.
            let common = path
                .iter()
                .zip(&c.headings)
                .take_while(|(a, b)| a == b)
                .count();
            for (depth, h) in c.headings.iter().enumerate().skip(common) {
                blocks.push(format!("{} {h}", "#".repeat((depth + 1).min(6))));
            }
            path = &c.headings;
            previous = None;
        }
        let rest = previous.and_then(|prev| strip_overlap(prev, &c.text, overlap));
        match (rest, blocks.last_mut()) {
            // The next piece of a split paragraph: the same paragraph goes on.
            (Some(rest), Some(last)) => {
                if !rest.is_empty() {
                    last.push(' ');
                    last.push_str(rest);
                }
            }
            _ => blocks.push(c.text.clone()),
        }
        previous = Some(&c.text);
    }
    blocks.join("\n\n")
}

/// `next` without its first `n` words when they repeat `prev`'s last `n` (so `next` continues a
/// paragraph split with that overlap); `None` when they do not.
fn strip_overlap<'a>(prev: &str, next: &'a str, n: usize) -> Option<&'a str> {
    if n == 0 || next.contains("\n\n") || prev.contains("\n\n") {
        return None;
    }
    let tail: Vec<&str> = prev.split_whitespace().rev().take(n).collect();
    let head: Vec<&str> = next.split_whitespace().take(n).collect();
    if tail.len() < n || head.len() < n || !tail.iter().rev().eq(head.iter()) {
        return None;
    }
    // Skip exactly n words and the whitespace after them.
    let mut rest = next;
    for _ in 0..n {
        rest = rest.trim_start();
        rest = rest.find(char::is_whitespace).map_or("", |i| &rest[i..]);
    }
    Some(rest.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nova_ingest::{chunk, ChunkOptions, Document};

    #[test]
    fn a_document_read_back_from_its_chunks_chunks_the_same() {
        let words: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
        let text = format!(
            "intro para\n\n# Install\n\n{}\n\nshort one\n\n## Docker\n\nrun it\n\n# Use\n\nsearch",
            words.join(" ")
        );
        let doc = Document::new("d", "T", "s", text);
        let opts = ChunkOptions {
            target_words: 40,
            overlap_words: 10,
        };
        let chunks = chunk(&doc, opts);
        let payloads: Vec<ChunkPayload> = chunks
            .iter()
            .map(|c| ChunkPayload {
                headings: c.headings.clone(),
                text: c.text.clone(),
                ..ChunkPayload::default()
            })
            .collect();
        let again = Document::new("d", "T", "s", join_chunks(&payloads, 10));
        let rechunked: Vec<(Vec<String>, String)> = chunk(&again, opts)
            .into_iter()
            .map(|c| (c.headings, c.text))
            .collect();
        let original: Vec<(Vec<String>, String)> =
            chunks.into_iter().map(|c| (c.headings, c.text)).collect();
        assert_eq!(rechunked, original);
    }

    #[test]
    fn overlap_is_stripped_only_when_it_repeats() {
        assert_eq!(strip_overlap("a b c d", "c d e f", 2), Some("e f"));
        assert_eq!(strip_overlap("a b c d", "x d e f", 2), None);
        assert_eq!(strip_overlap("a b", "a b", 0), None);
    }
}
