//! The `nova` binary end to end: real model, real files, exit codes and one-line errors.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `nova` with the real model and no stray config from the environment.
fn nova(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nova"))
        .current_dir(root())
        .env_remove("NOVA_MODEL__PATH")
        .arg("--model")
        .arg(root().join("models/all-MiniLM-L6-v2"))
        .args(args)
        .output()
        .expect("nova runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("output line is JSON"))
        .collect()
}

#[test]
fn embed_file_matches_sentence_transformers_and_keeps_order_and_fields() {
    let dir = TempDir::new().expect("tmp");
    let out_path = dir.path().join("out.jsonl");
    let fixture = root().join("crates/nova-embed/tests/fixtures/st_golden.jsonl");
    let out = nova(&[
        "embed",
        "--input",
        fixture.to_str().expect("utf8"),
        "--output",
        out_path.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let golden = jsonl(&std::fs::read_to_string(&fixture).expect("fixture"));
    let ours = jsonl(&std::fs::read_to_string(&out_path).expect("output"));
    assert_eq!(ours.len(), golden.len());
    for (g, o) in golden.iter().zip(&ours) {
        assert_eq!(g["text"], o["text"], "order kept");
        assert_eq!(g["input_ids"], o["input_ids"], "other fields kept");
        let to_vec = |v: &Value| -> Vec<f32> {
            v.as_array()
                .expect("array")
                .iter()
                .map(|x| x.as_f64().expect("num") as f32)
                .collect()
        };
        let c = nova_core::cosine(&to_vec(&g["embedding"]), &to_vec(&o["embedding"]));
        assert!(c >= 0.99999, "{}: {c}", g["text"]);
    }
}

#[test]
fn bad_lines_are_reported_by_number_and_the_rest_still_embed() {
    let dir = TempDir::new().expect("tmp");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"text\":\"disk full\"}\n{broken\n{\"title\":\"no text\"}\n\n{\"text\":\"printer jam\",\"id\":5}\n")
        .expect("write");
    let output = dir.path().join("out.jsonl");
    let out = nova(&[
        "embed",
        "-i",
        input.to_str().expect("utf8"),
        "-o",
        output.to_str().expect("utf8"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "partial success exits 2: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("in.jsonl:2: invalid JSON"), "{err}");
    assert!(err.contains("in.jsonl:3: missing field `text`"), "{err}");
    assert!(
        err.contains("embedded 2 texts") && err.contains("skipped 2 lines"),
        "{err}"
    );
    let rows = jsonl(&std::fs::read_to_string(&output).expect("output"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["id"], 5);
    assert_eq!(rows[1]["embedding"].as_array().expect("array").len(), 384);
}

#[test]
fn unreadable_input_is_a_one_line_error_naming_the_path() {
    let out = nova(&[
        "embed",
        "--input",
        "/no/such/file.jsonl",
        "--output",
        "/tmp/never.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("/no/such/file.jsonl"), "{err}");
}

#[test]
fn missing_model_is_a_one_line_error_with_the_fix() {
    let out = Command::new(env!("CARGO_BIN_EXE_nova"))
        .args(["--model", "/no/model/here", "embed", "hello"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("/no/model/here") && err.contains("scripts/fetch-models.sh"),
        "{err}"
    );
}

#[test]
fn embed_arguments_print_one_json_line_each() {
    let out = nova(&["embed", "hello world", ""]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = jsonl(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["text"], "hello world");
    let norm: f64 = rows[0]["embedding"]
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("n").powi(2))
        .sum();
    assert!((norm - 1.0).abs() < 1e-5, "unit norm, got {norm}");
}

#[test]
fn similar_ranks_the_paraphrase_closest() {
    let out = nova(&[
        "similar",
        "VPN keeps disconnecting",
        "printer out of toner",
        "remote access connection drops",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[1] → [3]"), "{text}");
}

#[test]
fn unknown_config_key_from_env_is_rejected_by_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_nova"))
        .env("NOVA_MODEL__BATCHSIZE", "3")
        .arg("config")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("batchsize"), "{}", stderr(&out));
}

#[test]
fn config_prints_env_overrides() {
    let out = Command::new(env!("CARGO_BIN_EXE_nova"))
        .env("NOVA_MODEL__MAX_BATCH", "7")
        .arg("config")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("max_batch = 7"));
}

/// `nova` with its data folder in `data`.
fn nova_in(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nova"))
        .current_dir(root())
        .env("NOVA_DATA__DIR", data)
        .arg("--model")
        .arg(root().join("models/all-MiniLM-L6-v2"))
        .args(args)
        .output()
        .expect("nova runs")
}

#[test]
fn ingest_then_search_the_sample_kb_and_reingest_is_a_noop() {
    let data = TempDir::new().expect("tmp");
    let out = nova_in(data.path(), &["ingest", "examples/kb"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("6 added, 0 updated, 0 unchanged, 0 skipped"),
        "{summary}"
    );

    let out = nova_in(
        data.path(),
        &[
            "search",
            "pods keep restarting after the upgrade",
            "-k",
            "2",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let hits: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(hits[0]["doc_id"], "kubernetes-crashloopbackoff.md");
    assert!(
        hits[0]["dense"]["rank"].as_u64().is_some() && hits[0]["bm25"]["rank"].as_u64().is_some()
    );

    let out = nova_in(data.path(), &["ingest", "examples/kb"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 added, 0 updated, 6 unchanged"));
}

#[test]
fn bad_search_mode_and_missing_document_are_one_line_errors() {
    let data = TempDir::new().expect("tmp");
    let out = nova_in(data.path(), &["search", "x", "--mode", "fuzzy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown mode `fuzzy`"),
        "{}",
        stderr(&out)
    );
    let out = nova_in(data.path(), &["delete", "nope.md"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`nope.md` is not in knowledge base `default`"),
        "{}",
        stderr(&out)
    );
}
