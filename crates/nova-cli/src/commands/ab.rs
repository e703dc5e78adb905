//! `nova ab start|report|stop`: A/B tests of index versions.

use super::{kb_name, Outcome};
use crate::cli::{AbReportArgs, AbStartArgs, AbStopArgs};
use crate::config::Config;
use anyhow::{bail, Result};
use nova_engine::{AbSpec, ArmReport, Engine, Guardrails, RequestCtx};

pub fn start(config: &Config, engine: &Engine, args: &AbStartArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    for (flag, v) in [
        ("--alpha", args.alpha),
        ("--helpful-margin", args.helpful_margin),
        ("--error-margin", args.error_margin),
    ] {
        if !(0.0..1.0).contains(&v) {
            bail!("{flag} must be in [0, 1), got {v}");
        }
    }
    let spec = AbSpec {
        candidate: args.candidate,
        share: args.share,
        fusion: args.fusion.as_deref().map(super::fusion).transpose()?,
        guardrails: Guardrails {
            min_searches: args.min_searches,
            min_feedback: args.min_feedback,
            alpha: args.alpha,
            helpful_margin: args.helpful_margin,
            error_margin: args.error_margin,
            latency_margin: args.latency_margin,
            ..Guardrails::default()
        },
    };
    let exp = engine.start_experiment(&RequestCtx::local(), &name, &spec)?;
    println!(
        "experiment {} on `{name}`: {:.0} % of users search version {}, the rest version {} \
         (nova ab report --kb {name})",
        exp.id,
        exp.share * 100.0,
        exp.candidate,
        exp.control
    );
    Ok(Outcome::Done)
}

fn arm_line(a: &ArmReport) -> String {
    format!(
        "{:<9} v{:<3} {:>8} {:>7.2} % [{:.2}–{:.2}] {:>8.1} {:>8.1} {:>7} {:>7.1} % [{:.1}–{:.1}]",
        a.arm.as_str(),
        a.version,
        a.searches,
        a.error_rate.value * 100.0,
        a.error_rate.low * 100.0,
        a.error_rate.high * 100.0,
        a.latency_p50_ms,
        a.latency_p95_ms,
        a.feedback,
        a.helpful_rate.value * 100.0,
        a.helpful_rate.low * 100.0,
        a.helpful_rate.high * 100.0,
    )
}

pub fn report(config: &Config, engine: &Engine, args: &AbReportArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let r = engine.ab_report(&RequestCtx::local(), &name)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(Outcome::Done);
    }
    let e = &r.experiment;
    println!(
        "experiment {} on `{name}`: {:?}{}",
        e.id,
        e.state,
        e.reason
            .as_deref()
            .map_or(String::new(), |r| format!(" — {r}"))
    );
    println!(
        "{:<9} {:<4} {:>8} {:>22} {:>8} {:>8} {:>7} {:>20}",
        "arm",
        "ver",
        "searches",
        "error rate [95 % CI]",
        "p50 ms",
        "p95 ms",
        "rated",
        "helpful [95 % CI]"
    );
    println!("{}", arm_line(&r.control));
    println!("{}", arm_line(&r.candidate));
    println!("guardrails (candidate worse than control?):");
    for t in &r.tests {
        let p = t
            .p_value
            .map_or("not enough samples yet".into(), |p| format!("p = {p:.3e}"));
        println!(
            "  {:<13} {} — {p}{}",
            t.metric,
            t.test,
            if t.worse { "  WORSE" } else { "" }
        );
    }
    Ok(Outcome::Done)
}

pub fn stop(config: &Config, engine: &Engine, args: &AbStopArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let exp = engine.stop_experiment(&RequestCtx::local(), &name, args.promote)?;
    println!("experiment {} on `{name}`: {:?}", exp.id, exp.state);
    if args.promote {
        println!("`{name}` now serves version {}", exp.candidate);
    }
    Ok(Outcome::Done)
}
