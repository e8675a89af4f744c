//! The operator's commands: `loyal verify` finds drift (on both backends) and says so
//! in its exit code; `loyal expire` expires due points once and says what it did;
//! `loyal import members` imports a file and reports its refused rows;
//! `loyal --help` explains every subcommand.

use std::process::Command;

use serde_json::json;

use crate::db_test;
use loyal::on_db;

async fn corrupt(db: &loyal::store::Db, sql: &str) {
    on_db!(db, pool => sqlx::query(sql).execute(pool).await.map(|r| r.rows_affected())).unwrap();
}

/// What `verify` reports once `corrupt` has run; then `undo` puts the rows back and the
/// ledger must verify clean again (so each check below starts from a clean ledger).
async fn drift_after(
    app: &crate::helpers::TestApp,
    corrupt_sql: &str,
    undo_sql: &str,
) -> Vec<loyal::ledger::Drift> {
    corrupt(&app.db, corrupt_sql).await;
    let drift = loyal::ledger::verify(&app.db).await.unwrap();
    corrupt(&app.db, undo_sql).await;
    app.assert_no_drift().await;
    drift
}

db_test!(
    verify_reports_a_balance_that_drifted_from_its_entries,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        owner.purchase(m, 100_000, "R1").await;
        app.assert_no_drift().await;
        let drift = drift_after(
            &app,
            "UPDATE balances SET balance = balance + 7",
            "UPDATE balances SET balance = balance - 7",
        )
        .await;
        assert!(
            drift
                .iter()
                .any(|d| d.member_id == Some(m) && d.what.contains("entries sum to 40")),
            "{drift:?}"
        );
        // A transaction whose entries no longer balance, the member's own untouched.
        let drift = drift_after(
            &app,
            "UPDATE ledger_entries SET amount = amount + 3 WHERE account <> 'member'",
            "UPDATE ledger_entries SET amount = amount - 3 WHERE account <> 'member'",
        )
        .await;
        assert!(
            !drift.is_empty()
                && drift
                    .iter()
                    .all(|d| d.member_id.is_none() && d.what.ends_with("entries sum to 3")),
            "{drift:?}"
        );
        // Entries of one transaction in two currencies (a posting moves one).
        let drift = drift_after(
            &app,
            "UPDATE ledger_entries SET currency = 'stamps' WHERE account <> 'member'",
            "UPDATE ledger_entries SET currency = 'points' WHERE account <> 'member'",
        )
        .await;
        assert!(
            drift
                .iter()
                .any(|d| d.what.ends_with("has entries in more than one currency")),
            "{drift:?}"
        );
        let drift = drift_after(
            &app,
            "UPDATE lots SET remaining = remaining - 1",
            "UPDATE lots SET remaining = remaining + 1",
        )
        .await;
        assert!(
            drift.iter().any(|d| d.what.starts_with("lot ")),
            "{drift:?}"
        );
    }
);

fn loyal(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loyal"))
        .args(args)
        .env_remove("LOYAL_CONFIG")
        .output()
        .expect("run loyal")
}

/// Run loyal, expect it to succeed, and return what it printed.
fn loyal_ok(args: &[&str]) -> String {
    let out = loyal(args);
    assert!(
        out.status.success(),
        "loyal {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A bulk command given `--transaction-ms 10` (below its 50) fails before it runs and
/// names the option and the value.
fn refuses_transactions_of_10_ms(args: &[&str]) {
    let out = loyal(&[args, &["--transaction-ms", "10"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("invalid value '10' for '--transaction-ms"),
        "{stderr}"
    );
}

#[test]
fn loyal_verify_exits_non_zero_on_drift() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ops.db").display());
    let out = loyal(&["migrate", "--database-url", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = loyal::store::Db::connect(&url, 2).await.unwrap();
        let app = crate::helpers::TestApp::spawn_on(db.clone()).await;
        let owner = app.signup("ops").await;
        let m = owner.member("0812345678").await;
        owner
            .post(
                &format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 10, "reason": "x"}),
            )
            .await;
    });
    let ok = loyal(&["verify", "--database-url", &url]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("ledger verified"));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = loyal::store::Db::connect(&url, 2).await.unwrap();
        corrupt(&db, "UPDATE balances SET balance = 3").await;
    });
    let bad = loyal(&["verify", "--database-url", &url]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("DRIFT"));
}

