//! The embedded backend: one qdrant-edge shard per knowledge base folder.
//!
//! Layout: a named dense vector (`dense`, cosine, HNSW) and a named sparse vector (`bm25`, IDF modifier),
//! keyword and integer payload indexes on the fields the caller names. Every write goes through the
//! shard's WAL and is flushed before it returns, so an acknowledged write survives `kill -9`.

use crate::error::{Result, StoreError};
use crate::record::{MatchValues, Retriever, StoreHit, StoreQuery, StoreSchema, StoredPoint};
use crate::{ChunkRecord, Payload, Store, StoreBackend};
use nova_core::{AccessFilter, Condition, DataLayout, Filter, KbName, ACL_FIELD};
use parking_lot::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
use qdrant_edge::{
    CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams,
    FieldCondition, FieldIndexOperations, HasIdCondition, IsEmptyCondition, JsonPath, Match,
    Modifier, NamedQuery, PayloadFieldSchema, PayloadOps, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, PointStruct, QueryEnum, QueryRequest, ScoringQuery,
    SetPayloadOp, UpdateOperation, VectorInternal, VectorStructInternal, Vectors,
    WithPayloadInterface, WithVector,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const DENSE: &str = "dense";
const SPARSE: &str = "bm25";
/// The file a shard folder holds once created.
const SHARD_CONFIG: &str = "edge_config.json";

/// Knowledge bases as embedded shards under a data folder (`<data>/kbs/<kb>/store`).
pub struct EdgeBackend {
    layout: DataLayout,
}

impl EdgeBackend {
    /// The backend over a data folder's layout.
    pub fn new(layout: DataLayout) -> Self {
        Self { layout }
    }
}

impl StoreBackend for EdgeBackend {
    fn create(&self, kb: &KbName, schema: &StoreSchema) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(EdgeStore::create(
            &self.layout.store_dir(kb),
            schema,
        )?))
    }

    fn open(&self, kb: &KbName) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(EdgeStore::open(&self.layout.store_dir(kb))?))
    }

    fn exists(&self, kb: &KbName) -> bool {
        self.layout.store_dir(kb).join(SHARD_CONFIG).is_file()
    }

    fn drop_kb(&self, kb: &KbName) -> Result<()> {
        let dir = self.layout.store_dir(kb);
        match fs_err::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Folder {
                path: dir,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    fn list(&self) -> Result<Vec<KbName>> {
        let dir = self.layout.kbs_dir();
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let entries = fs_err::read_dir(&dir).map_err(|source| StoreError::Folder {
            path: dir.clone(),
            source,
        })?;
        let mut names: Vec<KbName> = entries
            .flatten()
            .filter_map(|e| KbName::parse(&e.file_name().to_string_lossy()).ok())
            .filter(|kb| self.exists(kb))
            .collect();
        names.sort();
        Ok(names)
    }
}

/// A knowledge base stored in an in-process Qdrant shard.
pub struct EdgeStore {
    // Reads share the shard (its reads take `&self` and its own read locks), so concurrent searches run
    // side by side; writes, the optimiser and a snapshot's freeze take it exclusively, which also keeps
    // them apart from each other (`EdgeShard::flush` takes its WAL lock with `try_lock().expect(..)`).
    // Always `Some` but while the store is dropped (see `Drop`); reach it through `shard()`/`shard_mut()`.
    shard: RwLock<Option<EdgeShard>>,
    dim: usize,
    path: PathBuf,
    /// Whether any stored chunk sets an `acl`. While none does, a reader's access filter excludes
    /// nothing, and reads skip it: checking it on every scanned point costs ~0.2 ms of a 6 ms search
    /// (`bench/README.md`). Set for good by the first upsert with an acl, under the write lock, before
    /// those chunks are visible; reads that skip the filter hold the read lock until they finish.
    acls_in_use: RwLock<bool>,
}

/// Whether a chunk's payload restricts it (qdrant's `is_empty`: missing, `null` and `[]` are empty).
fn sets_acl(payload: &Payload) -> bool {
    match payload.get(ACL_FIELD) {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Array(groups)) => !groups.is_empty(),
        Some(_) => true,
    }
}

fn op_err(operation: &'static str) -> impl Fn(qdrant_edge::OperationError) -> StoreError {
    move |source| StoreError::Operation {
        operation,
        source: Box::new(source),
    }
}

