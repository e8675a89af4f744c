//! Bulk statements: many rows in one multi-row statement with one text for both
//! backends (`INSERT … VALUES (…), (…)`, `UPDATE … FROM (VALUES …)`), sent as `COPY` on
//! PostgreSQL when a plain insert is big enough.

use sqlx::{Postgres, Sqlite};

use super::{Backend, Db, Tx};
use crate::{on_db, on_tx};

/// One value of a row for [`execute_values`].
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
}

/// A backend that binds every kind of [`Val`]: the one bound the statement builders
/// below need (sqlx's encode bounds for the four value types, written once).
pub trait BindVals<'q>: sqlx::Database {
    fn push_val(qb: &mut sqlx::QueryBuilder<'q, Self>, v: &Val<'q>);
}

macro_rules! bind_vals {
    ($db:ty) => {
        impl<'q> BindVals<'q> for $db {
            fn push_val(qb: &mut sqlx::QueryBuilder<'q, $db>, v: &Val<'q>) {
                match *v {
                    Val::Int(i) => qb.push_bind(i),
                    Val::OptInt(i) => qb.push_bind(i),
                    Val::Text(s) => qb.push_bind(s),
                    Val::OptText(s) => qb.push_bind(s),
                };
            }
        }
    };
}
bind_vals!(Sqlite);
bind_vals!(Postgres);

/// Most bound values in one statement: SQLite allows 32,766, PostgreSQL 65,535.
const MAX_BINDS: usize = 30_000;

