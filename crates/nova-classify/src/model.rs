//! The saved router: metadata (label, classes, calibration, threshold, training-data hash, the
//! cross-validation that chose it) and the fitted head, one JSON file per version under a folder with a
//! `CURRENT` pointer. Vectors are stored as base64 little-endian f32, so a loaded model predicts
//! exactly what the trained one did.

use crate::calibrate::{argmax, softmax_rows};
use crate::error::{ClassifyError, Result};
use crate::knn::Knn;
use crate::logreg::LogReg;
use crate::method::{mix, Method, MethodReport};
use crate::tfidf::TfIdfKnn;
use base64::Engine as _;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Model file format version.
pub const FORMAT: u32 = 1;
const CURRENT: &str = "CURRENT";

/// Which head a router uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Similarity-weighted k-nearest-neighbour vote.
    Knn,
    /// Multinomial logistic regression.
    Logreg,
    /// Logistic regression on the embeddings combined with TF-IDF kNN on the text.
    Hybrid,
}

impl Algorithm {
    /// The cross-validation entry that measured this head.
    pub fn method(self) -> Method {
        match self {
            Self::Knn => Method::Knn,
            Self::Logreg => Method::Logreg,
            Self::Hybrid => Method::Hybrid,
        }
    }
}

/// Everything about a model except its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// File format version.
    pub format: u32,
    /// Model version within its folder (1, 2, …); 0 until saved.
    pub version: u32,
    /// The payload field it predicts, e.g. `category`.
    pub label: String,
    /// The head.
    pub algorithm: Algorithm,
    /// Label names, sorted.
    pub classes: Vec<String>,
    /// Training examples per class.
    pub class_counts: Vec<usize>,
    /// Embedding dimension.
    pub dim: usize,
    /// Calibration temperature.
    pub temperature: f32,
    /// Default "needs human" threshold on the top probability.
    pub threshold: f32,
    /// Training examples.
    pub examples: usize,
    /// sha256 of the training labels and vectors.
    pub data_hash: String,
    /// Embedding model of the vectors.
    pub embedding_model: String,
    /// Unix seconds.
    pub trained_at: u64,
    /// Cross-validation folds.
    pub folds: usize,
    /// Fold seed.
    pub seed: u64,
    /// kNN neighbours.
    pub k: usize,
    /// Logistic regression L2 penalty.
    pub alpha: f64,
    /// Cross-validated results of every method compared.
    pub cv: Vec<MethodReport>,
}

/// The hybrid head's parts: each calibrated on its own, then mixed.
#[derive(Debug, Clone)]
pub struct Hybrid {
    /// Logistic regression on the embeddings.
    pub logreg: LogReg,
    /// Its calibration temperature.
    pub logreg_temperature: f32,
    /// TF-IDF kNN over the training texts.
    pub tfidf: TfIdfKnn,
    /// Its calibration temperature.
    pub tfidf_temperature: f32,
    /// Training texts (saved; the index is rebuilt from them, with `tfidf`'s labels and k, on load).
    pub texts: Vec<String>,
}

/// A fitted head.
#[derive(Debug, Clone)]
pub enum FittedHead {
    /// kNN.
    Knn(Knn),
    /// Logistic regression.
    Logreg(LogReg),
    /// Both views of the ticket.
    Hybrid(Box<Hybrid>),
}

/// A label and its calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabelScore {
    /// Label.
    pub label: String,
    /// Calibrated probability.
    pub probability: f32,
}

/// A routing decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prediction {
    /// The most likely label.
    pub label: String,
    /// Its calibrated probability.
    pub confidence: f32,
    /// True when `confidence` is below the threshold: route to a person instead.
    pub needs_human: bool,
    /// The most likely labels, best first.
    pub top: Vec<LabelScore>,
}

/// A trained router.
#[derive(Debug, Clone)]
pub struct RouterModel {
    /// Metadata and metrics.
    pub meta: ModelMeta,
    head: FittedHead,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum HeadFile {
    Knn {
        k: usize,
        labels: Vec<usize>,
        vectors: String,
    },
    Logreg {
        weights: String,
        bias: String,
    },
    Hybrid {
        weights: String,
        bias: String,
        logreg_temperature: f32,
        tfidf_temperature: f32,
        k: usize,
        labels: Vec<usize>,
        texts: Vec<String>,
    },
}

#[derive(Serialize, Deserialize)]
struct ModelFile {
    #[serde(flatten)]
    meta: ModelMeta,
    head: HeadFile,
}

fn encode(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(text: &str, shape: (usize, usize)) -> std::result::Result<Array2<f32>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| e.to_string())?;
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Array2::from_shape_vec(shape, values).map_err(|e| format!("weights of the wrong size: {e}"))
}