#[test]
fn loyal_expire_expires_due_points_once_and_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ops.db").display());
    assert!(loyal(&["migrate", "--database-url", &url]).status.success());
    let forty_days_ago = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * 40))
        .unwrap()
        .to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, owner, m) = runtime.block_on(async {
        let db = loyal::store::Db::connect(&url, 2).await.unwrap();
        let app = crate::helpers::TestApp::spawn_on(db).await;
        let owner = app.signup("ops").await;
        owner.set_rolling_expiry(1).await;
        let m = owner.member("0812345678").await;
        for receipt in ["OLD-1", "OLD-2"] {
            let res = owner.purchase_at(m, 25_000, receipt, &forty_days_ago).await;
            assert_eq!(res.status, 201, "{}", res.body);
        }
        owner.purchase(m, 50_000, "NEW").await;
        (app, owner, m)
    });
    // A dry run says what would expire, now or at a moment ahead, and changes nothing;
    // a real run ahead of time is refused.
    let dry = loyal_ok(&["expire", "--database-url", &url, "--dry-run"]);
    assert!(
        dry.contains("dry run: ops: 20 points in 2 lots of 1 members would expire by "),
        "{dry}"
    );
    let in_two_months =
        (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 62)).to_string();
    let ahead = ["expire", "--database-url", &url, "--as-of", &in_two_months];
    let dry = loyal_ok(&[&ahead[..], &["--dry-run"]].concat());
    assert!(
        dry.contains("dry run: ops: 40 points in 3 lots of 1 members would expire by "),
        "{dry}"
    );
    let refused = loyal(&ahead);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && stderr.contains("is in the future: points never expire before their date"),
        "{stderr}"
    );
    let bad = loyal(&["expire", "--database-url", &url, "--as-of", "31/12/2569"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("is not a moment with its offset"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // A window no purchase waits in may take longer transactions; too short a time is
    // refused by name before anything runs.
    refuses_transactions_of_10_ms(&["expire", "--database-url", &url]);
    let text = loyal_ok(&["expire", "--database-url", &url, "--transaction-ms", "5000"]);
    assert!(
        text.contains("expired 20 points in 2 lots (1 transactions, the longest "),
        "{text}"
    );
    let again = loyal_ok(&["expire", "--database-url", &url]);
    assert!(
        again.contains("expired 0 points in 0 lots (0 transactions"),
        "{again}"
    );
    runtime.block_on(async {
        assert_eq!(
            owner.points(m).await["balance"],
            20,
            "the fresh lot is kept"
        );
        app.assert_no_drift().await;
    });
}

#[test]
fn loyal_import_members_imports_a_file_and_writes_its_refused_rows() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ops.db").display());
    assert!(loyal(&["migrate", "--database-url", &url]).status.success());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, owner) = runtime.block_on(async {
        let db = loyal::store::Db::connect(&url, 2).await.unwrap();
        let app = crate::helpers::TestApp::spawn_on(db).await;
        let owner = app.signup("ops").await;
        (app, owner)
    });
    let file = dir.path().join("members.csv");
    std::fs::write(
        &file,
        "เบอร์โทร,ชื่อ,คะแนน\n081-234-5678,สมชาย ใจดี,120\n0899,สั้น,5\n0823456789,มาลี,-3\n",
    )
    .unwrap();
    let errors = dir.path().join("errors.csv");
    let args = [
        "import",
        "members",
        file.to_str().unwrap(),
        "--tenant",
        "ops",
        "--errors",
        errors.to_str().unwrap(),
        "--database-url",
        &url,
    ];
    let text = loyal_ok(&args);
    assert!(
        text.contains("3 rows: 1 members imported with 120 points, 0 already members (unchanged), 2 refused (see ")
            && text.contains("; 1 transactions, the longest "),
        "{text}"
    );
    let report = std::fs::read_to_string(&errors).unwrap();
    assert!(
        report.contains("3,phone,0899,") && report.contains("4,points,-3,"),
        "each refused row with its row number and column: {report}"
    );
    // A first load may take longer transactions; too short a time is refused by name.
    refuses_transactions_of_10_ms(&args);
    let again = loyal_ok(&[&args[..], &["--transaction-ms", "5000"]].concat());
    assert!(
        again.contains(
            "3 rows: 0 members imported with 0 points, 1 already members (unchanged), 2 refused"
        ),
        "{again}"
    );
    runtime.block_on(async {
        let m = owner.get("/api/v1/members?phone=0812345678").await.body["items"][0].clone();
        assert_eq!(m["first_name"], "สมชาย");
        assert_eq!(
            owner.points(m["id"].as_i64().unwrap()).await["balance"],
            120
        );
        app.assert_no_drift().await;
    });
}

#[test]
fn help_explains_every_subcommand() {
    let out = loyal(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "serve", "demo", "migrate", "expire", "verify", "tiers", "draw", "config", "openapi",
    ] {
        assert!(text.contains(cmd), "--help does not mention {cmd}:\n{text}");
    }
    let config = String::from_utf8_lossy(&loyal(&["config"]).stdout).to_string();
    assert!(config.contains("LOYAL_LISTEN") && config.contains("LOYAL_DATABASE_URL"));
}

db_test!(the_demo_shop_has_everything_the_readme_promises, |app| {
    let logins = loyal::demo::seed(&app.db).await.unwrap();
    let again = loyal::demo::seed(&app.db).await.unwrap();
    assert_eq!(logins.slug, again.slug, "seeding twice changes nothing");
    let owner = app
        .login(&logins.slug, "owner@baan-kafe.test", &logins.password)
        .await
        .unwrap();
    assert_eq!(owner.all("/api/v1/branches").await.len(), 3);
    let members = owner.all("/api/v1/members").await;
    assert_eq!(members.len(), 12);
    let tiers = owner.get("/api/v1/tiers").await;
    assert_eq!(tiers.body["program"]["levels"].as_array().unwrap().len(), 5);
    let rewards = owner.all("/api/v1/rewards").await;
    let kinds: std::collections::BTreeSet<&str> = rewards
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 4, "one reward of each kind: {kinds:?}");
    let draws = owner.all("/api/v1/draws").await;
    assert_eq!(draws[0]["status"], "open");
    // The demo's members redeem through the same rules: a one-time code is required.
    let m = members[0]["id"].as_i64().unwrap();
    let latte = rewards
        .iter()
        .find(|r| r["kind"] == "coupon" && r["tiers"].as_array().unwrap().is_empty())
        .unwrap();
    let res = owner
        .post(
            &format!("/api/v1/rewards/{}/redeem", latte["id"]),
            json!({"member_id": m}),
        )
        .await;
    assert_eq!(res.code(), "otp_required");
    app.assert_no_drift().await;
});
