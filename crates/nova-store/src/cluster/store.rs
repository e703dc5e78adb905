//! One knowledge base as a collection of the cluster.

use super::client::Client;
use super::convert::{dense_of, num_id, payload_of, payload_selector, restricted, sparse_of};
use super::{QdrantOptions, ReadConsistency, WriteOrdering, DENSE, SPARSE};
use crate::error::{Result, StoreError};
use crate::record::{Retriever, StoreHit, StoreQuery, StoredPoint};
use crate::{ChunkRecord, Payload, Store};
use nova_core::{AccessFilter, Filter};
use qdrant_client::qdrant::{
    points_selector::PointsSelectorOneOf, read_consistency, with_vectors_selector,
    CountPointsBuilder, DeletePointsBuilder, GetPointsBuilder, NamedVectors, PointId, PointStruct,
    PointsIdsList, Query, QueryPointsBuilder, ReadConsistencyType, ScrollPointsBuilder,
    SetPayloadPointsBuilder, UpdateCollectionBuilder, UpsertPointsBuilder, Vector, VectorInput,
    VectorsSelector, WriteOrderingType,
};
use std::collections::HashMap;
use std::sync::Arc;

/// Points per upsert request: large batches stay under gRPC's message limits (a MiniLM point with its
/// payload is a few KB).
const UPSERT_BATCH: usize = 256;
/// Records per scroll page.
const SCAN_PAGE: u32 = 1_000;

/// A knowledge base stored as a collection of a Qdrant cluster.
pub struct QdrantStore {
    client: Arc<Client>,
    collection: String,
    dim: usize,
    opts: QdrantOptions,
}

pub(super) fn ordering(o: WriteOrdering) -> qdrant_client::qdrant::WriteOrdering {
    let kind = match o {
        WriteOrdering::Weak => WriteOrderingType::Weak,
        WriteOrdering::Medium => WriteOrderingType::Medium,
        WriteOrdering::Strong => WriteOrderingType::Strong,
    };
    qdrant_client::qdrant::WriteOrdering {
        r#type: kind as i32,
    }
}

fn consistency(c: ReadConsistency) -> Option<read_consistency::Value> {
    let kind = match c {
        ReadConsistency::One => return None,
        ReadConsistency::Majority => ReadConsistencyType::Majority,
        ReadConsistency::Quorum => ReadConsistencyType::Quorum,
        ReadConsistency::All => ReadConsistencyType::All,
    };
    Some(read_consistency::Value::Type(kind as i32))
}

fn dense_only() -> with_vectors_selector::SelectorOptions {
    with_vectors_selector::SelectorOptions::Include(VectorsSelector {
        names: vec![DENSE.into()],
    })
}

fn by_ids(ids: impl IntoIterator<Item = u64>) -> PointsSelectorOneOf {
    PointsSelectorOneOf::Points(PointsIdsList {
        ids: ids.into_iter().map(PointId::from).collect(),
    })
}

impl QdrantStore {
    pub(super) fn new(
        client: Arc<Client>,
        collection: String,
        dim: usize,
        opts: QdrantOptions,
    ) -> Self {
        Self {
            client,
            collection,
            dim,
            opts,
        }
    }

    /// The collection's name on the cluster.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    fn check_dim(&self, got: usize) -> Result<()> {
        if got == self.dim {
            Ok(())
        } else {
            Err(StoreError::Dimension {
                expected: self.dim,
                got,
            })
        }
    }

    /// Every point matching `filter`, page by page in id order.
    fn scroll(
        &self,
        filter: Option<qdrant_client::qdrant::Filter>,
        payload_keys: Option<&[&str]>,
        vectors: Option<with_vectors_selector::SelectorOptions>,
        mut each: impl FnMut(qdrant_client::qdrant::RetrievedPoint),
    ) -> Result<()> {
        let with_payload = payload_selector(payload_keys)?;
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(self.collection.clone())
                .limit(SCAN_PAGE)
                .with_payload(with_payload.clone())
                .with_vectors(
                    vectors
                        .clone()
                        .unwrap_or(with_vectors_selector::SelectorOptions::Enable(false)),
                );
            if let Some(f) = &filter {
                request = request.filter(f.clone());
            }
            if let Some(o) = offset.take() {
                request = request.offset(o);
            }
            if let Some(c) = consistency(self.opts.read_consistency) {
                request = request.read_consistency(c);
            }
            let request = request.build();
            let page = self.client.run("scan", move |node| {
                let request = request.clone();
                async move { node.scroll(request).await }
            })?;
            page.result.into_iter().for_each(&mut each);
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }
}

