//! Importing a file in two steps. First every record is read and checked
//! as the file arrives, by the rules of `POST /items/`, and the valid rows
//! go to a spool file on disk: the server holds one record at a time, and
//! a file with a bad row (when it must be all or nothing) never reaches
//! the database. Then the spooled rows go to the store, which writes them
//! in one transaction at the speed of the disk, not of the upload.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;

use super::read::{FileProblem, Reader, Record};
use super::Format;
use crate::domain::{ItemDraft, ItemObject, ObjectProblem, ValidItem};
use crate::server::store::{
    ImportBatch, ImportRow, ItemStore, OnError, Origin, StoreError, MAX_REPORTED_ROWS,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Rows handed to the store at a time.
const BATCH: usize = 1_000;

/// How an import reads its file.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub format: Format,
    pub on_error: OnError,
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
    /// The file's size, when the sender says it beforehand: a file
    /// declared too large is refused before any of it is read.
    pub declared_bytes: Option<u64>,
    /// Longest wait for the next part of the file.
    pub idle_timeout: Duration,
    /// Who imports, for the items' revisions.
    pub origin: Origin,
}

/// A row that was not imported, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct RowProblem {
    /// The line of the file the row starts on.
    pub line: u64,
    pub problem: ObjectProblem,
}

/// What an import came to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    /// Items written.
    pub imported: u64,
    /// Rows not imported.
    pub skipped: u64,
    /// The first [`MAX_REPORTED_ROWS`] problems of those rows, by line (a
    /// row may have several).
    pub problems: Vec<RowProblem>,
    /// Every problem.
    pub problems_total: u64,
}

