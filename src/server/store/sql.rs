//! SQL and row mapping shared by both backends: the item columns, the WHERE
//! clause of a query's filters, its ORDER BY, and reading rows into domain
//! types. Only the parameter syntax differs (`?1` in SQLite, `$1` in
//! PostgreSQL), which [`Dialect`] supplies.

use std::fmt::Write as _;
use std::sync::LazyLock;

use super::cursor::{self, AuditPosition, Key, Position, TrashPosition};
use super::{fold_case, Credential, NewAuditEntry, StoreError};
use crate::domain::{
    changes, Action, AuditAction, AuditEntry, AuditFilter, BulkAction, BulkTarget, Door, Item,
    ItemDraft, ItemQuery, Revision, Role, SortField, TrashedItem, User, MAX_BULK_ITEMS,
};

macro_rules! item_columns {
    () => {
        "id, name, description, category, price, created_at, updated_at, version"
    };
}
pub(crate) use item_columns;

macro_rules! user_columns {
    () => {
        "id, name, role, disabled, created_at, updated_at, token_generation"
    };
}
pub(crate) use user_columns;

/// The item columns in the order [`item_from_row`] reads them.
pub(crate) const ITEM_COLUMNS: &str = item_columns!();
/// The user columns in the order [`user_at`] reads them.
pub(crate) const USER_COLUMNS: &str = user_columns!();
/// The credential columns in the order [`credential_from_row`] reads them.
pub(crate) const CREDENTIAL_COLUMNS: &str =
    "id, user_id, name, created_at, expires_at, last_used_at, revoked_at";

/// Most categories the filter menu lists.
pub(crate) const MAX_CATEGORIES: i64 = 500;

/// How a backend writes query parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Dialect {
    /// `?1`, `?2`, …
    Sqlite,
    /// `$1`, `$2`, …
    Postgres,
}

impl Dialect {
    fn param(self, sql: &mut String, n: usize) {
        let sigil = match self {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        };
        let _ = write!(sql, "{sigil}{n}");
    }

    /// Parameter `n` as text, for `format!`.
    fn placeholder(self, n: usize) -> String {
        let mut s = String::new();
        self.param(&mut s, n);
        s
    }

    /// Where `needle` occurs in `column` (1-based, 0 when absent).
    fn position(self) -> &'static str {
        match self {
            Dialect::Sqlite => "instr",
            Dialect::Postgres => "strpos",
        }
    }
}

/// A query parameter of a filter or page.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SqlValue {
    Text(String),
    Real(f64),
    Integer(i64),
}

/// The shortest folded query a trigram index can answer; shorter ones
/// compare the text of rows one by one.
pub(crate) const TRIGRAM: usize = 3;

/// Whether a search reads a trigram index (a query of at least
/// [`TRIGRAM`] characters once folded) rather than every row's text. On
/// PostgreSQL such a query's best plan depends on the words searched (an
/// index for a rare one, the table in order for a common one), so it is
/// planned with its pattern each time rather than once per connection.
/// (A filter holding NUL matches nothing, and [`filters`] says so.)
pub(crate) fn searches_by_trigrams(query: &ItemQuery) -> bool {
    let nul = |text: &Option<String>| text.as_deref().is_some_and(|t| t.contains('\0'));
    !nul(&query.q)
        && !nul(&query.category)
        && query
            .q
            .as_deref()
            .is_some_and(|q| fold_case(q).chars().nth(TRIGRAM - 1).is_some())
}

