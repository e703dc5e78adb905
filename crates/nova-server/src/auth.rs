//! Authentication middleware: every request except the health probes and the API description must
//! carry a valid credential; the verified principal rides in the request's extensions for the
//! [`Caller`](crate::extract::Caller) extractor. What the principal may do is the engine's decision;
//! only `/metrics`, which serves this process's own registry, is checked here.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nova_auth::Verdict;
use nova_core::{Code, Role};

/// Routes anyone may call: liveness and readiness probes, the API's own description, and the web
/// console's static files and sign-in options (no data: the console signs in before its first call).
fn is_open(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/openapi.json") || crate::console::is_console(path)
}

/// The 401 every refused credential gets: one answer, whatever the reason (logged, not told).
pub(crate) fn unauthenticated() -> ApiError {
    ApiError::new(
        Code::Unauthenticated,
        "a valid API key is required: send `Authorization: Bearer <key>` (an admin creates keys with `nova keys create`)",
    )
}

/// Verifies the caller and records it for the handlers.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if is_open(&path) {
        return next.run(req).await;
    }
    let security = state.security();
    if path == "/metrics" && security.public_metrics {
        return next.run(req).await;
    }
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let mut verified = security.authenticator.authenticate(header);
    if matches!(verified, Err(nova_auth::AuthError::KeysStale)) {
        // A JWT signed by a key not cached yet: fetch the provider's keys on a blocking thread
        // (rate-limited inside) and check once more.
        let header = header.map(str::to_owned);
        let state = state.clone();
        verified = tokio::task::spawn_blocking(move || {
            state
                .security()
                .authenticator
                .authenticate_after_refresh(header.as_deref())
        })
        .await
        .unwrap_or(Err(nova_auth::AuthError::Unauthenticated(
            "key refresh failed",
        )));
    }
    let caller = match verified {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(reason = %e, "credential refused");
            return unauthenticated().into_response();
        }
    };
    if path == "/metrics" {
        if let Err(denied) = caller.principal.require(Role::Metrics, None) {
            return ApiError::new(Code::Forbidden, denied.to_string()).into_response();
        }
    }
    // Limits before any work: a refused request costs no embedding.
    let verdict =
        security
            .limiter
            .check(&caller.principal.subject, caller.rate, caller.daily_quota);
    let rate = match verdict {
        Verdict::Allowed { rate } => rate,
        Verdict::RateLimited { limit, retry_after } => {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let mut response = ApiError::new(
                Code::RateLimited,
                format!("more than {limit} requests in this key's window; retry in {secs} s"),
            )
            .into_response();
            set_headers(
                &mut response,
                &[
                    ("retry-after", secs),
                    ("ratelimit-limit", u64::from(limit)),
                    ("ratelimit-remaining", 0),
                    ("ratelimit-reset", secs),
                ],
            );
            return response;
        }
        Verdict::QuotaExceeded { quota, reset_secs } => {
            let mut response = ApiError::new(
                Code::QuotaExceeded,
                format!(
                    "this key's daily quota of {quota} requests is used up; it resets at 00:00 UTC"
                ),
            )
            .into_response();
            set_headers(&mut response, &[("retry-after", reset_secs)]);
            return response;
        }
    };
    req.extensions_mut().insert(caller.principal);
    let mut response = next.run(req).await;
    if let Some((limit, remaining, reset)) = rate {
        set_headers(
            &mut response,
            &[
                ("ratelimit-limit", u64::from(limit)),
                ("ratelimit-remaining", u64::from(remaining)),
                ("ratelimit-reset", reset),
            ],
        );
    }
    response
}

fn set_headers(response: &mut Response, values: &[(&'static str, u64)]) {
    for (name, value) in values {
        response
            .headers_mut()
            .insert(*name, axum::http::HeaderValue::from(*value));
    }
}
