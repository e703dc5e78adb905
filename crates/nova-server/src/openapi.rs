//! The OpenAPI document, generated from the handlers' annotations, and the offline Swagger UI.

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{
    analytics, answer, audit, chat, documents, embeddings, feedback, health, kbs, keys, me, search,
    tasks, tickets, versions,
};
use utoipa::OpenApi;

/// KB Nova's HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(title = "KB Nova", description = "Self-hosted knowledge-base troubleshooting engine: hybrid search, troubleshooting with cited steps, answers with checked citations, ticket routing, OpenAI-compatible chat and embeddings."),
    paths(
        kbs::list_kbs, kbs::create_kb, kbs::get_kb, kbs::delete_kb, kbs::snapshot_kb,
        search::search, search::troubleshoot, answer::answer,
        chat::chat_completions, chat::models,
        tickets::classify, tickets::suggest, tickets::router_details,
        documents::add_documents, documents::get_document, documents::delete_document,
        documents::document_access,
        tasks::get_task, tasks::cancel_task, tasks::delete_task,
        feedback::record_feedback, feedback::list_feedback, analytics::gaps, analytics::drift,
        versions::list_versions, versions::build_version, versions::switch_version,
        versions::start_ab, versions::ab_report, versions::stop_ab,
        embeddings::create_embeddings,
        health::healthz, health::readyz, health::metrics,
        keys::create_key, keys::list_keys, keys::revoke_key, me::me,
        audit::list_audit,
    ),
    modifiers(&BearerKey, &AuthResponses, &InputResponses),
    security(("api_key" = [])),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "knowledge bases", description = "Create, list and delete knowledge bases"),
        (name = "documents", description = "Add (as ingest tasks), read and delete documents"),
        (name = "search", description = "Hybrid search, troubleshooting and answers with sources"),
        (name = "openai", description = "OpenAI-compatible chat: the model `kb:<name>` answers from that knowledge base"),
        (name = "tickets", description = "Route new tickets and suggest solutions from resolved ones"),
        (name = "feedback", description = "Was a result helpful? What does the knowledge base answer badly?"),
        (name = "index versions", description = "Index versions with lineage, blue-green rebuilds behind an eval gate, rollback, A/B tests with automatic rollback"),
        (name = "embeddings", description = "OpenAI-compatible embeddings"),
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "keys", description = "API keys (administrators) and the caller's own identity"),
        (name = "audit", description = "The audit trail: who did and read what (administrators)"),
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

/// The answers the authentication middleware gives before any handler runs, on every route it guards:
/// 401 (no or a refused credential), 403 (the role or KB grant is missing), 429 (rate or daily quota).
/// The probes and the API description need no credential, so they say so (`security: []`).
struct AuthResponses;

impl utoipa::Modify for AuthResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::Header;
        use utoipa::openapi::security::SecurityRequirement;
        use utoipa::openapi::{Object, Type};
        let error = error_response;
        let seconds = |what: &str| {
            let mut h = Header::new(Object::with_type(Type::Integer));
            h.description = Some(what.to_owned());
            h
        };
        let unauthenticated = error("No credential, or one that is unknown, revoked, expired or invalid (`unauthenticated`)")
            .header("WWW-Authenticate", Header::default())
            .build();
        let forbidden = error("The caller lacks the role or knowledge-base grant this needs (`forbidden`); the message names it").build();
        let limited =
            error("Over the caller's rate (`rate_limited`) or daily quota (`quota_exceeded`)")
                .header("Retry-After", seconds("Seconds until a retry can succeed"))
                .header("RateLimit-Limit", seconds("Requests allowed in the window"))
                .header(
                    "RateLimit-Remaining",
                    seconds("Requests left in the window"),
                )
                .header(
                    "RateLimit-Reset",
                    seconds("Seconds until the window is full again"),
                )
                .build();
        for (path, op) in operations(openapi) {
            if matches!(path, "/healthz" | "/readyz") {
                op.security = Some(vec![SecurityRequirement::default()]);
                continue;
            }
            add_response(op, "401", &unauthenticated);
            add_response(op, "403", &forbidden);
            add_response(op, "429", &limited);
        }
    }
}

