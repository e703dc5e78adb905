//! Ticket routing: classifiers over stored ticket embeddings — a similarity-weighted k-nearest-neighbour
//! vote and a multinomial logistic regression head — with temperature calibration, stratified
//! cross-validation, metrics and a confusion-matrix plot, plus the baselines they are judged against
//! (majority class, TF-IDF kNN). Vectors and labels in, predictions out: no store, model or HTTP here.

mod calibrate;
mod cv;
mod data;
mod error;
mod knn;
mod logreg;
mod method;
mod metrics;
mod model;
mod plot;
mod tfidf;

pub use calibrate::{fit_temperature, softmax_rows};
pub use cv::{cross_validate, train, TrainOptions};
pub use data::{stratified_folds, Examples};
pub use error::{ClassifyError, Result};
pub use knn::Knn;
pub use logreg::LogReg;
pub use method::{Method, MethodReport};
pub use metrics::{ClassMetrics, CoveragePoint, Report};
pub use model::{
    Algorithm, Codec, FittedHead, Hybrid, LabelScore, ModelMeta, Prediction, RouterModel,
};
pub use plot::confusion_svg;
pub use tfidf::TfIdfKnn;
