//! SQLite's side of the pools: the connections of their own that the ledger's writer
//! and the bulk jobs keep, and the WAL checkpoints a task runs beside them.

use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;

use super::Db;

/// Pages of WAL (4 KiB each) past which the ledger's writer runs a checkpoint itself
/// (SQLite's `wal_autocheckpoint`, 1,000 by default, for every connection): the
/// background checkpointer has checkpointed most of it by then, and the WAL can restart
/// from its beginning only after a checkpoint that found it all checkpointed.
pub const WRITER_WAL_PAGES: u32 = 10_000;

/// Pages of WAL past which a bulk job's connection runs a checkpoint itself
/// ([`Db::for_bulk_job`]): more than one of its half-second transactions writes, so its
/// commits leave the checkpoints to the checkpointer beside it; the WAL file may reach
/// ~400 MB while a big job runs.
pub const BULK_JOB_WAL_PAGES: u32 = 100_000;

/// Bytes the WAL file is truncated to when the WAL restarts from its beginning after a
/// checkpoint of all of it (`journal_size_limit`). SQLite otherwise keeps the file at the
/// largest size it ever reached (a big import's ~400 MB) until the last connection
/// closes. Above the ledger writer's own WAL under load (~43 MB, docs/BENCHMARKS.md), so
/// a busy server does not truncate and regrow it.
pub const WAL_FILE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// A bulk job's database, from [`Db::for_bulk_job`]; the checkpointer beside it runs
/// for as long as this lives.
pub struct BulkJobDb {
    pub db: Db,
    _checkpoints: Option<std::sync::Arc<()>>,
}

/// A pool of one connection to `pool`'s SQLite database, opened when first used and
/// kept; it runs a WAL checkpoint itself past `wal_pages` (`None`: SQLite's 1,000).
fn own_connection(pool: &SqlitePool, wal_pages: Option<u32>) -> SqlitePool {
    let mut opts = (*pool.connect_options()).clone();
    if let Some(pages) = wal_pages {
        opts = opts.pragma("wal_autocheckpoint", pages.to_string());
    }
    SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(15))
        .connect_lazy_with(opts)
}

impl Db {
    /// The database for a writer that runs one transaction after another: on SQLite a
    /// connection of its own, kept. A SQLite connection throws its page cache away
    /// whenever another connection committed since its last transaction, and a pool hands
    /// out its connections in turn, so a writer taking whichever came next often began on
    /// a stale cache and read its pages again from the operating system (docs/BENCHMARKS.md,
    /// "Measured design choices"). On PostgreSQL (whose cache is shared) the same pool.
    ///
    /// On SQLite the writer leaves the WAL checkpoints to [`Self::spawn_checkpointer`], and
    /// runs one itself only past [`WRITER_WAL_PAGES`].
    pub fn for_one_writer(&self) -> Db {
        match self {
            Db::Sqlite(pool) => Db::Sqlite(own_connection(pool, Some(WRITER_WAL_PAGES))),
            Db::Postgres(_) => self.clone(),
        }
    }

    /// The database for a bulk job that runs one transaction after another (member
    /// import, expiry): on SQLite a connection of its own, whose commits leave the WAL
    /// checkpoints to a checkpointer beside it ([`Self::spawn_checkpointer`],
    /// [`BULK_JOB_WAL_PAGES`]); SQLite would otherwise checkpoint each big transaction's
    /// pages inside its commit, the job waiting (import 17–21% and expiry 13–17% faster
    /// this way, docs/BENCHMARKS.md, "Measured design choices"). On PostgreSQL the same
    /// pool.
    pub fn for_bulk_job(&self) -> BulkJobDb {
        match self {
            Db::Sqlite(pool) => {
                let alive = std::sync::Arc::new(());
                self.spawn_checkpointer(std::sync::Arc::downgrade(&alive));
                BulkJobDb {
                    db: Db::Sqlite(own_connection(pool, Some(BULK_JOB_WAL_PAGES))),
                    _checkpoints: Some(alive),
                }
            }
            Db::Postgres(_) => BulkJobDb {
                db: self.clone(),
                _checkpoints: None,
            },
        }
    }

    /// On SQLite, a task that runs WAL checkpoints (copying committed pages from the WAL
    /// into the database file) on a connection of its own, for as long as `owner` lives
    /// (the ledger's writer, a bulk job). SQLite otherwise checkpoints inside the commit
    /// that filled 1,000 pages of WAL, so the writer and every purchase in its group
    /// waited for the checkpoint and its flush; here it runs on the other processor core
    /// while the writer goes on (docs/BENCHMARKS.md, "Measured design choices"). A
    /// `PASSIVE` checkpoint never blocks a writer; it only copies pages no reader still
    /// needs. The WAL restarts from its beginning at a write that finds it all
    /// checkpointed (at the latest after the writer's own checkpoint, past
    /// [`WRITER_WAL_PAGES`]).
    pub fn spawn_checkpointer<T: Send + Sync + 'static>(&self, owner: std::sync::Weak<T>) {
        let Db::Sqlite(pool) = self else {
            return;
        };
        let conn = own_connection(pool, None);
        tokio::spawn(async move {
            // Pages in the log at the last look: while it grows, look again soon.
            let mut seen = 0;
            while owner.strong_count() > 0 {
                let checkpoint =
                    sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(&conn)
                        .await;
                let pause = match checkpoint {
                    Ok((_, pages, _)) if pages != seen => {
                        seen = pages;
                        Duration::from_millis(20)
                    }
                    Ok(_) => Duration::from_millis(200),
                    Err(e) => {
                        tracing::debug!(error = %e, "background checkpoint failed");
                        Duration::from_secs(1)
                    }
                };
                tokio::time::sleep(pause).await;
            }
            // What was written since the last look, so a job leaves its log copied.
            let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&conn)
                .await;
            conn.close().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::Db;

    #[tokio::test]
    async fn a_sqlite_file_removed_under_a_running_server_is_not_made_again_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("loyal.db");
        let db = Db::connect(&format!("sqlite://{}", file.display()), 4)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        assert!(file.exists(), "the first connection creates the file");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
        // The writer's connection opens at its first transaction, after the removal.
        let writer = db.for_one_writer();
        assert!(writer.begin().await.is_err(), "no database to write to");
        assert!(!file.exists(), "no new, empty database in its place");
        writer.close().await;
        db.close().await;
    }
}
