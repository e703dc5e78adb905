//! Heading-aware chunking: paragraphs are packed into chunks of about `target_words` words without
//! crossing a heading; a paragraph longer than a chunk is split by words with `overlap_words` of overlap.
//! Each chunk carries its heading path ("Install › Docker › Upgrading") and is prefixed with it when
//! embedded, since a passage's section name is often the best clue to what it is about.

use crate::document::Document;

/// Chunk sizes in words (~1.3 wordpieces per English word, so 150 words ≈ 200 tokens).
#[derive(Debug, Clone, Copy)]
pub struct ChunkOptions {
    /// Words per chunk, aimed at.
    pub target_words: usize,
    /// Words repeated between consecutive pieces of a split paragraph.
    pub overlap_words: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            target_words: 150,
            overlap_words: 30,
        }
    }
}

/// A passage of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub index: usize,
    /// Headings above the passage, outermost first.
    pub headings: Vec<String>,
    /// The passage text.
    pub text: String,
}

/// Cuts `doc` into chunks; a document with no text gives no chunks.
pub fn chunk(doc: &Document, opts: ChunkOptions) -> Vec<Chunk> {
    let target = opts.target_words.max(8);
    let overlap = opts.overlap_words.min(target / 2);
    let mut chunks = Vec::new();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut current_words = 0;
    let flush = |chunks: &mut Vec<Chunk>,
                 current: &mut Vec<&str>,
                 words: &mut usize,
                 headings: &[(usize, String)]| {
        if !current.is_empty() {
            chunks.push(Chunk {
                index: chunks.len(),
                headings: headings.iter().map(|(_, h)| h.clone()).collect(),
                text: current.join("\n\n"),
            });
            current.clear();
            *words = 0;
        }
    };
    for block in doc
        .text
        .split("\n\n")
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        if let Some((level, title)) = heading(block) {
            flush(&mut chunks, &mut current, &mut current_words, &headings);
            headings.retain(|(l, _)| *l < level);
            headings.push((level, title.to_owned()));
            continue;
        }
        let words = block.split_whitespace().count();
        if current_words + words > target && !current.is_empty() {
            flush(&mut chunks, &mut current, &mut current_words, &headings);
        }
        if words > target {
            let all: Vec<&str> = block.split_whitespace().collect();
            let mut start = 0;
            while start < all.len() {
                let end = (start + target).min(all.len());
                let piece = all[start..end].join(" ");
                chunks.push(Chunk {
                    index: chunks.len(),
                    headings: headings.iter().map(|(_, h)| h.clone()).collect(),
                    text: piece,
                });
                if end == all.len() {
                    break;
                }
                start = end - overlap;
            }
            continue;
        }
        current.push(block);
        current_words += words;
    }
    flush(&mut chunks, &mut current, &mut current_words, &headings);
    chunks
}

/// `# Title` → (1, "Title"); only single-line blocks count as headings.
fn heading(block: &str) -> Option<(usize, &str)> {
    if block.contains('\n') {
        return None;
    }
    let level = block.bytes().take_while(|&b| b == b'#').count();
    let rest = block.get(level..)?;
    (1..=6).contains(&level).then_some(())?;
    rest.starts_with(' ').then(|| (level, rest.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document::new("d", "T", "s", text)
    }

    #[test]
    fn chunks_never_cross_headings_and_carry_their_path() {
        let chunks = chunk(
            &doc("# Install\n\nstep one\n\n## Docker\n\nrun it\n\n# Use\n\nsearch"),
            ChunkOptions::default(),
        );
        let got: Vec<(Vec<String>, String)> =
            chunks.into_iter().map(|c| (c.headings, c.text)).collect();
        assert_eq!(
            got,
            vec![
                (vec!["Install".to_string()], "step one".to_string()),
                (
                    vec!["Install".to_string(), "Docker".to_string()],
                    "run it".to_string()
                ),
                (vec!["Use".to_string()], "search".to_string()),
            ]
        );
    }

    #[test]
    fn long_paragraphs_split_with_overlap_and_lose_no_word() {
        let words: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let chunks = chunk(
            &doc(&words.join(" ")),
            ChunkOptions {
                target_words: 40,
                overlap_words: 10,
            },
        );
        assert_eq!(chunks.len(), 3);
        assert!(chunks[1].text.starts_with("w30 "), "{}", chunks[1].text);
        assert!(chunks[2].text.ends_with("w99"));
    }

    #[test]
    fn small_paragraphs_are_packed_together() {
        let chunks = chunk(
            &doc("a b\n\nc d\n\ne f"),
            ChunkOptions {
                target_words: 10,
                overlap_words: 2,
            },
        );
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].text, "a b\n\nc d\n\ne f");
    }

    #[test]
    fn empty_document_has_no_chunks() {
        assert!(chunk(&doc("  \n\n "), ChunkOptions::default()).is_empty());
    }
}