/// The WHERE clause of a query's filters (empty when it has none) and its
/// parameters, numbered from 1.
pub(crate) fn filters(dialect: Dialect, query: &ItemQuery) -> (String, Vec<SqlValue>) {
    let mut sql = String::new();
    let mut values = Vec::new();
    let and = |sql: &mut String| sql.push_str(if sql.is_empty() { " WHERE " } else { " AND " });
    // Stored text never holds NUL (validation refuses control characters)
    // and PostgreSQL cannot even take it as a parameter: a filter with one
    // matches nothing, on both backends alike.
    let holds_nul = |text: &Option<String>| text.as_deref().is_some_and(|t| t.contains('\0'));
    if holds_nul(&query.q) || holds_nul(&query.category) {
        return (" WHERE 1 = 0".into(), values);
    }
    // Plain substring tests on the folded text: `%` and `_` stay literal.
    if let Some(q) = &query.q {
        let folded = fold_case(q);
        if matches!(dialect, Dialect::Sqlite) && searches_by_trigrams(query) {
            // The items the index says hold every trigram of the query, and
            // those written since it was last brought up to date; then the
            // substring test itself.
            values.push(SqlValue::Text(trigrams_query(&folded)));
            let m = dialect.placeholder(values.len());
            values.push(SqlValue::Text(folded));
            let p = dialect.placeholder(values.len());
            and(&mut sql);
            let _ = write!(
                sql,
                "(id IN (SELECT rowid FROM item_search({m})) \
                 OR id IN (SELECT id FROM item_search_pending)) \
                 AND (instr(name_folded, {p}) > 0 OR instr(description_folded, {p}) > 0)"
            );
        } else if matches!(dialect, Dialect::Postgres) && searches_by_trigrams(query) {
            // pg_trgm's indexes answer LIKE: the query becomes a pattern
            // with its own `\`, `%` and `_` escaped.
            let mut pattern = String::with_capacity(folded.len() + 2);
            pattern.push('%');
            for c in folded.chars() {
                if matches!(c, '\\' | '%' | '_') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            values.push(SqlValue::Text(pattern));
            let p = dialect.placeholder(values.len());
            and(&mut sql);
            let _ = write!(
                sql,
                "(name_folded LIKE {p} ESCAPE '\\' OR description_folded LIKE {p} ESCAPE '\\')"
            );
        } else {
            values.push(SqlValue::Text(folded));
            let n = values.len();
            and(&mut sql);
            let position = dialect.position();
            let _ = write!(sql, "({position}(name_folded, ");
            dialect.param(&mut sql, n);
            let _ = write!(sql, ") > 0 OR {position}(description_folded, ");
            dialect.param(&mut sql, n);
            sql.push_str(") > 0)");
        }
    }
    other_filters(dialect, query, &mut sql, &mut values);
    (sql, values)
}

/// The category and price filters, continuing `sql` (a WHERE clause, or
/// nothing yet) and numbering their parameters after `values`.
fn other_filters(
    dialect: Dialect,
    query: &ItemQuery,
    sql: &mut String,
    values: &mut Vec<SqlValue>,
) {
    let and = |sql: &mut String| sql.push_str(if sql.is_empty() { " WHERE " } else { " AND " });
    if let Some(category) = &query.category {
        values.push(SqlValue::Text(fold_case(category)));
        and(sql);
        sql.push_str("category_folded = ");
        dialect.param(sql, values.len());
    }
    if let Some(price_lt) = query.price_lt {
        values.push(SqlValue::Real(price_lt));
        and(sql);
        sql.push_str("price < ");
        dialect.param(sql, values.len());
    }
}

/// An FTS5 query for the rows of `item_search` holding each distinct
/// trigram of `folded` (each a quoted string, its quotes doubled).
fn trigrams_query(folded: &str) -> String {
    let chars: Vec<char> = folded.chars().collect();
    let mut seen = std::collections::HashSet::new();
    let mut query = String::new();
    for trigram in chars.windows(TRIGRAM) {
        if !seen.insert(trigram) {
            continue;
        }
        if !query.is_empty() {
            query.push_str(" AND ");
        }
        query.push('"');
        for &c in trigram {
            if c == '"' {
                query.push('"');
            }
            query.push(c);
        }
        query.push('"');
    }
    query
}

/// The item columns, each named with its table (for joins).
static ITEM_COLUMNS_OF_ITEMS: LazyLock<String> = LazyLock::new(|| {
    ITEM_COLUMNS
        .split(", ")
        .map(|c| format!("items.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
});

/// The two sources of a SQLite search's matches in id order, each read in
/// that order (either way) and able to stop after a page: the index's
/// matches that were not written since it was last brought up to date,
/// and the items written since. Each is ` FROM … WHERE …` (the substring
/// test and the other filters included) with the column of its id.
fn sqlite_search_parts(
    query: &ItemQuery,
    values: &mut Vec<SqlValue>,
) -> [(String, &'static str); 2] {
    let dialect = Dialect::Sqlite;
    let folded = fold_case(query.q.as_deref().unwrap_or_default());
    values.push(SqlValue::Text(trigrams_query(&folded)));
    let m = dialect.placeholder(values.len());
    values.push(SqlValue::Text(folded));
    let p = dialect.placeholder(values.len());
    let mut rest = format!(
        " WHERE (instr(items.name_folded, {p}) > 0 OR instr(items.description_folded, {p}) > 0)"
    );
    other_filters(dialect, query, &mut rest, values);
    [
        (
            format!(
                " FROM item_search({m}) AS s JOIN items ON items.id = s.rowid{rest} \
                 AND s.rowid NOT IN (SELECT id FROM item_search_pending)"
            ),
            "s.rowid",
        ),
        (
            format!(" FROM item_search_pending AS p CROSS JOIN items ON items.id = p.id{rest}"),
            "p.id",
        ),
    ]
}

/// `SELECT` of one page of items: the filters, the position of the
/// query's cursor (when it has one), the order, and one row more than the
/// page (which says whether more follow), with all parameters. A backward
/// position reads the rows before it in reverse order.
///
/// A column that may be missing is read in two parts, the rows that have a
/// value and the rows that miss it (which sort last), each in an order an
/// index on `(column, id)` gives as it is: one `ORDER BY column IS NULL,
/// ...` would have to sort every matching row first.
pub(crate) fn list(
    dialect: Dialect,
    query: &ItemQuery,
    position: Option<&Position>,
) -> (String, Vec<SqlValue>) {
    let backward = position.is_some_and(|p| p.backward);
    let rows = u64::from(query.limit) + 1;
    if matches!(dialect, Dialect::Sqlite)
        && query.sort == SortField::Id
        && searches_by_trigrams(query)
    {
        let mut values = Vec::new();
        let parts = sqlite_search_parts(query, &mut values);
        values.push(SqlValue::Integer(to_i64(rows.saturating_add(query.skip))));
        let part_rows = dialect.placeholder(values.len());
        let beyond = position.map(|position| {
            values.push(SqlValue::Integer(position.id));
            (
                comparison(query, position),
                dialect.placeholder(values.len()),
            )
        });
        let dir = direction(query.descending != backward);
        let columns = &*ITEM_COLUMNS_OF_ITEMS;
        let parts: Vec<String> = parts
            .iter()
            .map(|(source, id)| {
                let beyond = beyond
                    .as_ref()
                    .map(|(cmp, at)| format!(" AND {id} {cmp} {at}"))
                    .unwrap_or_default();
                format!("SELECT {columns}{source}{beyond} ORDER BY {id} {dir} LIMIT {part_rows}")
            })
            .collect();
        let sql = paged_union(dialect, query, backward, parts, rows, &mut values);
        return (sql, values);
    }
    let (where_sql, mut values) = filters(dialect, query);
    if !cursor::may_be_missing(query.sort) {
        let mut sql = format!("SELECT {ITEM_COLUMNS} FROM items{where_sql}");
        if let Some(position) = position {
            and(&mut sql, &where_sql);
            beyond(dialect, query, position, &mut sql, &mut values);
        }
        sql.push_str(&order(query, backward));
        page(dialect, &mut sql, &mut values, rows, query.skip);
        return (sql, values);
    }
    let column = query.sort.as_str();
    let dir = direction(query.descending != backward);
    // Each part reads as many rows as the page could take from it.
    values.push(SqlValue::Integer(to_i64(rows.saturating_add(query.skip))));
    let part_rows = values.len();
    let (present, missing) = match position {
        Some(position) => parts_beyond(dialect, query, position, &mut values),
        None => (Some(String::new()), Some(String::new())),
    };
    let part = |condition: &str, extra: &str, order: &str| {
        let mut sql = format!("SELECT {ITEM_COLUMNS} FROM items{where_sql}");
        and(&mut sql, &where_sql);
        let _ = write!(sql, "{condition}{extra} ORDER BY {order} LIMIT ");
        dialect.param(&mut sql, part_rows);
        sql
    };
    let present = present.map(|extra| {
        part(
            &format!("{column} IS NOT NULL"),
            &extra,
            &format!("{column} {dir}, id {dir}"),
        )
    });
    let missing =
        missing.map(|extra| part(&format!("{column} IS NULL"), &extra, &format!("id {dir}")));
    let parts = present.into_iter().chain(missing).collect();
    let sql = paged_union(dialect, query, backward, parts, rows, &mut values);
    (sql, values)
}

/// A page read from `parts` (each a `SELECT` of items in the page's order,
/// reading as many rows as the page could take from it), in the query's
/// order (reversed when reading `backward`), with its `LIMIT` and `OFFSET`.
fn paged_union(
    dialect: Dialect,
    query: &ItemQuery,
    backward: bool,
    parts: Vec<String>,
    rows: u64,
    values: &mut Vec<SqlValue>,
) -> String {
    let parts: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| format!("SELECT * FROM ({part}) AS part{i}"))
        .collect();
    let mut sql = format!(
        "SELECT {ITEM_COLUMNS} FROM ({}) AS page{}",
        parts.join(" UNION ALL "),
        order(query, backward)
    );
    page(dialect, &mut sql, values, rows, query.skip);
    sql
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn direction(descending: bool) -> &'static str {
    if descending {
        "DESC"
    } else {
        "ASC"
    }
}

/// Continues a WHERE clause, or starts one.
fn and(sql: &mut String, where_sql: &str) {
    sql.push_str(if where_sql.is_empty() {
        " WHERE "
    } else {
        " AND "
    });
}

/// `LIMIT` and `OFFSET` of a page.
fn page(dialect: Dialect, sql: &mut String, values: &mut Vec<SqlValue>, rows: u64, skip: u64) {
    values.push(SqlValue::Integer(to_i64(rows)));
    sql.push_str(" LIMIT ");
    dialect.param(sql, values.len());
    values.push(SqlValue::Integer(to_i64(skip)));
    sql.push_str(" OFFSET ");
    dialect.param(sql, values.len());
}

/// The condition of the rows past a cursor's boundary row when the sort
/// column is never missing: the sort key and id compared as one row value
/// (just the id when sorting by id).
fn beyond(
    dialect: Dialect,
    query: &ItemQuery,
    position: &Position,
    sql: &mut String,
    values: &mut Vec<SqlValue>,
) {
    let cmp = comparison(query, position);
    values.push(SqlValue::Integer(position.id));
    let id = values.len();
    match key_value(&position.key) {
        Some(key) if query.sort != SortField::Id => {
            values.push(key);
            let column = query.sort.as_str();
            let _ = write!(
                sql,
                "({column}, id) {cmp} ({}, {})",
                dialect.placeholder(values.len()),
                dialect.placeholder(id)
            );
        }
        _ => {
            let _ = write!(sql, "id {cmp} {}", dialect.placeholder(id));
        }
    }
}

/// What each part of a page of a column that may be missing adds to its
/// condition to start past a cursor's boundary row (`None`: no row of that
/// part is past it). Forwards, the rows missing the value come after every
/// row that has one; backwards, before none.
fn parts_beyond(
    dialect: Dialect,
    query: &ItemQuery,
    position: &Position,
    values: &mut Vec<SqlValue>,
) -> (Option<String>, Option<String>) {
    let cmp = comparison(query, position);
    let column = query.sort.as_str();
    values.push(SqlValue::Integer(position.id));
    let id = dialect.placeholder(values.len());
    match (key_value(&position.key), position.backward) {
        (Some(key), backward) => {
            values.push(key);
            let present = format!(
                " AND ({column}, id) {cmp} ({}, {id})",
                dialect.placeholder(values.len())
            );
            (Some(present), (!backward).then(String::new))
        }
        (None, false) => (None, Some(format!(" AND id {cmp} {id}"))),
        (None, true) => (Some(String::new()), Some(format!(" AND id {cmp} {id}"))),
    }
}

/// How rows past a cursor's boundary compare with it, in the order the
/// page is read.
fn comparison(query: &ItemQuery, position: &Position) -> &'static str {
    if query.descending != position.backward {
        "<"
    } else {
        ">"
    }
}

fn key_value(key: &Key) -> Option<SqlValue> {
    match key {
        Key::Missing => None,
        Key::Integer(n) => Some(SqlValue::Integer(*n)),
        Key::Real(x) => Some(SqlValue::Real(*x)),
        Key::Text(t) => Some(SqlValue::Text(t.clone())),
    }
}

/// `SELECT` of every item matching the query's filters, in its order
/// (exports: no page).
pub(crate) fn export(dialect: Dialect, query: &ItemQuery) -> (String, Vec<SqlValue>) {
    let (where_sql, values) = filters(dialect, query);
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM items{where_sql}{}",
        order_by(query)
    );
    (sql, values)
}

/// The ids a bulk action changes, or how to find them.
pub(crate) enum BulkIds {
    /// The ids the action names.
    Named(Vec<i64>),
    /// The `SELECT` (with its parameters) of the ids its filter matches,
    /// ascending, one more than a bulk action may change (which says the
    /// filter matches too many); on PostgreSQL the rows are locked until
    /// the action commits.
    Matching(String, Vec<SqlValue>),
}

/// The ids of a bulk action's target (a restore names its ids).
pub(crate) fn bulk_ids(
    dialect: Dialect,
    target: &BulkTarget,
    action: &BulkAction,
) -> Result<BulkIds, StoreError> {
    let filter = match target {
        BulkTarget::Ids(ids) => return Ok(BulkIds::Named(ids.clone())),
        BulkTarget::Matching(_) if *action == BulkAction::Restore => {
            return Err(StoreError::backend("a bulk restore names its ids"))
        }
        BulkTarget::Matching(filter) => filter,
    };
    let query = ItemQuery {
        q: filter.q.clone(),
        category: filter.category.clone(),
        price_lt: filter.price_lt,
        ..ItemQuery::default()
    };
    let (where_sql, values) = filters(dialect, &query);
    let lock = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE",
    };
    let limit = MAX_BULK_ITEMS + 1;
    let sql = format!("SELECT id FROM items{where_sql} ORDER BY id LIMIT {limit}{lock}");
    Ok(BulkIds::Matching(sql, values))
}