/// The answers the shared layers give on every route they cover, so the contract lists every status a
/// client can get: a body that is not JSON (400 `malformed_json`), too large (413) or of another type
/// (415), a path or field the handler refuses (422), a request target the HTTP layer cannot decode
/// (400 `bad_request`), the model still loading or the KB held by another process (503). Also the rule
/// every `{kb}` path parameter obeys, so generated names match what the server accepts.
struct InputResponses;

/// A document id as `DocId::parse` accepts it: 1–512 characters, not blank, no control or bidi-override
/// characters.
pub const DOC_ID_PATTERN: &str = "^(?=.*\\S)[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]{1,512}$";

impl utoipa::Modify for InputResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| error_response(description).build();
        let bad = error("Malformed JSON (`malformed_json`) or a path or query string that cannot be decoded (`bad_request`)");
        let too_large = error("Body larger than `server.body_limit_mb` (`payload_too_large`)");
        let media = error("A body that is not `application/json` (`unsupported_media_type`)");
        let invalid = error("Invalid input; the message names the field (`invalid_input`)");
        let unavailable = error("The model is still loading (`not_ready`) or the knowledge base is open in another process (`kb_busy`, with `Retry-After`)");
        // Document ids in bodies follow the same rule as in paths; filter keys are field names.
        if let Some(components) = openapi.components.as_mut() {
            for schema in [
                "SearchRequest",
                "TroubleshootRequest",
                "SuggestRequest",
                "AnswerRequest",
            ] {
                if let Some(p) = property_mut(components, schema, "filters") {
                    p.property_names = Some(Box::new(string_matching(FIELD_NAME_PATTERN)));
                }
            }
            for (schema, field) in [("DocumentIn", "id"), ("FeedbackIn", "doc_id")] {
                if let Some(p) = property_mut(components, schema, field) {
                    p.pattern = Some(DOC_ID_PATTERN.to_owned());
                }
            }
            for schema in ["ClassifyRequest", "SuggestRequest"] {
                if let Some(p) = property_mut(components, schema, "label") {
                    p.pattern = Some(KB_NAME_PATTERN.to_owned()); // `LabelField::parse`: the same rule
                }
                require_ticket_text(components, schema);
            }
            set_input_items(components, Some(1), None);
        }
        let full = error("The data folder is below `data.min_free_mb` free, full or read-only (`insufficient_storage`): nothing was written; reads keep working");
        for (path, item) in openapi.paths.paths.iter_mut() {
            if WRITES_FILES.contains(&path.as_str()) {
                for op in [&mut item.post, &mut item.delete].into_iter().flatten() {
                    add_response(op, "507", &full);
                }
            }
        }
        for (path, op) in operations(openapi) {
            if matches!(path, "/healthz" | "/readyz" | "/metrics") {
                continue;
            }
            let has_body = op.request_body.is_some();
            let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            for param in op.parameters.iter_mut().flatten() {
                let utoipa::openapi::RefOr::T(param) = param else {
                    continue;
                };
                if param.name == "id" && path.contains("/documents/") {
                    param.schema = Some(string_matching(DOC_ID_PATTERN).into());
                }
                if param.name == "kb" {
                    param.schema = Some(string_matching(KB_NAME_PATTERN).into());
                }
            }
            if path == "/v1/kbs/{kb}/documents" {
                declare_upload_types(op);
            }
            add_response(op, "400", &bad);
            add_response(op, "503", &unavailable);
            if has_body {
                add_response(op, "413", &too_large);
                add_response(op, "415", &media);
            }
            if has_body || has_params {
                add_response(op, "422", &invalid);
            }
        }
    }
}

