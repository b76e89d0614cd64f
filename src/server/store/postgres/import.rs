//! Imports: the rows are copied (`COPY … BINARY`) into a temporary table as
//! they arrive, then checked and inserted with a few statements over the
//! whole set, all in one transaction. Other writers are not held up while
//! the rows arrive: the items table is touched only by the final statements.

use std::pin::pin;

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use super::postgres_error;
use crate::server::store::{
    now_rfc3339, FoldedText, ImportBatch, ImportRows, Imported, OnError, RefusedRow, StoreError,
    MAX_REPORTED_ROWS,
};

/// The rows as they arrive, the rows refused on the way, and the rows the
/// insert left out (all dropped with the transaction).
const STAGING: &str = "CREATE TEMPORARY TABLE import_rows (\
    line bigint NOT NULL, id bigint, name text COLLATE \"C\" NOT NULL, \
    description text COLLATE \"C\", category text COLLATE \"C\", price float8, \
    name_folded text COLLATE \"C\" NOT NULL, description_folded text COLLATE \"C\", \
    category_folded text COLLATE \"C\") ON COMMIT DROP; \
    CREATE TEMPORARY TABLE import_refused (line bigint NOT NULL, id bigint NOT NULL) \
    ON COMMIT DROP; \
    CREATE TEMPORARY TABLE import_left_out (line bigint NOT NULL, id bigint NOT NULL, \
    assigned boolean NOT NULL) ON COMMIT DROP";

const COPY: &str = "COPY import_rows (line, id, name, description, category, price, \
    name_folded, description_folded, category_folded) FROM STDIN BINARY";

const COPY_TYPES: [Type; 9] = [
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// Rows naming an id an earlier row of the file named: refused, and out
/// of the set.
const REPEATED: &str = "WITH numbered AS (\
        SELECT line, row_number() OVER (PARTITION BY id ORDER BY line) AS n \
        FROM import_rows WHERE id IS NOT NULL), \
     moved AS (\
        DELETE FROM import_rows r USING numbered WHERE r.line = numbered.line \
        AND numbered.n > 1 RETURNING r.line, r.id) \
     INSERT INTO import_refused SELECT line, id FROM moved";

/// Inserts the set: rows without an id take the sequence's next values in
/// the order of the lines. Left out, and recorded in `import_left_out`:
/// a row whose id exists (`ON CONFLICT`), and one whose assigned id is
/// retired (the rare case `next_item_id()` steps over). `$1` is the time.
const INSERT: &str = "WITH input AS MATERIALIZED (\
        SELECT line, coalesce(id, nextval('item_ids')) AS id, id IS NULL AS assigned, name, \
        description, category, price, name_folded, description_folded, category_folded \
        FROM (SELECT * FROM import_rows ORDER BY line) AS ordered), \
     inserted AS (\
        INSERT INTO items (id, name, description, category, price, created_at, updated_at, \
        version, name_folded, description_folded, category_folded) \
        SELECT i.id, i.name, i.description, i.category, i.price, $1::text, $1::text, \
        coalesce(t.version, 0) + 1, i.name_folded, i.description_folded, i.category_folded \
        FROM input i LEFT JOIN item_tombstones t ON NOT i.assigned AND t.id = i.id \
        WHERE NOT (i.assigned AND EXISTS (SELECT 1 FROM retired_item_ids r WHERE r.id = i.id)) \
        ON CONFLICT (id) DO NOTHING RETURNING id) \
     INSERT INTO import_left_out SELECT i.line, i.id, i.assigned FROM input i \
     WHERE NOT EXISTS (SELECT 1 FROM inserted x WHERE x.id = i.id)";

/// The left-out rows that had an id of their own: refused.
const TAKEN: &str = "INSERT INTO import_refused SELECT line, id FROM import_left_out \
     WHERE NOT assigned";

/// The left-out rows whose assigned id was taken: each takes the next free
/// id instead, in the order of the lines. `$1` is the time.
const REASSIGN: &str = "INSERT INTO items (id, name, description, category, price, created_at, \
     updated_at, version, name_folded, description_folded, category_folded) \
     SELECT next_item_id(), r.name, r.description, r.category, r.price, $1::text, $1::text, 1, \
     r.name_folded, r.description_folded, r.category_folded \
     FROM import_rows r JOIN import_left_out l ON l.line = r.line AND l.assigned ORDER BY r.line";

/// Runs an import on `client` (a pooled connection, the import's alone).
pub(super) async fn import(
    client: &mut deadpool_postgres::Object,
    rows: &mut ImportRows,
    on_error: OnError,
) -> Result<Imported, StoreError> {
    let tx = client.transaction().await.map_err(postgres_error)?;
    tx.batch_execute(STAGING).await.map_err(postgres_error)?;
    let sink = tx.copy_in(COPY).await.map_err(postgres_error)?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &COPY_TYPES));
    let mut named_ids = false;
    // Rows that stop before their end return early: dropping the
    // transaction undoes it.
    while let Some(batch) = ImportBatch::rows(rows.recv().await)? {
        for row in batch {
            named_ids |= row.id.is_some();
            let item = &row.item;
            let folded = FoldedText::of_item(item);
            let line = i64::try_from(row.line).unwrap_or(i64::MAX);
            writer
                .as_mut()
                .write(&[
                    &line,
                    &row.id,
                    &item.name(),
                    &item.description(),
                    &item.category(),
                    &item.price(),
                    &folded.name,
                    &folded.description,
                    &folded.category,
                ])
                .await
                .map_err(postgres_error)?;
        }
    }
    writer.finish().await.map_err(postgres_error)?;

    if named_ids {
        tx.execute(REPEATED, &[]).await.map_err(postgres_error)?;
    }
    let now = now_rfc3339();
    tx.execute(INSERT, &[&now]).await.map_err(postgres_error)?;
    tx.execute(TAKEN, &[]).await.map_err(postgres_error)?;
    let reassigned = tx
        .execute(REASSIGN, &[&now])
        .await
        .map_err(postgres_error)?;

    let mut outcome = Imported::default();
    let counts = tx
        .query_one(
            "SELECT (SELECT count(*) FROM import_rows) - (SELECT count(*) FROM import_left_out), \
             (SELECT count(*) FROM import_refused)",
            &[],
        )
        .await
        .map_err(postgres_error)?;
    let written: i64 = counts.get(0);
    let refused: i64 = counts.get(1);
    outcome.imported = u64::try_from(written).unwrap_or(0) + reassigned;
    let first = tx
        .query(
            "SELECT line, id FROM import_refused ORDER BY line LIMIT $1",
            &[&(MAX_REPORTED_ROWS as i64)],
        )
        .await
        .map_err(postgres_error)?;
    outcome.refused = first
        .iter()
        .map(|row| RefusedRow {
            line: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            id: row.get(1),
        })
        .collect();
    outcome.refused_total = u64::try_from(refused).unwrap_or(0);

    if on_error == OnError::Abort && outcome.refused_total > 0 {
        tx.rollback().await.map_err(postgres_error)?;
        outcome.imported = 0;
        return Ok(outcome);
    }
    tx.commit().await.map_err(postgres_error)?;
    Ok(outcome)
}
