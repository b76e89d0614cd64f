//! What every test crate starting a server shares: its configuration,
//! made by the server's own command line parser.

use clap::{CommandFactory, FromArgMatches};
use itemserve::server::config::Config;

/// The first admin's password on a test server.
pub const TEST_ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A test server's configuration: the command line's defaults, as the
/// server parses them, with these changes: a free port, `database_url`,
/// no demo items, a small pool, the repository's models polled often, logins
/// off (the auth tests turn them on) and no request rate limit (tests fire
/// requests far faster than people; the limit has its own tests). The
/// environment is not read, so the caller's shell cannot change a test.
pub fn test_config(database_url: &str) -> Config {
    let models = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
    #[rustfmt::skip]
    let args = [
        "itemserve",
        "--addr", "127.0.0.1:0",
        "--database-url", database_url,
        "--seed-demo-items", "false",
        "--database-pool", "4",
        "--models-dir", models,
        "--models-poll-ms", "100",
        "--log", "warn",
        "--auth", "off",
        "--admin-password", TEST_ADMIN_PASSWORD,
        "--login-rate-limit", "1000",
        "--rate-limit", "0",
    ];
    let command = Config::command().mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(args)
        .unwrap_or_else(|e| panic!("the test arguments: {e}"));
    Config::from_arg_matches(&matches).expect("a configuration from the test arguments")
}
