#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! The HTTP API end to end: the real server on a random port, the real model, a real on-disk store.

mod common;

use common::*;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_before_and_after_the_model_loads() {
    let app = TestApp::unready(Limits::default()).await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["model_loaded"], false);
    let (status, code, _) = error_of(app.get("/v1/kbs").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    );

    tokio::task::block_in_place(|| app.load());
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ready", "model_loaded": true, "store_open": true, "disk_writable": true, "busy_kbs": []})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kbs_documents_search_troubleshoot_feedback_and_delete() {
    let app = TestApp::ready().await;
    app.sample_kb("support").await;
    let (status, code, _) = error_of(app.post("/v1/kbs", json!({"name": "support"})).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "kb_exists"));
    let (status, code, body) = error_of(app.post("/v1/kbs", json!({"name": "../x"})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("invalid knowledge base name"));

    let info: Value = app.get("/v1/kbs/support").await.json().await.unwrap();
    assert_eq!(
        (info["documents"].as_u64(), info["name"].as_str()),
        (Some(9), Some("support"))
    );
    let kbs: Value = app.get("/v1/kbs").await.json().await.unwrap();
    assert_eq!(kbs["kbs"][0]["name"], "support");
    assert_eq!(kbs["kbs"][0]["documents"], 9);

    // Search: grouped documents with the why.
    let r = app
        .post(
            "/v1/kbs/support/search",
            json!({"query": "ENOSPC no space left on device", "k": 3}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["mode"], "hybrid");
    let top = &body["results"][0];
    assert_eq!(top["doc_id"], "disk-full.md");
    assert!(
        top["dense"]["rank"].is_u64() && top["bm25"]["rank"].is_u64(),
        "{top}"
    );
    let r = app
        .post(
            "/v1/kbs/support/search",
            json!({"query": "vpn", "filters": {"kind": "ticket"}, "mode": "bm25"}),
        )
        .await;
    let body: Value = r.json().await.unwrap();
    let ids: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["doc_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["T-1001"]);
    // Pseudo-relevance feedback is a search option: the same question, expanded, still finds its page.
    let r = app
        .post(
            "/v1/kbs/support/search",
            json!({"query": "ENOSPC no space left on device", "k": 3, "prf": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["doc_id"], "disk-full.md", "{body}");

    // Troubleshoot: passages, similar tickets with their answers, and cited steps.
    let r = app
        .post(
            "/v1/kbs/support/troubleshoot",
            json!({"problem": "pods stuck in CrashLoopBackOff after the upgrade"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        report["passages"][0]["doc_id"],
        "kubernetes-crashloopbackoff.md"
    );
    assert!(report["passages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["kind"] != "ticket"));
    assert_eq!(report["similar_tickets"][0]["doc_id"], "T-1006");
    assert_eq!(
        report["similar_tickets"][0]["metadata"]["answer"],
        "OOM killed: raised the memory limit to 512Mi."
    );
    let steps = report["steps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s["text"]
            .as_str()
            .unwrap()
            .contains("kubectl logs POD --previous")),
        "{steps:?}"
    );
    assert!(steps
        .iter()
        .all(|s| !s["doc_id"].as_str().unwrap().is_empty() && s["section"].is_array()));

    // Feedback is stored durably.
    let r = app
        .post(
            "/v1/kbs/support/feedback",
            json!({"query": "disk full", "doc_id": "disk-full.md", "rating": "resolved"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored =
        std::fs::read_to_string(app.data.path().join("kbs/support/feedback.jsonl")).unwrap();
    assert!(stored.contains("\"rating\":\"resolved\""), "{stored}");
    let (status, code, body) = error_of(
        app.post(
            "/v1/kbs/support/feedback",
            json!({"query": "q", "doc_id": "d", "rating": "meh"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rating"),
        "{body}"
    );

    // Documents: read back, delete, 404 after.
    let r = app.get("/v1/kbs/support/documents/disk-full.md").await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["title"], "No space left on device");
    assert!(!doc["chunks"].as_array().unwrap().is_empty());
    let r = app
        .client
        .delete(app.url("/v1/kbs/support/documents/disk-full.md"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, code, _) = error_of(app.get("/v1/kbs/support/documents/disk-full.md").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "document_not_found")
    );

    // Delete the KB: searches then say it is gone.
    let r = app
        .client
        .delete(app.url("/v1/kbs/support"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, code, _) = error_of(
        app.post("/v1/kbs/support/search", json!({"query": "x"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "kb_not_found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_precise_codes_and_the_request_id() {
    let limits = Limits {
        body_bytes: 4096,
        ..Limits::default()
    };
    let app = TestApp::ready_with(limits).await;
    let r = app.post("/v1/kbs", json!({"name": "kb"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let search = app.url("/v1/kbs/kb/search");

    // A caller's request id comes back in the header and the error body.
    let r = app
        .client
        .post(&search)
        .header("x-request-id", "req-42")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, code, body) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );
    assert_eq!(body["error"]["request_id"], "req-42");

    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str, &str)> = vec![
        (
            app.client
                .post(&search)
                .json(&json!({"query": "x", "colour": 1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "colour",
        ),
        (
            app.client
                .post(&search)
                .json(&json!({"query": "x", "k": "ten"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "k",
        ),
        (
            app.client
                .post(&search)
                .json(&json!({"query": "x", "k": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "`k` must be between 1 and 100",
        ),
        (
            app.client.post(&search).json(&json!({"query": "  "})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "`query` must not be empty",
        ),
        (
            app.client.post(&search).json(&json!({"k": 3})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "query",
        ),
        (
            app.client
                .post(&search)
                .json(&json!({"query": "x", "mode": "fuzzy"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "mode",
        ),
        (
            app.client
                .post(&search)
                .json(&json!({"query": "x", "filters": {"acl": "hr"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "filters may not name `acl`",
        ),
        (
            app.client
                .post(app.url("/v1/kbs/kb/troubleshoot"))
                .json(&json!({"problem": "x", "filters": {"acl": "hr"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "filters may not name `acl`",
        ),
        (
            app.client.post(&search).body("{\"query\":\"x\"}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "application/json",
        ),
        (
            app.client
                .post(&search)
                .json(&json!({"query": "x".repeat(5000)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "limit",
        ),
        (
            app.client
                .post(app.url("/v1/kbs/nope/search"))
                .json(&json!({"query": "x"})),
            StatusCode::NOT_FOUND,
            "kb_not_found",
            "`nope`",
        ),
        (
            app.client.get(app.url("/v1/nothing")),
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route",
        ),
        (
            app.client.get(&search),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method",
        ),
        (
            app.client
                .post(app.url("/v1/kbs/kb/documents?wait=true"))
                .json(&json!({"documents": [{"id": "a", "text": ""}]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "documents[0].text",
        ),
        (
            app.client
                .post(app.url("/v1/embeddings"))
                .json(&json!({"input": []})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "`input` must hold",
        ),
    ];
    for (request, want_status, want_code, want_text) in cases {
        let (status, code, body) = error_of(request.send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (want_status, want_code), "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(want_text),
            "{message:?} should mention {want_text:?}"
        );
        let id = body["error"]["request_id"].as_str().unwrap();
        assert_eq!(id.len(), 36, "a generated UUID: {id}");
    }
    // The server is still serving after all that.
    let r = app
        .post("/v1/kbs/kb/search", json!({"query": "still alive?"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_time_limit_is_a_408() {
    let limits = Limits {
        request_timeout: std::time::Duration::from_millis(1),
        ..Limits::default()
    };
    let app = TestApp::ready_with(limits).await;
    tokio::task::block_in_place(|| {
        app.state
            .engine()
            .unwrap()
            .create(
                &nova_engine::RequestCtx::local(),
                &nova_engine::KbName::parse("slow").unwrap(),
            )
            .unwrap()
    });
    // A dense search embeds its query (milliseconds): well over the 1 ms limit.
    let (status, code, body) = error_of(
        app.post(
            "/v1/kbs/slow/search",
            json!({"query": "a query no cache has seen", "mode": "dense"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::REQUEST_TIMEOUT, "timeout"),
        "{body}"
    );
    // The timed-out request is counted and nothing stays "in flight" (read from the registry: a
    // scrape would time out too at this limit).
    let text = app.state.metrics().render();
    assert!(
        text.contains("nova_http_requests_total{method=\"POST\",route=\"/v1/kbs/{kb}/search\",status=\"408\"} 1"),
        "{text}"
    );
    assert!(text.contains("nova_http_requests_in_flight 0"), "{text}");
}

async fn boom() -> &'static str {
    panic!("kaboom")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_becomes_a_500_with_the_request_id() {
    let router = nova_server::with_middleware(
        axum::Router::new().route("/boom", axum::routing::get(boom)),
        Limits::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let r = Client::new()
        .get(format!("{base}/boom"))
        .header("x-request-id", "p-1")
        .send()
        .await
        .unwrap();
    let (status, code, body) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal")
    );
    assert_eq!(body["error"]["request_id"], "p-1");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("kaboom"),
        "details stay in the log"
    );
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y.powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_embeddings_match_sentence_transformers_in_float_and_base64() {
    use base64::Engine as _;
    let app = TestApp::ready().await;
    let golden: Vec<Value> =
        std::fs::read_to_string(root().join("crates/nova-embed/tests/fixtures/st_golden.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &Value| !v["text"].as_str().unwrap().trim().is_empty())
            .take(4)
            .collect();
    let texts: Vec<&str> = golden.iter().map(|g| g["text"].as_str().unwrap()).collect();
    let want = |i: usize| -> Vec<f64> {
        golden[i]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let r = app
        .post(
            "/v1/embeddings",
            json!({"input": texts, "model": "text-embedding-3-small"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    for (i, d) in body["data"].as_array().unwrap().iter().enumerate() {
        assert_eq!(d["index"], i);
        let v: Vec<f32> = d["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(v.len(), 384);
        assert!(cosine(&v, &want(i)) >= 0.99999);
    }
    let r = app
        .post(
            "/v1/embeddings",
            json!({"input": texts[0], "encoding_format": "base64"}),
        )
        .await;
    let body: Value = r.json().await.unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let v: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert!(cosine(&v, &want(0)) >= 0.99999);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_routes_searches_batches_and_kb_sizes() {
    let app = TestApp::ready().await;
    app.sample_kb("m").await;
    for q in ["printer offline", "printer offline", "disk full"] {
        let r = app.post("/v1/kbs/m/search", json!({"query": q})).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = app
        .post(
            "/v1/kbs/m/search",
            json!({"query": "the and of", "mode": "bm25"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = app.get("/metrics").await.text().await.unwrap();
    for want in [
        "nova_http_requests_total{method=\"POST\",route=\"/v1/kbs/{kb}/search\",status=\"200\"} 4",
        "nova_search_duration_seconds_count{mode=\"hybrid\"} 3",
        "nova_search_zero_results_total{mode=\"bm25\"} 1",
        "nova_kb_documents{kb=\"m\"} 9",
        "nova_query_cache_lookups{result=\"hit\"} 1",
        "nova_embed_batch_size_count{source=\"query\"} 2",
    ] {
        assert!(text.contains(want), "missing `{want}` in\n{text}");
    }
    // Made-up methods share one `other` series; a deleted KB's gauges go away.
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        app.client
            .request(method, app.url("/v1/kbs"))
            .send()
            .await
            .unwrap();
    }
    let r = app
        .client
        .delete(app.url("/v1/kbs/m"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(!text.contains("BREW"), "{text}");
    assert!(
        text.contains(
            "nova_http_requests_total{method=\"other\",route=\"/v1/kbs\",status=\"405\"} 20"
        ),
        "{text}"
    );
    assert!(
        !text.contains("kb=\"m\""),
        "deleted KB still reported:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_covers_every_route_and_docs_load_offline() {
    let app = TestApp::ready().await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with('3'));
    let paths = spec["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/kbs", "get"),
        ("/v1/kbs", "post"),
        ("/v1/kbs/{kb}", "delete"),
        ("/v1/kbs/{kb}/search", "post"),
        ("/v1/kbs/{kb}/troubleshoot", "post"),
        ("/v1/kbs/{kb}/documents", "post"),
        ("/v1/kbs/{kb}/documents/{id}", "get"),
        ("/v1/kbs/{kb}/documents/{id}", "delete"),
        ("/v1/kbs/{kb}/documents/{id}/access", "get"),
        ("/v1/kbs/{kb}/feedback", "post"),
        ("/v1/embeddings", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    // The middleware's answers are part of every guarded route's contract; the probes need no key.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if matches!(path.as_str(), "/healthz" | "/readyz") {
                assert_eq!(op["security"], json!([{}]), "{method} {path} is open");
                continue;
            }
            // Only the path template's own names are path parameters (the rest are the query's).
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap();
                assert_eq!(
                    param["in"] == "path",
                    path.contains(&format!("{{{name}}}")),
                    "{method} {path}: parameter {name} is declared in {}",
                    param["in"]
                );
            }
            for status in ["401", "403", "429"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
    // The running server states the one `dimensions` its model accepts; the committed document,
    // written without a model, does not.
    let embedded: Value = app
        .post("/v1/embeddings", json!({ "input": "x" }))
        .await
        .json()
        .await
        .unwrap();
    let dim = embedded["data"][0]["embedding"].as_array().unwrap().len();
    let mut spec = spec;
    let dimensions =
        &mut spec["components"]["schemas"]["EmbeddingsRequest"]["properties"]["dimensions"];
    assert_eq!(
        (
            dimensions["minimum"].as_u64(),
            dimensions["maximum"].as_u64()
        ),
        (Some(dim as u64), Some(dim as u64))
    );
    dimensions["minimum"] = json!(0);
    dimensions.as_object_mut().unwrap().remove("maximum");
    let list = &spec["components"]["schemas"]["Input"]["oneOf"][1];
    assert_eq!(
        list["maxItems"],
        json!(app.state.limits().max_embedding_inputs)
    );
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/openapi.json")).unwrap())
            .unwrap();
    assert_eq!(
        committed, spec,
        "docs/openapi.json is stale: run `nova openapi > docs/openapi.json`"
    );
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("swagger-ui") && !html.contains("https://"),
        "self-contained page"
    );
    let js = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(js.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let mut app = TestApp::ready().await;
    let r = app.post("/v1/kbs", json!({"name": "big"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let docs: Vec<Value> = (0..400)
        .map(|i| json!({"id": format!("d{i}"), "text": format!("Incident {i}: the service on host {i} ran out of memory and was restarted by the supervisor after the deploy.")}))
        .collect();
    let request = app
        .client
        .post(app.url("/v1/kbs/big/documents?wait=true"))
        .json(&json!({"documents": docs}))
        .send();
    let in_flight = tokio::spawn(request);
    // Wait (with a deadline) until the ingest is being served, then ask the server to stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = app.get("/metrics").await.text().await.unwrap();
        if text.contains("nova_http_requests_in_flight 2") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "ingest never started");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await; // poll interval
    }
    app.stop.take().unwrap().send(()).unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["added"], 400);
    (&mut app.server).await.unwrap().unwrap();
    assert!(
        app.client.get(app.url("/healthz")).send().await.is_err(),
        "no longer listening"
    );
}

/// Imports the router fixture (a Zendesk-style CSV: `Group` → category, `Resolution` → answer) into
/// KB `name` and trains a router on it.
fn ticket_kb(engine: &Engine, name: &str, algorithm: Option<nova_classify::Algorithm>) -> u32 {
    // Read at run time: cargo may reuse this binary from a checkout sharing the target folder.
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("tests/fixtures/router_tickets.csv");
    let read = nova_ingest::read_tickets(
        "router_tickets.csv",
        &std::fs::read(path).unwrap(),
        nova_ingest::TicketFormat::Csv,
        &Default::default(),
    );
    assert!(
        read.outcome.skipped.is_empty(),
        "{:?}",
        read.outcome.skipped
    );
    let ctx = nova_engine::RequestCtx::local();
    let kb = nova_engine::KbName::parse(name).unwrap();
    engine
        .ingest(&ctx, &kb, &read.outcome.docs, &Default::default())
        .unwrap();
    let opts = nova_classify::TrainOptions {
        algorithm,
        k: 5,
        ..Default::default()
    };
    let label = nova_engine::LabelField::parse("category").unwrap();
    let trained = engine
        .train_router(&ctx, &kb, &label, &opts, &|_, _| {})
        .unwrap();
    assert_eq!((trained.model.meta.examples, trained.unlabelled), (32, 0));
    trained.model.meta.version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_are_routed_with_confidence_and_suggested_answers() {
    let app = TestApp::ready().await;
    let engine = app.state.engine().unwrap();
    app.post("/v1/kbs", json!({ "name": "tix" })).await;
    let ticket = json!({ "subject": "VPN drops", "body": "The VPN connection keeps dropping while I work from home." });

    // Before training: a clear 404 naming the fix; suggestions still work, without a route.
    let (status, code, body) = error_of(
        app.post("/v1/kbs/tix/tickets/classify", ticket.clone())
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "router_not_found")
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nova tickets train"));

    let v1 = tokio::task::block_in_place(|| {
        ticket_kb(&engine, "tix", Some(nova_classify::Algorithm::Logreg))
    });
    assert_eq!(v1, 1);
    let r = app
        .post("/v1/kbs/tix/tickets/classify", ticket.clone())
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["prediction"]["label"], "network", "{c}");
    assert_eq!(c["router"]["version"], 1);
    assert_eq!(c["router"]["algorithm"], "logreg");
    let top = c["prediction"]["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    let confidence = c["prediction"]["confidence"].as_f64().unwrap();
    assert!(confidence > top[1]["probability"].as_f64().unwrap());

    // The "needs human" path: the same ticket under a threshold above any confidence short of certainty.
    let mut strict = ticket.clone();
    strict["threshold"] = json!(1.0);
    let c: Value = app
        .post("/v1/kbs/tix/tickets/classify", strict)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["prediction"]["needs_human"], true, "{c}");
    assert_eq!(c["router"]["threshold"].as_f64().unwrap(), 1.0);
    assert_eq!(
        c["prediction"]["label"], "network",
        "the best guess is still given"
    );
    let mut lax = ticket.clone();
    lax["threshold"] = json!(0.0);
    let c: Value = app
        .post("/v1/kbs/tix/tickets/classify", lax)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["prediction"]["needs_human"], false, "{c}");

    // Retraining hot-reloads: the next request is answered by version 2.
    let v2 = tokio::task::block_in_place(|| {
        ticket_kb(&engine, "tix", Some(nova_classify::Algorithm::Knn))
    });
    assert_eq!(v2, 2);
    let c: Value = app
        .post("/v1/kbs/tix/tickets/classify", ticket.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            c["router"]["version"].as_u64(),
            c["router"]["algorithm"].as_str()
        ),
        (Some(2), Some("knn"))
    );

    // Suggestions: the route plus similar resolved tickets with their answers, one per answer.
    let r = app
        .post("/v1/kbs/tix/tickets/suggest", json!({ "subject": "Double charge", "body": "I was billed twice for my subscription this month." }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["classification"]["prediction"]["label"], "billing", "{s}");
    let similar = s["similar_tickets"].as_array().unwrap();
    assert_eq!(similar[0]["doc_id"], "R-31", "{s}");
    assert_eq!(
        similar[0]["metadata"]["answer"],
        "Refunded the duplicate charge."
    );
    assert_eq!(similar[0]["metadata"]["category"], "billing");
    let answers: std::collections::HashSet<&str> = similar
        .iter()
        .map(|t| t["metadata"]["answer"].as_str().unwrap())
        .collect();
    assert_eq!(answers.len(), similar.len());

    // Tickets are searchable like articles and filterable by their canonical fields.
    let r = app
        .post("/v1/kbs/tix/search", json!({ "query": "charged twice", "k": 5, "filters": { "category": "network", "priority": "high" } }))
        .await;
    let hits: Value = r.json().await.unwrap();
    let hits = hits["results"].as_array().unwrap();
    assert!(!hits.is_empty());
    for h in hits {
        assert_eq!(
            (
                h["metadata"]["category"].as_str(),
                h["metadata"]["priority"].as_str()
            ),
            (Some("network"), Some("high")),
            "{h}"
        );
    }

    // Bad input: precise 422s naming the field, and unknown KBs are 404s.
    for (body, needle) in [
        (json!({ "subject": " ", "body": "" }), "both empty"),
        (json!({ "body": "vpn", "threshold": 1.5 }), "threshold"),
        (json!({ "body": "vpn", "top": 0 }), "top"),
        (json!({ "body": "vpn", "label": "../etc" }), "label"),
        (json!({ "body": "vpn", "colour": "red" }), "colour"),
    ] {
        let (status, _, err) = error_of(app.post("/v1/kbs/tix/tickets/classify", body).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(needle),
            "{err}"
        );
    }
    let (status, code, _) = error_of(app.post("/v1/kbs/nope/tickets/suggest", ticket).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "kb_not_found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_kind_of_caller_with_the_right_status() {
    use nova_engine::Role;
    let app = TestApp::ready().await;
    app.sample_kb("ops").await;
    assert_eq!(
        app.post("/v1/kbs", json!({ "name": "hr" })).await.status(),
        StatusCode::CREATED
    );
    let make = |name: &str, role: Role, kbs: &[&str]| {
        app.keys
            .create(&key_spec(name, role, kbs, &[]))
            .unwrap()
            .secret
    };
    let reader = make("reader", Role::Reader, &[]);
    let editor = make("editor", Role::Editor, &[]);
    let other = make("hr-reader", Role::Reader, &["hr"]);
    let scraper = make("scraper", Role::Metrics, &[]);
    let revoked = make("revoked", Role::Admin, &[]);
    app.keys.revoke("revoked").unwrap();
    let mut short = key_spec("expired", Role::Admin, &[], &[]);
    short.expires_in = Some(std::time::Duration::ZERO);
    let expired = app.keys.create(&short).unwrap().secret;
    let callers: Vec<(&str, Client)> = vec![
        ("anonymous", client_with(None)),
        ("garbage", client_with(Some("nova_0000_ffff"))),
        ("revoked", client_with(Some(&revoked))),
        ("expired", client_with(Some(&expired))),
        ("reader", client_with(Some(&reader))),
        ("editor", client_with(Some(&editor))),
        ("admin", app.client.clone()),
        ("other-kb", client_with(Some(&other))),
        ("metrics", client_with(Some(&scraper))),
    ];
    // JWT callers answer like the API-key column they stand for: a valid reader token like the reader
    // key, every bad token like no credential at all.
    let idp = Idp::get();
    let jwt_reader = idp.sign(&Idp::claims("alice", |_| {}));
    let mut extra: Vec<(&str, Client, usize)> =
        vec![("jwt-reader", client_with(Some(&jwt_reader)), 4)];
    for (who, token) in idp.bad_tokens() {
        extra.push((who, client_with(Some(&token)), 0));
    }
    let doc =
        json!({ "documents": [{ "id": "new.md", "text": "Disk full on /var: rotate logs." }] });
    // Expected status per caller, in the order above.
    let (u, f) = (401, 403);
    let cases: Vec<(&str, &str, Option<Value>, [u16; 9])> = vec![
        ("GET", "/healthz", None, [200; 9]),
        ("GET", "/readyz", None, [200; 9]),
        (
            "GET",
            "/v1/kbs",
            None,
            [u, u, u, u, 200, 200, 200, 200, 200],
        ),
        (
            "POST",
            "/v1/kbs/ops/search",
            Some(json!({ "query": "disk full" })),
            [u, u, u, u, 200, 200, 200, f, f],
        ),
        (
            "POST",
            "/v1/kbs/ops/troubleshoot",
            Some(json!({ "problem": "disk full" })),
            [u, u, u, u, 200, 200, 200, f, f],
        ),
        (
            "GET",
            "/v1/kbs/ops/documents/disk-full.md",
            None,
            [u, u, u, u, 200, 200, 200, f, f],
        ),
        (
            "POST",
            "/v1/kbs/ops/feedback",
            Some(json!({ "query": "q", "doc_id": "disk-full.md", "rating": "helpful" })),
            [u, u, u, u, 201, 201, 201, f, f],
        ),
        (
            "POST",
            "/v1/kbs/ops/documents?wait=true",
            Some(doc),
            [u, u, u, u, f, 200, 200, f, f],
        ),
        (
            "POST",
            "/v1/embeddings",
            Some(json!({ "input": "disk" })),
            [u, u, u, u, 200, 200, 200, 200, f],
        ),
        ("GET", "/v1/keys", None, [u, u, u, u, f, f, 200, f, f]),
        ("GET", "/metrics", None, [u, u, u, u, f, f, 200, f, 200]),
        (
            "POST",
            "/v1/kbs",
            Some(json!({ "name": "made-by-admin" })),
            [u, u, u, u, f, f, 201, f, f],
        ),
        ("DELETE", "/v1/kbs/hr", None, [u, u, u, u, f, f, 204, f, f]),
    ];
    let mut cases = cases;
    cases.insert(
        5,
        (
            "GET",
            "/v1/kbs/ops/documents/disk-full.md/access",
            None,
            [u, u, u, u, f, f, 200, f, f],
        ),
    );
    for (method, path, body, expected) in cases {
        let all = callers
            .iter()
            .map(|(who, client)| (*who, client))
            .zip(expected)
            .chain(
                extra
                    .iter()
                    .map(|(who, client, like)| ((*who, client), expected[*like])),
            );
        for ((who, client), want) in all {
            let mut req = client.request(method.parse().unwrap(), app.url(path));
            if let Some(b) = &body {
                req = req.json(b);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            if status == 401 {
                assert_eq!(r.headers()["www-authenticate"], "Bearer", "{who} {path}");
            }
            let text = r.text().await.unwrap();
            assert_eq!(status, want, "{who} {method} {path}: {text}");
            if status == 403 {
                assert!(text.contains("needs the"), "{who} {path}: {text}");
            }
        }
    }
    // A key for another KB lists only that KB; unknown KBs answer it 403, not 404 (no probing).
    let kbs: Value = client_with(Some(&other))
        .get(app.url("/v1/kbs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = kbs["kbs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(names.is_empty(), "hr was deleted above: {names:?}");
    let r = client_with(Some(&other))
        .post(app.url("/v1/kbs/no-such-kb/search"))
        .json(&json!({ "query": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_listed_and_revoked_over_the_api_and_revocation_is_immediate() {
    let app = TestApp::ready().await;
    let r = app
        .post(
            "/v1/keys",
            json!({ "name": "bot", "role": "reader", "groups": ["support"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("nova_"), "{created}");
    let bot = client_with(Some(&key));
    assert_eq!(
        bot.get(app.url("/v1/kbs")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let listed = app.get("/v1/keys").await.text().await.unwrap();
    assert!(listed.contains("\"bot\"") && !listed.contains(key.rsplit('_').next().unwrap()));
    for (body, needle) in [
        (json!({ "name": "bot", "role": "reader" }), "already exists"),
        (json!({ "name": "x", "role": "owner" }), "unknown role"),
        (
            json!({ "name": "../x", "role": "reader" }),
            "invalid key name",
        ),
    ] {
        let (status, _, err) = error_of(app.post("/v1/keys", body).await).await;
        assert!(status.is_client_error(), "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(needle),
            "{err}"
        );
    }
    let r = app
        .client
        .delete(app.url("/v1/keys/bot"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        bot.get(app.url("/v1/kbs")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "refused from the next request on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_a_keys_rate_and_its_daily_quota_get_429s_before_any_work() {
    let app = TestApp::ready().await;
    let mut spec = key_spec("bursty", nova_engine::Role::Reader, &[], &[]);
    spec.rate = Some("3/min".parse().unwrap());
    let bursty = client_with(Some(&app.keys.create(&spec).unwrap().secret));
    for remaining in ["2", "1", "0"] {
        let r = bursty.get(app.url("/v1/kbs")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["ratelimit-limit"], "3");
        assert_eq!(r.headers()["ratelimit-remaining"], remaining);
    }
    let r = bursty.get(app.url("/v1/kbs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(r.headers()["ratelimit-remaining"], "0");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // A limited search is refused before its query is embedded.
    let (hits, misses) = app.state.engine().unwrap().cache_stats();
    let r = bursty
        .post(app.url("/v1/kbs/any/search"))
        .json(&json!({ "query": "never embedded" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.state.engine().unwrap().cache_stats(), (hits, misses));

    let mut spec = key_spec("daily", nova_engine::Role::Reader, &[], &[]);
    spec.daily_quota = Some(2);
    let daily = client_with(Some(&app.keys.create(&spec).unwrap().secret));
    for _ in 0..2 {
        assert_eq!(
            daily.get(app.url("/v1/kbs")).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    let r = daily.get(app.url("/v1/kbs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "quota_exceeded");
    // The counts reach the disk, so a restarted server keeps refusing.
    app.state.security().limiter.flush().unwrap();
    let restarted = nova_auth::Limiter::open(&app.data.path().join("auth")).unwrap();
    assert!(matches!(
        restarted.check("key:daily", None, Some(2)),
        nova_auth::Verdict::QuotaExceeded { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_groups_open_shared_documents_and_admins_can_ask_who_sees_one() {
    let app = TestApp::ready().await;
    assert_eq!(
        app.post("/v1/kbs", json!({ "name": "ops" })).await.status(),
        StatusCode::CREATED
    );
    let docs = json!({ "documents": [
        { "id": "payroll.md", "text": "Payroll export fails with error 42: rerun the payroll batch.", "acl": ["hr"] },
        { "id": "printer.md", "text": "Printer jams on tray 2: open the tray and remove the paper." }
    ]});
    assert_eq!(
        app.post("/v1/kbs/ops/documents?wait=true", docs)
            .await
            .status(),
        StatusCode::OK
    );
    let plain = app
        .keys
        .create(&key_spec("plain", nova_engine::Role::Reader, &[], &[]))
        .unwrap()
        .secret;
    let hr_key = app
        .keys
        .create(&key_spec("hr-key", nova_engine::Role::Reader, &[], &["hr"]))
        .unwrap()
        .secret;
    let idp = Idp::get();
    let hr_token = idp.sign(&Idp::claims("alice", |_| {}));
    let eng_token = idp.sign(&Idp::claims("bob", |c| c["groups"] = json!(["eng"])));
    let search = json!({ "query": "payroll export error", "mode": "bm25" });
    for (who, credential, sees) in [
        ("jwt in hr", &hr_token, true),
        ("jwt in eng", &eng_token, false),
        ("key without groups", &plain, false),
        ("key in hr", &hr_key, true),
    ] {
        let client = client_with(Some(credential));
        let r = client
            .get(app.url("/v1/kbs/ops/documents/payroll.md"))
            .send()
            .await
            .unwrap();
        let want = if sees { 200 } else { 404 };
        assert_eq!(r.status().as_u16(), want, "{who}");
        let body = json_of(client.post(app.url("/v1/kbs/ops/search")).json(&search)).await;
        let found = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["doc_id"] == "payroll.md");
        assert_eq!(found, sees, "{who}: {body}");
    }

    // Who can see it, and why.
    let all: Value = json_of(
        app.client
            .get(app.url("/v1/kbs/ops/documents/payroll.md/access")),
    )
    .await;
    assert_eq!(all["acl"], json!(["hr"]));
    let verdict = |subject: &str| {
        all["callers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["subject"] == subject)
            .cloned()
            .unwrap_or_else(|| panic!("{subject} missing from {all}"))
    };
    assert_eq!(verdict("key:plain")["can_read"], false);
    assert!(verdict("key:plain")["reason"]
        .as_str()
        .unwrap()
        .contains("none of the document's groups (hr)"));
    assert_eq!(verdict("key:hr-key")["can_read"], true);
    assert_eq!(verdict("key:test-admin")["can_read"], true);
    let one: Value = json_of(
        app.client
            .get(app.url("/v1/kbs/ops/documents/payroll.md/access?subject=key:hr-key")),
    )
    .await;
    assert_eq!(one["callers"].as_array().unwrap().len(), 1, "{one}");
    let groups: Value = json_of(
        app.client
            .get(app.url("/v1/kbs/ops/documents/payroll.md/access?groups=eng,hr")),
    )
    .await;
    assert_eq!(groups["callers"][0]["can_read"], true, "{groups}");
    assert!(groups["callers"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("member of `hr`"));
    // Both: the key's verdict, then the hypothetical reader's, to compare them side by side.
    let both: Value = json_of(
        app.client
            .get(app.url("/v1/kbs/ops/documents/payroll.md/access?subject=key:hr-key&groups=eng")),
    )
    .await;
    let verdicts: Vec<(&str, bool)> = both["callers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["subject"].as_str().unwrap(),
                c["can_read"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [("key:hr-key", true), ("groups", false)],
        "{both}"
    );
    for (query, status, code) in [
        ("?subject=nobody", 404, "key_not_found"),
        ("?subject=nobody&groups=hr", 404, "key_not_found"),
        ("?bogus=1", 422, "invalid_input"),
    ] {
        let (s, c, _) = error_of(
            app.get(&format!("/v1/kbs/ops/documents/payroll.md/access{query}"))
                .await,
        )
        .await;
        assert_eq!((s.as_u16(), c.as_str()), (status, code), "{query}");
    }
    let (s, c, _) = error_of(app.get("/v1/kbs/ops/documents/nope.md/access").await).await;
    assert_eq!((s.as_u16(), c.as_str()), (404, "document_not_found"));
    let r = client_with(Some(&hr_key))
        .get(app.url("/v1/kbs/ops/documents/payroll.md/access"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "readers may not ask");
}
