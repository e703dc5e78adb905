//! The web console's routes and the API it added: static files without a credential under a strict CSP,
//! nothing served when it is off, `GET /v1/me`, the feedback list (editors only) and the router details.

mod common;
use common::*;
use nova_engine::Role;

fn with_console(oidc: Option<nova_server::OidcLogin>) -> nova_server::SitePolicy {
    nova_server::SitePolicy {
        console: Some(nova_server::ConsoleSettings { oidc }),
        ..nova_server::SitePolicy::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_without_a_key_under_a_strict_csp_and_only_when_on() {
    let oidc = nova_server::OidcLogin {
        issuer: "https://login.example.com/tenant/v2.0".into(),
        client_id: "console".into(),
        scopes: "openid".into(),
        token: "access_token".into(),
        name: "Example".into(),
    };
    let app = TestApp::unready_with(Limits::default(), with_console(Some(oidc))).await;
    let anonymous = client_with(None);
    let page = anonymous.get(app.url("/ui/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' https://login.example.com;"),
        "{csp}"
    );
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("/ui/app.js"));
    let js = anonymous
        .get(app.url("/ui/pages/search.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    // Sign-in options name the provider and the client, never a secret.
    let config: Value = json_of(anonymous.get(app.url("/ui/config.json"))).await;
    assert_eq!(config["oidc"]["client_id"], "console");
    assert_eq!(
        config["oidc"]["issuer"],
        "https://login.example.com/tenant/v2.0"
    );
    // Unknown files are 404s in the API's error format; files are looked up by name among those compiled
    // in, so an encoded `..` reaches nothing on disk.
    for path in ["/ui/nope.js", "/ui/vendor%2F..%2F..%2FCargo.toml"] {
        let r = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // `/ui` opens no other route: the API behind it still wants a key.
    let r = anonymous.get(app.url("/v1/kbs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let off = TestApp::unready(Limits::default()).await;
    let r = client_with(None).get(off.url("/ui/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("ui.enabled = false"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_feedback_list_and_router_details_answer_by_role() {
    let app = TestApp::ready().await;
    app.sample_kb("ops").await;
    let reader = app
        .keys
        .create(&key_spec("rita", Role::Reader, &["ops"], &["hr"]))
        .unwrap();
    let editor = app
        .keys
        .create(&key_spec("eddie", Role::Editor, &["ops"], &[]))
        .unwrap();
    let (reader, editor) = (
        client_with(Some(&reader.secret)),
        client_with(Some(&editor.secret)),
    );

    let me: Value = json_of(reader.get(app.url("/v1/me"))).await;
    assert_eq!(me["subject"], "key:rita");
    assert_eq!(me["grants"], json!([{ "role": "reader", "kbs": ["ops"] }]));
    assert_eq!(me["groups"], json!(["hr"]));
    let me: Value = json_of(app.client.get(app.url("/v1/me"))).await;
    assert_eq!(
        me["grants"],
        json!([{ "role": "admin" }]),
        "no `kbs`: every KB"
    );
    let r = client_with(Some("nova_bad_key"))
        .get(app.url("/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Two ratings; the list is newest first, editors only.
    for (doc, rating) in [
        ("printer-offline.md", "helpful"),
        ("disk-full.md", "not_helpful"),
    ] {
        let r = reader
            .post(app.url("/v1/kbs/ops/feedback"))
            .json(&json!({ "query": format!("about {doc}"), "doc_id": doc, "rating": rating }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let r = reader
        .get(app.url("/v1/kbs/ops/feedback"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r).await.1,
        "forbidden",
        "readers do not read others' queries"
    );
    let list: Value = json_of(editor.get(app.url("/v1/kbs/ops/feedback"))).await;
    assert_eq!(
        field_of(&list, "feedback", "doc_id"),
        ["disk-full.md", "printer-offline.md"]
    );
    assert_eq!(list["feedback"][0]["query"], "about disk-full.md");
    // Feedback about a document an editor cannot see (outside its groups) is not shown to that editor.
    let docs = json!({ "documents": [{ "id": "payroll.md", "acl": ["hr"],
        "text": "Payroll export fails with error 42: rerun the payroll batch." }]});
    let r = app.post("/v1/kbs/ops/documents?wait=true", docs).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = reader
        .post(app.url("/v1/kbs/ops/feedback"))
        .json(&json!({ "query": "payroll error 42", "doc_id": "payroll.md", "rating": "resolved" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "rita is in hr");
    let hr_editor = app
        .keys
        .create(&key_spec("hedda", Role::Editor, &["ops"], &["hr"]))
        .unwrap();
    let hr_editor = client_with(Some(&hr_editor.secret));
    let seen: Value = json_of(hr_editor.get(app.url("/v1/kbs/ops/feedback"))).await;
    assert_eq!(field_of(&seen, "feedback", "doc_id")[0], "payroll.md");
    let unseen: Value = json_of(editor.get(app.url("/v1/kbs/ops/feedback"))).await;
    assert_eq!(
        field_of(&unseen, "feedback", "doc_id"),
        ["disk-full.md", "printer-offline.md"],
        "eddie is not in hr"
    );
    let one: Value = json_of(editor.get(app.url("/v1/kbs/ops/feedback?limit=1"))).await;
    assert_eq!(one["feedback"].as_array().unwrap().len(), 1);
    for bad in ["limit=0", "limit=1001", "limit=x", "lmit=3"] {
        let r = editor
            .get(app.url(&format!("/v1/kbs/ops/feedback?{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    // No router trained yet: the precise code and how to train one.
    let r = reader
        .get(app.url("/v1/kbs/ops/tickets/router"))
        .send()
        .await
        .unwrap();
    let (status, code, body) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "router_not_found"),
        "{body}"
    );
    let r = reader
        .get(app.url("/v1/kbs/ops/tickets/router?label=bad%20label"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
