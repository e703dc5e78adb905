//! Fusing the dense and BM25 rankings into one.
//!
//! - Reciprocal Rank Fusion (Cormack, Clarke & Büttcher, SIGIR 2009): score(d) = Σ 1/(k + rank_i(d)).
//! - Convex combination of min-max normalised scores (Bruch, Gai & Ingber, "An Analysis of Fusion
//!   Functions for Hybrid Retrieval", TOIS 2023): score(d) = α·dense'(d) + (1−α)·bm25'(d), where a list
//!   that did not return d contributes 0.
//! - The same convex combination over z-scores, (s − μ)/σ of each list (a list that did not return d
//!   gives it that list's lowest z), and over Qdrant's distribution-based score fusion (DBSF),
//!   (s − (μ − 3σ))/6σ clipped to [0, 1]. Unlike min-max, both keep how far a list's best scores
//!   stand out from the rest of its candidates, so a retriever that is sure of one query and unsure of
//!   the next weighs more on the first.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

/// The constant from the paper, also bm25s/Qdrant's default.
pub const RRF_K: f64 = 60.0;

/// How hybrid search combines its two retrievers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal Rank Fusion with constant `k`.
    Rrf {
        /// Rank offset; larger values flatten the head of each list.
        k: f64,
    },
    /// α·dense + (1−α)·BM25 over min-max normalised scores.
    Convex {
        /// Weight of the dense retriever, in [0, 1].
        alpha: f64,
    },
    /// α·dense + (1−α)·BM25 over z-scores.
    Zscore {
        /// Weight of the dense retriever, in [0, 1].
        alpha: f64,
    },
    /// α·dense + (1−α)·BM25 over DBSF-normalised scores.
    Dbsf {
        /// Weight of the dense retriever, in [0, 1].
        alpha: f64,
    },
    /// z-score fusion whose dense weight follows this query's candidates: with s = BM25's best score
    /// over the mean score of its candidates, α_q = clamp(alpha − slope·(s − pivot) + boost·[dense
    /// does not rank BM25's best document in its top `depth`], 0, 1). A question worded like one
    /// document (its best match stands far above the rest) leans on BM25; one in other words (the best
    /// barely above the crowd) leans on the dense retriever. The ratio has no unit, so it carries
    /// across collections whose BM25 scales differ. The boost is agreement: when the meaning does not
    /// support BM25's best document, BM25 matched words, not the question. With `backing`, the boost
    /// also needs BM25 to rank dense's best document in its top `backing`: BM25 doubting its own pick
    /// is only a reason to trust dense when the words back dense's pick.
    Adaptive {
        /// Dense weight at `pivot`.
        alpha: f64,
        /// How much the weight moves per unit of the ratio.
        slope: f64,
        /// The ratio at which the weight is `alpha`.
        pivot: f64,
        /// Dense weight added when dense does not rank BM25's best document in its top `depth`.
        boost: f64,
        /// How many of dense's documents count as agreeing with BM25's best.
        depth: usize,
        /// When set, the boost also needs BM25 to rank dense's best document in its top `backing`.
        backing: Option<usize>,
    },
}

/// What an adaptive fusion reads off one query's candidates.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuerySignals<'a> {
    /// BM25's candidate scores, best first.
    pub bm25: &'a [f64],
    /// Where dense ranks BM25's best document among its own documents (0-based); `None` when it did
    /// not return it, or BM25 returned nothing.
    pub bm25_best_in_dense: Option<usize>,
    /// Where BM25 ranks dense's best document among its own documents, likewise.
    pub dense_best_in_bm25: Option<usize>,
}

// The default adaptive fusion's numbers, also what an `adaptive:…` spec that leaves some out gets —
// but BOOST, which such a spec leaves at 0: the three-number form was written (and stored by `nova
// index tune`) before agreement existed and keeps its meaning.
const DEFAULT_ALPHA: f64 = 0.55;
const DEFAULT_SLOPE: f64 = 0.1;
const DEFAULT_PIVOT: f64 = 4.0;
const DEFAULT_BOOST: f64 = 0.3;
const DEFAULT_DEPTH: usize = 10;
/// The default's BACKING; a spec that leaves it out asks nothing of BM25 (the five-number form, written
/// before backing existed, keeps its meaning).
const DEFAULT_BACKING: usize = 20;