/// ORDER BY for a query; missing values sort last either way and ties break
/// by id so paging is stable. Text compares byte by byte on both backends
/// (SQLite's BINARY; PostgreSQL's columns are `COLLATE "C"`).
pub(crate) fn order_by(query: &ItemQuery) -> String {
    order(query, false)
}

/// The query's order, or its exact reverse (missing values first) for a
/// page read backwards from a cursor.
fn order(query: &ItemQuery, reversed: bool) -> String {
    let dir = direction(query.descending != reversed);
    let column = query.sort.as_str();
    let missing = if reversed { " DESC" } else { "" };
    match query.sort {
        SortField::Id => format!(" ORDER BY id {dir}"),
        sort if cursor::may_be_missing(sort) => {
            format!(" ORDER BY {column} IS NULL{missing}, {column} {dir}, id {dir}")
        }
        _ => format!(" ORDER BY {column} {dir}, id {dir}"),
    }
}

/// The most used categories (one spelling per folded name, the least),
/// from the counts kept with every write: a client that invents hundreds of
/// categories cannot push the ones in real use out of everyone's menu.
/// Rows are (folded, spelling); sort them by the first.
pub(crate) fn categories(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "SELECT c.category_folded, coalesce((SELECT min(category) FROM items \
             WHERE category_folded = c.category_folded), c.category_folded) \
             FROM category_counts c ORDER BY c.n DESC, c.category_folded LIMIT ?1"
        }
        Dialect::Postgres => {
            "SELECT c.category_folded, coalesce((SELECT min(category) FROM items \
             WHERE category_folded = c.category_folded), c.category_folded) \
             FROM (SELECT category_folded, sum(n) AS n FROM category_counts \
             GROUP BY category_folded HAVING sum(n) > 0 \
             ORDER BY sum(n) DESC, category_folded LIMIT $1) c"
        }
    }
}

