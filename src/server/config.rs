//! Runtime configuration from command-line flags and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::Parser;
use leptos::config::{Env, LeptosOptions};

use crate::domain::AccessPolicy;
use crate::server::auth::AuthOptions;
use crate::server::http::forwarded::IpNet;
use crate::server::store::HistoryRetention;
use crate::server::telemetry::LogFormat;

/// On or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// itemserve: an item catalogue with a browser UI and a JSON REST API.
///
/// Every flag can also be set through the environment variable shown.
#[derive(Clone, Debug, Parser)]
#[command(name = "itemserve", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Where items are stored: sqlite://PATH (the folder is created if
    /// missing), or postgres://USER@HOST:PORT/DATABASE for several
    /// instances on one database.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/itemserve.db",
        hide_env_values = true,
        global = true
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

    /// PostgreSQL only: connections each instance keeps to the database.
    /// Concurrent writes commit together (one WAL flush), so more
    /// connections carry more writes per flush; PostgreSQL allows 100
    /// connections in all by default.
    #[arg(long, env = "ITEMSERVE_DATABASE_POOL", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool: u32,

    /// Matches of a search or price filter counted at most: past it a
    /// listing's total says "more than" this (`total_exact: false`).
    /// Counting costs a read of every match; the totals of everything and
    /// of each category are kept with every write and always exact.
    #[arg(long, env = "ITEMSERVE_COUNT_BOUND", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub count_bound: u64,

    /// Folder of models: one sub-folder per model with model.onnx and model.toml.
    #[arg(long, env = "MODELS_DIR", default_value = "models")]
    pub models_dir: PathBuf,

    /// How often the models folder is checked for changes, in milliseconds.
    #[arg(long, env = "MODELS_POLL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub models_poll_ms: u64,

    /// How far back the drift check's live distribution of each model input
    /// reaches, in seconds (it moves in twelfths of this).
    #[arg(long, env = "ITEMSERVE_DRIFT_WINDOW_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(60..=604_800))]
    pub drift_window_secs: u64,

    /// Log filter, e.g. `info` or `itemserve=debug,tower_http=debug`. At
    /// `info`, every request is logged once (target `itemserve::http`).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log: String,

    /// Log lines as readable text or as one JSON object per line.
    #[arg(long, env = "ITEMSERVE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Serve `/metrics` only on this separate address (e.g. 127.0.0.1:9100,
    /// reachable by the monitoring system alone) instead of the main one.
    #[arg(long, env = "ITEMSERVE_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Only admins (with a token) may read `/metrics` on the public address
    /// (it names every route's status counts, logins included). `false`
    /// opens it to anyone; `--metrics-addr` serves it, open, on an address
    /// of its own instead.
    #[arg(
        long,
        env = "ITEMSERVE_METRICS_ADMIN_ONLY",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "true|false"
    )]
    pub metrics_admin_only: bool,

    /// Origins allowed to call the API from other sites' pages (CORS), comma
    /// separated, e.g. `https://app.example.com`. Empty: none (the default).
    #[arg(long, env = "ITEMSERVE_CORS_ORIGINS", value_delimiter = ',', value_parser = origin)]
    pub cors_origins: Vec<HeaderValue>,

    /// The origins this site is served under, comma separated, e.g.
    /// `https://items.example.com`. The UI's server functions, and every
    /// write a browser session authenticates, must come from a page of one
    /// of them, under a `Host` they name. Empty (the default): the
    /// request's own `Host`, over HTTPS when the proxy says so in
    /// `X-Forwarded-Proto`.
    #[arg(long, env = "ITEMSERVE_PUBLIC_ORIGINS", value_delimiter = ',', value_parser = origin)]
    pub public_origins: Vec<HeaderValue>,

    /// Requests a second one client address may make on average (IPv6: per
    /// /64); more get 429 with Retry-After. 0 turns the limit off. Behind a
    /// reverse proxy, see --trusted-proxies.
    #[arg(long, env = "ITEMSERVE_RATE_LIMIT", default_value_t = 200)]
    pub rate_limit: u32,

    /// Reverse proxies (load balancers) whose X-Forwarded-For names the
    /// client, comma separated addresses or networks, e.g. `10.0.0.0/8,::1`.
    /// Rate and login limits then count per client instead of per proxy.
    /// Empty (the default): the header is ignored.
    #[arg(long, env = "ITEMSERVE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = clap::value_parser!(IpNet))]
    pub trusted_proxies: Vec<IpNet>,

    /// Requests one client may make at once before the per-second rate
    /// applies [default: twice --rate-limit].
    #[arg(long, env = "ITEMSERVE_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,

    /// Open connections at most; further ones are closed on arrival.
    #[arg(long, env = "ITEMSERVE_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Event streams (`GET /items/events`) one client address may hold open
    /// at once; more get 429 with Retry-After.
    #[arg(long, env = "ITEMSERVE_STREAMS_PER_CLIENT", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub streams_per_client: u32,

    /// Seconds a client has to send a request's headers; idle keep-alive
    /// connections are closed after the same time.
    #[arg(long, env = "ITEMSERVE_HEADER_TIMEOUT", default_value_t = 10.0, value_parser = positive_seconds)]
    pub header_timeout: f64,

    /// Seconds a request with a body may take, body upload included (408
    /// after). An import (`POST /items/import`) may take as long as it
    /// needs, but waits at most this long for each next part of its file.
    #[arg(long, env = "ITEMSERVE_BODY_TIMEOUT", default_value_t = 30.0, value_parser = positive_seconds)]
    pub body_timeout: f64,

    /// Largest file `POST /items/import` accepts, in bytes (413 past it).
    /// The file is read as it arrives and never held in memory.
    #[arg(long, env = "ITEMSERVE_IMPORT_MAX_BYTES", default_value_t = 1 << 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub import_max_bytes: u64,

    /// How long deleted items stay in the trash before they are purged
    /// for good: a number and a unit (`s`, `m`, `h`, `d`), like `30d` (the
    /// default) or `12h`; `forever` keeps them until an admin purges them.
    #[arg(long, env = "ITEMSERVE_TRASH_RETENTION", default_value = "30d", value_parser = retention)]
    pub trash_retention: Retention,

    /// Which item revisions are kept: `forever` (the default), the newest
    /// N of each item (`last:20`), or those recorded within a number and a
    /// unit (`s`, `m`, `h`, `d`), like `365d`. A job removes the others, a
    /// small batch at a time.
    #[arg(long, env = "ITEMSERVE_HISTORY_RETENTION", default_value = "forever", value_parser = history_retention)]
    pub history_retention: HistoryRetention,

    /// How often the history's retention job runs (not a setting: tests
    /// shorten it).
    #[arg(skip = Duration::from_secs(300))]
    pub history_prune_period: Duration,

    /// `on`: users log in (the default); `off`: no login at all and every
    /// caller may do everything (local demos only; the log warns).
    #[arg(long, env = "ITEMSERVE_AUTH", value_enum, default_value = "on")]
    pub auth: Switch,

    /// Reading items and models and running predictions without logging in.
    #[arg(
        long,
        env = "ITEMSERVE_PUBLIC_READ",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "true|false"
    )]
    pub public_read: bool,

    /// Password of the first user, `admin`, created when no user exists
    /// [default: generated and printed once to the log].
    #[arg(long, env = "ITEMSERVE_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Key (32+ characters) that signs access tokens; every instance must
    /// share it [default: generated once and kept in the database].
    #[arg(long, env = "ITEMSERVE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "ITEMSERVE_ACCESS_TOKEN_TTL", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub access_token_ttl: u64,

    /// Lifetime of a refresh token, in seconds (30 days).
    #[arg(long, env = "ITEMSERVE_REFRESH_TOKEN_TTL", default_value_t = 2_592_000, value_parser = clap::value_parser!(u64).range(60..))]
    pub refresh_token_ttl: u64,

    /// Lifetime of a browser session, in seconds (12 hours).
    #[arg(long, env = "ITEMSERVE_SESSION_TTL", default_value_t = 43_200, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_ttl: u64,

    /// Login attempts a minute, per client address and per user name.
    #[arg(long, env = "ITEMSERVE_LOGIN_RATE_LIMIT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_rate_limit: u32,

    /// Folder with the built browser assets (pkg/ with the WASM bundle, CSS, public files).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Instead of serving: a command for operators.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `itemserve COMMAND` does instead of serving.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Command {
    /// Imports items from a CSV or NDJSON file into the database (as
    /// `POST /items/import` does), printing its progress. With SQLite, stop
    /// the server first: it keeps its database file to itself.
    Import {
        /// The file: CSV with a header row (`id,name,description,category,
        /// price`), or NDJSON (one item object a line); `-` reads standard
        /// input.
        file: PathBuf,
        /// The file's format [default: from its extension, `.csv` or
        /// `.ndjson`/`.jsonl`].
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
        /// `abort`: one bad row and nothing is imported; `skip`: bad rows
        /// are left out and listed.
        #[arg(long, value_enum, default_value = "abort")]
        on_error: ErrorMode,
    },
}

