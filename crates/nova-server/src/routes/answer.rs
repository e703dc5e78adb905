//! Answers with sources: `POST /v1/kbs/{kb}/answer`, whole or streamed as Server-Sent Events. The
//! generator runs on a blocking thread and hands text over a channel; a client that goes away stops it
//! at its next token. The OpenAI-compatible routes in [`super::chat`] stream through the same channel.

use crate::error::{ApiError, ErrorBody};
use crate::extract::{kb_name, ApiJson, Caller, Ready};
use crate::state::{AppState, Limits};
use crate::validate::{bounded, filters, query_text};
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use nova_core::{Code, KbName, RequestCtx};
use nova_engine::{Answer, AnswerOptions, Engine};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::Arc;
use tokio::sync::mpsc;
use utoipa::ToSchema;

/// The answer route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/kbs/{kb}/answer", post(answer))
}

/// `POST /v1/kbs/{kb}/answer` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The question, in the user's words.
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub question: String,
    /// Stream the answer as Server-Sent Events (`token` events, then one `done` event with the
    /// citations, usage and timings) instead of one JSON body.
    #[serde(default)]
    pub stream: bool,
    /// Passages to retrieve (1–20; default `generation.passages`).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub passages: Option<usize>,
    /// Resolved tickets to retrieve (0–20; default `generation.tickets`).
    #[schema(minimum = 0, maximum = 20)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub tickets: Option<usize>,
    /// Sampling temperature, 0–2 (0 = greedy, deterministic; default `generation.temperature`).
    #[schema(minimum = 0, maximum = 2)]
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Most tokens in the answer (1–4096; default `generation.max_tokens`).
    #[schema(minimum = 1, maximum = 4096)]
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub max_tokens: Option<usize>,
    /// Payload filters for retrieval, all required.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// Cite the passage an uncited sentence was taken from (default `generation.attribute`); such
    /// citations are marked `attributed`.
    #[serde(default)]
    pub attribute: Option<bool>,
}

/// One Server-Sent Event as a client parses it (the schema of each event of a `text/event-stream`
/// answer): its name and its JSON text.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SseEvent {
    /// `token`, `done` or `error` (answers); absent, i.e. `message`, for OpenAI chunks.
    pub event: Option<String>,
    /// A JSON document (`{"text": …}`, the whole answer, an error body or a chat chunk), or `[DONE]`.
    pub data: String,
}

/// Request overrides of the configured answer settings, checked.
pub(crate) struct Overrides {
    pub passages: Option<usize>,
    pub tickets: Option<usize>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub max_tokens: Option<usize>,
    pub seed: Option<u64>,
    pub stop: Vec<String>,
}

/// Stop strings a request may give, and how long each may be.
pub(crate) const MAX_STOPS: usize = 4;
pub(crate) const MAX_STOP_CHARS: usize = 64;

impl Overrides {
    /// `defaults` with these overrides applied, each range-checked (errors name the field).
    pub(crate) fn apply(self, defaults: &AnswerOptions) -> Result<AnswerOptions, ApiError> {
        let mut opts = defaults.clone();
        opts.passages = bounded("passages", self.passages, defaults.passages, 20)?;
        opts.tickets = match self.tickets {
            None => defaults.tickets,
            Some(0) => 0,
            other => bounded("tickets", other, 1, 20)?,
        };
        if let Some(t) = self.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(ApiError::invalid(format!(
                    "`temperature` {t} is out of range 0–2"
                )));
            }
            opts.sampling.temperature = t;
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(ApiError::invalid(format!(
                    "`top_p` {p} is out of range (0, 1]"
                )));
            }
            opts.sampling.top_p = p;
        }
        opts.sampling.max_tokens = bounded(
            "max_tokens",
            self.max_tokens,
            defaults.sampling.max_tokens,
            4096,
        )?;
        if let Some(seed) = self.seed {
            opts.sampling.seed = seed;
        }
        if self.stop.len() > MAX_STOPS
            || self
                .stop
                .iter()
                .any(|s| s.is_empty() || s.chars().count() > MAX_STOP_CHARS)
        {
            return Err(ApiError::invalid(format!(
                "`stop` takes at most {MAX_STOPS} strings of 1–{MAX_STOP_CHARS} characters"
            )));
        }
        opts.sampling.stop = self.stop;
        Ok(opts)
    }
}

impl AnswerRequest {
    fn options(
        &self,
        limits: &Limits,
        defaults: &AnswerOptions,
    ) -> Result<AnswerOptions, ApiError> {
        query_text("question", &self.question, limits.max_query_chars)?;
        let mut opts = Overrides {
            passages: self.passages,
            tickets: self.tickets,
            temperature: self.temperature,
            top_p: None,
            max_tokens: self.max_tokens,
            seed: None,
            stop: Vec::new(),
        }
        .apply(defaults)?;
        opts.filter = filters(&self.filters, limits.max_filters)?;
        opts.attribute = self.attribute.unwrap_or(defaults.attribute);
        Ok(opts)
    }
}

/// What the generator thread sends.
pub(crate) enum Piece {
    /// Text, citations already checked.
    Text(String),
    /// The end: the whole answer, or why there is none.
    Done(Result<Box<Answer>, ApiError>),
}

