//! The encoder's one matmul entry point: OpenBLAS when the `openblas` feature is on, candle's own gemm
//! otherwise. Both take contiguous `(…, m, k) · (…, k, n)` or a shared 2-D right-hand side.

use candle_core::Tensor;

/// Matrix product of contiguous f32 tensors.
pub(crate) fn matmul(lhs: &Tensor, rhs: &Tensor) -> candle_core::Result<Tensor> {
    #[cfg(feature = "openblas")]
    {
        crate::blas::matmul(lhs, rhs)
    }
    #[cfg(not(feature = "openblas"))]
    {
        lhs.broadcast_matmul(rhs)
    }
}

/// `x · w_t + bias (+ residual)`; with OpenBLAS one fused pass, otherwise candle ops.
pub(crate) fn linear(
    x: &Tensor,
    w_t: &Tensor,
    bias: &[f32],
    residual: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    #[cfg(feature = "openblas")]
    {
        crate::blas::linear(x, w_t, bias, residual)
    }
    #[cfg(not(feature = "openblas"))]
    {
        let bias = Tensor::new(bias, x.device())?;
        let y = x.broadcast_matmul(w_t)?.broadcast_add(&bias)?;
        match residual {
            Some(r) => y + r,
            None => Ok(y),
        }
    }
}
