//! Commands for operators, run instead of the server: `itemserve import`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;

use crate::domain::Door;
use crate::server::config::{Command, Config, ErrorMode, FileFormat};
use crate::server::store::Origin;
use crate::server::store::{self, OnError, StoreOptions};
use crate::server::telemetry::{chain, Metrics};
use crate::server::transfer::{self, Format, ImportError, ImportOptions};

/// Parts the file is read in.
const PART: usize = 1 << 20;

/// Runs `command`; the exit status says whether it succeeded.
pub async fn run(config: &Config, command: &Command) -> std::process::ExitCode {
    match command {
        Command::Import {
            file,
            format,
            on_error,
        } => import(config, file, *format, *on_error).await,
    }
}

/// `itemserve import FILE`: the file into the database, with a progress
/// line on the terminal; problems and the outcome on standard error.
async fn import(
    config: &Config,
    path: &Path,
    format: Option<FileFormat>,
    on_error: ErrorMode,
) -> std::process::ExitCode {
    let fail = |message: String| {
        eprintln!("error: {message}");
        std::process::ExitCode::FAILURE
    };
    let format = match format.or_else(|| format_of(path)) {
        Some(FileFormat::Csv) => Format::Csv,
        Some(FileFormat::Ndjson) => Format::Ndjson,
        None => {
            return fail(format!(
                "cannot tell the format of {} from its name: add --format csv or --format ndjson",
                path.display()
            ))
        }
    };
    let stdin = path.as_os_str() == "-";
    let (file, size) = if stdin {
        (None, None)
    } else {
        match std::fs::File::open(path) {
            Ok(file) => {
                let size = file.metadata().ok().map(|m| m.len());
                (Some(file), size)
            }
            Err(e) => return fail(format!("cannot open {}: {e}", path.display())),
        }
    };
    let metrics = Metrics::new();
    let stores = match store::open(&StoreOptions {
        database_url: config.database_url.clone(),
        seed_demo_items: config.seed_demo_items,
        pool_size: 2,
        commits: metrics.commits(),
        count_bound: config.count_bound,
    })
    .await
    {
        Ok(stores) => stores,
        Err(e) => return fail(format!("cannot open the database: {}", chain(&e))),
    };

    // The file is read on a blocking thread, a part at a time, and the
    // bytes read so far shown once a second.
    let read = Arc::new(AtomicU64::new(0));
    let (parts, mut received) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let counter = Arc::clone(&read);
    std::thread::spawn(move || {
        let mut source: Box<dyn std::io::Read> = match file {
            Some(file) => Box::new(file),
            None => Box::new(std::io::stdin()),
        };
        loop {
            let mut buffer = vec![0u8; PART];
            match source.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => {
                    buffer.truncate(n);
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                    if parts.blocking_send(Ok(Bytes::from(buffer))).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = parts.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    let body = stream::poll_fn(move |cx| received.poll_recv(cx));
    let options = ImportOptions {
        format,
        on_error: match on_error {
            ErrorMode::Abort => OnError::Abort,
            ErrorMode::Skip => OnError::Skip,
        },
        max_bytes: u64::MAX,
        declared_bytes: size,
        idle_timeout: Duration::from_secs(24 * 3600),
        // An operator at the server's terminal: no user of the app.
        origin: Origin {
            door: Door::Import,
            ..Origin::default()
        },
    };
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let progress = tokio::spawn({
        let read = Arc::clone(&read);
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let bytes = read.load(Ordering::Relaxed);
                let line = progress_line(bytes, size, started.elapsed());
                if terminal {
                    eprint!("\r{line}\x1b[K");
                } else {
                    eprintln!("{line}");
                }
            }
        }
    });
    let outcome = transfer::import(stores.items.as_ref(), body, &options).await;
    progress.abort();
    if terminal {
        eprint!("\r\x1b[K");
    }
    let _ = std::io::stderr().flush();
    let took = started.elapsed().as_secs_f64();
    let (report, succeeded) = match outcome {
        Ok(report) => (report, true),
        Err(ImportError::Rejected(report)) => (report, false),
        Err(e) => return fail(format!("nothing was imported: {}", chain(&e))),
    };
    for problem in &report.problems {
        let p = &problem.problem;
        match &p.field {
            Some(field) => eprintln!("line {}: {field}: {}", problem.line, p.message),
            None => eprintln!("line {}: {}", problem.line, p.message),
        }
    }
    let unlisted = report.problems_total - report.problems.len() as u64;
    if unlisted > 0 {
        eprintln!("… and {unlisted} more problems");
    }
    if succeeded {
        let rate = report.imported as f64 / took.max(1e-9);
        eprintln!(
            "imported {} in {took:.1} s ({rate:.0} rows/s); {} left out",
            count(report.imported, "item", "items"),
            count(report.skipped, "row", "rows")
        );
        std::process::ExitCode::SUCCESS
    } else {
        fail(format!(
            "nothing was imported: {} cannot be (run again with --on-error skip to import \
             the others)",
            count(report.skipped, "row", "rows")
        ))
    }
}

/// "1 item", "2 items".
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The format a file's name suggests.
fn format_of(path: &Path) -> Option<FileFormat> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "csv" => Some(FileFormat::Csv),
        "ndjson" | "jsonl" => Some(FileFormat::Ndjson),
        _ => None,
    }
}

/// "read 120 MB of 1.0 GB (12%), 40 MB/s".
fn progress_line(bytes: u64, size: Option<u64>, elapsed: Duration) -> String {
    let mb = |b: u64| b as f64 / 1e6;
    let rate = mb(bytes) / elapsed.as_secs_f64().max(1e-9);
    match size.filter(|&s| s > 0) {
        Some(size) => format!(
            "importing: read {:.0} MB of {:.0} MB ({:.0}%), {rate:.0} MB/s",
            mb(bytes),
            mb(size),
            100.0 * bytes as f64 / size as f64
        ),
        None => format!("importing: read {:.0} MB, {rate:.0} MB/s", mb(bytes)),
    }
}
