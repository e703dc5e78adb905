//! `nova`: the KB Nova command line. Parses arguments, loads configuration, runs one subcommand and turns
//! its outcome into an exit code (0 ok, 1 error, 2 finished but skipped some input).

mod cli;
mod commands;
mod config;
mod profile;
mod runtime;

use clap::Parser;
use std::process::ExitCode;

// The encoder allocates large short-lived activation buffers; glibc returns them to the OS each time and
// pays page faults on the next batch (~10 % of a forward pass in profiles). mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    runtime::init_logging(cli.log_json, cli.verbose);
    nova_engine::set_process_label(&format!("nova {}", cli.command.name()));
    match commands::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
