//! A missing or damaged model folder gives one clear error naming the file and the fix, never a panic.

use nova_embed::{BatchOptions, EmbedError, ModelSource, SentenceEmbedder};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn real_model() -> PathBuf {
    // Read at run time: cargo may reuse this binary from a checkout sharing the target folder.
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("../../models/all-MiniLM-L6-v2")
}

/// A copy of the real model folder (weights included) that a test may damage.
fn model_copy() -> TempDir {
    let dir = TempDir::new().expect("tempdir");
    copy_dir(&real_model(), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("model folder exists: run scripts/fetch-models.sh")
    {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

fn load(dir: &Path) -> Result<SentenceEmbedder, EmbedError> {
    SentenceEmbedder::load(
        &ModelSource::Local(dir.to_path_buf()),
        BatchOptions::default(),
    )
}

fn load_err(dir: &Path) -> String {
    match load(dir) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "one line: {msg}");
            msg
        }
    }
}

#[test]
fn missing_folder_names_the_folder_and_the_fix() {
    let msg = load_err(Path::new("/nonexistent/model"));
    assert!(
        msg.contains("/nonexistent/model") && msg.contains("fetch-models.sh"),
        "{msg}"
    );
}

#[test]
fn missing_tokenizer_names_the_file() {
    let dir = model_copy();
    std::fs::remove_file(dir.path().join("tokenizer.json")).expect("rm");
    let msg = load_err(dir.path());
    assert!(
        msg.contains("tokenizer.json") && msg.contains("missing"),
        "{msg}"
    );
}

#[test]
fn corrupt_weights_name_the_file() {
    let dir = model_copy();
    std::fs::write(
        dir.path().join("model.safetensors"),
        b"this is not a safetensors file",
    )
    .expect("write");
    let msg = load_err(dir.path());
    assert!(
        msg.contains("model.safetensors") && msg.contains("corrupt"),
        "{msg}"
    );
}

#[test]
fn truncated_weights_name_the_file() {
    let dir = model_copy();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    let msg = load_err(dir.path());
    assert!(
        msg.contains("model.safetensors") && msg.contains("corrupt"),
        "{msg}"
    );
}

#[test]
fn corrupt_tokenizer_names_the_file() {
    let dir = model_copy();
    std::fs::write(dir.path().join("tokenizer.json"), b"{\"model\": 42}").expect("write");
    let msg = load_err(dir.path());
    assert!(
        msg.contains("tokenizer.json") && msg.contains("corrupt"),
        "{msg}"
    );
}

#[test]
fn wrong_hidden_size_in_config_names_the_tensor() {
    let dir = model_copy();
    let cfg = std::fs::read_to_string(dir.path().join("config.json")).expect("read");
    std::fs::write(
        dir.path().join("config.json"),
        cfg.replace("\"hidden_size\": 384", "\"hidden_size\": 768"),
    )
    .expect("write");
    let msg = load_err(dir.path());
    assert!(
        msg.contains("embeddings.word_embeddings.weight") && msg.contains("shape"),
        "{msg}"
    );
}