/// How a query's total is read: the SQL (one row, one integer) with its
/// parameters, and whether its answer is exact. Everything, or one
/// category, is read from the counts kept with every write; other filters
/// count their matches, stopping after `bound + 1`.
pub(crate) fn total(
    dialect: Dialect,
    query: &ItemQuery,
    bound: u64,
) -> (String, Vec<SqlValue>, bool) {
    let kept = query.q.is_none() && query.price_lt.is_none();
    let nul = query.category.as_deref().is_some_and(|c| c.contains('\0'));
    if matches!(dialect, Dialect::Sqlite) && searches_by_trigrams(query) {
        let mut values = Vec::new();
        let [(first, _), (second, _)] = sqlite_search_parts(query, &mut values);
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1{first} UNION ALL SELECT 1{second} LIMIT {}) AS matches",
            bound.saturating_add(1).min(i64::MAX as u64)
        );
        return (sql, values, false);
    }
    if !kept || nul {
        let (where_sql, values) = filters(dialect, query);
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM items{where_sql} LIMIT {}) AS matches",
            bound.saturating_add(1).min(i64::MAX as u64)
        );
        return (sql, values, false);
    }
    let sql = match (dialect, &query.category) {
        (Dialect::Sqlite, None) => "SELECT n FROM item_count",
        (Dialect::Sqlite, Some(_)) => {
            "SELECT coalesce((SELECT n FROM category_counts WHERE category_folded = ?1), 0)"
        }
        (Dialect::Postgres, None) => "SELECT coalesce(sum(n), 0)::bigint FROM item_count",
        (Dialect::Postgres, Some(_)) => {
            "SELECT coalesce(sum(n), 0)::bigint FROM category_counts WHERE category_folded = $1"
        }
    };
    let values = query
        .category
        .iter()
        .map(|c| SqlValue::Text(fold_case(c)))
        .collect();
    (sql.to_owned(), values, true)
}

/// A row as both drivers give it, for the few column types stored.
pub(crate) trait SqlRow {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn opt_real(&self, i: usize) -> Result<Option<f64>, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
}

