//! `loyal bench targets`: Loyal's six speed targets measured in one run, on SQLite and
//! (given a PostgreSQL database) on PostgreSQL, with both baselines taken in the same run,
//! and a verdict for each: met, or missed by how many times; then the crash test on each
//! backend. Each phase is one of the other benches ([`super::baseline`],
//! [`super::earn`], [`super::scale::scale`], [`super::crash::crash`]) on a
//! fresh database of its own: SQLite in a temporary directory, PostgreSQL in a schema of
//! its own in the database given, dropped afterwards (the database is left as it was).
//! The machine is noisy from day to day, so a target is only judged against baselines
//! measured in the same run.

use std::time::Duration;

use super::crash::{CrashBench, CrashReport};
use super::scale::{ScaleBench, ScaleReport};
use super::{BaselineBench, BaselineReport, EarnBench, EarnReport};

pub struct TargetsBench {
    /// A PostgreSQL database to measure on as well (the run works in schemas of its own).
    pub postgres_url: Option<String>,
    /// Earn's run; its clients, seconds and members are the baselines' too. Its
    /// `database_url` is set per backend.
    pub earn: EarnBench,
    /// The run at size: lookups, import, expiry and memory (`database_url` set per
    /// backend, `dataset_only` and `existing` unused).
    pub scale: ScaleBench,
    /// The crash test (`database_url` set per backend).
    pub crash: CrashBench,
}

/// The lots target (5) names: an expiry run over this many.
pub const EXPIRY_TARGET_LOTS: f64 = 10_000_000.0;

/// One of the six speed targets, as docs/BENCHMARKS.md states it.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub number: u8,
    pub what: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
}

pub const TARGETS: [Target; 6] = [
    Target {
        number: 1,
        what: "earn over HTTP, one purchase per request",
        unit: "tx/s",
        higher_is_better: true,
    },
    Target {
        number: 2,
        what: "earn through the batch endpoint",
        unit: "purchases/s",
        higher_is_better: true,
    },
    Target {
        number: 3,
        what: "lookup by phone, p99",
        unit: "ms",
        higher_is_better: false,
    },
    Target {
        number: 4,
        what: "member import from CSV",
        unit: "rows/s",
        higher_is_better: true,
    },
    Target {
        number: 5,
        what: "expiry of 10M lots, at the rate measured",
        unit: "s",
        higher_is_better: false,
    },
    Target {
        number: 6,
        what: "peak memory of the server",
        unit: "MiB",
        higher_is_better: false,
    },
];

/// How a measurement stands against its goal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    Met,
    /// Missed; `by` is how many times better it would have to be.
    Missed {
        by: f64,
    },
    /// No measurement, or no goal (target (1) without a PostgreSQL baseline).
    NotMeasured,
}

/// Met, or missed by how many times, or not measured.
pub fn verdict(measured: Option<f64>, goal: Option<f64>, higher_is_better: bool) -> Verdict {
    let (Some(m), Some(g)) = (measured, goal) else {
        return Verdict::NotMeasured;
    };
    if !(m.is_finite() && g.is_finite() && g > 0.0 && m >= 0.0) {
        return Verdict::NotMeasured;
    }
    let met = if higher_is_better { m >= g } else { m <= g };
    match (met, higher_is_better) {
        (true, _) => Verdict::Met,
        (false, true) => Verdict::Missed { by: g / m },
        (false, false) => Verdict::Missed { by: m / g },
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Met => write!(f, "met"),
            Verdict::Missed { by } if by.is_finite() => write!(f, "missed by {by:.1}×"),
            Verdict::Missed { .. } => write!(f, "missed"),
            Verdict::NotMeasured => write!(f, "not measured"),
        }
    }
}

/// One target on one backend.
#[derive(Clone, Debug)]
pub struct Measured {
    pub target: Target,
    pub measured: Option<f64>,
    pub goal: Option<f64>,
    pub verdict: Verdict,
}

/// The goals: fixed, or set by the baselines of the same run.
pub fn goals(baseline: &BaselineReport) -> [Option<f64>; 6] {
    [
        baseline.postgres_tps.map(|a| 5.0 * a),
        Some(0.5 * baseline.sqlite_per_s),
        Some(2.0),
        Some(200_000.0),
        Some(10.0),
        Some(1024.0),
    ]
}

