//! Citations in an answer: `[n]`, `[n, m]` or `[n][m]` markers naming the numbered passages. Markers that
//! name a passage that was not given are removed and counted — the answer never points at something
//! it did not read. [`CitationFilter`] does the same on a stream, holding back only an open marker.

/// What checking an answer found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// The answer with invalid numbers removed (a marker left with none is removed whole).
    pub text: String,
    /// Valid passage numbers cited, each once, in order of first mention.
    pub cited: Vec<usize>,
    /// How many citation numbers named no given passage.
    pub dropped: usize,
}

/// The longest marker held back while streaming: `[` then up to this many digits, commas and spaces.
const MAX_MARKER: usize = 24;

/// A marker's numbers if `inner` (between the brackets) is only digits, commas and spaces.
fn numbers(inner: &str) -> Option<Vec<usize>> {
    if inner.trim().is_empty()
        || !inner
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == ' ')
    {
        return None;
    }
    inner
        .split(',')
        .map(|n| n.trim().parse::<usize>().ok())
        .collect()
}

/// Checks the markers of `text` against passages numbered `1..=passages`.
pub fn check(text: &str, passages: usize) -> Checked {
    let mut filter = CitationFilter::new(passages);
    let mut out = filter.push(text);
    out.push_str(&filter.finish());
    Checked {
        text: out,
        cited: filter.cited,
        dropped: filter.dropped,
    }
}

/// Streaming [`check`]: feed pieces as they arrive and show what comes back.
#[derive(Debug, Clone)]
pub struct CitationFilter {
    passages: usize,
    pending: String,
    /// Valid numbers cited so far, in order of first mention.
    pub cited: Vec<usize>,
    /// Invalid numbers removed so far.
    pub dropped: usize,
}

impl CitationFilter {
    /// A filter for passages numbered `1..=passages`.
    pub fn new(passages: usize) -> Self {
        Self {
            passages,
            pending: String::new(),
            cited: Vec::new(),
            dropped: 0,
        }
    }

    fn marker(&mut self, inner: &str) -> String {
        let Some(ns) = numbers(inner) else {
            return format!("[{inner}]");
        };
        let mut kept = Vec::new();
        for n in ns {
            if (1..=self.passages).contains(&n) {
                if !self.cited.contains(&n) {
                    self.cited.push(n);
                }
                kept.push(n.to_string());
            } else {
                self.dropped += 1;
            }
        }
        if kept.is_empty() {
            String::new()
        } else {
            format!("[{}]", kept.join(", "))
        }
    }

    /// The text that can be shown after `piece` arrived.
    pub fn push(&mut self, piece: &str) -> String {
        let mut out = String::new();
        for c in piece.chars() {
            if self.pending.is_empty() {
                if c == '[' {
                    self.pending.push(c);
                } else {
                    out.push(c);
                }
                continue;
            }
            match c {
                ']' => {
                    let inner = self.pending[1..].to_owned();
                    self.pending.clear();
                    out.push_str(&self.marker(&inner));
                }
                '[' => {
                    // The open bracket was text; this one may start a marker.
                    out.push_str(&self.pending);
                    self.pending = "[".into();
                }
                c if (c.is_ascii_digit() || c == ',' || c == ' ')
                    && self.pending.len() < MAX_MARKER =>
                {
                    self.pending.push(c)
                }
                c => {
                    out.push_str(&self.pending);
                    self.pending.clear();
                    out.push(c);
                }
            }
        }
        out
    }

    /// What is still held back, at the end of the stream (an unclosed bracket is text).
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_markers_and_counts_the_rest() {
        let c = check(
            "Restart the agent [1]. Clear the cache [2, 7][9]. See [x] and [3",
            2,
        );
        assert_eq!(
            c.text,
            "Restart the agent [1]. Clear the cache [2]. See [x] and [3"
        );
        assert_eq!((c.cited, c.dropped), (vec![1, 2], 2));
    }

    #[test]
    fn streaming_gives_the_same_text_whatever_the_split() {
        let text = "Use the [1] VPN [4] client [2,1] and [[2]] ok";
        let whole = check(text, 2);
        for cut in 0..text.len() {
            let mut f = CitationFilter::new(2);
            let mut out = f.push(&text[..cut]);
            out += &f.push(&text[cut..]);
            out += &f.finish();
            assert_eq!(out, whole.text, "cut at {cut}");
            assert_eq!(
                (f.cited.clone(), f.dropped),
                (whole.cited.clone(), whole.dropped)
            );
        }
    }
}