/// An item from [`ITEM_COLUMNS`].
pub(crate) fn item_from_row<R: SqlRow>(row: &R) -> Result<Item, R::Error> {
    Ok(Item {
        id: row.int(0)?,
        name: row.text(1)?,
        description: row.opt_text(2)?,
        category: row.opt_text(3)?,
        price: row.opt_real(4)?,
        created_at: row.text(5)?,
        updated_at: row.text(6)?,
        version: row.int(7)?,
    })
}

/// The columns of `item_revisions` in the order [`revision_from_row`]
/// reads them (the backends write them in this order too).
macro_rules! revision_columns {
    () => {
        "item_id, version, action, at, actor, token, door, request_id, reverted_to, name, \
         description, category, price, created_at, had_before, old_name, old_description, \
         old_category, old_price"
    };
}
pub(crate) use revision_columns;

/// A page of an item's revisions, newest first, below version `$2`.
pub(crate) fn history(dialect: Dialect) -> &'static str {
    static SQLITE: LazyLock<String> = LazyLock::new(|| history_sql(Dialect::Sqlite));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| history_sql(Dialect::Postgres));
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    }
}

fn history_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {} FROM item_revisions WHERE item_id = {} AND version < {} \
         ORDER BY version DESC LIMIT {}",
        revision_columns!(),
        dialect.placeholder(1),
        dialect.placeholder(2),
        dialect.placeholder(3)
    )
}

/// One revision of an item (`$1`) by its version (`$2`).
pub(crate) fn revision_at(dialect: Dialect) -> &'static str {
    static SQLITE: LazyLock<String> = LazyLock::new(|| revision_at_sql(Dialect::Sqlite));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| revision_at_sql(Dialect::Postgres));
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    }
}

fn revision_at_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {} FROM item_revisions WHERE item_id = {} AND version = {}",
        revision_columns!(),
        dialect.placeholder(1),
        dialect.placeholder(2)
    )
}

/// A revision from [`revision_columns`]. The action and door columns hold
/// only what the server writes; anything else reads as an update through
/// REST rather than failing the whole history.
pub(crate) fn revision_from_row<R: SqlRow>(row: &R) -> Result<Revision, R::Error> {
    let version = row.int(1)?;
    let at = row.text(3)?;
    let item = Item {
        id: row.int(0)?,
        name: row.text(9)?,
        description: row.opt_text(10)?,
        category: row.opt_text(11)?,
        price: row.opt_real(12)?,
        created_at: row.text(13)?,
        updated_at: at.clone(),
        version,
    };
    let action = Action::parse(&row.text(2)?).unwrap_or(Action::Update);
    let before = match row.flag(14)? {
        true => Some(ItemDraft {
            name: row.opt_text(15)?.unwrap_or_default(),
            description: row.opt_text(16)?,
            category: row.opt_text(17)?,
            price: row.opt_real(18)?,
        }),
        false => None,
    };
    let changes = match action {
        Action::Delete => Vec::new(),
        _ => changes(before.as_ref(), &ItemDraft::of(&item)),
    };
    Ok(Revision {
        item_id: item.id,
        version,
        action,
        at,
        actor: row.opt_text(4)?,
        token: row.opt_text(5)?,
        door: Door::parse(&row.text(6)?).unwrap_or_default(),
        request_id: row.opt_text(7)?,
        reverted_to: row.opt_int(8)?,
        item,
        changes,
    })
}

/// The columns of a trashed item in `item_tombstones`, in the order
/// [`trashed_from_row`] reads them.
macro_rules! trash_columns {
    () => {
        "id, name, description, category, price, created_at, version, deleted_at, deleted_by"
    };
}
pub(crate) use trash_columns;

/// Sorts after every RFC 3339 time: the position before the first page of
/// a log read newest first (the trash, the audit log).
const LOG_START: &str = "~";

/// What a page of the trash binds: the position it starts after (deleted
/// at, id) and the folded text it searches for. `None` when the search
/// can match nothing: it holds NUL, which stored text never does (and
/// PostgreSQL cannot even take as a parameter).
pub(crate) fn trash_bounds<'a>(
    q: Option<&str>,
    after: Option<&'a TrashPosition>,
) -> Option<(&'a str, i64, Option<String>)> {
    let (deleted_at, id) = after.map_or((LOG_START, i64::MAX), |p| (p.deleted_at.as_str(), p.id));
    match q.map(fold_case) {
        Some(q) if q.contains('\0') => None,
        folded => Some((deleted_at, id, folded)),
    }
}

/// A page of the trash, newest deletion first, after the position
/// (`$1` deleted at, `$2` id), `$3` rows; with `search`, only items whose
/// folded name or description holds `$4`.
pub(crate) fn trash_page(dialect: Dialect, search: bool) -> &'static str {
    static PAGES: LazyLock<[String; 4]> = LazyLock::new(|| {
        [
            trash_page_sql(Dialect::Sqlite, false),
            trash_page_sql(Dialect::Sqlite, true),
            trash_page_sql(Dialect::Postgres, false),
            trash_page_sql(Dialect::Postgres, true),
        ]
    });
    let backend = match dialect {
        Dialect::Sqlite => 0,
        Dialect::Postgres => 2,
    };
    &PAGES[backend + usize::from(search)]
}

fn trash_page_sql(dialect: Dialect, search: bool) -> String {
    let p = |n| dialect.placeholder(n);
    let mut sql = format!(
        "SELECT {} FROM item_tombstones WHERE name IS NOT NULL AND (deleted_at, id) < ({}, {})",
        trash_columns!(),
        p(1),
        p(2)
    );
    if search {
        let position = dialect.position();
        let _ = write!(
            sql,
            " AND ({position}(name_folded, {0}) > 0 OR {position}(description_folded, {0}) > 0)",
            p(4)
        );
    }
    let _ = write!(sql, " ORDER BY deleted_at DESC, id DESC LIMIT {}", p(3));
    sql
}

