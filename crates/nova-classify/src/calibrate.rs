//! Temperature scaling (Guo et al., 2017): one scalar fitted on held-out predictions so that a reported
//! 0.8 is right about 80 % of the time, without changing which label wins.

use ndarray::Array2;

/// Row-wise softmax of `logits / temperature`.
pub fn softmax_rows(logits: &Array2<f32>, temperature: f32) -> Array2<f32> {
    let mut p = logits.mapv(|z| z / temperature);
    for mut row in p.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    p
}

/// Mean negative log-likelihood of the true classes.
fn nll(logits: &Array2<f32>, y: &[usize], temperature: f32) -> f64 {
    let p = softmax_rows(logits, temperature);
    let total: f64 = y
        .iter()
        .enumerate()
        .map(|(i, &c)| -f64::from(p[[i, c]].max(1e-12)).ln())
        .sum();
    total / y.len().max(1) as f64
}

/// The temperature in [0.01, 100] minimising held-out NLL. NLL is convex in 1/T, hence unimodal in
/// ln T, so a golden-section search finds it.
pub fn fit_temperature(logits: &Array2<f32>, y: &[usize]) -> f32 {
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut lo, mut hi) = (0.01f64.ln(), 100f64.ln());
    let f = |t: f64| nll(logits, y, t.exp() as f32);
    let mut a = hi - phi * (hi - lo);
    let mut b = lo + phi * (hi - lo);
    let (mut fa, mut fb) = (f(a), f(b));
    for _ in 0..40 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - phi * (hi - lo);
            fa = f(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + phi * (hi - lo);
            fb = f(b);
        }
    }
    ((lo + hi) / 2.0).exp() as f32
}

/// Index and value of the largest entry (first on ties).
pub(crate) fn argmax(row: &[f32]) -> (usize, f32) {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
}

/// Expected calibration error over 10 equal-width confidence bins.
pub(crate) fn ece(probs: &Array2<f32>, y: &[usize]) -> f64 {
    const BINS: usize = 10;
    let mut conf = [0f64; BINS];
    let mut correct = [0f64; BINS];
    let mut count = [0usize; BINS];
    for (row, &truth) in probs.rows().into_iter().zip(y) {
        let (best, p) = argmax(row.as_slice().unwrap_or(&[]));
        let bin = ((f64::from(p) * BINS as f64) as usize).min(BINS - 1);
        conf[bin] += f64::from(p);
        correct[bin] += f64::from(u8::from(best == truth));
        count[bin] += 1;
    }
    let n = y.len().max(1) as f64;
    (0..BINS)
        .filter(|&b| count[b] > 0)
        .map(|b| (conf[b] - correct[b]).abs() / n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overconfident_logits_get_a_temperature_above_one() {
        // Always 10:0 for the first class, but right only 60 % of the time.
        let logits = Array2::from_shape_fn((100, 2), |(_, j)| if j == 0 { 10.0 } else { 0.0 });
        let y: Vec<usize> = (0..100).map(|i| usize::from(i % 5 >= 3)).collect();
        let t = fit_temperature(&logits, &y);
        let p = softmax_rows(&logits, t);
        assert!(t > 1.0, "temperature {t}");
        assert!(
            (p[[0, 0]] - 0.6).abs() < 0.01,
            "calibrated p = {}",
            p[[0, 0]]
        );
        assert!(ece(&p, &y) < 0.01);
    }
}
