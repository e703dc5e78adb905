//! `nova runs list|show|compare`: the runs `nova eval` and `nova tickets train|eval` recorded.

use super::Outcome;
use crate::cli::{RunsCompareArgs, RunsListArgs, RunsShowArgs};
use anyhow::Result;
use nova_engine::{Engine, RequestCtx};

fn when(unix: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(unix).unwrap_or(0), 0).map_or_else(
        || unix.to_string(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

pub fn list(engine: &Engine, args: &RunsListArgs) -> Result<Outcome> {
    let runs = engine.runs(&RequestCtx::local(), args.kind.as_deref(), args.limit)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(Outcome::Done);
    }
    if runs.is_empty() {
        println!("no runs recorded yet: `nova eval` and `nova tickets train|eval` record theirs");
        return Ok(Outcome::Done);
    }
    println!(
        "{:>4}  {:<16} {:<14} {:>6}  {:<28} name",
        "run", "started (UTC)", "kind", "secs", "headline"
    );
    for r in &runs {
        let headline = r
            .headline
            .as_ref()
            .map_or_else(String::new, |(k, v)| format!("{k} {v:.4}"));
        println!(
            "{:>4}  {:<16} {:<14} {:>6}  {:<28} {}",
            r.id,
            when(r.started_at),
            r.kind,
            r.seconds,
            headline,
            r.name
        );
    }
    Ok(Outcome::Done)
}

pub fn show(engine: &Engine, args: &RunsShowArgs) -> Result<Outcome> {
    let run = engine.run(&RequestCtx::local(), args.id)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
        return Ok(Outcome::Done);
    }
    let r = &run.run;
    println!("run {} — {} ({})", run.id, r.name, r.kind);
    println!(
        "started {} UTC, {} s{}",
        when(r.started_at),
        r.ended_at.saturating_sub(r.started_at),
        run.mlflow_run_id
            .as_ref()
            .map_or_else(String::new, |id| format!("; MLflow run {id}"))
    );
    for (title, pairs) in [("parameters", &r.params), ("tags", &r.tags)] {
        println!("\n{title}:");
        for (k, v) in pairs {
            println!("  {k:<28} {v}");
        }
    }
    println!("\nmetrics:");
    for (k, v) in &r.metrics {
        println!("  {k:<40} {v:.4}");
    }
    Ok(Outcome::Done)
}

pub fn compare(engine: &Engine, args: &RunsCompareArgs) -> Result<Outcome> {
    let ctx = RequestCtx::local();
    let (a, b) = (engine.run(&ctx, args.a)?, engine.run(&ctx, args.b)?);
    let c = nova_track::compare(&a, &b);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(Outcome::Done);
    }
    let cell = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.4}"));
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "metric",
        format!("run {}", c.a),
        format!("run {}", c.b),
        "Δ"
    );
    for d in &c.metrics {
        let delta = d
            .delta
            .map_or_else(|| "—".to_owned(), |v| format!("{v:+.4}"));
        println!(
            "{:<40} {:>10} {:>10} {:>10}",
            d.key,
            cell(d.a),
            cell(d.b),
            delta
        );
    }
    if c.params.is_empty() {
        println!("\nsame parameters");
    } else {
        println!("\nparameters that differ:");
        for p in &c.params {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
            println!("  {:<28} {} → {}", p.key, show(&p.a), show(&p.b));
        }
    }
    Ok(Outcome::Done)
}
