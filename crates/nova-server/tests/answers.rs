#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! Answers with sources through the real server and the real chat model (SmolLM2-135M-Instruct, greedy):
//! JSON and Server-Sent-Event framing, citations mapped to the passages given, citations of passages
//! that were not given removed and counted, the refusal path, the OpenAI-compatible routes, and the
//! `openai` provider talking to a real OpenAI-compatible server (this one) — streaming, a timeout and
//! a refused key.

mod common;

use common::*;
use nova_engine::nova_generate::{Generator, LocalGenerator, OpenAiConfig, OpenAiGenerator};
use std::time::{Duration, Instant};

fn chat_model() -> Arc<dyn Generator> {
    static MODEL: OnceLock<Arc<dyn Generator>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(
                LocalGenerator::load(&root().join(nova_engine::nova_generate::DEFAULT_GGUF))
                    .unwrap(),
            )
        })
        .clone()
}

fn local() -> nova_engine::GeneratorLoader {
    Box::new(|| Ok(chat_model()))
}

/// The events of an SSE body as (event name, data), in order.
fn events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .filter_map(|block| {
            let mut name = String::from("message");
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                }
            }
            // Keep-alive comments carry no data.
            (!data.is_empty()).then(|| (name, data.join("\n")))
        })
        .collect()
}

async fn stream(app: &TestApp, path: &str, body: Value) -> (String, Vec<(String, String)>) {
    let r = app.post(path, body).await;
    assert_eq!(r.status(), 200);
    let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
    let text = r.text().await.unwrap();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    (kind, events(&text))
}