/// A bulk file format, as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    Csv,
    Ndjson,
}

/// What an import does with a bad row, as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ErrorMode {
    Abort,
    Skip,
}

impl Config {
    /// The database URL with its password (if any) replaced by `***`, for
    /// logs.
    pub fn database_url_for_logs(&self) -> String {
        redact_password(&self.database_url)
    }

    /// The authentication settings.
    pub fn auth_options(&self) -> AuthOptions {
        AuthOptions {
            policy: AccessPolicy {
                enabled: self.auth == Switch::On,
                public_read: self.public_read,
            },
            jwt_secret: self.jwt_secret.clone(),
            admin_password: self.admin_password.clone(),
            access_ttl: Duration::from_secs(self.access_token_ttl),
            refresh_ttl: Duration::from_secs(self.refresh_token_ttl),
            session_ttl: Duration::from_secs(self.session_ttl),
            login_per_minute: self.login_rate_limit,
        }
    }

    /// The request rate and burst per client, or `None` when unlimited.
    pub fn rate(&self) -> Option<(u32, u32)> {
        (self.rate_limit > 0).then(|| {
            let burst = self
                .rate_limit_burst
                .unwrap_or(self.rate_limit.saturating_mul(2));
            (self.rate_limit, burst.max(1))
        })
    }