/// The six targets from one backend's earn and scale runs.
pub fn measure(baseline: &BaselineReport, earn: &EarnReport, scale: &ScaleReport) -> Vec<Measured> {
    let secs = |d: Duration| d.as_secs_f64().max(1e-9);
    let measured = [
        Some(earn.purchases_per_s),
        Some(earn.batch_per_s),
        Some(scale.lookup_p99.as_secs_f64() * 1000.0),
        Some(scale.import.rows as f64 / secs(scale.import_elapsed)),
        (scale.expired_lots > 0)
            .then(|| EXPIRY_TARGET_LOTS * secs(scale.expiry_elapsed) / scale.expired_lots as f64),
        scale.server_peak_mib.map(|m| m as f64),
    ];
    TARGETS
        .iter()
        .zip(measured)
        .zip(goals(baseline))
        .map(|((&target, measured), goal)| Measured {
            target,
            measured,
            goal,
            verdict: verdict(measured, goal, target.higher_is_better),
        })
        .collect()
}

/// One backend's runs and where it stands.
#[derive(Debug)]
pub struct BackendTargets {
    pub backend: crate::store::Backend,
    pub earn: EarnReport,
    pub scale: ScaleReport,
    pub targets: Vec<Measured>,
    /// The crash test passed (it fails the run otherwise); what it did.
    pub crash: CrashReport,
}

#[derive(Debug)]
pub struct TargetsReport {
    pub baseline: BaselineReport,
    pub backends: Vec<BackendTargets>,
    /// The run's shape, for the table's heading: earn clients and seconds per phase,
    /// members of the dataset at size.
    pub clients: usize,
    pub seconds: u64,
    pub members: u64,
}

/// A schema of its own in the user's PostgreSQL database for one phase (each needs an
/// empty database), dropped at the end of the run. Its connection holds an advisory lock
/// named after the schema while the schema lives, so a later run can tell the schemas of
/// a run that was killed (no lock held) from those of a run still going, and drop them.
struct ScratchSchema {
    admin: sqlx::PgConnection,
    name: String,
    url: String,
}

/// The first key of the scratch schemas' advisory locks ("LOY"), the second being a hash
/// of the schema's name: apart from any lock another program takes with one key.
const SCRATCH_LOCKS: i32 = 0x004c_4f59;

impl ScratchSchema {
    async fn create(url: &str, phase: &str) -> anyhow::Result<ScratchSchema> {
        use sqlx::Connection;
        anyhow::ensure!(
            !url.contains("options="),
            "give the PostgreSQL database without `options=`: the run sets the search path to schemas of its own"
        );
        let mut admin = sqlx::PgConnection::connect(url).await?;
        Self::drop_abandoned(&mut admin).await?;
        let name = format!("loyal_targets_{phase}_{}", std::process::id());
        // The lock before the schema: another run's sweep never sees it unlocked.
        sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
            .bind(SCRATCH_LOCKS)
            .bind(&name)
            .execute(&mut admin)
            .await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .execute(&mut admin)
            .await?;
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await?;
        let join = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{join}options=-c%20search_path%3D{name}");
        Ok(ScratchSchema { admin, name, url })
    }

    /// Drop the scratch schemas no run holds the lock of: left by a run that was killed.
    async fn drop_abandoned(admin: &mut sqlx::PgConnection) -> anyhow::Result<()> {
        let schemas: Vec<(String,)> = sqlx::query_as(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'loyal\\_targets\\_%'",
        )
        .fetch_all(&mut *admin)
        .await?;
        for (name,) in schemas {
            let (free,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1, hashtext($2))")
                .bind(SCRATCH_LOCKS)
                .bind(&name)
                .fetch_one(&mut *admin)
                .await?;
            if free {
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&mut *admin)
                    .await?;
                sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))")
                    .bind(SCRATCH_LOCKS)
                    .bind(&name)
                    .execute(&mut *admin)
                    .await?;
                println!("dropped schema {name}, left by a run that did not finish");
            }
        }
        Ok(())
    }

    async fn drop(mut self) -> anyhow::Result<()> {
        use sqlx::Connection;
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&mut self.admin)
            .await?;
        // Closing the connection releases the lock.
        self.admin.close().await?;
        Ok(())
    }
}

