//! One module per subcommand; `run` dispatches and each returns an [`Outcome`].

mod ab;
mod ask;
mod audit;
mod bench_auth;
mod bench_embed;
mod bench_generate;
mod bench_http;
mod bench_soak;
mod drift;
mod embed;
mod eval;
mod eval_answers;
mod gaps;
mod index;
mod kb;
mod keys;
mod progress;
mod redact;
mod runs;
mod serve;
mod similar;
mod soak_plot;
mod soak_report;
mod tickets;
mod track;
mod transfer;
mod troubleshoot;

use crate::cli::{
    AbCommand, AuditCommand, BenchCommand, Cli, Command, DriftCommand, IndexCommand, KbCommand,
    KeysCommand, RunsCommand, TicketsCommand,
};
use crate::config::Config;
use anyhow::{Context, Result};
use nova_embed::{Embedder, SentenceEmbedder};
use nova_engine::{EmbedderLoader, Engine, EngineOptions, KbName};
use std::process::ExitCode;
use std::sync::Arc;

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was processed.
    Done,
    /// The command finished but skipped some input (reported on stderr).
    Partial,
}

impl Outcome {
    /// 0 for done, 2 for partial (1 is reserved for errors).
    pub fn exit_code(self) -> ExitCode {
        match self {
            Self::Done => ExitCode::SUCCESS,
            Self::Partial => ExitCode::from(2),
        }
    }
}

/// Applies command-line overrides to the loaded configuration and runs the subcommand.
pub fn run(cli: Cli) -> Result<Outcome> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(model) = cli.model {
        config.model.path = model;
    }
    if let Some(threads) = cli.threads {
        config.model.threads = threads;
    }
    nova_embed::set_threads(config.model.threads);
    match cli.command {
        Command::Embed(args) => embed::run(&load_embedder(&config)?, &args),
        Command::Similar(args) => similar::run(&load_embedder(&config)?, &args),
        Command::Ingest(args) => kb::ingest(&config, &engine(&config)?, &args),
        Command::Search(args) => kb::search(&config, &engine(&config)?, &args),
        Command::Troubleshoot(args) => troubleshoot::run(&config, &engine(&config)?, &args),
        Command::Ask(args) => {
            ask::choose_generator(&mut config, &args.generation);
            ask::run(&config, &engine(&config)?, &args)
        }
        Command::Tickets(cmd) => {
            let engine = engine(&config)?;
            match cmd {
                TicketsCommand::Import(args) => tickets::import(&config, &engine, &args),
                TicketsCommand::Train(args) => tickets::train(&config, &engine, &args),
                TicketsCommand::Eval(args) => tickets::eval(&config, &engine, &args),
                TicketsCommand::Classify(args) => tickets::classify(&config, &engine, &args),
                TicketsCommand::Suggest(args) => tickets::suggest(&config, &engine, &args),
            }
        }
        Command::Delete(args) => kb::delete(&config, &engine(&config)?, &args),
        Command::Kb(KbCommand::Create(args)) => kb::create(&engine(&config)?, &args),
        Command::Kb(KbCommand::Rekey(args)) => kb::rekey(&engine(&config)?, &args),
        Command::Kb(KbCommand::Snapshot(args)) => kb::snapshot(&engine(&config)?, &args),
        Command::Kb(KbCommand::Restore(args)) => kb::restore(&engine(&config)?, &args),
        Command::Kb(KbCommand::AttachEval(args)) => index::attach_eval(&engine(&config)?, &args),
        Command::Kb(KbCommand::Export(args)) => transfer::export(&engine(&config)?, &args),
        Command::Kb(KbCommand::Import(args)) => transfer::import(&engine(&config)?, &args),
        Command::Kb(KbCommand::Migrate(args)) => {
            transfer::migrate(&config, &engine(&config)?, &args)
        }
        Command::Redact(args) => redact::run(&config, &args),
        Command::Serve(args) => serve::run(&config, &args),
        Command::Keys(cmd) => {
            let engine = engine(&config)?;
            match cmd {
                KeysCommand::Create(args) => keys::create(&engine, &args),
                KeysCommand::List(args) => keys::list(&engine, &args),
                KeysCommand::Revoke(args) => keys::revoke(&engine, &args),
            }
        }
        Command::Audit(cmd) => {
            let engine = engine(&config)?;
            match cmd {
                AuditCommand::Verify(args) => audit::verify(&engine, &args),
                AuditCommand::Export(args) => audit::export(&engine, &args),
            }
        }
        Command::Kbs => kb::list(&config, &engine(&config)?),
        Command::Gaps(args) => gaps::run(&config, &engine(&config)?, &args),
        Command::Drift(DriftCommand::Report(args)) => {
            drift::report(&config, &engine(&config)?, &args)
        }
        Command::Drift(DriftCommand::Baseline(args)) => {
            drift::baseline(&config, &engine(&config)?, &args)
        }
        Command::Ab(cmd) => {
            let engine = engine(&config)?;
            match cmd {
                AbCommand::Start(args) => ab::start(&config, &engine, &args),
                AbCommand::Report(args) => ab::report(&config, &engine, &args),
                AbCommand::Stop(args) => ab::stop(&config, &engine, &args),
            }
        }
        Command::Index(cmd) => {
            let engine = engine(&config)?;
            match cmd {
                IndexCommand::List(args) => index::list(&config, &engine, &args),
                IndexCommand::Show(args) => index::show(&config, &engine, &args),
                IndexCommand::Diff(args) => index::diff(&config, &engine, &args),
                IndexCommand::Build(args) => index::build(&config, &engine, &args),
                IndexCommand::Rollback(args) => index::rollback(&config, &engine, &args),
                IndexCommand::Tune(args) => index::tune(&config, &engine, &args),
            }
        }
        Command::Runs(cmd) => {
            let engine = engine(&config)?;
            match cmd {
                RunsCommand::List(args) => runs::list(&engine, &args),
                RunsCommand::Show(args) => runs::show(&engine, &args),
                RunsCommand::Compare(args) => runs::compare(&engine, &args),
            }
        }
        Command::Eval(args) => {
            ask::choose_generator(&mut config, &args.generation);
            eval::run(&config, &engine(&config)?, &args)
        }
        Command::Bench(BenchCommand::Http(args)) => bench_http::run(&args),
        Command::Bench(BenchCommand::Auth(args)) => bench_auth::run(&args),
        Command::Bench(BenchCommand::Generate(args)) => bench_generate::run(&config, &args),
        Command::Bench(BenchCommand::Soak(args)) => bench_soak::run(&args),
        Command::Bench(BenchCommand::Embed(args)) => bench_embed::run(&config.model, &args),
        Command::Openapi => {
            println!("{}", nova_server::openapi::json());
            Ok(Outcome::Done)
        }
        Command::Config => {
            print!("{}", toml_of(&config)?);
            Ok(Outcome::Done)
        }
    }
}

