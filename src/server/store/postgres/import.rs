//! Imports: the rows are copied (`COPY … BINARY`) into a temporary table as
//! they arrive, then checked and inserted with a few statements over the
//! whole set, all in one transaction. Other writers are not held up while
//! the rows arrive: the items table is touched only by the final statements.
//!
//! Rows without an id get theirs from the sequence as they are copied, in
//! the order of the lines, on a second connection (sequences stand outside
//! transactions), so the staged set is complete and the items are written
//! by one plain `INSERT … SELECT`. Only when that meets an id in use (a
//! client chose it, or two rows of the file name it) or an assigned id is
//! retired does the import take the slower way that sorts each row out.

use std::pin::pin;

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

use super::{postgres_error, PostgresStore};
use crate::server::store::sql::revision_columns;
use crate::server::store::{
    now_rfc3339, FoldedText, ImportBatch, ImportRows, Imported, OnError, Origin, RefusedRow,
    StoreError, MAX_REPORTED_ROWS,
};

/// The rows as they arrive (each with its id: given, or `assigned` from
/// the sequence), the rows refused on the way, and the rows whose assigned
/// id was taken (all dropped with the transaction).
const STAGING: &str = "CREATE TEMPORARY TABLE import_rows (\
    line bigint NOT NULL, id bigint NOT NULL, assigned boolean NOT NULL, \
    name text COLLATE \"C\" NOT NULL, \
    description text COLLATE \"C\", category text COLLATE \"C\", price float8, \
    name_folded text COLLATE \"C\" NOT NULL, description_folded text COLLATE \"C\", \
    category_folded text COLLATE \"C\") ON COMMIT DROP; \
    CREATE TEMPORARY TABLE import_refused (line bigint NOT NULL, id bigint NOT NULL) \
    ON COMMIT DROP; \
    CREATE TEMPORARY TABLE import_left_out (line bigint NOT NULL, id bigint NOT NULL) \
    ON COMMIT DROP";

const COPY: &str = "COPY import_rows (line, id, assigned, name, description, category, price, \
    name_folded, description_folded, category_folded) FROM STDIN BINARY";

