//! `loyal bench earn`: the earn path measured the way a POS uses it. An in-process server
//! on a fresh database (SQLite in a temporary directory, or `--database-url`), a shop and
//! N members created through the API, then C concurrent clients sending one purchase per
//! request (durable before the answer) for S seconds, then point-of-sale lookups by phone.
//! Prints transactions/s and p50/p99 latencies. The full suite of the speed issue
//! (datasets of 1M/10M members, batch endpoint, expiry, baselines) builds on this.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::Settings;
use crate::store::Db;

pub struct EarnBench {
    pub database_url: Option<String>,
    pub clients: usize,
    pub seconds: u64,
    pub members: usize,
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

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub async fn earn(b: EarnBench) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let url = b
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let db = Db::connect(&url, 32).await?;
    db.migrate().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        listen: addr.to_string(),
        data_dir: dir.clone(),
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
    let secret = key["secret"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no API key: {key}"))?
        .to_string();
    let api = reqwest::Client::builder()
        .pool_max_idle_per_host(b.clients)
        .build()?;
    println!("creating {} members…", b.members);
    let mut members = Vec::with_capacity(b.members);
    for i in 0..b.members {
        let phone = format!("08{:08}", 10_000_000 + i);
        let m: Value = api
            .post(format!("{base}/api/v1/members"))
            .bearer_auth(&secret)
            .json(&json!({"phone": phone}))
            .send()
            .await?
            .json()
            .await?;
        members.push((m["id"].as_i64().unwrap_or(0), phone));
    }
    let members = Arc::new(members);

    println!(
        "earn: {} clients for {} s, one purchase per request…",
        b.clients, b.seconds
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..b.clients {
        let (api, base, secret, members, stop) = (
            api.clone(),
            base.clone(),
            secret.clone(),
            members.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            let mut errors = 0u64;
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let (member, _) = &members[(c * 7919 + n * 104_729) % members.len()];
                let t = Instant::now();
                let r = api
                    .post(format!("{base}/api/v1/purchases"))
                    .bearer_auth(&secret)
                    .json(&json!({"member_id": member, "amount_satang": 12_500, "receipt": format!("B{c}-{n}")}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => lat.push(t.elapsed()),
                    _ => errors += 1,
                }
                n += 1;
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(b.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = vec![];
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    lat.sort();
    println!(
        "earn: {} purchases in {:.1} s = {:.0} tx/s; p50 {}, p99 {}; {} errors",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        errors
    );

    println!("lookup by phone: 1 client, 2,000 requests…");
    let mut lat = vec![];
    for i in 0..2_000 {
        let (_, phone) = &members[(i * 7919) % members.len()];
        let t = Instant::now();
        let r = api
            .get(format!("{base}/api/v1/members?phone={phone}"))
            .bearer_auth(&secret)
            .send()
            .await?;
        let ok = r.status().is_success();
        let _ = r.bytes().await;
        if ok {
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    println!(
        "lookup: p50 {}, p99 {} ({} answered)",
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        lat.len()
    );
    let drift = crate::ledger::store::verify(&db).await?;
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
    if b.database_url.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("loyal-bench-{}", crate::ids::next_id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
