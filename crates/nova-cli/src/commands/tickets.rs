//! `nova tickets import|train|eval|classify|suggest`: help-desk exports in, a calibrated router and
//! suggested solutions out. The work is in nova-ingest (mapping), nova-classify (models, metrics)
//! and nova-engine (stored embeddings, versions, suggestions); this module parses and prints.

use super::progress::bar;
use super::track::Recorder;
use super::{kb_name, Outcome};
use crate::cli::{TicketEvalArgs, TicketImportArgs, TicketQueryArgs, TicketTrainArgs};
use crate::config::Config;
use anyhow::{anyhow, bail, Result};
use nova_classify::{Algorithm, MethodReport, Report, TrainOptions};
use nova_engine::{Engine, LabelField, RequestCtx, Suggestion, TicketQuery};
use nova_ingest::{read_tickets, TicketFormat, TicketRead};
use std::collections::BTreeMap;
use std::path::Path;

fn parse_map(entries: &[String]) -> Result<BTreeMap<String, String>> {
    entries
        .iter()
        .map(|e| {
            let (field, column) = e
                .split_once('=')
                .ok_or_else(|| anyhow!("--map entry `{e}` is not FIELD=COLUMN"))?;
            Ok((field.trim().to_lowercase(), column.trim().to_owned()))
        })
        .collect()
}

fn read_export(path: &Path, format: Option<&str>, map: &[String]) -> Result<TicketRead> {
    let format = match format {
        Some("csv") => TicketFormat::Csv,
        Some(_) => TicketFormat::Jsonl,
        None => TicketFormat::from_path(path).ok_or_else(|| {
            anyhow!(
                "{}: cannot tell the format from the extension; pass --format csv or --format jsonl",
                path.display()
            )
        })?,
    };
    let bytes = fs_err::read(path)?;
    Ok(read_tickets(
        &path.display().to_string(),
        &bytes,
        format,
        &parse_map(map)?,
    ))
}

pub fn import(config: &Config, engine: &Engine, args: &TicketImportArgs) -> Result<Outcome> {
    let read = read_export(&args.file, args.format.as_deref(), &args.map)?;
    if read.outcome.docs.is_empty() {
        for skip in &read.outcome.skipped {
            eprintln!("skipped {skip}");
        }
        bail!("{}: no tickets to import", args.file.display());
    }
    let mapping: Vec<String> = read
        .mapping
        .iter()
        .map(|(f, c)| format!("{f}={c}"))
        .collect();
    eprintln!("columns: {}", mapping.join(", "));
    for line in &read.unlabelled {
        eprintln!("no category: {line} (imported for search, left out of router training)");
    }
    let name = kb_name(config, args.kb.as_deref())?;
    super::kb::store_docs(engine, &name, &read.outcome.docs, &read.outcome.skipped)
}

fn method_table(cv: &[MethodReport], chosen: Option<Algorithm>) -> String {
    let mut out = format!(
        "{:<10}  {:>8}  {:>8}  {:>6}  {:>11}\n",
        "method", "accuracy", "macro-F1", "ECE", "temperature"
    );
    for r in cv {
        let mark = if chosen.map(Algorithm::method) == Some(r.method) {
            "  ← saved"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:<10}  {:>8.3}  {:>8.3}  {:>6.3}  {:>11.2}{mark}\n",
            r.method.name(),
            r.report.accuracy,
            r.report.macro_f1,
            r.report.ece,
            r.temperature
        ));
    }
    out
}

