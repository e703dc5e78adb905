//! `nova kb rekey`: re-seals everything a knowledge base stores under the current encryption key —
//! chunk payloads (vectors untouched), the feedback log and router files — so a rotated-out key can be
//! dropped from `encryption.previous_key_files`. A KB written before encryption was on is sealed whole.

use crate::cipher::{open_bytes, seal_bytes, Keyring};
use crate::error::Result;
use crate::kb::KnowledgeBase;
use crate::tickets::ROUTER_CONTEXT;
use nova_core::{AccessFilter, DataLayout, Filter};
use serde::Serialize;
use std::path::Path;

/// What a rekey re-sealed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RekeyReport {
    /// The key everything is now sealed under.
    pub key_id: String,
    /// Chunks re-sealed.
    pub chunks: usize,
    /// Feedback and query-log records re-sealed.
    pub feedback: usize,
    /// Router files re-sealed.
    pub routers: usize,
}

/// Chunks written per store call.
const BATCH: usize = 256;

/// Re-seals `kb` under `keyring`'s current key; the caller holds the KB's writer lock.
pub(crate) fn rekey(
    kb: &KnowledgeBase,
    layout: &DataLayout,
    keyring: &Keyring,
) -> Result<RekeyReport> {
    let mut report = RekeyReport {
        key_id: keyring.current_id().to_owned(),
        ..RekeyReport::default()
    };
    report.chunks = reseal_chunks(kb, keyring)?;
    report.feedback = crate::feedback::rekey(&layout.feedback_file(kb.name()), keyring)?;
    // The query log's records count with the feedback: both are what users typed.
    report.feedback += crate::sealed_log::rekey::<crate::gaps::QueryRecord>(
        &layout.queries_file(kb.name()),
        keyring,
        &crate::gaps::KIND,
    )?;
    report.routers = reseal_routers(&layout.routers_dir(kb.name()), keyring)?;
    kb.set_key_id(keyring.current_id())?;
    Ok(report)
}

/// Re-seals every chunk of one index (`kb`'s serving version, or another version kept for rollback or
/// an A/B test) and records the key in its settings; returns how many chunks.
pub(crate) fn reseal_chunks(kb: &KnowledgeBase, keyring: &Keyring) -> Result<usize> {
    // Every chunk, whoever may read it: the whole index is re-sealed.
    let points = kb
        .store()
        .scan(&Filter::all(), &AccessFilter::system(), None, false)?;
    let mut n = 0;
    let mut batch = Vec::with_capacity(BATCH);
    for p in points {
        let payload = kb.payload(p.payload)?;
        batch.push((p.id, payload.into_map(Some(keyring))?));
        if batch.len() == BATCH {
            n += batch.len();
            kb.store().overwrite_payloads(std::mem::take(&mut batch))?;
        }
    }
    n += batch.len();
    kb.store().overwrite_payloads(batch)?;
    kb.set_key_id(keyring.current_id())?;
    Ok(n)
}

/// Re-seals every saved router version under `dir` (`<label>/vN.json`).
fn reseal_routers(dir: &Path, keyring: &Keyring) -> Result<usize> {
    if !dir.is_dir() {
        return Ok(0);
    }
    let mut n = 0;
    for (rel, file) in crate::files::files_under(dir)? {
        if !rel.ends_with(".json") {
            continue; // `CURRENT` names a version; it holds nothing to seal
        }
        let bytes = fs_err::read(&file).map_err(crate::files::io(&file))?;
        let plain = open_bytes(Some(keyring), bytes, ROUTER_CONTEXT)?;
        crate::files::write_bytes_atomic(
            &file,
            &seal_bytes(Some(keyring), plain, ROUTER_CONTEXT)?,
        )?;
        n += 1;
    }
    Ok(n)
}