impl Store for QdrantStore {
    fn dim(&self) -> usize {
        self.dim
    }

    fn upsert(&self, chunks: Vec<ChunkRecord>) -> Result<()> {
        if let Some(bad) = chunks.iter().find(|c| c.dense.len() != self.dim) {
            return self.check_dim(bad.dense.len());
        }
        let mut points: Vec<PointStruct> = chunks
            .into_iter()
            .map(|c| {
                let vectors = NamedVectors::default()
                    .add_vector(DENSE, Vector::new_dense(c.dense))
                    .add_vector(
                        SPARSE,
                        Vector::new_sparse(c.sparse.indices, c.sparse.values),
                    );
                PointStruct::new(c.id, vectors, qdrant_client::Payload::from(c.payload))
            })
            .collect();
        while !points.is_empty() {
            let rest = points.split_off(points.len().min(UPSERT_BATCH));
            let request = UpsertPointsBuilder::new(self.collection.clone(), points)
                .wait(true)
                .ordering(ordering(self.opts.write_ordering))
                .build();
            self.client.run("upsert", move |node| {
                let request = request.clone();
                async move { node.upsert_points(request).await }
            })?;
            points = rest;
        }
        Ok(())
    }

    fn overwrite_payloads(&self, payloads: Vec<(u64, Payload)>) -> Result<()> {
        for (id, payload) in payloads {
            let fields: HashMap<String, qdrant_client::qdrant::Value> =
                qdrant_client::Payload::from(payload).into();
            let request = SetPayloadPointsBuilder::new(self.collection.clone(), fields)
                .points_selector(by_ids([id]))
                .wait(true)
                .ordering(ordering(self.opts.write_ordering))
                .build();
            self.client.run("overwrite payload", move |node| {
                let request = request.clone();
                async move { node.overwrite_payload(request).await }
            })?;
        }
        Ok(())
    }

    fn delete(&self, f: &Filter) -> Result<()> {
        let request = DeletePointsBuilder::new(self.collection.clone())
            .points(super::convert::filter(f)?)
            .wait(true)
            .ordering(ordering(self.opts.write_ordering))
            .build();
        self.client
            .run("delete", move |node| {
                let request = request.clone();
                async move { node.delete_points(request).await }
            })
            .map(|_| ())
    }

    fn search(&self, query: &StoreQuery<'_>) -> Result<Vec<StoreHit>> {
        let (using, input) = match query.retriever {
            Retriever::Dense => {
                self.check_dim(query.dense.len())?;
                (DENSE, VectorInput::new_dense(query.dense.to_vec()))
            }
            Retriever::Bm25 => {
                if query.sparse.indices.is_empty() {
                    return Ok(Vec::new()); // only stop words: nothing can match
                }
                let s = query.sparse;
                (
                    SPARSE,
                    VectorInput::new_sparse(s.indices.clone(), s.values.clone()),
                )
            }
        };
        let mut request = QueryPointsBuilder::new(self.collection.clone())
            .query(Query::new_nearest(input))
            .using(using)
            .limit(query.limit as u64)
            .with_payload(payload_selector(query.payload_keys)?);
        if let Some(f) = restricted(query.filter, query.access)? {
            request = request.filter(f);
        }
        if let Some(c) = consistency(self.opts.read_consistency) {
            request = request.read_consistency(c);
        }
        let request = request.build();
        let found = self.client.run("search", move |node| {
            let request = request.clone();
            async move { node.query(request).await }
        })?;
        Ok(found
            .result
            .into_iter()
            .filter_map(|p| {
                Some(StoreHit {
                    id: num_id(p.id)?,
                    score: p.score,
                    payload: payload_of(p.payload),
                })
            })
            .collect())
    }

