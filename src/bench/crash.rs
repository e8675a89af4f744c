//! `loyal bench crash`: the crash test, at any size. A `loyal serve` process
//! on a fresh database takes an earn load from C clients (one purchase per request, each
//! client's purchases one after another); once a given share of them was acknowledged,
//! the server is killed with SIGKILL and started again, and every client retries the
//! purchase that got no answer, with the same receipt and the same `Idempotency-Key`
//! header, as a till that follows the API's retry rule does (on
//! `idempotency_in_progress` it waits the seconds `Retry-After` says: a claim of the
//! killed server lasts until its request could no longer be running). Then:
//! every acknowledged purchase is recorded exactly once, no retried purchase twice,
//! nothing nobody sent exists, every balance is 4 points per recorded purchase, and
//! `loyal verify` finds no drift. Any violation is an error. CI runs it small (the
//! `crash` test), the benchmark at full size, also on a database that already holds a
//! large dataset (its own shop is checked; `verify` checks everything).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::json;

use crate::store::Db;

#[derive(Clone)]
pub struct CrashBench {
    /// An empty database (the run creates its shop), or a fresh SQLite file when None.
    pub database_url: Option<String>,
    pub clients: usize,
    pub members: usize,
    pub purchases_per_client: usize,
    /// Kill the server once this share (1-99 %) of all purchases was acknowledged.
    pub kill_at_percent: usize,
    /// The `loyal` binary to run as the server.
    pub binary: PathBuf,
}

/// What a run did (every check passed).
#[derive(Debug)]
pub struct CrashReport {
    pub acknowledged_before_kill: usize,
    /// Requests in flight when the server died, retried after the restart.
    pub retried: usize,
    /// Of those, the ones whose first retry found the killed server's claim on their
    /// `Idempotency-Key` and waited for it to run out.
    pub waited: usize,
    /// Purchases in the ledger at the end (acknowledged + retried).
    pub recorded: usize,
    pub restart: Duration,
    /// From the first purchase sent to the kill.
    pub load: Duration,
    /// Peak resident memory of the server process under the load (Linux only).
    pub server_peak_mib: Option<u64>,
}

/// The server's request time limit in the run: a claim on an `Idempotency-Key` lasts
/// that plus a few seconds, which a retry after the kill may have to wait.
const REQUEST_TIMEOUT_SECS: &str = "5";

/// Send a purchase with its receipt as the `Idempotency-Key`; its status and the
/// seconds `Retry-After` asks for, or None without an answer.
async fn purchase(
    api: &reqwest::Client,
    base: &str,
    secret: &str,
    member: i64,
    receipt: &str,
) -> Option<(u16, Option<u64>)> {
    let res = api
        .post(format!("{base}/api/v1/purchases"))
        .bearer_auth(secret)
        .header("idempotency-key", receipt)
        .json(&json!({"member_id": member, "amount_satang": 10_000, "receipt": receipt}))
        .send()
        .await
        .ok()?;
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Some((res.status().as_u16(), retry_after))
}

