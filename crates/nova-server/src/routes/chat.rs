//! KB Nova as an OpenAI-compatible chat model: `POST /v1/chat/completions` and `GET /v1/models`, where
//! the model `kb:<name>` means "answer from knowledge base <name>", so any OpenAI client or chat front
//! end gets grounded answers. The last user message is the question and earlier user/assistant turns are
//! context; client system messages are not passed on (the grounding instructions are KB Nova's).
//! Citations, passages and refusals ride along in a `kb_nova` field that OpenAI clients ignore.

use super::answer::{error_event, first_piece, sse, start, whole, Overrides, Piece};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, Caller, Ready};
use crate::state::AppState;
use crate::validate::query_text;
use axum::extract::State;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use nova_core::{Code, KbName};
use nova_engine::nova_generate::{ChatMessage, ChatRole};
use nova_engine::Answer;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The OpenAI-compatible routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
}

/// One message of an OpenAI chat request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatMessageIn {
    /// `system`, `user` or `assistant` (others, such as `tool`, are ignored).
    pub role: String,
    /// A string, or an array of parts of which the `text` ones are read.
    #[schema(value_type = Object)]
    #[serde(default)]
    pub content: Value,
}

/// `stream_options`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with the token usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// `POST /v1/chat/completions` body: the OpenAI fields KB Nova reads; others are accepted and ignored,
/// as OpenAI-compatible servers do.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatRequest {
    /// `kb:<name>`: answer from that knowledge base (see `GET /v1/models`).
    #[schema(pattern = "^kb:")]
    pub model: String,
    /// The conversation; the last `user` message is the question.
    #[schema(min_items = 1)]
    pub messages: Vec<ChatMessageIn>,
    /// Stream chunks as Server-Sent Events, ending with `data: [DONE]`.
    #[serde(default)]
    pub stream: bool,
    /// With `stream`: `{"include_usage": true}` adds a usage chunk.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// 0–2; 0 = greedy.
    #[schema(minimum = 0, maximum = 2)]
    #[serde(default)]
    pub temperature: Option<f32>,
    /// (0, 1].
    #[schema(exclusive_minimum = 0, maximum = 1)]
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Most tokens in the answer (1–4096).
    #[schema(minimum = 1, maximum = 4096)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub max_tokens: Option<u64>,
    /// The newer name of `max_tokens`.
    #[schema(minimum = 1, maximum = 4096)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub max_completion_tokens: Option<u64>,
    /// Sampler seed.
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub seed: Option<u64>,
    /// A stop string or up to 4 of them.
    #[schema(value_type = Object)]
    #[serde(default)]
    pub stop: Value,
}

/// The text of a message's `content`.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn kb_of(model: &str) -> Result<KbName, ApiError> {
    let name = model.strip_prefix("kb:").ok_or_else(|| {
        ApiError::new(
            Code::ModelNotFound,
            format!(
                "model `{}` is not served here: models are `kb:<knowledge base>` (GET /v1/models lists them)",
                nova_core::excerpt(model)
            ),
        )
    })?;
    // `kb:` followed by no valid KB name names no model this server has.
    KbName::parse(name).map_err(|e| {
        ApiError::new(
            Code::ModelNotFound,
            format!(
                "model `{}` is not served here: {e}",
                nova_core::excerpt(model)
            ),
        )
    })
}

fn stops(stop: &Value) -> Result<Vec<String>, ApiError> {
    match stop {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::invalid("`stop` must be a string or strings"))
            })
            .collect(),
        _ => Err(ApiError::invalid("`stop` must be a string or strings")),
    }
}

/// The question (last user message) and the earlier turns.
fn conversation(messages: &[ChatMessageIn]) -> Result<(String, Vec<ChatMessage>), ApiError> {
    let turns: Vec<ChatMessage> = messages
        .iter()
        .filter_map(|m| {
            let role = match m.role.as_str() {
                "user" => ChatRole::User,
                "assistant" => ChatRole::Assistant,
                _ => return None,
            };
            Some(ChatMessage::new(role, text_of(&m.content)))
        })
        .collect();
    let last = turns
        .iter()
        .rposition(|m| m.role == ChatRole::User)
        .ok_or_else(|| ApiError::invalid("`messages` holds no `user` message to answer"))?;
    Ok((turns[last].content.clone(), turns[..last].to_vec()))
}

/// The usage object.
fn usage(a: &Answer) -> Value {
    json!({
        "prompt_tokens": a.usage.prompt_tokens,
        "completion_tokens": a.usage.completion_tokens,
        "total_tokens": a.usage.prompt_tokens + a.usage.completion_tokens,
    })
}

