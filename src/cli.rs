//! The `loyal` command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{CliOverrides, Settings};
use crate::store::Db;

#[derive(Parser)]
#[command(
    name = "loyal",
    version,
    about = "Loyal: loyalty, membership and customer data in one binary.",
    long_about = "Loyal: loyalty, membership and customer data in one binary.\n\n\
Settings come from built-in defaults, then the TOML file given by --config (or LOYAL_CONFIG), \
then LOYAL_* environment variables, then the flags below. `loyal config` lists every setting."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(Args)]
struct Global {
    /// TOML configuration file (also LOYAL_CONFIG).
    #[arg(long, global = true, env = "LOYAL_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (also LOYAL_LISTEN).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Directory for Loyal's files, e.g. ./loyal-data (also LOYAL_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite://FILE or postgres://USER@HOST/DB (also LOYAL_DATABASE_URL; default: SQLite in the data directory).
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: applies pending migrations, then serves the API and the pages.
    Serve,
    /// Create a demo coffee chain (3 branches, a login per role) if absent, print the
    /// logins, and serve it.
    Demo,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Expire every lot past its expiry date, and unused coupons past theirs (refunded
    /// when the reward says so). Safe to re-run: nothing expires twice.
    Expire {
        /// How long one of the run's transactions may take, in milliseconds. On SQLite
        /// every purchase waits behind it; in a window no one is buying in, longer ones
        /// expire faster, for more memory (PostgreSQL gains little; docs/OPERATIONS.md).
        #[arg(long, default_value_t = crate::store::BULK_TRANSACTION_MS, value_parser = transaction_ms())]
        transaction_ms: u64,
        /// Expire what is due at this moment instead of now (RFC 3339 with its offset,
        /// e.g. 2027-01-01T00:00:00+07:00). A moment in the future only with --dry-run:
        /// points never expire before their date.
        #[arg(long, value_parser = as_of)]
        as_of: Option<jiff::Timestamp>,
        /// Print, per shop, what would expire (members, lots, points) and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Recompute every balance from the ledger entries and check the invariants; exits
    /// non-zero and lists the differences when anything drifted.
    Verify,
    /// Benchmarks of speed, memory and crash safety on this machine (what each measures and
    /// the newest results: docs/BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Tier jobs.
    Tiers {
        #[command(subcommand)]
        what: TiersWhat,
    },
    /// Lucky draws.
    Draw {
        #[command(subcommand)]
        what: DrawWhat,
    },
    /// Import data from a file.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// List every setting with its environment variable, default and current value.
    Config,
    /// Print the OpenAPI document of the API.
    Openapi,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Purchases per second over HTTP, one per request and in batches, with lookup latency.
    ///
    /// Starts a server in this process, creates a shop and --members members, then
    /// --clients clients send one purchase per request (each answered once durable) for
    /// --seconds; --batch-clients send batches of 1,000; one client looks members up by
    /// phone 2,000 times; then the same clients send GET /healthz and a purchase refused
    /// before the ledger, what the HTTP request alone allows on this machine. Prints
    /// purchases/s and p50/p99 latencies, and runs verify. About a minute at the defaults
    /// (four phases of --seconds). Works on a fresh SQLite database in a temporary
    /// directory, removed at the end, unless --database-url names an empty one (the
    /// bench creates its own shop there).
    Earn {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 1000)]
        members: usize,
        /// Clients sending batches of 1,000 purchases (POST /purchases/batch).
        #[arg(long, default_value_t = 4)]
        batch_clients: usize,
    },
    /// Import, lookups, search, expiry, verify and memory on a generated dataset of any size.
    ///
    /// Generates --members members with Thai phones and names and heavy-tailed purchase
    /// histories over two years (about half the lots due for expiry) into a fresh
    /// database, then measures: member import of a CSV of --import-rows new members
    /// (rows/s), lookups by phone and the found members' history over HTTP from a
    /// `loyal serve` process (p50/p99), searches by name, that server's peak memory, the
    /// expiry of every due lot (lots/s), `verify`, and the bench's own peak memory.
    /// About 2 minutes at the default 100,000 members, 5-10 at 1M, an hour at 10M (a
    /// 10M-member SQLite database takes ~50 GB). Works on SQLite in a temporary
    /// directory, removed at the end, unless --database-url names an empty database.
    Scale {
        #[command(flatten)]
        dataset: DatasetArgs,
        /// Only generate the dataset (into --database-url) and stop, to run `loyal expire`,
        /// `loyal serve` or `bench crash` against it.
        #[arg(long)]
        dataset_only: bool,
        /// Measure on the dataset an earlier `--dataset-only` run left in --database-url
        /// instead of generating one (imported members are numbered on from its last).
        #[arg(long)]
        existing: bool,
    },
    /// Crash test: kill a server under load and check no purchase is lost or doubled.
    ///
    /// A `loyal serve` process under an earn load is killed with SIGKILL once
    /// --kill-at-percent of the purchases were acknowledged, and restarted; the clients
    /// retry what got no answer with the same receipt. Fails (non-zero exit) unless every
    /// acknowledged purchase is recorded exactly once, no retry twice, balances match and
    /// `verify` finds no drift; prints the server's peak memory under the load. At 64
    /// clients × 5,000 purchases a run takes 1-4 minutes; the defaults send a tenth of
    /// that. On a fresh SQLite database unless --database-url names an empty one.
    Crash {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        members: usize,
        #[arg(long, default_value_t = 500)]
        purchases_per_client: usize,
        /// Kill the server once this share of all purchases was acknowledged.
        #[arg(long, default_value_t = 50)]
        kill_at_percent: usize,
    },
    /// Loyal's six speed targets in one run, each judged against baselines of the same run.
    ///
    /// Runs both baselines, then on SQLite and, when --database-url names a PostgreSQL
    /// database, on PostgreSQL too (in schemas of its own, dropped afterwards): earn
    /// single and batch, lookup by phone, import, expiry and the server's memory, each
    /// with its goal and met or missed by how many times; then the crash test on each.
    /// Prints a Markdown table (the one in docs/BENCHMARKS.md). About 3 minutes at the
    /// default 100,000 members, 14 at 1M.
    Targets {
        /// Concurrent earn clients (and pgbench's, for baseline (a)).
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds of each earn phase and of each baseline.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Members of the earn phase's shop.
        #[arg(long, default_value_t = 1000)]
        earn_members: usize,
        #[arg(long, default_value_t = 4)]
        batch_clients: usize,
        /// The crash test's purchases per client (its clients and members are earn's; the
        /// server is killed at half of them).
        #[arg(long, default_value_t = 500)]
        crash_purchases_per_client: usize,
        /// The dataset lookups, import, expiry and memory are measured on.
        #[command(flatten)]
        dataset: DatasetArgs,
    },
    /// The baselines earn is compared with, --seconds each.
    ///
    /// (a) one PostgreSQL transaction per purchase (balance update, entry, lot) driven by
    /// pgbench with --clients clients, when --database-url names an empty PostgreSQL
    /// database (its tables are dropped afterwards; needs pgbench); (b) SQLite's raw
    /// limit for the same statements, 1,000 purchases per transaction, in a temporary
    /// directory.
    Baseline {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 1000)]
        members: usize,
    },
}

