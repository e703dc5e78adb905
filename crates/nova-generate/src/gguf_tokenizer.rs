//! The tokenizer of a GGUF chat model, built from the file's own `tokenizer.ggml.*` metadata — tokens,
//! merges, token types and special ids — so a model needs no separate `tokenizer.json`.
//!
//! Byte-level BPE vocabularies (`tokenizer.ggml.model = "gpt2"`: SmolLM, Llama 3, Qwen 2, Mistral
//! Nemo…) are supported; the pre-tokenizer follows `tokenizer.ggml.pre` as llama.cpp does. SentencePiece
//! vocabularies (`"llama"`: Llama 2, TinyLlama) carry scores instead of merges and are refused with a
//! clear message.

use crate::error::{GenerateError, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use std::path::Path;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

/// GGUF token types (llama.cpp's `llama_token_type`) that are not text: control tokens such as
/// `<|im_start|>`, and user-defined ones.
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;

/// Llama 3's split pattern (`tokenizer.ggml.pre = "llama-bpe"`): numbers in groups of up to 3.
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen 2's (`"qwen2"`): numbers one digit at a time.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A GGUF model's tokenizer with the ids generation needs.
pub(crate) struct GgufTokenizer {
    pub(crate) tokenizer: Tokenizer,
    /// Prepended to every prompt when the model asks for it (`tokenizer.ggml.add_bos_token`).
    pub(crate) bos: Option<u32>,
    /// Ids that end the assistant's turn: the EOS id and the chat end-of-turn tokens present.
    pub(crate) end_of_turn: Vec<u32>,
    /// The text of every control token, to keep them out of user-supplied text (a passage that
    /// contains `<|im_start|>system` must not open a new system turn).
    pub(crate) control_texts: Vec<String>,
    /// `tokenizer.ggml.bos_token_id`/`eos_token_id` as text, for chat templates that print them.
    pub(crate) bos_text: String,
    pub(crate) eos_text: String,
}

fn invalid(path: &Path, problem: impl Into<String>) -> GenerateError {
    GenerateError::ModelInvalid {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn strings<'a>(content: &'a Content, key: &str, path: &Path) -> Result<Vec<&'a str>> {
    let values = content
        .metadata
        .get(key)
        .ok_or_else(|| invalid(path, format!("no `{key}` in the GGUF metadata")))?
        .to_vec()
        .map_err(|e| invalid(path, format!("`{key}`: {e}")))?;
    values
        .iter()
        .map(|v| {
            v.to_string()
                .map(String::as_str)
                .map_err(|e| invalid(path, format!("`{key}`: {e}")))
        })
        .collect()
}

fn metadata_u32(content: &Content, key: &str) -> Option<u32> {
    content.metadata.get(key).and_then(|v| v.to_u32().ok())
}

fn token_types(content: &Content) -> Vec<i32> {
    let Some(Ok(values)) = content
        .metadata
        .get("tokenizer.ggml.token_type")
        .map(Value::to_vec)
    else {
        return Vec::new();
    };
    values
        .iter()
        .map(|v| {
            v.to_i32()
                .or_else(|_| v.to_u32().map(|u| u as i32))
                .unwrap_or(1)
        })
        .collect()
}

fn pre_tokenizer(pre: &str) -> Result<PreTokenizerWrapper, String> {
    let split = |pattern: &str| {
        Split::new(
            SplitPattern::Regex(pattern.to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map(PreTokenizerWrapper::Split)
        .map_err(|e| e.to_string())
    };
    let bytes_only = PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, false));
    Ok(match pre {
        // SmolLM: digits one at a time, then GPT-2's split.
        "smollm" => PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Digits(Digits::new(true)),
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, true)),
        ])),
        "llama-bpe" | "llama3" | "dbrx" | "smaug-bpe" => {
            PreTokenizerWrapper::Sequence(Sequence::new(vec![split(LLAMA3_SPLIT)?, bytes_only]))
        }
        "qwen2" | "deepseek-r1-qwen" => {
            PreTokenizerWrapper::Sequence(Sequence::new(vec![split(QWEN2_SPLIT)?, bytes_only]))
        }
        // GPT-2's own split, which is what "default" means in llama.cpp.
        _ => PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, true)),
    })
}

