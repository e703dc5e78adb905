//! Choosing the next token: greedy at temperature 0 (deterministic), otherwise temperature and top-p
//! (nucleus) sampling from a seeded generator, so a run with the same seed repeats. A repetition penalty
//! over the recent tokens (as llama.cpp's `repeat_penalty`) keeps small models out of loops.

use serde::{Deserialize, Serialize};

/// How to sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// 0 = greedy (always the most likely token); higher is more varied.
    pub temperature: f32,
    /// Sample from the smallest set of tokens whose probabilities add up to this (1 = all).
    pub top_p: f32,
    /// Seed of the sampler's generator.
    pub seed: u64,
    /// At most this many tokens are written.
    pub max_tokens: usize,
    /// Generation stops before any of these strings (they are not part of the answer).
    pub stop: Vec<String>,
    /// Logits of tokens among the last `repeat_last_n` are divided (positive) or multiplied (negative)
    /// by this; 1 = off.
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks at.
    pub repeat_last_n: usize,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 0.9,
            seed: 42,
            max_tokens: 384,
            stop: Vec::new(),
            repeat_penalty: 1.1,
            repeat_last_n: 64,
        }
    }
}

/// splitmix64: a small, well-mixed generator; sampling needs reproducibility, not cryptography.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 24 high bits → [0, 1).
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Picks tokens for one generation.
pub(crate) struct Sampler {
    settings: Sampling,
    rng: SplitMix64,
}

impl Sampler {
    pub(crate) fn new(settings: &Sampling) -> Self {
        Self {
            settings: settings.clone(),
            rng: SplitMix64(settings.seed),
        }
    }

    /// The next token given the last position's `logits` and the tokens so far (prompt included).
    pub(crate) fn next(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        let penalty = self.settings.repeat_penalty;
        if penalty != 1.0 && penalty > 0.0 {
            let recent = &history[history.len().saturating_sub(self.settings.repeat_last_n)..];
            let mut seen = std::collections::HashSet::with_capacity(recent.len());
            for &id in recent {
                if let Some(l) = logits.get_mut(id as usize).filter(|_| seen.insert(id)) {
                    *l = if *l >= 0.0 {
                        *l / penalty
                    } else {
                        *l * penalty
                    };
                }
            }
        }
        if self.settings.temperature <= 0.0 {
            return argmax(logits);
        }
        self.top_p(logits)
    }

    fn top_p(&mut self, logits: &[f32]) -> u32 {
        let t = self.settings.temperature;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut probs: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, ((l - max) / t).exp()))
            .collect();
        let sum: f32 = probs.iter().map(|p| p.1).sum();
        probs.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        // The nucleus: the most likely tokens up to top_p of the mass (at least one).
        let cut = self.settings.top_p.clamp(0.0, 1.0) * sum;
        let mut kept = 0.0;
        let mut n = 0;
        for p in &probs {
            n += 1;
            kept += p.1;
            if kept >= cut {
                break;
            }
        }
        let mut target = self.rng.next_f32() * kept;
        for p in &probs[..n] {
            target -= p.1;
            if target <= 0.0 {
                return p.0;
            }
        }
        probs[n - 1].0
    }
}

fn argmax(logits: &[f32]) -> u32 {
    logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_best_and_the_penalty_demotes_repeats() {
        let settings = Sampling {
            repeat_penalty: 1.0,
            ..Sampling::default()
        };
        let mut s = Sampler::new(&settings);
        assert_eq!(s.next(&mut [0.1, 2.0, 1.9], &[]), 1);
        let mut s = Sampler::new(&Sampling {
            repeat_penalty: 1.5,
            ..settings
        });
        assert_eq!(s.next(&mut [0.1, 2.0, 1.9], &[1]), 2);
    }

    #[test]
    fn top_p_sampling_repeats_with_its_seed_and_stays_in_the_nucleus() {
        let settings = Sampling {
            temperature: 1.0,
            top_p: 0.9,
            repeat_penalty: 1.0,
            ..Sampling::default()
        };
        let logits = [3.0, 2.9, -5.0, -5.0];
        let draw = |seed| {
            let mut s = Sampler::new(&Sampling {
                seed,
                ..settings.clone()
            });
            (0..50)
                .map(|_| s.next(&mut logits.clone(), &[]))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        let picks = draw(7);
        assert!(picks.iter().all(|&t| t < 2), "{picks:?}");
        assert!(picks.contains(&0) && picks.contains(&1), "{picks:?}");
    }
}