pub(crate) fn load_embedder(config: &Config) -> Result<SentenceEmbedder> {
    config
        .model
        .load_embedder()
        .with_context(|| format!("loading model {}", config.model.source()))
}

/// The engine over the configured data folder. The model is loaded only when a command first needs
/// it, so `nova kbs`, `nova delete` and evaluating a saved router work without a model folder.
pub(crate) fn engine(config: &Config) -> Result<Engine> {
    let model = config.model.clone();
    let loader: EmbedderLoader = Box::new(move || {
        let embedder: Arc<dyn Embedder> = Arc::new(model.load_embedder()?);
        Ok(embedder)
    });
    let opts = EngineOptions {
        answers: config.generation.answer_options(),
        audit: config.audit.settings(&config.auth)?,
        redaction: config.redaction.settings(),
        encryption: config.encryption.settings(),
        privilege_tag: config.compliance.profile.privilege_tag(),
        min_free_bytes: config.data.min_free_bytes(),
        query_log: config.data.query_log,
        drift: config.drift.settings(),
        ..EngineOptions::single_caller()
    };
    let engine = Engine::lazy(&config.data.dir, loader, opts)
        .with_context(|| format!("opening data folder {}", config.data.dir.display()))?
        .with_generator(config.generation.loader());
    on_configured_store(config, engine)
}

/// `engine` on the `[store]` backend (unchanged for the embedded default).
pub(crate) fn on_configured_store(config: &Config, engine: Engine) -> Result<Engine> {
    Ok(match config.store.backend()? {
        Some(backend) => engine.with_backend(backend),
        None => engine,
    })
}

/// Writes `out` through `write` into a temporary file beside it, renamed into place once complete and
/// synced; on failure nothing is left behind.
pub(crate) fn write_whole<T>(
    out: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> nova_engine::Result<T>,
) -> Result<T> {
    let tmp = out.with_extension("partial");
    let mut file = std::io::BufWriter::new(
        fs_err::File::create(&tmp)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?,
    );
    let value = match write(&mut file) {
        Ok(value) => value,
        Err(e) => {
            drop(file);
            let _ = fs_err::remove_file(&tmp);
            return Err(e.into());
        }
    };
    let file = file
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
    file.sync_all()?;
    fs_err::rename(&tmp, out)?;
    Ok(value)
}

/// A `--fusion` spec (`rrf`, `convex:0.6`, `adaptive:0.55:0.1:4`, …), or the parser's reason.
pub(crate) fn fusion(spec: &str) -> Result<nova_engine::Fusion> {
    spec.parse().map_err(|e: String| anyhow::anyhow!(e))
}

/// `--kb`, or the configured default.
pub(crate) fn kb_name(config: &Config, kb: Option<&str>) -> Result<KbName> {
    Ok(KbName::parse(kb.unwrap_or(&config.data.default_kb))?)
}

/// The configuration as TOML, secrets that may sit in it (a webhook URL's token) masked.
fn toml_of(config: &Config) -> Result<String> {
    let mut shown = config.clone();
    if !shown.drift.webhook_url.is_empty() {
        shown.drift.webhook_url = "<set: not shown>".into();
    }
    toml::to_string_pretty(&shown).context("serializing the configuration")
}
