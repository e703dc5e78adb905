//! The ingest pipeline: documents in, durable chunks out. Unchanged documents (same content hash) are
//! skipped; a changed one is written as a new version beside the old, and the old version is deleted
//! only once the new one is committed, so a reader always finds one whole version. Chunks are embedded
//! in batches of whole documents while a writer thread commits the previous batch.

use crate::disk::DiskGuard;
use crate::error::{EngineError, Result};
use crate::kb::{KnowledgeBase, DEFAULT_AVG_LEN};
use crate::payload::{chunk_id, indexed_text, keys, ChunkPayload};
use nova_core::{AccessFilter, Condition, Filter};
use nova_embed::Embedder;
use nova_ingest::{chunk, ChunkOptions, Document};
use nova_store::{Bm25Encoder, ChunkRecord};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Chunks embedded and committed together; each committed batch is durable.
const COMMIT_CHUNKS: usize = 256;
/// Documents whose stored versions are looked up in one store query.
const LOOKUP_DOCS: usize = 256;
/// Batches being embedded at once. With one, the cores idled at the end of every batch (its last
/// forward passes leave a worker without work) and while the batch's BM25 vectors and payloads were
/// built; a second batch in flight fills those gaps.
const EMBED_IN_FLIGHT: usize = 2;

/// What an ingest run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    /// New documents.
    pub added: usize,
    /// Documents whose content changed (old chunks replaced).
    pub updated: usize,
    /// Documents already stored with the same content.
    pub unchanged: usize,
    /// Chunks written.
    pub chunks: usize,
}

/// How far an ingest run has got; everything counted here is durably committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestProgress {
    /// Documents (in input order) whose chunks are all committed, or that were unchanged.
    pub docs_done: usize,
    /// Chunks committed so far in this run.
    pub chunks_committed: usize,
}

/// Mean BM25 token count of the chunks of `docs`, as indexed (title and section included).
pub(crate) fn mean_tokens(docs: &[Document], chunking: ChunkOptions) -> f64 {
    let enc = Bm25Encoder::new(DEFAULT_AVG_LEN);
    let (mut total, mut n) = (0usize, 0usize);
    for doc in docs {
        for c in chunk(doc, chunking) {
            // The text the index holds (its heading path too), so b normalises by the lengths it scores.
            total += enc.token_count(&indexed_text(doc, &c));
            n += 1;
        }
    }
    if n == 0 {
        DEFAULT_AVG_LEN
    } else {
        total as f64 / n as f64
    }
}

/// Chunks waiting to be embedded: (indexed text, payload, point id).
type Pending = Vec<(String, ChunkPayload, u64)>;
/// (doc id, version to keep) of documents whose other versions go once the batch is committed.
type Retire = Vec<(String, u64)>;

/// Chunks cut and waiting to be embedded, numbered in input order.
struct Prepared {
    seq: usize,
    pending: Pending,
    retire: Retire,
    docs_done: usize,
}

/// Embedded chunks, ready to commit, and the old versions of the documents they complete.
struct Batch {
    records: Vec<ChunkRecord>,
    /// (doc id, version to keep): every other version of the document is deleted after the commit.
    retire: Vec<(String, u64)>,
    docs_done: usize,
}

/// The newest stored version of a document: (version, content hash), and whether older ones linger.
#[derive(Debug, Clone)]
struct Stored {
    version: u64,
    hash: String,
    others: bool,
}

/// `docs` with only the last document of each id, and a skip for each earlier one (by its position).
pub(crate) fn last_of_each_id(docs: &[Document]) -> (Vec<Document>, Vec<crate::tasks::TaskSkip>) {
    let mut last = std::collections::HashMap::new();
    for (i, doc) in docs.iter().enumerate() {
        last.insert(doc.id.as_str(), i);
    }
    let mut kept = Vec::with_capacity(last.len());
    let mut replaced = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        if last.get(doc.id.as_str()) == Some(&i) {
            kept.push(doc.clone());
        } else {
            replaced.push(crate::tasks::TaskSkip {
                source: format!("documents[{i}]"),
                reason: format!(
                    "document `{}` appears again later in the request; the later one is ingested",
                    nova_core::excerpt(&doc.id)
                ),
            });
        }
    }
    (kept, replaced)
}

