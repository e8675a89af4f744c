//! The group-committing ledger writer, driven directly so the test decides what lands in
//! one group: the test holds a member's balance lock, so the writer blocks on its first
//! group while the next purchases queue up behind it.

use std::time::Duration;

use loyal::audit::ActorRef;
use loyal::audit::RequestMeta;
use loyal::earning::writer::{LedgerWriter, WriterConfig};
use loyal::earning::{EarnError, NewPurchase, PurchaseInput, PurchaseOutcome};
use loyal::error::Code;
use loyal::ledger::model::Currency;
use serde_json::json;

use crate::db_test;
use crate::helpers::*;

fn purchase(tenant: i64, member: i64, receipt: &str) -> PurchaseInput {
    let purchase = NewPurchase {
        tenant_id: tenant,
        member_id: member,
        amount_satang: 10_000,
        receipt: receipt.into(),
        branch_id: None,
        occurred_at: None,
        items: vec![],
        dry_run: false,
    };
    PurchaseInput::new(purchase, loyal::store::now_micros()).unwrap()
}

type Pending = tokio::task::JoinHandle<Result<PurchaseOutcome, EarnError>>;

fn send(writer: &LedgerWriter, input: PurchaseInput) -> Pending {
    let writer = writer.clone();
    tokio::spawn(async move {
        let meta = RequestMeta {
            request_id: "test".into(),
            ip: "127.0.0.1".into(),
        };
        let actor = ActorRef {
            kind: "system",
            id: None,
            label: "test",
        };
        writer.record_purchase(input, actor, &meta).await
    })
}

