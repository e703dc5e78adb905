//! MLOps over HTTP on a real server with the real model: drift of the query stream raising the gauges
//! and calling a webhook at a local receiver (and in-distribution queries not), and index versions with
//! an A/B test driven through the API (sticky arms by `X-Session-Id`, responses naming the version).

#![allow(clippy::unwrap_used)] // test setup: a failed step should fail loudly

mod common;
use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Questions about the sample articles' topics, two per line of the same topic: the even ones make the
/// reference window, the odd ones a later window of the same kind of traffic.
const IN_DISTRIBUTION: [&str; 40] = [
    "vpn keeps dropping every few minutes",
    "my vpn tunnel disconnects when I work from home",
    "vpn connection resets after idle time",
    "remote access vpn drops on wifi",
    "the disk is full, no space left on device",
    "server says no space left on the file system",
    "logs cannot be written because the disk filled up",
    "df shows the root partition at 100 percent",
    "pod stuck in CrashLoopBackOff after upgrade",
    "kubernetes pod keeps restarting",
    "container is OOM killed and restarts in a loop",
    "liveness probe fails and the pod restarts",
    "password reset email never arrives",
    "I did not get the forgot password mail",
    "reset link not received in my inbox",
    "password recovery email missing",
    "network printer shows offline",
    "print jobs stuck, printer offline",
    "printer not reachable after its IP changed",
    "cannot print, printer status offline",
    "database connection refused on port 5432",
    "postgres could not connect to server",
    "application cannot reach the database",
    "too many clients already postgresql",
    "browser says certificate expired",
    "NET::ERR_CERT_DATE_INVALID on the intranet",
    "TLS certificate expired on internal site",
    "your connection is not private warning",
    "vpn disconnects and reconnects by itself",
    "vpn drops with large packets, mtu problem",
    "no space left on device when writing temp files",
    "inodes exhausted although df shows free space",
    "crashloopbackoff after a config map change",
    "pod restarts with exit code 137",
    "user cannot reset password, no email",
    "mail with the password reset link is in spam",
    "printer offline although it is powered on",
    "spooler queue full, printer offline",
    "connection refused from the app to postgresql",
    "expired ssl certificate warning in chrome",
];

/// Questions about something else entirely.
const OUT_OF_DISTRIBUTION: [&str; 20] = [
    "how long should I boil an egg for a soft yolk",
    "best recipe for sourdough bread starter",
    "what temperature to roast a chicken",
    "how to make fresh pasta without a machine",
    "which wine goes with grilled salmon",
    "how many calories are in an avocado",
    "tips for growing tomatoes on a balcony",
    "when to prune apple trees in winter",
    "how to train a puppy to sit",
    "what do cats eat in the wild",
    "rules of cricket for beginners",
    "who won the football world cup in 1998",
    "how far is the moon from the earth",
    "why is the sky blue at noon",
    "how do volcanoes form under the ocean",
    "what is the capital of australia",
    "how to knit a scarf for beginners",
    "best way to learn the guitar chords",
    "how to paint with watercolors on paper",
    "history of the roman empire in brief",
];

/// A local webhook receiver: each POST's body goes to the channel; answers 200.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/drift", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break Some(buf[end + 4..end + 4 + length].to_vec());
                    }
                }
            };
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
            if let Some(body) = body {
                let _ = tx.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
            }
        }
    });
    (url, rx)
}

async fn search(app: &TestApp, kb: &str, query: &str, session: Option<&str>) -> Value {
    let mut request = app
        .client
        .post(app.url(&format!("/v1/kbs/{kb}/search")))
        .json(&json!({ "query": query }));
    if let Some(s) = session {
        request = request.header("x-session-id", s);
    }
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn signal<'a>(report: &'a Value, metric: &str) -> &'a Value {
    report["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} in {report}"))
}

/// The drift report of the `helpdesk` KB.
async fn drift_of(app: &TestApp) -> Value {
    app.get("/v1/kbs/helpdesk/analytics/drift")
        .await
        .json()
        .await
        .unwrap()
}