/// Makes the shard's writes durable. `EdgeShard::flush` panics when the file system refuses a write (a
/// full or read-only disk); the panic is turned back into the error it carried, so the caller reports the
/// write as not durable (and never acknowledges it) instead of losing the thread. The write-ahead log
/// stays the truth: what it did not get is not there after a restart.
fn flush(shard: &EdgeShard) -> Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shard.flush())).map_err(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("the flush panicked");
        StoreError::Operation {
            operation: "flush",
            source: Box::new(qdrant_edge::OperationError::service_error_light(what)),
        }
    })
}

fn key(field: &str) -> Result<JsonPath> {
    JsonPath::try_from(field).map_err(|_| StoreError::FieldName(field.to_owned()))
}

impl EdgeStore {
    /// Creates a shard in `path` with `schema`'s vectors and payload indexes.
    pub fn create(path: &Path, schema: &StoreSchema) -> Result<Self> {
        fs_err::create_dir_all(path).map_err(|source| StoreError::Folder {
            path: path.to_path_buf(),
            source,
        })?;
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source: Box::new(source),
        };
        let shard = EdgeShard::new(path, config(schema.dim)).map_err(open_err)?;
        let indexes = schema
            .keyword_fields
            .iter()
            .map(|f| (f, PayloadSchemaType::Keyword))
            .chain(
                schema
                    .integer_fields
                    .iter()
                    .map(|f| (f, PayloadSchemaType::Integer)),
            );
        for (field, kind) in indexes {
            let index = CreateIndex {
                field_name: key(field)?,
                field_schema: Some(PayloadFieldSchema::FieldType(kind)),
            };
            shard
                .update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(index),
                ))
                .map_err(open_err)?;
        }
        Ok(Self {
            shard: RwLock::new(Some(shard)),
            dim: schema.dim,
            path: path.to_path_buf(),
            acls_in_use: RwLock::new(false),
        })
    }

    /// Opens the shard in `path`, which must exist.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.join(SHARD_CONFIG).is_file() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let shard = EdgeShard::load(path, None).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let dim = shard
            .config()
            .vectors
            .get(DENSE)
            .map(|v| v.size)
            .unwrap_or_default();
        let store = Self {
            shard: RwLock::new(Some(shard)),
            dim,
            path: path.to_path_buf(),
            // Until counted, assume acls: a read before the count below would filter, never leak.
            acls_in_use: RwLock::new(true),
        };
        let restricted = Filter {
            must_not: vec![Condition::is_empty(ACL_FIELD)],
            ..Filter::default()
        };
        let in_use = store.count(&restricted, &AccessFilter::system())? > 0;
        *store.acls_in_use.write() = in_use;
        Ok(store)
    }

    /// Runs a read with `access`, or with no filter while no chunk sets an acl (see `acls_in_use`).
    fn with_access<T>(&self, access: &AccessFilter, read: impl FnOnce(&AccessFilter) -> T) -> T {
        // The guard lives to the end of the read: an upsert adding the first acl waits for it.
        let in_use = self.acls_in_use.read();
        let open;
        let access = if *in_use {
            access
        } else {
            open = access.where_no_document_sets_acl();
            &open
        };
        let answer = read(access);
        drop(in_use);
        answer
    }

    /// The shard folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn config(dim: usize) -> EdgeConfig {
    EdgeConfig {
        vectors: HashMap::from([(
            DENSE.to_string(),
            EdgeVectorParams {
                size: dim,
                distance: Distance::Cosine,
                on_disk: None,
                multivector_config: None,
                datatype: None,
                quantization_config: None,
                hnsw_config: None,
            },
        )]),
        sparse_vectors: HashMap::from([(
            SPARSE.to_string(),
            EdgeSparseVectorParams {
                modifier: Some(Modifier::Idf),
                ..Default::default()
            },
        )]),
        ..Default::default()
    }
}

