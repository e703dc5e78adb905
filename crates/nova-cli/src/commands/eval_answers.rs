//! `nova eval --answers`: every judged question answered by the configured generator, with the share
//! of answers citing a relevant document, dropped citations, refusals and latency.

use super::ask::answer_options;
use super::progress::bar;
use super::Outcome;
use crate::cli::EvalArgs;
use anyhow::Result;
use nova_engine::{BeirSet, Engine, KbName, RequestCtx};

pub fn run(
    engine: &Engine,
    args: &EvalArgs,
    set: &BeirSet,
    kb: &KbName,
    dataset: &str,
) -> Result<Outcome> {
    let opts = answer_options(engine, &args.generation)?;
    let progress = bar(set.queries.len(), "answering", "questions");
    let report =
        engine.evaluate_answers(&RequestCtx::local(), kb, set, &opts, &mut |done, q| {
            progress.set_position(done as u64);
            let mark = match (q.refused, q.cites_relevant, q.cited.is_empty()) {
                (true, _, _) => "refused",
                (_, true, _) => "cites a relevant doc",
                (_, false, false) => "cites only other docs",
                (_, false, true) => "no citation",
            };
            progress.println(format!("{:>6}  {mark:<22} {}", q.id, q.question));
        })?;
    progress.finish_and_clear();
    let pct = |x: f64| format!("{:.1} %", 100.0 * x);
    let ms = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.0} ms"));
    println!(
        "{dataset}: {} questions answered by {} ({})",
        report.queries, report.provider, report.model
    );
    println!(
        "  cites a relevant document   {}",
        pct(report.cites_relevant)
    );
    println!("  cites any given passage     {}", pct(report.cites_any));
    println!(
        "  … by the model itself       {}  (the rest by attribution)",
        pct(report.model_cites_any)
    );
    println!(
        "  relevant document given     {}  (the ceiling for the first line)",
        pct(report.relevant_given)
    );
    println!(
        "  citations dropped           {}",
        pct(report.dropped_share)
    );
    println!("  refusals                    {}", pct(report.refusals));
    println!("  first token p50             {}", ms(report.ttft_p50_ms));
    println!(
        "  answer latency p50 / p95    {} / {}",
        ms(report.latency_p50_ms),
        ms(report.latency_p95_ms)
    );
    println!(
        "  decode speed                {:.1} tokens/s",
        report.tokens_per_second
    );
    if let Some(out) = &args.out {
        let doc = serde_json::json!({
            "dataset": dataset, "kb": kb, "sampling": {
                "temperature": opts.sampling.temperature, "max_tokens": opts.sampling.max_tokens,
                "seed": opts.sampling.seed,
            },
            "passages": opts.passages, "tickets": opts.tickets, "context_tokens": opts.context_tokens,
            "report": report,
        });
        fs_err::write(out, serde_json::to_vec_pretty(&doc)?)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(Outcome::Done)
}