const COPY_TYPES: [Type; 10] = [
    Type::INT8,
    Type::INT8,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// The next `$1` values of the sequence, for rows without an id.
const NEXT_IDS: &str = "SELECT nextval('item_ids') FROM generate_series(1, $1::int)";

/// Rows naming an id an earlier row of the file named: refused, and out
/// of the set.
const REPEATED: &str = "WITH numbered AS (\
        SELECT line, row_number() OVER (PARTITION BY id ORDER BY line) AS n \
        FROM import_rows WHERE NOT assigned), \
     moved AS (\
        DELETE FROM import_rows r USING numbered WHERE r.line = numbered.line \
        AND numbered.n > 1 RETURNING r.line, r.id) \
     INSERT INTO import_refused SELECT line, id FROM moved";

/// Whether a retired id lies among the assigned ones (`$1` to `$2`): the
/// sequence steps over retired ids one create at a time, the set cannot.
const RETIRED_AMONG: &str =
    "SELECT EXISTS (SELECT 1 FROM retired_item_ids WHERE id BETWEEN $1 AND $2)";

/// Records the revision of each row of the `inserted` step: `$2` names
/// the user, `$3` the token, `$4` the request.
macro_rules! record_imported {
    () => {
        concat!(
            "revision AS (INSERT INTO item_revisions (",
            revision_columns!(),
            ") SELECT id, version, 'import', $1::text, $2::text, $3::text, 'import', $4::text, \
             NULL, name, description, category, price, created_at, FALSE, NULL, NULL, NULL, \
             NULL FROM inserted) "
        )
    };
}

/// What the inserts return, for their revisions.
macro_rules! returning {
    () => {
        "RETURNING id, version, name, description, category, price, created_at"
    };
}

/// The whole set at once. An id in use fails it (unique violation).
/// `$1` is the time; answers how many rows it stored.
const INSERT_ALL: &str = concat!(
    "WITH inserted AS (INSERT INTO items (id, name, description, category, price, \
     created_at, updated_at, version, name_folded, description_folded, category_folded) \
     SELECT id, name, description, category, price, $1::text, $1::text, 1, name_folded, \
     description_folded, category_folded FROM import_rows ",
    returning!(),
    "), ",
    record_imported!(),
    "SELECT count(*) FROM inserted"
);

/// The same, when rows name their ids: an id of a deleted item carries on
/// from its last version.
const INSERT_ALL_NAMED: &str = concat!(
    "WITH inserted AS (INSERT INTO items (id, name, description, category, price, \
     created_at, updated_at, version, name_folded, description_folded, category_folded) \
     SELECT r.id, r.name, r.description, r.category, r.price, $1::text, $1::text, \
     coalesce(t.version, 0) + 1, r.name_folded, r.description_folded, r.category_folded \
     FROM import_rows r LEFT JOIN item_tombstones t ON NOT r.assigned AND t.id = r.id ",
    returning!(),
    "), ",
    record_imported!(),
    "SELECT count(*) FROM inserted"
);

/// The slower way, first step: the rows that name their ids, each left out
/// when its id is in use, and then refused. Answers how many it refused.
const INSERT_NAMED: &str = concat!(
    "WITH inserted AS (\
        INSERT INTO items (id, name, description, category, price, created_at, updated_at, \
        version, name_folded, description_folded, category_folded) \
        SELECT r.id, r.name, r.description, r.category, r.price, $1::text, $1::text, \
        coalesce(t.version, 0) + 1, r.name_folded, r.description_folded, r.category_folded \
        FROM import_rows r LEFT JOIN item_tombstones t ON t.id = r.id WHERE NOT r.assigned \
        ON CONFLICT (id) DO NOTHING ",
    returning!(),
    "), ",
    record_imported!(),
    ", refused AS (INSERT INTO import_refused SELECT r.line, r.id FROM import_rows r \
     WHERE NOT r.assigned AND NOT EXISTS (SELECT 1 FROM inserted x WHERE x.id = r.id) \
     RETURNING 1) \
     SELECT count(*) FROM refused"
);

/// Second step: the rows given an id, each left out when that id is in use
/// (by a row of the first step or a client's choice) or retired.
const INSERT_ASSIGNED: &str = concat!(
    "WITH inserted AS (\
        INSERT INTO items (id, name, description, category, price, created_at, updated_at, \
        version, name_folded, description_folded, category_folded) \
        SELECT r.id, r.name, r.description, r.category, r.price, $1::text, $1::text, 1, \
        r.name_folded, r.description_folded, r.category_folded \
        FROM import_rows r WHERE r.assigned \
        AND NOT EXISTS (SELECT 1 FROM retired_item_ids x WHERE x.id = r.id) \
        ON CONFLICT (id) DO NOTHING ",
    returning!(),
    "), ",
    record_imported!(),
    "INSERT INTO import_left_out SELECT r.line, r.id FROM import_rows r \
     WHERE r.assigned AND NOT EXISTS (SELECT 1 FROM inserted x WHERE x.id = r.id)"
);

/// Last step: the left-out rows each take the next free id instead, in the
/// order of the lines. `$1` is the time.
const REASSIGN: &str = concat!(
    "WITH inserted AS (INSERT INTO items (id, name, description, category, price, created_at, \
     updated_at, version, name_folded, description_folded, category_folded) \
     SELECT next_item_id(), r.name, r.description, r.category, r.price, $1::text, $1::text, 1, \
     r.name_folded, r.description_folded, r.category_folded \
     FROM import_rows r JOIN import_left_out l ON l.line = r.line ORDER BY r.line ",
    returning!(),
    "), ",
    record_imported!(),
    "SELECT count(*) FROM inserted"
);

/// Runs an import on `client` (a pooled connection, the import's alone),
/// taking the ids of rows without one through another of `store`'s.
pub(super) async fn import(
    store: &PostgresStore,
    client: &mut deadpool_postgres::Object,
    rows: &mut ImportRows,
    on_error: OnError,
    origin: &Origin,
) -> Result<Imported, StoreError> {
    let tx = client.transaction().await.map_err(postgres_error)?;
    tx.batch_execute(STAGING).await.map_err(postgres_error)?;
    let sink = tx.copy_in(COPY).await.map_err(postgres_error)?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &COPY_TYPES));
    let mut sequence = None;
    let mut named_ids = false;
    // The least and greatest id assigned.
    let mut assigned: Option<(i64, i64)> = None;
    let mut staged: u64 = 0;
    // Rows that stop before their end return early: dropping the
    // transaction undoes it.
    while let Some(batch) = ImportBatch::rows(rows.recv().await)? {
        let wanted = batch.iter().filter(|row| row.id.is_none()).count();
        let mut fresh = Vec::new();
        if wanted > 0 {
            if sequence.is_none() {
                let ids = store.client().await?;
                let next_ids = ids.prepare(NEXT_IDS).await.map_err(postgres_error)?;
                sequence = Some((ids, next_ids));
            }
            let (ids, next_ids) = sequence.as_ref().expect("connected above");
            let count = i32::try_from(wanted).unwrap_or(i32::MAX);
            fresh = ids
                .query(next_ids, &[&count])
                .await
                .map_err(postgres_error)?
                .iter()
                .map(|row| row.get::<_, i64>(0))
                .collect();
            // In the order the sequence gave them, whatever order the
            // rows came back in.
            fresh.sort_unstable();
            if let (Some(&least), Some(&greatest)) = (fresh.first(), fresh.last()) {
                assigned = Some(
                    assigned.map_or((least, greatest), |(a, b)| (a.min(least), b.max(greatest))),
                );
            }
        }
        let mut fresh = fresh.into_iter();
        for row in batch {
            let (id, is_assigned) = match row.id {
                Some(id) => (id, false),
                None => match fresh.next() {
                    Some(id) => (id, true),
                    None => return Err(StoreError::backend("the id sequence gave too few ids")),
                },
            };
            named_ids |= !is_assigned;
            let item = &row.item;
            let folded = FoldedText::of_item(item);
            let line = i64::try_from(row.line).unwrap_or(i64::MAX);
            writer
                .as_mut()
                .write(&[
                    &line,
                    &id,
                    &is_assigned,
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
            staged += 1;
        }
    }
    writer.finish().await.map_err(postgres_error)?;
    drop(sequence);

    let repeated = match named_ids {
        true => tx.execute(REPEATED, &[]).await.map_err(postgres_error)?,
        false => 0,
    };
    // Even when a row is refused already and nothing will be kept, the
    // insert runs: the answer lists every row whose id is taken.
    let imported = {
        let now = now_rfc3339();
        let stamp: [&(dyn ToSql + Sync); 4] =
            [&now, &origin.actor, &origin.token, &origin.request_id];
        let count = |row: tokio_postgres::Row| u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
        let retired_among = match assigned {
            Some((least, greatest)) => tx
                .query_one(RETIRED_AMONG, &[&least, &greatest])
                .await
                .map_err(postgres_error)?
                .get::<_, bool>(0),
            None => false,
        };
        let mut all = None;
        if !retired_among {
            tx.batch_execute("SAVEPOINT import_all")
                .await
                .map_err(postgres_error)?;
            let insert = if named_ids {
                INSERT_ALL_NAMED
            } else {
                INSERT_ALL
            };
            match tx.query_one(insert, &stamp).await.map(count) {
                Ok(n) => {
                    tx.batch_execute("RELEASE SAVEPOINT import_all")
                        .await
                        .map_err(postgres_error)?;
                    all = Some(n);
                }
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT import_all")
                        .await
                        .map_err(postgres_error)?;
                }
                Err(e) => return Err(postgres_error(e)),
            }
        }
        match all {
            Some(n) => n,
            None => {
                tracing::info!("an id of the import is in use or retired: sorting the rows out");
                let taken = match named_ids {
                    true => tx
                        .query_one(INSERT_NAMED, &stamp)
                        .await
                        .map(count)
                        .map_err(postgres_error)?,
                    false => 0,
                };
                if assigned.is_some() {
                    tx.execute(INSERT_ASSIGNED, &stamp)
                        .await
                        .map_err(postgres_error)?;
                    tx.query_one(REASSIGN, &stamp)
                        .await
                        .map_err(postgres_error)?;
                }
                // Every row left is written: under its id, or (assigned
                // and taken) under the next free one.
                staged - repeated - taken
            }
        }
    };

    let mut outcome = Imported {
        imported,
        ..Imported::default()
    };
    let refused: i64 = tx
        .query_one("SELECT count(*) FROM import_refused", &[])
        .await
        .map_err(postgres_error)?
        .get(0);
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