    /// The options Leptos renders with, from the `LEPTOS_*` variables
    /// (cargo-leptos sets them under `cargo leptos watch`); plain runs fall
    /// back to the defaults.
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
            .hash_file(var("LEPTOS_HASH_FILE_NAME", "hash.txt").into())
            .build()
    }
}

/// `scheme://user:password@host/…` and `…?password=…` with the password
/// replaced by `***`.
fn redact_password(url: &str) -> String {
    let mut url = url.to_owned();
    if let Some(scheme_end) = url.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = url[authority_start..]
            .find(['/', '?'])
            .map_or(url.len(), |i| authority_start + i);
        if let Some(at) = url[authority_start..authority_end].rfind('@') {
            let userinfo = authority_start..authority_start + at;
            if let Some(colon) = url[userinfo.clone()].find(':') {
                url.replace_range(userinfo.start + colon + 1..userinfo.end, "***");
            }
        }
    }
    if let Some(query) = url.find('?') {
        let redacted: Vec<String> = url[query + 1..]
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        url.replace_range(query + 1.., &redacted.join("&"));
    }
    url
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after.
fn origin(s: &str) -> Result<HeaderValue, String> {
    let s = s.trim();
    let valid = s.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
    });
    match HeaderValue::from_str(s) {
        Ok(value) if valid => Ok(value),
        _ => Err(format!(
            "'{s}' is not an origin like https://app.example.com (scheme, host, optional port)"
        )),
    }
}

