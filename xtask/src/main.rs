//! `cargo xtask build`: itemserve's release build — the server and the site
//! it serves (the WASM bundle with its lazily loaded chunks, script,
//! stylesheet and public files) — without cargo-leptos.
//!
//! cargo-leptos stays the tool for development (`cargo leptos watch`); this
//! is what `scripts/run`, `scripts/test` and the container build use, so a
//! fresh machine does not spend a quarter of an hour compiling cargo-leptos
//! first. The output has the layout cargo-leptos gives with
//! `cargo leptos build --release --precompress --split` and `hash-files`:
//! the site in `target/site` (bundle under `pkg/`, content hashes in the
//! file names, `.br` and `.gz` copies beside each file) and the hashes in
//! `target/release/hash.txt` beside the server binary, where the server and
//! Leptos read the file names pages must load.
//!
//! The server and the WASM bundle compile at the same time, in two target
//! folders (`target/` and `target/front/`): each build ends in a long
//! single-threaded stretch (optimising and linking one large crate), so two
//! of them keep both cores busy where one after the other would leave one
//! idle.

mod bundle;
mod compress;
mod naming;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::Instant;

/// What went wrong, for the person running the build.
type Error = String;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  build   the release server (target/release/itemserve) and the site it
          serves (target/site), compiled at the same time
  site    the site alone (the WASM bundle, script, stylesheet, public files)

Needs wasm-bindgen (the version Cargo.lock pins), wasm-opt, esbuild and
lightningcss on PATH; scripts/tools.sh installs them.";

fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    let result = match command.as_deref() {
        Some("build") => build(true),
        Some("site") => build(false),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            if let Some(other) = other {
                eprintln!("error: unknown command '{other}'\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the itemserve package).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a folder of the workspace")
        .to_path_buf()
}

fn build(with_server: bool) -> Result<(), Error> {
    let root = root();
    let started = Instant::now();
    let paths = bundle::Paths::new(&root);
    bundle::check_tools()?;
    let (server, site) = thread::scope(|scope| {
        let server = with_server.then(|| {
            scope.spawn(|| {
                step(
                    "server: cargo build --release (11 to 15 minutes on 2 cores from a cold cache)",
                );
                let mut cargo = cargo(&root);
                cargo.args([
                    "build",
                    "--release",
                    "--package",
                    "itemserve",
                    "--bin",
                    "itemserve",
                ]);
                run_prefixed(cargo, "server")
            })
        });
        let site = bundle::build(&paths);
        if let (Err(error), Some(_)) = (&site, &server) {
            // Said now rather than when the server build, which goes on, ends.
            eprintln!("error: {error}\n(the build fails once the server build ends)");
        }
        (
            server.map(|handle| handle.join().expect("the server build thread panicked")),
            site,
        )
    });
    let site = site?;
    if let Some(server) = server {
        server?;
    }
    if let bundle::Site::Built(hashes, inputs) = site {
        bundle::publish(&paths, &hashes, &inputs)?;
    }
    step(&format!(
        "done in {}: site in {}, hashes in {}",
        minutes(started),
        paths.site.display(),
        paths.hash_file.display()
    ));
    Ok(())
}

/// The cargo that runs this task (`cargo xtask` sets `CARGO`).
fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root);
    command
}

/// Runs `command`, printing its output line by line behind `prefix`, so
/// two builds running at once stay readable.
fn run_prefixed(mut command: Command, prefix: &str) -> Result<(), Error> {
    let started = Instant::now();
    let describe = format!("{command:?}");
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("could not start {describe}: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    thread::scope(|scope| {
        scope.spawn(|| forward(stdout, prefix));
        forward(stderr, prefix);
    });
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {describe}: {e}"))?;
    if !status.success() {
        return Err(format!("{prefix}: {describe} failed ({status})"));
    }
    step(&format!("{prefix}: finished in {}", minutes(started)));
    Ok(())
}

fn forward(stream: impl Read, prefix: &str) {
    for line in BufReader::new(stream).lines() {
        match line {
            Ok(line) => eprintln!("{prefix:>6} | {line}"),
            Err(_) => break,
        }
    }
}

/// Runs `command` to completion, its output going to ours.
fn run(command: &mut Command) -> Result<(), Error> {
    let status = command
        .status()
        .map_err(|e| format!("could not start {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

/// A heading for each long step.
fn step(message: &str) {
    eprintln!("\x1b[1;34m==>\x1b[0m {message}");
}

fn minutes(since: Instant) -> String {
    let seconds = since.elapsed().as_secs();
    format!("{}m{:02}s", seconds / 60, seconds % 60)
}
