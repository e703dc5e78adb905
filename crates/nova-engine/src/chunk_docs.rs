//! Which document a chunk belongs to, without reading the chunk's payload.
//!
//! A chunk's point id is a hash of (document id, version, chunk index) (`payload::chunk_id`), so an id
//! always names the same document: an entry learned once is never wrong, only possibly stale (its chunk
//! deleted — and then no search returns the id). Search candidates, hundreds per retriever, are grouped
//! by document through this map; only ids seen for the first time have their document id read from the
//! store. Reading it with every candidate cost ~40 % of a cached query's CPU (`perf`: the store
//! decompresses and parses each candidate's whole payload, chunk text included, to return one field).

use crate::error::Result;
use crate::payload::keys;
use nova_core::AccessFilter;
use nova_store::Store;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// Entries kept before the map starts over (~100 bytes each): a bound for very large KBs, whose hot
/// chunks are learned again by the next searches.
const MAX_ENTRIES: usize = 2_000_000;

/// Chunk id → document id, learned from the store as searches meet chunks.
#[derive(Default)]
pub(crate) struct ChunkDocs {
    map: RwLock<HashMap<u64, Arc<str>>>,
}

impl ChunkDocs {
    /// The document of each of `ids` (ids a search under `access` returned): known ones from the map,
    /// the others read from `store` under the same `access` and remembered. Ids the store no longer
    /// holds (deleted since the search) are left out.
    pub(crate) fn resolve(
        &self,
        store: &dyn Store,
        ids: impl Iterator<Item = u64>,
        access: &AccessFilter,
    ) -> Result<HashMap<u64, Arc<str>>> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let map = self.map.read();
            for id in ids {
                match map.get(&id) {
                    Some(doc) => {
                        found.insert(id, doc.clone());
                    }
                    None => missing.push(id), // repeats (both retrievers) go with the dedup below
                }
            }
        }
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(found);
        }
        let payloads = store.get_many(&missing, access)?;
        let mut map = self.map.write();
        if map.len() + payloads.len() > MAX_ENTRIES {
            map.clear();
        }
        for (id, payload) in payloads {
            if let Some(serde_json::Value::String(doc)) = payload.get(keys::DOC_ID) {
                let doc: Arc<str> = Arc::from(doc.as_str());
                map.insert(id, doc.clone());
                found.insert(id, doc);
            }
        }
        Ok(found)
    }
}
