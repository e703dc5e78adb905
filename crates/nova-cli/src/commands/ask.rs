//! `nova ask`: an answer from the knowledge base streamed to the terminal, then its sources.

use super::{kb_name, Outcome};
use crate::cli::{AskArgs, GeneratorArgs};
use crate::config::Config;
use anyhow::Result;
use nova_engine::{Answer, AnswerOptions, Engine, RequestCtx};
use std::io::Write;
use std::ops::ControlFlow;

pub fn run(config: &Config, engine: &Engine, args: &AskArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let mut opts = answer_options(engine, &args.generation)?;
    opts.filter = super::kb::parse_filters(&args.filters)?;
    let stream = !args.json;
    let mut stdout = std::io::stdout();
    let mut on_token = |text: &str| {
        if stream {
            // A closed pipe (`nova ask … | head`) stops generation instead of failing.
            if write!(stdout, "{text}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    };
    let answer = engine.answer(
        &RequestCtx::local(),
        &name,
        &args.question,
        &opts,
        &mut on_token,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print!("{}", sources(&answer));
    }
    Ok(Outcome::Done)
}

/// `--generator` and `--gguf` replace the configured provider and model before the engine is built.
pub(crate) fn choose_generator(config: &mut Config, args: &GeneratorArgs) {
    if let Some(provider) = args.generator {
        config.generation.provider = provider;
    }
    if let Some(path) = &args.gguf {
        config.generation.model_path = path.clone();
    }
}

/// The engine's answer defaults with `--max-tokens` and `--temperature` applied.
pub(crate) fn answer_options(engine: &Engine, args: &GeneratorArgs) -> Result<AnswerOptions> {
    let mut opts = engine.answer_defaults().clone();
    if let Some(n) = args.max_tokens {
        anyhow::ensure!(n >= 1, "--max-tokens must be at least 1");
        opts.sampling.max_tokens = n;
    }
    if let Some(t) = args.temperature {
        anyhow::ensure!((0.0..=2.0).contains(&t), "--temperature must be within 0–2");
        opts.sampling.temperature = t;
    }
    Ok(opts)
}

/// The sources block printed after a streamed answer.
fn sources(a: &Answer) -> String {
    let mut out = String::from("\n");
    if a.refused {
        return out;
    }
    if a.citations.is_empty() {
        out.push_str("\n(no passage cited; the passages given were:)\n");
        for p in &a.passages {
            out.push_str(&format!("  [{}] {} ({})\n", p.n, p.title, p.source));
        }
    } else {
        out.push_str("\nSources:\n");
        for c in &a.citations {
            let section = c
                .section
                .last()
                .filter(|h| **h != c.title)
                .map(|h| format!(" › {h}"))
                .unwrap_or_default();
            let how = if c.attributed {
                " — cited by KB Nova: the sentence's words are from it"
            } else {
                ""
            };
            out.push_str(&format!(
                "  [{}] {}{section} ({}){how}\n",
                c.n, c.title, c.source
            ));
        }
    }
    if a.dropped_citations > 0 {
        out.push_str(&format!(
            "  ({} citation(s) to passages that were not given were removed)\n",
            a.dropped_citations
        ));
    }
    let t = &a.timings;
    let speed = t
        .tokens_per_second
        .map(|v| format!(", {v:.0} tokens/s"))
        .unwrap_or_default();
    let ttft = t
        .time_to_first_token_ms
        .map(|v| format!(", first token {v:.0} ms"))
        .unwrap_or_default();
    out.push_str(&format!(
        "  — {} ({}), retrieval {:.0} ms{ttft}{speed}\n",
        a.provider, a.model, t.retrieval_ms
    ));
    out
}
