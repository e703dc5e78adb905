//! Any OpenAI-compatible `/v1/chat/completions` endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, the
//! llama.cpp server, TGI, or another KB Nova): streamed over Server-Sent Events, with retries and
//! backoff on 429 and 5xx before the first token, and errors that say whether the endpoint is down or
//! refused the key.

use crate::error::{GenerateError, Result};
use crate::{FinishReason, GenOutput, GenRequest, Generator, OnToken};
use serde_json::{json, Value};
use std::io::BufRead;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// Where and how to call the endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Up to and including `/v1`, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// The model name the endpoint knows.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set (never logged).
    pub api_key: Option<String>,
    /// Connecting, and then waiting for each piece of the answer.
    pub timeout: Duration,
    /// Further attempts after a 429, a 5xx or a connection failure, with doubling backoff.
    pub retries: u32,
}

/// A client of one OpenAI-compatible endpoint.
pub struct OpenAiGenerator {
    config: OpenAiConfig,
    agent: ureq::Agent,
    url: String,
}

impl OpenAiGenerator {
    /// A client for `config`; nothing is sent until the first generation.
    pub fn new(config: OpenAiConfig) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(config.timeout)
            .timeout_read(config.timeout)
            .build();
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        Self { config, agent, url }
    }

    fn body(&self, request: &GenRequest) -> Value {
        let s = &request.sampling;
        let mut body = json!({
            "model": self.config.model,
            "messages": request.messages,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !s.stop.is_empty() {
            body["stop"] = json!(s.stop);
        }
        body
    }

    /// Sends the request, retrying what may pass on a second try.
    fn send(&self, body: &Value) -> Result<ureq::Response> {
        let mut delay = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            let mut call = self
                .agent
                .post(&self.url)
                .set("Content-Type", "application/json");
            if let Some(key) = &self.config.api_key {
                call = call.set("Authorization", &format!("Bearer {key}"));
            }
            let error = match call.send_string(&body.to_string()) {
                Ok(response) => return Ok(response),
                Err(ureq::Error::Status(status @ (401 | 403), _)) => {
                    return Err(GenerateError::Rejected {
                        url: self.url.clone(),
                        status,
                    })
                }
                Err(ureq::Error::Status(status, response)) => {
                    let retry = status == 429 || status >= 500;
                    let body = response.into_string().unwrap_or_default();
                    let error = GenerateError::Remote {
                        url: self.url.clone(),
                        status,
                        body: nova_core::excerpt(body.trim()),
                    };
                    if !retry {
                        return Err(error);
                    }
                    error
                }
                Err(ureq::Error::Transport(t)) => GenerateError::Unreachable {
                    url: self.url.clone(),
                    reason: t.to_string(),
                },
            };
            if attempt >= self.config.retries {
                return Err(error);
            }
            attempt += 1;
            tracing::warn!(attempt, url = %self.url, "generation endpoint failed, retrying: {error}");
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(8));
        }
    }

    fn protocol(&self, problem: impl Into<String>) -> GenerateError {
        GenerateError::Protocol {
            url: self.url.clone(),
            problem: problem.into(),
        }
    }
}

/// Usage and the end of the stream, as the chunks report them.
#[derive(Default)]
struct Tally {
    prompt_tokens: Option<usize>,
    completion_tokens: Option<usize>,
    finish: Option<FinishReason>,
}

impl Tally {
    fn read(&mut self, chunk: &Value) -> Option<String> {
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let n = |k: &str| usage.get(k).and_then(Value::as_u64).map(|v| v as usize);
            self.prompt_tokens = n("prompt_tokens").or(self.prompt_tokens);
            self.completion_tokens = n("completion_tokens").or(self.completion_tokens);
        }
        let choice = chunk.get("choices")?.get(0)?;
        match choice.get("finish_reason").and_then(Value::as_str) {
            Some("length") => self.finish = Some(FinishReason::Length),
            Some(_) => self.finish = Some(FinishReason::Stop),
            None => {}
        }
        // Streamed chunks carry `delta`, a whole answer `message`.
        let part = choice.get("delta").or_else(|| choice.get("message"))?;
        part.get("content")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

impl Generator for OpenAiGenerator {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn model_id(&self) -> &str {
        &self.config.model
    }

    fn count_tokens(&self, text: &str) -> usize {
        crate::estimate_tokens(text)
    }

    fn generate(&self, request: &GenRequest, on_token: &mut OnToken<'_>) -> Result<GenOutput> {
        let started = Instant::now();
        let response = self.send(&self.body(request))?;
        let is_stream = response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"));
        let mut tally = Tally::default();
        let mut text = String::new();
        let mut first = None;
        let mut canceled = false;
        let mut emit = |piece: String, text: &mut String| {
            if piece.is_empty() {
                return true;
            }
            first.get_or_insert_with(|| started.elapsed());
            text.push_str(&piece);
            on_token(&piece) == ControlFlow::Continue(())
        };
        if is_stream {
            let reader = std::io::BufReader::new(response.into_reader());
            for line in reader.lines() {
                let line = line.map_err(|e| GenerateError::Unreachable {
                    url: self.url.clone(),
                    reason: format!("the stream broke off: {e}"),
                })?;
                let Some(data) = line.strip_prefix("data:").map(str::trim) else {
                    continue;
                };
                if data == "[DONE]" {
                    break;
                }
                let chunk: Value = serde_json::from_str(data)
                    .map_err(|e| self.protocol(format!("an event is not JSON: {e}")))?;
                if let Some(error) = chunk.get("error") {
                    return Err(self.protocol(format!("error event: {error}")));
                }
                if let Some(piece) = tally.read(&chunk) {
                    if !emit(piece, &mut text) {
                        canceled = true;
                        break;
                    }
                }
            }
        } else {
            // Some servers ignore `stream` and answer one completion.
            let raw = response
                .into_string()
                .map_err(|e| GenerateError::Unreachable {
                    url: self.url.clone(),
                    reason: format!("the answer broke off: {e}"),
                })?;
            let whole: Value = serde_json::from_str(&raw)
                .map_err(|e| self.protocol(format!("the answer is not JSON: {e}")))?;
            let piece = tally
                .read(&whole)
                .ok_or_else(|| self.protocol("no choices[0].message.content"))?;
            canceled = !emit(piece, &mut text);
        }
        let finish = if canceled {
            FinishReason::Canceled
        } else {
            tally.finish.unwrap_or(FinishReason::Stop)
        };
        Ok(GenOutput {
            prompt_tokens: tally.prompt_tokens.unwrap_or_else(|| {
                request
                    .messages
                    .iter()
                    .map(|m| crate::estimate_tokens(&m.content))
                    .sum()
            }),
            completion_tokens: tally
                .completion_tokens
                .unwrap_or_else(|| crate::estimate_tokens(&text)),
            text,
            finish_reason: finish,
            time_to_first_token: first,
            total_time: started.elapsed(),
        })
    }
}