/// Checks what every ingest requires of its input: valid ids, each once. `Engine::ingest` and
/// `Engine::submit_ingest` call it before any work. (Readers already skip bad ids; this is the rule for
/// every other caller of the engine.)
pub(crate) fn check_documents(docs: &[Document]) -> Result<()> {
    for doc in docs {
        nova_core::DocId::parse(&doc.id)?;
    }
    let mut seen = HashSet::new();
    if let Some(dup) = docs.iter().find(|d| !seen.insert(d.id.as_str())) {
        return Err(EngineError::DuplicateDocument(dup.id.clone()));
    }
    Ok(())
}

/// Asked before each batch is embedded: `true` stops the ingest with [`EngineError::Canceled`].
pub type CancelCheck<'a> = &'a (dyn Fn() -> bool + Sync);

/// Ingests `docs` into `kb`. The caller holds `kb.writer` and has checked `docs` with
/// [`check_documents`].
pub(crate) fn ingest(
    kb: &KnowledgeBase,
    embedder: &dyn Embedder,
    docs: &[Document],
    disk: &DiskGuard,
    progress: &(dyn Fn(IngestProgress) + Sync),
    cancel: CancelCheck<'_>,
    hashes: Option<&crate::versions::Sources>,
) -> Result<IngestSummary> {
    let mut summary = IngestSummary::default();
    // Three stages: this thread cuts documents into chunks; EMBED_IN_FLIGHT embedders turn them into
    // records; the writer commits them in input order, each commit overlapping the next embeddings.
    let (prep_tx, prep_rx) = sync_channel::<Prepared>(EMBED_IN_FLIGHT);
    let (tx, rx) = sync_channel::<(usize, Batch)>(EMBED_IN_FLIGHT);
    // Shared by the embedders and dropped with the last of them, so a stopped pipeline fails the
    // producer's next send instead of leaving it blocked.
    let prep_rx = std::sync::Arc::new(std::sync::Mutex::new(prep_rx));
    let failed = std::sync::atomic::AtomicBool::new(false);
    let (produced, embedded, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || write_batches(kb, rx, disk, progress));
        let embedders: Vec<_> = (0..EMBED_IN_FLIGHT)
            .map(|_| {
                let (tx, prep_rx, failed) = (tx.clone(), prep_rx.clone(), &failed);
                scope.spawn(move || embed_prepared(kb, embedder, &prep_rx, &tx, failed))
            })
            .collect();
        drop((tx, prep_rx));
        let produced = cut_batches(kb, (docs, hashes), &prep_tx, &mut summary, cancel);
        drop(prep_tx);
        let panicked = |_| EngineError::Internal("ingest thread panicked".into());
        // Every embedder joined (a scoped thread left unjoined that panicked would panic the scope).
        let joined: Vec<Result<()>> = embedders
            .into_iter()
            .map(|e| e.join().map_err(panicked).and_then(|r| r))
            .collect();
        let embedded = joined.into_iter().find(Result::is_err).unwrap_or(Ok(()));
        let written = writer.join().map_err(panicked).and_then(|r| r);
        (produced, embedded, written)
    });
    // A writer or embedder failure also stops the stages before it (their channels close); report the
    // root cause.
    let chunks = written?;
    embedded?;
    produced?;
    summary.chunks = chunks;
    progress(IngestProgress {
        docs_done: docs.len(),
        chunks_committed: chunks,
    });
    Ok(summary)
}