impl Fusion {
    /// The fusion for one query, given what its candidates look like: an adaptive fusion becomes the
    /// z-score fusion with that query's weight; the others are themselves.
    pub fn for_query(self, signals: QuerySignals<'_>) -> Self {
        match self {
            Self::Adaptive {
                alpha,
                slope,
                pivot,
                boost,
                depth,
                backing,
            } => {
                let bm25 = signals.bm25;
                let mean = bm25.iter().sum::<f64>() / bm25.len().max(1) as f64;
                let ratio = match bm25.first() {
                    Some(best) if mean > 0.0 => best / mean,
                    _ => pivot, // nothing to judge BM25 by: the weight at the pivot
                };
                let disagree =
                    !bm25.is_empty() && signals.bm25_best_in_dense.is_none_or(|rank| rank >= depth);
                let backed = backing.is_none_or(|backing| {
                    signals
                        .dense_best_in_bm25
                        .is_some_and(|rank| rank < backing)
                });
                let boost = if disagree && backed { boost } else { 0.0 };
                Self::Zscore {
                    alpha: (alpha - slope * (ratio - pivot) + boost).clamp(0.0, 1.0),
                }
            }
            other => other,
        }
    }
}

/// Adaptive z-score fusion with backed agreement, α_q = 0.55 − 0.1·(BM25 best/mean − 4) + 0.3 when
/// dense does not rank BM25's best document in its top 10 and BM25 ranks dense's best in its top 20:
/// of the 79 fusions tried on seven evaluation sets (fixed, adaptive, agreement, backed agreement),
/// the one whose smallest nDCG@10 gain over the better single mode is largest (+0.017, every set) —
/// the rule that, chosen on six sets and scored on the seventh in turn, keeps hybrid above both single
/// modes on all seven (README: Quality that holds on unseen data). Backing was designed before the
/// seventh set was written; unbacked agreement (the default before) fell 0.002 below dense there.
impl Default for Fusion {
    fn default() -> Self {
        Self::Adaptive {
            alpha: DEFAULT_ALPHA,
            slope: DEFAULT_SLOPE,
            pivot: DEFAULT_PIVOT,
            boost: DEFAULT_BOOST,
            depth: DEFAULT_DEPTH,
            backing: Some(DEFAULT_BACKING),
        }
    }
}

