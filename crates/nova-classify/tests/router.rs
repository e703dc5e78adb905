#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! Training is deterministic for a fixed seed, and a saved model predicts exactly what it did before
//! saving. A small fixture: three noisy clusters of unit vectors.

use nova_classify::{train, Algorithm, Examples, RouterModel, TrainOptions};

/// 60 unit vectors in 8 dimensions around three centres, with deterministic "noise".
fn fixture() -> (Vec<Vec<f32>>, Vec<String>) {
    let names = ["access", "hardware", "network"];
    let mut vectors = Vec::new();
    let mut labels = Vec::new();
    for i in 0..60usize {
        let class = i % 3;
        let mut v: Vec<f32> = (0..8)
            .map(|d| {
                let centre = if d == class * 2 { 1.0 } else { 0.0 };
                centre + 0.45 * ((i * 7 + d * 13) as f32).sin()
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        vectors.push(v);
        labels.push(names[class].to_string());
    }
    (vectors, labels)
}

/// Ticket texts for the fixture: a word of the label, and a ticket number.
fn texts() -> Vec<String> {
    let (_, labels) = fixture();
    labels
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{l} problem in ticket {i}"))
        .collect()
}

fn trained(algorithm: Option<Algorithm>) -> RouterModel {
    let (vectors, labels) = fixture();
    let ex = Examples::new(&vectors, &labels).unwrap();
    let opts = TrainOptions {
        algorithm,
        k: 5,
        ..TrainOptions::default()
    };
    let texts = texts();
    train(
        &ex,
        Some(&texts),
        &opts,
        "category",
        "test-model",
        &|_, _| {},
    )
    .unwrap()
}

#[test]
fn same_seed_same_data_same_model_and_metrics() {
    for algorithm in [
        Some(Algorithm::Knn),
        Some(Algorithm::Logreg),
        Some(Algorithm::Hybrid),
        None,
    ] {
        let a = trained(algorithm);
        let b = trained(algorithm);
        let mut meta_b = b.meta.clone();
        meta_b.trained_at = a.meta.trained_at;
        assert_eq!(a.meta, meta_b);
        let (vectors, _) = fixture();
        let x = ndarray::Array2::from_shape_vec((60, 8), vectors.concat()).unwrap();
        assert_eq!(
            a.probabilities(x.view(), &texts()).unwrap(),
            b.probabilities(x.view(), &texts()).unwrap()
        );
    }
    // The clusters are separable: cross-validation finds it, far above the majority class.
    let model = trained(None);
    let best = model
        .meta
        .cv
        .iter()
        .map(|r| r.report.macro_f1)
        .fold(0.0, f64::max);
    assert!(best > 0.9, "{:?}", model.meta.cv);
}

#[test]
fn a_saved_model_predicts_exactly_as_before_and_versions_count_up() {
    let dir = tempfile::tempdir().unwrap();
    let (vectors, _) = fixture();
    let x = ndarray::Array2::from_shape_vec((60, 8), vectors.concat()).unwrap();
    let all = [Algorithm::Knn, Algorithm::Logreg, Algorithm::Hybrid];
    for (n, algorithm) in all.into_iter().enumerate() {
        let mut model = trained(Some(algorithm));
        let path = model.save_version(dir.path()).unwrap();
        assert_eq!(model.meta.version as usize, n + 1);
        assert!(path.ends_with(format!("v{}.json", n + 1)));
        let loaded = RouterModel::load_current(dir.path()).unwrap().unwrap();
        assert_eq!(loaded.meta, model.meta);
        assert_eq!(
            loaded.predict(x.view(), &texts(), None, 3).unwrap(),
            model.predict(x.view(), &texts(), None, 3).unwrap()
        );
    }
    assert_eq!(RouterModel::current_version(dir.path()).unwrap(), Some(3));
    // The hybrid head cannot run without the texts, and says so.
    let hybrid = RouterModel::load_current(dir.path()).unwrap().unwrap();
    assert!(hybrid.needs_text());
    assert!(hybrid.predict(x.view(), &[], None, 3).is_err());
}

#[test]
fn low_confidence_needs_a_human_and_dimensions_are_checked() {
    let model = trained(Some(Algorithm::Logreg));
    // Equidistant from every centre: no label should be trusted.
    let mut v = [0f32; 8];
    for d in [0, 2, 4] {
        v[d] = 1.0 / 3f32.sqrt();
    }
    let x = ndarray::Array2::from_shape_vec((1, 8), v.to_vec()).unwrap();
    let p = &model.predict(x.view(), &[], Some(0.9), 3).unwrap()[0];
    assert!(p.needs_human, "{p:?}");
    assert!(p.confidence < 0.9);
    assert_eq!(p.top.len(), 3);
    let sum: f32 = p.top.iter().map(|s| s.probability).sum();
    assert!((sum - 1.0).abs() < 1e-4);
    let wrong = ndarray::Array2::<f32>::zeros((1, 5));
    assert!(model.predict(wrong.view(), &[], None, 3).is_err());
}