/// The newest stored version of each of `docs` that has one.
fn stored_versions(kb: &KnowledgeBase, docs: &[Document]) -> Result<HashMap<String, Stored>> {
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let filter = Filter::must([
        Condition::any_of(keys::DOC_ID, ids),
        Condition::eq(keys::CHUNK, 0),
    ]);
    // Change detection must see every version whoever asks: it decides what is overwritten.
    let points = kb.store().scan(
        &filter,
        &AccessFilter::system(),
        Some(&[keys::DOC_ID, keys::HASH, keys::VERSION]),
        false,
    )?;
    let mut out: HashMap<String, Stored> = HashMap::new();
    for p in points {
        let p = kb.payload(p.payload)?;
        match out.get_mut(&p.doc_id) {
            Some(s) => {
                s.others = true;
                if p.version > s.version {
                    s.version = p.version;
                    s.hash = p.hash;
                }
            }
            None => {
                out.insert(
                    p.doc_id,
                    Stored {
                        version: p.version,
                        hash: p.hash,
                        others: false,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// `hashes`: content hashes to store instead of the documents' own (a rebuild's documents are read
/// back from chunks, so their text is not byte-for-byte what was ingested; the version keeps the hash
/// of what was).
fn cut_batches(
    kb: &KnowledgeBase,
    (docs, hashes): (&[Document], Option<&crate::versions::Sources>),
    tx: &SyncSender<Prepared>,
    summary: &mut IngestSummary,
    cancel: CancelCheck<'_>,
) -> Result<()> {
    let mut seq = 0;
    let mut pending: Vec<(String, ChunkPayload, u64)> = Vec::new(); // (indexed text, payload, id)
    let mut retire = Vec::new();
    let chunking = kb.chunking().into();
    for (group_start, group) in docs.chunks(LOOKUP_DOCS).enumerate() {
        let stored = stored_versions(kb, group)?;
        for (i, doc) in group.iter().enumerate() {
            let done = group_start * LOOKUP_DOCS + i + 1;
            let hash = match hashes.and_then(|h| h.get(&doc.id)) {
                Some(h) => h.clone(),
                None => doc.hash(),
            };
            // (version to write, version to keep once the document is whole)
            let (version, keep) = match stored.get(&doc.id) {
                Some(s) if s.hash == hash => {
                    summary.unchanged += 1;
                    // An interrupted replacement left an older version behind: finish it.
                    (None, s.others.then_some(s.version))
                }
                Some(s) => {
                    summary.updated += 1;
                    (Some(s.version + 1), Some(s.version + 1))
                }
                None => {
                    summary.added += 1;
                    (Some(1), None)
                }
            };
            if let Some(version) = version {
                let chunks = chunk(doc, chunking);
                // Chunk 0 goes last: change detection and document counts look only at chunk 0, so a
                // version cut off midway (a crash between two commits of a large document) stays
                // invisible to them and the next ingest writes it again instead of calling it unchanged.
                for c in chunks.iter().skip(1).chain(chunks.first()) {
                    let payload = ChunkPayload::of(doc, &hash, version, chunks.len(), c);
                    let id = chunk_id(&doc.id, version, c.index as u64);
                    pending.push((indexed_text(doc, c), payload, id));
                    // Bounded commits even inside one large document; its old version is retired only
                    // with the batch that holds its last chunk (below), so readers keep a whole version.
                    if pending.len() >= COMMIT_CHUNKS
                        && !hand_over(
                            tx,
                            (&mut pending, &mut retire),
                            (&mut seq, done - 1),
                            cancel,
                        )?
                    {
                        return Ok(()); // a later stage stopped on an error, which ingest reports
                    }
                }
            }
            if let Some(keep) = keep {
                retire.push((doc.id.clone(), keep));
            }
            let last = done == docs.len();
            if last
                && !(pending.is_empty() && retire.is_empty())
                && !hand_over(tx, (&mut pending, &mut retire), (&mut seq, done), cancel)?
            {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Hands `pending` and `retire` to the embedders as batch `seq` (then counts it); `false` when they
/// have stopped.
fn hand_over(
    tx: &SyncSender<Prepared>,
    (pending, retire): (&mut Pending, &mut Retire),
    (seq, docs_done): (&mut usize, usize),
    cancel: CancelCheck<'_>,
) -> Result<bool> {
    if cancel() {
        return Err(EngineError::Canceled);
    }
    let prepared = Prepared {
        seq: *seq,
        pending: std::mem::take(pending),
        retire: std::mem::take(retire),
        docs_done,
    };
    *seq += 1;
    Ok(tx.send(prepared).is_ok())
}

/// One embedding stage: takes prepared batches until there are none (or a stage failed), embeds each
/// and hands it to the writer with its number.
fn embed_prepared(
    kb: &KnowledgeBase,
    embedder: &dyn Embedder,
    jobs: &std::sync::Mutex<Receiver<Prepared>>,
    tx: &SyncSender<(usize, Batch)>,
    failed: &std::sync::atomic::AtomicBool,
) -> Result<()> {
    use std::sync::atomic::Ordering;
    loop {
        if failed.load(Ordering::Relaxed) {
            return Ok(()); // another stage reports its error
        }
        // The lock is held only to take the next job, not while embedding it.
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return Err(EngineError::Internal("ingest queue poisoned".into())),
        };
        let Ok(job) = job else { return Ok(()) };
        let batch = embed(kb, embedder, job.pending).map(|records| Batch {
            records,
            retire: job.retire,
            docs_done: job.docs_done,
        });
        match batch {
            Ok(batch) => {
                if tx.send((job.seq, batch)).is_err() {
                    failed.store(true, Ordering::Relaxed);
                    return Ok(()); // the writer stopped on an error, which ingest reports
                }
            }
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
    }
}

/// Commits batches in their input order (they may arrive out of it from the embedders): a batch
/// retires old versions only after every batch before it is durable. Stops at the first gap that never
/// fills (an embedder failed).
fn write_batches(
    kb: &KnowledgeBase,
    rx: Receiver<(usize, Batch)>,
    disk: &DiskGuard,
    progress: &(dyn Fn(IngestProgress) + Sync),
) -> Result<usize> {
    let mut written = 0;
    let mut waiting = std::collections::BTreeMap::new();
    let mut next = 0;
    for (seq, batch) in rx {
        waiting.insert(seq, batch);
        while let Some(batch) = waiting.remove(&next) {
            next += 1;
            written = commit(kb, batch, written, disk, progress)?;
        }
    }
    Ok(written)
}

/// Commits one batch (`written` chunks before it); returns the chunks written so far.
fn commit(
    kb: &KnowledgeBase,
    batch: Batch,
    mut written: usize,
    disk: &DiskGuard,
    progress: &(dyn Fn(IngestProgress) + Sync),
) -> Result<usize> {
    // A long ingest can fill the disk: stop at the floor, with every batch before this one whole.
    disk.check()?;
    written += batch.records.len();
    if !batch.records.is_empty() {
        kb.store().upsert(batch.records)?;
    }
    // Only now that the new versions are durable do the old ones go.
    if !batch.retire.is_empty() {
        let stale = batch
            .retire
            .into_iter()
            .map(|(doc_id, keep)| {
                Condition::Filter(Box::new(
                    Filter::must([Condition::eq(keys::DOC_ID, doc_id)])
                        .and_not(Condition::eq(keys::VERSION, keep as i64)),
                ))
            })
            .collect();
        let _retiring = kb.retiring.write();
        kb.store().delete(&Filter {
            should: stale,
            ..Filter::default()
        })?;
    }
    tracing::info!(
        kb = %kb.name(),
        docs = batch.docs_done,
        chunks = written,
        "batch committed"
    );
    progress(IngestProgress {
        docs_done: batch.docs_done,
        chunks_committed: written,
    });
    Ok(written)
}

fn embed(
    kb: &KnowledgeBase,
    embedder: &dyn Embedder,
    pending: Vec<(String, ChunkPayload, u64)>,
) -> Result<Vec<ChunkRecord>> {
    let texts: Vec<&str> = pending.iter().map(|(t, _, _)| t.as_str()).collect();
    let vectors = embedder.embed_bulk(&texts)?;
    let bm25 = kb.bm25();
    pending
        .into_iter()
        .zip(vectors)
        .map(|((text, payload, id), dense)| {
            Ok(ChunkRecord {
                id,
                sparse: bm25.document(&text),
                dense,
                payload: payload.into_map(kb.keyring())?,
            })
        })
        .collect()
}
