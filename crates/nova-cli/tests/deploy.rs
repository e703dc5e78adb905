#![allow(clippy::unwrap_used)] // test setup: a failed step should fail loudly
//! deploy/: the Helm chart, rendered by deploy/helm/render.py (helm's template subset the chart uses;
//! helm itself is not installable here), passes strict validation against the Kubernetes 1.37 OpenAPI
//! schemas (kubernetes-validate) with its options on and off, and deploy/compose.yaml passes the
//! compose-spec schema (check-jsonschema). Broken inputs fail both, so the checks can fail. SKIPPED
//! without the validators (scripts/deploy-test-deps.sh installs them).

mod common;

use common::{kb_nova_cache, root};
use std::path::PathBuf;
use std::process::{Command, Output};

fn venv() -> Option<PathBuf> {
    let bin = kb_nova_cache().join("deploy-venv/bin");
    if bin.join("kubernetes-validate").is_file() && bin.join("check-jsonschema").is_file() {
        Some(bin)
    } else {
        eprintln!(
            "SKIPPED: no validators in {} (scripts/deploy-test-deps.sh)",
            bin.display()
        );
        None
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The chart rendered with `sets`, validated; (rendered YAML, validator output, passed).
fn render_and_validate(bin: &std::path::Path, sets: &[&str]) -> (String, String, bool) {
    let mut render = Command::new(bin.join("python"));
    render
        .arg(root().join("deploy/helm/render.py"))
        .arg(root().join("deploy/helm/kb-nova"));
    for s in sets {
        render.args(["--set", s]);
    }
    let out = render.output().unwrap();
    assert!(out.status.success(), "render: {}", text(&out));
    let yaml = String::from_utf8(out.stdout).unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = Command::new(bin.join("kubernetes-validate"))
        .args(["-k", "1.37.0", "--strict"])
        .arg(&file)
        .output()
        .unwrap();
    (yaml, text(&out), out.status.success())
}

#[test]
fn the_helm_chart_renders_to_valid_kubernetes_objects() {
    let Some(bin) = venv() else { return };
    let (yaml, report, ok) = render_and_validate(&bin, &[]);
    assert!(ok, "{report}\n{yaml}");
    for kind in [
        "configmap",
        "deployment",
        "horizontalpodautoscaler",
        "poddisruptionbudget",
        "service",
    ] {
        assert!(
            report.contains(&format!("passed for resource {kind}/")),
            "{kind}: {report}"
        );
    }
    assert!(
        yaml.contains("path: /readyz") && yaml.contains("path: /healthz"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("replicas:"),
        "the HPA owns the replica count"
    );

    // Fixed replicas, the ServiceMonitor on (a CRD: its kind has no core schema, checked by shape).
    let (yaml, report, ok) = render_and_validate(
        &bin,
        &[
            "autoscaling.enabled=false",
            "serviceMonitor.enabled=true",
            "replicaCount=3",
        ],
    );
    assert!(ok, "{report}");
    assert!(yaml.contains("replicas: 3") && !yaml.contains("HorizontalPodAutoscaler"));
    assert!(yaml.contains("kind: ServiceMonitor") && yaml.contains("path: /metrics"));

    // A broken value is caught.
    let (_, report, ok) = render_and_validate(&bin, &["service.port=\"eighty\""]);
    assert!(!ok, "a string port must fail: {report}");
}

#[test]
fn the_compose_file_matches_the_compose_spec() {
    let Some(bin) = venv() else { return };
    let check = |file: &std::path::Path| {
        Command::new(bin.join("check-jsonschema"))
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(file)
            .output()
            .unwrap()
    };
    let compose = root().join("deploy/compose.yaml");
    let out = check(&compose);
    assert!(out.status.success(), "{}", text(&out));
    let body = std::fs::read_to_string(&compose).unwrap();
    for service in [
        "qdrant1:", "qdrant2:", "qdrant3:", "redis:", "nova1:", "nova2:",
    ] {
        assert!(body.contains(service), "{service}");
    }
    let dir = tempfile::TempDir::new().unwrap();
    let broken = dir.path().join("compose.yaml");
    std::fs::write(
        &broken,
        body.replace("restart: unless-stopped", "restart: [sometimes]"),
    )
    .unwrap();
    assert!(!check(&broken).status.success(), "a broken file must fail");
}
