//! Structured logs: human-readable text or JSON lines, filtered by `log_level`.

use tracing_subscriber::EnvFilter;

pub fn init(settings: &crate::config::Settings) {
    let filter = EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if settings.log_format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    for variable in crate::config::Settings::unknown_environment() {
        tracing::warn!(
            %variable,
            "ignoring an environment variable that names no setting (mistyped? `loyal config` lists them all)"
        );
    }
}