/// Our condition in qdrant's terms.
fn condition(c: &Condition) -> Result<qdrant_edge::Condition> {
    Ok(match c {
        Condition::AnyOf { field, values } => {
            let matcher = match MatchValues::of(field, values)? {
                MatchValues::Keywords(words) => Match::from(words),
                MatchValues::Integers(numbers) => Match::from(numbers),
            };
            qdrant_edge::Condition::Field(FieldCondition::new_match(key(field)?, matcher))
        }
        Condition::IsEmpty { field } => {
            qdrant_edge::Condition::IsEmpty(IsEmptyCondition::from(key(field)?))
        }
        Condition::Filter(inner) => qdrant_edge::Condition::Filter(filter(inner)?),
    })
}

fn conditions(cs: &[Condition]) -> Result<Option<Vec<qdrant_edge::Condition>>> {
    if cs.is_empty() {
        return Ok(None);
    }
    cs.iter().map(condition).collect::<Result<_>>().map(Some)
}

fn filter(f: &Filter) -> Result<qdrant_edge::Filter> {
    Ok(qdrant_edge::Filter {
        must: conditions(&f.must)?,
        should: conditions(&f.should)?,
        must_not: conditions(&f.must_not)?,
        ..Default::default()
    })
}

/// The caller's filter restricted by `access`; `None` when nothing is filtered.
fn restricted(f: &Filter, access: &AccessFilter) -> Result<Option<qdrant_edge::Filter>> {
    let f = access.restrict(f.clone());
    if f.is_all() {
        Ok(None)
    } else {
        filter(&f).map(Some)
    }
}

fn payload_fields(keys: Option<&[&str]>) -> Result<WithPayloadInterface> {
    match keys {
        None => Ok(WithPayloadInterface::Bool(true)),
        // No payload at all: the store then never reads (decompresses, parses) it.
        Some([]) => Ok(WithPayloadInterface::Bool(false)),
        Some(keys) => Ok(WithPayloadInterface::Fields(
            keys.iter().map(|k| key(k)).collect::<Result<_>>()?,
        )),
    }
}

/// The dense vector of a scanned record, if it carries one.
fn dense_of(vector: Option<VectorStructInternal>) -> Option<Vec<f32>> {
    match vector? {
        VectorStructInternal::Named(mut named) => match named.remove(DENSE)? {
            VectorInternal::Dense(v) => Some(v),
            _ => None,
        },
        VectorStructInternal::Single(v) => Some(v),
        VectorStructInternal::MultiDense(_) => None,
    }
}

/// Both vectors of an exported record.
fn vectors_of(vector: VectorStructInternal) -> Option<(Vec<f32>, crate::SparseVec)> {
    let VectorStructInternal::Named(mut named) = vector else {
        return None;
    };
    let VectorInternal::Dense(dense) = named.remove(DENSE)? else {
        return None;
    };
    let sparse = match named.remove(SPARSE) {
        Some(VectorInternal::Sparse(s)) => crate::SparseVec {
            indices: s.indices,
            values: s.values,
        },
        _ => crate::SparseVec::default(),
    };
    Some((dense, sparse))
}

fn num_id(id: PointId) -> Option<u64> {
    match id {
        PointId::NumId(id) => Some(id),
        PointId::Uuid(_) => None, // never written by this crate
    }
}

/// Records per scroll page.
const SCAN_PAGE: usize = 1_000;

impl EdgeStore {
    fn scroll(
        &self,
        filter: Option<qdrant_edge::Filter>,
        payload_keys: Option<&[&str]>,
        with_dense: bool,
    ) -> Result<Vec<StoredPoint>> {
        let with_payload = payload_fields(payload_keys)?;
        let with_vector = if with_dense {
            WithVector::Selector(vec![DENSE.into()])
        } else {
            WithVector::Bool(false)
        };
        let mut points = Vec::new();
        let mut offset = None;
        loop {
            let request = qdrant_edge::ScrollRequest {
                offset,
                limit: Some(SCAN_PAGE),
                filter: filter.clone(),
                with_payload: Some(with_payload.clone()),
                with_vector: with_vector.clone(),
                order_by: None,
            };
            let (records, next) = self.shard().scroll(request).map_err(op_err("scan"))?;
            points.extend(records.into_iter().filter_map(|r| {
                Some(StoredPoint {
                    id: num_id(r.id)?,
                    payload: r.payload.map(|p| p.0).unwrap_or_default(),
                    dense: dense_of(r.vector),
                })
            }));
            match next {
                Some(n) => offset = Some(n),
                None => return Ok(points),
            }
        }
    }
}

