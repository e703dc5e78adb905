#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! JWT bearer tokens as an attacker would send them, against a JWKS the test makes itself (Ed25519 and
//! P-256 keys from `ring`; no network): only a valid, unexpired, correctly addressed token signed by a
//! listed key with an accepted algorithm gets through, with its groups and mapped roles.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use nova_auth::{AuthMode, Authenticator, JwtSettings, JwtVerifier, KeyStore, RoleLimits};
use nova_core::{Grant, Role};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::collections::HashMap;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Provider {
    ed: (Vec<u8>, Vec<u8>),
    ec: Vec<u8>,
    other_ed: Vec<u8>,
    auth: Authenticator,
    _dir: tempfile::TempDir,
}

fn provider() -> Provider {
    let rng = SystemRandom::new();
    let ed = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ed_pub = Ed25519KeyPair::from_pkcs8(ed.as_ref())
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    let other = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec_pub = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec.as_ref(), &rng)
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    let jwks = json!({ "keys": [
        { "kty": "OKP", "crv": "Ed25519", "x": B64.encode(&ed_pub), "kid": "ed1", "alg": "EdDSA" },
        { "kty": "EC", "crv": "P-256", "x": B64.encode(&ec_pub[1..33]), "y": B64.encode(&ec_pub[33..65]), "kid": "ec1", "alg": "ES256" },
        { "kty": "oct", "k": B64.encode(b"shared-secret"), "kid": "hmac1", "alg": "HS256" }
    ]});
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks.to_string()).unwrap();
    let settings = JwtSettings {
        issuer: "https://idp.example".into(),
        audience: "kb-nova".into(),
        groups_claim: "groups".into(),
        roles_claim: "roles".into(),
        role_map: HashMap::from([(
            "kb-readers".to_owned(),
            Grant {
                role: Role::Reader,
                kbs: None,
            },
        )]),
        leeway_secs: 30,
    };
    let auth = Authenticator::new(
        AuthMode::Required,
        KeyStore::open(&dir.path().join("auth")),
        RoleLimits::default(),
    )
    .with_jwt(JwtVerifier::from_jwks_file(settings, &path).unwrap());
    Provider {
        ed: (ed.as_ref().to_vec(), ed_pub),
        ec: ec.as_ref().to_vec(),
        other_ed: other.as_ref().to_vec(),
        auth,
        _dir: dir,
    }
}

fn claims() -> Value {
    json!({ "sub": "alice", "iss": "https://idp.example", "aud": "kb-nova", "exp": now() + 600,
            "nbf": now() - 10, "groups": ["hr"], "roles": ["kb-readers", "unmapped"] })
}

fn token(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, key).unwrap()
}

#[test]
fn valid_tokens_from_listed_keys_carry_their_groups_and_mapped_roles() {
    let p = provider();
    for t in [
        token(
            Algorithm::EdDSA,
            "ed1",
            &EncodingKey::from_ed_der(&p.ed.0),
            &claims(),
        ),
        token(
            Algorithm::ES256,
            "ec1",
            &EncodingKey::from_ec_der(&p.ec),
            &claims(),
        ),
    ] {
        let who = p.auth.authenticate(Some(&format!("Bearer {t}"))).unwrap();
        assert_eq!(who.principal.subject, "jwt:alice");
        assert_eq!(who.principal.groups, ["hr"]);
        assert_eq!(
            who.principal.grants,
            [Grant {
                role: Role::Reader,
                kbs: None
            }],
            "unmapped role values give nothing"
        );
    }
}

#[test]
fn forged_expired_early_misaddressed_unsigned_and_hmac_tokens_are_refused() {
    let p = provider();
    let ed = EncodingKey::from_ed_der(&p.ed.0);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        c
    };
    let unsigned = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","kid":"ed1","typ":"JWT"}"#),
        B64.encode(claims().to_string())
    );
    let cases = vec![
        (
            "forged",
            token(
                Algorithm::EdDSA,
                "ed1",
                &EncodingKey::from_ed_der(&p.other_ed),
                &claims(),
            ),
        ),
        (
            "expired",
            token(
                Algorithm::EdDSA,
                "ed1",
                &ed,
                &with(&|c| c["exp"] = json!(now() - 3600)),
            ),
        ),
        (
            "not yet valid",
            token(
                Algorithm::EdDSA,
                "ed1",
                &ed,
                &with(&|c| c["nbf"] = json!(now() + 3600)),
            ),
        ),
        (
            "wrong audience",
            token(
                Algorithm::EdDSA,
                "ed1",
                &ed,
                &with(&|c| c["aud"] = json!("other")),
            ),
        ),
        (
            "wrong issuer",
            token(
                Algorithm::EdDSA,
                "ed1",
                &ed,
                &with(&|c| c["iss"] = json!("https://evil")),
            ),
        ),
        (
            "no subject",
            token(
                Algorithm::EdDSA,
                "ed1",
                &ed,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("sub");
                }),
            ),
        ),
        ("alg none", unsigned),
        (
            "HS256 with the public key",
            token(
                Algorithm::HS256,
                "ed1",
                &EncodingKey::from_secret(&p.ed.1),
                &claims(),
            ),
        ),
        (
            "HS256 with a listed HMAC key",
            token(
                Algorithm::HS256,
                "hmac1",
                &EncodingKey::from_secret(b"shared-secret"),
                &claims(),
            ),
        ),
        (
            "unknown kid",
            token(Algorithm::EdDSA, "nope", &ed, &claims()),
        ),
        ("garbage", "a.b.c".to_owned()),
    ];
    for (what, t) in cases {
        let r = p.auth.authenticate(Some(&format!("Bearer {t}")));
        assert!(
            matches!(r, Err(nova_auth::AuthError::Unauthenticated(_))),
            "{what} must be refused: {r:?}"
        );
    }
}