impl ImportReport {
    fn note(&mut self, line: u64, problem: ObjectProblem) {
        self.problems_total += 1;
        if self.problems.len() < MAX_REPORTED_ROWS {
            self.problems.push(RowProblem { line, problem });
        }
    }
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The file cannot be read on from some point (a bad header, a quote
    /// left open).
    #[error(transparent)]
    Unreadable(#[from] FileProblem),
    /// All or nothing, and some rows are not valid (listed in the report).
    #[error("{} rows of the file cannot be imported", .0.skipped)]
    Rejected(ImportReport),
    #[error("the upload failed")]
    Upload(#[source] BoxError),
    #[error("no part of the file arrived for {} s", .0.as_secs())]
    Stalled(Duration),
    #[error("the import's spool file failed")]
    Spool(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Imports the file `body` brings into `store`.
#[tracing::instrument(level = "debug", name = "transfer.import", skip_all, fields(format = ?options.format))]
pub async fn import<S, E>(
    store: &dyn ItemStore,
    mut body: S,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<BoxError>,
{
    // Reading and checking take CPU time in proportion to the file: on a
    // thread of their own, fed the parts of the body as they arrive.
    if options
        .declared_bytes
        .is_some_and(|bytes| bytes > options.max_bytes)
    {
        return Err(ImportError::TooLarge {
            limit: options.max_bytes,
        });
    }
    let started = std::time::Instant::now();
    let (parts, received) = mpsc::channel::<Bytes>(8);
    let format = options.format;
    let checking = tokio::task::spawn_blocking(move || check(received, format));
    let mut size = 0u64;
    loop {
        let part = tokio::time::timeout(options.idle_timeout, body.next())
            .await
            .map_err(|_| ImportError::Stalled(options.idle_timeout))?;
        match part {
            None => break,
            Some(Err(e)) => return Err(ImportError::Upload(e.into())),
            Some(Ok(bytes)) => {
                size += bytes.len() as u64;
                if size > options.max_bytes {
                    return Err(ImportError::TooLarge {
                        limit: options.max_bytes,
                    });
                }
                if parts.send(bytes).await.is_err() {
                    break; // The check stopped: it says why below.
                }
            }
        }
    }
    drop(parts);
    let checked = checking
        .await
        .map_err(|e| ImportError::Spool(std::io::Error::other(e)))??;
    let Checked {
        spool,
        rows: spooled,
        mut report,
    } = checked;
    tracing::info!(
        bytes = size,
        rows = spooled,
        bad_rows = report.skipped,
        seconds = started.elapsed().as_secs_f64(),
        "import: the file is read and checked"
    );
    let writing = std::time::Instant::now();
    if options.on_error == OnError::Abort && report.problems_total > 0 {
        return Err(ImportError::Rejected(report));
    }

    let (batches, rows) = mpsc::channel(4);
    let feeding = tokio::task::spawn_blocking(move || spool.feed(&batches));
    let stored = store.import(rows, options.on_error, &options.origin).await;
    let fed = feeding
        .await
        .map_err(|e| ImportError::Spool(std::io::Error::other(e)))?;
    // A spool that could not be read explains a store that saw the rows
    // stop before their end.
    fed.map_err(ImportError::Spool)?;
    let stored = stored?;
    tracing::info!(
        imported = stored.imported,
        refused = stored.refused_total,
        seconds = writing.elapsed().as_secs_f64(),
        "import: the rows are written"
    );
    report.imported = stored.imported;
    for refused in stored.refused {
        let problem = ObjectProblem {
            field: Some("id".into()),
            kind: "id_taken".into(),
            message: format!("Item with id {} already exists", refused.id),
            input: Value::from(refused.id),
            ctx: None,
        };
        report.problems.push(RowProblem {
            line: refused.line,
            problem,
        });
    }
    report.problems_total += stored.refused_total;
    report.skipped += stored.refused_total;
    report.problems.sort_by_key(|p| p.line);
    report.problems.truncate(MAX_REPORTED_ROWS);
    if options.on_error == OnError::Abort && report.problems_total > 0 {
        return Err(ImportError::Rejected(report));
    }
    Ok(report)
}

/// The outcome of the first step.
struct Checked {
    spool: Spool,
    /// Valid rows spooled.
    rows: u64,
    report: ImportReport,
}

/// Reads and checks the parts of the file as they arrive, spooling the
/// valid rows.
fn check(mut parts: mpsc::Receiver<Bytes>, format: Format) -> Result<Checked, ImportError> {
    let mut spool = Spool::create().map_err(ImportError::Spool)?;
    let mut report = ImportReport::default();
    let mut reader = Reader::new(format);
    let mut failed: Option<std::io::Error> = None;
    let mut rows = 0u64;
    let mut take = |record: Record| {
        let object = match record.content {
            Ok(value) => value,
            Err(problem) => {
                let problem = ObjectProblem {
                    field: None,
                    kind: problem.kind.into(),
                    message: problem.message,
                    input: Value::Null,
                    ctx: None,
                };
                report.skipped += 1;
                report.note(record.line, problem);
                return;
            }
        };
        match ItemObject::parse(&object) {
            Ok(row) => {
                rows += 1;
                if failed.is_none() {
                    failed = spool.write(record.line, row.id, &row.item).err();
                }
            }
            Err(problems) => {
                report.skipped += 1;
                for problem in problems {
                    report.note(record.line, problem);
                }
            }
        }
    };
    while let Some(bytes) = parts.blocking_recv() {
        reader.feed(&bytes, &mut take)?;
    }
    reader.finish(&mut take)?;
    if let Some(e) = failed {
        return Err(ImportError::Spool(e));
    }
    spool.finish().map_err(ImportError::Spool)?;
    Ok(Checked {
        spool,
        rows,
        report,
    })
}

/// The valid rows of an import, in a file of the system's temporary
/// folder that is removed when the import ends.
struct Spool {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    reader: Option<BufReader<File>>,
}

impl Spool {
    fn create() -> std::io::Result<Spool> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "itemserve-import-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Spool {
            path,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            reader: None,
        })
    }

    /// Appends a row: its line, which of the optional values it has, its
    /// id, then each text as its length and bytes, then its price.
    fn write(&mut self, line: u64, id: Option<i64>, item: &ValidItem) -> std::io::Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Err(std::io::Error::other("the spool is closed for writing"));
        };
        let flags = u8::from(id.is_some())
            | u8::from(item.description().is_some()) << 1
            | u8::from(item.category().is_some()) << 2
            | u8::from(item.price().is_some()) << 3;
        w.write_all(&line.to_le_bytes())?;
        w.write_all(&[flags])?;
        if let Some(id) = id {
            w.write_all(&id.to_le_bytes())?;
        }
        for text in [Some(item.name()), item.description(), item.category()]
            .into_iter()
            .flatten()
        {
            w.write_all(&(text.len() as u32).to_le_bytes())?;
            w.write_all(text.as_bytes())?;
        }
        if let Some(price) = item.price() {
            w.write_all(&price.to_le_bytes())?;
        }
        Ok(())
    }

    /// Ends the writing; the rows are read from the start from now on.
    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(writer) = self.writer.take() {
            let mut file = writer.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            self.reader = Some(BufReader::with_capacity(1 << 20, file));
        }
        Ok(())
    }