impl Store for EdgeStore {
    fn dim(&self) -> usize {
        self.dim
    }

    fn upsert(&self, chunks: Vec<ChunkRecord>) -> Result<()> {
        if let Some(bad) = chunks.iter().find(|c| c.dense.len() != self.dim) {
            return Err(StoreError::Dimension {
                expected: self.dim,
                got: bad.dense.len(),
            });
        }
        if !*self.acls_in_use.read() && chunks.iter().any(|c| sets_acl(&c.payload)) {
            *self.acls_in_use.write() = true;
        }
        let points = chunks
            .into_iter()
            .map(|c| {
                let sparse = qdrant_edge::SparseVector {
                    indices: c.sparse.indices,
                    values: c.sparse.values,
                };
                let vectors = Vectors::new_named([
                    (DENSE, VectorInternal::from(c.dense)),
                    (SPARSE, VectorInternal::from(sparse)),
                ]);
                PointStruct::new(c.id, vectors, serde_json::Value::Object(c.payload)).into()
            })
            .collect();
        let shard = self.shard_mut();
        shard
            .update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
            ))
            .map_err(op_err("upsert"))?;
        flush(&shard)
    }

    fn overwrite_payloads(&self, payloads: Vec<(u64, Payload)>) -> Result<()> {
        let shard = self.shard_mut();
        for (id, payload) in payloads {
            shard
                .update(UpdateOperation::PayloadOperation(
                    PayloadOps::OverwritePayload(SetPayloadOp {
                        payload: payload.into(),
                        points: Some(vec![PointId::NumId(id)]),
                        filter: None,
                        key: None,
                    }),
                ))
                .map_err(op_err("overwrite payload"))?;
        }
        flush(&shard)
    }

    fn delete(&self, f: &Filter) -> Result<()> {
        let shard = self.shard_mut();
        shard
            .update(UpdateOperation::PointOperation(
                PointOperations::DeletePointsByFilter(filter(f)?),
            ))
            .map_err(op_err("delete"))?;
        flush(&shard)
    }

    fn search(&self, query: &StoreQuery<'_>) -> Result<Vec<StoreHit>> {
        self.with_access(query.access, |access| self.search_as(query, access))
    }

    fn get_many(&self, ids: &[u64], access: &AccessFilter) -> Result<HashMap<u64, Payload>> {
        self.with_access(access, |access| self.get_many_as(ids, access))
    }

    fn scan(
        &self,
        f: &Filter,
        access: &AccessFilter,
        payload_keys: Option<&[&str]>,
        with_dense: bool,
    ) -> Result<Vec<StoredPoint>> {
        self.with_access(access, |access| {
            self.scroll(restricted(f, access)?, payload_keys, with_dense)
        })
    }

    fn count(&self, f: &Filter, access: &AccessFilter) -> Result<usize> {
        self.with_access(access, |access| {
            let request = qdrant_edge::CountRequest {
                filter: restricted(f, access)?,
                exact: true,
            };
            self.shard().count(request).map_err(op_err("count"))
        })
    }

    fn optimize(&self) -> Result<()> {
        self.shard_mut()
            .optimize()
            .map(|_| ())
            .map_err(op_err("optimize"))
    }

    fn export_page(&self, after: Option<u64>, limit: usize) -> Result<(Vec<ChunkRecord>, bool)> {
        let request = qdrant_edge::ScrollRequest {
            offset: after.map(|a| PointId::NumId(a + 1)),
            limit: Some(limit + 1),
            filter: None,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: WithVector::Bool(true),
            order_by: None,
        };
        let (records, _) = self.shard().scroll(request).map_err(op_err("export"))?;
        let mut chunks: Vec<ChunkRecord> = records
            .into_iter()
            .filter_map(|r| {
                let id = num_id(r.id)?;
                let (dense, sparse) = vectors_of(r.vector?)?;
                Some(ChunkRecord {
                    id,
                    dense,
                    sparse,
                    payload: r.payload.map(|p| p.0).unwrap_or_default(),
                })
            })
            .collect();
        let more = chunks.len() > limit;
        chunks.truncate(limit);
        Ok((chunks, more))
    }

    fn frozen(&self, f: &mut dyn FnMut()) -> Result<()> {
        // Every update and the optimiser take the shard exclusively: holding it so freezes the files.
        let shard = self.shard_mut();
        flush(&shard)?;
        f();
        Ok(())
    }
}

