//! What the server's integration tests share: the model, a test identity provider, a real server on a
//! random port with an administrator's key, and helpers to read error bodies.
#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a different part; setup fails loudly

use nova_embed::{BatchOptions, ModelSource, SentenceEmbedder};
pub use nova_engine::{Engine, EngineOptions};
pub use nova_server::{AppState, Limits, Security};
pub use reqwest::{Client, Response, StatusCode};
pub use serde_json::{json, Value};
pub use std::path::{Path, PathBuf};
pub use std::sync::{Arc, OnceLock};
pub use tempfile::TempDir;

pub fn root() -> PathBuf {
    // Read at run time: cargo may reuse this binary from a checkout sharing the target folder.
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../..")
}

pub fn embedder() -> Arc<dyn nova_embed::Embedder> {
    static MODEL: OnceLock<Arc<dyn nova_embed::Embedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(
                SentenceEmbedder::load(
                    &ModelSource::Local(root().join("models/all-MiniLM-L6-v2")),
                    BatchOptions::default(),
                )
                .expect("model (run scripts/fetch-models.sh)"),
            )
        })
        .clone()
}

/// The test's own identity provider: an Ed25519 key published in a JWKS file, and tokens signed by it.
pub struct Idp(pub nova_auth::LocalIssuer);

pub const ISSUER: &str = "https://idp.test";

impl Idp {
    pub fn get() -> &'static Idp {
        static IDP: OnceLock<Idp> = OnceLock::new();
        IDP.get_or_init(|| Idp(nova_auth::LocalIssuer::generate("test-ed").unwrap()))
    }

    pub fn verifier(&self, dir: &Path) -> nova_auth::JwtVerifier {
        let path = dir.join("jwks.json");
        std::fs::write(&path, self.0.jwks().to_string()).unwrap();
        let settings = nova_auth::JwtSettings {
            issuer: ISSUER.into(),
            audience: "kb-nova".into(),
            groups_claim: "groups".into(),
            roles_claim: "roles".into(),
            role_map: std::collections::HashMap::from([(
                "KB.Readers".to_owned(),
                nova_engine::Grant {
                    role: nova_engine::Role::Reader,
                    kbs: None,
                },
            )]),
            leeway_secs: 5,
        };
        nova_auth::JwtVerifier::from_jwks_file(settings, &path).unwrap()
    }

    /// Valid claims for `sub` (a reader in group hr), changed by `edit`.
    pub fn claims(sub: &str, edit: impl FnOnce(&mut Value)) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut c = json!({ "sub": sub, "iss": ISSUER, "aud": "kb-nova", "exp": now + 600,
                            "nbf": now - 5, "groups": ["hr"], "roles": ["KB.Readers"] });
        edit(&mut c);
        c
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.0.sign(claims).unwrap()
    }

    /// Tokens an attacker would try, by name; every one must be refused.
    pub fn bad_tokens(&self) -> Vec<(&'static str, String)> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let valid = Self::claims("alice", |_| {});
        let forger = nova_auth::LocalIssuer::generate("test-ed").unwrap();
        let mut hs256 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hs256.kid = Some("test-ed".into());
        let hs256 = jsonwebtoken::encode(
            &hs256,
            &valid,
            &jsonwebtoken::EncodingKey::from_secret(self.0.public_key()),
        )
        .unwrap();
        let unsigned = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","kid":"test-ed","typ":"JWT"}"#),
            b64.encode(valid.to_string())
        );
        vec![
            ("jwt-forged", forger.sign(&valid).unwrap()),
            (
                "jwt-expired",
                self.sign(&Self::claims("alice", |c| c["exp"] = json!(now - 3600))),
            ),
            (
                "jwt-not-yet-valid",
                self.sign(&Self::claims("alice", |c| c["nbf"] = json!(now + 3600))),
            ),
            (
                "jwt-wrong-audience",
                self.sign(&Self::claims("alice", |c| c["aud"] = json!("other-app"))),
            ),
            (
                "jwt-wrong-issuer",
                self.sign(&Self::claims("alice", |c| {
                    c["iss"] = json!("https://evil.example")
                })),
            ),
            ("jwt-alg-none", unsigned),
            ("jwt-hs256-public-key", hs256),
            (
                "jwt-unknown-kid",
                self.0.sign_as("rotated-away", &valid).unwrap(),
            ),
        ]
    }
}

pub struct TestApp {
    pub base: String,
    /// Sends the administrator's key on every request.
    pub client: Client,
    /// The data folder's keys, to make callers with other roles.
    pub keys: nova_auth::KeyStore,
    pub state: AppState,
    pub data: TempDir,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    /// A server on 127.0.0.1:0 with no engine yet (not ready).
    pub async fn unready(limits: Limits) -> Self {
        Self::unready_with(limits, nova_server::SitePolicy::default()).await
    }

    /// [`Self::unready`] with a browser policy.
    pub async fn unready_with(limits: Limits, site: nova_server::SitePolicy) -> Self {
        Self::unready_in(TempDir::new().unwrap(), limits, site).await
    }

