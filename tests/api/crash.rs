//! Crash test: under a 64-client earn load the server is killed with SIGKILL, restarted,
//! and every client retries its unacknowledged purchase with the same receipt (the
//! purchase's idempotency key) and the same `Idempotency-Key` header, waiting when the
//! killed server's claim on the header's key is still running out. The run itself (`loyal::bench::crash`, also `loyal bench
//! crash` at full size) fails unless every acknowledged purchase is present exactly once,
//! no retried purchase is doubled, balances match and `loyal verify` finds no drift.
//! Small size here (CI).

use loyal::bench::crash::{CrashBench, crash};

use crate::helpers::{Backend, fresh_url};

const CLIENTS: usize = 64;
const PER_CLIENT: usize = 15;
const KILL_AT_PERCENT: usize = 33;

async fn crash_and_recover(backend: Backend) {
    let (url, _keep) = fresh_url(backend).await;
    let report = crash(CrashBench {
        database_url: Some(url),
        clients: CLIENTS,
        members: CLIENTS,
        purchases_per_client: PER_CLIENT,
        kill_at_percent: KILL_AT_PERCENT,
        binary: env!("CARGO_BIN_EXE_loyal").into(),
    })
    .await
    .unwrap_or_else(|e| panic!("crash test: {e:#}"));
    assert!(
        report.retried > 0,
        "some clients had a request cut off by the kill: {report:?}"
    );
    assert!(
        report.acknowledged_before_kill >= CLIENTS * PER_CLIENT * KILL_AT_PERCENT / 100,
        "the kill came under load: {report:?}"
    );
    assert_eq!(
        report.recorded,
        report.acknowledged_before_kill + report.retried,
        "{report:?}"
    );
    assert!(
        report.waited > 0,
        "some retries met the killed server's claim and got their purchase through after it: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_earn_and_doubles_no_retry_sqlite() {
    crash_and_recover(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_earn_and_doubles_no_retry_postgres() {
    crash_and_recover(Backend::Postgres).await;
}