pub fn train(config: &Config, engine: &Engine, args: &TicketTrainArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let label = LabelField::parse(&args.label)?;
    let opts = TrainOptions {
        algorithm: match args.algorithm.as_str() {
            "knn" => Some(Algorithm::Knn),
            "logreg" => Some(Algorithm::Logreg),
            "hybrid" => Some(Algorithm::Hybrid),
            _ => None,
        },
        k: args.k,
        alpha: args.alpha,
        folds: args.folds,
        seed: args.seed,
        threshold: args.threshold,
        ..TrainOptions::default()
    };
    let mut recorder = Recorder::start("tickets-train", format!("tickets train {name}/{label}"));
    let progress = bar(args.folds, "cross-validating", "folds");
    let trained = engine.train_router(&RequestCtx::local(), &name, &label, &opts, &|done, _| {
        progress.set_position(done as u64)
    })?;
    progress.finish_and_clear();
    let (model, path, unlabelled) = (trained.model, trained.path, trained.unlabelled);
    let m = &model.meta;
    recorder
        .param("kb", &name)
        .param("label", &m.label)
        .param("algorithm", &args.algorithm)
        .param("k", args.k)
        .param("alpha", args.alpha)
        .param("folds", args.folds)
        .param("seed", args.seed)
        .param("threshold", args.threshold)
        .param("dataset.sha256", &m.data_hash)
        .param("dataset.examples", m.examples)
        .param("chosen", m.algorithm.method().name())
        .param("router.version", m.version);
    for r in &m.cv {
        report_metrics(&mut recorder, r.method.name(), &r.report);
        if r.method == m.algorithm.method() {
            report_metrics(&mut recorder, "chosen", &r.report);
        }
    }
    let cv = serde_json::to_value(&m.cv)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&cv)?);
    } else {
        println!(
            "{} tickets with `{}` ({} classes); {unlabelled} without it left out. {}-fold cross-validation, seed {}:\n",
            m.examples,
            m.label,
            m.classes.len(),
            m.folds,
            m.seed
        );
        print!("{}", method_table(&m.cv, Some(m.algorithm)));
        println!(
            "\nsaved {:?} router v{} → {}\ntraining data sha256 {}; needs-human threshold {}",
            m.algorithm,
            m.version,
            path.display(),
            m.data_hash,
            m.threshold
        );
    }
    recorder.finish(engine, config, &args.track, cv);
    Ok(Outcome::Done)
}

/// A router report's headline figures as run metrics under `prefix`.
fn report_metrics(recorder: &mut Recorder, prefix: &str, report: &Report) {
    recorder
        .metric(&format!("{prefix}.accuracy"), report.accuracy)
        .metric(&format!("{prefix}.macro_f1"), report.macro_f1)
        .metric(&format!("{prefix}.ece"), report.ece);
}

fn print_report(report: &Report, title: &str) {
    println!(
        "{title}: {} tickets, accuracy {:.3}, macro-F1 {:.3}, ECE {:.3}\n",
        report.n, report.accuracy, report.macro_f1, report.ece
    );
    println!("{}", report.class_table());
    println!("{}", report.confusion_table());
    print!("{}", report.coverage_table());
}

pub fn eval(config: &Config, engine: &Engine, args: &TicketEvalArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let label = LabelField::parse(&args.label)?;
    let ctx = RequestCtx::local();
    let mut recorder = Recorder::start("tickets-eval", format!("tickets eval {name}/{label}"));
    let model = engine.router(&ctx, &name, &label)?;
    let (report, title) = match &args.test {
        None => {
            let method = model.meta.algorithm.method();
            println!(
                "{}",
                method_table(&model.meta.cv, Some(model.meta.algorithm))
            );
            let saved = model
                .meta
                .cv
                .iter()
                .find(|r| r.method == method)
                .ok_or_else(|| anyhow!("the saved router has no cross-validation results"))?;
            (
                saved.report.clone(),
                format!(
                    "router v{} ({}), {}-fold cross-validation",
                    model.meta.version,
                    method.name(),
                    model.meta.folds
                ),
            )
        }
        Some(test) => (
            test_report(engine, (&ctx, &name, &label), test, args)?,
            format!("router v{} on {}", model.meta.version, test.display()),
        ),
    };
    print_report(&report, &title);
    recorder
        .param("kb", &name)
        .param("label", &label)
        .param("router.version", model.meta.version)
        .param("router.algorithm", model.meta.algorithm.method().name())
        .param("router.data_sha256", &model.meta.data_hash)
        .param("n", report.n);
    match &args.test {
        Some(test) => {
            recorder
                .param("dataset.name", test.display())
                .param("dataset.sha256", super::track::sha256_file(test)?);
        }
        None => {
            recorder.param("dataset.name", "cross-validation");
        }
    }
    report_metrics(&mut recorder, "chosen", &report);
    recorder.metric("accuracy", report.accuracy);
    if let Some(plot) = &args.plot {
        nova_classify::confusion_svg(&report, &title, plot)?;
        println!("\nconfusion matrix → {}", plot.display());
    }
    if let Some(json) = &args.json {
        fs_err::write(json, serde_json::to_vec_pretty(&report)?)?;
        println!("report → {}", json.display());
    }
    recorder.finish(engine, config, &args.track, serde_json::to_value(&report)?);
    Ok(Outcome::Done)
}

