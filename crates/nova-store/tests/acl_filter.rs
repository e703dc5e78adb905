#![allow(clippy::unwrap_used)] // test setup: a failed step should fail loudly
//! The store skips a reader's document-permission filter only while no chunk sets an `acl`: the first
//! restricted chunk, and every reopen of a store that holds one, bring the filter back for every read.

use nova_core::{AccessFilter, Filter, KbName, Principal};
use nova_store::{ChunkRecord, EdgeStore, Retriever, SparseVec, Store, StoreQuery, StoreSchema};
use serde_json::json;

fn schema() -> StoreSchema {
    StoreSchema {
        dim: 4,
        keyword_fields: vec!["doc_id".into(), "acl".into()],
        integer_fields: vec![],
    }
}

fn chunk(id: u64, acl: serde_json::Value) -> ChunkRecord {
    let payload = json!({ "doc_id": format!("d{id}"), "acl": acl });
    ChunkRecord {
        id,
        dense: vec![1.0, 0.5, 0.25, id as f32 / 10.0],
        sparse: SparseVec {
            indices: vec![7],
            values: vec![1.0],
        },
        payload: payload.as_object().unwrap().clone(),
    }
}

/// Chunk ids a reader in no group sees through every read path.
fn seen(store: &EdgeStore, access: &AccessFilter) -> [Vec<u64>; 4] {
    let all = Filter::default();
    let sparse = SparseVec {
        indices: vec![7],
        values: vec![1.0],
    };
    let search = |retriever| {
        let mut ids: Vec<u64> = store
            .search(&StoreQuery {
                retriever,
                dense: &[1.0, 0.5, 0.25, 0.0],
                sparse: &sparse,
                filter: &all,
                access,
                limit: 10,
                payload_keys: None,
            })
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        ids.sort_unstable();
        ids
    };
    let mut got: Vec<u64> = store
        .get_many(&[1, 2, 3], access)
        .unwrap()
        .into_keys()
        .collect();
    got.sort_unstable();
    let count = store.count(&all, access).unwrap() as u64;
    [
        search(Retriever::Dense),
        search(Retriever::Bm25),
        got,
        vec![count],
    ]
}

#[test]
fn the_first_restricted_chunk_and_every_reopen_bring_the_filter_back() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("store");
    let reader = AccessFilter::for_principal(
        &Principal::member("bob", &[]),
        &KbName::parse("kb").unwrap(),
    );
    let store = EdgeStore::create(&path, &schema()).unwrap();
    store
        .upsert(vec![chunk(1, json!([])), chunk(2, json!(null))])
        .unwrap();
    assert_eq!(
        seen(&store, &reader),
        [vec![1, 2], vec![1, 2], vec![1, 2], vec![2]]
    );
    store.upsert(vec![chunk(3, json!(["hr"]))]).unwrap();
    let open_only = [vec![1, 2], vec![1, 2], vec![1, 2], vec![2]];
    assert_eq!(seen(&store, &reader), open_only, "hr's chunk stays hidden");
    assert_eq!(
        seen(&store, &AccessFilter::system())[2],
        vec![1, 2, 3],
        "it is stored"
    );
    drop(store);
    let reopened = EdgeStore::open(&path).unwrap();
    assert_eq!(seen(&reopened, &reader), open_only, "after a reopen too");
}