/// `subject` and `body` may each be empty but not both (nor both blank): the object schema becomes
/// `allOf: [it, anyOf: [subject has a non-space, body has a non-space]]`.
fn require_ticket_text(components: &mut utoipa::openapi::Components, schema: &str) {
    use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder};
    let Some(object) = components.schemas.remove(schema) else {
        return;
    };
    let has_text = |field: &str| {
        ObjectBuilder::new()
            .property(field, string_matching("\\S"))
            .required(field)
            .build()
    };
    let either = AnyOfBuilder::new()
        .item(has_text("subject"))
        .item(has_text("body"))
        .description(Some("`subject` and `body` are not both empty"));
    components.schemas.insert(
        schema.to_owned(),
        utoipa::openapi::Schema::AllOf(AllOfBuilder::new().item(object).item(either).build())
            .into(),
    );
}

/// Bounds on the list form of an embeddings `input`.
fn set_input_items(
    components: &mut utoipa::openapi::Components,
    min: Option<usize>,
    max: Option<usize>,
) {
    use utoipa::openapi::{RefOr, Schema};
    let Some(RefOr::T(Schema::OneOf(input))) = components.schemas.get_mut("Input") else {
        return;
    };
    for item in &mut input.items {
        if let RefOr::T(Schema::Array(list)) = item {
            list.min_items = min.or(list.min_items);
            list.max_items = max.or(list.max_items);
        }
    }
}

/// The document with what depends on the server's settings: `input` holds at most
/// `server.max_embedding_inputs` texts, `filters` (and troubleshoot `tags`) at most `server.max_filters`
/// entries, and — once the model is loaded (`dim`) — `dimensions` in an embeddings request must equal
/// the model's (there is no truncation). `nova openapi` writes it for the default settings.
pub fn served(dim: Option<usize>, limits: &crate::Limits) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi_doc();
    if let Some(components) = doc.components.as_mut() {
        set_input_items(components, None, Some(limits.max_embedding_inputs));
        for schema in ["SearchRequest", "TroubleshootRequest", "SuggestRequest"] {
            if let Some(p) = property_mut(components, schema, "filters") {
                p.max_properties = Some(limits.max_filters);
            }
        }
        if let Some(utoipa::openapi::Schema::Array(tags)) =
            property_schema_mut(components, "TroubleshootRequest", "tags")
        {
            tags.max_items = Some(limits.max_filters);
        }
        if let (Some(dim), Some(p)) = (
            dim,
            property_mut(components, "EmbeddingsRequest", "dimensions"),
        ) {
            p.minimum = Some(utoipa::Number::UInt(dim));
            p.maximum = Some(utoipa::Number::UInt(dim));
        }
    }
    doc
}

/// The media types an upload's file parts may have (the formats `nova ingest` reads).
const UPLOAD_TYPES: &str =
    "text/markdown, text/plain, text/html, application/pdf, application/x-ndjson, text/csv";

/// States which file types the multipart upload's `files` parts may be.
fn declare_upload_types(op: &mut utoipa::openapi::path::Operation) {
    let Some(utoipa::openapi::RefOr::T(body)) = op.request_body.as_mut() else {
        return;
    };
    let Some(utoipa::openapi::RefOr::T(content)) = body.content.get_mut("multipart/form-data")
    else {
        return;
    };
    content.encoding.insert(
        "files".to_owned(),
        utoipa::openapi::encoding::EncodingBuilder::new()
            .content_type(Some(UPLOAD_TYPES))
            .build(),
    );
}

/// A knowledge base name as `KbName::parse` accepts it.
const KB_NAME_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
/// A payload field name as the filter check accepts it.
const FIELD_NAME_PATTERN: &str = "^[A-Za-z0-9_-]+$";

/// Paths whose POST and DELETE write to the data folder, so a full disk answers them `507`.
const WRITES_FILES: &[&str] = &[
    "/v1/kbs",
    "/v1/kbs/{kb}",
    "/v1/kbs/{kb}/documents",
    "/v1/kbs/{kb}/documents/{id}",
    "/v1/kbs/{kb}/feedback",
    "/v1/kbs/{kb}/versions",
    "/v1/kbs/{kb}/versions/switch",
    "/v1/kbs/{kb}/ab",
    "/v1/kbs/{kb}/ab/stop",
    "/v1/keys",
    "/v1/keys/{name}",
    "/v1/tasks/{id}",
    "/v1/tasks/{id}/cancel",
];