impl fmt::Display for Fusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rrf { k } => write!(f, "rrf:{k}"),
            Self::Convex { alpha } => write!(f, "convex:{alpha}"),
            Self::Zscore { alpha } => write!(f, "zscore:{alpha}"),
            Self::Dbsf { alpha } => write!(f, "dbsf:{alpha}"),
            Self::Adaptive {
                alpha,
                slope,
                pivot,
                boost,
                depth,
                backing,
            } => {
                write!(f, "adaptive:{alpha}:{slope}:{pivot}")?;
                // Without agreement the three-number form, as specs written before it read.
                if *boost != 0.0 {
                    write!(f, ":{boost}:{depth}")?;
                    if let Some(backing) = backing {
                        write!(f, ":{backing}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Fusion {
    type Err = String;
    /// `rrf`, `rrf:K`, `convex`, `zscore` or `dbsf` (α = 0.5), or `convex:ALPHA`, `zscore:ALPHA`,
    /// `dbsf:ALPHA`, `adaptive:ALPHA:SLOPE:PIVOT[:BOOST:DEPTH[:BACKING]]` (trailing numbers may be left
    /// out; a left-out BOOST is 0, a left-out BACKING asks nothing of BM25).
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, arg) = s.split_once(':').map_or((s, None), |(n, a)| (n, Some(a)));
        // A number of the spec, or `default` when it is left out.
        let number = |text: Option<&str>, default: f64| -> Result<f64, String> {
            text.map_or(Ok(default), |t| {
                t.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("`{t}` in fusion `{s}` is not a number"))
            })
        };
        match name.trim() {
            "rrf" => match number(arg, RRF_K)? {
                k if k >= 0.0 => Ok(Self::Rrf { k }),
                k => Err(format!("rrf k must be ≥ 0, got {k}")),
            },
            weighted @ ("convex" | "zscore" | "dbsf") => match number(arg, 0.5)? {
                alpha if (0.0..=1.0).contains(&alpha) => Ok(match weighted {
                    "convex" => Self::Convex { alpha },
                    "zscore" => Self::Zscore { alpha },
                    _ => Self::Dbsf { alpha },
                }),
                alpha => Err(format!("{weighted} alpha must be in [0, 1], got {alpha}")),
            },
            "adaptive" => {
                let parts: Vec<&str> = arg.map_or(Vec::new(), |a| a.split(':').collect());
                let value = |i: usize, default: f64| number(parts.get(i).copied(), default);
                if parts.len() > 6 {
                    return Err(format!(
                        "fusion `{s}`: adaptive takes at most ALPHA:SLOPE:PIVOT:BOOST:DEPTH:BACKING"
                    ));
                }
                let (alpha, slope, pivot) = (
                    value(0, DEFAULT_ALPHA)?,
                    value(1, DEFAULT_SLOPE)?,
                    value(2, DEFAULT_PIVOT)?,
                );
                let boost = value(3, 0.0)?;
                let places = |i: usize, name: &str| -> Result<Option<usize>, String> {
                    parts
                        .get(i)
                        .map(|d| {
                            d.trim()
                                .parse::<usize>()
                                .ok()
                                .filter(|d| *d > 0)
                                .ok_or_else(|| {
                                    format!(
                                    "fusion `{s}`: adaptive {name} must be a whole number ≥ 1, \
                                     got `{d}`"
                                )
                                })
                        })
                        .transpose()
                };
                let depth = places(4, "DEPTH")?.unwrap_or(DEFAULT_DEPTH);
                let backing = places(5, "BACKING")?;
                // Without a boost, DEPTH and BACKING change nothing and are not printed: one value
                // for one behaviour, so a spec equals itself after a round trip.
                let (depth, backing) = if boost == 0.0 {
                    (DEFAULT_DEPTH, None)
                } else {
                    (depth, backing)
                };
                if !(0.0..=1.0).contains(&alpha)
                    || slope < 0.0
                    || pivot < 0.0
                    || !(0.0..=1.0).contains(&boost)
                {
                    return Err(format!(
                        "fusion `{s}`: adaptive needs ALPHA in [0, 1], SLOPE ≥ 0, PIVOT ≥ 0 and \
                         BOOST in [0, 1]"
                    ));
                }
                Ok(Self::Adaptive {
                    alpha,
                    slope,
                    pivot,
                    boost,
                    depth,
                    backing,
                })
            }
            other => Err(format!(
                "unknown fusion `{other}` (rrf, rrf:K, convex:ALPHA, zscore:ALPHA, dbsf:ALPHA or \
                 adaptive:ALPHA:SLOPE:PIVOT[:BOOST:DEPTH[:BACKING]])"
            )),
        }
    }
}

/// Fuses the dense and BM25 lists (each `(id, score)`, best first) into one list, best first.
pub fn fuse<T: Clone + Eq + Hash>(
    fusion: Fusion,
    dense: &[(T, f64)],
    bm25: &[(T, f64)],
) -> Vec<(T, f64)> {
    match fusion {
        Fusion::Rrf { k } => {
            let ids = |l: &[(T, f64)]| l.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
            rrf(&[ids(dense), ids(bm25)], k)
        }
        Fusion::Convex { alpha } => combine(Norm::MinMax, &[(alpha, dense), (1.0 - alpha, bm25)]),
        Fusion::Zscore { alpha } => combine(Norm::Z, &[(alpha, dense), (1.0 - alpha, bm25)]),
        Fusion::Dbsf { alpha } => combine(Norm::Dbsf, &[(alpha, dense), (1.0 - alpha, bm25)]),
        // Not resolved for a query (`Fusion::for_query`): its weight at the pivot.
        Fusion::Adaptive { alpha, .. } => combine(Norm::Z, &[(alpha, dense), (1.0 - alpha, bm25)]),
    }
}

/// How a list's scores are put on a common scale before they are weighed.
#[derive(Clone, Copy)]
enum Norm {
    MinMax,
    Z,
    Dbsf,
}

