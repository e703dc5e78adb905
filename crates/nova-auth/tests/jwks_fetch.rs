#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! Keys fetched from an identity provider over real HTTP: a provider of the test's own on 127.0.0.1
//! serves an OIDC discovery document and a JWKS. Discovery finds the keys; a token signed by a key the
//! provider published after start is accepted once the set is fetched again; a flood of unknown `kid`s
//! fetches at most once per interval; a discovery document naming another issuer is refused.

use nova_auth::{
    AuthError, AuthMode, Authenticator, JwksSource, JwtSettings, JwtVerifier, KeyStore,
    LocalIssuer, RefreshPolicy, RoleLimits,
};
use nova_core::{Grant, Role};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A minimal HTTP/1.1 server: path → JSON body, counting the requests per path.
struct Provider {
    base: String,
    routes: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<AtomicUsize>,
}

impl Provider {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                // Read the headers to the blank line before answering.
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let body = r.lock().unwrap().get(&path).cloned();
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", "{}".to_owned()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { base, routes, hits }
    }

    fn serve(&self, path: &str, body: &Value) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), body.to_string());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A token for bob (reader in ops) from `issuer`, signed by `key` under key id `kid`.
fn token(key: &LocalIssuer, kid: &str, issuer: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({ "sub": "bob", "iss": issuer, "aud": "kb-nova", "exp": now + 600,
                         "groups": ["ops"], "roles": ["readers"] });
    format!("Bearer {}", key.sign_as(kid, &claims).unwrap())
}

fn settings(issuer: &str) -> JwtSettings {
    JwtSettings {
        issuer: issuer.into(),
        audience: "kb-nova".into(),
        groups_claim: "groups".into(),
        roles_claim: "roles".into(),
        role_map: HashMap::from([(
            "readers".to_owned(),
            Grant {
                role: Role::Reader,
                kbs: None,
            },
        )]),
        leeway_secs: 5,
    }
}

fn policy(min_interval_ms: u64) -> RefreshPolicy {
    RefreshPolicy {
        min_interval: Duration::from_millis(min_interval_ms),
        ..RefreshPolicy::default()
    }
}

fn authenticator(verifier: JwtVerifier, limits: RoleLimits) -> (Authenticator, tempfile::TempDir) {
    let dir = tempfile::TempDir::new().unwrap();
    let auth = Authenticator::new(AuthMode::Required, KeyStore::open(dir.path()), limits)
        .with_jwt(verifier);
    (auth, dir)
}

#[test]
fn discovery_finds_the_keys_and_a_rotated_key_is_fetched_at_most_once_per_interval() {
    let idp = Provider::start();
    let issuer = idp.base.clone();
    let first = LocalIssuer::generate("k1").unwrap();
    let second = LocalIssuer::generate("k2").unwrap();
    idp.serve(
        "/.well-known/openid-configuration",
        &json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/keys") }),
    );
    idp.serve("/keys", &json!({ "keys": [first.jwk()] }));
    let verifier =
        JwtVerifier::new(settings(&issuer), JwksSource::Discovery, policy(1000)).unwrap();
    assert_eq!(idp.hits(), 2, "discovery document, then the key set");
    let mut limits = RoleLimits::default();
    limits
        .rates
        .insert(Role::Reader, "120/min".parse().unwrap());
    let (auth, _dir) = authenticator(verifier, limits);

    let who = auth
        .authenticate(Some(&token(&first, "k1", &issuer)))
        .unwrap();
    assert_eq!(who.principal.subject, "jwt:bob");
    assert_eq!(who.principal.groups, ["ops"]);
    assert!(
        who.rate.is_some(),
        "a token's subject gets its role's default rate"
    );
    assert_eq!(idp.hits(), 2, "a cached key costs no fetch");

    // The provider rotates: a new key is published and tokens are signed with it.
    idp.serve("/keys", &json!({ "keys": [first.jwk(), second.jwk()] }));
    let rotated = token(&second, "k2", &issuer);
    assert!(
        matches!(
            auth.authenticate_blocking(Some(&rotated)),
            Err(AuthError::Unauthenticated(_))
        ),
        "within the interval of the last fetch, an unknown kid is refused without a fetch"
    );
    assert_eq!(idp.hits(), 2);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(matches!(
        auth.authenticate(Some(&rotated)),
        Err(AuthError::KeysStale)
    ));
    let who = auth.authenticate_blocking(Some(&rotated)).unwrap();
    assert_eq!(who.principal.subject, "jwt:bob");
    assert_eq!(idp.hits(), 4, "one more discovery + key set");

    // An attacker's flood of made-up key ids: every one refused, no fetch in the interval.
    for i in 0..200 {
        let r = auth.authenticate_blocking(Some(&token(&second, &format!("forged-{i}"), &issuer)));
        assert!(matches!(r, Err(AuthError::Unauthenticated(_))), "{r:?}");
    }
    assert_eq!(idp.hits(), 4);
    // Both keys keep working from the cache.
    assert!(auth
        .authenticate(Some(&token(&first, "k1", &issuer)))
        .is_ok());
}