/// The dataset of `bench scale` and `bench targets`, and what is measured on it.
#[derive(Args)]
struct DatasetArgs {
    /// Members of the generated dataset.
    #[arg(long, default_value_t = 100_000)]
    members: u64,
    /// Mean purchases per member (heavy-tailed; each is two ledger entries and a lot).
    #[arg(long, default_value_t = 10.0)]
    purchases: f64,
    /// Rows of the member-import CSV.
    #[arg(long, default_value_t = 100_000)]
    import_rows: u64,
    /// Lookups by phone over HTTP (and first pages of the found members' history).
    #[arg(long, default_value_t = 5_000)]
    lookups: usize,
}

impl DatasetArgs {
    fn bench(
        self,
        database_url: Option<String>,
    ) -> anyhow::Result<crate::bench::scale::ScaleBench> {
        Ok(crate::bench::scale::ScaleBench {
            database_url,
            members: self.members,
            purchases: self.purchases,
            import_rows: self.import_rows,
            lookups: self.lookups,
            dataset_only: false,
            existing: false,
            binary: std::env::current_exe()?,
        })
    }
}

#[derive(Subcommand)]
enum TiersWhat {
    /// Review every member whose tier cycle has ended: keep, downgrade (by the shop's
    /// rule) or grant a missed upgrade. Safe to re-run: a cycle is reviewed once.
    Evaluate,
}

