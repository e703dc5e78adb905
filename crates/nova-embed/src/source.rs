//! Where a model comes from: a local sentence-transformers folder, or a Hugging Face hub repository
//! (`hf:owner/name[@revision]`) downloaded into the hub cache for users who are online.

use crate::error::{EmbedError, Result};
use crate::model_dir::{ModelDir, OPTIONAL_FILES, REQUIRED_FILES};
use std::fmt;
use std::path::PathBuf;

/// A model location as written in config or on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A folder on disk holding `config.json`, `tokenizer.json`, `model.safetensors`, …
    Local(PathBuf),
    /// A hub repository id and revision (branch, tag or commit).
    Hub {
        /// e.g. `sentence-transformers/all-MiniLM-L6-v2`
        repo: String,
        /// e.g. `main`
        revision: String,
    },
}

impl ModelSource {
    /// Parses `hf:owner/name[@rev]` as a hub source and anything else as a local path.
    pub fn parse(spec: &str) -> Self {
        match spec.strip_prefix("hf:") {
            Some(rest) => {
                let (repo, revision) = rest.split_once('@').unwrap_or((rest, "main"));
                Self::Hub {
                    repo: repo.to_owned(),
                    revision: revision.to_owned(),
                }
            }
            None => Self::Local(PathBuf::from(spec)),
        }
    }

    /// Makes the model available as a local folder, downloading it first for hub sources, and checks that
    /// the required files are there.
    pub fn resolve(&self) -> Result<ModelDir> {
        match self {
            Self::Local(path) => ModelDir::open(path),
            Self::Hub { repo, revision } => {
                Ok(ModelDir::open(&download(repo, revision)?)?.with_id(repo.as_str()))
            }
        }
    }
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::Hub { repo, revision } => write!(f, "hf:{repo}@{revision}"),
        }
    }
}

/// Fetches the model's files through `hf-hub` (honours `HF_HOME`, `HF_ENDPOINT` and the shared hub cache,
/// so a model sentence-transformers already downloaded is reused) and returns the snapshot folder.
fn download(repo: &str, revision: &str) -> Result<PathBuf> {
    use hf_hub::{api::sync::ApiBuilder, Repo, RepoType};
    let hub_err = |file: &str, source| EmbedError::Hub {
        repo: repo.to_owned(),
        file: file.to_owned(),
        source,
    };
    let api = ApiBuilder::from_env()
        .with_progress(true)
        .build()
        .map_err(|e| hub_err("(client)", e))?;
    let handle = api.repo(Repo::with_revision(
        repo.to_owned(),
        RepoType::Model,
        revision.to_owned(),
    ));
    let mut snapshot = None;
    for file in REQUIRED_FILES {
        let local = handle.get(file).map_err(|e| hub_err(file, e))?;
        snapshot = local.parent().map(PathBuf::from);
    }
    for file in OPTIONAL_FILES {
        // Older repositories lack these; the defaults in ModelDir then apply.
        if let Err(err) = handle.get(file) {
            tracing::debug!(file, %err, "optional model file not on the hub");
        }
    }
    snapshot.ok_or_else(|| EmbedError::MissingDir {
        path: PathBuf::from(repo),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_prefix_selects_the_hub_with_default_revision() {
        assert_eq!(
            ModelSource::parse("hf:sentence-transformers/all-MiniLM-L6-v2"),
            ModelSource::Hub {
                repo: "sentence-transformers/all-MiniLM-L6-v2".into(),
                revision: "main".into()
            }
        );
        assert_eq!(
            ModelSource::parse("hf:org/m@v1.0"),
            ModelSource::Hub {
                repo: "org/m".into(),
                revision: "v1.0".into()
            }
        );
    }

    #[test]
    fn plain_strings_are_local_paths() {
        assert_eq!(
            ModelSource::parse("models/x"),
            ModelSource::Local(PathBuf::from("models/x"))
        );
    }
}
