//! Several `loyal` processes on one database, as when servers share PostgreSQL or a
//! command runs beside a server: ids they mint never collide.

use crate::db_test;
use crate::helpers::*;

async fn two_servers_record_purchases_at_once(backend: Backend) {
    let (url, _dir) = fresh_url(backend).await;
    let logs = tempfile::tempdir().unwrap();
    let log = |name: &str| std::fs::File::create(logs.path().join(name)).unwrap();
    let args = ["--database-url", url.as_str()];
    let a = ServerProcess::start(&args, &[], log("a.log")).await;
    let b = ServerProcess::start(&args, &[], log("b.log")).await;
    let owner = a.signup("twoservers").await;
    let mut members = Vec::new();
    for i in 0..16 {
        members.push(owner.member(&format!("08100{i:05}")).await);
    }
    // The same owner through the other server (cookies are the host's, not the port's).
    let mut owner_at_b = owner.clone();
    owner_at_b.base = b.base.clone();

    // 32 clients, half on each server, each recording purchases one after another:
    // both processes mint ids for the ledger's and the audit's rows in the same
    // milliseconds.
    const CLIENTS: usize = 32;
    const EACH: usize = 40;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let user = if c % 2 == 0 {
            owner.clone()
        } else {
            owner_at_b.clone()
        };
        let members = members.clone();
        tasks.spawn(async move {
            let (mut failed, mut earned) = (Vec::new(), 0);
            for i in 0..EACH {
                let member = members[(c + i) % members.len()];
                let res = user.purchase(member, 10_000, &format!("R{c}-{i}")).await;
                match res.status {
                    201 => earned += res.body["points"].as_i64().unwrap(),
                    _ => failed.push(format!("{} {}", res.status, res.body)),
                }
            }
            (failed, earned)
        });
    }
    let (mut failed, mut earned) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        let (f, e) = done.unwrap();
        failed.extend(f);
        earned += e;
    }
    assert!(
        failed.is_empty(),
        "{} of {} purchases failed, e.g. {:?}",
        failed.len(),
        CLIENTS * EACH,
        failed.first()
    );
    // Every purchase is there once, and gave points.
    let mut total = 0;
    for &m in &members {
        total += owner.points(m).await["balance"].as_i64().unwrap();
    }
    assert!(earned > 0);
    assert_eq!(total, earned);

    // Each process holds a node of its own.
    let db = loyal::store::Db::connect(&url, 1).await.unwrap();
    let held = loyal::store::id_nodes::held(&db).await.unwrap();
    assert_eq!(held.len(), 2, "{held:?}");
    assert_ne!(held[0].0, held[1].0);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_sqlite_file_record_purchases_at_once() {
    two_servers_record_purchases_at_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_record_purchases_at_once() {
    two_servers_record_purchases_at_once(Backend::Postgres).await;
}

db_test!(
    a_node_held_by_a_live_process_is_skipped_and_a_clean_stop_frees_it_past_its_last_id,
    |app| {
        use loyal::store::id_nodes;
        // The test process holds one node; a row another process holds, alive, is skipped.
        let mine = loyal::ids::node();
        let other = (mine + 1) % loyal::ids::NODES;
        let far = loyal::store::now_micros() + 60_000_000;
        loyal::on_db!(&app.db, pool => sqlx::query(
        "INSERT INTO id_nodes (node, holder, expires_at, taken_at, host, pid) VALUES ($1, 'another', $2, 0, 'h', 1)")
        .bind(other).bind(far).execute(pool).await.map(|_| ())).unwrap();
        let held: Vec<i64> = id_nodes::held(&app.db)
            .await
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect();
        assert!(held.contains(&mine) && held.contains(&other), "{held:?}");
        // Taking again keeps this process's node.
        assert_eq!(id_nodes::claim(&app.db).await.unwrap(), mine);
        // A clean stop frees it just past the last id minted, not a lease later.
        let last = loyal::ids::next_id();
        id_nodes::release(&app.db).await.unwrap();
        let (expires,): (i64,) = loyal::on_db!(&app.db, pool => sqlx::query_as(
        "SELECT expires_at FROM id_nodes WHERE node = $1").bind(mine).fetch_one(pool).await)
        .unwrap();
        assert!(
            loyal::ids::first_at(expires) > last,
            "free only after its last id"
        );
        assert!(expires < far - 30_000_000, "not a whole lease later");
    }
);