/// Run one phase on a fresh database of the backend: `None` is SQLite in a temporary
/// directory (what each bench does without a URL), else a scratch schema dropped after.
async fn on_fresh<T, F>(
    postgres: Option<&str>,
    phase: &str,
    run: impl FnOnce(Option<String>) -> F,
) -> anyhow::Result<T>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    match postgres {
        None => run(None).await,
        Some(url) => {
            let schema = ScratchSchema::create(url, phase).await?;
            let result = run(Some(schema.url.clone())).await;
            // The phase's own failure says more than the clean-up's.
            let dropped = schema.drop().await;
            let value = result?;
            dropped?;
            Ok(value)
        }
    }
}

pub async fn targets(b: TargetsBench) -> anyhow::Result<TargetsReport> {
    println!("== baselines");
    let baseline = on_fresh(b.postgres_url.as_deref(), "baseline", |url| {
        super::baseline(BaselineBench {
            postgres_url: url,
            clients: b.earn.clients,
            seconds: b.earn.seconds,
            members: b.earn.members,
        })
    })
    .await?;
    let mut backends = vec![];
    let runs: Vec<Option<&str>> = std::iter::once(None)
        .chain(b.postgres_url.as_deref().map(Some))
        .collect();
    for postgres in runs {
        let backend = match postgres {
            None => crate::store::Backend::Sqlite,
            Some(_) => crate::store::Backend::Postgres,
        };
        println!("== {}: earn", backend_name(backend));
        let earn = on_fresh(postgres, "earn", |url| {
            super::earn(EarnBench {
                database_url: url,
                ..b.earn.clone()
            })
        })
        .await?;
        println!(
            "== {}: at {} members",
            backend_name(backend),
            b.scale.members
        );
        let scale = on_fresh(postgres, "scale", |url| {
            super::scale::scale(ScaleBench {
                database_url: url,
                dataset_only: false,
                existing: false,
                ..b.scale.clone()
            })
        })
        .await?;
        println!("== {}: crash test", backend_name(backend));
        let crash = on_fresh(postgres, "crash", |url| {
            super::crash::crash(CrashBench {
                database_url: url,
                ..b.crash.clone()
            })
        })
        .await?;
        let targets = measure(&baseline, &earn, &scale);
        backends.push(BackendTargets {
            backend,
            earn,
            scale,
            targets,
            crash,
        });
    }
    let report = TargetsReport {
        baseline,
        backends,
        clients: b.earn.clients,
        seconds: b.earn.seconds,
        members: b.scale.members,
    };
    print!("{}", table(&report));
    Ok(report)
}

fn backend_name(backend: crate::store::Backend) -> &'static str {
    match backend {
        crate::store::Backend::Sqlite => "SQLite",
        crate::store::Backend::Postgres => "PostgreSQL",
    }
}

/// A number as the tables of docs/BENCHMARKS.md write it: thousands grouped, two
/// decimals below 10.
fn number(n: f64) -> String {
    if n < 10.0 {
        return format!("{n:.2}");
    }
    crate::web::thousands(&format!("{n:.0}"))
}

