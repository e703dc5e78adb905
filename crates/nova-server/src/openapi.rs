//! The OpenAPI document, generated from the handlers' annotations, and the offline Swagger UI.

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{documents, embeddings, feedback, health, kbs, keys, search, tickets};
use utoipa::OpenApi;

/// KB Nova's HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(title = "KB Nova", description = "Self-hosted knowledge-base troubleshooting engine: hybrid search, troubleshooting with cited steps, ticket routing, OpenAI-compatible embeddings."),
    paths(
        kbs::list_kbs, kbs::create_kb, kbs::get_kb, kbs::delete_kb,
        search::search, search::troubleshoot,
        tickets::classify, tickets::suggest,
        documents::add_documents, documents::get_document, documents::delete_document,
        feedback::record_feedback,
        embeddings::create_embeddings,
        health::healthz, health::readyz, health::metrics,
        keys::create_key, keys::list_keys, keys::revoke_key,
    ),
    modifiers(&BearerKey),
    security(("api_key" = [])),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "knowledge bases", description = "Create, list and delete knowledge bases"),
        (name = "documents", description = "Add, read and delete documents"),
        (name = "search", description = "Hybrid search and troubleshooting"),
        (name = "tickets", description = "Route new tickets and suggest solutions from resolved ones"),
        (name = "feedback", description = "Was a result helpful?"),
        (name = "embeddings", description = "OpenAI-compatible embeddings"),
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "keys", description = "API keys (administrators)"),
    )
)]
pub struct ApiDoc;

/// Every route but the probes takes `Authorization: Bearer <API key>`.
struct BearerKey;

impl utoipa::Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "api_key",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

impl ApiDoc {
    /// The document.
    pub fn openapi_doc() -> utoipa::openapi::OpenApi {
        <Self as OpenApi>::openapi()
    }
}

/// The document as JSON text.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