#[derive(Subcommand)]
enum DrawWhat {
    /// Recompute a draw's winners from its published proof (seed, seed hash, entries)
    /// and check them against the published winners. Exits non-zero on any mismatch.
    Verify {
        /// The proof: a file, `-` for standard input, or the http(s) URL of
        /// /api/v1/public/{shop}/draws/{id}/proof.
        proof: String,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Members with their point balances, from CSV (UTF-8 or Windows-874/TIS-620) or
    /// XLSX. Columns: phone, full_name, points, gender, birthday, email (Thai header
    /// names work too). Bad rows are reported with row, column and reason; good rows are
    /// imported; running the same file again adds no members and no points.
    Members {
        /// The .csv or .xlsx file.
        file: PathBuf,
        /// The shop's slug.
        #[arg(long)]
        tenant: String,
        /// The branch code members join at (optional).
        #[arg(long)]
        branch: Option<String>,
        /// Write the rows that could not be imported to this CSV file.
        #[arg(long)]
        errors: Option<PathBuf>,
        /// How long one of the import's transactions may take, in milliseconds. On SQLite
        /// every purchase waits behind it; into a shop no one is buying in yet (a first
        /// load), longer ones import faster, for more memory (PostgreSQL gains nothing;
        /// docs/OPERATIONS.md).
        #[arg(long, default_value_t = crate::store::BULK_TRANSACTION_MS, value_parser = transaction_ms())]
        transaction_ms: u64,
    },
}

/// `--as-of`: an RFC 3339 moment with its offset.
fn as_of(s: &str) -> Result<jiff::Timestamp, String> {
    s.parse::<jiff::Timestamp>().map_err(|e| {
        format!("{s:?} is not a moment with its offset, such as 2027-01-01T00:00:00+07:00 ({e})")
    })
}

/// The values `--transaction-ms` takes (`loyal import members`, `loyal expire`).
fn transaction_ms() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(50..=600_000)
}

/// Prints the first errors and writes them all to a CSV file when asked.
struct CliErrors {
    shown: usize,
    writer: Option<csv::Writer<std::fs::File>>,
    bar: indicatif::ProgressBar,
}

impl crate::members::import::AsyncErrorSink for CliErrors {
    async fn send(&mut self, errors: &[crate::members::import::RowError]) {
        for e in errors {
            if self.shown < 20 {
                self.bar.println(format!(
                    "row {}, {}: {} ({:?})",
                    e.row, e.column, e.reason, e.value
                ));
                self.shown += 1;
            }
            if let Some(w) = &mut self.writer {
                let _ = w.write_record([
                    e.row.to_string(),
                    e.column.clone(),
                    crate::members::import_file::spreadsheet_text(&e.value),
                    e.reason.clone(),
                ]);
            }
        }
    }
}