#[test]
fn a_jwks_url_a_foreign_discovery_document_and_plain_http_elsewhere() {
    let idp = Provider::start();
    let issuer = idp.base.clone();
    let key = LocalIssuer::generate("only").unwrap();
    idp.serve("/jwks", &json!({ "keys": [key.jwk()] }));
    let verifier = JwtVerifier::new(
        settings(&issuer),
        JwksSource::Url(format!("{issuer}/jwks")),
        policy(60_000),
    )
    .unwrap();
    assert_eq!(verifier.fetches(), 1);
    let (auth, _dir) = authenticator(verifier, RoleLimits::default());
    assert!(auth
        .authenticate(Some(&token(&key, "only", &issuer)))
        .is_ok());

    // A discovery document for another issuer must not lend its keys: the server starts, tokens fail.
    idp.serve(
        "/.well-known/openid-configuration",
        &json!({ "issuer": "https://evil.example", "jwks_uri": format!("{issuer}/jwks") }),
    );
    let verifier =
        JwtVerifier::new(settings(&issuer), JwksSource::Discovery, policy(60_000)).unwrap();
    let (auth, _dir2) = authenticator(verifier, RoleLimits::default());
    assert!(matches!(
        auth.authenticate_blocking(Some(&token(&key, "only", &issuer))),
        Err(AuthError::Unauthenticated(_))
    ));

    // Keys from a remote host travel over TLS only.
    let err = JwtVerifier::new(
        settings("https://idp.example"),
        JwksSource::Url("http://idp.example/keys".into()),
        policy(60_000),
    )
    .err()
    .expect("plain http to a remote host is refused");
    assert!(err.to_string().contains("https://"), "{err}");
}

#[test]
fn a_verified_token_is_not_trusted_beyond_the_key_set_that_signed_it() {
    let idp = Provider::start();
    let issuer = idp.base.clone();
    let old = LocalIssuer::generate("old").unwrap();
    let new = LocalIssuer::generate("new").unwrap();
    idp.serve("/keys", &json!({ "keys": [old.jwk()] }));
    let verifier = JwtVerifier::new(
        settings(&issuer),
        JwksSource::Url(format!("{issuer}/keys")),
        policy(0),
    )
    .unwrap();
    let (auth, _dir) = authenticator(verifier, RoleLimits::default());
    let bearer = token(&old, "old", &issuer);
    for _ in 0..3 {
        // Verified once, then served from the verified-token cache.
        assert!(auth.authenticate(Some(&bearer)).is_ok());
    }
    // The provider withdraws the key (compromised); the next re-fetch must end its tokens at once,
    // cached or not.
    idp.serve("/keys", &json!({ "keys": [new.jwk()] }));
    auth.refresh_jwt_keys();
    let r = auth.authenticate_blocking(Some(&bearer));
    assert!(matches!(r, Err(AuthError::Unauthenticated(_))), "{r:?}");
    assert!(auth
        .authenticate(Some(&token(&new, "new", &issuer)))
        .is_ok());
}
