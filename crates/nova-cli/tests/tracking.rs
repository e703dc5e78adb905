//! Experiment tracking end to end: `nova eval` and `nova tickets train` record runs that `nova runs`
//! lists, shows and compares; with `--mlflow` the same run reaches a real MLflow server (started here
//! from the venv scripts/mlflow-test-deps.sh installs; SKIPPED, saying why, without it) and is read back
//! through MLflow's REST API.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

/// A small BEIR set over the sample articles: corpus, queries, judgements.
fn tiny_beir(dir: &Path) -> PathBuf {
    let set = dir.join("tiny");
    std::fs::create_dir_all(set.join("qrels")).expect("dirs");
    let mut corpus = String::new();
    for entry in std::fs::read_dir(root().join("examples/kb")).expect("examples") {
        let path = entry.expect("entry").path();
        let id = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("read");
        corpus.push_str(&serde_json::json!({"_id": id, "title": "", "text": text}).to_string());
        corpus.push('\n');
    }
    std::fs::write(set.join("corpus.jsonl"), corpus).expect("corpus");
    let queries = [
        (
            "q1",
            "printer shows offline and jobs pile up",
            "printer-offline",
        ),
        ("q2", "no space left on the device", "disk-full"),
        (
            "q3",
            "pods keep restarting after the upgrade",
            "kubernetes-crashloopbackoff",
        ),
        (
            "q4",
            "vpn tunnel drops every few minutes",
            "vpn-disconnects",
        ),
        (
            "q5",
            "forgot my password and the reset mail never came",
            "password-reset",
        ),
    ];
    let mut q = String::new();
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    for (id, text, doc) in queries {
        q.push_str(&serde_json::json!({"_id": id, "text": text}).to_string());
        q.push('\n');
        qrels.push_str(&format!("{id}\t{doc}\t1\n"));
    }
    std::fs::write(set.join("queries.jsonl"), q).expect("queries");
    std::fs::write(set.join("qrels/test.tsv"), qrels).expect("qrels");
    set
}

