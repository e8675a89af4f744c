//! Crash test: under a 64-client earn load the server is killed with SIGKILL, restarted,
//! and every client retries its unacknowledged purchase with the same receipt (the
//! purchase's idempotency key). Afterwards every acknowledged purchase is present exactly
//! once, no retried purchase is doubled, and `loyal verify` finds no drift. Small size
//! here (CI); the benchmark runs it at full size.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, fresh_url};

const CLIENTS: usize = 64;
const PER_CLIENT: usize = 15;

fn start(url: &str, dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_loyal"))
        .args([
            "serve",
            "--database-url",
            url,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--data-dir")
        .arg(dir)
        .env_remove("LOYAL_CONFIG")
        .env("LOYAL_LOG_LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start loyal serve")
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

async fn crash_and_recover(backend: Backend) {
    let (url, _keep) = fresh_url(backend).await;
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&url, data.path(), port);
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    wait_ready(&http, &base).await;

    // A shop, an API key for the load, and members.
    let res = http.post(format!("{base}/api/v1/signup"))
        .json(&json!({"shop_name": "Crash", "slug": "crash", "owner_name": "O", "owner_email": "o@crash.test", "password": PASSWORD}))
        .send().await.unwrap();
    let body: Value = res.json().await.unwrap();
    let csrf = body["me"]["csrf_token"]
        .as_str()
        .unwrap_or_else(|| panic!("signup: {body}"))
        .to_string();
    let key: Value = http
        .post(format!("{base}/api/v1/api-keys"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "load", "scopes": ["members.write", "members.read", "points.earn"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = key["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("api key: {key}"))
        .to_string();
    let api = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut members = vec![];
    for i in 0..CLIENTS {
        let m: Value = api
            .post(format!("{base}/api/v1/members"))
            .bearer_auth(&secret)
            .json(&json!({"phone": format!("08{:08}", 20_000_000 + i)}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        members.push(m["id"].as_i64().unwrap());
    }

    // The load: each client sends purchases one after another until the server dies.
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    for (c, member) in members.iter().copied().enumerate() {
        let (api, base, secret, acked) = (api.clone(), base.clone(), secret.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut done: Vec<String> = vec![];
            for n in 0..PER_CLIENT {
                let receipt = format!("C{c}-{n}");
                let res = api
                    .post(format!("{base}/api/v1/purchases"))
                    .bearer_auth(&secret)
                    .json(
                        &json!({"member_id": member, "amount_satang": 10_000, "receipt": receipt}),
                    )
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().as_u16() == 201 => {
                        done.push(receipt);
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    // No answer: the server died with this request in flight.
                    _ => return (member, done, Some(receipt)),
                }
            }
            (member, done, None)
        }));
    }
    while acked.load(Ordering::SeqCst) < CLIENTS * PER_CLIENT / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().expect("SIGKILL the server");
    server.wait().unwrap();
    let mut results = vec![];
    for t in tasks {
        results.push(t.await.unwrap());
    }

    // Restart; every client retries what was not acknowledged, with the same receipt.
    let mut server = start(&url, data.path(), port);
    wait_ready(&http, &base).await;
    let mut expected: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for (member, done, pending) in &results {
        let set = expected.entry(*member).or_default();
        set.extend(done.iter().cloned());
        if let Some(receipt) = pending {
            let r = api
                .post(format!("{base}/api/v1/purchases"))
                .bearer_auth(&secret)
                .json(&json!({"member_id": member, "amount_satang": 10_000, "receipt": receipt}))
                .send()
                .await
                .unwrap();
            assert!(
                r.status().as_u16() == 201 || r.status().as_u16() == 200,
                "retry of {receipt}: {}",
                r.status()
            );
            set.insert(receipt.clone());
        }
    }
    let acknowledged: usize = results.iter().map(|r| r.1.len()).sum();
    let retried = results.iter().filter(|r| r.2.is_some()).count();
    assert!(
        retried > 0,
        "some clients had a request cut off by the kill"
    );
    assert!(
        acknowledged >= CLIENTS * PER_CLIENT / 3,
        "the kill came under load ({acknowledged} acknowledged)"
    );

    // Exactly once: each expected receipt has one earn, nothing else exists, balances match.
    let db = loyal::store::Db::connect(&url, 2).await.unwrap();
    let rows: Vec<(String, i64)> = loyal::on_db!(&db, pool => sqlx::query_as(
        "SELECT idem_key, member_id FROM ledger_txns WHERE kind = 'earn' AND currency = 'points' ORDER BY idem_key")
        .fetch_all(pool).await).unwrap();
    let mut seen: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for (key, member) in rows {
        let receipt = key.trim_start_matches("receipt:").to_string();
        assert!(
            seen.entry(member).or_default().insert(receipt.clone()),
            "{receipt} recorded twice"
        );
    }
    for (member, receipts) in &expected {
        let got = seen.remove(member).unwrap_or_default();
        assert_eq!(&got, receipts, "member {member}: recorded purchases");
        let points: Value = api
            .get(format!("{base}/api/v1/members/{member}/points"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            points["points"]["balance"].as_i64().unwrap(),
            4 * receipts.len() as i64,
            "100 THB = 4 points each"
        );
    }
    assert!(
        seen.values().all(BTreeSet::is_empty),
        "no purchase that nobody sent: {seen:?}"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_loyal"))
        .args(["verify", "--database-url", &url])
        .env_remove("LOYAL_CONFIG")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "loyal verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_earn_and_doubles_no_retry_sqlite() {
    crash_and_recover(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_earn_and_doubles_no_retry_postgres() {
    crash_and_recover(Backend::Postgres).await;
}
