//! The machine's single-precision matmul peak as candle reaches it, so benchmark figures can be read as a
//! fraction of what this CPU can do rather than as bare numbers that swing with the host's load. It uses
//! the same matmul backend as the encoder.

use crate::error::Result;
use candle_core::{Device, Tensor};
use std::time::Instant;

/// Square size of the reference matmul: large enough to reach steady-state kernel speed.
const N: usize = 1024;

/// GFLOP/s of an `N×N · N×N` f32 matmul, repeated for at least `min_seconds`, using the calling thread's
/// rayon pool and `RAYON_NUM_THREADS` (which candle reads for matmul parallelism).
pub fn sgemm_gflops(min_seconds: f64) -> Result<f64> {
    let a = Tensor::randn(0f32, 1.0, (N, N), &Device::Cpu)?;
    let b = Tensor::randn(0f32, 1.0, (N, N), &Device::Cpu)?;
    crate::matmul::matmul(&a, &b)?; // warm-up
    let start = Instant::now();
    let mut reps = 0u32;
    while reps == 0 || start.elapsed().as_secs_f64() < min_seconds {
        crate::matmul::matmul(&a, &b)?;
        reps += 1;
    }
    let flops = 2.0 * (N as f64).powi(3) * f64::from(reps);
    Ok(flops / start.elapsed().as_secs_f64() / 1e9)
}
