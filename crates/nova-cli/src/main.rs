//! `nova`: the KB Nova command line. Parses arguments, loads configuration, runs one subcommand and turns
//! its outcome into an exit code (0 ok, 1 error, 2 finished but skipped some input).

mod cli;
mod commands;
mod config;
mod profile;
mod runtime;
mod store_config;

use clap::Parser;
use std::process::ExitCode;

// The encoder allocates large short-lived activation buffers; glibc returns them to the OS each time and
// pays page faults on the next batch (~10 % of a forward pass in profiles). mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    reexec_for_blas();
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

/// When OpenBLAS fell back to generic kernels for a CPU it does not recognise (~3× slower embeddings),
/// starts this same process again with `OPENBLAS_CORETYPE` naming the kernels the CPU supports: OpenBLAS
/// picks its kernels when it loads, before `main`. Same pid, arguments, descriptors and environment (plus
/// that variable); a user's own `OPENBLAS_CORETYPE` is left alone, and if the exec fails the process just
/// goes on with the slow kernels.
fn reexec_for_blas() {
    if std::env::var_os("OPENBLAS_CORETYPE").is_some() {
        return;
    }
    let Some(core) = nova_embed::blas_core::better() else {
        return;
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("OPENBLAS_CORETYPE", core)
            .exec();
        eprintln!("warning: could not restart with OPENBLAS_CORETYPE={core} ({err}); embeddings run on OpenBLAS's generic kernels");
    }
}
