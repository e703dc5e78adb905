//! What the engine records in the audit trail, and when: admin actions and writes always (while the
//! trail is on), reads — search, troubleshoot, answer, document reads, ticket suggestions — when
//! `reads` is on. Each record is durable before the engine returns, so a response never goes out for an
//! action the trail does not hold; when the trail cannot be written the action fails
//! (`audit_unavailable`).
//!
//! The record says who (the verified subject), what (the action), where (the KB), the request id, a
//! hash of the query (its text only with `query_text`) and the documents returned, written or deleted.

use crate::cipher::Keyring;
use crate::error::Result;
use nova_audit::{AuditTrail, Event, Sealer, TrailOptions};
use nova_core::{KbName, RequestCtx};
use std::path::Path;
use std::sync::Arc;

/// `[audit]` as the engine uses it; the default is off.
#[derive(Debug, Clone, Default)]
pub struct AuditSettings {
    /// Record at all.
    pub enabled: bool,
    /// Also record reads.
    pub reads: bool,
    /// Keep query text in read records (otherwise only its SHA-256).
    pub query_text: bool,
    /// Sealing, rotation, retention.
    pub trail: TrailOptions,
}

/// The engine's recorder.
pub(crate) struct Auditor {
    settings: AuditSettings,
    trail: Option<AuditTrail>,
    /// Seals kept query text (encryption at rest); hashes and ids stay clear so the trail verifies.
    keyring: Option<Arc<Keyring>>,
}

/// Sealed query text is bound to this context.
const CONTEXT: &str = "audit";

impl Auditor {
    /// Opens the trail in `dir` when `settings.enabled`.
    pub fn open(
        dir: &Path,
        settings: AuditSettings,
        keyring: Option<Arc<Keyring>>,
    ) -> Result<Self> {
        let trail = if settings.enabled {
            Some(AuditTrail::open(dir, settings.trail.clone())?)
        } else {
            None
        };
        Ok(Self {
            settings,
            trail,
            keyring,
        })
    }

    /// Whether reads are recorded.
    pub fn records_reads(&self) -> bool {
        self.trail.is_some() && self.settings.reads
    }

    /// How the trail's records are sealed (also when recording is off: verifying an existing trail).
    pub fn sealer(&self) -> &Sealer {
        &self.settings.trail.sealer
    }

    /// A write or an administrative action (recorded whenever the trail is on).
    pub fn record(
        &self,
        ctx: &RequestCtx,
        action: &str,
        kb: Option<&KbName>,
        fill: impl FnOnce(Event) -> Event,
    ) -> Result<()> {
        let Some(trail) = &self.trail else {
            return Ok(());
        };
        let mut event = Event::new(action, &ctx.principal.subject, &ctx.request_id);
        if let Some(kb) = kb {
            event = event.kb(kb.as_str());
        }
        trail.append(fill(event))?;
        Ok(())
    }

    /// A read of `kb` for `query`, returning `doc_ids` (recorded when reads are on).
    pub fn read<'a>(
        &self,
        ctx: &RequestCtx,
        action: &str,
        kb: &KbName,
        query: Option<&str>,
        doc_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        if !self.records_reads() {
            return Ok(());
        }
        let keep_text = self.settings.query_text;
        let sealed = match (query, &self.keyring) {
            (Some(q), Some(k)) if keep_text => Some(k.seal(q.as_bytes(), CONTEXT)?),
            _ => None,
        };
        self.record(ctx, action, Some(kb), |e| {
            let mut e = e.doc_ids(dedup(doc_ids));
            if let Some(q) = query {
                e = e.query(q, keep_text);
            }
            if sealed.is_some() {
                e.query = sealed;
            }
            e
        })
    }

    /// Opens query text this auditor sealed, in place; text sealed under a key no longer configured is
    /// left sealed (the record is still shown).
    pub fn reveal(&self, event: &mut Event) {
        let (Some(k), Some(q)) = (&self.keyring, &event.query) else {
            return;
        };
        if crate::cipher::key_id_of(q).is_some() {
            if let Ok(text) = k.open(q, CONTEXT) {
                event.query = Some(String::from_utf8_lossy(&text).into_owned());
            }
        }
    }
}

/// Ids in first-seen order without repeats (a document returned as a passage and a ticket is one read).
fn dedup<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(*id))
        .map(str::to_owned)
        .collect()
}
