//! The grounded prompt: instructions that require answering from the numbered passages and citing them
//! as `[n]`, the passages with their titles and sources, then the question.

use crate::{ChatMessage, ChatRole};
use serde::{Deserialize, Serialize};

/// One numbered piece of context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// Its number in the prompt (1-based); the answer cites it as `[n]`.
    pub n: usize,
    /// The document's title.
    pub title: String,
    /// Where it came from (file, URL, ticket), shown to the model as a hint of its kind.
    pub source: String,
    /// The text.
    pub text: String,
}

/// The instructions. Short on purpose: small models follow a few plain rules better than many.
pub const SYSTEM_PROMPT: &str = "You are a support assistant. Answer the question using only the numbered passages. \
After each sentence, cite the passage it comes from by its number in square brackets, like [1]. \
If the passages do not answer the question, say that the knowledge base does not cover it. Be brief.";

/// The passages as the model reads them.
pub fn render_passages(passages: &[Passage]) -> String {
    passages
        .iter()
        .map(|p| {
            let title = if p.title.trim().is_empty() {
                p.source.as_str()
            } else {
                p.title.as_str()
            };
            format!("[{}] {}\n{}", p.n, title.trim(), p.text.trim())
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The chat for a grounded answer: instructions, any earlier turns, then the passages and the question.
pub fn grounded_messages(
    question: &str,
    passages: &[Passage],
    history: &[ChatMessage],
) -> Vec<ChatMessage> {
    let mut messages = Vec::with_capacity(history.len() + 2);
    messages.push(ChatMessage::new(ChatRole::System, SYSTEM_PROMPT));
    messages.extend(history.iter().cloned());
    messages.push(ChatMessage::new(
        ChatRole::User,
        format!(
            "Passages:\n\n{}\n\nQuestion: {}",
            render_passages(passages),
            question.trim()
        ),
    ));
    messages
}
