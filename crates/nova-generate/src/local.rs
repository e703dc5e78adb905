//! A GGUF chat model run in-process: the file's tokenizer and chat template, the Llama decoder in
//! [`crate::llama`], the [`crate::sampling`] rules, and text streamed as it decodes — held back only
//! while it might be the start of a stop string or of an unfinished UTF-8 character.

use crate::chat_template::ChatTemplate;
use crate::error::{GenerateError, Result};
use crate::gguf_tokenizer::GgufTokenizer;
use crate::llama::{Hyper, Session, Weights};
use crate::sampling::Sampler;
use crate::{ChatMessage, FinishReason, GenOutput, GenRequest, Generator, OnToken};
use candle_core::quantized::gguf_file;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where `scripts/fetch-models.sh` installs the demo chat model, relative to the project root.
pub const DEFAULT_GGUF: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// A local GGUF chat model.
pub struct LocalGenerator {
    id: String,
    weights: Weights,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
}

impl LocalGenerator {
    /// Loads the model at `path` (a Llama-family GGUF with a byte-level BPE vocabulary).
    pub fn load(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(GenerateError::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        let invalid = |problem: String| GenerateError::ModelInvalid {
            path: path.to_path_buf(),
            problem,
        };
        let started = Instant::now();
        let mut file =
            std::io::BufReader::new(fs_err::File::open(path).map_err(|e| invalid(e.to_string()))?);
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| invalid(format!("not a readable GGUF file: {e}")))?;
        let hyper = Hyper::from_gguf(&content).map_err(invalid)?;
        let tokenizer = GgufTokenizer::from_gguf(&content, path)?;
        let template = content
            .metadata
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str);
        let template = ChatTemplate::new(template)?;
        let weights = Weights::load(&content, &mut file, hyper)
            .map_err(|e| invalid(format!("tensors: {e}")))?;
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "local".into());
        tracing::info!(
            model = %id,
            layers = weights.hyper.layers,
            context = weights.hyper.context,
            ms = started.elapsed().as_millis() as u64,
            "chat model loaded"
        );
        Ok(Self {
            id,
            weights,
            tokenizer,
            template,
        })
    }

    /// The path this generator would load by default under `root` (the project or install folder).
    pub fn default_path(root: &Path) -> PathBuf {
        root.join(DEFAULT_GGUF)
    }

    /// The prompt's token ids for `messages`, control tokens in their text removed first.
    fn prompt_ids(&self, messages: &[ChatMessage]) -> Result<Vec<u32>> {
        let safe: Vec<ChatMessage> = messages
            .iter()
            .map(|m| ChatMessage::new(m.role, self.tokenizer.defuse(&m.content)))
            .collect();
        let prompt =
            self.template
                .render(&safe, &self.tokenizer.bos_text, &self.tokenizer.eos_text)?;
        self.tokenizer.encode_prompt(&prompt)
    }
}

/// One timed run of [`LocalGenerator::measure`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpeedSample {
    /// Tokens in the rendered prompt.
    pub prompt_tokens: usize,
    /// Reading the prompt and choosing the first token, milliseconds.
    pub ttft_ms: f64,
    /// Tokens per second after the first.
    pub tokens_per_second: f64,
    /// The greedy continuation, to check that two engines read the file the same way.
    pub text: String,
}

impl LocalGenerator {
    /// Times the prompt of `messages` and exactly `tokens` greedy tokens, end of turn ignored — the
    /// figure llama.cpp's benchmarks report, so the two can be compared on the same file and prompt.
    pub fn measure(&self, messages: &[ChatMessage], tokens: usize) -> Result<SpeedSample> {
        let prompt = self.prompt_ids(messages)?;
        let greedy = crate::Sampling {
            temperature: 0.0,
            repeat_penalty: 1.0,
            ..crate::Sampling::default()
        };
        let mut sampler = Sampler::new(&greedy);
        let started = Instant::now();
        let mut session = Session::new(&self.weights);
        let mut logits = session.forward(&prompt).map_err(GenerateError::Model)?;
        let mut token = sampler.next(&mut logits, &prompt);
        let first = started.elapsed();
        let mut generated = vec![token];
        for _ in 1..tokens.max(1) {
            logits = session.forward(&[token]).map_err(GenerateError::Model)?;
            token = sampler.next(&mut logits, &prompt);
            generated.push(token);
        }
        let decode = (started.elapsed() - first).as_secs_f64();
        Ok(SpeedSample {
            prompt_tokens: prompt.len(),
            ttft_ms: first.as_secs_f64() * 1000.0,
            tokens_per_second: (tokens.max(1) - 1) as f64 / decode.max(f64::EPSILON),
            text: self.tokenizer.decode(&generated)?,
        })
    }
}