    /// The next row, or `None` at the end.
    fn next_row(&mut self) -> std::io::Result<Option<ImportRow>> {
        let Some(r) = self.reader.as_mut() else {
            return Ok(None);
        };
        let mut line = [0u8; 8];
        match r.read_exact(&mut line) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut flags = [0u8; 1];
        r.read_exact(&mut flags)?;
        let flags = flags[0];
        let mut eight = [0u8; 8];
        let id = if flags & 1 != 0 {
            r.read_exact(&mut eight)?;
            Some(i64::from_le_bytes(eight))
        } else {
            None
        };
        let mut text = |present: bool| -> std::io::Result<Option<String>> {
            if !present {
                return Ok(None);
            }
            let mut len = [0u8; 4];
            r.read_exact(&mut len)?;
            let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
            r.read_exact(&mut bytes)?;
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        };
        let name = text(true)?.unwrap_or_default();
        let description = text(flags & 2 != 0)?;
        let category = text(flags & 4 != 0)?;
        let price = if flags & 8 != 0 {
            r.read_exact(&mut eight)?;
            Some(f64::from_le_bytes(eight))
        } else {
            None
        };
        // Checked when spooled; checking again costs little and keeps
        // valid items made in one place only.
        let item = ItemDraft {
            name,
            description,
            category,
            price,
        }
        .validate()
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a spooled row is not valid",
            )
        })?;
        Ok(Some(ImportRow {
            line: u64::from_le_bytes(line),
            id,
            item,
        }))
    }

    /// Sends every row to the store in batches, then the end. Stops early
    /// (without the end, so that the store writes nothing) on a failure.
    fn feed(mut self, batches: &mpsc::Sender<ImportBatch>) -> std::io::Result<()> {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(row) = self.next_row()? {
            batch.push(row);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if batches.blocking_send(ImportBatch::Rows(full)).is_err() {
                    return Ok(()); // The store stopped; it says why.
                }
            }
        }
        if !batch.is_empty() && batches.blocking_send(ImportBatch::Rows(batch)).is_err() {
            return Ok(());
        }
        let _ = batches.blocking_send(ImportBatch::End);
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spool_gives_back_the_rows_it_was_given() {
        let items = [
            (
                2,
                Some(7),
                ("Lamp", Some("Warm, \"soft\""), Some("Lighting"), Some(2.5)),
            ),
            (3, None, ("Café", None, None, None)),
            (9, Some(1), ("x", None, Some("c"), Some(0.0))),
        ];
        let mut spool = Spool::create().unwrap();
        let path = spool.path.clone();
        for (line, id, (name, description, category, price)) in items {
            let item = ItemDraft {
                name: name.into(),
                description: description.map(Into::into),
                category: category.map(Into::into),
                price,
            }
            .validate()
            .unwrap();
            spool.write(line, id, &item).unwrap();
        }
        spool.finish().unwrap();
        let mut read = Vec::new();
        while let Some(row) = spool.next_row().unwrap() {
            read.push((
                row.line,
                row.id,
                (
                    row.item.name().to_owned(),
                    row.item.description().map(str::to_owned),
                    row.item.category().map(str::to_owned),
                    row.item.price(),
                ),
            ));
        }
        let expected: Vec<_> = items
            .iter()
            .map(|(line, id, (n, d, c, p))| {
                (
                    *line,
                    *id,
                    (
                        n.to_string(),
                        d.map(str::to_owned),
                        c.map(str::to_owned),
                        *p,
                    ),
                )
            })
            .collect();
        assert_eq!(read, expected);
        assert!(path.exists());
        drop(spool);
        assert!(!path.exists(), "the spool file is removed");
    }
}