/// Wait until the writer's state satisfies `done` (it moves on its own task).
async fn until(writer: &LedgerWriter, done: impl Fn(loyal::earning::writer::WriterStats) -> bool) {
    for _ in 0..2_000 {
        if done(writer.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the writer never got there: {:?}", writer.stats());
}

/// One writer taking up to 256 purchases per group.
const ONE_WRITER: WriterConfig = WriterConfig {
    writers: 1,
    group_max: 256,
    queue: 100,
};

struct Setup {
    owner: User,
    tenant: i64,
    plug: i64,
    members: Vec<i64>,
}

async fn setup(app: &TestApp) -> Setup {
    let owner = app.signup("kafe").await;
    let tenant = owner.me["tenant_id"].as_i64().unwrap();
    let plug = owner.member("0810000000").await;
    let mut members = vec![];
    for i in 1..=3 {
        members.push(owner.member(&format!("081000000{i}")).await);
    }
    Setup {
        owner,
        tenant,
        plug,
        members,
    }
}

/// A writer whose first group (one purchase for the plug member) is stuck on the plug's
/// lock, held by the returned transaction: what is sent next queues up behind it.
async fn blocked_writer(
    app: &TestApp,
    s: &Setup,
    config: WriterConfig,
) -> (LedgerWriter, loyal::store::Tx, Pending) {
    let writer = LedgerWriter::start(&app.db, config);
    let mut lock = app.db.begin().await.unwrap();
    loyal::ledger::lock_member(&mut lock, s.tenant, s.plug, Currency::Points)
        .await
        .unwrap();
    let plug = send(&writer, purchase(s.tenant, s.plug, "plug"));
    until(&writer, |st| st.groups == 1 && st.queued == 0).await;
    (writer, lock, plug)
}

db_test!(
    a_failing_purchase_in_a_group_costs_only_its_own_request,
    |app| {
        let s = setup(&app).await;
        let (writer, lock, plug) = blocked_writer(&app, &s, ONE_WRITER).await;
        // Three purchases queue up behind it, in this order; the second reuses the first's
        // receipt for another member, so it must fail once the first is recorded.
        let a = send(&writer, purchase(s.tenant, s.members[0], "r-a"));
        until(&writer, |st| st.queued == 1).await;
        let b = send(&writer, purchase(s.tenant, s.members[1], "r-a"));
        until(&writer, |st| st.queued == 2).await;
        let c = send(&writer, purchase(s.tenant, s.members[2], "r-c"));
        until(&writer, |st| st.queued == 3).await;
        drop(lock);

        let plug = plug.await.unwrap().expect("the plug purchase is recorded");
        let (a, b, c) = (a.await.unwrap(), b.await.unwrap(), c.await.unwrap());
        let stats = writer.stats();
        assert_eq!(
            (stats.groups, stats.purchases, stats.retried_groups),
            (2, 4, 0),
            "one group of the plug, one of three in which the reused receipt is refused alone"
        );
        assert!(!plug.replayed);
        let a = a.expect("the first purchase is recorded");
        assert_eq!((a.points, a.replayed), (4, false), "{a:?}");
        assert!(matches!(
            b.expect_err("the reused receipt is refused"),
            EarnError::ReceiptReused
        ));
        assert_eq!(c.expect("the third purchase is recorded").points, 4);

        for (member, points) in [(s.members[0], 4), (s.members[1], 0), (s.members[2], 4)] {
            assert_eq!(
                s.owner.points(member).await["balance"],
                points,
                "member {member}"
            );
        }
        // The refused purchase left nothing behind: one earn per recorded purchase.
        let history = s
            .owner
            .get(&format!("/api/v1/members/{}/ledger", s.members[0]))
            .await;
        assert_eq!(history.body["items"].as_array().unwrap().len(), 1);
        app.assert_no_drift().await;
    }
);

db_test!(
    a_database_error_in_a_group_rolls_it_back_and_records_each_purchase_alone,
    |app| {
        let s = setup(&app).await;
        let rules =
            json!({"stamps": [{"name": "coffee card", "skus": ["LATTE"], "stamps_per_item": 1}]});
        let res = s.owner.put("/api/v1/rules/earning", rules).await;
        assert_eq!(res.status, 200, "{}", res.body);
        let (writer, lock, plug) = blocked_writer(&app, &s, ONE_WRITER).await;
        // The first bill's stamps are recorded under the key `receipt:r-x:stamps`, which
        // is also the key of the second bill's receipt `r-x:stamps`: together in one
        // statement the database refuses the clash, so the whole group fails.
        let mut latte = purchase(s.tenant, s.members[0], "r-x");
        latte.items = serde_json::from_value(json!([{"sku": "LATTE", "category": "coffee", "quantity": 1, "unit_price_satang": 10_000}])).unwrap();
        let a = send(&writer, latte);
        until(&writer, |st| st.queued == 1).await;
        let b = send(&writer, purchase(s.tenant, s.members[1], "r-x:stamps"));
        until(&writer, |st| st.queued == 2).await;
        let c = send(&writer, purchase(s.tenant, s.members[2], "r-c"));
        until(&writer, |st| st.queued == 3).await;
        drop(lock);

        plug.await.unwrap().expect("the plug purchase is recorded");
        let (a, b, c) = (a.await.unwrap(), b.await.unwrap(), c.await.unwrap());
        let stats = writer.stats();
        assert_eq!(
            (stats.groups, stats.purchases, stats.retried_groups),
            (2, 4, 1),
            "the group of three was rolled back and retried one by one"
        );
        let a = a.expect("the first purchase is recorded alone");
        assert_eq!((a.points, a.stamps), (4, 1), "{a:?}");
        assert!(matches!(
            b.expect_err("the clashing receipt is refused"),
            EarnError::ReceiptReused
        ));
        assert_eq!(c.expect("the third purchase is recorded").points, 4);
        for (member, points) in [(s.members[0], 4), (s.members[1], 0), (s.members[2], 4)] {
            assert_eq!(s.owner.points(member).await["balance"], points);
        }
        app.assert_no_drift().await;
    }
);

db_test!(
    a_members_purchases_in_one_group_are_recorded_in_order_as_if_sent_one_by_one,
    |app| {
        let s = setup(&app).await;
        // 100 baht earns 4 points; a member earns at most 10 a day.
        let res = s
            .owner
            .put("/api/v1/rules/earning", json!({"cap_per_day": 10}))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let (writer, lock, plug) = blocked_writer(&app, &s, ONE_WRITER).await;
        let m = s.members[0];
        let mut pending = vec![];
        for (i, receipt) in ["d-1", "d-2", "d-1", "d-3", "d-4"].iter().enumerate() {
            pending.push(send(&writer, purchase(s.tenant, m, receipt)));
            until(&writer, |st| st.queued == i + 1).await;
        }
        let other = send(&writer, purchase(s.tenant, s.members[1], "d-5"));
        until(&writer, |st| st.queued == 6).await;
        drop(lock);

        plug.await.unwrap().expect("the plug purchase is recorded");
        let stats = writer.stats();
        let mut answers = vec![];
        for p in pending {
            let o = p.await.unwrap().expect("recorded or replayed");
            answers.push((o.points, o.balance, o.replayed));
        }
        assert_eq!(writer.stats().groups, 2, "{stats:?}");
        assert_eq!(
            answers,
            vec![
                (4, Some(4), false),
                (4, Some(8), false),
                (4, Some(8), true),
                (2, Some(10), false),
                (0, Some(10), false),
            ],
            "the daily cap and the balance see the earlier bills of the same group"
        );
        let other = other.await.unwrap().unwrap();
        assert_eq!((other.points, other.balance), (4, Some(4)));
        assert_eq!(s.owner.points(m).await["balance"], 10);
        app.assert_no_drift().await;
    }
);

db_test!(
    a_full_queue_refuses_at_once_with_retry_after_and_loses_nothing,
    |app| {
        let s = setup(&app).await;
        let (writer, lock, plug) = blocked_writer(
            &app,
            &s,
            WriterConfig {
                writers: 1,
                group_max: 1,
                queue: 2,
            },
        )
        .await;
        let a = send(&writer, purchase(s.tenant, s.members[0], "q-a"));
        let b = send(&writer, purchase(s.tenant, s.members[1], "q-b"));
        until(&writer, |st| st.queued == 2).await;
        let refused = send(&writer, purchase(s.tenant, s.members[2], "q-c"))
            .await
            .unwrap()
            .expect_err("the queue is full");
        assert!(matches!(refused, EarnError::QueueFull));
        let answer = loyal::error::ApiError::from(refused);
        assert_eq!(answer.code, Code::Overloaded);
        assert_eq!(answer.code.status(), 503);
        assert_eq!(answer.retry_after_secs, Some(1));
        drop(lock);

        for pending in [plug, a, b] {
            assert!(
                !pending
                    .await
                    .unwrap()
                    .expect("accepted means recorded")
                    .replayed
            );
        }
        assert_eq!(
            s.owner.points(s.members[2]).await["balance"],
            0,
            "nothing of the refused one"
        );
        // The client's retry with the same receipt goes through.
        let retried = send(&writer, purchase(s.tenant, s.members[2], "q-c"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(retried.points, 4);
        assert_eq!(s.owner.points(s.members[2]).await["balance"], 4);
        app.assert_no_drift().await;
    }
);

db_test!(
    purchases_sent_over_http_at_once_are_grouped_and_each_answered_after_commit,
    |app| {
        let s = setup(&app).await;
        // 60 bills for 3 members at once, each receipt twice: every bill grants once, the
        // second copy is answered as a replay of the first, and balances add up.
        let mut sends = vec![];
        for i in 0..60 {
            for _ in 0..2 {
                let owner = s.owner.clone();
                let member = s.members[i % 3];
                sends.push(tokio::spawn(async move {
                owner
                    .post(
                        "/api/v1/purchases",
                        json!({"member_id": member, "amount_satang": 10_000, "receipt": format!("h-{i}")}),
                    )
                    .await
            }));
            }
        }
        let mut created = 0;
        let mut replayed = 0;
        for s in sends {
            let r = s.await.unwrap();
            match r.status {
                201 => created += 1,
                200 if r.body["replayed"] == true => replayed += 1,
                _ => panic!("{} {}", r.status, r.body),
            }
        }
        assert_eq!((created, replayed), (60, 60));
        for m in &s.members {
            assert_eq!(s.owner.points(*m).await["balance"], 80);
        }
        app.assert_no_drift().await;
    }
);

db_test!(
    a_batch_records_each_purchase_as_if_sent_alone_and_a_retry_grants_nothing_twice,
    |app| {
        let s = setup(&app).await;
        let [m1, m2, m3] = [s.members[0], s.members[1], s.members[2]];
        let batch = json!({"purchases": [
            {"member_id": m1, "amount_satang": 10_000, "receipt": "b-1"},
            {"member_id": m2, "amount_satang": 0, "receipt": "b-2"},
            {"member_id": 999_999_999, "amount_satang": 10_000, "receipt": "b-3"},
            {"member_id": m3, "amount_satang": 25_000, "receipt": "b-4"},
            {"member_id": m1, "amount_satang": 5_000, "receipt": "b-5"},
            {"member_id": m2, "amount_satang": 5_000, "receipt": "b-6", "branch_id": 42},
        ]});
        let first = s.owner.post("/api/v1/purchases/batch", batch.clone()).await;
        assert_eq!(first.status, 200, "{}", first.body);
        assert_eq!(
            (
                &first.body["created"],
                &first.body["replayed"],
                &first.body["failed"]
            ),
            (&json!(3), &json!(0), &json!(3))
        );
        let results = first.body["results"].as_array().unwrap();
        let statuses: Vec<_> = results
            .iter()
            .map(|r| r["status"].as_i64().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [201, 422, 422, 201, 201, 422],
            "in the order sent"
        );
        assert_eq!(results[1]["error"]["field"], "purchases[1].amount_satang");
        assert_eq!(results[2]["error"]["field"], "purchases[2].member_id");
        assert_eq!(results[2]["error"]["code"], "invalid_field");
        assert_eq!(results[5]["error"]["field"], "purchases[5].branch_id");
        assert_eq!(results[3]["purchase"]["points"], 10);
        assert_eq!(s.owner.points(m1).await["balance"], 6);
        assert_eq!(s.owner.points(m2).await["balance"], 0);

        // The whole batch again (a POS retrying after a timeout): nothing is granted twice.
        let again = s.owner.post("/api/v1/purchases/batch", batch).await;
        assert_eq!(
            (
                &again.body["created"],
                &again.body["replayed"],
                &again.body["failed"]
            ),
            (&json!(0), &json!(3), &json!(3))
        );
        assert_eq!(again.body["results"][0]["status"], 200);
        assert_eq!(s.owner.points(m1).await["balance"], 6);
        assert_eq!(s.owner.points(m3).await["balance"], 10);

        // A receipt already recorded for someone else is that item's conflict only.
        let clash = s
            .owner
            .post(
                "/api/v1/purchases/batch",
                json!({"purchases": [
                    {"member_id": m2, "amount_satang": 10_000, "receipt": "b-new"},
                    {"member_id": m2, "amount_satang": 10_000, "receipt": "b-1"},
                ]}),
            )
            .await;
        assert_eq!(clash.body["results"][0]["status"], 201);
        assert_eq!(clash.body["results"][1]["status"], 409);
        assert_eq!(
            clash.body["results"][1]["error"]["field"],
            "purchases[1].receipt"
        );
        assert_eq!(s.owner.points(m2).await["balance"], 4);

        let empty = s
            .owner
            .post("/api/v1/purchases/batch", json!({"purchases": []}))
            .await;
        assert_eq!((empty.status, empty.field()), (422, "purchases"));
        let too_many: Vec<_> = (0..1_001)
            .map(|i| json!({"member_id": m1, "amount_satang": 100, "receipt": format!("x-{i}")}))
            .collect();
        let big = s
            .owner
            .post("/api/v1/purchases/batch", json!({"purchases": too_many}))
            .await;
        assert_eq!((big.status, big.field()), (422, "purchases"));
        let dry = s
        .owner
        .post(
            "/api/v1/purchases/batch",
            json!({"purchases": [{"member_id": m1, "amount_satang": 100, "receipt": "d", "dry_run": true}]}),
        )
        .await;
        assert_eq!((dry.status, dry.field()), (422, "purchases[0].dry_run"));
        assert_eq!(
            s.owner.points(m1).await["balance"],
            6,
            "nothing from refused batches"
        );
        app.assert_no_drift().await;
    }
);

/// Rows of `SELECT k, v FROM {table} ORDER BY k`.
async fn scratch_rows(db: &loyal::store::Db, table: &str) -> Vec<(i64, String)> {
    let sql = format!("SELECT k, v FROM {table} ORDER BY k");
    loyal::on_db!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await).unwrap()
}

db_test!(writes_sent_together_write_every_row_or_none, |app| {
    // A group's writes go as one statement (PostgreSQL) or one text (SQLite) when
    // small, one by one when large; either way every row lands, and a
    // failing part fails the whole call so the caller's rollback leaves nothing.
    use loyal::store::Val::{Int, Text};
    for ddl in [
        "CREATE TABLE scratch_a (k BIGINT PRIMARY KEY, v TEXT NOT NULL)",
        "CREATE TABLE scratch_b (k BIGINT PRIMARY KEY, v TEXT NOT NULL)",
    ] {
        loyal::on_db!(&app.db, pool => sqlx::query(ddl).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    }
    let names: Vec<String> = (0..20_000).map(|i| format!("v{i}")).collect();
    let rows = |n: usize| -> Vec<Vec<loyal::store::Val<'_>>> {
        (0..n)
            .map(|i| vec![Int(i as i64), Text(&names[i])])
            .collect()
    };
    let upsert = "ON CONFLICT (k) DO UPDATE SET v = excluded.v";
    let (a, b) = (
        "INSERT INTO scratch_a (k, v)",
        "INSERT INTO scratch_b (k, v)",
    );
    // Small: sent together; an empty part is skipped. (Parts must not write the
    // same rows: PostgreSQL runs a statement's parts in no set order.)
    let (small, none, more) = (rows(3), rows(0), vec![vec![Int(10), Text("ten")]]);
    let mut tx = app.db.begin().await.unwrap();
    loyal::store::execute_all(
        &mut tx,
        &[
            (a, "", &small),
            (b, "", &none),
            (b, "", &small),
            (a, upsert, &more),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let in_a = scratch_rows(&app.db, "scratch_a").await;
    let expected: Vec<(i64, String)> = [(0, "v0"), (1, "v1"), (2, "v2"), (10, "ten")]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    assert_eq!(in_a, expected);
    assert_eq!(scratch_rows(&app.db, "scratch_b").await, expected[..3]);
    // Large (40,000 values, past both backends' one-statement limit): one by one.
    let large = rows(20_000);
    let mut tx = app.db.begin().await.unwrap();
    loyal::store::execute_all(&mut tx, &[(a, upsert, &large), (b, upsert, &large)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(scratch_rows(&app.db, "scratch_a").await.len(), 20_000);
    assert_eq!(scratch_rows(&app.db, "scratch_b").await.len(), 20_000);
    // A part that fails (key 3 exists) fails the call; rolled back, nothing is left.
    let fresh = vec![vec![Int(30_000), Text("x")]];
    let clash = vec![vec![Int(3), Text("y")]];
    let mut tx = app.db.begin().await.unwrap();
    let failed = loyal::store::execute_all(&mut tx, &[(a, "", &fresh), (b, "", &clash)]).await;
    assert!(failed.is_err_and(|e| loyal::store::is_unique_violation(&e)));
    drop(tx);
    assert_eq!(scratch_rows(&app.db, "scratch_a").await.len(), 20_000);
});

/// SQLite: what the writer commits reaches the database file itself while the server
/// runs, by WAL checkpoints on a connection beside the writer. SQLite alone checkpoints
/// only in a commit that leaves 1,000 pages in the WAL (Loyal's writer: 10,000), so a few
/// purchases would stay in the WAL until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copies_the_committed_purchases_into_the_database_file_beside_the_writer() {
    let (db, dir) = fresh_db(Backend::Sqlite).await;
    let dir = dir.expect("a SQLite directory");
    let app = TestApp::spawn_on(db).await;
    let owner = app.signup("kafe").await;
    let m = owner.member("0812345678").await;
    for i in 0..20 {
        let body = json!({"member_id": m, "amount_satang": 10_000, "receipt": format!("R{i}")});
        let res = owner.post("/api/v1/purchases", body).await;
        assert_eq!(res.status, 201, "{}", res.body);
    }
    let wal = std::fs::metadata(dir.path().join("loyal.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal < 1_000 * 4_096,
        "the log ({wal} bytes) is below SQLite's own checkpoint"
    );
    // The file alone, as a copy of it without its log would be; the copy is read again
    // until the background checkpoint got to it (a copy taken mid-write may not open).
    let copy = tempfile::tempdir().unwrap();
    let file = copy.path().join("file.db");
    let mut in_file = 0;
    for _ in 0..100 {
        std::fs::copy(dir.path().join("loyal.db"), &file).unwrap();
        if let Ok(db) = loyal::store::Db::connect(&format!("sqlite://{}", file.display()), 1).await
        {
            let count: Result<(i64,), _> = loyal::on_db!(&db, pool => sqlx::query_as(
                "SELECT COUNT(*) FROM ledger_txns WHERE receipt LIKE 'R%'").fetch_one(pool).await);
            db.close().await;
            in_file = count.map_or(0, |(n,)| n);
        }
        let _ = std::fs::remove_file(copy.path().join("file.db-wal"));
        let _ = std::fs::remove_file(copy.path().join("file.db-shm"));
        if in_file == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        in_file, 20,
        "every committed purchase is in the database file"
    );
}

/// SQLite: after a big bulk job (an import's or an expiry's transactions write hundreds of
/// megabytes of WAL) the WAL file is truncated once the WAL restarts, instead of keeping
/// its largest size on disk for as long as the server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cuts_the_log_file_back_after_a_big_bulk_job() {
    use loyal::store::WAL_FILE_LIMIT_BYTES;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("big.db").display());
    let db = loyal::store::Db::connect(&url, 2).await.unwrap();
    let wal_len = || std::fs::metadata(dir.path().join("big.db-wal")).map_or(0, |m| m.len());
    loyal::on_db!(&db, pool => sqlx::query("CREATE TABLE filler (b BLOB)").execute(pool).await.map(|_| ()))
        .unwrap();
    {
        let job = db.for_bulk_job();
        // About 24,000 pages (~98 MB) in one transaction.
        let mut tx = job.db.begin().await.unwrap();
        loyal::on_tx!(&mut tx, c => sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24000)
             INSERT INTO filler SELECT randomblob(4000) FROM n")
            .execute(c).await.map(|_| ()))
        .unwrap();
        tx.commit().await.unwrap();
        assert!(
            wal_len() > WAL_FILE_LIMIT_BYTES,
            "the job's log grew to {} bytes",
            wal_len()
        );
    }
    // The job is over; the server's next small writes restart the WAL once it is all
    // checkpointed.
    let mut wal = wal_len();
    for _ in 0..100 {
        loyal::on_db!(&db, pool => sqlx::query("INSERT INTO filler VALUES (x'00')").execute(pool).await.map(|_| ()))
            .unwrap();
        wal = wal_len();
        if wal <= WAL_FILE_LIMIT_BYTES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        wal <= WAL_FILE_LIMIT_BYTES,
        "the log file was cut back to at most {WAL_FILE_LIMIT_BYTES} bytes: {wal}"
    );
    db.close().await;
}
