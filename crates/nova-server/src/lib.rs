//! KB Nova's HTTP service: axum routes over the engine. Handlers are thin (extract → one engine call
//! on a blocking thread → map); every error leaves as `{"error":{"code","message","request_id"}}`.
//! This crate holds no search logic.

mod auth;
mod console;
pub mod drift;
mod error;
mod extract;
mod headers;
mod listen;
mod metrics;
pub mod openapi;
mod routes;
mod site;
mod state;
pub mod tls;
mod validate;

pub use console::{ConsoleSettings, OidcLogin};
pub use error::{status_of, ApiError, ErrorBody};
pub use metrics::Metrics;
pub use site::SitePolicy;
pub use state::{AppState, Limits, Security};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use nova_core::Code;
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use utoipa_swagger_ui::SwaggerUi;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: routes, docs, and the middleware stack.
pub fn app(state: AppState) -> Router {
    let limits = *state.limits();
    let https = state.site().tls.is_some();
    let api = Router::new()
        .merge(routes::kbs::routes())
        .merge(routes::search::routes())
        .merge(routes::tickets::routes())
        .merge(routes::documents::routes())
        .merge(routes::tasks::routes())
        .merge(routes::answer::routes())
        .merge(routes::chat::routes())
        .merge(routes::feedback::routes())
        .merge(routes::analytics::routes())
        .merge(routes::versions::routes())
        .merge(routes::embeddings::routes())
        .merge(routes::health::routes())
        .merge(routes::keys::routes())
        .merge(routes::me::routes())
        .merge(console::routes())
        .merge(routes::audit::routes())
        .route("/openapi.json", get(openapi_json))
        .fallback(error::not_found)
        .method_not_allowed_fallback(|| async {
            ApiError::new(Code::MethodNotAllowed, "method not allowed on this route")
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), site::check))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state);
    let docs: Router = SwaggerUi::new("/docs")
        .url("/docs/openapi.json", openapi::served(None, &limits))
        .into();
    with_middleware(api.merge(docs), limits).layer(middleware::from_fn(
        move |req: Request, next: Next| headers::stamp(https, req, next),
    ))
}

/// The contract, with what only the running server knows (the model's dimension, its limits).
async fn openapi_json(State(state): State<AppState>) -> impl IntoResponse {
    let dim = state
        .engine()
        .and_then(|engine| engine.loaded_model_info())
        .map(|m| m.dim);
    let body = openapi::to_json(&openapi::served(dim, state.limits()));
    ([("content-type", "application/json")], body)
}

/// The cross-cutting stack, outermost last: request id (accepted from `x-request-id` when it is a
/// plausible id, else a new UUID; echoed back) → trace span carrying it → error bodies → panic catcher →
/// timeout → request-target length → body limit.
pub fn with_middleware(router: Router, limits: Limits) -> Router {
    router
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            uri_within(limits.max_uri_bytes, req, next)
        }))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            timeout(limits.request_timeout, req, next)
        }))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(middleware::from_fn(error::render_errors))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                // One line per request at `-v` (info): method, path, request id, status and latency.
                .on_response(
                    DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::from_fn(drop_odd_request_id))
}

/// Longest client-chosen request id kept; longer ones are replaced by a fresh UUID.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A client's `x-request-id` is echoed in headers, bodies and every log line of the request, so only a
/// short run of visible ASCII is kept; anything else is dropped and the next layer assigns a UUID.
async fn drop_odd_request_id(mut req: Request, next: Next) -> Response {
    let odd = req.headers().get(&REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        b.is_empty() || b.len() > MAX_REQUEST_ID_LEN || !b.iter().all(u8::is_ascii_graphic)
    });
    if odd {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// 414 (in the JSON error format) for a request target longer than `max` bytes, before any routing.
async fn uri_within(max: usize, req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > max {
        return ApiError::new(
            Code::UriTooLong,
            format!(
                "request target is {len} bytes; at most {max} are accepted (server.max_uri_bytes)"
            ),
        )
        .into_response();
    }
    next.run(req).await
}

async fn timeout(limit: std::time::Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            Code::Timeout,
            format!(
                "request took longer than {} s (server.request_timeout_secs)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

/// Serves `app` on `listener` (HTTPS when the site policy carries a TLS configuration) until `shutdown`
/// resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits();
    let conn = listen::ConnLimits {
        header_read_timeout: limits.header_read_timeout,
        max_connections: limits.max_connections,
    };
    let tls = state
        .site()
        .tls
        .clone()
        .map(tokio_rustls::TlsAcceptor::from);
    listen::serve_connections(listener, app(state), conn, tls, shutdown).await
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