/// Waits for the watch to have looked at least twice more.
async fn let_the_watch_look() {
    tokio::time::sleep(Duration::from_millis(700)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shifted_query_stream_raises_the_gauges_and_calls_the_webhook() {
    let opts = EngineOptions {
        // A 20-query window's centroid is noisier than the default 500's: its threshold is higher.
        drift: nova_engine::DriftSettings {
            window: 20,
            centroid_shift: 0.3,
            ..nova_engine::DriftSettings::default()
        },
        ..EngineOptions::default()
    };
    let app = TestApp::ready_with_options(opts).await;
    app.sample_kb("helpdesk").await;
    let (url, mut hooks) = receiver().await;
    nova_server::drift::spawn(
        app.state.clone(),
        nova_server::drift::DriftWatch {
            interval: Duration::from_millis(250),
            webhook: Some(url),
        },
    );

    // The first full window becomes the reference.
    for q in IN_DISTRIBUTION.iter().step_by(2) {
        search(&app, "helpdesk", q, None).await;
    }
    let_the_watch_look().await;
    let report = drift_of(&app).await;
    assert_eq!(report["reference"]["figures"]["queries"], 20, "{report}");

    // More of the same kind of traffic: no alert, no webhook.
    for q in IN_DISTRIBUTION.iter().skip(1).step_by(2) {
        search(&app, "helpdesk", q, None).await;
    }
    let_the_watch_look().await;
    let report = drift_of(&app).await;
    let shift = signal(&report, "centroid_shift");
    assert_eq!(shift["alert"], false, "{report}");
    assert!(
        report["signals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["alert"] == false),
        "{report}"
    );
    assert!(
        hooks.try_recv().is_err(),
        "no webhook for in-distribution traffic"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"nova_drift_alerting{kb="helpdesk",signal="centroid_shift"} 0"#),
        "{metrics}"
    );

    // Questions about something else: the shift passes its threshold, the webhook hears it once.
    for q in OUT_OF_DISTRIBUTION {
        search(&app, "helpdesk", q, None).await;
    }
    // The watch may look while the new traffic is half in: the rates (low score, OOV) can cross
    // their thresholds a look before the centroid does, each crossing a message of its own.
    let text = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let hook = hooks.recv().await.expect("the webhook receiver is open");
            let text = hook["text"].as_str().unwrap_or_default().to_string();
            assert!(text.contains("helpdesk"), "{text}");
            if text.contains("centroid shift") {
                break text;
            }
        }
    })
    .await
    .expect("the webhook was called about the centroid shift");
    assert!(text.contains("drifted"), "{text}");
    let report = drift_of(&app).await;
    let shifted = signal(&report, "centroid_shift");
    eprintln!(
        "centroid shift: same traffic {}, other topics {}",
        shift["value"], shifted["value"]
    );
    assert_eq!(shifted["alert"], true, "{report}");
    assert!(shifted["value"].as_f64().unwrap() > 3.0 * shift["value"].as_f64().unwrap());
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"nova_drift_alerting{kb="helpdesk",signal="centroid_shift"} 1"#),
        "{metrics}"
    );
    // Once the stream is steady, nothing more is sent — and the centroid shift never twice.
    let_the_watch_look().await;
    while let Ok(hook) = hooks.try_recv() {
        let text = hook["text"].as_str().unwrap_or_default();
        assert!(!text.contains("centroid shift"), "told twice: {text}");
    }
    let_the_watch_look().await;
    assert!(
        hooks.try_recv().is_err(),
        "told once while it keeps alerting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_ab_tests_through_the_api() {
    let app = TestApp::ready().await;
    app.sample_kb("ops").await;
    let first = search(&app, "ops", "printer offline", None).await;
    assert_eq!(first["index_version"], 1);
    assert!(first.get("arm").is_none());

    // No golden set: the build is refused, naming the way out.
    let r = app.post("/v1/kbs/ops/versions", json!({})).await;
    let (status, code, body) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert!(body.to_string().contains("attach-eval"), "{body}");
    let engine = app.state.engine().unwrap();
    let golden = nova_engine::GoldenSet {
        name: "ops".into(),
        queries: vec![("q1".into(), "print jobs stuck".into())],
        qrels: [(
            "q1".to_string(),
            [("printer-offline.md".to_string(), 1)].into(),
        )]
        .into(),
    };
    tokio::task::block_in_place(|| {
        engine
            .attach_golden(
                &nova_engine::RequestCtx::local(),
                &nova_engine::KbName::parse("ops").unwrap(),
                golden,
            )
            .unwrap()
    });
    let r = app
        .post(
            "/v1/kbs/ops/versions",
            json!({"no_switch": true, "note": "candidate"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let built: Value = r.json().await.unwrap();
    assert_eq!(built["switched"], false);
    assert_eq!(built["version"]["state"], "candidate", "{built}");
    let r = app
        .post("/v1/kbs/ops/versions", json!({"chunk_words": 3}))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let r = app
        .post("/v1/kbs/ops/ab", json!({"candidate": 2, "share": 0.5}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut arms = std::collections::BTreeMap::new();
    for s in 0..40 {
        let session = format!("s-{s}");
        let hit = search(&app, "ops", "vpn drops", Some(&session)).await;
        let arm = hit["arm"].as_str().unwrap().to_owned();
        let version = hit["index_version"].as_u64().unwrap();
        assert_eq!(version, if arm == "candidate" { 2 } else { 1 });
        let again = search(&app, "ops", "disk full", Some(&session)).await;
        assert_eq!(again["arm"], arm.as_str(), "sticky per session");
        *arms.entry(arm).or_insert(0) += 1;
    }
    assert_eq!(arms.len(), 2, "{arms:?}");
    let report: Value = app.get("/v1/kbs/ops/ab").await.json().await.unwrap();
    let served = report["control"]["searches"].as_u64().unwrap()
        + report["candidate"]["searches"].as_u64().unwrap();
    assert_eq!(served, 80, "{report}");
    // A rating counts for the rater's arm.
    let hit = search(&app, "ops", "printer offline", Some("s-0")).await;
    let r = app
        .client
        .post(app.url("/v1/kbs/ops/feedback"))
        .header("x-session-id", "s-0")
        .json(&json!({"query": "printer offline", "doc_id": hit["results"][0]["doc_id"], "rating": "helpful"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let arm = hit["arm"].as_str().unwrap();
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"nova_ab_search_duration_seconds_count{arm="candidate",kb="ops"}"#));
    assert!(
        metrics.contains(&format!(
            r#"nova_ab_ratings_total{{arm="{arm}",kb="ops",rating="helpful"}} 1"#
        )),
        "{metrics}"
    );

    // Promote the candidate, then roll back through the API.
    let r = app
        .post("/v1/kbs/ops/ab/stop", json!({"promote": true}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = app.get("/v1/kbs/ops/versions").await.json().await.unwrap();
    assert_eq!(list["serving"], 2, "{list}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"nova_kb_index_version{kb="ops"} 2"#),
        "{metrics}"
    );
    let r = app.post("/v1/kbs/ops/versions/switch", json!({})).await;
    let switched: Value = r.json().await.unwrap();
    assert_eq!(switched, json!({"from": 2, "to": 1}));
    assert_eq!(
        search(&app, "ops", "printer offline", None).await["index_version"],
        1
    );
}