fn json_out(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn evaluations_and_training_are_recorded_listed_shown_and_compared() {
    let data = TempDir::new().expect("tmp");
    let d = data.path();
    let set = tiny_beir(d);
    let set_arg = set.to_str().expect("utf8");
    for fusion in ["convex:0.6", "rrf"] {
        let out = nova_in(
            d,
            &[
                "eval",
                "--dataset",
                set_arg,
                "--modes",
                "hybrid,bm25",
                "--fusion",
                fusion,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("recorded run"), "{}", stderr(&out));
    }
    let out = nova_in(
        d,
        &[
            "eval",
            "--dataset",
            set_arg,
            "--modes",
            "bm25",
            "--no-track",
        ],
    );
    assert!(!stderr(&out).contains("recorded run"));

    let list = json_out(&nova_in(d, &["runs", "list", "--json"]));
    let runs = list.as_array().expect("array");
    assert_eq!(runs.len(), 2, "{list}");
    assert_eq!(runs[0]["id"], 2, "newest first");
    assert_eq!(runs[0]["kind"], "eval");

    let shown = json_out(&nova_in(d, &["runs", "show", "1", "--json"]));
    assert_eq!(shown["params"]["fusion"], "convex:0.6");
    assert_eq!(shown["params"]["dataset.name"], "tiny");
    assert_eq!(shown["params"]["dataset.queries"], "5");
    assert_eq!(
        shown["params"]["dataset.sha256"]
            .as_str()
            .expect("hash")
            .len(),
        64
    );
    assert_eq!(
        shown["params"]["model.weights_sha256"]
            .as_str()
            .expect("hash")
            .len(),
        64
    );
    assert!(shown["tags"]["cores"].as_str().is_some());
    let ndcg = shown["metrics"]["hybrid.ndcg_at_10"]
        .as_f64()
        .expect("ndcg");
    assert!((0.0..=1.0).contains(&ndcg) && ndcg > 0.5, "{ndcg}");
    assert_eq!(shown["report"]["queries"], 5);

    let cmp = json_out(&nova_in(d, &["runs", "compare", "1", "2", "--json"]));
    let params = cmp["params"].as_array().expect("params");
    assert!(
        params
            .iter()
            .any(|p| p["key"] == "fusion" && p["a"] == "convex:0.6" && p["b"] == "rrf:60"),
        "{cmp}"
    );
    let bm25 = cmp["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["key"] == "bm25.ndcg_at_10")
        .expect("bm25 in both");
    assert_eq!(bm25["delta"], 0.0, "BM25 does not depend on the fusion");
    let text = nova_in(d, &["runs", "compare", "1", "2"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("fusion"));
    let missing = nova_in(d, &["runs", "show", "9"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no run 9"),
        "{}",
        stderr(&missing)
    );

    // Router training is a run too.
    let tickets = root().join("crates/nova-server/tests/fixtures/router_tickets.csv");
    assert!(nova_in(
        d,
        &[
            "tickets",
            "import",
            tickets.to_str().expect("utf8"),
            "--kb",
            "desk"
        ]
    )
    .status
    .success());
    let out = nova_in(d, &["tickets", "train", "--kb", "desk", "--k", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = json_out(&nova_in(
        d,
        &["runs", "list", "--kind", "tickets-train", "--json"],
    ));
    assert_eq!(list.as_array().expect("array").len(), 1, "{list}");
    let train = json_out(&nova_in(d, &["runs", "show", "3", "--json"]));
    assert_eq!(train["params"]["label"], "category");
    assert!(
        train["metrics"]["chosen.accuracy"]
            .as_f64()
            .expect("accuracy")
            > 0.5
    );
}

/// The MLflow server's venv (scripts/mlflow-test-deps.sh).
fn mlflow_bin() -> Option<PathBuf> {
    let bin = kb_nova_cache().join("mlflow-venv/bin/mlflow");
    bin.exists().then_some(bin)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// GET `url` and its JSON body.
fn get_json(url: &str) -> Value {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let response = reqwest::get(url).await.expect("GET");
        assert!(
            response.status().is_success(),
            "GET {url}: {}",
            response.status()
        );
        response.json().await.expect("json")
    })
}

#[test]
fn a_run_sent_with_mlflow_is_read_back_from_a_real_mlflow_server() {
    let Some(mlflow) = mlflow_bin() else {
        eprintln!("SKIPPED the MLflow test: no MLflow venv (run scripts/mlflow-test-deps.sh)");
        return;
    };
    let data = TempDir::new().expect("tmp");
    let d = data.path();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(mlflow)
        .args([
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--workers",
            "1",
        ])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", d.join("mlflow.db").display()))
        .arg("--artifacts-destination")
        .arg(d.join("artifacts"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("mlflow server starts");
    wait_for_200(&format!("127.0.0.1:{port}"), "/health", 180);

    let set = tiny_beir(d);
    let out = nova_in(
        d,
        &[
            "eval",
            "--dataset",
            set.to_str().expect("utf8"),
            "--modes",
            "hybrid",
            "--mlflow",
            &base,
            "--experiment",
            "kb-nova-test",
        ],
    );
    let err = stderr(&out);
    let read_back = || {
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains("sent to MLflow") && err.contains("report.json attached"),
            "{err}"
        );
        let local = json_out(&nova_in(d, &["runs", "show", "1", "--json"]));
        let run_id = local["mlflow_run_id"]
            .as_str()
            .expect("an MLflow run id")
            .to_owned();
        let remote = get_json(&format!("{base}/api/2.0/mlflow/runs/get?run_id={run_id}"));
        let data = &remote["run"]["data"];
        let metric = |k: &str| {
            data["metrics"]
                .as_array()
                .expect("metrics")
                .iter()
                .find(|m| m["key"] == k)
                .and_then(|m| m["value"].as_f64())
        };
        assert_eq!(
            metric("hybrid.ndcg_at_10"),
            local["metrics"]["hybrid.ndcg_at_10"].as_f64(),
            "{remote}"
        );
        let param = |k: &str| {
            data["params"]
                .as_array()
                .expect("params")
                .iter()
                .find(|p| p["key"] == k)
                .and_then(|p| p["value"].as_str().map(str::to_owned))
        };
        assert_eq!(param("dataset.name").as_deref(), Some("tiny"));
        assert_eq!(remote["run"]["info"]["status"], "FINISHED");
        let files = get_json(&format!(
            "{base}/api/2.0/mlflow/artifacts/list?run_id={run_id}"
        ));
        assert!(files.to_string().contains("report.json"), "{files}");
        let experiment = get_json(&format!(
            "{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=kb-nova-test"
        ));
        assert_eq!(
            experiment["experiment"]["experiment_id"],
            remote["run"]["info"]["experiment_id"]
        );
    };
    let outcome = std::panic::catch_unwind(read_back);
    let _ = server.kill();
    let _ = server.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
