//! The machine's single-precision matmul peak as our backend reaches it, so benchmark figures can be read
//! as a fraction of what this CPU can do rather than as bare numbers that swing with the host's load.
//! Like the encoder, it runs one single-threaded matmul stream per rayon worker.

use crate::error::Result;
use candle_core::{Device, Tensor};
use rayon::prelude::*;
use std::time::Instant;

/// Square size of the reference matmul: large enough to reach steady-state kernel speed.
const N: usize = 1024;

/// Aggregate GFLOP/s of `N×N · N×N` f32 matmuls, one stream per worker of the current rayon pool, each
/// repeated for at least `min_seconds`.
pub fn sgemm_gflops(min_seconds: f64) -> Result<f64> {
    crate::threads::single_threaded_matmuls();
    let workers = rayon::current_num_threads();
    let start = Instant::now();
    let reps: Vec<Result<u32>> = (0..workers)
        .into_par_iter()
        .map(|_| {
            let a = Tensor::randn(0f32, 1.0, (N, N), &Device::Cpu)?;
            let b = Tensor::randn(0f32, 1.0, (N, N), &Device::Cpu)?;
            crate::matmul::matmul(&a, &b)?; // warm-up
            let mut reps = 0u32;
            while reps == 0 || start.elapsed().as_secs_f64() < min_seconds {
                crate::matmul::matmul(&a, &b)?;
                reps += 1;
            }
            Ok(reps)
        })
        .collect();
    let total = reps.into_iter().sum::<Result<u32>>()?;
    let flops = 2.0 * (N as f64).powi(3) * f64::from(total);
    Ok(flops / start.elapsed().as_secs_f64() / 1e9)
}