/// Scores the router on the labelled tickets of a test export (the engine embeds them).
fn test_report(
    engine: &Engine,
    (ctx, name, label): (&RequestCtx, &nova_engine::KbName, &LabelField),
    test: &Path,
    args: &TicketEvalArgs,
) -> Result<Report> {
    let read = read_export(test, args.format.as_deref(), &args.map)?;
    for skip in &read.outcome.skipped {
        eprintln!("skipped {skip}");
    }
    let labelled = read
        .outcome
        .docs
        .iter()
        .filter(|d| d.fields.contains_key(label.as_str()))
        .count();
    if labelled == 0 {
        bail!("{}: no tickets with a `{label}` field", test.display());
    }
    let progress = bar(labelled, "embedding", "tickets");
    let report = engine.evaluate_router(ctx, name, label, &read.outcome.docs, &|done| {
        progress.set_position(done as u64)
    })?;
    progress.finish_and_clear();
    Ok(report)
}

fn ticket_query(args: &TicketQueryArgs) -> Result<TicketQuery> {
    Ok(TicketQuery {
        label: LabelField::parse(&args.label)?,
        subject: args.subject.clone(),
        body: args.body.clone(),
        threshold: args.threshold,
        top: 3,
    })
}

pub fn classify(config: &Config, engine: &Engine, args: &TicketQueryArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let c = engine.classify(&RequestCtx::local(), &name, &ticket_query(args)?)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(Outcome::Done);
    }
    let p = &c.prediction;
    if p.needs_human {
        println!(
            "needs human: best guess {} at {:.2}, below the threshold {:.2}",
            p.label, p.confidence, c.router.threshold
        );
    } else {
        println!("{}: {} ({:.2})", c.router.label, p.label, p.confidence);
    }
    for s in &p.top {
        println!("  {:<32} {:.3}", s.label, s.probability);
    }
    Ok(Outcome::Done)
}

pub fn suggest(config: &Config, engine: &Engine, args: &TicketQueryArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let s = engine.suggest(
        &RequestCtx::local(),
        &name,
        &ticket_query(args)?,
        &nova_engine::SuggestOptions::default(),
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", render(&s));
    }
    Ok(Outcome::Done)
}

fn render(s: &Suggestion) -> String {
    let mut out = String::new();
    if let Some(c) = &s.classification {
        let p = &c.prediction;
        let verdict = if p.needs_human {
            " — needs human"
        } else {
            ""
        };
        out.push_str(&format!(
            "Route: {} = {} ({:.2}){verdict}\n\n",
            c.router.label, p.label, p.confidence
        ));
    }
    if s.similar_tickets.is_empty() {
        out.push_str("No similar resolved tickets.\n");
    } else {
        out.push_str("Similar resolved tickets:\n");
        for t in &s.similar_tickets {
            out.push_str(&format!(
                "  - {}: {} (score {:.3})\n",
                t.doc_id, t.title, t.score
            ));
            if let Some(answer) = t.metadata.get("answer").and_then(|a| a.as_str()) {
                out.push_str(&format!("      answer: {answer}\n"));
            }
        }
    }
    if !s.steps.is_empty() {
        out.push_str("\nSuggested steps:\n");
        for (i, step) in s.steps.iter().enumerate() {
            out.push_str(&format!("{:>3}. {}  [{}]\n", i + 1, step.text, step.title));
        }
    }
    if !s.passages.is_empty() {
        out.push_str("\nKB passages:\n");
        for p in &s.passages {
            out.push_str(&format!("  - {} ({})\n", p.title, p.source));
        }
    }
    out
}
