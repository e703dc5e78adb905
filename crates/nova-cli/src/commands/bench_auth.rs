//! `nova bench auth`: what authenticating one request costs, measured in process where the host's
//! noise cannot hide it: an API key (key-file `stat`, HMAC-SHA256, constant-time compare), a JWT
//! (EdDSA signature check and claims) and the rate limiter, in microseconds per call. `--write DIR`
//! also leaves a JWKS, a signed token and a config file, so an HTTP benchmark can run `nova serve`
//! with JWT callers (`bench/compare-auth.sh` does).

use super::Outcome;
use crate::cli::BenchAuthArgs;
use anyhow::{Context, Result};
use nova_auth::{
    AuthMode, Authenticator, JwtSettings, JwtVerifier, KeySpec, KeyStore, Limiter, LocalIssuer,
    RoleLimits,
};
use nova_core::{Grant, Role};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// The issuer and audience of the benchmark's own tokens.
const ISSUER: &str = "https://bench.invalid";
const AUDIENCE: &str = "kb-nova-bench";

#[derive(Debug, Serialize)]
struct Case {
    what: &'static str,
    calls: usize,
    micros_per_call: f64,
}

fn time(what: &'static str, calls: usize, mut f: impl FnMut() -> bool) -> Result<Case> {
    let start = Instant::now();
    for _ in 0..calls {
        anyhow::ensure!(f(), "{what}: a call was refused");
    }
    Ok(Case {
        what,
        calls,
        micros_per_call: start.elapsed().as_secs_f64() * 1e6 / calls as f64,
    })
}

/// A token for a reader of every KB, valid for a day; `jti` tells tokens signed in the same second apart.
fn reader_token(issuer: &LocalIssuer, jti: usize) -> Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = serde_json::json!({ "sub": "bench", "iss": ISSUER, "aud": AUDIENCE,
        "exp": now + 86_400, "nbf": now, "roles": ["bench-reader"], "groups": [], "jti": jti.to_string() });
    Ok(issuer.sign(&claims)?)
}

fn write_files(dir: &Path, issuer: &LocalIssuer, token: &str) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    let dir = fs_err::canonicalize(dir)?;
    let jwks = dir.join("jwks.json");
    fs_err::write(&jwks, issuer.jwks().to_string())?;
    fs_err::write(dir.join("token"), token)?;
    let config = format!(
        "# Written by `nova bench auth --write`: accept the benchmark's own tokens.\n\
         [auth.jwt]\nissuer = \"{ISSUER}\"\naudience = \"{AUDIENCE}\"\njwks_file = \"{}\"\n\
         [auth.jwt.role_map]\n\"bench-reader\" = \"reader\"\n",
        jwks.display()
    );
    fs_err::write(dir.join("nova-jwt.toml"), config)?;
    eprintln!(
        "wrote {0}/jwks.json, {0}/token and {0}/nova-jwt.toml",
        dir.display()
    );
    Ok(())
}

/// Runs the benchmark.
pub fn run(args: &BenchAuthArgs) -> Result<Outcome> {
    let scratch = std::env::temp_dir().join(format!("nova-bench-auth-{}", std::process::id()));
    let result = measure(args, &scratch);
    let _ = fs_err::remove_dir_all(&scratch);
    result
}

fn measure(args: &BenchAuthArgs, scratch: &Path) -> Result<Outcome> {
    let issuer = LocalIssuer::generate("bench")?;
    let token = reader_token(&issuer, 0)?;
    let files = args.write.clone().unwrap_or_else(|| scratch.join("jwt"));
    write_files(&files, &issuer, &token)?;
    let keys = KeyStore::open(&scratch.join("auth"));
    let key = keys
        .create(&KeySpec {
            name: "bench".into(),
            role: Role::Reader,
            kbs: vec![],
            groups: vec![],
            expires_in: None,
            rate: None,
            daily_quota: None,
        })
        .context("creating the benchmark's key")?;
    let settings = JwtSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        groups_claim: "groups".into(),
        roles_claim: "roles".into(),
        role_map: HashMap::from([(
            "bench-reader".to_owned(),
            Grant {
                role: Role::Reader,
                kbs: None,
            },
        )]),
        leeway_secs: 60,
    };
    let verifier = JwtVerifier::from_jwks_file(settings, &files.join("jwks.json"))?;
    let auth = Authenticator::new(
        AuthMode::Required,
        KeyStore::open(&scratch.join("auth")),
        RoleLimits::default(),
    )
    .with_jwt(verifier);
    let limiter = Limiter::open(&scratch.join("auth"))?;
    let key_header = format!("Bearer {}", key.secret);
    let jwt_header = format!("Bearer {token}");
    let rate = Some("100000/s".parse().map_err(anyhow::Error::msg)?);
    let n = args.iterations;
    // Distinct tokens, signed before the clock starts: each one's first use is a full check.
    let fresh: Vec<String> = (1..=n)
        .map(|i| reader_token(&issuer, i).map(|t| format!("Bearer {t}")))
        .collect::<Result<_>>()?;
    let mut fresh = fresh.iter();
    let cases = vec![
        time("API key", n, || {
            auth.authenticate(Some(&key_header)).is_ok()
        })?,
        time("JWT (EdDSA), first use", n, || {
            fresh
                .next()
                .is_some_and(|t| auth.authenticate(Some(t)).is_ok())
        })?,
        time("JWT (EdDSA), seen before", n, || {
            auth.authenticate(Some(&jwt_header)).is_ok()
        })?,
        time("rate limit + daily quota", n, || {
            matches!(
                limiter.check("key:bench", rate, Some(u64::MAX)),
                nova_auth::Verdict::Allowed { .. }
            )
        })?,
    ];
    println!("{:<26} | {:>10} | µs per call", "check", "calls");
    for c in &cases {
        println!(
            "{:<26} | {:>10} | {:.2}",
            c.what, c.calls, c.micros_per_call
        );
    }
    if let Some(out) = &args.out {
        fs_err::write(
            out,
            serde_json::to_string_pretty(&serde_json::json!({ "cases": cases }))?,
        )?;
    }
    Ok(Outcome::Done)
}
