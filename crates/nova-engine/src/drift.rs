//! Query drift: the recent query stream of a KB against a reference window. Four signals:
//!
//! - **centroid shift**: 1 − cosine between the mean query embedding of the current window and the
//!   reference's (0 = same topics; a stream of questions about something else moves it);
//! - **low-score share**: queries whose best passage's cosine is below the gap threshold;
//! - **zero-result rate**: queries that returned nothing;
//! - **BM25 out-of-vocabulary rate**: analysed query terms no indexed chunk contains.
//!
//! The reference is frozen from the first full window (or on demand, `nova drift baseline`) and kept in
//! `kbs/<kb>/drift_reference.json`; a signal alerts when the shift, or a rate's rise over the
//! reference's, passes its threshold.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet, VecDeque};

/// Drift thresholds and window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftSettings {
    /// Watch the query stream at all.
    pub enabled: bool,
    /// Queries in the current window (and in the reference frozen from it).
    pub window: usize,
    /// Alert when 1 − cos(current centroid, reference centroid) exceeds this.
    pub centroid_shift: f64,
    /// Alert when the low-score share rises above the reference's by more than this.
    pub low_score_share: f64,
    /// Alert when the zero-result rate rises by more than this.
    pub zero_result_rate: f64,
    /// Alert when the out-of-vocabulary rate rises by more than this.
    pub oov_rate: f64,
    /// A best passage with a cosine below this is a low score (as in knowledge-gap reports).
    pub low_score: f32,
}

impl Default for DriftSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 500,
            centroid_shift: 0.15,
            low_score_share: 0.2,
            zero_result_rate: 0.1,
            oov_rate: 0.15,
            low_score: 0.35,
        }
    }
}

/// One search, as the drift window keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Observed {
    /// The query's embedding (searches that never embedded it, BM25 ones, leave it out of the
    /// centroid).
    pub embedding: Option<Vec<f32>>,
    /// Best passage cosine.
    pub best: Option<f32>,
    /// Documents returned.
    pub hits: usize,
    /// The query as logged (redacted when the KB redacts).
    pub text: String,
}

/// A KB's recent queries and which signals alert.
#[derive(Debug, Default)]
pub(crate) struct Window {
    pub recent: VecDeque<Observed>,
    /// Signals alerting at the last watch (a webhook fires when one joins).
    pub alerting: BTreeSet<String>,
    /// Older queries were read back from the query log.
    pub topped_up: bool,
}

impl Window {
    /// Adds the newest query, dropping the oldest past `size`.
    pub fn push(&mut self, q: Observed, size: usize) {
        self.recent.push_back(q);
        while self.recent.len() > size.max(1) {
            self.recent.pop_front();
        }
    }
}

/// The figures of a set of queries.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriftFigures {
    /// Queries counted.
    pub queries: usize,
    /// Share whose best passage scored below the low-score threshold.
    pub low_score_share: f64,
    /// Share that returned nothing.
    pub zero_result_rate: f64,
    /// Share of analysed query terms that no indexed chunk contains.
    pub oov_rate: f64,
    /// Mean query embedding (unit length), over the queries that were embedded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f32>))]
    pub centroid: Vec<f32>,
}

/// The reference window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriftReference {
    /// When it was frozen (Unix seconds).
    pub at: u64,
    /// Its figures.
    pub figures: DriftFigures,
}

/// One signal against its threshold.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriftSignal {
    /// `centroid_shift`, `low_score_share`, `zero_result_rate` or `oov_rate`.
    pub metric: String,
    /// Now (for the centroid: the shift itself).
    pub value: f64,
    /// The reference's value (0 for the centroid shift).
    pub reference: f64,
    /// How far `value` may move before it alerts.
    pub threshold: f64,
    /// Past the threshold.
    pub alert: bool,
}

/// The drift of a KB's query stream.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriftReport {
    /// The knowledge base.
    pub kb: String,
    /// The reference window (none until a full window has been seen or `nova drift baseline` ran).
    pub reference: Option<DriftReference>,
    /// The current window.
    pub current: DriftFigures,
    /// Each signal (empty without a reference).
    pub signals: Vec<DriftSignal>,
    /// Signals that started alerting at this watch (what the webhook is told).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub newly_alerting: Vec<String>,
}