/// How long something is kept: `None` for ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention(pub Option<Duration>);

fn retention(s: &str) -> Result<Retention, String> {
    if s == "forever" {
        return Ok(Retention(None));
    }
    let refuse = || {
        format!(
            "'{s}' is not a retention: write a whole number and a unit (s, m, h or d), like \
             30d or 12h, or forever"
        )
    };
    let (number, seconds) = [('s', 1), ('m', 60), ('h', 3_600), ('d', 86_400)]
        .into_iter()
        .find_map(|(unit, seconds)| Some((s.strip_suffix(unit)?, seconds)))
        .ok_or_else(refuse)?;
    match number.parse::<u64>() {
        Ok(n)
            if number.bytes().all(|b| b.is_ascii_digit())
                && n > 0
                && n <= 36_500 * 86_400 / seconds =>
        {
            Ok(Retention(Some(Duration::from_secs(n * seconds))))
        }
        _ => Err(refuse()),
    }
}

fn history_retention(s: &str) -> Result<HistoryRetention, String> {
    if let Some(digits) = s.strip_prefix("last:") {
        let plain = digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        return match digits.parse::<u32>() {
            Ok(n) if plain => Ok(HistoryRetention::Newest(n)),
            _ => Err(format!(
                "'{s}' is not a history retention: after last: write how many revisions of \
                 each item to keep, a whole number from 1, like last:20"
            )),
        };
    }
    match retention(s) {
        Ok(Retention(None)) => Ok(HistoryRetention::Forever),
        Ok(Retention(Some(age))) => Ok(HistoryRetention::Younger(age)),
        Err(_) => Err(format!(
            "'{s}' is not a history retention: write forever, last:N (the newest N revisions \
             of each item, like last:20), or an age as a whole number and a unit (s, m, h or \
             d), like 365d"
        )),
    }
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0 and 86400"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn a_history_retention_is_forever_the_newest_n_or_an_age() {
        use super::{history_retention, HistoryRetention};
        use std::time::Duration;
        assert_eq!(history_retention("forever"), Ok(HistoryRetention::Forever));
        assert_eq!(
            history_retention("last:20"),
            Ok(HistoryRetention::Newest(20))
        );
        assert_eq!(
            history_retention("365d"),
            Ok(HistoryRetention::Younger(Duration::from_secs(365 * 86_400)))
        );
        for bad in [
            "", "last:", "last:0", "last:-1", "last:+3", "last:007", "last:x", "20", "0d",
        ] {
            let error = history_retention(bad).unwrap_err();
            assert!(error.contains("not a history retention"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_retention_is_a_whole_number_and_a_unit_or_forever() {
        use super::{retention, Retention};
        use std::time::Duration;
        let days = |n: u64| Ok(Retention(Some(Duration::from_secs(n * 86_400))));
        assert_eq!(retention("30d"), days(30));
        assert_eq!(
            retention("12h"),
            Ok(Retention(Some(Duration::from_secs(43_200))))
        );
        assert_eq!(retention("2s"), Ok(Retention(Some(Duration::from_secs(2)))));
        assert_eq!(retention("forever"), Ok(Retention(None)));
        for bad in [
            "",
            "d",
            "30",
            "0d",
            "-1d",
            "1.5d",
            "30 d",
            "30w",
            "99999999d",
            "é",
            "+3d",
        ] {
            assert!(retention(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn database_passwords_never_reach_the_logs() {
        assert_eq!(
            redact_password("postgres://app:s3cr:et@db:5432/items"),
            "postgres://app:***@db:5432/items"
        );
        assert_eq!(
            redact_password("postgres://app@db/items?sslmode=disable&password=s3cret"),
            "postgres://app@db/items?sslmode=disable&password=***"
        );
        assert_eq!(
            redact_password("postgres://app@db:5432/items"),
            "postgres://app@db:5432/items"
        );
        assert_eq!(
            redact_password("sqlite://data/itemserve.db"),
            "sqlite://data/itemserve.db"
        );
    }
}
