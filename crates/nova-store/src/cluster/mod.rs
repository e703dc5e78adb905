//! The Qdrant-cluster backend: one collection per knowledge base on a Qdrant server or cluster (sharded,
//! replicated), reached with the official gRPC client. Same named vectors as the embedded store — `dense`
//! (cosine) and `bm25` (sparse, IDF computed by Qdrant) — the same payload indexes, and every read
//! restricted by the caller's access filter inside Qdrant's own query.

mod client;
mod convert;
mod store;

pub use store::QdrantStore;

use crate::error::{names_a_missing_collection, Result, StoreError};
use crate::record::StoreSchema;
use crate::{Store, StoreBackend};
use client::Client;
use nova_core::KbName;
use qdrant_client::qdrant::{
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeleteCollectionBuilder, Distance,
    FieldType, Modifier, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    VectorParamsBuilder, VectorsConfigBuilder,
};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const DENSE: &str = "dense";
pub(crate) const SPARSE: &str = "bm25";
/// The collection metadata key holding the KB's settings record.
pub(crate) const SETTINGS: &str = "nova_kb";

/// How writes are ordered across a collection's replicas (Qdrant's `ordering` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteOrdering {
    /// Replicas may apply concurrent writes in different orders (fastest; Qdrant's default, and the one
    /// that keeps writing while a node is down).
    #[default]
    Weak,
    /// Through a dynamically chosen leader (writes to a shard whose leader died fail until it is
    /// replaced).
    Medium,
    /// Through the permanent leader: consistent, unavailable while the leader is down.
    Strong,
}

/// How many replicas a read consults (Qdrant's `read_consistency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadConsistency {
    /// One replica answers (fastest; Qdrant's default).
    #[default]
    One,
    /// A majority of replicas must agree.
    Majority,
    /// Half of the replicas + 1.
    Quorum,
    /// Every replica.
    All,
}

/// Where the cluster is and how collections are laid out on it.
#[derive(Debug, Clone)]
pub struct QdrantOptions {
    /// gRPC URLs of the nodes (any node serves any request; the others are for failover).
    pub urls: Vec<String>,
    /// API key, when the cluster asks for one.
    pub api_key: Option<String>,
    /// Prefix of every collection name (`<prefix><kb>`), so several deployments can share a cluster.
    pub collection_prefix: String,
    /// Shards per collection.
    pub shard_number: u32,
    /// Copies of each shard.
    pub replication_factor: u32,
    /// Replicas that must confirm a write before it is acknowledged.
    pub write_consistency_factor: u32,
    /// Ordering of writes.
    pub write_ordering: WriteOrdering,
    /// Replicas a read consults.
    pub read_consistency: ReadConsistency,
    /// Per-request deadline.
    pub timeout: Duration,
    /// Deadline to open a connection.
    pub connect_timeout: Duration,
    /// Retries of a failed call (on the next node each time).
    pub retries: u32,
    /// First backoff; doubled on each retry.
    pub backoff: Duration,
}

impl Default for QdrantOptions {
    fn default() -> Self {
        Self {
            urls: vec!["http://127.0.0.1:6334".into()],
            api_key: None,
            collection_prefix: "nova_".into(),
            shard_number: 1,
            replication_factor: 1,
            write_consistency_factor: 1,
            write_ordering: WriteOrdering::default(),
            read_consistency: ReadConsistency::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 6,
            backoff: Duration::from_millis(100),
        }
    }
}

/// Knowledge bases as collections of a Qdrant cluster.
pub struct QdrantBackend {
    client: Arc<Client>,
    opts: QdrantOptions,
}

impl QdrantBackend {
    /// A backend over the cluster `opts` names. Connects lazily: an unreachable cluster is reported by
    /// the first call, with the URLs tried.
    pub fn new(opts: QdrantOptions) -> Result<Self> {
        Ok(Self {
            client: Arc::new(Client::connect(&opts)?),
            opts,
        })
    }

    fn collection(&self, kb: &KbName) -> String {
        format!("{}{}", self.opts.collection_prefix, kb.as_str())
    }

    /// Checks that the cluster answers (for readiness probes and start-up).
    pub fn ping(&self) -> Result<()> {
        self.client
            .run(
                "health check",
                |node| async move { node.health_check().await },
            )
            .map(|_| ())
    }
}

