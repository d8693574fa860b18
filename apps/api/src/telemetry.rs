//! Structured logging with `tracing`: JSON in production, human-readable in development. Every
//! line logged while serving a request carries that request's id (the `request` span).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{Environment, Settings};

/// Installs the global subscriber writing to stderr. Calling it twice is harmless.
pub fn init(settings: &Settings) {
    init_with_writer(settings.environment, &settings.log_filter, std::io::stderr);
}

/// Installs the global subscriber with a chosen writer (tests capture logs this way).
pub fn init_with_writer<W>(environment: Environment, filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = if environment.is_production() {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // Already installed (tests, or a second call): keep the first.
    drop(result);
}

/// Routes panics through `tracing` so they reach the structured log with the request id
/// instead of raw stderr.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic: {info}");
    }));
}
