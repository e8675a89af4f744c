//! PostgreSQL's statistics after a bulk job, so plans see the rows it wrote.

use super::Db;

impl Db {
    /// [`Self::refresh_statistics`] after a bulk job (`job` names it in the log) whose
    /// rows are already committed: a failure only costs plans until autovacuum catches
    /// up, so it is logged, not returned. Returns the tables analyzed.
    pub async fn refresh_statistics_after(
        &self,
        job: &str,
        written: &[(&'static str, u64)],
    ) -> Vec<&'static str> {
        match self.refresh_statistics(written).await {
            Ok(tables) => {
                if !tables.is_empty() {
                    tracing::info!(job, ?tables, "analyzed the tables a bulk job changed");
                }
                tables
            }
            Err(e) => {
                tracing::warn!(job, error = %e, "could not analyze the tables a bulk job changed");
                vec![]
            }
        }
    }

    /// After a bulk job, refresh PostgreSQL's statistics of each table it wrote that many
    /// rows into, by autovacuum's own default rule (more than 50 rows and a tenth of the
    /// table). Until autovacuum gets to it (a minute later at best, never where it is
    /// off) PostgreSQL plans from the old row counts and spreads of values: right after a
    /// million members were loaded a name search walked the whole shop (105 ms at p50)
    /// instead of reading the name's index (6–8 ms), docs/BENCHMARKS.md. SQLite keeps no
    /// statistics unless told to and plans by its own rules, so there this does nothing.
    /// Returns the tables analyzed.
    pub async fn refresh_statistics(
        &self,
        written: &[(&'static str, u64)],
    ) -> sqlx::Result<Vec<&'static str>> {
        let Db::Postgres(pool) = self else {
            return Ok(vec![]);
        };
        // One read of the estimates, one ANALYZE of every table past its threshold.
        let names: Vec<&str> = written.iter().map(|&(table, _)| table).collect();
        // -1 (0 before PostgreSQL 14) until a table was first analyzed.
        let estimates: std::collections::HashMap<String, i64> = sqlx::query_as(
            "SELECT t, CAST(c.reltuples AS BIGINT) FROM unnest($1::text[]) AS t
             JOIN pg_class c ON c.oid = to_regclass(t)",
        )
        .bind(&names)
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
        let analyzed: Vec<&'static str> = written
            .iter()
            .filter(|&&(table, rows)| {
                let estimate = estimates.get(table).copied().unwrap_or(0);
                rows > 50 + estimate.max(0) as u64 / 10
            })
            .map(|&(table, _)| table)
            .collect();
        if !analyzed.is_empty() {
            sqlx::query(&format!("ANALYZE {}", analyzed.join(", ")))
                .execute(pool)
                .await?;
        }
        Ok(analyzed)
    }
}