/// Starts the answer on a blocking thread; its text and then its end arrive on the channel. When the
/// receiver is dropped (the client went away) generation stops at the next piece.
pub(crate) fn start(
    state: &AppState,
    engine: Arc<Engine>,
    ctx: RequestCtx,
    kb: KbName,
    question: String,
    opts: AnswerOptions,
) -> mpsc::Receiver<Piece> {
    let (tx, rx) = mpsc::channel(64);
    let metrics = state.metrics_handle();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _span = span.enter();
        let mut on_token = |text: &str| match tx.blocking_send(Piece::Text(text.to_owned())) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        };
        let result = engine.answer(&ctx, &kb, &question, &opts, &mut on_token);
        match &result {
            Ok(answer) => metrics.answer(answer),
            Err(e @ nova_engine::EngineError::Generate(_)) => {
                let provider = engine
                    .generator()
                    .map_or_else(|_| "unknown".to_owned(), |g| g.provider().to_owned());
                metrics.generation_error(&provider, e.code());
            }
            Err(_) => {}
        }
        let _ = tx.blocking_send(Piece::Done(result.map(Box::new).map_err(ApiError::from)));
    });
    rx
}

/// Waits for the first piece, so that an error before any text (no such KB, no access, the endpoint
/// down) is an ordinary HTTP error rather than a 200 stream that fails.
pub(crate) async fn first_piece(rx: &mut mpsc::Receiver<Piece>) -> Result<Option<Piece>, ApiError> {
    match rx.recv().await {
        Some(Piece::Done(Err(e))) => Err(e),
        other => Ok(other),
    }
}

/// The whole answer (the non-streaming case).
pub(crate) async fn whole(mut rx: mpsc::Receiver<Piece>) -> Result<Answer, ApiError> {
    while let Some(piece) = rx.recv().await {
        if let Piece::Done(result) = piece {
            return result.map(|a| *a);
        }
    }
    Err(ApiError::new(
        Code::Internal,
        "the answer thread ended without a result",
    ))
}

/// An SSE response whose events `event_of` makes from each piece (`None` skips one); the first piece
/// has been read already.
pub(crate) fn sse(
    first: Option<Piece>,
    rx: mpsc::Receiver<Piece>,
    event_of: impl FnMut(Piece) -> Vec<Event> + Send + 'static,
) -> Response {
    let stream = futures_util::stream::unfold(
        (first, rx, event_of, false),
        |(mut first, mut rx, mut event_of, ended)| async move {
            if ended {
                return None;
            }
            let piece = match first.take() {
                Some(p) => p,
                None => rx.recv().await?,
            };
            let ended = matches!(piece, Piece::Done(_));
            let events = event_of(piece);
            Some((events, (None, rx, event_of, ended)))
        },
    );
    let events = futures_util::StreamExt::flat_map(stream, |events| {
        futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// An SSE `error` event: the same `{code, message}` as an error body.
pub(crate) fn error_event(e: &ApiError) -> Event {
    Event::default()
        .event("error")
        .data(json!({"error": {"code": e.code.as_str(), "message": e.message}}).to_string())
}

/// Answer a question from a knowledge base, citing its sources: retrieval (hybrid passages and
/// resolved tickets, only those near the best hit), a grounded prompt, the configured generator
/// (`generation.provider`), and every `[n]` checked — citations of passages that were not given are
/// removed and counted in `dropped_citations`. When nothing relevant is found the answer is a refusal
/// and no model is called. With `"stream": true` the answer is Server-Sent Events: `token` events
/// (`{"text": …}`) as it is written, then one `done` event holding the whole answer as below (or an
/// `error` event).
#[utoipa::path(post, path = "/v1/kbs/{kb}/answer", tag = "search",
    params(("kb" = String, Path, description = "Knowledge base name")),
    request_body = AnswerRequest,
    responses((status = 200, description = "The answer (JSON), or with `stream` an event stream", content(
            (Answer = "application/json"),
            (SseEvent = "text/event-stream"))),
        (status = 404, description = "Knowledge base not found", body = ErrorBody),
        (status = 422, description = "Invalid input; the message names the field", body = ErrorBody),
        (status = 429, description = "Overloaded: too many queries wait for the model; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 502, description = "The configured OpenAI-compatible endpoint is down or refused the key (`generator_unavailable`)", body = ErrorBody),
        (status = 503, description = "Not ready: the model is loading", body = ErrorBody)))]
pub async fn answer(
    State(state): State<AppState>,
    Ready(engine): Ready,
    Caller(ctx): Caller,
    Path(kb): Path<String>,
    ApiJson(req): ApiJson<AnswerRequest>,
) -> Result<Response, ApiError> {
    let kb = kb_name(&kb)?;
    let opts = req.options(state.limits(), engine.answer_defaults())?;
    let mut rx = start(&state, engine, ctx, kb, req.question, opts);
    if !req.stream {
        return Ok(Json(whole(rx).await?).into_response());
    }
    let first = first_piece(&mut rx).await?;
    Ok(sse(first, rx, |piece| {
        vec![match piece {
            Piece::Text(text) => Event::default()
                .event("token")
                .data(json!({ "text": text }).to_string()),
            Piece::Done(Ok(answer)) => Event::default()
                .event("done")
                .data(serde_json::to_string(&answer).unwrap_or_default()),
            Piece::Done(Err(e)) => error_event(&e),
        }]
    }))
}
