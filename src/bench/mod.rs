//! `loyal bench earn`: the earn path measured the way a POS uses it. An in-process server
//! on a fresh database (SQLite in a temporary directory, or `--database-url`), a shop and
//! N members created through the API, then C concurrent clients sending one purchase per
//! request (durable before the answer) for S seconds, then point-of-sale lookups by phone,
//! then the same clients on requests the ledger plays no part in (`GET /healthz`, and a
//! purchase refused before the ledger): the floor the HTTP request itself sets on this
//! machine. Prints transactions/s and p50/p99 latencies. `loyal bench targets` runs it
//! beside the other benches (baselines, datasets of 1M/10M members, crash test).

pub mod crash;
pub mod scale;
pub mod targets;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::store::Db;

#[derive(Clone)]
pub struct EarnBench {
    pub database_url: Option<String>,
    pub clients: usize,
    pub seconds: u64,
    pub members: usize,
    /// Clients sending batches of 1,000 purchases in the second phase.
    pub batch_clients: usize,
    /// The server's group-commit settings (`LOYAL_LEDGER_*`), to compare them.
    pub ledger_group_commit: bool,
    pub ledger_writers: usize,
    pub ledger_group_max: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Look members up by phone one after another, as a point of sale does: the sorted
/// latencies, and how many phones were found.
async fn lookups(
    http: &reqwest::Client,
    base: &str,
    api_key: &str,
    phones: impl Iterator<Item = String>,
) -> anyhow::Result<(Vec<Duration>, Vec<i64>)> {
    let (mut latencies, mut found) = (vec![], vec![]);
    for phone in phones {
        let t = Instant::now();
        let res = http
            .get(format!("{base}/api/v1/members"))
            .query(&[("phone", &phone)])
            .bearer_auth(api_key)
            .send()
            .await?;
        let body: Value = res.json().await.unwrap_or_default();
        latencies.push(t.elapsed());
        if let Some(id) = body["items"][0]["id"].as_i64() {
            found.push(id);
        }
    }
    latencies.sort();
    Ok((latencies, found))
}

/// Search members by the start of a name, one request after another, as staff do at the
/// till or the call centre: (latencies sorted, searches that found at least one member).
async fn name_searches(
    http: &reqwest::Client,
    base: &str,
    api_key: &str,
    names: impl Iterator<Item = String>,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let (mut latencies, mut found) = (vec![], 0);
    for name in names {
        let t = Instant::now();
        let res = http
            .get(format!("{base}/api/v1/members"))
            .query(&[("q", name.as_str())])
            .bearer_auth(api_key)
            .send()
            .await?;
        let body: Value = res.json().await.unwrap_or_default();
        latencies.push(t.elapsed());
        found += usize::from(body["items"].as_array().is_some_and(|i| !i.is_empty()));
    }
    latencies.sort();
    Ok((latencies, found))
}

/// Read the first page of each member's ledger history (`GET /members/{id}/ledger`, what
/// the member page and the till show), one request at a time: (latencies sorted, pages
/// that answered 200).
async fn history_pages(
    http: &reqwest::Client,
    base: &str,
    api_key: &str,
    members: &[i64],
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let (mut latencies, mut answered) = (vec![], 0);
    for id in members {
        let t = Instant::now();
        let res = http
            .get(format!("{base}/api/v1/members/{id}/ledger"))
            .bearer_auth(api_key)
            .send()
            .await?;
        let ok = res.status().is_success();
        let _ = res.bytes().await?;
        latencies.push(t.elapsed());
        answered += usize::from(ok);
    }
    latencies.sort();
    Ok((latencies, answered))
}

/// Sign a new shop up on the server at `base` and create an API key for the load (points,
/// members); returns the key's secret.
async fn shop_with_api_key(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let slug = format!("bench{}", crate::ids::next_id() % 1_000_000);
    let res = http
        .post(format!("{base}/api/v1/signup"))
        .json(&json!({"shop_name": "Bench", "slug": slug, "owner_name": "B", "owner_email": "b@bench.test", "password": "bench-password-2026"}))
        .send()
        .await?;
    // The owner's session cookie, to create the API key the clients use.
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let signup: Value = res.json().await?;
    let csrf = signup["me"]["csrf_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let key: Value = http
        .post(format!("{base}/api/v1/api-keys"))
        .header("x-csrf-token", csrf)
        .header(reqwest::header::COOKIE, cookie)
        .json(&json!({"name": "bench", "scopes": ["members.write", "members.read", "points.earn"]}))
        .send()
        .await?
        .json()
        .await?;
    Ok(key["secret"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no API key: {key}"))?
        .to_string())
}

/// Enrol `n` members through the API; their (id, phone).
async fn create_members(
    api: &reqwest::Client,
    base: &str,
    secret: &str,
    n: usize,
) -> anyhow::Result<Vec<(i64, String)>> {
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        let phone = format!("08{:08}", 10_000_000 + i);
        let m: Value = api
            .post(format!("{base}/api/v1/members"))
            .bearer_auth(secret)
            .json(&json!({"phone": phone}))
            .send()
            .await?
            .json()
            .await?;
        let id = m["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("member not created: {m}"))?;
        members.push((id, phone));
    }
    Ok(members)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `clients` tasks each sending `request(client, n)` (its n-th) one after another for
/// `seconds`: the sorted latencies of the answers with status `expected`, how many had
/// another status or none, and the time it took.
async fn drive(
    clients: usize,
    seconds: u64,
    expected: u16,
    request: impl Fn(usize, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> (Vec<Duration>, u64, Duration) {
    let request = Arc::new(request);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (request, stop) = (request.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut lat, mut errors, mut n) = (vec![], 0u64, 0usize);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match request(c, n).send().await {
                        Ok(r) if r.status().as_u16() == expected => lat.push(t.elapsed()),
                        _ => errors += 1,
                    }
                    n += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut lat, mut errors) = (vec![], 0);
    for task in tasks {
        match task.await {
            Ok((l, e)) => {
                lat.extend(l);
                errors += e;
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed();
    lat.sort();
    (lat, errors, elapsed)
}

/// The earn bench's clients and what they send to.
struct Clients {
    api: reqwest::Client,
    base: String,
    secret: String,
    members: Arc<Vec<(i64, String)>>,
    clients: usize,
    seconds: u64,
}

impl Clients {
    /// Every client sending one purchase of `satang` per request (receipts
    /// `{prefix}{client}-{n}`), each to the next member in a spread order; answers with
    /// status `expected` are counted.
    async fn single_purchases(
        &self,
        satang: i64,
        prefix: &'static str,
        expected: u16,
    ) -> (Vec<Duration>, u64, Duration) {
        let (api, base, secret, members) = (
            self.api.clone(),
            self.base.clone(),
            self.secret.clone(),
            self.members.clone(),
        );
        drive(self.clients, self.seconds, expected, move |c, n| {
            let (member, _) = &members[(c * 7919 + n * 104_729) % members.len()];
            api.post(format!("{base}/api/v1/purchases"))
                .bearer_auth(&secret)
                .json(&json!({"member_id": member, "amount_satang": satang, "receipt": format!("{prefix}{c}-{n}")}))
        })
        .await
    }
}

fn print_requests(label: &str, lat: &[Duration], errors: u64, elapsed: Duration) {
    println!(
        "{label}: {} requests in {:.1} s = {:.0} requests/s; p50 {}, p99 {}; {} unexpected answers",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(lat, 0.50)),
        ms(percentile(lat, 0.99)),
        errors
    );
}

/// What `bench earn` measured.
#[derive(Clone, Debug, Default)]
pub struct EarnReport {
    /// Single purchases acknowledged per second (latencies are printed).
    pub purchases_per_s: f64,
    /// Single purchases not acknowledged with 201.
    pub errors: u64,
    /// Purchases recorded per second through the batch endpoint (0 without batch clients).
    pub batch_per_s: f64,
    /// Differences `verify` found after the run.
    pub drift: usize,
}

pub async fn earn(b: EarnBench) -> anyhow::Result<EarnReport> {
    let tmp = tempfile_dir()?;
    let dir = tmp.path();
    let url = b
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let db = Db::open(&url, 32).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        listen: addr.to_string(),
        data_dir: dir.to_path_buf(),
        log_level: "error".into(),
        database_max_connections: 32,
        ledger_group_commit: b.ledger_group_commit,
        ledger_writers: b.ledger_writers,
        ledger_group_max: b.ledger_group_max,
        ..Settings::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::app::serve(listener, db.clone(), settings, async {
        let _ = stop_rx.await;
    }));
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let secret = shop_with_api_key(&http, &base).await?;
    let api = reqwest::Client::builder()
        .pool_max_idle_per_host(b.clients)
        .build()?;
    println!("creating {} members…", b.members);
    let members = create_members(&api, &base, &secret, b.members).await?;
    let members = Arc::new(members);

    println!(
        "earn: {} clients for {} s, one purchase per request…",
        b.clients, b.seconds
    );
    let shop = Clients {
        api: api.clone(),
        base: base.clone(),
        secret: secret.clone(),
        members: members.clone(),
        clients: b.clients,
        seconds: b.seconds,
    };
    let (lat, errors, elapsed) = shop.single_purchases(12_500, "B", 201).await;
    let mut report = EarnReport {
        purchases_per_s: lat.len() as f64 / elapsed.as_secs_f64(),
        errors,
        ..EarnReport::default()
    };
    println!(
        "earn: {} purchases in {:.1} s = {:.0} tx/s; p50 {}, p99 {}; {} errors",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        errors
    );

    println!(
        "batch earn: {} clients for {} s, 1,000 purchases per request…",
        b.batch_clients, b.seconds
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..b.batch_clients {
        let (api, base, secret, members, stop) = (
            api.clone(),
            base.clone(),
            secret.clone(),
            members.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut recorded, mut failed, mut n) = (0u64, 0u64, 0usize);
            let mut lat = vec![];
            while !stop.load(Ordering::Relaxed) {
                let purchases: Vec<Value> = (0..1_000)
                    .map(|i| {
                        let k = n * 1_000 + i;
                        let (member, _) = &members[(c * 7919 + k * 104_729) % members.len()];
                        json!({"member_id": member, "amount_satang": 12_500, "receipt": format!("BB{c}-{k}")})
                    })
                    .collect();
                let t = Instant::now();
                let r = api
                    .post(format!("{base}/api/v1/purchases/batch"))
                    .bearer_auth(&secret)
                    .json(&json!({ "purchases": purchases }))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap_or_default();
                        recorded += body["created"].as_u64().unwrap_or(0);
                        let batch_failed = body["failed"].as_u64().unwrap_or(0);
                        failed += batch_failed;
                        // The first batch with failures says why (only it reads the results).
                        let first_failures = batch_failed > 0 && failed == batch_failed;
                        if first_failures
                            && let Some(e) = body["results"]
                                .as_array()
                                .and_then(|r| r.iter().find(|i| i["error"].is_object()))
                        {
                            eprintln!("batch earn: first failure: {}", e["error"]);
                        }
                        lat.push(t.elapsed());
                    }
                    Ok(r) => {
                        eprintln!("batch earn: HTTP {}", r.status());
                        failed += 1_000;
                    }
                    Err(e) => {
                        eprintln!("batch earn: {e}");
                        failed += 1_000;
                    }
                }
                n += 1;
            }
            (recorded, failed, lat)
        }));
    }
    tokio::time::sleep(Duration::from_secs(b.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut recorded, mut failed, mut lat) = (0, 0, vec![]);
    for t in tasks {
        let (r, f, l) = t.await?;
        recorded += r;
        failed += f;
        lat.extend(l);
    }
    let elapsed = started.elapsed();
    lat.sort();
    report.batch_per_s = recorded as f64 / elapsed.as_secs_f64();
    println!(
        "batch earn: {} purchases in {:.1} s = {:.0} purchases/s; p50 {} per batch; {} failed",
        recorded,
        elapsed.as_secs_f64(),
        recorded as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        failed
    );
    if let Ok(text) = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await
    {
        let value = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
        };
        if let (Some(sum), Some(count)) = (
            value("loyal_ledger_group_size_sum"),
            value("loyal_ledger_group_size_count"),
        ) {
            println!(
                "group commit: {count:.0} groups, {:.1} purchases per group on average",
                sum / count.max(1.0)
            );
        }
    }

    println!("lookup by phone: 1 client, 2,000 requests…");
    let phones = (0..2_000).map(|i| members[(i * 7919) % members.len()].1.clone());
    let (lat, found) = lookups(&api, &base, &secret, phones).await?;
    println!(
        "lookup: p50 {}, p99 {} ({} answered)",
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        found.len()
    );
    // What the same clients get from this server when the ledger does nothing: the floor
    // the HTTP request itself sets, to set single purchases against (docs/BENCHMARKS.md,
    // "Against the engines' own floors").
    println!(
        "without the ledger: {} clients for {} s on GET /healthz, then on POST /purchases refused before the ledger (a negative bill)…",
        b.clients, b.seconds
    );
    let (lat, errors, elapsed) = {
        let (api, base) = (api.clone(), base.clone());
        drive(b.clients, b.seconds, 200, move |_, _| {
            api.get(format!("{base}/healthz"))
        })
        .await
    };
    print_requests("healthz", &lat, errors, elapsed);
    let (lat, errors, elapsed) = shop.single_purchases(-1, "F", 422).await;
    print_requests("refused purchase", &lat, errors, elapsed);
    let drift = crate::ledger::verify(&db).await?;
    report.drift = drift.len();
    println!(
        "verify after the run: {}",
        if drift.is_empty() {
            "no drift".to_string()
        } else {
            format!("{} DIFFERENCES", drift.len())
        }
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    db.close().await;
    Ok(report)
}

/// A port no one listens on now, for a server process to take.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Start `loyal serve` on `url` as a child process listening on `port`, its periodic jobs
/// off: a benchmark measures the expiry on its own, and a server started on a large
/// dataset would begin one.
fn start_server(binary: &Path, url: &str, dir: &Path, port: u16) -> anyhow::Result<Child> {
    start_server_with(binary, url, dir, port, &[])
}

/// [`start_server`] with more settings as `LOYAL_*` variables.
fn start_server_with(
    binary: &Path,
    url: &str,
    dir: &Path,
    port: u16,
    settings: &[(&str, &str)],
) -> anyhow::Result<Child> {
    Command::new(binary)
        .envs(settings.iter().copied())
        .args(["serve", "--database-url", url])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir)
        .env_remove("LOYAL_CONFIG")
        .env("LOYAL_LOG_LEVEL", "error")
        .env("LOYAL_HOUSEKEEPING_SECS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("start {} serve", binary.display()))
}

async fn wait_ready(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not become ready in 30 s")
}

/// What a run's directory is named by, in the system's temporary directory.
const RUN_DIR_PREFIX: &str = "loyal-bench-";

/// The file in a run's directory that its run holds locked while it lives.
const RUN_DIR_LOCK: &str = "run.lock";

/// A directory for a run's files (database, data directory, CSV), removed when dropped,
/// so a run that fails half-way leaves nothing behind either. A run that was killed
/// (Ctrl-C, `kill -9`) cannot remove it, and at 10M members it holds ~50 GB: the run
/// holds a lock on a file in it while it lives, and each new run first removes the
/// directories whose lock nobody holds ([`remove_abandoned_run_dirs`]).
struct RunDir {
    dir: tempfile::TempDir,
    _lock: std::fs::File,
}

impl RunDir {
    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

fn tempfile_dir() -> anyhow::Result<RunDir> {
    run_dir_in(&std::env::temp_dir())
}

fn run_dir_in(tmp: &std::path::Path) -> anyhow::Result<RunDir> {
    remove_abandoned_run_dirs(tmp);
    let dir = tempfile::Builder::new()
        .prefix(RUN_DIR_PREFIX)
        .tempdir_in(tmp)?;
    // Locked under another name and then renamed: a sweep only looks at the lock file's
    // own name, which is never there unlocked while its run lives.
    let taking = dir.path().join(format!("{RUN_DIR_LOCK}.new"));
    let lock = std::fs::File::create(&taking)?;
    lock.lock()?;
    std::fs::rename(&taking, dir.path().join(RUN_DIR_LOCK))?;
    Ok(RunDir { dir, _lock: lock })
}

/// Remove the run directories under `tmp` whose lock file no live run holds; says what
/// it removed. A directory without the lock file (being made, or made by another
/// program) is left alone.
fn remove_abandoned_run_dirs(tmp: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(RUN_DIR_PREFIX)
        {
            continue;
        }
        let path = entry.path();
        let Ok(lock) = std::fs::File::open(path.join(RUN_DIR_LOCK)) else {
            continue;
        };
        if lock.try_lock().is_ok() {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => println!(
                    "removed {}, left by a run that did not finish",
                    path.display()
                ),
                Err(e) => eprintln!("could not remove {}: {e}", path.display()),
            }
        }
    }
}

pub struct BaselineBench {
    /// PostgreSQL for baseline (a); skipped when absent.
    pub postgres_url: Option<String>,
    pub clients: usize,
    pub seconds: u64,
    pub members: usize,
}

/// What `bench baseline` measured.
#[derive(Clone, Debug, Default)]
pub struct BaselineReport {
    /// (b): purchases per second SQLite takes through the three statements in batches.
    pub sqlite_per_s: f64,
    /// (a): pgbench's transactions per second, when a PostgreSQL database was given.
    pub postgres_tps: Option<f64>,
}

/// pgbench's `tps = 4802.123456 (without initial connection time)` line, as a number.
fn pgbench_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The baselines earn is compared with, written the way a typical web app writes an earn:
/// update the balance, insert the entry, insert the lot.
/// (a) one PostgreSQL transaction per purchase, driven by pgbench with C clients;
/// (b) SQLite's raw limit for the same three statements, 1,000 purchases per transaction
///     (WAL, synchronous=FULL as Loyal runs it; through sqlx, the driver Loyal uses).
pub async fn baseline(b: BaselineBench) -> anyhow::Result<BaselineReport> {
    const TABLES: [&str; 3] = [
        "CREATE TABLE bl_balances (member_id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)",
        "CREATE TABLE bl_entries (id BIGINT PRIMARY KEY, member_id BIGINT NOT NULL, amount BIGINT NOT NULL, at BIGINT NOT NULL)",
        "CREATE TABLE bl_lots (id BIGINT PRIMARY KEY, member_id BIGINT NOT NULL, amount BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
    ];
    // (b) SQLite.
    let tmp = tempfile_dir()?;
    let dir = tmp.path();
    let db = Db::connect(&format!("sqlite://{}/baseline.db", dir.display()), 1).await?;
    let Db::Sqlite(pool) = &db else {
        unreachable!()
    };
    for t in TABLES {
        sqlx::query(t).execute(pool).await?;
    }
    let mut tx = pool.begin().await?;
    for m in 1..=b.members as i64 {
        sqlx::query("INSERT INTO bl_balances VALUES ($1, 0)")
            .bind(m)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    println!(
        "baseline (b): SQLite, 3 statements per purchase, 1,000 purchases per transaction, {} s…",
        b.seconds
    );
    let started = Instant::now();
    let mut done = 0i64;
    while started.elapsed() < Duration::from_secs(b.seconds) {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        for _ in 0..1_000 {
            done += 1;
            let member = done * 104_729 % b.members as i64 + 1;
            sqlx::query("UPDATE bl_balances SET balance = balance + 4 WHERE member_id = $1")
                .bind(member)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO bl_entries VALUES ($1, $2, 4, $3)")
                .bind(done)
                .bind(member)
                .bind(done)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO bl_lots VALUES ($1, $2, 4, $3)")
                .bind(done)
                .bind(member)
                .bind(done)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    let elapsed = started.elapsed();
    let mut report = BaselineReport {
        sqlite_per_s: done as f64 / elapsed.as_secs_f64(),
        postgres_tps: None,
    };
    println!(
        "baseline (b): {done} purchases in {:.1} s = {:.0} purchases/s",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64()
    );
    db.close().await;

    // (a) PostgreSQL through pgbench.
    let Some(url) = b.postgres_url else {
        println!("baseline (a): skipped (give --database-url postgres://… of an empty database)");
        return Ok(report);
    };
    let db = Db::connect(&url, 2).await?;
    let Db::Postgres(pool) = &db else {
        anyhow::bail!("baseline (a) needs a PostgreSQL --database-url");
    };
    for t in ["bl_lots", "bl_entries", "bl_balances"] {
        sqlx::query(&format!("DROP TABLE IF EXISTS {t}"))
            .execute(pool)
            .await?;
    }
    for t in TABLES {
        sqlx::query(&t.replace(
            "id BIGINT PRIMARY KEY, member_id",
            "id BIGSERIAL PRIMARY KEY, member_id",
        ))
        .execute(pool)
        .await?;
    }
    sqlx::query("INSERT INTO bl_balances SELECT g, 0 FROM generate_series(1, $1) g")
        .bind(b.members as i64)
        .execute(pool)
        .await?;
    let script = dir.join("baseline-a.sql");
    std::fs::write(
        &script,
        format!(
            "\\set member random(1, {})\nBEGIN;\n\
             UPDATE bl_balances SET balance = balance + 4 WHERE member_id = :member;\n\
             INSERT INTO bl_entries (member_id, amount, at) VALUES (:member, 4, 0);\n\
             INSERT INTO bl_lots (member_id, amount, expires_at) VALUES (:member, 4, 0);\nEND;\n",
            b.members
        ),
    )?;
    println!(
        "baseline (a): PostgreSQL, pgbench, one transaction per purchase, {} clients, {} s…",
        b.clients, b.seconds
    );
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-c", &b.clients.to_string(), "-j", "2", "-T"])
        .arg(b.seconds.to_string())
        .arg("-f")
        .arg(&script)
        .arg(&url)
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            report.postgres_tps = pgbench_tps(&text);
            for line in text.lines().filter(|l| {
                l.starts_with("tps")
                    || l.starts_with("latency")
                    || l.contains("transactions actually")
            }) {
                println!("baseline (a): {line}");
            }
        }
        Ok(out) => anyhow::bail!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => anyhow::bail!(
            "pgbench could not start ({e}); install it with `apt-get install postgresql-client`"
        ),
    }
    for t in ["bl_lots", "bl_entries", "bl_balances"] {
        sqlx::query(&format!("DROP TABLE {t}"))
            .execute(pool)
            .await?;
    }
    db.close().await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_removes_the_directories_of_killed_runs_and_no_other() {
        let tmp = tempfile::tempdir().unwrap();
        let live = run_dir_in(tmp.path()).unwrap();
        std::fs::write(live.path().join("scale.db"), b"live").unwrap();
        // A killed run: its directory and lock file are there, nobody holds the lock.
        let killed = tmp.path().join(format!("{RUN_DIR_PREFIX}killed"));
        std::fs::create_dir(&killed).unwrap();
        std::fs::write(killed.join(RUN_DIR_LOCK), b"").unwrap();
        std::fs::write(killed.join("scale.db"), b"left").unwrap();
        // One being made (no lock file yet), and another program's with a lock file.
        let unlocked_yet = tmp.path().join(format!("{RUN_DIR_PREFIX}making"));
        std::fs::create_dir(&unlocked_yet).unwrap();
        let other = tmp.path().join("someone-else");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join(RUN_DIR_LOCK), b"").unwrap();

        let next = run_dir_in(tmp.path()).unwrap();
        assert!(!killed.exists(), "the killed run's directory is removed");
        assert!(live.path().join("scale.db").exists(), "a live run's stays");
        assert!(unlocked_yet.exists() && other.exists());
        assert_ne!(next.path(), live.path());

        // Once a run ends its directory is gone, lock and all.
        let ended = live.path().to_path_buf();
        drop(live);
        assert!(!ended.exists());
        // And a live run's lock is held: a sweep cannot take it.
        let lock = std::fs::File::open(next.path().join(RUN_DIR_LOCK)).unwrap();
        assert!(lock.try_lock().is_err());
    }
}
