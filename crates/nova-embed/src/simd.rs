//! Element-wise loops compiled for the widest vector unit the CPU has, picked at run time.
//!
//! Why: the binary targets baseline x86-64, so the compiler vectorises the encoder's element-wise
//! kernels (softmax, GELU, quantising activations) 4 floats wide with SSE2. On AVX-512 machines that
//! left them at ~30 % of an int8 passage pass (`perf`). [`widest`] runs a closure inside a function
//! compiled with AVX-512 (or AVX2 + FMA) enabled; the closure's loops are inlined into it and
//! vectorised 16 (or 8) wide. The results are bit-for-bit the same at every width: Rust never fuses
//! a multiply and an add on its own, and each lane computes what the scalar loop would.

#![allow(unsafe_code)]

use std::sync::OnceLock;

/// The vector units worth compiling for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Avx512,
    Avx2,
    Baseline,
}

fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Level::Avx2;
            }
        }
        Level::Baseline
    })
}

/// Runs `f` compiled for the widest vector unit this CPU has. `f` should be `#[inline(always)]` (a
/// closure with the attribute, or one calling such functions) so its loops are compiled in here.
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        match level() {
            // SAFETY: AVX-512 F/BW/DQ/VL were detected on this CPU by `level`.
            Level::Avx512 => unsafe { avx512(f) },
            // SAFETY: AVX2 and FMA were detected on this CPU by `level`.
            Level::Avx2 => unsafe { avx2(f) },
            Level::Baseline => f(),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

/// # Safety
/// The CPU must have AVX-512 F, BW, DQ and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_gives_the_baseline_bits() {
        let values: Vec<f32> = (0..1000)
            .map(|i| ((i * 7919) % 2001) as f32 / 97.0 - 10.0)
            .collect();
        let run = || -> Vec<u32> {
            values
                .iter()
                .map(|&v| (crate::kernels::exp(v) * 0.5 + v * v).to_bits())
                .collect()
        };
        let base = run();
        assert_eq!(widest(run), base);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: features checked just above.
                assert_eq!(unsafe { avx2(run) }, base);
            }
        }
    }
}
