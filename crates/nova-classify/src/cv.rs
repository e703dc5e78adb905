//! Stratified k-fold cross-validation of every method on the same folds, and training of the router
//! that is saved: `auto` keeps whichever embedding head has the better cross-validated macro-F1, and
//! the out-of-fold predictions fit its calibration temperature.

use crate::calibrate::{fit_temperature, softmax_rows};
use crate::data::{stratified_folds, Examples};
use crate::error::Result;
use crate::knn::Knn;
use crate::logreg::LogReg;
use crate::method::{mix, Method, MethodReport};
use crate::metrics::Report;
use crate::model::{Algorithm, FittedHead, RouterModel};
use crate::tfidf::TfIdfKnn;
use ndarray::{Array2, Axis};

/// Training knobs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Head to keep; `None` = auto (best cross-validated macro-F1).
    pub algorithm: Option<Algorithm>,
    /// Neighbours for kNN (both the embedding and the TF-IDF one).
    pub k: usize,
    /// L2 penalty of the logistic regression.
    pub alpha: f64,
    /// L-BFGS iteration cap.
    pub max_iterations: u64,
    /// Cross-validation folds.
    pub folds: usize,
    /// Fold shuffling seed.
    pub seed: u64,
    /// Below this top probability a prediction says "needs human".
    pub threshold: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            algorithm: None,
            k: 10,
            alpha: 0.1,
            max_iterations: 200,
            folds: 5,
            seed: 42,
            threshold: 0.5,
        }
    }
}

