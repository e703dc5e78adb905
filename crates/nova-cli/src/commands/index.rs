//! `nova index list|show|diff|build|rollback|tune` and `nova kb attach-eval`: index versions, their
//! lineage, blue-green rebuilds behind the eval gate.

use super::progress::bar;
use super::{kb_name, Outcome};
use crate::cli::{
    IndexBuildArgs, IndexDiffArgs, IndexListArgs, IndexRollbackArgs, IndexShowArgs, IndexTuneArgs,
    KbAttachEvalArgs,
};
use crate::config::Config;
use anyhow::{bail, Result};
use nova_engine::{
    BeirSet, BuildSpec, Engine, GateRecord, GoldenSet, IndexVersion, KbName, RequestCtx,
};

pub fn attach_eval(engine: &Engine, args: &KbAttachEvalArgs) -> Result<Outcome> {
    let name = KbName::parse(&args.name)?;
    let (label, set) = match (&args.beir, &args.queries, &args.docs) {
        (Some(dir), _, _) => (dir, BeirSet::load(dir)?),
        (None, Some(queries), Some(docs)) => (queries, BeirSet::from_kb_queries(docs, queries)?),
        _ => bail!("give --beir DIR, or --queries FILE with --docs DIR"),
    };
    let label = label.file_name().map_or_else(
        || label.display().to_string(),
        |f| f.to_string_lossy().into(),
    );
    let report = engine.attach_golden(&RequestCtx::local(), &name, GoldenSet::of(label, set))?;
    println!(
        "golden set attached to `{name}`: {} queries kept, {} dropped (none of their judged documents \
         is in the KB), {} judged documents not in the KB",
        report.queries, report.dropped_queries, report.missing_documents
    );
    Ok(Outcome::Done)
}

pub fn list(config: &Config, engine: &Engine, args: &IndexListArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let versions = engine.versions(&RequestCtx::local(), &name)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&versions)?);
        return Ok(Outcome::Done);
    }
    println!(
        "{:>4}  {:<9} {:>6}  {:>6} {:>7}  {:<14} {:>6}  gate",
        "ver", "state", "parent", "words", "chunks", "fusion", "docs"
    );
    for v in &versions {
        println!(
            "{:>4}  {:<9} {:>6}  {:>6} {:>7}  {:<14} {:>6}  {}",
            v.version,
            format!("{:?}", v.state).to_lowercase(),
            v.parent.map_or("-".into(), |p| p.to_string()),
            v.chunking.target_words,
            v.chunks,
            v.fusion,
            v.documents,
            v.gate.as_ref().map_or("-".into(), gate_summary),
        );
    }
    Ok(Outcome::Done)
}

/// `passed nDCG@10 0.612 → 0.634` or `refused: recall_at_5 0.80 → 0.60`.
fn gate_summary(g: &GateRecord) -> String {
    if g.passed {
        format!(
            "passed vs v{}: nDCG@10 {:.4} → {:.4}",
            g.compared_with, g.serving.ndcg_at_10, g.candidate.ndcg_at_10
        )
    } else {
        format!("refused vs v{}: {}", g.compared_with, g.failures.join(", "))
    }
}

pub fn show(config: &Config, engine: &Engine, args: &IndexShowArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let v = engine.version(&RequestCtx::local(), &name, args.version)?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(Outcome::Done)
}

pub fn diff(config: &Config, engine: &Engine, args: &IndexDiffArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let d = engine.diff_versions(&RequestCtx::local(), &name, args.a, args.b)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(Outcome::Done);
    }
    println!("v{} → v{}", d.from, d.to);
    if d.settings.is_empty() {
        println!("settings: unchanged");
    }
    for (k, a, b) in &d.settings {
        println!("  {k}: {a} → {b}");
    }
    println!(
        "documents: {} added, {} removed, {} changed, {} unchanged",
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.unchanged
    );
    for (what, ids) in [("+", &d.added), ("-", &d.removed), ("~", &d.changed)] {
        for id in ids.iter().take(20) {
            println!("  {what} {id}");
        }
        if ids.len() > 20 {
            println!("  {what} … and {} more", ids.len() - 20);
        }
    }
    for (k, a, b) in &d.metrics {
        println!("  {k:<14} {a:.4} → {b:.4} ({:+.4})", b - a);
    }
    Ok(Outcome::Done)
}