fn linear(weights: &str, bias: &str, dim: usize, c: usize) -> std::result::Result<LogReg, String> {
    Ok(LogReg {
        weights: decode(weights, (dim, c))?,
        bias: Array1::from(decode(bias, (1, c))?.into_raw_vec_and_offset().0),
    })
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ClassifyError + '_ {
    move |source| ClassifyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn json_err(path: &Path) -> impl Fn(serde_json::Error) -> ClassifyError + '_ {
    move |source| ClassifyError::Json {
        path: path.to_path_buf(),
        source,
    }
}

fn bad_model(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> ClassifyError + '_ {
    move |problem| ClassifyError::BadModel {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    }
}

/// Turns a model file's bytes into their stored form or back (sealing under encryption at rest).
pub type Codec<'a> = dyn Fn(Vec<u8>) -> std::result::Result<Vec<u8>, String> + 'a;

/// Writes via a temporary file and a rename, so readers see the old or the new file, never half of one.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs_err::write(&tmp, bytes).map_err(io_err(&tmp))?;
    fs_err::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_err(&tmp))?;
    fs_err::rename(&tmp, path).map_err(io_err(path))
}

impl RouterModel {
    /// Wraps a fitted head.
    pub fn new(meta: ModelMeta, head: FittedHead) -> Self {
        Self { meta, head }
    }

    /// Whether predictions need the tickets' texts as well as their vectors.
    pub fn needs_text(&self) -> bool {
        matches!(self.head, FittedHead::Hybrid(_))
    }

    /// Calibrated class probabilities, one row per query vector; `texts` (one per row) are required
    /// when [`Self::needs_text`].
    pub fn probabilities(&self, x: ArrayView2<f32>, texts: &[String]) -> Result<Array2<f32>> {
        if x.ncols() != self.meta.dim {
            return Err(ClassifyError::Dimension {
                expected: self.meta.dim,
                got: x.ncols(),
            });
        }
        let logits = match &self.head {
            FittedHead::Knn(knn) => knn.logits(x),
            FittedHead::Logreg(lr) => lr.logits(x),
            FittedHead::Hybrid(h) => {
                if texts.len() != x.nrows() {
                    return Err(ClassifyError::NotEnoughData(format!(
                        "the hybrid router needs one text per vector ({} vectors, {} texts)",
                        x.nrows(),
                        texts.len()
                    )));
                }
                mix(
                    &h.logreg.logits(x),
                    h.logreg_temperature,
                    &h.tfidf.logits(texts),
                    h.tfidf_temperature,
                )
            }
        };
        Ok(softmax_rows(&logits, self.meta.temperature))
    }

    /// Routing decisions: top `top` labels, "needs human" below `threshold` (default: the model's).
    pub fn predict(
        &self,
        x: ArrayView2<f32>,
        texts: &[String],
        threshold: Option<f32>,
        top: usize,
    ) -> Result<Vec<Prediction>> {
        let threshold = threshold.unwrap_or(self.meta.threshold);
        let probs = self.probabilities(x, texts)?;
        Ok(probs
            .rows()
            .into_iter()
            .map(|row| {
                let row = row.to_vec();
                let (best, confidence) = argmax(&row);
                let mut order: Vec<usize> = (0..row.len()).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                Prediction {
                    label: self.meta.classes[best].clone(),
                    confidence,
                    needs_human: confidence < threshold,
                    top: order
                        .into_iter()
                        .take(top.max(1))
                        .map(|i| LabelScore {
                            label: self.meta.classes[i].clone(),
                            probability: row[i],
                        })
                        .collect(),
                }
            })
            .collect())
    }