/// Cross-validates the embedding heads and, given the ticket texts, the TF-IDF kNN and majority
/// baselines on the same folds. `progress` hears each finished fold.
pub fn cross_validate(
    ex: &Examples,
    texts: Option<&[String]>,
    opts: &TrainOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<MethodReport>> {
    let mut methods = vec![Method::Knn, Method::Logreg];
    if texts.is_some() {
        methods.extend([Method::TfidfKnn, Method::Majority]);
    }
    let folds = stratified_folds(&ex.y, opts.folds, opts.seed);
    let c = ex.classes.len();
    let mut oof: Vec<Array2<f32>> = methods
        .iter()
        .map(|_| Array2::zeros((ex.len(), c)))
        .collect();
    for fold in 0..opts.folds {
        let test: Vec<usize> = (0..ex.len()).filter(|&i| folds[i] == fold).collect();
        let train: Vec<usize> = (0..ex.len()).filter(|&i| folds[i] != fold).collect();
        if test.is_empty() || train.is_empty() {
            continue;
        }
        let tr = ex.subset(&train);
        let queries = ex.x.select(Axis(0), &test);
        for (m, out) in methods.iter().zip(oof.iter_mut()) {
            let logits = match m {
                Method::Knn => Knn::fit(&tr, opts.k).logits(queries.view()),
                Method::Logreg => {
                    LogReg::fit(&tr, opts.alpha, opts.max_iterations)?.logits(queries.view())
                }
                Method::TfidfKnn => {
                    let texts = texts.unwrap_or_default();
                    let pick = |idx: &[usize]| -> Vec<String> {
                        idx.iter().map(|&i| texts[i].clone()).collect()
                    };
                    TfIdfKnn::fit(&pick(&train), &tr.y, c, opts.k).logits(&pick(&test))
                }
                Method::Hybrid => continue, // mixed from the out-of-fold parts below
                Method::Majority => {
                    let counts = tr.class_counts();
                    Array2::from_shape_fn((test.len(), c), |(_, j)| {
                        ((counts[j] as f32 + 1e-3) / train.len() as f32).ln()
                    })
                }
            };
            for (row, &i) in logits.rows().into_iter().zip(&test) {
                out.row_mut(i).assign(&row);
            }
        }
        progress(fold + 1, opts.folds);
    }
    let at = |m: Method| methods.iter().position(|x| *x == m);
    let parts = at(Method::Logreg)
        .zip(at(Method::TfidfKnn))
        .map(|(a, b)| (oof[a].clone(), oof[b].clone()));
    let mut reports: Vec<MethodReport> = methods
        .iter()
        .copied()
        .zip(oof)
        .map(|(method, logits)| report_of(method, &logits, ex))
        .collect();
    if let (Some((lr_logits, tf_logits)), Some(lr), Some(tf)) =
        (parts, at(Method::Logreg), at(Method::TfidfKnn))
    {
        let mixed = mix(
            &lr_logits,
            reports[lr].temperature,
            &tf_logits,
            reports[tf].temperature,
        );
        reports.insert(lr + 1, report_of(Method::Hybrid, &mixed, ex));
    }
    Ok(reports)
}

fn report_of(method: Method, logits: &Array2<f32>, ex: &Examples) -> MethodReport {
    let temperature = fit_temperature(logits, &ex.y);
    let probs = softmax_rows(logits, temperature);
    MethodReport {
        method,
        temperature,
        report: Report::new(&probs, &ex.y, &ex.classes),
    }
}

/// Cross-validates, picks the head (or takes the one asked for), fits it on all examples and returns
/// the model, labelled with `label` and `embedding_model`, unsaved.
pub fn train(
    ex: &Examples,
    texts: Option<&[String]>,
    opts: &TrainOptions,
    label: &str,
    embedding_model: &str,
    progress: &dyn Fn(usize, usize),
) -> Result<RouterModel> {
    let cv = cross_validate(ex, texts, opts, progress)?;
    let f1 = |m: Method| cv.iter().find(|r| r.method == m).map(|r| r.report.macro_f1);
    let algorithm = opts.algorithm.unwrap_or_else(|| {
        [Algorithm::Knn, Algorithm::Logreg, Algorithm::Hybrid]
            .into_iter()
            .filter_map(|a| f1(a.method()).map(|f| (a, f)))
            .fold((Algorithm::Logreg, f64::MIN), |best, (a, f)| {
                if f > best.1 {
                    (a, f)
                } else {
                    best
                }
            })
            .0
    });
    let temperature_of = |m: Method| {
        cv.iter()
            .find(|r| r.method == m)
            .map_or(1.0, |r| r.temperature)
    };
    let head = match algorithm {
        Algorithm::Knn => FittedHead::Knn(Knn::fit(ex, opts.k)),
        Algorithm::Logreg => FittedHead::Logreg(LogReg::fit(ex, opts.alpha, opts.max_iterations)?),
        Algorithm::Hybrid => {
            let texts = texts.ok_or_else(|| {
                crate::error::ClassifyError::NotEnoughData(
                    "the hybrid head needs the tickets' texts".into(),
                )
            })?;
            FittedHead::Hybrid(Box::new(crate::model::Hybrid {
                logreg: LogReg::fit(ex, opts.alpha, opts.max_iterations)?,
                logreg_temperature: temperature_of(Method::Logreg),
                tfidf: TfIdfKnn::fit(texts, &ex.y, ex.classes.len(), opts.k),
                tfidf_temperature: temperature_of(Method::TfidfKnn),
                texts: texts.to_vec(),
            }))
        }
    };
    let temperature = temperature_of(algorithm.method());
    Ok(RouterModel::new(
        crate::model::ModelMeta {
            format: crate::model::FORMAT,
            version: 0,
            label: label.to_owned(),
            algorithm,
            classes: ex.classes.clone(),
            class_counts: ex.class_counts(),
            dim: ex.x.ncols(),
            temperature,
            threshold: opts.threshold,
            examples: ex.len(),
            data_hash: ex.hash(),
            embedding_model: embedding_model.to_owned(),
            trained_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            folds: opts.folds,
            seed: opts.seed,
            k: opts.k,
            alpha: opts.alpha,
            cv,
        },
        head,
    ))
}