impl StoreBackend for QdrantBackend {
    fn create(&self, kb: &KbName, schema: &StoreSchema) -> Result<Arc<dyn Store>> {
        let name = self.collection(kb);
        let o = &self.opts;
        let mut dense = VectorsConfigBuilder::default();
        dense.add_named_vector_params(
            DENSE,
            VectorParamsBuilder::new(schema.dim as u64, Distance::Cosine),
        );
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            SPARSE,
            SparseVectorParamsBuilder::default().modifier(Modifier::Idf as i32),
        );
        let request = CreateCollectionBuilder::new(name.clone())
            .vectors_config(dense)
            .sparse_vectors_config(sparse)
            .shard_number(o.shard_number)
            .replication_factor(o.replication_factor)
            .write_consistency_factor(o.write_consistency_factor)
            .build();
        let created = self.client.run("create collection", move |node| {
            let request = request.clone();
            async move { node.create_collection(request).await }
        });
        // A retried create whose first attempt landed finds the collection there: that is success.
        if let Err(e) = created {
            if !self.exists(kb) {
                return Err(e);
            }
        }
        let indexes = schema
            .keyword_fields
            .iter()
            .map(|f| (f.clone(), FieldType::Keyword))
            .chain(
                schema
                    .integer_fields
                    .iter()
                    .map(|f| (f.clone(), FieldType::Integer)),
            );
        for (field, kind) in indexes {
            let request = CreateFieldIndexCollectionBuilder::new(name.clone(), field, kind)
                .wait(true)
                .ordering(store::ordering(o.write_ordering))
                .build();
            self.client.run("create payload index", move |node| {
                let request = request.clone();
                async move { node.create_field_index(request).await }
            })?;
        }
        Ok(Arc::new(QdrantStore::new(
            self.client.clone(),
            name,
            schema.dim,
            o.clone(),
        )))
    }

    fn open(&self, kb: &KbName) -> Result<Arc<dyn Store>> {
        let name = self.collection(kb);
        let dim = self
            .config(&name)?
            .params
            .and_then(|p| p.vectors_config)
            .and_then(|v| match v.config? {
                qdrant_client::qdrant::vectors_config::Config::ParamsMap(map) => {
                    map.map.get(DENSE).map(|p| p.size as usize)
                }
                qdrant_client::qdrant::vectors_config::Config::Params(p) => Some(p.size as usize),
            })
            .ok_or_else(|| {
                StoreError::Config(format!(
                    "collection `{name}` has no `{DENSE}` vector: not a KB Nova collection"
                ))
            })?;
        Ok(Arc::new(QdrantStore::new(
            self.client.clone(),
            name,
            dim,
            self.opts.clone(),
        )))
    }

    fn load_settings(&self, kb: &KbName) -> Result<Option<serde_json::Value>> {
        match self.config(&self.collection(kb)) {
            Ok(config) => Ok(config.metadata.get(SETTINGS).cloned().map(Into::into)),
            Err(StoreError::MissingCollection(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn exists(&self, kb: &KbName) -> bool {
        let name = self.collection(kb);
        self.client
            .run("collection exists", move |node| {
                let name = name.clone();
                async move { node.collection_exists(name).await }
            })
            .unwrap_or_else(|e| {
                tracing::warn!("checking for a collection: {e}");
                false
            })
    }

    fn drop_kb(&self, kb: &KbName) -> Result<()> {
        let name = self.collection(kb);
        let dropped = self.client.run("delete collection", move |node| {
            let request = DeleteCollectionBuilder::new(name.clone()).build();
            async move { node.delete_collection(request).await }
        });
        match dropped {
            Err(StoreError::Cluster { ref source, .. }) if names_a_missing_collection(source) => {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    fn list(&self) -> Result<Vec<KbName>> {
        let all = self.client.run("list collections", |node| async move {
            node.list_collections().await
        })?;
        let mut names: Vec<KbName> = all
            .collections
            .into_iter()
            .filter_map(|c| {
                let kb = c.name.strip_prefix(&self.opts.collection_prefix)?;
                KbName::parse(kb).ok()
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

impl QdrantBackend {
    /// A collection's configuration (its vectors and metadata).
    fn config(&self, name: &str) -> Result<qdrant_client::qdrant::CollectionConfig> {
        let owned = name.to_owned();
        let info = self.client.run("collection info", move |node| {
            let name = owned.clone();
            async move { node.collection_info(name).await }
        });
        match info {
            Err(StoreError::Cluster { ref source, .. }) if names_a_missing_collection(source) => {
                Err(StoreError::MissingCollection(name.to_owned()))
            }
            other => other?.result.and_then(|r| r.config).ok_or_else(|| {
                StoreError::Config(format!("collection `{name}` has no configuration"))
            }),
        }
    }
}
