//! The web console end to end: a real `nova serve` (real model, real store, the local answer model) on a
//! free loopback port, driven in headless Chromium by `tests/ui/e2e.mjs` (playwright-core, axe-core).
//! SKIPPED, saying why, when Chromium, Node or the npm packages are missing (scripts/ui-test-deps.sh
//! installs them; scripts/test.sh runs it first).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// Where scripts/ui-test-deps.sh installed the npm packages.
fn node_packages() -> PathBuf {
    kb_nova_cache().join("ui-test")
}

/// Why the test cannot run here, if it cannot.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no `node` on PATH".into());
    }
    let packages = node_packages().join("node_modules");
    for package in ["playwright-core", "axe-core"] {
        if !packages.join(package).exists() {
            return Some(format!(
                "no {package} in {} (run scripts/ui-test-deps.sh)",
                packages.display()
            ));
        }
    }
    let gguf = root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !gguf.exists() {
        return Some(format!(
            "no answer model at {} (scripts/fetch-models.sh)",
            gguf.display()
        ));
    }
    None
}

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

#[test]
fn the_console_searches_rates_answers_routes_uploads_and_keeps_readers_out() {
    if let Some(why) = missing() {
        eprintln!("SKIPPED the web console test: {why}");
        return;
    }
    let data = TempDir::new().expect("tmp");
    let d = data.path();
    // The sample articles, a help desk's resolved tickets and a router trained on them, in one KB.
    ok(&nova_in(d, &["ingest", "examples/kb", "--kb", "support"]));
    let tickets = root().join("crates/nova-server/tests/fixtures/router_tickets.csv");
    ok(&nova_in(
        d,
        &[
            "tickets",
            "import",
            tickets.to_str().expect("utf8"),
            "--kb",
            "support",
        ],
    ));
    ok(&nova_in(
        d,
        &["tickets", "train", "--kb", "support", "--k", "5"],
    ));
    let admin = create_key(d, "console-admin", "admin");
    let reader = create_key(d, "console-reader", "reader");
    let editor = create_key(d, "console-editor", "editor");
    let upload = d.join("zorblax.md");
    std::fs::write(
        &upload,
        "# Zorblax flux capacitor recalibration\n\nWhen the zorblax flux capacitor drifts, run the \
         recalibration wizard from the maintenance menu and restart the unit.\n",
    )
    .expect("write");

    // The test's OpenID Connect provider, and a server that accepts its tokens and offers it at sign-in.
    let (mut idp, issuer) = spawn_idp();
    let config = d.join("nova.toml");
    std::fs::write(
        &config,
        format!(
            "[auth.jwt]\nissuer = \"{issuer}\"\naudience = \"kb-nova\"\n\
             [auth.jwt.role_map]\n\"KB.Readers\" = \"reader\"\n\
             [ui]\noidc_client_id = \"kb-nova-console\"\noidc_name = \"Test IdP\"\n"
        ),
    )
    .expect("config");
    let gguf = root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let (mut server, addr) = spawn_serve_logging(
        d,
        &[
            ("NOVA_GENERATION__PROVIDER", "local"),
            ("NOVA_GENERATION__MODEL_PATH", gguf.to_str().expect("utf8")),
            ("NOVA_GENERATION__MAX_TOKENS", "96"),
        ],
        &["--config", config.to_str().expect("utf8")],
        std::process::Stdio::null(),
    );
    wait_ready(&addr);
    let shots = root().join("target/ui-screenshots");
    let run = Command::new("node")
        .arg(root().join("crates/nova-cli/tests/ui/e2e.mjs"))
        .env("NOVA_URL", format!("http://{addr}"))
        .env("ADMIN_KEY", &admin)
        .env("READER_KEY", &reader)
        .env("EDITOR_KEY", &editor)
        .env("KB", "support")
        .env("SCREENSHOTS", &shots)
        .env("UPLOAD_FILE", &upload)
        .env("UI_TEST_DIR", node_packages())
        .env("IDP_URL", &issuer)
        .output()
        .expect("node runs");
    for child in [&mut server, &mut idp] {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("ui: single sign-on through the OIDC provider (PKCE)"));
    assert!(shots.join("search.png").exists());
}

/// `tests/ui/idp.mjs` on a free port: the child and its issuer URL.
fn spawn_idp() -> (std::process::Child, String) {
    let mut child = Command::new("node")
        .arg(root().join("crates/nova-cli/tests/ui/idp.mjs"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let line = first_line(&mut child);
    let issuer = line
        .trim()
        .strip_prefix("idp listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, issuer)
}
