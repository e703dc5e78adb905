//! Answer writers for KB Nova. A [`Generator`] turns a chat (a system prompt holding numbered passages,
//! then the user's question) into text, streamed token by token. Three implementations:
//!
//! - [`Extractive`]: no model — the best sentences of the given passages, each with its `[n]`.
//! - [`LocalGenerator`]: a Llama-family GGUF chat model run in-process on candle; its tokenizer and chat
//!   template come from the GGUF's own metadata.
//! - [`OpenAiGenerator`]: any OpenAI-compatible `/v1/chat/completions` endpoint.
//!
//! What to retrieve and how to cite is the engine's business; this crate knows passages only as numbered
//! texts. [`citations`] parses `[n]` markers out of an answer and drops those that name no given passage.
//! No HTTP server lives here.

pub mod attribution;
mod chat_template;
pub mod citations;
mod error;
mod extractive;
mod gguf_tokenizer;
mod llama;
mod local;
mod openai;
mod prompt;
mod sampling;

pub use error::{GenerateError, Result};
pub use extractive::Extractive;
pub use local::{LocalGenerator, SpeedSample, DEFAULT_GGUF};
pub use openai::{OpenAiConfig, OpenAiGenerator};
pub use prompt::{grounded_messages, render_passages, Passage, SYSTEM_PROMPT};
pub use sampling::Sampling;

use serde::{Deserialize, Serialize};
use std::ops::ControlFlow;
use std::time::Duration;

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions (and, for grounded answers, the passages).
    System,
    /// The person asking.
    User,
    /// The model's earlier turns.
    Assistant,
}

impl ChatRole {
    /// The role's name in chat templates and the OpenAI wire format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One turn of a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: ChatRole,
    /// What they wrote.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role`.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// What to write: the chat, the passages it was grounded on (for generators that read them directly,
/// such as [`Extractive`]) and how to sample.
#[derive(Debug, Clone, Default)]
pub struct GenRequest {
    /// The chat, system prompt first.
    pub messages: Vec<ChatMessage>,
    /// The numbered passages the system prompt holds (empty for an ungrounded chat).
    pub passages: Vec<Passage>,
    /// Sampling settings.
    pub sampling: Sampling,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn, or a stop string was reached.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The caller's token callback asked to stop (a client that went away).
    Canceled,
}

impl FinishReason {
    /// The OpenAI wire form (`stop`, `length`); a canceled stream reports `stop`.
    pub fn as_openai(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::Stop | Self::Canceled => "stop",
        }
    }
}

/// What a generation produced, with its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOutput {
    /// The whole text (what the token callback saw, concatenated).
    pub text: String,
    /// Tokens in the prompt (as the generator counts them; an estimate for [`Extractive`]).
    pub prompt_tokens: usize,
    /// Tokens written.
    pub completion_tokens: usize,
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// From the call to the first piece of text.
    pub time_to_first_token: Option<Duration>,
    /// From the call to the end.
    pub total_time: Duration,
}

impl GenOutput {
    /// Completion tokens per second after the first one arrived (decode speed), if there were two or more.
    pub fn tokens_per_second(&self) -> Option<f64> {
        let first = self.time_to_first_token?;
        let decoding = self.total_time.checked_sub(first)?.as_secs_f64();
        // Under a millisecond of decoding is text that was not decoded (extractive): no speed to report.
        (self.completion_tokens > 1 && decoding >= 0.001)
            .then(|| (self.completion_tokens - 1) as f64 / decoding)
    }
}

/// Receives each piece of text as it is written; `Break` stops generation (the client went away).
pub type OnToken<'a> = dyn FnMut(&str) -> ControlFlow<()> + 'a;

/// Writes chat completions. Implementations are shared across threads; each call is independent.
pub trait Generator: Send + Sync {
    /// The provider's name (`extractive`, `local`, `openai`), for logs, metrics and reports.
    fn provider(&self) -> &'static str;

    /// The model's id as users name it (the GGUF file's stem, the remote model name).
    fn model_id(&self) -> &str;

    /// Tokens `text` takes in this generator's tokenizer (an estimate where there is none), so the
    /// caller can fit passages into the context budget.
    fn count_tokens(&self, text: &str) -> usize;

    /// Writes the completion, passing each new piece of text to `on_token` as it is produced.
    fn generate(&self, request: &GenRequest, on_token: &mut OnToken<'_>) -> Result<GenOutput>;
}

/// A token estimate for text without a tokenizer at hand: about 4 characters a token in English
/// (BPE vocabularies of 32k–50k entries), and never less than the word count.
pub fn estimate_tokens(text: &str) -> usize {
    let words = text.split_whitespace().count();
    words.max(text.chars().count().div_ceil(4))
}
