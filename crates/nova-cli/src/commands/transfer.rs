//! `nova kb export | import | migrate`: moving a knowledge base between store backends without
//! re-embedding it.

use super::progress::bar;
use super::Outcome;
use crate::cli::{KbExportArgs, KbImportArgs, KbMigrateArgs};
use crate::config::Config;
use anyhow::{anyhow, bail, Result};
use nova_engine::{Engine, KbName, RequestCtx};

/// `nova kb export NAME --out FILE`.
pub fn export(engine: &Engine, args: &KbExportArgs) -> Result<Outcome> {
    let ctx = RequestCtx::local();
    let name = KbName::parse(&args.name)?;
    let total = engine.info(&ctx, &name)?.chunks;
    let progress = bar(total, "exporting", "chunks");
    let written = super::write_whole(&args.out, |file| {
        engine.export_kb(&ctx, &name, file, &mut |n| progress.set_position(n as u64))
    });
    progress.finish_and_clear();
    let chunks = written?;
    println!(
        "exported `{name}`: {chunks} chunks → {}",
        args.out.display()
    );
    Ok(Outcome::Done)
}

/// `nova kb import FILE [--as NAME] [--resume]`.
pub fn import(engine: &Engine, args: &KbImportArgs) -> Result<Outcome> {
    let as_name = args.as_name.as_deref().map(KbName::parse).transpose()?;
    let mut file = std::io::BufReader::new(
        fs_err::File::open(&args.file)
            .map_err(|e| anyhow!("cannot read {}: {e}", args.file.display()))?,
    );
    let progress = indicatif::ProgressBar::new_spinner();
    let (name, chunks) = engine.import_kb(
        &RequestCtx::local(),
        &mut file,
        as_name.as_ref(),
        args.resume,
        &mut |n| progress.set_message(format!("importing: {n} chunks")),
    )?;
    progress.finish_and_clear();
    let resumed = if args.resume { " (resumed)" } else { "" };
    println!("imported `{name}`: {chunks} chunks written{resumed}");
    Ok(Outcome::Done)
}

/// The gRPC URLs of `qdrant://h:p,h:p` (or of http(s) URLs as given).
fn cluster_urls(to: &str) -> Result<Vec<String>> {
    let urls: Vec<String> = match to.strip_prefix("qdrant://") {
        Some(hosts) => hosts
            .split(',')
            .map(|h| format!("http://{}", h.trim()))
            .collect(),
        None if to.starts_with("http://") || to.starts_with("https://") => {
            to.split(',').map(|u| u.trim().to_owned()).collect()
        }
        None => bail!("--to `{to}`: use qdrant://HOST:GRPC_PORT[,HOST:GRPC_PORT...]"),
    };
    if urls.iter().any(|u| u.ends_with("//")) {
        bail!("--to `{to}` names an empty host");
    }
    Ok(urls)
}

/// `nova kb migrate NAME --to qdrant://…`.
pub fn migrate(config: &Config, engine: &Engine, args: &KbMigrateArgs) -> Result<Outcome> {
    let ctx = RequestCtx::local();
    let name = KbName::parse(&args.name)?;
    let urls = cluster_urls(&args.to)?;
    let target = config.store.qdrant_backend(urls.clone())?;
    let total = engine.info(&ctx, &name)?.chunks;
    let progress = bar(total, "copying", "chunks");
    let (copied, check) =
        engine.migrate_kb(&ctx, &name, target.as_ref(), &urls.join(","), &mut |n| {
            progress.set_position(n as u64)
        })?;
    progress.finish_and_clear();
    println!(
        "migrated `{name}` to {}: {copied} chunks copied; verified: {} chunks here, {} there, \
         {}/{} sampled searches identical",
        args.to,
        check.source_chunks,
        check.target_chunks,
        check.queries - check.mismatches,
        check.queries
    );
    if check.source_chunks != check.target_chunks || check.mismatches > 0 {
        bail!("the copy differs from the original; run the migration again (it resumes) or inspect the cluster");
    }
    println!(
        "serve it from the cluster: [store] kind = \"qdrant\", qdrant_urls = {:?}",
        urls
    );
    Ok(Outcome::Done)
}
