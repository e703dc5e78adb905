//! Dense-vector helpers shared by the embedder, the store and the tests.

/// One dense embedding (L2-normalised by the embedder, so dot product == cosine).
pub type Embedding = Vec<f32>;

/// Scales `v` to unit L2 norm in place; a zero vector stays zero (sentence-transformers clamps the
/// norm at 1e-12, which gives the same result).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

/// Cosine similarity computed in f64 so test tolerances near 1e-6 are not eaten by rounding.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_vector_has_unit_norm_and_keeps_direction() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn zero_vector_stays_zero_and_has_zero_cosine() {
        let mut v = vec![0.0; 4];
        l2_normalize(&mut v);
        assert!(v.iter().all(|x| *x == 0.0));
        assert_eq!(cosine(&v, &[1.0, 0.0, 0.0, 0.0]), 0.0);
    }

    #[test]
    fn cosine_of_opposite_vectors_is_minus_one() {
        assert!((cosine(&[1.0, 2.0], &[-1.0, -2.0]) + 1.0).abs() < 1e-12);
    }
}