/// The run as a Markdown table, one column pair per backend, ready for docs/BENCHMARKS.md.
pub fn table(report: &TargetsReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let a = report
        .baseline
        .postgres_tps
        .map_or("not run (no PostgreSQL database given)".to_string(), |a| {
            format!("{} tps", number(a))
        });
    let _ = writeln!(
        out,
        "\nBaselines of this run: (a) one PostgreSQL transaction per purchase, pgbench: {a}; (b) SQLite, the same statements in batches: {} purchases/s.",
        number(report.baseline.sqlite_per_s)
    );
    let _ = writeln!(
        out,
        "(1) and (2) with {} clients, {} s each; (3) to (6) on a dataset of {} members (the targets for (3) and (6) are set at 10M members); (5) is the time for 10M lots at the rate this run's expiry closed its lots.\n",
        report.clients,
        report.seconds,
        number(report.members as f64)
    );
    let mut header = "| target | goal |".to_string();
    let mut rule = "|---|---|".to_string();
    for b in &report.backends {
        let _ = write!(header, " {} | |", backend_name(b.backend));
        rule.push_str("---|---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let goals = goals(&report.baseline);
    for (i, target) in TARGETS.iter().enumerate() {
        let relation = if target.higher_is_better {
            "≥"
        } else {
            "≤"
        };
        let goal = goals[i].map_or("—".to_string(), |g| {
            format!("{relation} {} {}", number(g), target.unit)
        });
        let _ = write!(out, "| ({}) {} | {goal} |", target.number, target.what);
        for b in &report.backends {
            let m = &b.targets[i];
            let value = m.measured.map_or("—".to_string(), |v| {
                format!("{} {}", number(v), target.unit)
            });
            let _ = write!(out, " {value} | {} |", m.verdict);
        }
        out.push('\n');
    }
    for b in &report.backends {
        let c = &b.crash;
        let _ = writeln!(
            out,
            "\nCrash test on {}: SIGKILL after {} acknowledged purchases ({} tx/s), {} cut off and retried with their receipts and Idempotency-Keys ({} waited for the killed server's claim to run out), restart to ready in {:.2} s; {} purchases recorded, each exactly once, balances match, `verify` finds no drift.",
            backend_name(b.backend),
            number(c.acknowledged_before_kill as f64),
            number(c.acknowledged_before_kill as f64 / c.load.as_secs_f64().max(1e-9)),
            c.retried,
            c.waited,
            c.restart.as_secs_f64(),
            number(c.recorded as f64)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_says_met_or_by_how_many_times_it_missed() {
        // More is better: 1,000 against a goal of 5,000 needs 5× more.
        assert_eq!(
            verdict(Some(1_000.0), Some(5_000.0), true),
            Verdict::Missed { by: 5.0 }
        );
        assert_eq!(verdict(Some(5_000.0), Some(5_000.0), true), Verdict::Met);
        // Less is better: 40 s against 10 s is 4× too slow; 1.5 ms under 2 ms is met.
        assert_eq!(
            verdict(Some(40.0), Some(10.0), false),
            Verdict::Missed { by: 4.0 }
        );
        assert_eq!(verdict(Some(1.5), Some(2.0), false), Verdict::Met);
        assert_eq!(verdict(None, Some(2.0), false), Verdict::NotMeasured);
        assert_eq!(verdict(Some(9.0), None, true), Verdict::NotMeasured);
        assert_eq!(Verdict::Missed { by: 4.84 }.to_string(), "missed by 4.8×");
        assert_eq!(Verdict::Missed { by: f64::INFINITY }.to_string(), "missed");
    }

    #[test]
    fn targets_take_their_goals_from_the_run_and_expiry_is_scaled_to_ten_million_lots() {
        let baseline = BaselineReport {
            sqlite_per_s: 6_000.0,
            postgres_tps: Some(4_000.0),
        };
        let earn = EarnReport {
            purchases_per_s: 5_000.0,
            batch_per_s: 3_500.0,
            ..EarnReport::default()
        };
        let mut scale = ScaleReport {
            lookup_p99: Duration::from_micros(1_800),
            expired_lots: 500_000,
            expiry_elapsed: Duration::from_secs(5),
            import_elapsed: Duration::from_secs(2),
            server_peak_mib: Some(40),
            ..ScaleReport::default()
        };
        scale.import.rows = 50_000;
        let m = measure(&baseline, &earn, &scale);
        let round = |v: Option<f64>| v.map(|v| (v * 100.0).round() / 100.0);
        let got: Vec<_> = m
            .iter()
            .map(|m| (round(m.measured), m.goal, m.verdict))
            .collect();
        assert_eq!(
            got,
            [
                (Some(5_000.0), Some(20_000.0), Verdict::Missed { by: 4.0 }),
                (Some(3_500.0), Some(3_000.0), Verdict::Met),
                (Some(1.8), Some(2.0), Verdict::Met),
                (Some(25_000.0), Some(200_000.0), Verdict::Missed { by: 8.0 }),
                // 500,000 lots in 5 s: 10M lots in 100 s.
                (Some(100.0), Some(10.0), Verdict::Missed { by: 10.0 }),
                (Some(40.0), Some(1024.0), Verdict::Met),
            ]
        );
        // Without a PostgreSQL baseline (1) has no goal; nothing expired, (5) no measure.
        scale.expired_lots = 0;
        let m = measure(
            &BaselineReport {
                postgres_tps: None,
                ..baseline
            },
            &earn,
            &scale,
        );
        assert_eq!(m[0].verdict, Verdict::NotMeasured);
        assert_eq!(m[4].verdict, Verdict::NotMeasured);
        let text = table(&TargetsReport {
            baseline: BaselineReport {
                postgres_tps: None,
                ..baseline
            },
            backends: vec![],
            clients: 64,
            seconds: 10,
            members: 400,
        });
        assert!(
            text.contains("| (4) member import from CSV | ≥ 200,000 rows/s |"),
            "{text}"
        );
    }
}