/// What of `text` may be shown now: everything except a tail that could still become a stop string
/// or is an unfinished character (decoded as U+FFFD).
fn shown_len(text: &str, stop: &[String]) -> usize {
    let mut end = text.len();
    if text.ends_with('\u{FFFD}') {
        end = text.trim_end_matches('\u{FFFD}').len();
    }
    for s in stop {
        // The longest suffix of text[..end] that is a proper prefix of s.
        for k in (1..s.len().min(end + 1)).rev() {
            if s.is_char_boundary(k)
                && text.is_char_boundary(end - k)
                && text[..end].ends_with(&s[..k])
            {
                end -= k;
                break;
            }
        }
    }
    end
}

impl Generator for LocalGenerator {
    fn provider(&self) -> &'static str {
        "local"
    }

    fn model_id(&self) -> &str {
        &self.id
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer
            .tokenizer
            .encode(text, false)
            .map_or_else(|_| crate::estimate_tokens(text), |e| e.len())
    }

    fn generate(&self, request: &GenRequest, on_token: &mut OnToken<'_>) -> Result<GenOutput> {
        let started = Instant::now();
        let sampling = &request.sampling;
        let prompt = self.prompt_ids(&request.messages)?;
        let context = self.weights.hyper.context;
        if prompt.len() + 1 > context {
            return Err(GenerateError::PromptTooLong {
                tokens: prompt.len(),
                context,
            });
        }
        let budget = sampling.max_tokens.min(context - prompt.len());
        let mut session = Session::new(&self.weights);
        let mut sampler = Sampler::new(sampling);
        let mut history = prompt.clone();
        let mut logits = session.forward(&prompt).map_err(GenerateError::Model)?;
        let mut generated: Vec<u32> = Vec::new();
        let mut text = String::new();
        let mut shown = 0;
        let mut first = None;
        let mut finish = FinishReason::Length;
        while generated.len() < budget {
            let token = sampler.next(&mut logits, &history);
            if self.tokenizer.end_of_turn.contains(&token) {
                finish = FinishReason::Stop;
                break;
            }
            generated.push(token);
            history.push(token);
            text = self.tokenizer.decode(&generated)?;
            if let Some(at) = sampling
                .stop
                .iter()
                .filter_map(|s| text.find(s.as_str()))
                .min()
            {
                text.truncate(at);
                finish = FinishReason::Stop;
                break;
            }
            let upto = shown_len(&text, &sampling.stop);
            if upto > shown {
                first.get_or_insert_with(|| started.elapsed());
                if on_token(&text[shown..upto]) == ControlFlow::Break(()) {
                    shown = upto;
                    finish = FinishReason::Canceled;
                    text.truncate(shown);
                    break;
                }
                shown = upto;
            }
            if generated.len() == budget {
                break;
            }
            logits = session.forward(&[token]).map_err(GenerateError::Model)?;
        }
        // What was held back (a partial stop string that never completed) belongs to the answer.
        let text = text.trim_end_matches('\u{FFFD}').to_owned();
        if let Some(rest) = text.get(shown..).filter(|r| !r.is_empty()) {
            if finish != FinishReason::Canceled {
                first.get_or_insert_with(|| started.elapsed());
                let _ = on_token(rest);
            }
        }
        Ok(GenOutput {
            text,
            prompt_tokens: prompt.len(),
            completion_tokens: generated.len(),
            finish_reason: finish,
            time_to_first_token: first,
            total_time: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::shown_len;

    #[test]
    fn holds_back_what_may_become_a_stop_string_or_a_character() {
        let stop = vec!["\nQuestion:".to_owned()];
        assert_eq!(shown_len("Restart it.\nQue", &stop), "Restart it.".len());
        assert_eq!(shown_len("Restart it.", &stop), "Restart it.".len());
        assert_eq!(shown_len("caf\u{FFFD}", &[]), 3);
    }
}