impl Norm {
    /// The normalising map of one list's scores, and what an item the list did not return gets.
    fn of(self, scores: &[f64]) -> (impl Fn(f64) -> f64, f64) {
        let n = scores.len().max(1) as f64;
        let (lo, hi) = scores
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
                (lo.min(*s), hi.max(*s))
            });
        let mean = scores.iter().sum::<f64>() / n;
        let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
        let map = move |s: f64| match self {
            // A list whose scores are all equal says nothing about order: every item gets full credit.
            Norm::MinMax if hi > lo => (s - lo) / (hi - lo),
            Norm::MinMax => 1.0,
            Norm::Z if sd > 0.0 => (s - mean) / sd,
            Norm::Z => 0.0,
            Norm::Dbsf if sd > 0.0 => ((s - (mean - 3.0 * sd)) / (6.0 * sd)).clamp(0.0, 1.0),
            Norm::Dbsf => 1.0,
        };
        let absent = match self {
            Norm::MinMax | Norm::Dbsf => 0.0,
            Norm::Z if scores.is_empty() => 0.0,
            Norm::Z => map(lo),
        };
        (map, absent)
    }
}

/// Σ weight·norm(score) over the lists (an item a list missed gets that list's `absent` value); ties
/// keep first-seen order.
fn combine<T: Clone + Eq + Hash>(norm: Norm, lists: &[(f64, &[(T, f64)])]) -> Vec<(T, f64)> {
    let mut scores: HashMap<T, (f64, usize)> = HashMap::new();
    let mut order = 0;
    let mut absent_total = 0.0;
    for (weight, list) in lists {
        let raw: Vec<f64> = list.iter().map(|(_, s)| *s).collect();
        let (map, absent) = norm.of(&raw);
        absent_total += weight * absent;
        for (item, score) in list.iter() {
            let entry = scores.entry(item.clone()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            // What `absent` credits the items this list missed is added back below for everyone,
            // so it is taken off the ones it did return.
            entry.0 += weight * (map(*score) - absent);
        }
    }
    for entry in scores.values_mut() {
        entry.0 += absent_total;
    }
    sorted(scores)
}

/// Fuses ranked lists (best first) into one, best first; ties keep first-seen order.
pub fn rrf<T: Clone + Eq + Hash>(lists: &[Vec<T>], k: f64) -> Vec<(T, f64)> {
    let mut scores: HashMap<T, (f64, usize)> = HashMap::new();
    let mut order = 0;
    for list in lists {
        for (rank, item) in list.iter().enumerate() {
            let entry = scores.entry(item.clone()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += 1.0 / (k + rank as f64 + 1.0);
        }
    }
    sorted(scores)
}

fn sorted<T>(scores: HashMap<T, (f64, usize)>) -> Vec<(T, f64)> {
    let mut fused: Vec<(T, f64, usize)> = scores.into_iter().map(|(t, (s, o))| (t, s, o)).collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused.into_iter().map(|(t, s, _)| (t, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_prefers_docs_found_by_both_retrievers() {
        let fused = rrf(&[vec!["a", "b", "c"], vec!["c", "d", "b"]], RRF_K);
        let order: Vec<&str> = fused.iter().map(|(d, _)| *d).collect();
        assert_eq!(order[..2], ["c", "b"]);
        assert!((fused[0].1 - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-12);
    }

    #[test]
    fn single_list_keeps_its_order() {
        let fused = rrf(&[vec![3, 1, 2]], RRF_K);
        assert_eq!(fused.iter().map(|(d, _)| *d).collect::<Vec<_>>(), [3, 1, 2]);
    }

    #[test]
    fn convex_fusion_weighs_normalised_scores() {
        let dense = [("a", 0.9), ("b", 0.8), ("c", 0.5)];
        let bm25 = [("c", 20.0), ("b", 15.0), ("d", 10.0)];
        // a: .5·1 = .5; b: .5·.75 + .5·.5 = .625; c: .5·0 + .5·1 = .5; d: 0
        let fused = fuse(Fusion::Convex { alpha: 0.5 }, &dense, &bm25);
        let order: Vec<&str> = fused.iter().map(|(d, _)| *d).collect();
        assert_eq!(order, ["b", "a", "c", "d"]);
        assert!((fused[0].1 - 0.625).abs() < 1e-12);
        // α = 1 is the dense ranking alone.
        let dense_only = fuse(Fusion::Convex { alpha: 1.0 }, &dense, &bm25);
        assert_eq!(dense_only[0].0, "a");
    }

    #[test]
    fn zscore_and_dbsf_reward_a_list_whose_best_stands_out() {
        // BM25 is sure of "x" (far above its other candidates); dense is lukewarm about everything.
        let dense = [("a", 0.62), ("b", 0.61), ("x", 0.60), ("c", 0.59)];
        let bm25 = [("x", 30.0), ("c", 5.0), ("a", 4.0), ("d", 3.0)];
        for f in [Fusion::Zscore { alpha: 0.5 }, Fusion::Dbsf { alpha: 0.5 }] {
            assert_eq!(fuse(f, &dense, &bm25)[0].0, "x", "{f}");
        }
        // z-scores: a list that missed an item gives it its lowest z, not 0 (its mean).
        let fused = fuse(Fusion::Zscore { alpha: 0.5 }, &dense, &bm25);
        let d = fused.iter().find(|(t, _)| *t == "d").map(|(_, s)| *s);
        let b = fused.iter().find(|(t, _)| *t == "b").map(|(_, s)| *s);
        assert!(d.zip(b).is_some_and(|(d, b)| d < b));
    }

    #[test]
    fn fusion_specs_parse_and_bad_ones_say_why() {
        assert_eq!(
            "zscore:0.7".parse::<Fusion>(),
            Ok(Fusion::Zscore { alpha: 0.7 })
        );
        assert_eq!("dbsf".parse::<Fusion>(), Ok(Fusion::Dbsf { alpha: 0.5 }));
        assert!(refusal("dbsf:-1").contains("dbsf alpha"));
        assert_eq!("rrf".parse::<Fusion>(), Ok(Fusion::Rrf { k: 60.0 }));
        assert_eq!("rrf:20".parse::<Fusion>(), Ok(Fusion::Rrf { k: 20.0 }));
        assert_eq!(
            "convex:0.3".parse::<Fusion>(),
            Ok(Fusion::Convex { alpha: 0.3 })
        );
        assert!(refusal("convex:2").contains("[0, 1]"));
        assert!(refusal("max").contains("unknown fusion"));
        let adaptive = "adaptive:0.6:0.2:3".parse::<Fusion>().unwrap();
        assert_eq!(adaptive.to_string().parse::<Fusion>(), Ok(adaptive));
        assert!(refusal("adaptive:0.5:-1").contains("SLOPE"));
    }

    #[test]
    fn adaptive_fusion_leans_on_bm25_when_its_best_stands_out() {
        let f = Fusion::Adaptive {
            alpha: 0.6,
            slope: 0.2,
            pivot: 3.0,
            boost: 0.0,
            depth: 20,
            backing: None,
        };
        let alpha = |scores: &[f64]| query_alpha(f, scores, Some(0));
        // Best 3× the mean: the weight at the pivot.
        assert!((alpha(&[6.0, 0.0, 0.0]) - 0.6).abs() < 1e-9);
        // A clear lexical match (best 6× the mean) weighs BM25 more; a flat list weighs dense more.
        assert!(alpha(&[30.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) < 0.3);
        assert!(alpha(&[1.1, 1.0, 1.0]) > 0.9);
        // Nothing from BM25: the pivot's weight; other fusions are left alone.
        assert!((alpha(&[]) - 0.6).abs() < 1e-9);
        let rrf = Fusion::Rrf { k: 60.0 };
        let signals = QuerySignals {
            bm25: &[3.0, 1.0],
            ..QuerySignals::default()
        };
        assert_eq!(rrf.for_query(signals), rrf);
    }

    /// Why a spec is refused (it must be).
    fn refusal(spec: &str) -> String {
        spec.parse::<Fusion>().unwrap_err()
    }

    /// The z-score weight an adaptive fusion gives a query.
    fn query_alpha(f: Fusion, bm25: &[f64], bm25_best_in_dense: Option<usize>) -> f64 {
        backed_alpha(f, bm25, bm25_best_in_dense, None)
    }

    /// The same, with where BM25 ranks dense's best document.
    fn backed_alpha(
        f: Fusion,
        bm25: &[f64],
        bm25_best_in_dense: Option<usize>,
        dense_best_in_bm25: Option<usize>,
    ) -> f64 {
        match f.for_query(QuerySignals {
            bm25,
            bm25_best_in_dense,
            dense_best_in_bm25,
        }) {
            Fusion::Zscore { alpha } => alpha,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn adaptive_fusion_leans_on_dense_when_it_does_not_support_bm25s_best() {
        let f: Fusion = "adaptive:0.6:0:4:0.3:20".parse().unwrap();
        let scores = [6.0, 2.0, 1.0];
        // Dense ranks BM25's best document 3rd: they agree, the base weight.
        assert!((query_alpha(f, &scores, Some(2)) - 0.6).abs() < 1e-9);
        // 20th or beyond, or not at all: BM25 matched words the meaning does not support.
        assert!((query_alpha(f, &scores, Some(20)) - 0.9).abs() < 1e-9);
        assert!((query_alpha(f, &scores, None) - 0.9).abs() < 1e-9);
        // BM25 returned nothing: nothing to disagree with.
        assert!((query_alpha(f, &[], None) - 0.6).abs() < 1e-9);
        // Clamped to 1.
        let strong: Fusion = "adaptive:0.9:0:4:0.3".parse().unwrap();
        assert!((query_alpha(strong, &scores, None) - 1.0).abs() < 1e-9);
        // Specs round-trip; the three-number form still reads and prints as before.
        assert_eq!(f.to_string(), "adaptive:0.6:0:4:0.3:20");
        let default = Fusion::default();
        assert_eq!(default.to_string(), "adaptive:0.55:0.1:4:0.3:10:20");
        assert_eq!(default.to_string().parse::<Fusion>(), Ok(default));
        // A spec stored before agreement existed keeps its meaning: no boost.
        assert_eq!(
            "adaptive:0.55:0.1:4"
                .parse::<Fusion>()
                .map(|f| f.to_string()),
            Ok("adaptive:0.55:0.1:4".to_string())
        );
        assert!(refusal("adaptive:0.6:0:4:0.3:0").contains("DEPTH"));
        assert!(refusal("adaptive:0.6:0:4:2").contains("BOOST"));
        assert!(refusal("adaptive:1:2:3:0.1:5:6:7").contains("at most"));
    }

    #[test]
    fn backed_agreement_boosts_only_when_bm25_backs_dense_s_pick() {
        let f: Fusion = "adaptive:0.6:0:4:0.3:20:20".parse().unwrap();
        assert_eq!(f.to_string(), "adaptive:0.6:0:4:0.3:20:20");
        let scores = [6.0, 2.0, 1.0];
        // Dense ignores BM25's best, and BM25 ranks dense's best 5th: the words back dense, boost.
        assert!((backed_alpha(f, &scores, None, Some(4)) - 0.9).abs() < 1e-9);
        // BM25 ranks dense's best 20th or not at all: neither backs the other, the base weight.
        assert!((backed_alpha(f, &scores, None, Some(20)) - 0.6).abs() < 1e-9);
        assert!((backed_alpha(f, &scores, None, None) - 0.6).abs() < 1e-9);
        // They agree on BM25's best: no boost, backed or not.
        assert!((backed_alpha(f, &scores, Some(1), Some(0)) - 0.6).abs() < 1e-9);
        // Without BACKING nothing is asked of BM25 (the five-number form reads as before).
        let unbacked: Fusion = "adaptive:0.6:0:4:0.3:20".parse().unwrap();
        assert!((backed_alpha(unbacked, &scores, None, None) - 0.9).abs() < 1e-9);
        assert!(refusal("adaptive:0.6:0:4:0.3:20:0").contains("BACKING"));
        // No boost: depth and backing mean nothing, and the value survives a round trip.
        let idle: Fusion = "adaptive:0.6:0:4:0:20:20".parse().unwrap();
        assert_eq!(idle.to_string(), "adaptive:0.6:0:4");
        assert_eq!(idle.to_string().parse::<Fusion>(), Ok(idle));
    }
}