impl GgufTokenizer {
    /// Builds the tokenizer described by `content`'s metadata (`path` names the file in errors).
    pub(crate) fn from_gguf(content: &Content, path: &Path) -> Result<Self> {
        let model = content
            .metadata
            .get("tokenizer.ggml.model")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
            .unwrap_or("");
        if model != "gpt2" {
            return Err(invalid(
                path,
                format!("tokenizer.ggml.model is `{model}`; only byte-level BPE (`gpt2`) vocabularies are supported (SmolLM, Llama 3, Qwen 2, Mistral Nemo and most recent models use it)"),
            ));
        }
        let tokens = strings(content, "tokenizer.ggml.tokens", path)?;
        let merges = strings(content, "tokenizer.ggml.merges", path)?;
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(id, t)| ((*t).to_owned(), id as u32))
            .collect();
        let merges: Vec<(String, String)> = merges
            .iter()
            .filter_map(|m| m.split_once(' '))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| invalid(path, format!("BPE vocabulary: {e}")))?;
        let mut tokenizer = Tokenizer::new(bpe);
        let pre = content
            .metadata
            .get("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
            .unwrap_or("default");
        tokenizer.with_pre_tokenizer(Some(pre_tokenizer(pre).map_err(|e| invalid(path, e))?));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

        let types = token_types(content);
        let control: Vec<(u32, &str)> = tokens
            .iter()
            .enumerate()
            .filter(|(id, _)| matches!(types.get(*id), Some(&CONTROL) | Some(&USER_DEFINED)))
            .map(|(id, t)| (id as u32, *t))
            .collect();
        let added: Vec<AddedToken> = control
            .iter()
            .map(|(_, t)| AddedToken::from((*t).to_owned(), true))
            .collect();
        tokenizer
            .add_special_tokens(added)
            .map_err(|e| invalid(path, format!("control tokens: {e}")))?;

        let text_of = |id: Option<u32>| {
            id.and_then(|i| tokens.get(i as usize))
                .map(|t| (*t).to_owned())
                .unwrap_or_default()
        };
        let bos_id = metadata_u32(content, "tokenizer.ggml.bos_token_id");
        let eos_id = metadata_u32(content, "tokenizer.ggml.eos_token_id");
        let add_bos = content
            .metadata
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.to_bool().ok())
            .unwrap_or(false);
        // Chat models end a turn with their own marker, which is not always the EOS id.
        let mut end_of_turn: Vec<u32> = eos_id.into_iter().collect();
        for marker in [
            "<|im_end|>",
            "<|eot_id|>",
            "<|end|>",
            "<end_of_turn>",
            "<|endoftext|>",
        ] {
            if let Some(id) = tokenizer.token_to_id(marker) {
                if !end_of_turn.contains(&id) {
                    end_of_turn.push(id);
                }
            }
        }
        Ok(Self {
            bos: add_bos.then_some(bos_id).flatten(),
            end_of_turn,
            control_texts: control
                .iter()
                .map(|(_, t)| (*t).to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
            bos_text: text_of(bos_id),
            eos_text: text_of(eos_id),
            tokenizer,
        })
    }

    /// The prompt's ids (control tokens in `text` are recognised: it is the rendered chat template).
    pub(crate) fn encode_prompt(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| GenerateError::Tokenizer(e.to_string()))?;
        let mut ids = Vec::with_capacity(encoding.len() + 1);
        ids.extend(self.bos);
        ids.extend_from_slice(encoding.get_ids());
        Ok(ids)
    }

    /// The text of `ids`, control tokens left out.
    pub(crate) fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| GenerateError::Tokenizer(e.to_string()))
    }

    /// `text` with every control token's text removed, so user input cannot forge chat structure.
    pub(crate) fn defuse(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for control in &self.control_texts {
            if out.contains(control.as_str()) {
                out = out.replace(control.as_str(), "");
            }
        }
        out
    }
}
