//! Security headers on every response, errors and probes included: `X-Content-Type-Options: nosniff`
//! (a JSON answer is never sniffed into a script), `Cache-Control: no-store` everywhere but the bundled
//! API docs (answers hold knowledge-base text that no shared cache or browser history should keep),
//! `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, and under TLS `Strict-Transport-Security`
//! (browsers then refuse plain HTTP to this host for two years).

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// On every response.
const ALWAYS: [(HeaderName, &str); 3] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// Two years, as the HSTS preload list asks for.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Adds the headers to the response of `req`; `https` when the server speaks TLS.
pub async fn stamp(https: bool, req: Request, next: Next) -> Response {
    let cacheable = req.uri().path().starts_with("/docs");
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    for (name, value) in ALWAYS {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !cacheable {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}