async fn import_members(
    db: &Db,
    file: &std::path::Path,
    tenant: &str,
    branch: Option<&str>,
    errors: Option<&std::path::Path>,
    transaction_ms: u64,
) -> anyhow::Result<()> {
    let tenant = crate::tenants::store::find_tenant_by_slug(db, tenant)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no shop has the slug {tenant:?}"))?;
    let branch_id = match branch {
        Some(code) => {
            let branches =
                crate::tenants::store::list_branches(db, tenant.id, i64::MAX, 10_000).await?;
            let code = code.trim().to_uppercase();
            Some(
                branches
                    .iter()
                    .find(|b| b.code == code)
                    .map(|b| b.id)
                    .ok_or_else(|| anyhow::anyhow!("the shop has no branch with code {code:?}"))?,
            )
        }
        None => None,
    };
    let size = std::fs::metadata(file)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
        .len();
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {msg} ({elapsed}, ETA {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let writer = match errors {
        Some(path) => {
            let mut w = csv::Writer::from_path(path)?;
            w.write_record(["row", "column", "value", "reason"])?;
            Some(w)
        }
        None => None,
    };
    let mut sink = CliErrors {
        shown: 0,
        writer,
        bar: bar.clone(),
    };
    let target = crate::members::import::ImportTarget {
        tenant_id: tenant.id,
        may_grant_points: true,
        branch_id,
        actor_kind: "system",
        actor_id: None,
        actor_label: format!("loyal import {}", file.display()),
        meta: crate::audit::RequestMeta {
            request_id: format!("import-{}", crate::ids::next_id()),
            ip: "local".into(),
        },
    };
    let progress_bar = bar.clone();
    let result = crate::members::import::import_file_with(
        db,
        file,
        &target,
        crate::members::import::import_batches(transaction_ms),
        move |c| {
            progress_bar.set_position(c.bytes_read);
            progress_bar.set_message(format!(
                "{} rows: {} new, {} existing, {} refused",
                c.rows, c.imported, c.existing, c.failed
            ));
        },
        &mut sink,
    )
    .await;
    if let Some(w) = &mut sink.writer {
        w.flush()?;
    }
    bar.finish();
    let counts = result.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!(
        "{} rows: {} members imported with {} points, {} already members (unchanged), {} refused{}; {} transactions, the longest {} ms",
        counts.rows,
        counts.imported,
        counts.points,
        counts.existing,
        counts.failed,
        match (counts.failed, errors) {
            (0, _) => String::new(),
            (_, Some(p)) => format!(" (see {})", p.display()),
            (_, None) => " (add --errors FILE for the full report)".into(),
        },
        counts.transactions,
        counts.longest_ms
    );
    Ok(())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let opened = Opened::default();
    let result = run_command(cli, &opened).await;
    opened.release().await;
    result
}

/// The databases a command opened, whose id nodes it gives back when it ends.
#[derive(Default)]
struct Opened(std::sync::Mutex<Vec<Db>>);

impl Opened {
    async fn open(&self, settings: &Settings) -> anyhow::Result<Db> {
        let db = Db::open(&settings.database_url(), settings.database_max_connections).await?;
        self.0.lock().unwrap().push(db.clone());
        Ok(db)
    }

    async fn release(self) {
        for db in self.0.into_inner().unwrap() {
            if let Err(e) = crate::store::id_nodes::release(&db).await {
                tracing::warn!(
                    error = %e,
                    "id node not given back; it frees itself in {} s",
                    crate::ids::LEASE_MS / 1000
                );
            }
        }
    }
}

async fn run_command(cli: Cli, opened: &Opened) -> anyhow::Result<()> {
    let overrides = CliOverrides {
        listen: cli.global.listen,
        data_dir: cli.global.data_dir,
        database_url: cli.global.database_url,
    };
    let settings = Settings::load(cli.global.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Config => {
            print_config(&settings);
            Ok(())
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&crate::app::openapi())?);
            Ok(())
        }
        Command::Migrate => {
            crate::telemetry::init(&settings);
            let db =
                Db::connect(&settings.database_url(), settings.database_max_connections).await?;
            db.migrate().await?;
            println!("migrations applied ({:?})", db.backend());
            Ok(())
        }
        Command::Expire {
            transaction_ms,
            as_of,
            dry_run,
        } => {
            let now = crate::store::now_micros();
            let at = as_of.map_or(now, |t| t.as_microsecond());
            anyhow::ensure!(
                at <= now || dry_run,
                "--as-of {} is in the future: points never expire before their date; add --dry-run to see what would expire then",
                as_of.map(|t| t.to_string()).unwrap_or_default()
            );
            let db = opened.open(&settings).await?;
            if dry_run {
                return print_due(&db, at).await;
            }
            let limits = crate::ledger::expiry_limits(transaction_ms);
            let run = crate::ledger::run_expiry_with(&db, at, limits).await?;
            println!(
                "expired {} points in {} lots ({} transactions, the longest {} ms)",
                run.points,
                run.lots,
                run.batches,
                run.longest.as_millis()
            );
            if !run.analyzed.is_empty() {
                println!("analyzed (PostgreSQL): {}", run.analyzed.join(", "));
            }
            let coupons = crate::rewards::run_coupon_expiry(&db, at).await?;
            println!("expired {coupons} unused coupons and vouchers");
            Ok(())
        }
        Command::Tiers {
            what: TiersWhat::Evaluate,
        } => {
            let db = opened.open(&settings).await?;
            let run = crate::tiers::run_reviews(&db, crate::store::now_micros(), None)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            println!(
                "reviewed {} member cycles: {} downgraded, {} upgraded",
                run.reviewed, run.downgraded, run.upgraded
            );
            Ok(())
        }
        Command::Bench {
            what:
                BenchWhat::Earn {
                    clients,
                    seconds,
                    members,
                    batch_clients,
                },
        } => crate::bench::earn(earn_bench(
            &settings,
            bench_database(&settings),
            (clients, seconds, members, batch_clients),
        ))
        .await
        .map(|_| ()),
        Command::Bench {
            what:
                BenchWhat::Scale {
                    dataset,
                    dataset_only,
                    existing,
                },
        } => crate::bench::scale::scale(crate::bench::scale::ScaleBench {
            dataset_only,
            existing,
            ..dataset.bench(bench_database(&settings))?
        })
        .await
        .map(|_| ()),
        Command::Bench {
            what:
                BenchWhat::Crash {
                    clients,
                    members,
                    purchases_per_client,
                    kill_at_percent,
                },
        } => {
            println!(
                "crash: {clients} clients × {purchases_per_client} purchases over {members} members; SIGKILL at {kill_at_percent}% acknowledged…"
            );
            let report = crate::bench::crash::crash(crate::bench::crash::CrashBench {
                database_url: bench_database(&settings),
                clients,
                members,
                purchases_per_client,
                kill_at_percent,
                binary: std::env::current_exe()?,
            })
            .await?;
            println!(
                "crash: {} acknowledged in {:.1} s before the kill ({:.0} tx/s), {} cut off and retried ({} waited for the killed server's Idempotency-Key claim), restart to ready in {:.2} s",
                report.acknowledged_before_kill,
                report.load.as_secs_f64(),
                report.acknowledged_before_kill as f64 / report.load.as_secs_f64(),
                report.retried,
                report.waited,
                report.restart.as_secs_f64()
            );
            println!(
                "crash: {} purchases recorded, each exactly once; balances match; verify: no drift",
                report.recorded
            );
            if let Some(mib) = report.server_peak_mib {
                println!("peak memory (VmHWM) of the server process before the kill: {mib} MiB");
            }
            Ok(())
        }
        Command::Bench {
            what:
                BenchWhat::Targets {
                    clients,
                    seconds,
                    earn_members,
                    batch_clients,
                    crash_purchases_per_client,
                    dataset,
                },
        } => {
            let postgres_url = bench_database(&settings);
            if postgres_url
                .as_deref()
                .is_some_and(|u| !u.starts_with("postgres"))
            {
                anyhow::bail!(
                    "--database-url: `bench targets` runs SQLite in a temporary directory; give a PostgreSQL database (postgres://…) to measure it too"
                );
            }
            crate::bench::targets::targets(crate::bench::targets::TargetsBench {
                postgres_url,
                earn: earn_bench(
                    &settings,
                    None,
                    (clients, seconds, earn_members, batch_clients),
                ),
                scale: dataset.bench(None)?,
                crash: crate::bench::crash::CrashBench {
                    database_url: None,
                    clients,
                    members: earn_members,
                    purchases_per_client: crash_purchases_per_client,
                    kill_at_percent: 50,
                    binary: std::env::current_exe()?,
                },
            })
            .await
            .map(|_| ())
        }
        Command::Bench {
            what:
                BenchWhat::Baseline {
                    clients,
                    seconds,
                    members,
                },
        } => crate::bench::baseline(crate::bench::BaselineBench {
            postgres_url: bench_database(&settings),
            clients,
            seconds,
            members,
        })
        .await
        .map(|_| ()),
        Command::Draw {
            what: DrawWhat::Verify { proof },
        } => crate::draws::verify_cli(&proof).await,
        Command::Verify => {
            let db = opened.open(&settings).await?;
            let drift = crate::ledger::verify(&db).await?;
            if drift.is_empty() {
                println!("ledger verified: every balance matches its entries and lots");
                return Ok(());
            }
            for d in &drift {
                println!(
                    "DRIFT tenant {} member {:?}: {}",
                    d.tenant_id, d.member_id, d.what
                );
            }
            anyhow::bail!("{} difference(s) found", drift.len())
        }
        Command::Import {
            what:
                ImportWhat::Members {
                    file,
                    tenant,
                    branch,
                    errors,
                    transaction_ms,
                },
        } => {
            let db = opened.open(&settings).await?;
            import_members(
                &db,
                &file,
                &tenant,
                branch.as_deref(),
                errors.as_deref(),
                transaction_ms,
            )
            .await
        }
        Command::Serve => {
            crate::telemetry::init(&settings);
            let db = opened.open(&settings).await?;
            let listener = bind(&settings).await?;
            tracing::info!(listen = %settings.listen, backend = ?db.backend(), "Loyal is serving");
            crate::app::serve(listener, db, settings, crate::app::shutdown_signal()).await
        }
        Command::Demo => {
            crate::telemetry::init(&settings);
            let db = opened.open(&settings).await?;
            let listener = bind(&settings).await?;
            let logins = crate::demo::seed(&db).await?;
            print_demo(&settings, &logins);
            crate::app::serve(listener, db, settings, crate::app::shutdown_signal()).await
        }
    }
}

