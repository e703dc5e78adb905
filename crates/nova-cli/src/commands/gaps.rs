//! `nova gaps`: the questions a knowledge base answers badly, grouped and ranked.

use super::{kb_name, Outcome};
use crate::cli::GapsArgs;
use crate::config::Config;
use anyhow::{bail, Result};
use nova_engine::{Engine, GapOptions, RequestCtx};

pub fn run(config: &Config, engine: &Engine, args: &GapsArgs) -> Result<Outcome> {
    for (name, v) in [
        ("--max-best", args.max_best),
        ("--similarity", args.similarity),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bail!("{name} must be between 0 and 1, got {v}");
        }
    }
    let name = kb_name(config, args.kb.as_deref())?;
    let opts = GapOptions {
        days: args.days,
        max_best: args.max_best,
        similarity: args.similarity,
        limit: args.limit.max(1),
    };
    let gaps = engine.gaps(&RequestCtx::local(), &name, &opts)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "gaps": gaps }))?
        );
        return Ok(Outcome::Done);
    }
    if gaps.is_empty() {
        println!(
            "no knowledge gaps in `{name}` over the last {} days (no search found nothing or matched \
             poorly, no answer was refused, no result was rated not helpful)",
            args.days
        );
        return Ok(Outcome::Done);
    }
    for (i, g) in gaps.iter().enumerate() {
        println!(
            "{}. asked {} times ({} distinct): {} found nothing, {} matched poorly, {} answers refused, \
             {} rated not helpful",
            i + 1,
            g.volume,
            g.distinct,
            g.no_results,
            g.low_score,
            g.refused,
            g.not_helpful
        );
        for q in &g.examples {
            println!("     - {q}");
        }
    }
    Ok(Outcome::Done)
}
