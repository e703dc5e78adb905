//! `nova bench generate`: the local generator's time to first token and decode speed on a given chat,
//! median of several runs after a warm-up, for comparison with llama.cpp on the same file and prompt.

use super::Outcome;
use crate::cli::BenchGenerateArgs;
use crate::config::Config;
use anyhow::{ensure, Context, Result};
use nova_engine::nova_generate::{ChatMessage, LocalGenerator, SpeedSample};

pub fn run(config: &Config, args: &BenchGenerateArgs) -> Result<Outcome> {
    ensure!(args.runs >= 1, "--runs must be at least 1");
    let path = args
        .gguf
        .clone()
        .unwrap_or_else(|| config.generation.model_path.clone());
    let messages: Vec<ChatMessage> = serde_json::from_slice(&fs_err::read(&args.messages)?)
        .with_context(|| {
            format!(
                "{}: expected [{{role, content}}, …]",
                args.messages.display()
            )
        })?;
    let model = LocalGenerator::load(&path)?;
    model.measure(&messages, args.tokens)?; // warm-up
    let mut runs: Vec<SpeedSample> = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        runs.push(model.measure(&messages, args.tokens)?);
    }
    let median = |f: fn(&SpeedSample) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let report = serde_json::json!({
        "engine": "KB Nova local generator",
        "model": path,
        "prompt_tokens": runs[0].prompt_tokens,
        "completion_tokens": args.tokens,
        // Candle's matmuls run on rayon's pool: `--threads`, else every core.
        "threads": match config.model.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        },
        "ttft_ms": median(|r| r.ttft_ms),
        "tokens_per_second": median(|r| r.tokens_per_second),
        "text": runs[0].text,
        "runs": runs,
    });
    println!(
        "prompt {} tokens: first token {:.0} ms, decode {:.1} tokens/s (median of {})",
        runs[0].prompt_tokens,
        median(|r| r.ttft_ms),
        median(|r| r.tokens_per_second),
        args.runs
    );
    if let Some(out) = &args.out {
        fs_err::write(out, serde_json::to_vec_pretty(&report)?)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(Outcome::Done)
}