/// What KB Nova adds to a completion.
fn extras(a: &Answer) -> Value {
    json!({
        "citations": a.citations,
        "passages": a.passages,
        "dropped_citations": a.dropped_citations,
        "refused": a.refused,
        "provider": a.provider,
        "generator_model": a.model,
        "timings": a.timings,
    })
}

fn finish_reason(a: &Answer) -> &'static str {
    if a.finish_reason == "length" {
        "length"
    } else {
        "stop"
    }
}

/// A chat completion (answer from the knowledge base named by `model`), OpenAI-compatible. Streamed
/// chunks are `chat.completion.chunk` objects; the last carries `finish_reason` and `kb_nova`.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai",
    request_body = ChatRequest,
    responses((status = 200, description = "A `chat.completion` (JSON), or with `stream` an event stream of chunks", content(
            (Object = "application/json"),
            (super::answer::SseEvent = "text/event-stream"))),
        (status = 404, description = "No such model (`model_not_found`) or knowledge base", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody),
        (status = 429, description = "Overloaded; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 502, description = "The configured generation endpoint failed", body = ErrorBody),
        (status = 503, description = "Not ready: the model is loading", body = ErrorBody)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    Ready(engine): Ready,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let kb = kb_of(&req.model)?;
    let (question, history) = conversation(&req.messages)?;
    query_text(
        "messages[].content",
        &question,
        state.limits().max_query_chars,
    )?;
    let max_tokens = req
        .max_completion_tokens
        .or(req.max_tokens)
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut opts = Overrides {
        passages: None,
        tickets: None,
        temperature: req.temperature,
        top_p: req.top_p,
        max_tokens,
        seed: req.seed,
        stop: stops(&req.stop)?,
    }
    .apply(engine.answer_defaults())?;
    opts.history = history;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let model = req.model.clone();
    let mut rx = start(&state, engine, ctx, kb, question, opts);
    if !req.stream {
        let a = whole(rx).await?;
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": a.answer},
                "finish_reason": finish_reason(&a),
            }],
            "usage": usage(&a),
            "kb_nova": extras(&a),
        }))
        .into_response());
    }
    let first = first_piece(&mut rx).await?;
    let include_usage = req.stream_options.is_some_and(|o| o.include_usage);
    let chunk = move |choices: Value, more: Option<(&str, Value)>| {
        let mut c = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": choices,
        });
        if let Some((k, v)) = more {
            c[k] = v;
        }
        Event::default().data(c.to_string())
    };
    let mut opened = false;
    Ok(sse(first, rx, move |piece| {
        let mut events = Vec::new();
        if !opened {
            opened = true;
            events.push(chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
                None,
            ));
        }
        match piece {
            Piece::Text(text) => events.push(chunk(
                json!([{"index": 0, "delta": {"content": text}, "finish_reason": null}]),
                None,
            )),
            Piece::Done(Ok(a)) => {
                events.push(chunk(
                    json!([{"index": 0, "delta": {}, "finish_reason": finish_reason(&a)}]),
                    Some(("kb_nova", extras(&a))),
                ));
                if include_usage {
                    events.push(chunk(json!([]), Some(("usage", usage(&a)))));
                }
                events.push(Event::default().data("[DONE]"));
            }
            Piece::Done(Err(e)) => events.push(error_event(&e)),
        }
        events
    }))
}

/// `GET /v1/models` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    /// One model per knowledge base the caller may read.
    pub data: Vec<ModelEntry>,
}

/// One model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelEntry {
    /// `kb:<name>`.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// Unix seconds (0: knowledge bases have no creation time on record).
    pub created: u64,
    /// Always `kb-nova`.
    pub owned_by: String,
}

/// The models this server answers as: `kb:<name>` for each knowledge base the caller may read.
#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses((status = 200, description = "Success", body = ModelList)))]
pub async fn models(
    Ready(engine): Ready,
    Caller(ctx): Caller,
) -> Result<Json<ModelList>, ApiError> {
    let kbs = super::blocking(move || engine.list(&ctx)).await?;
    Ok(Json(ModelList {
        object: "list".into(),
        data: kbs
            .into_iter()
            .map(|kb| ModelEntry {
                id: format!("kb:{}", kb.name),
                object: "model".into(),
                created: 0,
                owned_by: "kb-nova".into(),
            })
            .collect(),
    }))
}
