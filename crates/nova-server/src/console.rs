//! The web console at `/ui`: static files compiled into the binary (no CDN, no build step at run time)
//! and `/ui/config.json`, the sign-in options. These are the only routes besides the probes that answer
//! without a credential: they hold no knowledge-base data, and a browser must load the sign-in page
//! before it has a key. Every call the console makes goes to the authenticated API.
//!
//! The pages run under a strict Content-Security-Policy: scripts and styles from this server only, no
//! inline script, no `eval`, network calls to this server (and the OIDC provider when one is configured).

use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// Sign-in through an OpenID Connect provider (authorization code + PKCE, a public client).
#[derive(Debug, Clone, Serialize)]
pub struct OidcLogin {
    /// The provider (`auth.jwt.issuer`): its `/.well-known/openid-configuration` is read by the browser.
    pub issuer: String,
    /// The console's client id at the provider (`ui.oidc_client_id`).
    pub client_id: String,
    /// Scopes asked for.
    pub scopes: String,
    /// Which token of the provider's answer is sent to the API: `access_token` or `id_token`.
    pub token: String,
    /// The button's label ("Sign in with …").
    pub name: String,
}

/// What `nova serve` tells the console (`[ui]`).
#[derive(Debug, Clone, Default)]
pub struct ConsoleSettings {
    /// OIDC sign-in, when configured.
    pub oidc: Option<OidcLogin>,
}

/// The files, as `(path under /ui/, content type, bytes)`.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../ui/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../ui/style.css"),
    ),
    ("app.js", JS, include_bytes!("../ui/app.js")),
    ("api.js", JS, include_bytes!("../ui/api.js")),
    ("oidc.js", JS, include_bytes!("../ui/oidc.js")),
    ("components.js", JS, include_bytes!("../ui/components.js")),
    (
        "pages/search.js",
        JS,
        include_bytes!("../ui/pages/search.js"),
    ),
    (
        "pages/answer.js",
        JS,
        include_bytes!("../ui/pages/answer.js"),
    ),
    (
        "pages/tickets.js",
        JS,
        include_bytes!("../ui/pages/tickets.js"),
    ),
    ("pages/admin.js", JS, include_bytes!("../ui/pages/admin.js")),
    (
        "vendor/preact-htm.js",
        JS,
        include_bytes!("../ui/vendor/preact-htm.js"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";

/// The console's routes (unauthenticated: see the module comment).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route(
            "/ui/",
            get(|s: State<AppState>| async move { file(&s, "index.html") }),
        )
        .route("/ui/config.json", get(config))
        .route(
            "/ui/{*path}",
            get(|s: State<AppState>, Path(path): Path<String>| async move { file(&s, &path) }),
        )
}

/// Whether `path` is one of the console's (the authentication layer lets them through).
pub(crate) fn is_console(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

#[derive(Serialize)]
struct ConsoleConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    oidc: Option<&'a OidcLogin>,
}

async fn config(State(state): State<AppState>) -> Response {
    match &state.site().console {
        Some(settings) => Json(ConsoleConfig {
            oidc: settings.oidc.as_ref(),
        })
        .into_response(),
        None => disabled(),
    }
}

fn disabled() -> Response {
    crate::ApiError::new(
        nova_core::Code::NotFound,
        "the web console is turned off on this server (ui.enabled = false)",
    )
    .into_response()
}

fn file(state: &AppState, path: &str) -> Response {
    let Some(settings) = &state.site().console else {
        return disabled();
    };
    let Some((_, kind, body)) = FILES.iter().find(|(p, _, _)| *p == path) else {
        return crate::ApiError::new(
            nova_core::Code::NotFound,
            format!("no console file `{}`", nova_core::excerpt(path)),
        )
        .into_response();
    };
    let mut response = (StatusCode::OK, *body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(settings)) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// Scripts, styles and calls from this server only; the OIDC provider's origin is added to
/// `connect-src` for its discovery document and token endpoint.
fn content_security_policy(settings: &ConsoleSettings) -> String {
    let provider = settings
        .oidc
        .as_ref()
        .and_then(|o| origin_of(&o.issuer))
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{provider}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// `scheme://host[:port]` of a URL, when it is an http(s) one.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains(|c: char| c.is_whitespace() || c == ';' || c == '\''))
        .then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_origin_joins_connect_src_and_nothing_else_can() {
        let with = |issuer: &str| {
            content_security_policy(&ConsoleSettings {
                oidc: Some(OidcLogin {
                    issuer: issuer.into(),
                    client_id: "c".into(),
                    scopes: "openid".into(),
                    token: "access_token".into(),
                    name: "SSO".into(),
                }),
            })
        };
        assert!(with("https://login.example.com/tenant/v2.0")
            .contains("connect-src 'self' https://login.example.com;"));
        // A value that would add a directive is dropped, not pasted in.
        assert!(with("https://x; script-src *").contains("connect-src 'self';"));
        assert!(with("javascript:alert(1)").contains("connect-src 'self';"));
        assert!(
            content_security_policy(&ConsoleSettings::default()).contains("connect-src 'self';")
        );
    }

    #[test]
    fn every_module_the_pages_import_is_served() {
        // An import of a file missing from FILES would only fail in a browser: check them here.
        let served: Vec<&str> = FILES.iter().map(|(p, _, _)| *p).collect();
        for (path, _, body) in FILES.iter().filter(|(p, _, _)| p.ends_with(".js")) {
            let text = std::str::from_utf8(body).expect("utf-8");
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            for import in text.split("from \"").skip(1) {
                let target = import.split('"').next().unwrap_or_default();
                let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
                for seg in target.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let resolved = parts.join("/");
                assert!(
                    served.contains(&resolved.as_str()),
                    "{path} imports {target} ({resolved}), not served"
                );
            }
        }
    }
}