async fn bind(settings: &Settings) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e} (choose another with --listen)",
                settings.listen
            )
        })
}

/// `loyal expire --dry-run`: per shop, what is due at `at`.
async fn print_due(db: &Db, at: i64) -> anyhow::Result<()> {
    let due = crate::ledger::due_by_shop(db, at).await?;
    let when = crate::types::timestamp(at);
    if due.is_empty() {
        println!("dry run: nothing would expire by {when}");
    }
    for shop in &due {
        let slug = crate::tenants::store::get_tenant(db, shop.tenant_id)
            .await?
            .map(|t| t.slug)
            .unwrap_or_else(|| shop.tenant_id.to_string());
        println!(
            "dry run: {slug}: {} {} in {} lots of {} members would expire by {when}",
            shop.amount, shop.currency, shop.lots, shop.members
        );
    }
    Ok(())
}

fn print_config(settings: &Settings) {
    let current = settings.describe();
    for doc in Settings::documentation() {
        let value = current
            .iter()
            .find(|(k, _)| k == doc.name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let default = if doc.secret {
            "(secret)".to_string()
        } else {
            doc.default.clone()
        };
        println!(
            "{}\n    env {}  default {}  current {}\n    {}\n",
            doc.name,
            doc.env,
            default,
            value,
            doc.doc.replace('\n', "\n    ")
        );
    }
    let unknown = Settings::unknown_environment();
    if !unknown.is_empty() {
        println!("Ignored (they name no setting): {}", unknown.join(", "));
    }
}

fn print_demo(settings: &Settings, logins: &crate::demo::DemoLogins) {
    let base = format!("http://{}", settings.listen);
    println!();
    println!("  Loyal demo: {} ({})", logins.shop_name, logins.slug);
    println!("  Sign in:     {base}/login   (shop: {})", logins.slug);
    println!("  API docs:    {base}/api/docs");
    println!("  OpenAPI:     {base}/api/openapi.json");
    println!("  Metrics:     {base}/metrics");
    println!(
        "  Database:    {}",
        if settings.database_url.is_empty() {
            settings.database_url()
        } else {
            "(from LOYAL_DATABASE_URL)".into()
        }
    );
    println!();
    println!("  Logins (password for all: {}):", logins.password);
    for (role, email) in &logins.staff {
        println!("    {role:<11} {email}");
    }
    println!();
}

/// `bench earn`'s run with the server's group-commit settings (`LOYAL_LEDGER_*`), so
/// they can be compared: (clients, seconds, members, batch clients).
fn earn_bench(
    settings: &Settings,
    database_url: Option<String>,
    (clients, seconds, members, batch_clients): (usize, u64, usize, usize),
) -> crate::bench::EarnBench {
    crate::bench::EarnBench {
        database_url,
        clients,
        seconds,
        members,
        batch_clients,
        ledger_group_commit: settings.ledger_group_commit,
        ledger_writers: settings.ledger_writers,
        ledger_group_max: settings.ledger_group_max,
    }
}

/// The database a benchmark runs on when one was named (else it makes its own).
fn bench_database(settings: &Settings) -> Option<String> {
    (!settings.database_url.is_empty()).then(|| settings.database_url.clone())
}
