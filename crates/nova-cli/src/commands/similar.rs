//! `nova similar`: a cosine-similarity table of a few texts — the quickest way to see the model work.

use super::Outcome;
use crate::cli::SimilarArgs;
use anyhow::Result;
use nova_core::cosine;
use nova_embed::{Embedder, SentenceEmbedder};

pub fn run(embedder: &SentenceEmbedder, args: &SimilarArgs) -> Result<Outcome> {
    let refs: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs)?;
    print!("{}", render(&args.texts, &vectors));
    Ok(Outcome::Done)
}

/// Numbered legend, then a matrix of cosines, then the closest other text for each.
fn render(texts: &[String], vectors: &[Vec<f32>]) -> String {
    let mut s = String::new();
    for (i, t) in texts.iter().enumerate() {
        s += &format!("[{}] {t}\n", i + 1);
    }
    s += "\n     ";
    for j in 0..texts.len() {
        s += &format!("{:>7}", format!("[{}]", j + 1));
    }
    s += "\n";
    for (i, a) in vectors.iter().enumerate() {
        s += &format!("{:<5}", format!("[{}]", i + 1));
        for b in vectors {
            s += &format!("{:>7.3}", cosine(a, b));
        }
        s += "\n";
    }
    s += "\nclosest:\n";
    for (i, a) in vectors.iter().enumerate() {
        let best = (0..vectors.len())
            .filter(|&j| j != i)
            .map(|j| (j, cosine(a, &vectors[j])))
            .max_by(|x, y| x.1.total_cmp(&y.1));
        if let Some((j, score)) = best {
            s += &format!("  [{}] → [{}]  {score:.3}\n", i + 1, j + 1);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn table_shows_each_texts_nearest_neighbour() {
        let texts = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let vectors = vec![vec![1.0, 0.0], vec![0.9, 0.1], vec![0.0, 1.0]];
        let out = render(&texts, &vectors);
        assert!(out.contains("[1] → [2]"), "{out}");
        assert!(out.contains("[3] → [2]"), "{out}");
        assert!(out.contains("  1.000"), "{out}");
    }
}
