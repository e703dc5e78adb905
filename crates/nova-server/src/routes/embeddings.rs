//! OpenAI-compatible embeddings (`POST /v1/embeddings`), so OpenAI, LangChain and LlamaIndex clients
//! can use KB Nova as their embedder. Both `encoding_format`s are served: `float` and `base64`
//! (little-endian f32, what the official Python client asks for by default).

use super::blocking;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, Caller, Ready};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use utoipa::ToSchema;

/// The embeddings route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/embeddings", post(create_embeddings))
}

/// A string or a list of strings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Input {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
}

/// Vector encoding in the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON numbers.
    #[default]
    Float,
    /// Base64 of little-endian f32s.
    Base64,
}

/// OpenAI embeddings request. Other OpenAI fields (`user`, …) are accepted and ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    /// Text(s) to embed.
    pub input: Input,
    /// Model name; any value is answered by the loaded model, whose id is returned.
    #[serde(default)]
    pub model: Option<String>,
    /// `float` (default) or `base64`.
    #[serde(default)]
    pub encoding_format: EncodingFormat,
    /// Must equal the model's dimension when given (no truncation).
    #[serde(default, deserialize_with = "crate::validate::whole_number")]
    pub dimensions: Option<usize>,
}

/// One vector.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingData {
    /// Always `embedding`.
    pub object: &'static str,
    /// Position in `input`.
    pub index: usize,
    /// The vector: numbers, or a base64 string.
    pub embedding: EmbeddingValue,
}

/// A vector as `encoding_format` asked for it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingValue {
    /// `float`: the numbers.
    Float(Vec<f32>),
    /// `base64`: the little-endian f32 bytes, base64-encoded (as OpenAI sends them).
    Base64(String),
}

/// Token counts.
#[derive(Debug, Serialize, ToSchema)]
// Named apart from the answers' `Usage` (prompt and completion tokens): one name, one schema.
#[schema(as = EmbeddingUsage)]
pub struct Usage {
    /// Tokens in the inputs (after truncation to the model's limit).
    pub prompt_tokens: usize,
    /// Same as `prompt_tokens`.
    pub total_tokens: usize,
}

/// OpenAI embeddings response.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    pub object: &'static str,
    /// One entry per input, in order.
    pub data: Vec<EmbeddingData>,
    /// The model that produced them.
    pub model: String,
    /// Token counts.
    pub usage: Usage,
}

/// Create embeddings (OpenAI-compatible).
#[utoipa::path(post, path = "/v1/embeddings", tag = "embeddings", request_body = EmbeddingsRequest,
    responses((status = 200, description = "Success", body = EmbeddingsResponse), (status = 422, description = "Invalid input; the message names the field", body = ErrorBody)))]
pub async fn create_embeddings(
    State(state): State<AppState>,
    Ready(engine): Ready,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> Result<Json<EmbeddingsResponse>, ApiError> {
    let texts = match req.input {
        Input::One(t) => vec![t],
        Input::Many(ts) => ts,
    };
    let max = state.limits().max_embedding_inputs;
    if texts.is_empty() || texts.len() > max {
        return Err(ApiError::invalid(format!(
            "`input` must hold 1–{max} texts, got {}",
            texts.len()
        )));
    }
    let info = blocking({
        let engine = engine.clone();
        move || engine.model_info()
    })
    .await?;
    let dim = info.dim;
    if let Some(d) = req.dimensions.filter(|&d| d != dim) {
        return Err(ApiError::invalid(format!(
            "`dimensions` must be {dim} for this model, got {d}"
        )));
    }
    let model = info.id;
    if let Some(asked) = req.model.as_deref().filter(|m| *m != model) {
        tracing::debug!(asked, model, "embeddings: answering with the loaded model");
    }
    let n = texts.len();
    let started = Instant::now();
    let (vectors, tokens) = blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let tokens: usize = engine.token_counts(&refs)?.iter().sum();
        Ok((engine.embed(&ctx, &refs)?, tokens))
    })
    .await?;
    state
        .metrics()
        .embed_batch("api", n, started.elapsed().as_secs_f64());
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| EmbeddingData {
            object: "embedding",
            index,
            embedding: match req.encoding_format {
                EncodingFormat::Float => EmbeddingValue::Float(v),
                EncodingFormat::Base64 => {
                    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                    EmbeddingValue::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
            },
        })
        .collect();
    Ok(Json(EmbeddingsResponse {
        object: "list",
        data,
        model,
        usage: Usage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}