/// Empties a tombstone of its item (`$1`), keeping the version; answers
/// that version, or no row when the item was not in the trash.
pub(crate) fn take_from_trash(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "UPDATE item_tombstones SET name = NULL, description = NULL, category = NULL, \
             price = NULL, created_at = NULL, deleted_at = NULL, deleted_by = NULL, \
             name_folded = NULL, description_folded = NULL \
             WHERE id = ?1 AND name IS NOT NULL RETURNING version"
        }
        Dialect::Postgres => {
            "UPDATE item_tombstones SET name = NULL, description = NULL, category = NULL, \
             price = NULL, created_at = NULL, deleted_at = NULL, deleted_by = NULL, \
             name_folded = NULL, description_folded = NULL \
             WHERE id = $1 AND name IS NOT NULL RETURNING version"
        }
    }
}

/// The revisions of a purged item: those of `$1` up to its deletion's
/// version `$2` (an item created again under the id keeps its own).
pub(crate) fn purge_history(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "DELETE FROM item_revisions WHERE item_id = ?1 AND version <= ?2",
        Dialect::Postgres => "DELETE FROM item_revisions WHERE item_id = $1 AND version <= $2",
    }
}

/// Removes up to `$2` revisions recorded before `$1`, oldest first.
pub(crate) fn prune_old_revisions(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "DELETE FROM item_revisions WHERE (item_id, version) IN (SELECT item_id, version \
             FROM item_revisions WHERE at < ?1 ORDER BY at, item_id, version LIMIT ?2)"
        }
        Dialect::Postgres => {
            "DELETE FROM item_revisions WHERE (item_id, version) IN (SELECT item_id, version \
             FROM item_revisions WHERE at < $1 ORDER BY at, item_id, version LIMIT $2)"
        }
    }
}

/// The next `$4` revisions after (`$1` at, `$2` item, `$3` version) in the
/// order they were recorded: their places.
pub(crate) fn revisions_after(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "SELECT at, item_id, version FROM item_revisions \
             WHERE (at, item_id, version) > (?1, ?2, ?3) ORDER BY at, item_id, version LIMIT ?4"
        }
        Dialect::Postgres => {
            "SELECT at, item_id, version FROM item_revisions \
             WHERE (at, item_id, version) > ($1, $2, $3) ORDER BY at, item_id, version LIMIT $4"
        }
    }
}

/// Removes the revisions of item `$1` but its newest `$2`. An item's
/// revisions have consecutive versions (one per change; a purge removes
/// those up to a deletion, and items older than the history have none
/// before their first change after it), so its newest N are those within N
/// versions of its newest.
pub(crate) fn prune_item_history(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "DELETE FROM item_revisions WHERE item_id = ?1 AND version <= \
             (SELECT max(version) FROM item_revisions WHERE item_id = ?1) - ?2"
        }
        Dialect::Postgres => {
            "DELETE FROM item_revisions r WHERE r.item_id = ANY($1) AND r.version <= \
             (SELECT max(m.version) FROM item_revisions m WHERE m.item_id = r.item_id) - $2"
        }
    }
}

/// Ids of up to `$2` items deleted before `$1`, oldest deletion first.
pub(crate) fn expired_trash(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "SELECT id FROM item_tombstones WHERE name IS NOT NULL AND deleted_at < ?1 \
             ORDER BY deleted_at, id LIMIT ?2"
        }
        Dialect::Postgres => {
            "SELECT id FROM item_tombstones WHERE name IS NOT NULL AND deleted_at < $1 \
             ORDER BY deleted_at, id LIMIT $2"
        }
    }
}

/// A trashed item from [`trash_columns`].
pub(crate) fn trashed_from_row<R: SqlRow>(row: &R) -> Result<TrashedItem, R::Error> {
    Ok(TrashedItem {
        id: row.int(0)?,
        name: row.text(1)?,
        description: row.opt_text(2)?,
        category: row.opt_text(3)?,
        price: row.opt_real(4)?,
        created_at: row.text(5)?,
        version: row.int(6)?,
        deleted_at: row.text(7)?,
        deleted_by: row.opt_text(8)?,
    })
}

/// The columns of an audit entry, in the order [`audit_from_row`] reads
/// them.
const AUDIT_COLUMNS: &str =
    "id, at, action, actor, token, subject, detail, door, request_id, client";

/// Adds an entry (`$1`…`$10`: at, action, actor, actor folded, token,
/// subject, detail, door, request id, client).
pub(crate) fn insert_audit(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "INSERT INTO audit_log (at, action, actor, actor_folded, token, subject, detail, \
             door, request_id, client) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        }
        Dialect::Postgres => {
            "INSERT INTO audit_log (at, action, actor, actor_folded, token, subject, detail, \
             door, request_id, client) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        }
    }
}

/// What [`insert_audit`] binds for `entry`, recorded at `at`.
pub(crate) fn audit_values(entry: &NewAuditEntry, at: String) -> [Option<String>; 10] {
    [
        Some(at),
        Some(entry.action.as_str().to_owned()),
        entry.actor.clone(),
        entry.actor.as_deref().map(fold_case),
        entry.token.clone(),
        entry.subject.clone(),
        entry.detail.clone(),
        entry.door.map(|d| d.as_str().to_owned()),
        entry.request_id.clone(),
        entry.client.clone(),
    ]
}

