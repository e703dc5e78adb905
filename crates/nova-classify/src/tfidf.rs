//! The lexical baseline a router must beat: kNN over TF-IDF vectors (sublinear tf, smoothed idf, L2
//! norm — scikit-learn's defaults), voting exactly as the embedding kNN does.

use crate::knn::vote;
use ndarray::Array2;
use std::collections::HashMap;

/// A fitted TF-IDF kNN: the training documents' sparse vectors and an inverted index.
#[derive(Debug, Clone)]
pub struct TfIdfKnn {
    k: usize,
    n_classes: usize,
    y: Vec<usize>,
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    /// term → (document, weight)
    postings: Vec<Vec<(u32, f32)>>,
}

/// Lower-cased alphanumeric words of two or more characters.
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
}

impl TfIdfKnn {
    /// Builds the index over `texts` with classes `y`.
    pub fn fit(texts: &[String], y: &[usize], n_classes: usize, k: usize) -> Self {
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let docs: Vec<HashMap<u32, f32>> = texts
            .iter()
            .map(|t| {
                let mut tf: HashMap<u32, f32> = HashMap::new();
                for w in tokens(t) {
                    let next = vocab.len() as u32;
                    let id = *vocab.entry(w).or_insert(next);
                    *tf.entry(id).or_default() += 1.0;
                }
                for &id in tf.keys() {
                    if id as usize >= df.len() {
                        df.resize(id as usize + 1, 0);
                    }
                    df[id as usize] += 1;
                }
                tf
            })
            .collect();
        let n = texts.len() as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let mut postings = vec![Vec::new(); vocab.len()];
        for (doc, tf) in docs.iter().enumerate() {
            for (term, w) in weigh(tf, &idf) {
                postings[term as usize].push((doc as u32, w));
            }
        }
        Self {
            k,
            n_classes,
            y: y.to_vec(),
            vocab,
            idf,
            postings,
        }
    }

    /// Neighbours voting.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Class of each training text.
    pub fn labels(&self) -> &[usize] {
        &self.y
    }

    /// Log vote shares per query text, as [`crate::Knn::logits`].
    pub fn logits(&self, texts: &[String]) -> Array2<f32> {
        let mut out = Array2::zeros((texts.len(), self.n_classes));
        for (t, mut row) in texts.iter().zip(out.rows_mut()) {
            let mut tf: HashMap<u32, f32> = HashMap::new();
            for w in tokens(t) {
                if let Some(&id) = self.vocab.get(&w) {
                    *tf.entry(id).or_default() += 1.0;
                }
            }
            let mut sims = vec![0f32; self.y.len()];
            for (term, qw) in weigh(&tf, &self.idf) {
                for &(doc, dw) in &self.postings[term as usize] {
                    sims[doc as usize] += qw * dw;
                }
            }
            row.assign(&ndarray::Array1::from(vote(
                &sims,
                &self.y,
                self.k,
                self.n_classes,
            )));
        }
        out
    }
}

/// Sublinear tf × idf, L2-normalised.
fn weigh(tf: &HashMap<u32, f32>, idf: &[f32]) -> Vec<(u32, f32)> {
    let mut v: Vec<(u32, f32)> = tf
        .iter()
        .map(|(&t, &c)| (t, (1.0 + c.ln()) * idf[t as usize]))
        .collect();
    let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt().max(1e-12);
    for (_, w) in &mut v {
        *w /= norm;
    }
    v
}
