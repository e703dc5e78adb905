//! Which sites may talk to the server from a browser, and under which host names.
//!
//! - **Cross-site writes**: a web page can make a browser send a form (`multipart/form-data`, no
//!   preflight) to any address, the user's local `nova serve` included. A state-changing request whose
//!   `Origin` is neither this server's own nor listed in `server.cors_origins` is refused before it
//!   reaches authentication; requests without `Origin` (curl, SDKs, servers) are not browsers' and pass.
//! - **CORS**: listed origins get `Access-Control-Allow-Origin` on their answers and proper answers to
//!   preflights (`OPTIONS` with `Access-Control-Request-Method`); other preflights are refused.
//! - **DNS rebinding**: a page on `evil.example` whose name is re-pointed at 127.0.0.1 reaches a loopback
//!   server with `Host: evil.example`. The `Host` must be one of `server.allowed_hosts` — by default, on a
//!   loopback address, `localhost`, `127.0.0.1` and `[::1]`.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nova_core::{strip_port, Code};

/// The browser-facing policy, and whether it is served over TLS.
#[derive(Debug, Clone, Default)]
pub struct SitePolicy {
    /// Origins (`scheme://host[:port]`) allowed to call the API from a browser.
    pub cors_origins: Vec<String>,
    /// `Host` values served (`name` matches any port, `name:port` only that one); empty = any.
    pub allowed_hosts: Vec<String>,
    /// The TLS configuration when serving HTTPS (`server.tls_cert` / `server.tls_key`); browsers are then
    /// told to use nothing else (`Strict-Transport-Security`).
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    /// The web console at `/ui` (`None`: turned off, `/ui` answers 404).
    pub console: Option<crate::ConsoleSettings>,
}

impl SitePolicy {
    /// The default host list for a server bound to `addr`: loopback names only when the address is a
    /// loopback one (nothing else can legitimately reach it), otherwise any.
    pub fn default_hosts(addr: &std::net::SocketAddr) -> Vec<String> {
        if addr.ip().is_loopback() {
            vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()]
        } else {
            Vec::new()
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self.allowed_hosts.is_empty() {
            return true;
        }
        let host = host.to_ascii_lowercase();
        let name = strip_port(&host);
        self.allowed_hosts.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            allowed == host || (strip_port(&allowed) == allowed && allowed == name)
        })
    }

    fn origin_listed(&self, origin: &str) -> bool {
        self.cors_origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

/// The `host[:port]` of an origin such as `https://kb.example:8443`.
fn origin_authority(origin: &str) -> Option<&str> {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
}

fn refuse(message: String) -> Response {
    ApiError::new(Code::OriginNotAllowed, message).into_response()
}

/// Applies the policy; runs before authentication so that preflights (which carry no credential)
/// are answered.
pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let policy = state.site();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default()
        .to_owned();
    if !policy.host_allowed(&host) {
        let shown: String = host.chars().take(100).collect();
        return refuse(format!(
            "host `{shown}` is not served here; add it to server.allowed_hosts"
        ));
    }
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(req).await;
    };
    let same_site = origin_authority(&origin).is_some_and(|a| a.eq_ignore_ascii_case(&host));
    let listed = policy.origin_listed(&origin);
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let shown: String = origin.chars().take(100).collect();
    if preflight {
        if !(listed || same_site) {
            return refuse(format!(
                "cross-site requests from `{shown}` are not allowed; add it to server.cors_origins"
            ));
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        allow_origin(h, &origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, x-request-id"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return response;
    }
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if writes && !(listed || same_site) {
        return refuse(format!(
            "cross-site {} from `{shown}` refused; add the origin to server.cors_origins to allow it",
            req.method()
        ));
    }
    let mut response = next.run(req).await;
    if listed {
        allow_origin(response.headers_mut(), &origin);
    }
    response
}

fn allow_origin(h: &mut axum::http::HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset",
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_by_name_or_exact_port() {
        let p = SitePolicy {
            cors_origins: vec![],
            allowed_hosts: vec!["localhost".into(), "[::1]".into(), "kb.example:8443".into()],
            ..SitePolicy::default()
        };
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST:1",
            "[::1]:8080",
            "kb.example:8443",
        ] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "localhost.evil.example",
            "kb.example",
            "kb.example:80",
            "",
        ] {
            assert!(!p.host_allowed(bad), "{bad}");
        }
        assert!(SitePolicy::default().host_allowed("anything"));
    }
}