/// Run `head VALUES (…), (…) tail` for many rows with as few statements as the backends
/// allow (one per ~30,000 bound values). Every row has the same number of values. For a
/// multi-row insert `head` is `INSERT INTO t (a, b, …)` and `tail` is empty or
/// `ON CONFLICT …`; for a set-based update, `head` ends in `FROM (` and `tail` starts with
/// `) AS v WHERE …`, naming the values `v.column1, v.column2, …` (both backends' names).
/// Bulk writers (member import, expiry, the benchmark dataset) use it: one statement per
/// thousand rows instead of one per row.
pub async fn execute_values(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    rows: &[Vec<Val<'_>>],
) -> sqlx::Result<u64> {
    if let (Tx::Postgres(c), Some(target)) = (&mut *tx, copy_target(head, tail, rows)) {
        return copy_rows(c, &target, rows).await;
    }
    let mut written = 0;
    for chunk in chunks(rows) {
        let keep = cache_statement(rows, chunk);
        written += on_tx!(tx, c => values_query(head, tail, chunk).build().persistent(keep).execute(&mut *c).await?.rows_affected());
    }
    Ok(written)
}

/// Rows from which a plain insert goes to PostgreSQL as `COPY`: below it, the insert's
/// statement is cached and its plan kept, and a group of purchases stays one round trip.
const COPY_MIN_ROWS: usize = 1_000;

/// `table (a, b, …)` when `head`/`tail` are a plain `INSERT INTO table (a, b, …)` of
/// at least [`COPY_MIN_ROWS`] rows: PostgreSQL then parses each value from text
/// instead of planning a statement of 30,000 bound values, and checks constraints and
/// fires triggers as the insert would.
fn copy_target(head: &str, tail: &str, rows: &[Vec<Val<'_>>]) -> Option<String> {
    if rows.len() < COPY_MIN_ROWS || !tail.trim().is_empty() {
        return None;
    }
    let target = head.trim().strip_prefix("INSERT INTO ")?;
    target.ends_with(')').then(|| target.to_string())
}

/// Write `rows` into `target` (`table (a, b, …)`) with `COPY … FROM STDIN` in its text
/// format, in pieces of about a megabyte. Returns the rows written.
async fn copy_rows(
    c: &mut sqlx::PgConnection,
    target: &str,
    rows: &[Vec<Val<'_>>],
) -> sqlx::Result<u64> {
    const PIECE: usize = 1 << 20;
    let mut copy = c.copy_in_raw(&format!("COPY {target} FROM STDIN")).await?;
    let mut buf = String::with_capacity(PIECE + 4_096);
    for row in rows {
        copy_line(&mut buf, row);
        if buf.len() >= PIECE {
            copy.send(std::mem::take(&mut buf).into_bytes()).await?;
            buf.reserve(PIECE + 4_096);
        }
    }
    if !buf.is_empty() {
        copy.send(buf.into_bytes()).await?;
    }
    copy.finish().await
}

/// One row in `COPY`'s text format: values split by tabs, `\N` for NULL, and a text's
/// backslashes, tabs and line ends escaped.
fn copy_line(buf: &mut String, row: &[Val<'_>]) {
    use std::fmt::Write;
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            buf.push('\t');
        }
        match *v {
            Val::Int(n) | Val::OptInt(Some(n)) => {
                let _ = write!(buf, "{n}");
            }
            Val::OptInt(None) | Val::OptText(None) => buf.push_str("\\N"),
            Val::Text(s) | Val::OptText(Some(s)) => {
                for ch in s.chars() {
                    match ch {
                        '\\' => buf.push_str("\\\\"),
                        '\t' => buf.push_str("\\t"),
                        '\n' => buf.push_str("\\n"),
                        '\r' => buf.push_str("\\r"),
                        _ => buf.push(ch),
                    }
                }
            }
        }
    }
    buf.push('\n');
}

/// One multi-row statement of [`execute_all`]: `head`, the rows, `tail`, as for
/// [`execute_values`].
pub type Part<'p, 'v> = (&'p str, &'p str, &'p [Vec<Val<'v>>]);

/// Several [`execute_values`] statements that return nothing, sent together when their
/// rows fit one statement's bound values. On PostgreSQL they become one statement,
/// `WITH w0 AS (INSERT …), w1 AS (UPDATE …) INSERT …`: one round trip instead of one each.
/// PostgreSQL runs every part once and to completion but in no set order, all seeing the
/// data as it was before the statement: so the parts must not write the same rows or
/// read each other's. On SQLite they go as one text of several
/// statements, run in order by the connection's thread: one hand-over to that thread
/// instead of one each (for texts of up to 4,096 values; see below).
pub async fn execute_all(tx: &mut Tx, parts: &[Part<'_, '_>]) -> sqlx::Result<()> {
    let parts: Vec<&Part<'_, '_>> = parts
        .iter()
        .filter(|(_, _, rows)| !rows.is_empty())
        .collect();
    let binds: usize = parts
        .iter()
        .map(|(_, _, rows)| rows.len() * width(rows))
        .sum();
    // SQLite gives a statement a slot for every number up to the highest it names, and
    // sqlx fills them all: later statements of a long text would bind thousands of
    // unused slots, so only texts of a few thousand values go together there.
    let limit = match tx.backend() {
        Backend::Postgres => MAX_BINDS,
        Backend::Sqlite => SMALL_BINDS,
    };
    if parts.len() <= 1 || binds > limit {
        for (head, tail, rows) in parts {
            execute_values(tx, head, tail, rows).await?;
        }
        return Ok(());
    }
    let keep = binds <= SMALL_BINDS;
    let with = tx.backend() == Backend::Postgres;
    on_tx!(tx, c => together(&parts, with).build().persistent(keep).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The parts of [`execute_all`] as one text: `WITH w0 AS (…), w1 AS (…) last` when `with`
/// (PostgreSQL), else `first; second; …` (SQLite). Bound values are numbered through the
/// whole text.
fn together<'q, DB>(parts: &[&Part<'q, 'q>], with: bool) -> sqlx::QueryBuilder<'q, DB>
where
    DB: BindVals<'q>,
{
    let mut qb = sqlx::QueryBuilder::new("");
    let Some((last, first)) = parts.split_last() else {
        return qb;
    };
    for (i, (head, tail, rows)) in first.iter().enumerate() {
        if with {
            qb.push(if i == 0 { "WITH " } else { ", " });
            qb.push(format!("w{i} AS ("));
            push_values(&mut qb, head, tail, rows);
            qb.push(") ");
        } else {
            push_values(&mut qb, head, tail, rows);
            qb.push("; ");
        }
    }
    let (head, tail, rows) = last;
    push_values(&mut qb, head, tail, rows);
    qb
}

/// [`execute_values`] for a statement that returns rows: a `tail` ending in `RETURNING …`,
/// or a `SELECT … JOIN (` head. The rows returned, in no particular order.
pub async fn fetch_values<R>(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    rows: &[Vec<Val<'_>>],
) -> sqlx::Result<Vec<R>>
where
    R: Send + Unpin,
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let mut out = Vec::with_capacity(rows.len());
    for chunk in chunks(rows) {
        let keep = cache_statement(rows, chunk);
        on_tx!(tx, c => out.extend(values_query(head, tail, chunk).build_query_as::<R>().persistent(keep).fetch_all(&mut *c).await?));
    }
    Ok(out)
}

/// Run a statement written as parts, each SQL text followed by one bound value (`("…
/// WHERE d.tenant_id = ", Int(t)), (" AND d.status = ", Text(s)), (" LIMIT ", Int(n))`),
/// for lists whose filters the caller chooses: only the filters given are in the
/// statement, so its plan can use the index of the one that is there. (A `($2 IS NULL OR
/// d.status = $2)` condition can use no index, and the database walked the shop's whole
/// table for a rare status or one member's rows.)
pub async fn fetch_parts<R>(db: &Db, parts: &[(&str, Val<'_>)]) -> sqlx::Result<Vec<R>>
where
    R: Send + Unpin,
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    on_db!(db, pool => parts_query(parts).build_query_as::<R>().fetch_all(pool).await)
}

fn parts_query<'q, DB>(parts: &'q [(&'q str, Val<'q>)]) -> sqlx::QueryBuilder<'q, DB>
where
    DB: BindVals<'q>,
{
    let mut qb = sqlx::QueryBuilder::new("");
    for (sql, v) in parts {
        qb.push(sql);
        DB::push_val(&mut qb, v);
    }
    qb
}

/// Whether to keep a chunk's prepared statement in the connection's cache. The cache
/// holds a statement per text, and the text depends on the number of rows: a big chunk
/// of a size not seen before would stay there with all its bind slots (bulk jobs whose
/// transactions vary in size grew `loyal import members` from 87 MB to 200 MB). Full
/// chunks always have the same text, and small ones (a group of purchases) are small and
/// come back often.
fn cache_statement(rows: &[Vec<Val<'_>>], chunk: &[Vec<Val<'_>>]) -> bool {
    chunk.len() == rows_per_chunk(rows) || chunk.len() * width(rows) <= SMALL_BINDS
}

/// Statements with at most this many bound values stay cached whatever their size.
const SMALL_BINDS: usize = 4_096;

fn chunks<'r, 'a>(rows: &'r [Vec<Val<'a>>]) -> std::slice::Chunks<'r, Vec<Val<'a>>> {
    rows.chunks(rows_per_chunk(rows))
}

/// Values per row (the rows of one statement all have the same).
fn width(rows: &[Vec<Val<'_>>]) -> usize {
    rows.first().map_or(1, |r| r.len().max(1))
}

/// Rows in a full chunk: as many as fit in one statement's bound values.
fn rows_per_chunk(rows: &[Vec<Val<'_>>]) -> usize {
    (MAX_BINDS / width(rows)).max(1)
}

fn values_query<'q, DB>(
    head: &str,
    tail: &str,
    rows: &'q [Vec<Val<'q>>],
) -> sqlx::QueryBuilder<'q, DB>
where
    DB: BindVals<'q>,
{
    let mut qb = sqlx::QueryBuilder::new("");
    push_values(&mut qb, head, tail, rows);
    qb
}

/// `head VALUES (…), (…) tail` appended to a statement being built.
fn push_values<'q, DB>(
    qb: &mut sqlx::QueryBuilder<'q, DB>,
    head: &str,
    tail: &str,
    rows: &'q [Vec<Val<'q>>],
) where
    DB: BindVals<'q>,
{
    qb.push(head);
    qb.push(" VALUES ");
    for (i, row) in rows.iter().enumerate() {
        qb.push(if i == 0 { "(" } else { ", (" });
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                qb.push(", ");
            }
            DB::push_val(qb, v);
        }
        qb.push(")");
    }
    qb.push(" ");
    qb.push(tail);
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_plain_insert_of_many_rows_goes_as_copy_and_its_text_escapes_what_copy_reads() {
        use super::Val::{Int, OptInt, OptText, Text};
        use super::{copy_line, copy_target};
        let many = vec![vec![Int(1)]; super::COPY_MIN_ROWS];
        let few = vec![vec![Int(1)]; super::COPY_MIN_ROWS - 1];
        let head = "INSERT INTO lots (tenant_id, id)";
        assert_eq!(
            copy_target(head, "", &many).as_deref(),
            Some("lots (tenant_id, id)")
        );
        assert_eq!(
            copy_target(head, "", &few),
            None,
            "a group stays a cached insert"
        );
        assert_eq!(copy_target(head, "ON CONFLICT DO NOTHING", &many), None);
        assert_eq!(
            copy_target("UPDATE lots SET remaining = 0 FROM (", ") AS v", &many),
            None
        );
        let mut line = String::new();
        copy_line(
            &mut line,
            &[
                Int(-7),
                OptInt(None),
                Text("a\tb\\c\r\nd"),
                OptText(None),
                Text(""),
            ],
        );
        assert_eq!(line, "-7\t\\N\ta\\tb\\\\c\\r\\nd\t\\N\t\n");
    }
}
