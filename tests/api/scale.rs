//! `loyal bench scale` at a small size: the generated dataset is what the report says,
//! every imported row becomes a member, the expiry closes every due lot and only those,
//! `verify` finds no drift and every generated member is found by phone over HTTP (from a
//! `loyal serve` process whose memory is reported). A second run on the same dataset
//! (`--existing`) imports new members after the last and finds nothing left to expire.

use loyal::bench::scale::{ScaleBench, scale};

use crate::helpers::{Backend, fresh_url, postgres_url};

const MEMBERS: u64 = 400;
const IMPORT_ROWS: u64 = 150;
const LOOKUPS: usize = 40;

async fn small_scale_run(backend: Backend) {
    let (url, _keep) = fresh_url(backend).await;
    let report = scale(ScaleBench {
        database_url: Some(url.clone()),
        members: MEMBERS,
        purchases: 6.0,
        import_rows: IMPORT_ROWS,
        lookups: LOOKUPS,
        dataset_only: false,
        existing: false,
        binary: env!("CARGO_BIN_EXE_loyal").into(),
    })
    .await
    .unwrap_or_else(|e| panic!("scale run: {e:#}"));
    assert!(report.purchases > MEMBERS, "{report:?}");
    // Each generated purchase is one lot and two ledger entries.
    assert_eq!(report.lots, report.purchases as i64, "{report:?}");
    assert_eq!(
        report.ledger_entries,
        2 * report.purchases as i64,
        "{report:?}"
    );
    // PostgreSQL plans the later phases with statistics of what was generated (SQLite
    // keeps none unless asked).
    let analyzed: &[&str] = match backend {
        Backend::Postgres => &[
            "members",
            "ledger_txns",
            "ledger_entries",
            "lots",
            "balances",
        ],
        Backend::Sqlite => &[],
    };
    assert_eq!(report.analyzed, analyzed, "{report:?}");
    assert_eq!(
        (
            report.import.rows,
            report.import.imported,
            report.import.failed
        ),
        (IMPORT_ROWS, IMPORT_ROWS, 0),
        "{report:?}"
    );
    // Purchases span two years and points last 12 months: some lots are due, not all.
    assert!(
        report.due_lots_before > 0 && report.due_lots_before < report.lots,
        "{report:?}"
    );
    assert_eq!(
        report.expired_lots, report.due_lots_before as u64,
        "{report:?}"
    );
    assert_eq!(report.due_lots_after, 0, "{report:?}");
    assert!(
        report.expiry_longest > std::time::Duration::ZERO,
        "the expiry's longest transaction is reported: {report:?}"
    );
    assert_eq!(report.drift, 0, "{report:?}");
    assert!(report.server_peak_mib.is_some_and(|m| m > 0), "{report:?}");
    assert_eq!(
        (report.lookups, report.lookups_found),
        (LOOKUPS, LOOKUPS),
        "{report:?}"
    );
    assert_eq!(
        (report.history_pages, report.history_answered),
        (LOOKUPS, LOOKUPS),
        "every found member's history was read: {report:?}"
    );
    assert!(report.history_p99 > std::time::Duration::ZERO, "{report:?}");
    // Every search by a shared first name finds members; one by a name no one has, none.
    assert!(report.name_searches > 0, "{report:?}");
    assert_eq!(
        (report.common_names_found, report.unknown_names_found),
        (report.name_searches, 0),
        "{report:?}"
    );

    // Measured again on the same dataset: new members are numbered on from the last
    // (none is taken for an existing one), and nothing is left to expire.
    let again = scale(ScaleBench {
        database_url: Some(url),
        members: 0,
        purchases: 0.0,
        import_rows: 50,
        lookups: LOOKUPS,
        dataset_only: false,
        existing: true,
        binary: env!("CARGO_BIN_EXE_loyal").into(),
    })
    .await
    .unwrap_or_else(|e| panic!("scale run on the existing dataset: {e:#}"));
    assert_eq!(again.members, MEMBERS + IMPORT_ROWS, "{again:?}");
    assert_eq!(
        (
            again.import.rows,
            again.import.imported,
            again.import.existing
        ),
        (50, 50, 0),
        "{again:?}"
    );
    assert_eq!(
        (again.due_lots_before, again.expired_lots),
        (0, 0),
        "{again:?}"
    );
    assert_eq!(again.lookups_found, LOOKUPS, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_scale_run_generates_imports_expires_and_finds_what_it_reports_sqlite() {
    small_scale_run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_scale_run_generates_imports_expires_and_finds_what_it_reports_postgres() {
    small_scale_run(Backend::Postgres).await;
}

/// `loyal bench targets` at a small size: both baselines and every target measured on
/// both backends in one run, the goals taken from that run's baselines, the crash test
/// on each, and the PostgreSQL database left as it was (the run works in schemas of its
/// own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_targets_run_measures_all_six_on_both_backends_against_its_own_baselines() {
    use loyal::bench::EarnBench;
    use loyal::bench::crash::CrashBench;
    use loyal::bench::targets::{TargetsBench, Verdict, targets};
    // The test database exists once a fresh schema was made in it.
    let (_, _) = fresh_url(Backend::Postgres).await;
    let url = postgres_url();
    // A schema a killed run left behind (no run holds its lock), with a table in it.
    let db = loyal::store::Db::connect(&url, 1).await.unwrap();
    loyal::on_db!(&db, pool => {
        sqlx::query("CREATE SCHEMA IF NOT EXISTS loyal_targets_earn_4000000001").execute(pool).await.unwrap();
        sqlx::query("CREATE TABLE IF NOT EXISTS loyal_targets_earn_4000000001.members (id BIGINT)").execute(pool).await.unwrap();
    });
    db.close().await;
    let report = targets(TargetsBench {
        postgres_url: Some(url.clone()),
        earn: EarnBench {
            database_url: None,
            clients: 8,
            seconds: 1,
            members: 50,
            batch_clients: 1,
            ledger_group_commit: true,
            ledger_writers: 2,
            ledger_group_max: 256,
        },
        scale: ScaleBench {
            database_url: None,
            members: 300,
            purchases: 6.0,
            import_rows: 100,
            lookups: 20,
            dataset_only: false,
            existing: false,
            binary: env!("CARGO_BIN_EXE_loyal").into(),
        },
        crash: CrashBench {
            database_url: None,
            clients: 8,
            members: 8,
            purchases_per_client: 15,
            kill_at_percent: 33,
            binary: env!("CARGO_BIN_EXE_loyal").into(),
        },
    })
    .await
    .unwrap_or_else(|e| panic!("targets run: {e:#}"));
    let a = report.baseline.postgres_tps.expect("pgbench's tps");
    assert!(a > 0.0 && report.baseline.sqlite_per_s > 0.0, "{report:?}");
    let backends: Vec<_> = report.backends.iter().map(|b| b.backend).collect();
    assert_eq!(
        backends,
        [
            loyal::store::Backend::Sqlite,
            loyal::store::Backend::Postgres
        ]
    );
    for b in &report.backends {
        assert_eq!(
            (b.earn.errors, b.earn.drift, b.scale.drift),
            (0, 0, 0),
            "{b:?}"
        );
        assert_eq!(b.scale.import.imported, 100, "{b:?}");
        assert!(b.scale.expired_lots > 0, "{b:?}");
        // The crash test ran (it fails the run when a purchase is lost or doubled).
        assert_eq!(
            b.crash.recorded,
            b.crash.acknowledged_before_kill + b.crash.retried,
            "{b:?}"
        );
        let numbers: Vec<u8> = b.targets.iter().map(|t| t.target.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
        for t in &b.targets {
            assert!(
                t.measured.is_some_and(|m| m > 0.0) && t.verdict != Verdict::NotMeasured,
                "{t:?}"
            );
        }
        // (1) and (2) are judged against this run's baselines.
        assert_eq!(b.targets[0].goal, Some(5.0 * a));
        assert_eq!(b.targets[1].goal, Some(0.5 * report.baseline.sqlite_per_s));
    }
    // Its scratch schemas are gone, and so is the one the killed run left.
    let db = loyal::store::Db::connect(&url, 1).await.unwrap();
    let (left,): (i64,) = loyal::on_db!(&db, pool => sqlx::query_as(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'loyal_targets_%'")
        .fetch_one(pool).await)
    .unwrap();
    assert_eq!(left, 0);
    db.close().await;
}
