//! One module per subcommand; `run` dispatches and each returns an [`Outcome`].

mod bench_embed;
mod bench_http;
mod embed;
mod eval;
mod kb;
mod progress;
mod serve;
mod similar;
mod tickets;
mod troubleshoot;

use crate::cli::{BenchCommand, Cli, Command, TicketsCommand};
use crate::config::Config;
use anyhow::{Context, Result};
use nova_embed::SentenceEmbedder;
use std::process::ExitCode;

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
        Command::Ingest(args) => kb::ingest(&config, &load_embedder(&config)?, &args),
        Command::Search(args) => kb::search(&config, &load_embedder(&config)?, &args),
        Command::Troubleshoot(args) => troubleshoot::run(&config, &load_embedder(&config)?, &args),
        Command::Tickets(cmd) => {
            let embedder = load_embedder(&config)?;
            match cmd {
                TicketsCommand::Import(args) => tickets::import(&config, &embedder, &args),
                TicketsCommand::Train(args) => tickets::train(&config, &embedder, &args),
                TicketsCommand::Eval(args) => tickets::eval(&config, &embedder, &args),
                TicketsCommand::Classify(args) => tickets::classify(&config, embedder, &args),
                TicketsCommand::Suggest(args) => tickets::suggest(&config, embedder, &args),
            }
        }
        Command::Delete(args) => kb::delete(&config, &load_embedder(&config)?, &args),
        Command::Serve(args) => serve::run(&config, &args),
        Command::Kbs => kb::list(&config, &load_embedder(&config)?),
        Command::Eval(args) => eval::run(&config, &load_embedder(&config)?, &args),
        Command::Bench(BenchCommand::Http(args)) => bench_http::run(&args),
        Command::Bench(BenchCommand::Embed(args)) => {
            bench_embed::run(&load_embedder(&config)?, &args)
        }
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
    let source = config.model.source();
    tracing::info!(%source, "loading embedding model");
    SentenceEmbedder::load(&source, config.model.batch())
        .with_context(|| format!("loading model {source}"))
}

fn toml_of(config: &Config) -> Result<String> {
    toml::to_string_pretty(config).context("serializing the configuration")
}
