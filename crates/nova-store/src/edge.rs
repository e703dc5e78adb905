//! The embedded backend: one qdrant-edge shard per knowledge base folder.
//!
//! Layout: a named dense vector (`dense`, cosine, HNSW) and a named sparse vector (`bm25`, IDF modifier),
//! keyword payload indexes on the fields used in filters. Every write goes through the shard's WAL and
//! is flushed before `upsert`/`delete_doc` return, so an acknowledged write survives `kill -9`.

use crate::error::{Result, StoreError};
use crate::record::{ChunkRecord, FieldFilter, Retriever, StoreHit, StoreQuery, StoredPoint};
use crate::Store;
use parking_lot::Mutex;
use qdrant_edge::{
    Condition, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, Match, Modifier, NamedQuery,
    PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    PointStruct, QueryEnum, QueryRequest, ScoringQuery, UpdateOperation, ValueVariants,
    VectorInternal, VectorStructInternal, Vectors, WithPayloadInterface, WithVector,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const DENSE: &str = "dense";
const SPARSE: &str = "bm25";
/// Payload fields with a keyword index (filterable cheaply): the document fields, and the ticket fields
/// help desks filter by. Other fields still filter, by scanning.
pub const INDEXED_FIELDS: [&str; 8] = [
    "doc_id", "kind", "tags", "acl", "source", "category", "priority", "status",
];

/// A knowledge base stored in an in-process Qdrant shard.
pub struct EdgeStore {
    // `EdgeShard::flush` takes its WAL lock with `try_lock().expect(..)`, so writes are serialised here.
    shard: Mutex<EdgeShard>,
    dim: usize,
    path: PathBuf,
}

fn op_err(operation: &'static str) -> impl Fn(qdrant_edge::OperationError) -> StoreError {
    move |e| StoreError::Operation {
        operation,
        message: e.to_string(),
    }
}

impl EdgeStore {
    /// Opens the shard in `path`, creating it (with `dim`-dimensional dense vectors) if the folder holds
    /// none yet.
    pub fn open(path: &Path, dim: usize) -> Result<Self> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        fs_err::create_dir_all(path).map_err(|e| open_err(&e))?;
        let exists = path.join("edge_config.json").is_file();
        let shard = if exists {
            EdgeShard::load(path, None).map_err(|e| open_err(&e))?
        } else {
            let shard = EdgeShard::new(path, config(dim)).map_err(|e| open_err(&e))?;
            for field in INDEXED_FIELDS {
                let index = CreateIndex {
                    field_name: field
                        .try_into()
                        .map_err(|_| open_err(&format!("bad field name {field}")))?,
                    field_schema: Some(PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword)),
                };
                shard
                    .update(UpdateOperation::FieldIndexOperation(
                        FieldIndexOperations::CreateIndex(index),
                    ))
                    .map_err(|e| open_err(&e))?;
            }
            shard
        };
        let stored_dim = shard.config().vectors.get(DENSE).map(|v| v.size);
        if let Some(stored) = stored_dim.filter(|&d| d != dim) {
            return Err(StoreError::Dimension {
                expected: stored,
                got: dim,
            });
        }
        Ok(Self {
            shard: Mutex::new(shard),
            dim,
            path: path.to_path_buf(),
        })
    }

    /// The shard folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Merges segments and builds HNSW where the optimizer thinks it pays; call after bulk ingest.
    pub fn optimize(&self) -> Result<()> {
        self.shard
            .lock()
            .optimize()
            .map(|_| ())
            .map_err(op_err("optimize"))
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

fn conditions(filters: &[FieldFilter]) -> Result<Vec<Condition>> {
    filters
        .iter()
        .map(|f| {
            let key = f
                .field
                .as_str()
                .try_into()
                .map_err(|_| StoreError::Operation {
                    operation: "filter",
                    message: format!("`{}` is not a valid payload field name", f.field),
                })?;
            Ok(Condition::Field(FieldCondition::new_match(
                key,
                Match::new_value(ValueVariants::String(f.value.clone())),
            )))
        })
        .collect()
}

fn filter_of(filters: &[FieldFilter], extra: Option<Condition>) -> Result<Option<Filter>> {
    let mut must = conditions(filters)?;
    must.extend(extra);
    Ok((!must.is_empty()).then(|| Filter {
        must: Some(must),
        ..Default::default()
    }))
}

/// `filters` all required, `exclude` all forbidden.
fn query_filter(filters: &[FieldFilter], exclude: &[FieldFilter]) -> Result<Option<Filter>> {
    let must_not = conditions(exclude)?;
    let mut filter = filter_of(filters, None)?;
    if !must_not.is_empty() {
        filter.get_or_insert_with(Filter::default).must_not = Some(must_not);
    }
    Ok(filter)
}

fn payload_fields(keys: &[&str], operation: &'static str) -> Result<WithPayloadInterface> {
    Ok(WithPayloadInterface::Fields(
        keys.iter()
            .map(|k| {
                qdrant_edge::JsonPath::try_from(*k).map_err(|_| StoreError::Operation {
                    operation,
                    message: format!("`{k}` is not a valid payload key"),
                })
            })
            .collect::<Result<_>>()?,
    ))
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

/// Records per scroll page.
const SCAN_PAGE: usize = 1_000;

impl Store for EdgeStore {
    fn upsert(&self, chunks: Vec<ChunkRecord>) -> Result<()> {
        if let Some(bad) = chunks.iter().find(|c| c.dense.len() != self.dim) {
            return Err(StoreError::Dimension {
                expected: self.dim,
                got: bad.dense.len(),
            });
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
                PointStruct::new(c.id, vectors, c.payload).into()
            })
            .collect();
        let shard = self.shard.lock();
        shard
            .update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
            ))
            .map_err(op_err("upsert"))?;
        shard.flush();
        Ok(())
    }

    fn delete_doc(&self, doc_id: &str) -> Result<()> {
        let filter = filter_of(
            &[FieldFilter {
                field: "doc_id".into(),
                value: doc_id.into(),
            }],
            None,
        )?
        .unwrap_or_default();
        let shard = self.shard.lock();
        shard
            .update(UpdateOperation::PointOperation(
                PointOperations::DeletePointsByFilter(filter),
            ))
            .map_err(op_err("delete"))?;
        shard.flush();
        Ok(())
    }

    fn search(&self, query: &StoreQuery<'_>) -> Result<Vec<StoreHit>> {
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
        let with_payload = match query.payload_keys {
            None => WithPayloadInterface::Bool(true),
            Some(keys) => payload_fields(keys, "search")?,
        };
        let request = QueryRequest {
            prefetches: vec![],
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                query: vector,
                using: Some(using.into()),
            }))),
            filter: query_filter(query.filters, query.exclude)?,
            score_threshold: None,
            limit: query.limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload,
        };
        let points = self.shard.lock().query(request).map_err(op_err("search"))?;
        Ok(points
            .into_iter()
            .filter_map(|p| match p.id {
                PointId::NumId(id) => Some(StoreHit {
                    id,
                    score: p.score,
                    payload: serde_json::Value::Object(
                        p.payload.map(|pl| pl.0).unwrap_or_default(),
                    ),
                }),
                PointId::Uuid(_) => None, // never written by this crate
            })
            .collect())
    }

    fn get(&self, id: u64) -> Result<Option<serde_json::Value>> {
        let records = self
            .shard
            .lock()
            .retrieve(&[PointId::NumId(id)], None, None)
            .map_err(op_err("get"))?;
        Ok(records
            .into_iter()
            .next()
            .map(|r| serde_json::Value::Object(r.payload.map(|p| p.0).unwrap_or_default())))
    }

    fn get_many(&self, ids: &[u64]) -> Result<HashMap<u64, serde_json::Value>> {
        let point_ids: Vec<PointId> = ids.iter().map(|&id| PointId::NumId(id)).collect();
        let records = self
            .shard
            .lock()
            .retrieve(&point_ids, None, None)
            .map_err(op_err("get"))?;
        Ok(records
            .into_iter()
            .filter_map(|r| match r.id {
                PointId::NumId(id) => Some((
                    id,
                    serde_json::Value::Object(r.payload.map(|p| p.0).unwrap_or_default()),
                )),
                PointId::Uuid(_) => None,
            })
            .collect())
    }

    fn scan(
        &self,
        filters: &[FieldFilter],
        payload_keys: &[&str],
        with_dense: bool,
    ) -> Result<Vec<StoredPoint>> {
        let filter = filter_of(filters, None)?;
        let with_payload = payload_fields(payload_keys, "scan")?;
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
            let (records, next) = self.shard.lock().scroll(request).map_err(op_err("scan"))?;
            points.extend(records.into_iter().filter_map(|r| match r.id {
                PointId::NumId(id) => Some(StoredPoint {
                    id,
                    payload: serde_json::Value::Object(r.payload.map(|p| p.0).unwrap_or_default()),
                    dense: dense_of(r.vector),
                }),
                PointId::Uuid(_) => None,
            }));
            match next {
                Some(n) => offset = Some(n),
                None => return Ok(points),
            }
        }
    }

    fn count(&self) -> Result<usize> {
        let request = qdrant_edge::CountRequest {
            filter: None,
            exact: true,
        };
        self.shard.lock().count(request).map_err(op_err("count"))
    }

    fn count_docs(&self) -> Result<usize> {
        let key = "chunk".try_into().map_err(|_| StoreError::Operation {
            operation: "count",
            message: "bad field name `chunk`".into(),
        })?;
        let first_chunks = Condition::Field(FieldCondition::new_match(
            key,
            Match::new_value(ValueVariants::Integer(0)),
        ));
        let request = qdrant_edge::CountRequest {
            filter: filter_of(&[], Some(first_chunks))?,
            exact: true,
        };
        self.shard.lock().count(request).map_err(op_err("count"))
    }
}