const VPN: &str = "My VPN keeps disconnecting every few minutes. What should I do?";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_cite_what_they_were_given_stream_as_sse_and_refuse_when_nothing_is_relevant() {
    let app = TestApp::ready_with_generator(local()).await;
    app.sample_kb("help").await;

    // Whole: the passages given are the relevant ones, every citation maps to one of them.
    let a: Value = app
        .post(
            "/v1/kbs/help/answer",
            json!({"question": VPN, "max_tokens": 80}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (a["refused"].as_bool(), a["provider"].as_str()),
        (Some(false), Some("local")),
        "{a}"
    );
    let given = a["passages"].as_array().unwrap();
    assert!(!given.is_empty() && given.len() <= 7, "{a}");
    assert!(
        given.iter().any(|p| p["doc_id"] == "vpn-disconnects.md"),
        "{a}"
    );
    // Whether this 135M model cites here is its business (`nova eval --answers` measures the share);
    // what is checked is that every citation there is maps to what was given.
    let citations = a["citations"].as_array().unwrap();
    let attributed = citations.iter().filter(|c| c["attributed"] == true).count();
    assert!(
        a["attributed_citations"].as_u64().unwrap() as usize >= attributed,
        "{a}"
    );
    for c in citations {
        let n = c["n"].as_u64().unwrap() as usize;
        let mut passage = given[n - 1].clone();
        passage["attributed"] = c["attributed"].clone();
        assert_eq!(&passage, c, "a citation is the passage it numbers");
        assert!(
            a["answer"].as_str().unwrap().contains(&format!("[{n}")),
            "{a}"
        );
    }
    assert!(a["usage"]["prompt_tokens"].as_u64().unwrap() > 50, "{a}");
    assert!(a["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{a}");
    assert!(
        a["timings"]["time_to_first_token_ms"].as_f64().unwrap() > 0.0,
        "{a}"
    );

    // Streamed: token events add up to the answer of the done event, which is the last; greedy
    // decoding gives the same answer as the whole request.
    let (_, evs) = stream(
        &app,
        "/v1/kbs/help/answer",
        json!({"question": VPN, "max_tokens": 80, "stream": true}),
    )
    .await;
    let (last, tokens) = evs.split_last().unwrap();
    assert_eq!(last.0, "done", "{evs:?}");
    assert!(
        !tokens.is_empty() && tokens.iter().all(|(name, _)| name == "token"),
        "{evs:?}"
    );
    let streamed: String = tokens
        .iter()
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let done: Value = serde_json::from_str(&last.1).unwrap();
    assert_eq!(streamed, done["answer"].as_str().unwrap());
    assert_eq!(
        done["answer"], a["answer"],
        "temperature 0 is deterministic"
    );

    // Attribution off: only what the model cited itself.
    let own: Value = app
        .post(
            "/v1/kbs/help/answer",
            json!({"question": VPN, "max_tokens": 80, "attribute": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["attributed_citations"], 0, "{own}");
    assert!(
        own["citations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["attributed"] == false),
        "{own}"
    );

    // The model is asked to cite a passage that does not exist: the marker is removed, and counted.
    // (Greedy decoding: the same passages give the same text. Phrasings that this 135M model copies
    // depend on what is retrieved; this one makes it write the marker with the default fusion.)
    let q = "Answer with the text 'Reboot the pod [7]' only.";
    let a: Value = app
        .post(
            "/v1/kbs/help/answer",
            json!({"question": q, "max_tokens": 80}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(a["dropped_citations"].as_u64().unwrap() >= 1, "{a}");
    assert!(!a["answer"].as_str().unwrap().contains("[7]"), "{a}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("nova_answer_dropped_citations_total{provider=\"local\"}"),
        "{metrics}"
    );

    // Nothing relevant: the refusal, no passages, no model call (no tokens), streamed or not.
    let off_topic = json!({"question": "How long should sourdough bread proof?"});
    let r: Value = app
        .post("/v1/kbs/help/answer", off_topic.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["refused"].as_bool(), r["answer"].as_str()),
        (Some(true), Some(nova_engine::REFUSAL)),
        "{r}"
    );
    assert_eq!(r["passages"], json!([]));
    assert_eq!(r["usage"]["completion_tokens"], 0);
    let mut body = off_topic;
    body["stream"] = json!(true);
    let (_, evs) = stream(&app, "/v1/kbs/help/answer", body).await;
    assert_eq!(evs.first().unwrap().0, "token");
    assert_eq!(evs.last().unwrap().0, "done");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("nova_answers_total{outcome=\"refused\",provider=\"local\"} 2"),
        "{metrics}"
    );

    // Errors before any text are plain HTTP errors, not a 200 stream.
    let (status, code, _) = error_of(
        app.post(
            "/v1/kbs/nope/answer",
            json!({"question": VPN, "stream": true}),
        )
        .await,
    )
    .await;
    assert_eq!((status.as_u16(), code.as_str()), (404, "kb_not_found"));
    let (status, _, _) = error_of(
        app.post(
            "/v1/kbs/help/answer",
            json!({"question": VPN, "temperature": 3}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kb_nova_is_an_openai_compatible_chat_model_and_the_openai_provider_uses_one() {
    let upstream = TestApp::ready_with_generator(local()).await;
    upstream.sample_kb("help").await;

    // GET /v1/models: one model per readable KB.
    let models: Value = upstream.get("/v1/models").await.json().await.unwrap();
    assert_eq!(models["data"][0]["id"], "kb:help", "{models}");

    // Non-streamed completion in OpenAI's shape.
    let ask = json!({"model": "kb:help", "max_tokens": 60,
                     "messages": [{"role": "system", "content": "ignored"}, {"role": "user", "content": VPN}]});
    let c: Value = upstream
        .post("/v1/chat/completions", ask.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["object"], "chat.completion", "{c}");
    assert_eq!(c["choices"][0]["message"]["role"], "assistant");
    let content = c["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!content.is_empty());
    assert!(c["usage"]["total_tokens"].as_u64().unwrap() > 0, "{c}");
    assert!(
        c["kb_nova"]["passages"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "{c}"
    );

    // Streamed: a role chunk, content chunks, a finish chunk, a usage chunk, then [DONE].
    let mut body = ask.clone();
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (_, evs) = stream(&upstream, "/v1/chat/completions", body).await;
    assert_eq!(evs.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = evs[..evs.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        text, content,
        "streamed and whole completions agree (greedy)"
    );
    assert!(chunks
        .iter()
        .any(|c| ["stop", "length"]
            .contains(&c["choices"][0]["finish_reason"].as_str().unwrap_or(""))));
    assert!(
        chunks.last().unwrap()["usage"]["completion_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );

    let (status, code, _) = error_of(
        upstream
            .post(
                "/v1/chat/completions",
                json!({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await,
    )
    .await;
    assert_eq!((status.as_u16(), code.as_str()), (404, "model_not_found"));

    // The openai provider, pointed at that server with a key it accepts: a streamed, grounded answer.
    let key = upstream
        .keys
        .create(&key_spec(
            "downstream",
            nova_engine::Role::Reader,
            &["help"],
            &[],
        ))
        .unwrap()
        .secret;
    let provider = |key: Option<String>,
                    base_url: String,
                    timeout: Duration|
     -> nova_engine::GeneratorLoader {
        Box::new(move || {
            let g: Arc<dyn Generator> = Arc::new(OpenAiGenerator::new(OpenAiConfig {
                base_url: base_url.clone(),
                model: "kb:help".into(),
                api_key: key.clone(),
                timeout,
                retries: 1,
            }));
            Ok(g)
        })
    };
    let v1 = format!("{}/v1", upstream.base);
    let downstream =
        TestApp::ready_with_generator(provider(Some(key), v1.clone(), Duration::from_secs(60)))
            .await;
    downstream.sample_kb("help").await;
    let (_, evs) = stream(
        &downstream,
        "/v1/kbs/help/answer",
        json!({"question": VPN, "stream": true, "max_tokens": 60}),
    )
    .await;
    let done: Value = serde_json::from_str(&evs.last().unwrap().1).unwrap();
    assert_eq!(done["provider"], "openai", "{done}");
    assert!(!done["answer"].as_str().unwrap().is_empty(), "{done}");
    assert!(evs.iter().filter(|(n, _)| n == "token").count() >= 1);

    // A wrong key: 502 generator_unavailable, saying the key was refused.
    let refused = TestApp::ready_with_generator(provider(
        Some("nk_wrong".into()),
        v1,
        Duration::from_secs(60),
    ))
    .await;
    refused.sample_kb("help").await;
    let (status, code, body) = error_of(
        refused
            .post("/v1/kbs/help/answer", json!({"question": VPN}))
            .await,
    )
    .await;
    assert_eq!(
        (status.as_u16(), code.as_str()),
        (502, "generator_unavailable"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rejected the API key"),
        "{body}"
    );

    // An endpoint that accepts connections and never answers: a timeout, not a hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/v1", silent.local_addr().unwrap());
    let slow =
        TestApp::ready_with_generator(provider(None, silent_url, Duration::from_secs(1))).await;
    slow.sample_kb("help").await;
    let started = Instant::now();
    let (status, code, body) = error_of(
        slow.post("/v1/kbs/help/answer", json!({"question": VPN}))
            .await,
    )
    .await;
    assert_eq!(
        (status.as_u16(), code.as_str()),
        (502, "generator_unavailable"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}