impl EdgeStore {
    /// The shard, shared with other reads.
    fn shard(&self) -> MappedRwLockReadGuard<'_, EdgeShard> {
        RwLockReadGuard::map(self.shard.read(), |s| {
            s.as_ref()
                .expect("the shard is taken only when the store is dropped")
        })
    }

    /// The shard, for a write (or anything that must not run beside one): exclusive.
    fn shard_mut(&self) -> MappedRwLockWriteGuard<'_, EdgeShard> {
        RwLockWriteGuard::map(self.shard.write(), |s| {
            s.as_mut()
                .expect("the shard is taken only when the store is dropped")
        })
    }
}

impl Drop for EdgeStore {
    /// `EdgeShard` flushes when dropped and panics if the disk refuses (full, read-only): flushed here
    /// first, and on failure the shard is leaked instead — its open files and maps go with the process —
    /// so closing a KB on a failed disk (or shutting down) reports the error rather than panicking in
    /// `drop`, which aborts the process while another panic unwinds.
    fn drop(&mut self) {
        if let Some(shard) = self.shard.get_mut().take() {
            if let Err(e) = flush(&shard) {
                let cause = std::error::Error::source(&e).map(ToString::to_string);
                tracing::error!(
                    path = %self.path.display(),
                    cause = cause.as_deref().unwrap_or_default(),
                    "closing the store: {e}; its last writes may not be durable"
                );
                std::mem::forget(shard);
            }
        }
    }
}

/// The reads, with the access filter `with_access` settled on.
impl EdgeStore {
    fn search_as(&self, query: &StoreQuery<'_>, access: &AccessFilter) -> Result<Vec<StoreHit>> {
        let (using, vector) = match query.retriever {
            Retriever::Dense => {
                if query.dense.len() != self.dim {
                    return Err(StoreError::Dimension {
                        expected: self.dim,
                        got: query.dense.len(),
                    });
                }
                (DENSE, VectorInternal::from(query.dense.to_vec()))
            }
            Retriever::Bm25 => {
                if query.sparse.indices.is_empty() {
                    return Ok(Vec::new()); // only stop words: nothing can match
                }
                let sparse = qdrant_edge::SparseVector {
                    indices: query.sparse.indices.clone(),
                    values: query.sparse.values.clone(),
                };
                (SPARSE, VectorInternal::from(sparse))
            }
        };
        let request = QueryRequest {
            prefetches: vec![],
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                query: vector,
                using: Some(using.into()),
            }))),
            filter: restricted(query.filter, access)?,
            score_threshold: None,
            limit: query.limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: payload_fields(query.payload_keys)?,
        };
        let points = self.shard().query(request).map_err(op_err("search"))?;
        Ok(points
            .into_iter()
            .filter_map(|p| {
                Some(StoreHit {
                    id: num_id(p.id)?,
                    score: p.score,
                    payload: p.payload.map(|pl| pl.0).unwrap_or_default(),
                })
            })
            .collect())
    }

    fn get_many_as(&self, ids: &[u64], access: &AccessFilter) -> Result<HashMap<u64, Payload>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let point_ids: Vec<PointId> = ids.iter().map(|&id| PointId::NumId(id)).collect();
        let records = match access.filter() {
            // Unrestricted: a plain lookup by id.
            None => self
                .shard()
                .retrieve(&point_ids, None, None)
                .map_err(op_err("get"))?
                .into_iter()
                .filter_map(|r| Some((num_id(r.id)?, r.payload.map(|p| p.0).unwrap_or_default())))
                .collect(),
            // Restricted: the ids as one more condition of a filtered scroll, so hidden chunks never
            // leave the store.
            Some(_) => {
                let has_id: HasIdCondition = point_ids.into_iter().collect();
                let by_id = qdrant_edge::Condition::HasId(has_id);
                let mut f = restricted(&Filter::all(), access)?.unwrap_or_default();
                f.must.get_or_insert_with(Vec::new).push(by_id);
                self.scroll(Some(f), None, false)?
                    .into_iter()
                    .map(|p| (p.id, p.payload))
                    .collect()
            }
        };
        Ok(records)
    }
}
