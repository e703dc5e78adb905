//! Reciprocal Rank Fusion (Cormack, Clarke & Büttcher, SIGIR 2009): score(d) = Σ 1/(k + rank_i(d)).

use std::collections::HashMap;
use std::hash::Hash;

/// The constant from the paper, also bm25s/Qdrant's default.
pub const RRF_K: f64 = 60.0;

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
}