/// A page of the audit log, newest first: the entries `filter` keeps
/// after `after`, at most `limit`; the SQL and its parameters. `None` when
/// the filter can match nothing (a user name holding NUL, which stored
/// text never does). Each combination of filters is equalities on the
/// leading columns of an index that continues with (time, id), so the page
/// is read from that index whatever the table's size. SQLite is told
/// which: without statistics it may pick the action's index for a user's
/// one action and read every entry of that action.
pub(crate) fn audit_page(
    dialect: Dialect,
    filter: &AuditFilter,
    after: Option<&AuditPosition>,
    limit: i64,
) -> Option<(String, Vec<SqlValue>)> {
    let p = |n| dialect.placeholder(n);
    // The page ends before the cursor's entry, or before `until` (any id
    // at that time is past it), whichever comes first.
    let (mut at, mut id) = after.map_or((LOG_START.to_owned(), i64::MAX), |a| (a.at.clone(), a.id));
    if let Some(until) = &filter.until {
        if (until.as_str(), i64::MIN) < (at.as_str(), id) {
            (at, id) = (until.clone(), i64::MIN);
        }
    }
    let mut values = vec![
        SqlValue::Text(at),
        SqlValue::Integer(id),
        SqlValue::Text(filter.since.clone().unwrap_or_default()),
    ];
    let index = match (dialect, &filter.user, filter.action) {
        (Dialect::Postgres, _, _) => "",
        (Dialect::Sqlite, Some(_), Some(_)) => " INDEXED BY audit_by_actor_action",
        (Dialect::Sqlite, Some(_), None) => " INDEXED BY audit_by_actor",
        (Dialect::Sqlite, None, Some(_)) => " INDEXED BY audit_by_action",
        (Dialect::Sqlite, None, None) => " INDEXED BY audit_by_time",
    };
    let mut sql = format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log{index} WHERE (at, id) < ({}, {}) AND at >= {}",
        p(1),
        p(2),
        p(3)
    );
    if let Some(user) = &filter.user {
        let folded = fold_case(user.trim());
        if folded.contains('\0') {
            return None;
        }
        values.push(SqlValue::Text(folded));
        let _ = write!(sql, " AND actor_folded = {}", p(values.len()));
    }
    if let Some(action) = filter.action {
        values.push(SqlValue::Text(action.as_str().to_owned()));
        let _ = write!(sql, " AND action = {}", p(values.len()));
    }
    values.push(SqlValue::Integer(limit));
    let _ = write!(sql, " ORDER BY at DESC, id DESC LIMIT {}", p(values.len()));
    Some((sql, values))
}

/// An audit entry from [`AUDIT_COLUMNS`]; `None` for an action this
/// version does not know (recorded by a newer one on the same database),
/// which is left out rather than shown as another.
pub(crate) fn audit_from_row<R: SqlRow>(row: &R) -> Result<Option<AuditEntry>, R::Error> {
    let Some(action) = AuditAction::parse(&row.text(2)?) else {
        return Ok(None);
    };
    Ok(Some(AuditEntry {
        id: row.int(0)?,
        at: row.text(1)?,
        action,
        actor: row.opt_text(3)?,
        token: row.opt_text(4)?,
        subject: row.opt_text(5)?,
        detail: row.opt_text(6)?,
        door: row.opt_text(7)?.as_deref().and_then(Door::parse),
        request_id: row.opt_text(8)?,
        client: row.opt_text(9)?,
    }))
}

/// The user whose [`USER_COLUMNS`] start at column `first`.
pub(crate) fn user_at<R: SqlRow>(row: &R, first: usize) -> Result<User, R::Error> {
    let role = row.text(first + 2)?;
    Ok(User {
        id: row.int(first)?,
        name: row.text(first + 1)?,
        // The CHECK constraint admits only the three names.
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        disabled: row.flag(first + 3)?,
        created_at: row.text(first + 4)?,
        updated_at: row.text(first + 5)?,
        token_generation: row.int(first + 6)?,
    })
}

/// A credential from [`CREDENTIAL_COLUMNS`].
pub(crate) fn credential_from_row<R: SqlRow>(row: &R) -> Result<Credential, R::Error> {
    Ok(Credential {
        id: row.int(0)?,
        user_id: row.int(1)?,
        name: row.opt_text(2)?,
        created_at: row.text(3)?,
        expires_at: row.opt_text(4)?,
        last_used_at: row.opt_text(5)?,
        revoked_at: row.opt_text(6)?,
    })
}

/// The live credential with a given hash and its user: credential columns
/// 0–6, user columns from 7. Parameters: hash, kind, now.
pub(crate) fn live_credential(dialect: Dialect) -> &'static str {
    fn build(dialect: Dialect) -> String {
        let p = |n| dialect.placeholder(n);
        format!(
            "SELECT c.id, c.user_id, c.name, c.created_at, c.expires_at, c.last_used_at, \
             c.revoked_at, u.id, u.name, u.role, u.disabled, u.created_at, u.updated_at, \
             u.token_generation \
             FROM credentials c JOIN users u ON u.id = c.user_id \
             WHERE c.token_hash = {} AND c.kind = {} AND c.revoked_at IS NULL \
             AND (c.expires_at IS NULL OR c.expires_at > {})",
            p(1),
            p(2),
            p(3)
        )
    }
    static SQLITE: LazyLock<String> = LazyLock::new(|| build(Dialect::Sqlite));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| build(Dialect::Postgres));
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    }
}