    fn to_file(&self) -> ModelFile {
        let head = match &self.head {
            FittedHead::Knn(knn) => HeadFile::Knn {
                k: knn.k,
                labels: knn.y.clone(),
                vectors: encode(&knn.x.iter().copied().collect::<Vec<_>>()),
            },
            FittedHead::Logreg(lr) => HeadFile::Logreg {
                weights: encode(&lr.weights.iter().copied().collect::<Vec<_>>()),
                bias: encode(&lr.bias.to_vec()),
            },
            FittedHead::Hybrid(h) => HeadFile::Hybrid {
                weights: encode(&h.logreg.weights.iter().copied().collect::<Vec<_>>()),
                bias: encode(&h.logreg.bias.to_vec()),
                logreg_temperature: h.logreg_temperature,
                tfidf_temperature: h.tfidf_temperature,
                k: h.tfidf.k(),
                labels: h.tfidf.labels().to_vec(),
                texts: h.texts.clone(),
            },
        };
        ModelFile {
            meta: self.meta.clone(),
            head,
        }
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &|b| Ok(b))
    }

    /// Reads a model file whose bytes `unwrap` turns back into the JSON [`Self::save_version_with`]
    /// encoded (the engine opens a sealed file; an `Err` names what failed).
    pub fn load_with(path: &Path, unwrap: &Codec<'_>) -> Result<Self> {
        let err = bad_model(path);
        let bytes = unwrap(fs_err::read(path).map_err(io_err(path))?).map_err(|e| err(&e))?;
        let file: ModelFile = serde_json::from_slice(&bytes).map_err(json_err(path))?;
        if file.meta.format != FORMAT {
            return Err(err(&format!(
                "model format {} is not supported (expected {FORMAT})",
                file.meta.format
            )));
        }
        let (dim, c) = (file.meta.dim, file.meta.classes.len());
        let head = match file.head {
            HeadFile::Knn { k, labels, vectors } => {
                let x = decode(&vectors, (labels.len(), dim)).map_err(|e| err(&e))?;
                if labels.iter().any(|&l| l >= c) {
                    return Err(err(&"a kNN label is out of range"));
                }
                FittedHead::Knn(Knn {
                    k,
                    x,
                    y: labels,
                    n_classes: c,
                })
            }
            HeadFile::Logreg { weights, bias } => {
                FittedHead::Logreg(linear(&weights, &bias, dim, c).map_err(|e| err(&e))?)
            }
            HeadFile::Hybrid {
                weights,
                bias,
                logreg_temperature,
                tfidf_temperature,
                k,
                labels,
                texts,
            } => {
                if labels.len() != texts.len() || labels.iter().any(|&l| l >= c) {
                    return Err(err(&"hybrid texts and labels do not match"));
                }
                FittedHead::Hybrid(Box::new(Hybrid {
                    logreg: linear(&weights, &bias, dim, c).map_err(|e| err(&e))?,
                    logreg_temperature,
                    tfidf: TfIdfKnn::fit(&texts, &labels, c, k),
                    tfidf_temperature,
                    texts,
                }))
            }
        };
        Ok(Self {
            meta: file.meta,
            head,
        })
    }

    /// Saves as the next version in `dir` (`v1.json`, `v2.json`, …) and points `CURRENT` at it.
    /// Returns the file written; `self.meta.version` is set.
    pub fn save_version(&mut self, dir: &Path) -> Result<PathBuf> {
        self.save_version_with(dir, &|b| Ok(b))
    }

    /// [`Self::save_version`] with the file's bytes passed through `encode` (the engine seals them under
    /// encryption at rest: hybrid routers keep their training texts).
    pub fn save_version_with(&mut self, dir: &Path, encode: &Codec<'_>) -> Result<PathBuf> {
        fs_err::create_dir_all(dir).map_err(io_err(dir))?;
        let latest = versions(dir)?.into_iter().max().unwrap_or(0);
        self.meta.version = latest + 1;
        let path = dir.join(format!("v{}.json", self.meta.version));
        let bytes = serde_json::to_vec(&self.to_file()).map_err(json_err(&path))?;
        let bytes = encode(bytes).map_err(|e| bad_model(&path)(&e))?;
        write_atomic(&path, &bytes)?;
        write_atomic(
            &dir.join(CURRENT),
            format!("{}\n", self.meta.version).as_bytes(),
        )?;
        Ok(path)
    }

    /// The version `CURRENT` names in `dir`, if any.
    pub fn current_version(dir: &Path) -> Result<Option<u32>> {
        let path = dir.join(CURRENT);
        match fs_err::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| {
                bad_model(&path)(&format!("`{}` is not a version number", text.trim()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Loads the current version in `dir`, if one was saved.
    pub fn load_current(dir: &Path) -> Result<Option<Self>> {
        Self::current_version(dir)?
            .map(|v| Self::load_version(dir, v))
            .transpose()
    }

    /// Loads version `version` saved in `dir`.
    pub fn load_version(dir: &Path, version: u32) -> Result<Self> {
        Self::load(&dir.join(format!("v{version}.json")))
    }

    /// Loads version `version` saved in `dir` by [`Self::save_version_with`].
    pub fn load_version_with(dir: &Path, version: u32, unwrap: &Codec<'_>) -> Result<Self> {
        Self::load_with(&dir.join(format!("v{version}.json")), unwrap)
    }
}

/// Version numbers saved in `dir`.
fn versions(dir: &Path) -> Result<Vec<u32>> {
    let entries = fs_err::read_dir(dir).map_err(io_err(dir))?;
    Ok(entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix('v')?.strip_suffix(".json")?.parse().ok()
        })
        .collect())
}
