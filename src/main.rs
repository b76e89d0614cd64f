use clap::Parser;
use itemserve::server::{commands, config::Config, startup::Application, telemetry};

// Request handling allocates many small, short-lived buffers (JSON, headers,
// tensors); mimalloc serves them faster than the system allocator and keeps
// the heap compact under load (figures in docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its index in mimalloc 3's option enum,
/// which libmimalloc-sys does not name).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Return freed memory to the OS after 100 ms instead of mimalloc's
    // second: with a second, a burst of large batches leaves RSS far above
    // its steady size. Returning it at once (0) trades too much speed for
    // little memory: every large batch would then map and zero fresh pages
    // for its body, rows and answer. (Measurements in docs/benchmarks.md.)
    // MIMALLOC_PURGE_DELAY still overrides it.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets a plain option value; no memory is touched.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) };
    }
    run()
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
    let config = Config::parse();
    telemetry::init(&config.log, config.log_format);
    if let Some(command) = &config.command {
        return commands::run(&config, command).await;
    }
    let app = match Application::build(&config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("{}", telemetry::chain(&e));
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(
        database = %config.database_url_for_logs(),
        "itemserve is ready: open http://{} in a browser (REST: http://{}/api)",
        app.addr(),
        app.addr()
    );
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("server error: {}", telemetry::chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