pub fn build(config: &Config, engine: &Engine, args: &IndexBuildArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let ctx = RequestCtx::local();
    let spec = BuildSpec {
        chunk_words: args.chunk_words,
        overlap_words: args.overlap_words,
        fusion: args.fusion.as_deref().map(super::fusion).transpose()?,
        threshold: Some(args.threshold),
        no_switch: args.no_switch,
        note: args.note.clone(),
    };
    let documents = engine.info(&ctx, &name)?.documents;
    let progress = bar(documents, "building", "docs");
    let on_commit = |p: nova_engine::IngestProgress| progress.set_position(p.docs_done as u64);
    let report = engine.build_version(&ctx, &name, &spec, &on_commit)?;
    progress.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_build(&name, &report.version, report.switched);
    }
    // A refused build is a failed command: scripts and CI see it.
    if !report.version.gate.as_ref().is_some_and(|g| g.passed) {
        bail!(
            "the eval gate refused version {} of `{name}`",
            report.version.version
        );
    }
    Ok(Outcome::Done)
}

fn print_build(name: &KbName, v: &IndexVersion, switched: bool) {
    let Some(g) = &v.gate else { return };
    println!(
        "version {} of `{name}` built in {:.1} s ({} documents, {} chunks; chunks of {} words, fusion {})",
        v.version, v.build_secs, v.documents, v.chunks, v.chunking.target_words, v.fusion
    );
    println!(
        "gate on {} ({} queries, threshold {}):",
        g.golden, g.queries, g.threshold
    );
    println!(
        "  {:<14} {:>9} {:>9} {:>8}",
        "metric",
        format!("v{}", g.compared_with),
        format!("v{}", v.version),
        "change"
    );
    for ((k, s), (_, c)) in g.serving.named().iter().zip(g.candidate.named()) {
        println!("  {k:<14} {s:>9.4} {c:>9.4} {:>+8.4}", c - s);
    }
    if let Some(run) = g.run_id {
        println!("evaluation recorded as run {run} (nova runs show {run})");
    }
    match (g.passed, switched) {
        (true, true) => println!(
            "passed: `{name}` now serves version {} (nova index rollback --kb {name} switches back)",
            v.version
        ),
        (true, false) => println!(
            "passed; still serving the old version (--no-switch): nova index rollback --kb {name} --to {}",
            v.version
        ),
        (false, _) => println!(
            "REFUSED: {}; the serving version is untouched and version {} was deleted",
            g.failures.join(", "),
            v.version
        ),
    }
}

pub fn rollback(config: &Config, engine: &Engine, args: &IndexRollbackArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let (from, to) = engine.switch_version(&RequestCtx::local(), &name, args.to)?;
    if from == to {
        println!("`{name}` already serves version {to}");
    } else {
        println!("`{name}` now serves version {to} (was {from})");
    }
    Ok(Outcome::Done)
}

pub fn tune(config: &Config, engine: &Engine, args: &IndexTuneArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let fusions = args
        .fusion
        .iter()
        .map(|f| super::fusion(f))
        .collect::<Result<Vec<_>>>()?;
    let report = engine.tune_fusion(&RequestCtx::local(), &name, &fusions)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(Outcome::Done);
    }
    println!("golden-set nDCG@10 of version {}:", report.version);
    for (fusion, ndcg) in &report.record.tried {
        let mark = if *fusion == report.chosen {
            "  ←"
        } else {
            ""
        };
        println!("  {fusion:<14} {ndcg:.4}{mark}");
    }
    println!(
        "hybrid search in `{name}` now fuses with {} (was {})",
        report.chosen, report.record.before
    );
    Ok(Outcome::Done)
}
