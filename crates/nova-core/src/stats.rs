//! Small statistics shared by evaluation reports and benchmarks.

/// The `p`-quantile (0–1) of an ascending slice by nearest rank; `None` when it is empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let idx = (last as f64 * p.clamp(0.0, 1.0)).round() as usize;
    sorted.get(idx.min(last)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_picks_the_nearest_rank_and_says_when_there_is_nothing() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&xs, 0.5), Some(3.0));
        assert_eq!(percentile(&xs, 0.95), Some(5.0));
        assert_eq!(percentile(&xs, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
