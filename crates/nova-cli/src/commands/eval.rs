//! `nova eval`: ingest a BEIR corpus into a KB (idempotent), run its test queries per mode, print a table
//! and optionally write a JSON report; with `--answers`, hand over to [`super::eval_answers`].

use super::progress::bar;
use super::track::{sha256_texts, Recorder};
use super::Outcome;
use crate::cli::EvalArgs;
use crate::config::Config;
use anyhow::{anyhow, Context, Result};
use nova_engine::{BeirSet, Engine, IngestOptions, KbName, Mode, RequestCtx, SearchOptions};
use std::path::Path;
use std::time::Instant;

pub fn run(config: &Config, engine: &Engine, args: &EvalArgs) -> Result<Outcome> {
    let modes = args
        .modes
        .iter()
        .map(|m| m.parse::<Mode>().map_err(|e| anyhow!(e)))
        .collect::<Result<Vec<_>>>()?;
    let (set, folder) = match (&args.dataset, &args.kb_queries, &args.docs) {
        (Some(dir), _, _) => (
            BeirSet::load(dir).context("loading the dataset")?,
            dir.clone(),
        ),
        (None, Some(queries), Some(docs)) => {
            let folder = queries.parent().map(Path::to_path_buf).unwrap_or_default();
            (
                BeirSet::from_kb_queries(docs, queries).context("loading the queries")?,
                folder,
            )
        }
        _ => {
            return Err(anyhow!(
                "give --dataset DIR, or --kb-queries FILE with --docs DIR"
            ))
        }
    };
    let dataset_name = folder
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".into());
    let kb_name = KbName::parse(
        &args
            .kb
            .clone()
            .unwrap_or_else(|| format!("eval-{dataset_name}")),
    )?;
    let ctx = RequestCtx::local();
    let mut recorder = Recorder::start("eval", format!("eval {dataset_name}"));

    let started = Instant::now();
    let progress = bar(set.corpus.len(), "indexing", "docs");
    let on_commit = |p: nova_engine::IngestProgress| progress.set_position(p.docs_done as u64);
    let summary = engine.ingest(
        &ctx,
        &kb_name,
        &set.corpus,
        &IngestOptions {
            create_missing: true,
            progress: Some(&on_commit),
            cancel: None,
        },
    )?;
    progress.finish_and_clear();
    let index_secs = started.elapsed().as_secs_f64();
    let docs_per_s = if summary.added + summary.updated > 0 {
        set.corpus.len() as f64 / index_secs
    } else {
        f64::NAN
    };
    eprintln!(
        "{kb_name}: {} docs ({} new, {} unchanged), {} chunks, indexed in {index_secs:.1}s",
        set.corpus.len(),
        summary.added,
        summary.unchanged,
        engine.info(&ctx, &kb_name)?.chunks
    );

    if args.answers {
        return super::eval_answers::run(engine, args, &set, &kb_name, &dataset_name);
    }

    let fusions = args
        .fusion
        .iter()
        .map(|spec| super::fusion(spec))
        .collect::<Result<Vec<_>>>()?;
    let base = SearchOptions {
        fusion: fusions.first().copied(),
        candidates: args.candidates,
        prf: args.prf,
        ..SearchOptions::default()
    };
    let runs = nova_engine::EvalRuns {
        modes: &modes,
        fusions: &fusions,
    };
    let fusion = base.fusion.unwrap_or_default();
    let rankings = runs.expand(fusion).len();
    let progress = bar(set.queries.len() * rankings, "querying", "queries");
    let reports = engine.evaluate_beir(&ctx, &kb_name, &set, runs, &base, &mut |d| {
        progress.set_position(d as u64)
    })?;
    progress.finish_and_clear();
    println!("{dataset_name}: {} test queries", set.queries.len());
    println!(
        "{:<22} {:>8} {:>9} {:>10} {:>8} {:>8} {:>8}",
        "mode", "nDCG@10", "Recall@5", "Recall@100", "MRR@10", "p50 ms", "p95 ms"
    );
    for r in &reports {
        println!(
            "{:<22} {:>8.4} {:>9.4} {:>10.4} {:>8.4} {:>8.1} {:>8.1}",
            r.tag(),
            r.ndcg_at_10,
            r.recall_at_5,
            r.recall_at_100,
            r.mrr_at_10,
            r.latency_p50_ms,
            r.latency_p95_ms
        );
    }
    if let Some(path) = &args.runs {
        write_runs(path, &reports)?;
    }
    let report = serde_json::json!({
        "dataset": folder, "kb": kb_name, "docs": set.corpus.len(), "queries": set.queries.len(),
        "index_seconds": index_secs, "index_docs_per_s": docs_per_s, "modes": reports,
        "fusion": fusion.to_string(), "candidates": base.candidates, "prf": base.prf,
    });
    if let Some(out) = &args.out {
        fs_err::write(out, serde_json::to_vec_pretty(&report)?)?;
        eprintln!("wrote {}", out.display());
    }
    let chunking = nova_ingest::ChunkOptions::default();
    let fusion_param = if fusions.is_empty() {
        fusion.to_string()
    } else {
        let specs: Vec<String> = fusions.iter().map(ToString::to_string).collect();
        specs.join(",")
    };
    recorder
        .param("dataset.name", &dataset_name)
        .param("dataset.docs", set.corpus.len())
        .param("dataset.queries", set.queries.len())
        .param("dataset.sha256", dataset_hash(&set))
        .param("kb", &kb_name)
        .param("modes", args.modes.join(","))
        .param("fusion", fusion_param)
        .param("candidates", base.candidates)
        .param("prf", base.prf)
        .param("chunk.target_words", chunking.target_words)
        .param("chunk.overlap_words", chunking.overlap_words)
        .metric("index_seconds", index_secs)
        .metric("index_docs_per_s", docs_per_s);
    for r in &reports {
        // One fusion: `hybrid.*`, so runs with different fusions compare metric for metric (the fusion
        // is a parameter); a sweep keeps each fusion's own ranking apart.
        let tag = if fusions.len() > 1 {
            r.tag()
        } else {
            r.mode.as_str().to_owned()
        };
        for (name, value) in [
            ("ndcg_at_10", r.ndcg_at_10),
            ("recall_at_5", r.recall_at_5),
            ("recall_at_100", r.recall_at_100),
            ("mrr_at_10", r.mrr_at_10),
            ("latency_p50_ms", r.latency_p50_ms),
            ("latency_p95_ms", r.latency_p95_ms),
        ] {
            recorder.metric(&format!("{tag}.{name}"), value);
        }
    }
    recorder.finish(engine, config, &args.track, report);
    Ok(Outcome::Done)
}

/// What makes two evaluations comparable: the documents, the queries and the judgements, hashed.
fn dataset_hash(set: &BeirSet) -> String {
    let mut qrels: Vec<String> = set
        .qrels
        .iter()
        .flat_map(|(q, docs)| docs.iter().map(move |(d, g)| format!("{q}\t{d}\t{g}")))
        .collect();
    qrels.sort();
    let docs = set
        .corpus
        .iter()
        .flat_map(|d| [d.id.as_str(), d.title.as_str(), d.text.as_str()]);
    let queries = set
        .queries
        .iter()
        .flat_map(|(id, text)| [id.as_str(), text.as_str()]);
    sha256_texts(docs.chain(queries).chain(qrels.iter().map(String::as_str)))
}

/// Every report's rankings as one TREC run file.
fn write_runs(path: &Path, reports: &[nova_engine::ModeReport]) -> Result<()> {
    use std::fmt::Write as _;
    let mut text = String::new();
    for r in reports {
        let tag = r.tag();
        for (qid, ranked) in &r.run {
            for (rank, (doc, score)) in ranked.iter().enumerate() {
                let _ = writeln!(text, "{qid} Q0 {doc} {} {score:.6} {tag}", rank + 1);
            }
        }
    }
    fs_err::write(path, text)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