    fn get_many(&self, ids: &[u64], access: &AccessFilter) -> Result<HashMap<u64, Payload>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        match access.filter() {
            // Unrestricted: a plain lookup by id.
            None => {
                let ids: Vec<PointId> = ids.iter().map(|&id| PointId::from(id)).collect();
                let mut request =
                    GetPointsBuilder::new(self.collection.clone(), ids).with_payload(true);
                if let Some(c) = consistency(self.opts.read_consistency) {
                    request = request.read_consistency(c);
                }
                let request = request.build();
                let found = self.client.run("get", move |node| {
                    let request = request.clone();
                    async move { node.get_points(request).await }
                })?;
                Ok(found
                    .result
                    .into_iter()
                    .filter_map(|p| Some((num_id(p.id)?, payload_of(p.payload))))
                    .collect())
            }
            // Restricted: the ids as one more condition of a filtered scroll, so hidden chunks never
            // leave the cluster.
            Some(_) => {
                let mut f = restricted(&Filter::all(), access)?.unwrap_or_default();
                f.must.push(qdrant_client::qdrant::Condition::has_id(
                    ids.iter().copied(),
                ));
                let mut out = HashMap::new();
                self.scroll(Some(f), None, None, |p| {
                    if let Some(id) = num_id(p.id) {
                        out.insert(id, payload_of(p.payload));
                    }
                })?;
                Ok(out)
            }
        }
    }

    fn scan(
        &self,
        f: &Filter,
        access: &AccessFilter,
        payload_keys: Option<&[&str]>,
        with_dense: bool,
    ) -> Result<Vec<StoredPoint>> {
        let mut points = Vec::new();
        self.scroll(
            restricted(f, access)?,
            payload_keys,
            with_dense.then(dense_only),
            |p| {
                if let Some(id) = num_id(p.id) {
                    points.push(StoredPoint {
                        id,
                        payload: payload_of(p.payload),
                        dense: dense_of(p.vectors, DENSE),
                    });
                }
            },
        )?;
        Ok(points)
    }

    fn count(&self, f: &Filter, access: &AccessFilter) -> Result<usize> {
        let mut request = CountPointsBuilder::new(self.collection.clone()).exact(true);
        if let Some(f) = restricted(f, access)? {
            request = request.filter(f);
        }
        if let Some(c) = consistency(self.opts.read_consistency) {
            request = request.read_consistency(c);
        }
        let request = request.build();
        let counted = self.client.run("count", move |node| {
            let request = request.clone();
            async move { node.count(request).await }
        })?;
        Ok(counted.result.map_or(0, |r| r.count as usize))
    }

    fn optimize(&self) -> Result<()> {
        // The cluster runs its optimisers itself, per shard, as segments fill.
        Ok(())
    }

    fn export_page(&self, after: Option<u64>, limit: usize) -> Result<(Vec<ChunkRecord>, bool)> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX - 1);
        let mut request = ScrollPointsBuilder::new(self.collection.clone())
            .limit(limit + 1)
            .with_payload(true)
            .with_vectors(true);
        if let Some(after) = after {
            request = request.offset(PointId::from(after + 1));
        }
        let request = request.build();
        let page = self.client.run("export", move |node| {
            let request = request.clone();
            async move { node.scroll(request).await }
        })?;
        let mut chunks: Vec<ChunkRecord> = page
            .result
            .into_iter()
            .filter_map(|p| {
                let id = num_id(p.id)?;
                let sparse = sparse_of(p.vectors.as_ref(), SPARSE).unwrap_or_default();
                Some(ChunkRecord {
                    id,
                    dense: dense_of(p.vectors, DENSE)?,
                    sparse,
                    payload: payload_of(p.payload),
                })
            })
            .collect();
        let more = chunks.len() > limit as usize;
        chunks.truncate(limit as usize);
        Ok((chunks, more))
    }

    fn save_settings(&self, settings: &serde_json::Value) -> Result<()> {
        let metadata = HashMap::from([(super::SETTINGS.to_owned(), settings.clone())]);
        let request = UpdateCollectionBuilder::new(self.collection.clone())
            .metadata(metadata)
            .build();
        self.client
            .run("save settings", move |node| {
                let request = request.clone();
                async move { node.update_collection(request).await }
            })
            .map(|_| ())
    }

    fn frozen(&self, _f: &mut dyn FnMut()) -> Result<()> {
        Err(StoreError::Unsupported(
            "a knowledge base in a Qdrant cluster is not in the data folder, so a file snapshot \
             cannot hold it: use `nova kb export` (or Qdrant's own snapshots)",
        ))
    }
}
