//! Where everything of a data folder lives, computed in this one place (paths only, no I/O):
//!
//! ```text
//! <data>/kbs/<kb>/kb.json            knowledge-base metadata (model, BM25 average length)
//! <data>/kbs/<kb>/store/             the embedded store's shard
//! <data>/kbs/<kb>/feedback.jsonl     user feedback
//! <data>/kbs/<kb>/router/<label>/    ticket router versions
//! <data>/kbs/<kb>/versions/          index versions: v<n>.json lineage, v<n>/ stores, alias.json
//! <data>/auth/                       API keys (hashed) and their hashing key
//! ```

use crate::names::{KbName, LabelField};
use std::path::{Path, PathBuf};

/// The layout of one data folder.
#[derive(Debug, Clone)]
pub struct DataLayout {
    root: PathBuf,
}

impl DataLayout {
    /// The layout under `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The data folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// API keys and the secret they are hashed with.
    pub fn auth_dir(&self) -> PathBuf {
        self.root.join("auth")
    }

    /// The folder holding every knowledge base.
    pub fn kbs_dir(&self) -> PathBuf {
        self.root.join("kbs")
    }

    /// Ingest tasks: one status file per task, and its queued documents until it has run.
    pub fn tasks_dir(&self) -> PathBuf {
        self.root.join("tasks")
    }

    /// The audit trail's folder.
    pub fn audit_dir(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// One knowledge base's folder; an index version's (`<kb>.v<n>`, see [`KbName::version`]) is
    /// `<kb>/versions/v<n>`, inside its KB's, so a snapshot or a drop of the KB takes its versions along.
    pub fn kb_dir(&self, kb: &KbName) -> PathBuf {
        match kb.split_version() {
            Some((base, n)) => self.versions_dir(base).join(format!("v{n}")),
            None => self.kbs_dir().join(kb.as_str()),
        }
    }

    /// `kbs/<kb>/versions/`: the index versions of a KB, their lineage records and the serving alias.
    pub fn versions_dir(&self, kb: &str) -> PathBuf {
        self.kbs_dir().join(kb).join("versions")
    }

    /// Its metadata file; a KB exists when this file does.
    pub fn meta_file(&self, kb: &KbName) -> PathBuf {
        self.kb_dir(kb).join("kb.json")
    }

    /// Its embedded store shard.
    pub fn store_dir(&self, kb: &KbName) -> PathBuf {
        self.kb_dir(kb).join("store")
    }

    /// The file locked by the one process that has the KB open.
    pub fn lock_file(&self, kb: &KbName) -> PathBuf {
        self.kb_dir(kb).join("writer.lock")
    }

    /// Its feedback log.
    pub fn feedback_file(&self, kb: &KbName) -> PathBuf {
        self.kb_dir(kb).join("feedback.jsonl")
    }

    /// `kbs/<kb>/queries.jsonl`: the searches asked (for knowledge-gap reports).
    pub fn queries_file(&self, kb: &KbName) -> PathBuf {
        self.kb_dir(kb).join("queries.jsonl")
    }

    /// `kbs/<kb>/golden.json`: the golden query set index rebuilds are gated on.
    pub fn golden_file(&self, kb: &KbName) -> PathBuf {
        self.kb_dir(kb).join("golden.json")
    }

    /// `kbs/<kb>/drift_reference.json`: the query stream's reference window for drift signals.
    pub fn drift_reference_file(&self, kb: &KbName) -> PathBuf {
        self.kb_dir(kb).join("drift_reference.json")
    }

    /// Its routers: one folder per label.
    pub fn routers_dir(&self, kb: &KbName) -> PathBuf {
        self.kb_dir(kb).join("router")
    }

    /// Its router versions for `label`.
    pub fn router_dir(&self, kb: &KbName, label: &LabelField) -> PathBuf {
        self.routers_dir(kb).join(label.as_str())
    }
}
