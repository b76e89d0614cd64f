//! Runtime configuration from command-line flags and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use leptos::config::{Env, LeptosOptions};

/// itemserve: an item catalogue with a browser UI and a JSON REST API.
///
/// Every flag can also be set through the environment variable shown.
#[derive(Clone, Debug, Parser)]
#[command(name = "itemserve", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Where items are stored: sqlite://PATH (the folder is created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/itemserve.db"
    )]
    pub database_url: String,

    /// Insert the three demo items into a brand-new database.
    #[arg(
        long,
        env = "ITEMSERVE_SEED_DEMO_ITEMS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "true|false"
    )]
    pub seed_demo_items: bool,

    /// Folder of models: one sub-folder per model with model.onnx and model.toml.
    #[arg(long, env = "MODELS_DIR", default_value = "models")]
    pub models_dir: PathBuf,

    /// How often the models folder is checked for changes, in milliseconds.
    #[arg(long, env = "MODELS_POLL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub models_poll_ms: u64,

    /// Log filter, e.g. `info` or `itemserve=debug,tower_http=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log: String,

    /// Folder with the built browser assets (pkg/ with the WASM bundle, CSS, public files).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

impl Config {
    /// A configuration for tests: a random local port, the given database,
    /// no demo items unless asked for.
    pub fn for_tests(database_url: impl Into<String>) -> Config {
        Config {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            database_url: database_url.into(),
            seed_demo_items: false,
            models_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"),
            models_poll_ms: 100,
            log: "warn".into(),
            site_root: "target/site".into(),
        }
    }

    /// The options Leptos renders with. cargo-leptos passes its own settings
    /// through `LEPTOS_*` variables; plain runs fall back to the defaults.
    pub fn leptos_options(&self, bound: SocketAddr) -> LeptosOptions {
        let var = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.into());
        let env = match var("LEPTOS_ENV", "DEV").to_ascii_uppercase().as_str() {
            "PROD" | "PRODUCTION" => Env::PROD,
            _ => Env::DEV,
        };
        LeptosOptions::builder()
            .output_name(var("LEPTOS_OUTPUT_NAME", "itemserve"))
            .site_root(self.site_root.clone())
            .site_pkg_dir(var("LEPTOS_SITE_PKG_DIR", "pkg"))
            .env(env)
            .site_addr(bound)
            .reload_port(var("LEPTOS_RELOAD_PORT", "3001").parse().unwrap_or(3001))
            .build()
    }
}