    /// [`Self::unready_with`] over the data folder `data` (e.g. a small file system mounted there).
    pub async fn unready_in(data: TempDir, limits: Limits, site: nova_server::SitePolicy) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let auth_dir = data.path().join("auth");
        let keys = nova_auth::KeyStore::open(&auth_dir);
        let admin = keys
            .create(&key_spec("test-admin", nova_engine::Role::Admin, &[], &[]))
            .unwrap();
        let security = Security {
            authenticator: nova_auth::Authenticator::new(
                nova_auth::AuthMode::Required,
                nova_auth::KeyStore::open(&auth_dir),
                nova_auth::RoleLimits::default(),
            )
            .with_jwt(Idp::get().verifier(data.path())),
            public_metrics: false,
            limiter: nova_auth::Limiter::open(&auth_dir).unwrap(),
        };
        let state = AppState::with_site(limits, security, site);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(nova_server::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            base,
            client: client_with(Some(&admin.secret)),
            keys,
            state,
            data,
            stop: Some(stop),
            server,
        }
    }

    pub fn load(&self) {
        self.load_with(EngineOptions::default());
    }

    /// Loads the engine with `opts` (the server's own settings applied on top).
    pub fn load_with(&self, opts: EngineOptions) {
        let opts = self.state.engine_options(opts);
        let engine = Engine::new(self.data.path(), embedder(), opts).unwrap();
        self.state.set_engine(Arc::new(engine));
    }

    /// A ready server whose engine runs with `opts`.
    pub async fn ready_with_options(opts: EngineOptions) -> Self {
        let app = Self::unready(Limits::default()).await;
        tokio::task::block_in_place(|| app.load_with(opts));
        app
    }

    /// A ready server whose answers come from what `generator` builds.
    pub async fn ready_with_generator(generator: nova_engine::GeneratorLoader) -> Self {
        let app = Self::unready(Limits::default()).await;
        tokio::task::block_in_place(|| {
            let opts = app.state.engine_options(EngineOptions::default());
            let engine = Engine::new(app.data.path(), embedder(), opts)
                .unwrap()
                .with_generator(generator);
            app.state.set_engine(Arc::new(engine));
        });
        app
    }

    pub async fn ready() -> Self {
        Self::ready_with(Limits::default()).await
    }

    pub async fn ready_with(limits: Limits) -> Self {
        let app = Self::unready(limits).await;
        tokio::task::block_in_place(|| app.load());
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// [`Self::get`] with one extra header.
    pub async fn get_with(&self, path: &str, header: &str, value: &str) -> Response {
        self.client
            .get(self.url(path))
            .header(header, value)
            .send()
            .await
            .unwrap()
    }

    /// A KB holding the sample articles (multipart upload) and tickets (JSON).
    pub async fn sample_kb(&self, name: &str) {
        let r = self.post("/v1/kbs", json!({ "name": name })).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let mut form = reqwest::multipart::Form::new();
        for entry in std::fs::read_dir(root().join("examples/kb")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let part =
                reqwest::multipart::Part::bytes(std::fs::read(&path).unwrap()).file_name(name);
            form = form.part("file", part);
        }
        let r = self
            .client
            .post(self.url(&format!("/v1/kbs/{name}/documents?wait=true")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["added"], 7, "{body}");
        let tickets = json!({ "documents": [
            { "id": "T-1006", "title": "App pods restarting after upgrade", "kind": "ticket",
              "text": "After the cluster upgrade the payments pods are in CrashLoopBackOff, exit code 137.",
              "metadata": { "answer": "OOM killed: raised the memory limit to 512Mi.", "category": "infrastructure" } },
            { "id": "T-1001", "title": "VPN drops every few minutes", "kind": "ticket",
              "text": "My VPN disconnects every five minutes when working from home.",
              "tags": ["vpn"], "metadata": { "answer": "Disabled Wi-Fi power saving." } }
        ]});
        let r = self
            .post(&format!("/v1/kbs/{name}/documents?wait=true"), tickets)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
}

/// A client that sends `key` (none: anonymous) on every request.
pub fn client_with(key: Option<&str>) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        );
    }
    Client::builder().default_headers(headers).build().unwrap()
}

pub fn key_spec(
    name: &str,
    role: nova_engine::Role,
    kbs: &[&str],
    groups: &[&str],
) -> nova_engine::KeySpec {
    nova_engine::KeySpec {
        name: name.into(),
        role,
        kbs: kbs
            .iter()
            .map(|k| nova_engine::KbName::parse(k).unwrap())
            .collect(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        expires_in: None,
        rate: None,
        daily_quota: None,
    }
}

pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

pub async fn error_of(r: Response) -> (StatusCode, String, Value) {
    let status = r.status();
    let header = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["request_id"], header,
        "body and header carry the same id"
    );
    (
        status,
        body["error"]["code"].as_str().unwrap().to_owned(),
        body,
    )
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    found
}

/// The `key` field of every object in `value[list]`, in order (e.g. the doc ids of a result list).
pub fn field_of<'a>(value: &'a Value, list: &str, key: &str) -> Vec<&'a str> {
    value[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap())
        .collect()
}