/// The figures of `queries`; `terms` analyses a query for BM25, `vocab` holds every indexed term.
pub(crate) fn figures<'a>(
    queries: impl IntoIterator<Item = &'a Observed>,
    terms: &dyn Fn(&str) -> Vec<u32>,
    vocab: &HashSet<u32>,
    low_score: f32,
) -> DriftFigures {
    let (mut n, mut low, mut zero, mut all_terms, mut oov) = (0usize, 0usize, 0usize, 0usize, 0);
    let mut sum: Vec<f32> = Vec::new();
    for q in queries {
        n += 1;
        zero += usize::from(q.hits == 0);
        low += usize::from(q.hits == 0 || q.best.is_some_and(|b| b < low_score));
        let t = terms(&q.text);
        all_terms += t.len();
        oov += t.iter().filter(|x| !vocab.contains(x)).count();
        if let Some(e) = &q.embedding {
            if sum.is_empty() {
                sum = vec![0.0; e.len()];
            }
            if sum.len() == e.len() {
                sum.iter_mut().zip(e).for_each(|(s, x)| *s += x);
            }
        }
    }
    nova_core::l2_normalize(&mut sum);
    let share = |k: usize, of: usize| if of == 0 { 0.0 } else { k as f64 / of as f64 };
    DriftFigures {
        queries: n,
        low_score_share: share(low, n),
        zero_result_rate: share(zero, n),
        oov_rate: share(oov, all_terms),
        centroid: sum,
    }
}

/// Each signal of `current` against `reference`.
pub(crate) fn signals(
    current: &DriftFigures,
    reference: &DriftFigures,
    s: &DriftSettings,
) -> Vec<DriftSignal> {
    let mut out = Vec::new();
    if !current.centroid.is_empty() && current.centroid.len() == reference.centroid.len() {
        let cos: f32 = current
            .centroid
            .iter()
            .zip(&reference.centroid)
            .map(|(a, b)| a * b)
            .sum();
        let shift = 1.0 - f64::from(cos);
        out.push(DriftSignal {
            metric: "centroid_shift".into(),
            value: shift,
            reference: 0.0,
            threshold: s.centroid_shift,
            alert: shift > s.centroid_shift,
        });
    }
    for (metric, now, then, threshold) in [
        (
            "low_score_share",
            current.low_score_share,
            reference.low_score_share,
            s.low_score_share,
        ),
        (
            "zero_result_rate",
            current.zero_result_rate,
            reference.zero_result_rate,
            s.zero_result_rate,
        ),
        ("oov_rate", current.oov_rate, reference.oov_rate, s.oov_rate),
    ] {
        out.push(DriftSignal {
            metric: metric.into(),
            value: now,
            reference: then,
            threshold,
            alert: now - then > threshold,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(e: [f32; 2], best: f32, hits: usize, text: &str) -> Observed {
        Observed {
            embedding: Some(e.to_vec()),
            best: Some(best),
            hits,
            text: text.into(),
        }
    }

    #[test]
    fn signals_follow_the_stream() {
        let vocab: HashSet<u32> = [1, 2, 3].into();
        let terms = |t: &str| t.bytes().map(|b| u32::from(b - b'0')).collect();
        let reference = figures(
            &[q([1.0, 0.0], 0.8, 3, "12"), q([1.0, 0.1], 0.7, 2, "3")],
            &terms,
            &vocab,
            0.35,
        );
        assert_eq!(reference.oov_rate, 0.0);
        let same = figures(&[q([1.0, 0.05], 0.9, 1, "21")], &terms, &vocab, 0.35);
        let s = DriftSettings::default();
        assert!(signals(&same, &reference, &s).iter().all(|x| !x.alert));
        let other = figures(
            &[q([0.0, 1.0], 0.1, 0, "45"), q([0.1, 1.0], 0.2, 1, "4")],
            &terms,
            &vocab,
            0.35,
        );
        let fired: Vec<String> = signals(&other, &reference, &s)
            .into_iter()
            .filter(|x| x.alert)
            .map(|x| x.metric)
            .collect();
        assert_eq!(
            fired,
            [
                "centroid_shift",
                "low_score_share",
                "zero_result_rate",
                "oov_rate"
            ]
        );
    }
}
