use clap::Parser;
use itemserve::server::{config::Config, startup::Application, telemetry};

// Request handling allocates many small, short-lived buffers (JSON, headers,
// tensors); mimalloc serves them faster than the system allocator and keeps
// the heap compact under load (see the README's benchmark section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    telemetry::init(&config.log);
    let app = match Application::build(&config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(
        database = %config.database_url,
        "itemserve is ready: open http://{} in a browser (REST: http://{}/api)",
        app.addr(),
        app.addr()
    );
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("server error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
