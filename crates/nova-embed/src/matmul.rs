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
