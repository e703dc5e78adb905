//! Multinomial logistic regression on the embeddings, fitted by `linfa-logistic` (L-BFGS, L2 penalty).

use crate::data::Examples;
use crate::error::{ClassifyError, Result};
use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, ArrayView2};

/// Logit given to a class absent from a training fold: it is never predicted.
const ABSENT: f32 = -30.0;

/// A fitted linear head: `logits = x · weights + bias`.
#[derive(Debug, Clone)]
pub struct LogReg {
    /// `dim × classes`.
    pub weights: Array2<f32>,
    /// One per class.
    pub bias: Array1<f32>,
}

impl LogReg {
    /// Fits on `ex`; `alpha` is the L2 penalty (on the summed, not averaged, log-loss).
    pub fn fit(ex: &Examples, alpha: f64, max_iterations: u64) -> Result<Self> {
        let x = ex.x.mapv(f64::from);
        let y = Array1::from(ex.y.clone());
        let fitted = MultiLogisticRegression::default()
            .alpha(alpha)
            .max_iterations(max_iterations)
            .fit(&Dataset::new(x, y))
            .map_err(|e| ClassifyError::Fit(Box::new(e)))?;
        let n_classes = ex.classes.len();
        let mut weights = Array2::zeros((ex.x.ncols(), n_classes));
        let mut bias = Array1::from_elem(n_classes, ABSENT);
        // linfa numbers the classes it saw; a fold may lack a rare one.
        for (col, &class) in fitted.classes().iter().enumerate() {
            weights
                .column_mut(class)
                .assign(&fitted.params().column(col).mapv(|w| w as f32));
            bias[class] = fitted.intercept()[col] as f32;
        }
        Ok(Self { weights, bias })
    }

    /// Raw class scores, one row per query.
    pub fn logits(&self, queries: ArrayView2<f32>) -> Array2<f32> {
        queries.dot(&self.weights) + &self.bias
    }
}