/// Every operation with its path.
fn operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&str, &mut utoipa::openapi::path::Operation)> {
    openapi.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        .map(move |op| (path.as_str(), op))
    })
}

/// An error answer with the `ErrorBody` JSON.
fn error_response(description: &str) -> utoipa::openapi::ResponseBuilder {
    use utoipa::openapi::{Content, Ref, ResponseBuilder};
    ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    )
}

/// Documents `response` under `code` unless the handler documented that status itself.
fn add_response(
    op: &mut utoipa::openapi::path::Operation,
    code: &str,
    response: &utoipa::openapi::Response,
) {
    op.responses
        .responses
        .entry(code.into())
        .or_insert_with(|| response.clone().into());
}

/// A string schema with `pattern`.
fn string_matching(pattern: &str) -> utoipa::openapi::Schema {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(pattern))
        .into()
}

/// The object schema of `schema`'s property `field`, if both are plain objects.
fn property_mut<'a>(
    components: &'a mut utoipa::openapi::Components,
    schema: &str,
    field: &str,
) -> Option<&'a mut utoipa::openapi::Object> {
    match property_schema_mut(components, schema, field)? {
        utoipa::openapi::Schema::Object(p) => Some(p),
        _ => None,
    }
}

/// The schema of `schema`'s property `field` (of any kind), if `schema` is a plain object.
fn property_schema_mut<'a>(
    components: &'a mut utoipa::openapi::Components,
    schema: &str,
    field: &str,
) -> Option<&'a mut utoipa::openapi::Schema> {
    use utoipa::openapi::{RefOr, Schema};
    let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
        return None;
    };
    match object.properties.get_mut(field) {
        Some(RefOr::T(p)) => Some(p),
        _ => None,
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
    to_json(&served(None, &crate::Limits::default()))
}

/// `doc` as JSON text.
pub fn to_json(doc: &utoipa::openapi::OpenApi) -> String {
    let mut value = match serde_json::to_value(doc) {
        Ok(v) => v,
        Err(e) => return format!("{{\"error\":\"{e}\"}}"),
    };
    chat_shapes(&mut value);
    serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// What utoipa cannot state of a chat request, added to the generated document: it must hold a user
/// message with text to answer (`contains`), a message's content is a string or parts, `stop` is one
/// string or a few.
fn chat_shapes(doc: &mut serde_json::Value) {
    // A message's content is a string or an array of parts (OpenAI's two forms), which also lets the
    // clause below be met.
    if let Some(content) = doc.pointer_mut("/components/schemas/ChatMessageIn/properties/content") {
        *content = serde_json::json!({
            "description": "A string, or an array of parts of which the `text` ones are read.",
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "object"}}
            ]
        });
    }
    // `stop`: one string or a few (utoipa sees an untyped value), as the request check bounds them.
    if let Some(stop) = doc.pointer_mut("/components/schemas/ChatRequest/properties/stop") {
        use crate::routes::answer::{MAX_STOPS, MAX_STOP_CHARS};
        let one =
            serde_json::json!({"type": "string", "minLength": 1, "maxLength": MAX_STOP_CHARS});
        *stop = serde_json::json!({
            "description": format!("A stop string or up to {MAX_STOPS} of them."),
            "oneOf": [one, {"type": "array", "maxItems": MAX_STOPS, "items": one}, {"type": "null"}]
        });
    }
    if let Some(messages) = doc.pointer_mut("/components/schemas/ChatRequest/properties/messages") {
        messages["contains"] = serde_json::json!({
            "type": "object",
            "required": ["role", "content"],
            "properties": {
                "role": {"const": "user"},
                "content": {"type": "string", "pattern": "\\S"}
            }
        });
    }
}
