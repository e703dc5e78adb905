//! `nova kb attach-eval`, `nova index`, `nova drift` and `nova ab` as a user runs them on the sample KB
//! and its golden set (examples/golden.jsonl): a refused build fails the command and leaves the serving
//! version, a passing one switches, rollback switches back, the drift report and an A/B test start.

#![allow(clippy::unwrap_used)] // a failed setup step should fail the test loudly

mod common;
use common::*;

fn ok(data: &std::path::Path, args: &[&str]) -> String {
    let out = nova_in(data, args);
    assert!(out.status.success(), "nova {args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn index_versions_drift_and_ab_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ok(data, &["ingest", "examples/kb", "--kb", "helpdesk"]);
    let attached = ok(
        data,
        &[
            "kb",
            "attach-eval",
            "helpdesk",
            "--docs",
            "examples/kb",
            "--queries",
            "examples/golden.jsonl",
        ],
    );
    assert!(attached.contains("7 queries kept"), "{attached}");

    // BM25 only: refused, the command fails, version 1 keeps serving.
    let out = nova_in(
        data,
        &["index", "build", "--kb", "helpdesk", "--fusion", "convex:0"],
    );
    assert!(!out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(printed.contains("REFUSED: ndcg_at_10"), "{printed}");
    assert!(
        stderr(&out).contains("refused version 2"),
        "{}",
        stderr(&out)
    );

    let built = ok(
        data,
        &["index", "build", "--kb", "helpdesk", "--chunk-words", "60"],
    );
    assert!(built.contains("now serves version 3"), "{built}");
    let list = ok(data, &["index", "list", "--kb", "helpdesk"]);
    for line in ["1  standby", "2  refused", "3  serving"] {
        assert!(list.contains(line), "{line} in\n{list}");
    }
    let diff = ok(data, &["index", "diff", "1", "3", "--kb", "helpdesk"]);
    assert!(diff.contains("chunking.target_words: 150 → 60"), "{diff}");
    let back = ok(data, &["index", "rollback", "--kb", "helpdesk"]);
    assert!(back.contains("now serves version 1 (was 3)"), "{back}");
    let shown: serde_json::Value =
        serde_json::from_str(&ok(data, &["index", "show", "3", "--kb", "helpdesk"])).unwrap();
    assert_eq!(shown["state"], "standby");
    assert_eq!(shown["gate"]["passed"], true);

    // Searches feed the drift window; the report reads them back from the query log.
    ok(data, &["search", "printer offline", "--kb", "helpdesk"]);
    let drift = ok(data, &["drift", "report", "--kb", "helpdesk"]);
    assert!(
        drift.contains("current") && drift.contains("no reference yet"),
        "{drift}"
    );
    let baseline = ok(data, &["drift", "baseline", "--kb", "helpdesk"]);
    assert!(baseline.contains("its last 1 searches"), "{baseline}");

    // An A/B test of the standby version.
    let started = ok(
        data,
        &[
            "ab",
            "start",
            "--kb",
            "helpdesk",
            "--candidate",
            "3",
            "--share",
            "0.3",
        ],
    );
    assert!(
        started.contains("30 % of users search version 3"),
        "{started}"
    );
    let report = ok(data, &["ab", "report", "--kb", "helpdesk"]);
    assert!(
        report.contains("Running") && report.contains("helpful_rate"),
        "{report}"
    );
    let stopped = ok(data, &["ab", "stop", "--kb", "helpdesk", "--promote"]);
    assert!(stopped.contains("now serves version 3"), "{stopped}");
}
