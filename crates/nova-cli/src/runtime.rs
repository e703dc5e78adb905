//! Process-wide setup done once in `main`: logging.

use tracing_subscriber::EnvFilter;

/// Logs go to stderr so stdout stays clean for JSON output.
pub fn init_logging(json: bool, verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // qdrant-edge warns on every open that server-side globals (feature flags, mmap probe) were never
    // initialised; their init functions are private, so its warnings are quietened by default.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default},qdrant_edge=error")));
    // Colours only on a terminal: logs piped to a file or a collector stay plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
