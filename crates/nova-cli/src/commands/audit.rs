//! `nova audit verify|export`: the audit trail, through the engine (as the local administrator). The
//! export is itself recorded in the trail.

use super::Outcome;
use crate::cli::{AuditExportArgs, AuditFormat, AuditVerifyArgs};
use anyhow::{bail, Context, Result};
use nova_engine::nova_audit::{ExportFormat, Query};
use nova_engine::{Engine, RequestCtx};
use std::io::Write;

pub fn verify(engine: &Engine, args: &AuditVerifyArgs) -> Result<Outcome> {
    let v = engine.verify_audit(&RequestCtx::local())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if v.intact() {
        let anchored = v
            .anchor_seq
            .map(|a| format!(", starting after record {a} (earlier records were retired)"))
            .unwrap_or_default();
        println!(
            "audit trail intact: {} records in {} files{anchored}",
            v.records, v.files
        );
    }
    match &v.problem {
        None => Ok(Outcome::Done),
        Some(p) => bail!(
            "audit trail broken: {p} ({} records checked before it)",
            v.records
        ),
    }
}

pub fn export(engine: &Engine, args: &AuditExportArgs) -> Result<Outcome> {
    let query = Query {
        since: args.since.as_deref().map(Query::parse_since).transpose()?,
        until: args.until.as_deref().map(Query::parse_until).transpose()?,
        subject: args.subject.clone(),
        kb: args.kb.clone(),
        action: if args.privileged {
            Some("privileged".to_owned())
        } else {
            args.action.clone()
        },
        ..Query::default()
    };
    let format = match args.format {
        AuditFormat::Jsonl => ExportFormat::Jsonl,
        AuditFormat::Csv => ExportFormat::Csv,
    };
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            fs_err::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = engine.export_audit(&RequestCtx::local(), &query, format, &mut out)?;
    out.flush().context("writing the export")?;
    eprintln!("{n} records exported");
    Ok(Outcome::Done)
}
