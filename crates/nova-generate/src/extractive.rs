//! The answer without a model: from each of the best passages, the sentences that share the most words
//! with the question, each followed by its passage's `[n]`. Always available, instant, and never says
//! anything the knowledge base does not.

use crate::{FinishReason, GenOutput, GenRequest, Generator, OnToken};
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::time::Instant;

/// Passages quoted at most.
const PASSAGES: usize = 3;
/// Sentences quoted from each passage at most.
const SENTENCES: usize = 2;

/// The extractive generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extractive;

fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .map(str::to_lowercase)
        .collect()
}

/// Sentences of `text`: split after `.`, `!`, `?` followed by a space, and at line breaks (steps and
/// list items are sentences too).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let bytes = line.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1) == Some(&b' ') {
                out.push(&line[start..=i]);
                start = i + 1;
            }
        }
        out.push(&line[start..]);
    }
    out.into_iter()
        .map(|s| s.trim().trim_start_matches(['-', '*', '#', ' ']).trim())
        .filter(|s| s.split_whitespace().count() >= 3)
        .collect()
}

impl Generator for Extractive {
    fn provider(&self) -> &'static str {
        "extractive"
    }

    fn model_id(&self) -> &str {
        "extractive"
    }

    fn count_tokens(&self, text: &str) -> usize {
        crate::estimate_tokens(text)
    }

    fn generate(
        &self,
        request: &GenRequest,
        on_token: &mut OnToken<'_>,
    ) -> crate::Result<GenOutput> {
        let started = Instant::now();
        let question = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == crate::ChatRole::User)
            .map(|m| m.content.rsplit("Question:").next().unwrap_or(&m.content))
            .unwrap_or("");
        let asked = words(question);
        let mut text = String::new();
        let mut first = None;
        let mut finish = FinishReason::Stop;
        for passage in request.passages.iter().take(PASSAGES) {
            let mut ranked: Vec<(usize, usize, &str)> = sentences(&passage.text)
                .into_iter()
                .enumerate()
                .map(|(i, s)| (words(s).intersection(&asked).count(), i, s))
                .collect();
            // Most shared words first; ties keep the passage's order (its opening explains it).
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            ranked.truncate(SENTENCES);
            ranked.sort_by_key(|r| r.1);
            if ranked.is_empty() {
                continue;
            }
            let quoted: Vec<&str> = ranked.iter().map(|r| r.2).collect();
            let line = format!("- {} [{}]\n", quoted.join(" "), passage.n);
            first.get_or_insert_with(|| started.elapsed());
            text.push_str(&line);
            if on_token(&line) == ControlFlow::Break(()) {
                finish = FinishReason::Canceled;
                break;
            }
        }
        let prompt_tokens = request
            .messages
            .iter()
            .map(|m| crate::estimate_tokens(&m.content))
            .sum();
        Ok(GenOutput {
            completion_tokens: crate::estimate_tokens(&text),
            text,
            prompt_tokens,
            finish_reason: finish,
            time_to_first_token: first,
            total_time: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{grounded_messages, Passage, Sampling};

    #[test]
    fn quotes_the_sentences_nearest_the_question_with_their_numbers() {
        let passages = vec![
            Passage {
                n: 1,
                title: "VPN".into(),
                source: "vpn.md".into(),
                text: "The VPN client logs to /var/log/vpn. If the tunnel drops, restart the VPN agent with systemctl. Unrelated closing remark here.".into(),
            },
            Passage {
                n: 2,
                title: "Wi-Fi".into(),
                source: "wifi.md".into(),
                text: "Forget the network and join it again.".into(),
            },
        ];
        let request = GenRequest {
            messages: grounded_messages("my vpn tunnel drops", &passages, &[]),
            passages,
            sampling: Sampling::default(),
        };
        let mut streamed = String::new();
        let out = Extractive
            .generate(&request, &mut |t: &str| {
                streamed.push_str(t);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(out.text, streamed);
        assert!(out.text.starts_with("- The VPN client logs to /var/log/vpn. If the tunnel drops, restart the VPN agent with systemctl. [1]\n"), "{}", out.text);
        assert!(out.text.contains("[2]"));
    }
}