pub async fn crash(b: CrashBench) -> anyhow::Result<CrashReport> {
    ensure!(
        (1..=99).contains(&b.kill_at_percent),
        "--kill-at-percent must be 1 to 99"
    );
    ensure!(
        b.clients > 0 && b.members > 0,
        "clients and members must be > 0"
    );
    let tmp = super::tempfile_dir()?;
    let dir = tmp.path();
    let url = b
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/crash.db", dir.display()));
    let port = super::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let settings = [("LOYAL_REQUEST_TIMEOUT_SECS", REQUEST_TIMEOUT_SECS)];
    let mut server = super::start_server_with(&b.binary, &url, dir, port, &settings)?;
    let http = reqwest::Client::new();
    super::wait_ready(&http, &base).await?;
    let secret = super::shop_with_api_key(&http, &base).await?;
    let api = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(b.clients)
        .build()?;
    let members: Vec<i64> = super::create_members(&api, &base, &secret, b.members)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();

    // The load: each client sends its purchases one after another until the server dies.
    let acked = Arc::new(AtomicUsize::new(0));
    let load_started = Instant::now();
    let mut tasks = vec![];
    for c in 0..b.clients {
        let (api, base, secret, acked) = (api.clone(), base.clone(), secret.clone(), acked.clone());
        let members = members.clone();
        let per_client = b.purchases_per_client;
        tasks.push(tokio::spawn(async move {
            let mut done: Vec<(i64, String)> = vec![];
            for n in 0..per_client {
                let member = members[(c * per_client + n) % members.len()];
                let receipt = format!("C{c}-{n}");
                match purchase(&api, &base, &secret, member, &receipt).await {
                    Some((201, _)) => {
                        done.push((member, receipt));
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    // No answer (the server died with this request in flight), or a
                    // refusal under load: either way the client retries it later.
                    _ => return (done, Some((member, receipt))),
                }
            }
            (done, None)
        }));
    }
    let kill_at = b.clients * b.purchases_per_client * b.kill_at_percent / 100;
    while acked.load(Ordering::SeqCst) < kill_at && !tasks.iter().all(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let server_peak_mib = super::scale::peak_memory_mib(&server.id().to_string());
    server.kill().context("SIGKILL the server")?;
    let load = load_started.elapsed();
    server.wait()?;
    let mut results = vec![];
    for t in tasks {
        results.push(t.await?);
    }
    let acknowledged: usize = results.iter().map(|r| r.0.len()).sum();

    // Restart; every client retries what was not acknowledged, with the same receipt.
    let restarted = Instant::now();
    let mut server = super::start_server_with(&b.binary, &url, dir, port, &settings)?;
    super::wait_ready(&http, &base).await?;
    let restart = restarted.elapsed();
    let mut expected: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    let (mut retried, mut waited) = (0, 0);
    let give_up = Instant::now() + Duration::from_secs(60);
    for (done, pending) in &results {
        for (member, receipt) in done {
            expected.entry(*member).or_default().insert(receipt.clone());
        }
        if let Some((member, receipt)) = pending {
            let mut first = true;
            loop {
                match purchase(&api, &base, &secret, *member, receipt).await {
                    Some((200 | 201, _)) => break,
                    Some((409, Some(secs))) if Instant::now() < give_up => {
                        waited += usize::from(first);
                        first = false;
                        tokio::time::sleep(Duration::from_secs(secs)).await;
                    }
                    // No answer: the server closed the idle connection as it was reused
                    // (a till retries that too).
                    None if Instant::now() < give_up => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    other => bail!("the retry of {receipt} was answered {other:?}"),
                }
            }
            expected.entry(*member).or_default().insert(receipt.clone());
            retried += 1;
        }
    }
    server.kill()?;
    server.wait()?;

    // Exactly once: each expected receipt has one earn, nothing else exists, balances match.
    // Only this run's shop: the database may hold others (a dataset from `bench scale`).
    let db = Db::connect(&url, 2).await?;
    let (tenant,): (i64,) = crate::on_db!(&db, pool => sqlx::query_as(
        "SELECT tenant_id FROM members WHERE id = $1").bind(members[0]).fetch_one(pool).await)?;
    let rows: Vec<(String, i64)> = crate::on_db!(&db, pool => sqlx::query_as(
        "SELECT idem_key, member_id FROM ledger_txns WHERE tenant_id = $1 AND kind = 'earn' AND currency = 'points'")
        .bind(tenant).fetch_all(pool).await)?;
    let recorded = rows.len();
    let mut seen: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for (key, member) in rows {
        let receipt = key.trim_start_matches("receipt:").to_string();
        ensure!(
            seen.entry(member).or_default().insert(receipt.clone()),
            "{receipt} is recorded twice"
        );
    }
    ensure!(
        seen == expected,
        "the ledger holds other purchases than the acknowledged and retried ones"
    );
    let balances: Vec<(i64, i64)> = crate::on_db!(&db, pool => sqlx::query_as(
        "SELECT member_id, balance FROM balances WHERE tenant_id = $1 AND currency = 'points'")
        .bind(tenant).fetch_all(pool).await)?;
    for (member, balance) in balances {
        let purchases = expected.get(&member).map_or(0, BTreeSet::len) as i64;
        ensure!(
            balance == 4 * purchases,
            "member {member} has {balance} points for {purchases} purchases of 100 THB (4 each)"
        );
    }
    db.close().await;
    let verify = Command::new(&b.binary)
        .args(["verify", "--database-url", &url])
        .env_remove("LOYAL_CONFIG")
        .output()?;
    ensure!(
        verify.status.success(),
        "loyal verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    drop(tmp);
    Ok(CrashReport {
        acknowledged_before_kill: acknowledged,
        retried,
        waited,
        recorded,
        restart,
        load,
        server_peak_mib,
    })
}
