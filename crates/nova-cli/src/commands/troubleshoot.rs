//! `nova troubleshoot`: suggested steps (each citing its source), the best passages and similar tickets
//! for a problem, from the engine's extractive troubleshooter.

use super::Outcome;
use crate::cli::TroubleshootArgs;
use crate::config::Config;
use anyhow::Result;
use nova_embed::{Embedder, SentenceEmbedder};
use nova_engine::{TroubleshootOptions, TroubleshootReport};

pub fn run(
    config: &Config,
    embedder: &SentenceEmbedder,
    args: &TroubleshootArgs,
) -> Result<Outcome> {
    let kb = super::kb::open(config, args.kb.as_deref(), embedder)?;
    let filters = args
        .filters
        .iter()
        .map(|f| super::kb::parse_filter(f))
        .collect::<Result<Vec<_>>>()?;
    let opts = TroubleshootOptions {
        passages: args.passages,
        tickets: args.tickets,
        filters,
        ..TroubleshootOptions::default()
    };
    let dense = embedder
        .embed(&[args.problem.as_str()])?
        .into_iter()
        .next()
        .unwrap_or_default();
    let report = kb.troubleshoot(&args.problem, &dense, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(Outcome::Done)
}

fn render(report: &TroubleshootReport) -> String {
    let mut out = String::new();
    if report.steps.is_empty() {
        out.push_str("No steps found in the matching passages.\n");
    } else {
        out.push_str("Suggested steps:\n");
        for (i, s) in report.steps.iter().enumerate() {
            let section = s
                .section
                .last()
                .map(|h| format!(" › {h}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{:>3}. {}\n       [{}{section}]\n",
                i + 1,
                s.text,
                s.title
            ));
        }
    }
    out.push_str("\nBest passages:\n");
    for p in &report.passages {
        out.push_str(&format!("  - {} ({})\n", p.title, p.source));
    }
    if !report.similar_tickets.is_empty() {
        out.push_str("\nSimilar tickets:\n");
        for t in &report.similar_tickets {
            out.push_str(&format!("  - {}: {}\n", t.doc_id, t.title));
            if let Some(answer) = t.metadata.get("answer").and_then(|a| a.as_str()) {
                out.push_str(&format!("      resolution: {answer}\n"));
            }
        }
    }
    out
}
