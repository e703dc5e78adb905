//! BM25 term vectors through qdrant-edge's own tokenizer pipeline (Unicode word split, lowercase,
//! English stop words, Snowball stemming), so documents and queries are analysed the way Qdrant does.
//! Document vectors carry the BM25 term-frequency part; the store's IDF modifier supplies the IDF part
//! (Lucene's form, ln(1 + (N − n + 0.5)/(n + 0.5)), which bm25s uses too). Qdrant's English analysis
//! (NLTK's 179 stop words, one-character tokens kept, each distinct query term once) measured as good
//! as or better than bm25s's Lucene-style analysis (33 stop words, tokens of 2+ characters, repeated
//! query terms summed) on every evaluation set; bench/README.md: BM25 parity.

use crate::record::SparseVec;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};

/// BM25 k1 and b, the values bm25s and Lucene default to.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Encodes text as BM25 sparse vectors for one corpus (its average document length in tokens).
pub struct Bm25Encoder {
    model: EdgeBm25,
    /// With b = 0 the TF weight is `n(k1+1)/(k1+n)`, which can be inverted to count tokens.
    counter: EdgeBm25,
}

fn model(avg_len: f64, b: f64) -> EdgeBm25 {
    let mut config = EdgeBm25Config {
        language: Some("english".into()),
        ..EdgeBm25Config::default()
    };
    // Finite, positive constants: NotNan::new cannot fail on them.
    if let (Ok(k), Ok(b), Ok(avg)) = (
        ordered_float(K1),
        ordered_float(b),
        ordered_float(avg_len.max(1.0)),
    ) {
        config.k = k;
        config.b = b;
        config.avg_len = avg;
    }
    EdgeBm25::new(config).unwrap_or_else(|_| {
        // English is always supported and the parameters are validated above; fall back to defaults.
        EdgeBm25::new(EdgeBm25Config::default()).expect("qdrant-edge default BM25 config is valid")
    })
}

fn ordered_float(x: f64) -> Result<qdrant_edge::external::ordered_float::NotNan<f64>, ()> {
    qdrant_edge::external::ordered_float::NotNan::new(x).map_err(|_| ())
}

impl Bm25Encoder {
    /// An encoder for a corpus whose documents average `avg_len` tokens after analysis.
    pub fn new(avg_len: f64) -> Self {
        Self {
            model: model(avg_len, B),
            counter: model(avg_len, 0.0),
        }
    }

    /// The document-side vector (BM25 TF saturation and length normalisation).
    pub fn document(&self, text: &str) -> SparseVec {
        let v = self.model.embed_document(text);
        SparseVec {
            indices: v.indices,
            values: v.values,
        }
    }

    /// The query-side vector (one weight per distinct query term).
    pub fn query(&self, text: &str) -> SparseVec {
        let v = self.model.embed_query(text);
        SparseVec {
            indices: v.indices,
            values: v.values,
        }
    }

    /// Number of tokens `text` has after analysis (stop words removed), for computing `avg_len`.
    pub fn token_count(&self, text: &str) -> usize {
        self.term_counts(text)
            .values
            .iter()
            .map(|&n| n as usize)
            .sum()
    }

    /// Each distinct term of `text` with the number of times it occurs (how pseudo-relevance feedback
    /// reads a retrieved chunk).
    pub fn term_counts(&self, text: &str) -> SparseVec {
        let v = self.counter.embed_document(text);
        let k = K1 as f32;
        SparseVec {
            // w = n(k+1)/(k+n)  ⇒  n = k·w/(k+1−w)
            values: v
                .values
                .iter()
                .map(|&w| (k * w / (k + 1.0 - w)).round())
                .collect(),
            indices: v.indices,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_count_inverts_the_tf_weight_and_drops_stop_words() {
        let enc = Bm25Encoder::new(10.0);
        // "the" and "is" are stop words; "server" appears twice.
        assert_eq!(
            enc.token_count("The server is failing, server restarting"),
            4
        );
    }

    #[test]
    fn stemming_makes_inflections_share_a_term() {
        let enc = Bm25Encoder::new(10.0);
        assert_eq!(
            enc.query("restarting").indices,
            enc.query("restarts").indices
        );
        assert_ne!(enc.query("restart").indices, enc.query("printer").indices);
    }
}
