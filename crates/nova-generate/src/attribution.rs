//! Citations added where the model wrote none: a finished sentence whose content words come mostly
//! from one given passage gets that passage's `[n]` after it. Small models copy from their context far
//! more often than they cite it, so without this most of their answers would name no source even when
//! every sentence came from one. Works on the stream, sentence by sentence, holding nothing back; the
//! caller reports which citations were added this way.

use crate::Passage;
use std::collections::HashSet;

/// Share of a sentence's content words that must occur in a passage for it to be cited.
pub const MIN_SUPPORT: f64 = 0.6;

/// Sentences with fewer content words than this ("See below.") are left alone.
const MIN_WORDS: usize = 4;

/// Words too common to say where a sentence came from.
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "your", "all", "any", "can", "has", "have",
    "had", "was", "were", "will", "with", "this", "that", "these", "those", "from", "into", "then",
    "than", "there", "their", "they", "them", "which", "what", "when", "where", "who", "how",
    "its", "also", "may", "might", "should", "would", "could", "does", "did", "done", "just",
    "only", "some", "such", "more", "most", "other", "out", "use", "using", "used", "our", "about",
    "make", "sure", "need", "check", "try", "get", "set", "one", "two", "able", "been", "being",
    "here", "very", "each",
];

fn content_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
}

/// Streaming attribution over passages numbered 1..=n.
#[derive(Debug, Clone)]
pub struct Attributor {
    vocab: Vec<HashSet<String>>,
    sentence: String,
    line: String,
    in_code: bool,
    previous: char,
    /// Passage numbers added, in order, one entry per added marker.
    pub added: Vec<usize>,
}

impl Attributor {
    /// An attributor for `passages` (numbered in order from 1).
    pub fn new(passages: &[Passage]) -> Self {
        Self {
            vocab: passages
                .iter()
                .map(|p| content_words(&format!("{} {}", p.title, p.text)).collect())
                .collect(),
            sentence: String::new(),
            line: String::new(),
            in_code: false,
            previous: '\n',
            added: Vec::new(),
        }
    }

    /// The passage a finished sentence comes from, if it names none itself and one supports it.
    fn source_of(&self, sentence: &str) -> Option<usize> {
        if self.in_code
            || !crate::citations::check(sentence, usize::MAX)
                .cited
                .is_empty()
        {
            return None;
        }
        let words: HashSet<String> = content_words(sentence).collect();
        if words.len() < MIN_WORDS {
            return None;
        }
        let mut best: Option<(usize, f64)> = None;
        for (i, vocab) in self.vocab.iter().enumerate() {
            let support =
                words.iter().filter(|w| vocab.contains(*w)).count() as f64 / words.len() as f64;
            // Ties go to the earlier passage: it ranked higher.
            if support >= MIN_SUPPORT && best.is_none_or(|(_, s)| support > s) {
                best = Some((i + 1, support));
            }
        }
        best.map(|(n, _)| n)
    }

    /// Ends the current sentence: its marker (with a leading space), or nothing.
    fn close(&mut self) -> String {
        let sentence = std::mem::take(&mut self.sentence);
        match self.source_of(&sentence) {
            Some(n) => {
                self.added.push(n);
                format!(" [{n}]")
            }
            None => String::new(),
        }
    }

    /// The text to show for `piece`: the piece, with markers after the sentences it finishes.
    pub fn push(&mut self, piece: &str) -> String {
        let mut out = String::with_capacity(piece.len());
        for c in piece.chars() {
            let ends = c == '\n' || (c.is_whitespace() && matches!(self.previous, '.' | '!' | '?'));
            if ends {
                out.push_str(&self.close());
            }
            if c == '\n' {
                if self.line.trim_start().starts_with("```") {
                    self.in_code = !self.in_code;
                }
                self.line.clear();
            } else {
                self.line.push(c);
            }
            if !ends {
                self.sentence.push(c);
            }
            out.push(c);
            self.previous = c;
        }
        out
    }

    /// The last sentence's marker, at the end of the stream.
    pub fn finish(&mut self) -> String {
        self.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passages() -> Vec<Passage> {
        let p = |n, title: &str, text: &str| Passage {
            n,
            title: title.into(),
            source: format!("{n}.md"),
            text: text.into(),
        };
        vec![
            p(
                1,
                "VPN drops",
                "Disable IPv6 on the tunnel adapter and renew the client certificate.",
            ),
            p(
                2,
                "Disk full",
                "Delete old journal files with journalctl --vacuum-size and rotate logs.",
            ),
        ]
    }

    #[test]
    fn cites_copied_sentences_and_leaves_cited_short_and_unsupported_ones() {
        let mut a = Attributor::new(&passages());
        let text = "Disable IPv6 on the tunnel adapter. Rotate logs [2]. Done.\nPaint the office walls green today.\nDelete old journal files with journalctl";
        let mut out = a.push(text);
        out += &a.finish();
        assert_eq!(
            out,
            "Disable IPv6 on the tunnel adapter. [1] Rotate logs [2]. Done.\nPaint the office walls green today.\nDelete old journal files with journalctl [2]"
        );
        assert_eq!(a.added, vec![1, 2]);
    }

    #[test]
    fn streaming_gives_the_same_text_whatever_the_split_and_skips_code() {
        let text = "Renew the client certificate, then disable IPv6 on the adapter.\n```\ndisable ipv6 tunnel adapter certificate\n```\nok";
        let whole = {
            let mut a = Attributor::new(&passages());
            a.push(text) + &a.finish()
        };
        assert_eq!(whole.matches("[1]").count(), 1, "{whole}");
        for cut in 0..text.len() {
            if !text.is_char_boundary(cut) {
                continue;
            }
            let mut a = Attributor::new(&passages());
            let out = a.push(&text[..cut]) + &a.push(&text[cut..]) + &a.finish();
            assert_eq!(out, whole, "cut at {cut}");
        }
    }
}
