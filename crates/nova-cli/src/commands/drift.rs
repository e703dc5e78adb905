//! `nova drift report|baseline`: the query stream of a KB against its reference window.

use super::{kb_name, Outcome};
use crate::cli::DriftArgs;
use crate::config::Config;
use anyhow::Result;
use nova_engine::{DriftFigures, Engine, RequestCtx};

fn figures_line(what: &str, f: &DriftFigures) -> String {
    format!(
        "{what:<10} {:>7} queries  low score {:>5.1} %  no results {:>5.1} %  out of vocabulary {:>5.1} %",
        f.queries,
        f.low_score_share * 100.0,
        f.zero_result_rate * 100.0,
        f.oov_rate * 100.0
    )
}

pub fn report(config: &Config, engine: &Engine, args: &DriftArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let r = engine.drift(&RequestCtx::local(), &name)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(Outcome::Done);
    }
    println!("{}", figures_line("current", &r.current));
    let Some(reference) = &r.reference else {
        println!(
            "no reference yet: one is frozen from the first {} searches ([drift] window), or now with \
             `nova drift baseline --kb {name}`",
            config.drift.window
        );
        return Ok(Outcome::Done);
    };
    println!("{}", figures_line("reference", &reference.figures));
    for s in &r.signals {
        let verdict = if s.alert { "ALERT" } else { "ok" };
        if s.metric == "centroid_shift" {
            println!(
                "  {:<17} {:.3} (threshold {})  {verdict}",
                s.metric, s.value, s.threshold
            );
        } else {
            println!(
                "  {:<17} {:+.1} points (threshold +{:.1})  {verdict}",
                s.metric,
                (s.value - s.reference) * 100.0,
                s.threshold * 100.0
            );
        }
    }
    Ok(Outcome::Done)
}

pub fn baseline(config: &Config, engine: &Engine, args: &DriftArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let reference = engine.drift_baseline(&RequestCtx::local(), &name)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reference)?);
    } else {
        println!(
            "drift reference of `{name}` is now its last {} searches",
            reference.figures.queries
        );
        println!("{}", figures_line("reference", &reference.figures));
    }
    Ok(Outcome::Done)
}
