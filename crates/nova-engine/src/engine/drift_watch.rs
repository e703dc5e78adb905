//! Drift of each KB's query stream behind the front door: what every search adds to the window, the
//! report, the reference, and the watch that says which signals just started alerting (the server runs
//! it periodically, sets the gauges and calls the webhook). The statistics are `crate::drift`.

use super::*;
use crate::drift::{figures, signals, DriftReference, DriftReport, Observed};

impl Engine {
    /// Adds a search to `name`'s drift window (when drift watching is on); `kept` is the query as it
    /// may be kept ([`Self::scrubbed`]).
    pub(super) fn observe(
        &self,
        name: &KbName,
        kept: &str,
        embedding: Option<&[f32]>,
        best: Option<f32>,
        hits: usize,
    ) {
        let settings = self.opts.drift;
        if !settings.enabled {
            return;
        }
        let q = Observed {
            embedding: embedding.map(<[f32]>::to_vec),
            best,
            hits,
            text: kept.to_owned(),
        };
        self.drift
            .lock()
            .entry(name.clone())
            .or_default()
            .push(q, settings.window);
    }

    /// The drift of `name`'s query stream against its reference (editors of the KB). A reference is
    /// frozen from the first full window when there is none.
    pub fn drift(&self, ctx: &RequestCtx, name: &KbName) -> Result<DriftReport> {
        ctx.principal.require(Role::Editor, Some(name))?;
        self.drift_report(name, false)
    }

    /// [`Self::drift`], also noting which signals started alerting since the last watch (reported in
    /// `newly_alerting`): what the server's periodic watch runs (administrators).
    pub fn drift_watch(&self, ctx: &RequestCtx, name: &KbName) -> Result<DriftReport> {
        ctx.principal.require(Role::Admin, Some(name))?;
        self.drift_report(name, true)
    }

    /// Makes the current window `name`'s drift reference (administrators of the KB).
    pub fn drift_baseline(&self, ctx: &RequestCtx, name: &KbName) -> Result<DriftReference> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let kb = self.kb(name)?;
        let current = self.current_figures(name, &kb)?;
        if current.queries == 0 {
            return Err(EngineError::Invalid(format!(
                "knowledge base `{name}` has no searches to make a drift reference of yet"
            )));
        }
        let reference = DriftReference {
            at: crate::tasks::now(),
            figures: current,
        };
        crate::files::write_json_atomic(&self.layout.drift_reference_file(name), &reference)?;
        self.drift
            .lock()
            .entry(name.clone())
            .or_default()
            .alerting
            .clear();
        self.auditor
            .record(ctx, "drift.baseline", Some(name), |e| e)?;
        Ok(reference)
    }

    fn drift_report(&self, name: &KbName, watch: bool) -> Result<DriftReport> {
        let settings = self.opts.drift;
        let kb = self.kb(name)?;
        let current = self.current_figures(name, &kb)?;
        let path = self.layout.drift_reference_file(name);
        let mut reference: Option<DriftReference> = if path.is_file() {
            Some(crate::files::read_json(&path)?)
        } else {
            None
        };
        if reference.is_none() && current.queries >= settings.window {
            let frozen = DriftReference {
                at: crate::tasks::now(),
                figures: current.clone(),
            };
            crate::files::write_json_atomic(&path, &frozen)?;
            tracing::info!(kb = %name, queries = current.queries, "drift reference frozen");
            reference = Some(frozen);
        }
        let signals = reference
            .as_ref()
            .map(|r| signals(&current, &r.figures, &settings))
            .unwrap_or_default();
        let mut newly_alerting = Vec::new();
        if watch {
            let mut windows = self.drift.lock();
            let window = windows.entry(name.clone()).or_default();
            let now: std::collections::BTreeSet<String> = signals
                .iter()
                .filter(|s| s.alert)
                .map(|s| s.metric.clone())
                .collect();
            newly_alerting = now.difference(&window.alerting).cloned().collect();
            window.alerting = now;
        }
        Ok(DriftReport {
            kb: name.to_string(),
            reference,
            current,
            signals,
            newly_alerting,
        })
    }

    /// The current window's figures, topped up once from the query log (a process that just started,
    /// or the command line, has seen no searches itself).
    fn current_figures(
        &self,
        name: &KbName,
        kb: &KnowledgeBase,
    ) -> Result<crate::drift::DriftFigures> {
        let settings = self.opts.drift;
        let topped_up = self.drift.lock().get(name).is_some_and(|w| w.topped_up);
        if !topped_up {
            let older = self.logged_queries(name, kb, settings.window)?;
            let mut windows = self.drift.lock();
            let window = windows.entry(name.clone()).or_default();
            let room = settings.window.saturating_sub(window.recent.len());
            // The log also holds the searches already in the window: only what came before them.
            let skip = older.len().saturating_sub(room + window.recent.len());
            let take = older.len().saturating_sub(window.recent.len()).min(room);
            for q in older.into_iter().skip(skip).take(take).rev() {
                window.recent.push_front(q);
            }
            window.topped_up = true;
        }
        let queries: Vec<Observed> = self
            .drift
            .lock()
            .get(name)
            .map(|w| w.recent.iter().cloned().collect())
            .unwrap_or_default();
        let vocab = self.vocabulary(kb)?;
        let bm25 = kb.bm25();
        let terms = |t: &str| bm25.query(t).indices;
        Ok(figures(&queries, &terms, &vocab, settings.low_score))
    }

    /// The last `n` searches of `name`'s query log (refused answers left out), embedded again.
    fn logged_queries(&self, name: &KbName, kb: &KnowledgeBase, n: usize) -> Result<Vec<Observed>> {
        let records: Vec<crate::gaps::QueryRecord> = {
            let _guard = self.query_log_lock.lock();
            crate::sealed_log::read(
                &self.layout.queries_file(name),
                kb.keyring(),
                &crate::gaps::KIND,
            )?
        };
        let tail: Vec<_> = records.into_iter().filter(|r| !r.refused).collect();
        let tail = &tail[tail.len().saturating_sub(n)..];
        if tail.is_empty() {
            return Ok(Vec::new());
        }
        let embedder = self.model()?.embedder.clone();
        let mut out = Vec::with_capacity(tail.len());
        for group in tail.chunks(32) {
            let texts: Vec<&str> = group.iter().map(|r| r.query.as_str()).collect();
            let vectors = embedder.embed(&texts)?;
            out.extend(group.iter().zip(vectors).map(|(r, v)| Observed {
                embedding: Some(v),
                best: r.best,
                hits: r.hits,
                text: r.query.clone(),
            }));
        }
        Ok(out)
    }

    /// Every BM25 term `kb`'s chunks hold, read once per chunk count (an ingest or delete reads it
    /// again at the next report).
    fn vocabulary(&self, kb: &KnowledgeBase) -> Result<Arc<HashSet<u32>>> {
        let chunks = kb.chunk_count(&AccessFilter::system())?;
        let key = format!("{}#{}", kb.name(), kb.version());
        if let Some((n, vocab)) = self.vocabularies.lock().get(&key) {
            if *n == chunks {
                return Ok(vocab.clone());
            }
        }
        let mut terms = HashSet::new();
        let mut after = None;
        loop {
            let (page, more) = kb.store().export_page(after, 512)?;
            after = page.last().map(|c| c.id).or(after);
            for chunk in &page {
                terms.extend(chunk.sparse.indices.iter().copied());
            }
            if !more || page.is_empty() {
                break;
            }
        }
        let vocab = Arc::new(terms);
        self.vocabularies
            .lock()
            .insert(key, (chunks, vocab.clone()));
        Ok(vocab)
    }
}
