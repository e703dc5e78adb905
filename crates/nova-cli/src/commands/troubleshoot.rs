//! `nova troubleshoot`: suggested steps (each citing its source), the best passages and similar tickets
//! for a problem, from the engine's extractive troubleshooter.

use super::{kb_name, Outcome};
use crate::cli::TroubleshootArgs;
use crate::config::Config;
use anyhow::Result;
use nova_engine::{Engine, RequestCtx, TroubleshootOptions, TroubleshootReport};

pub fn run(config: &Config, engine: &Engine, args: &TroubleshootArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let opts = TroubleshootOptions {
        passages: args.passages,
        tickets: args.tickets,
        filter: super::kb::parse_filters(&args.filters)?,
        ..TroubleshootOptions::default()
    };
    let report = engine.troubleshoot(&RequestCtx::local(), &name, &args.problem, &opts)?;
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
