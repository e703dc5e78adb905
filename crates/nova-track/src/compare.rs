//! Two runs side by side: every metric with its change, and the parameters that differ.

use crate::Run;
use serde::Serialize;

/// One metric of two runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    /// Metric name.
    pub key: String,
    /// In run A (absent: A did not measure it).
    pub a: Option<f64>,
    /// In run B.
    pub b: Option<f64>,
    /// `b − a` when both have it.
    pub delta: Option<f64>,
}

/// A parameter that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamChange {
    /// Parameter name.
    pub key: String,
    /// In run A.
    pub a: Option<String>,
    /// In run B.
    pub b: Option<String>,
}

/// `nova runs compare A B`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Run A's number.
    pub a: i64,
    /// Run B's number.
    pub b: i64,
    /// Every metric of either run, by name.
    pub metrics: Vec<Delta>,
    /// Parameters whose values differ.
    pub params: Vec<ParamChange>,
}

/// Compares run `a` with run `b` (deltas are `b − a`).
pub fn compare(a: &Run, b: &Run) -> Comparison {
    let mut keys: Vec<&String> = a.run.metrics.keys().chain(b.run.metrics.keys()).collect();
    keys.sort();
    keys.dedup();
    let metrics = keys
        .into_iter()
        .map(|k| {
            let (x, y) = (a.run.metrics.get(k).copied(), b.run.metrics.get(k).copied());
            Delta {
                key: k.clone(),
                a: x,
                b: y,
                delta: x.zip(y).map(|(x, y)| y - x),
            }
        })
        .collect();
    let mut names: Vec<&String> = a.run.params.keys().chain(b.run.params.keys()).collect();
    names.sort();
    names.dedup();
    let params = names
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (a.run.params.get(k), b.run.params.get(k));
            (x != y).then(|| ParamChange {
                key: k.clone(),
                a: x.cloned(),
                b: y.cloned(),
            })
        })
        .collect();
    Comparison {
        a: a.id,
        b: b.id,
        metrics,
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewRun;
    use std::collections::BTreeMap;

    fn run(id: i64, fusion: &str, metrics: &[(&str, f64)]) -> Run {
        Run {
            id,
            mlflow_run_id: None,
            run: NewRun {
                params: BTreeMap::from([
                    ("fusion".into(), fusion.into()),
                    ("k".into(), "10".into()),
                ]),
                metrics: metrics.iter().map(|(k, v)| ((*k).into(), *v)).collect(),
                ..NewRun::default()
            },
        }
    }

    #[test]
    fn deltas_cover_both_runs_and_only_changed_params_are_listed() {
        let a = run(
            1,
            "convex:0.6",
            &[("hybrid.ndcg_at_10", 0.70), ("bm25.ndcg_at_10", 0.6)],
        );
        let b = run(
            2,
            "rrf",
            &[("hybrid.ndcg_at_10", 0.72), ("dense.ndcg_at_10", 0.65)],
        );
        let c = compare(&a, &b);
        let hybrid = c
            .metrics
            .iter()
            .find(|d| d.key == "hybrid.ndcg_at_10")
            .expect("hybrid");
        assert!((hybrid.delta.expect("both") - 0.02).abs() < 1e-12);
        let bm25 = c
            .metrics
            .iter()
            .find(|d| d.key == "bm25.ndcg_at_10")
            .expect("bm25");
        assert_eq!((bm25.b, bm25.delta), (None, None));
        assert_eq!(c.metrics.len(), 3);
        assert_eq!(
            c.params,
            [ParamChange {
                key: "fusion".into(),
                a: Some("convex:0.6".into()),
                b: Some("rrf".into())
            }]
        );
    }
}