/// Whether "last used" of a token used at `last_used` should be written
/// again at `now`: at most once a minute per token, so that a busy script
/// does not turn reads into writes.
pub(crate) fn last_use_is_stale(last_used: Option<&str>, now: &str) -> bool {
    last_used.is_none_or(|t| t.get(..16) != now.get(..16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_number_their_parameters_in_each_dialect() {
        let query = ItemQuery {
            q: Some("É".into()),
            category: Some("Tools".into()),
            price_lt: Some(3.5),
            ..ItemQuery::default()
        };
        let (sqlite, values) = filters(Dialect::Sqlite, &query);
        assert_eq!(
            sqlite,
            " WHERE (instr(name_folded, ?1) > 0 OR instr(description_folded, ?1) > 0) \
             AND category_folded = ?2 AND price < ?3"
        );
        let (postgres, _) = filters(Dialect::Postgres, &query);
        assert_eq!(
            postgres,
            " WHERE (strpos(name_folded, $1) > 0 OR strpos(description_folded, $1) > 0) \
             AND category_folded = $2 AND price < $3"
        );
        assert_eq!(
            values,
            vec![
                SqlValue::Text("é".into()),
                SqlValue::Text("tools".into()),
                SqlValue::Real(3.5)
            ]
        );
    }

    #[test]
    fn a_search_of_a_trigram_or_more_reads_the_index_with_its_text_literal() {
        let query = ItemQuery {
            q: Some("A\"_%\\ß".into()),
            category: Some("Tools".into()),
            ..ItemQuery::default()
        };
        assert!(searches_by_trigrams(&query));
        let (postgres, values) = filters(Dialect::Postgres, &query);
        assert_eq!(
            postgres,
            " WHERE (name_folded LIKE $1 ESCAPE '\\' OR description_folded LIKE $1 ESCAPE '\\') \
             AND category_folded = $2"
        );
        assert_eq!(values[0], SqlValue::Text("%a\"\\_\\%\\\\ss%".into()));
        // SQLite: the index's matches or the items written since, each
        // trigram asked once (quotes doubled), then the substring test.
        let (sqlite, values) = filters(Dialect::Sqlite, &query);
        assert_eq!(
            sqlite,
            " WHERE (id IN (SELECT rowid FROM item_search(?1)) \
             OR id IN (SELECT id FROM item_search_pending)) \
             AND (instr(name_folded, ?2) > 0 OR instr(description_folded, ?2) > 0) \
             AND category_folded = ?3"
        );
        assert_eq!(
            values[..2],
            [
                SqlValue::Text(
                    "\"a\"\"_\" AND \"\"\"_%\" AND \"_%\\\" AND \"%\\s\" AND \"\\ss\"".into()
                ),
                SqlValue::Text("a\"_%\\ss".into())
            ]
        );
        assert_eq!(trigrams_query("aaaa"), "\"aaa\"", "each trigram once");
        // In id order, the two sources are read apart, each in that order.
        let (sql, _) = list(Dialect::Sqlite, &query, None);
        assert!(
            sql.contains("ORDER BY s.rowid ASC LIMIT ?4) AS part0"),
            "{sql}"
        );
        assert!(
            sql.contains("ORDER BY p.id ASC LIMIT ?4) AS part1"),
            "{sql}"
        );
        // Two characters once folded are too short for a trigram.
        let short = |q: &str| ItemQuery {
            q: Some(q.into()),
            ..ItemQuery::default()
        };
        assert!(!searches_by_trigrams(&short("ab")));
        assert!(searches_by_trigrams(&short("aß")), "ß folds to ss");
        let (postgres, _) = filters(Dialect::Postgres, &short("ab"));
        assert!(postgres.contains("strpos(name_folded, $1)"), "{postgres}");
    }

    #[test]
    fn a_filter_holding_nul_matches_nothing_without_a_parameter() {
        let query = ItemQuery {
            q: Some("a\0b".into()),
            ..ItemQuery::default()
        };
        assert_eq!(
            filters(Dialect::Postgres, &query),
            (" WHERE 1 = 0".into(), vec![])
        );
    }

    #[test]
    fn a_page_without_filters_has_only_limit_and_offset() {
        let (sql, values) = list(Dialect::Postgres, &ItemQuery::default(), None);
        assert!(sql.ends_with("ORDER BY id ASC LIMIT $1 OFFSET $2"), "{sql}");
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn a_position_continues_the_order_in_either_direction() {
        let query = ItemQuery {
            sort: SortField::Price,
            descending: true,
            category: Some("Tools".into()),
            ..ItemQuery::default()
        };
        let at = |key, backward| Position {
            key,
            id: 7,
            backward,
            at: 10,
        };
        let (sql, values) = list(Dialect::Sqlite, &query, Some(&at(Key::Real(2.5), false)));
        let part = |condition: &str, order: &str| {
            format!(
                "SELECT * FROM (SELECT {ITEM_COLUMNS} FROM items WHERE category_folded = ?1 \
                 AND {condition} ORDER BY {order} LIMIT ?2)"
            )
        };
        assert_eq!(
            sql,
            format!(
                "SELECT {ITEM_COLUMNS} FROM ({} AS part0 UNION ALL {} AS part1) AS page \
                 ORDER BY price IS NULL, price DESC, id DESC LIMIT ?5 OFFSET ?6",
                part(
                    "price IS NOT NULL AND (price, id) < (?4, ?3)",
                    "price DESC, id DESC"
                ),
                part("price IS NULL", "id DESC"),
            )
        );
        assert_eq!(
            values[1..4],
            [
                SqlValue::Integer(101),
                SqlValue::Integer(7),
                SqlValue::Real(2.5)
            ]
        );
        // Backwards from a missing value: every row with one, and the
        // missing ones before the boundary.
        let (sql, _) = list(Dialect::Postgres, &query, Some(&at(Key::Missing, true)));
        assert!(
            sql.contains("AND price IS NULL AND id > $3 ORDER BY id ASC LIMIT $2)"),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY price IS NULL DESC, price ASC, id ASC LIMIT $4 OFFSET $5"),
            "{sql}"
        );
        // Forwards from a missing value: only missing ones follow.
        let (sql, _) = list(Dialect::Postgres, &query, Some(&at(Key::Missing, false)));
        assert!(!sql.contains("IS NOT NULL"), "{sql}");
    }
}
