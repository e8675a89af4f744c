//! `TestApp::spawn` starts the real server on a random port with a fresh database:
//! a new SQLite file, or a new schema in the PostgreSQL test database. Tests talk to it
//! over HTTP like any client.

use std::str::FromStr;

use loyal::config::Settings;
use loyal::store::Db;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;

pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from a single body: `db_test!(name, |app| { ... });`
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app =
                    $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                $body
            }
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub db: Db,
    /// The server's clock: a test of something that happens later moves it ahead.
    pub clock: loyal::clock::Clock,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn postgres_url() -> String {
    std::env::var("LOYAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://loyal_test:loyal_test@127.0.0.1:5432/loyal_test".into())
}

/// A database URL for a fresh, migrated database (a new schema on PostgreSQL), for tests
/// that run the `loyal` binary itself.
pub async fn fresh_url(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("loyal.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            let db = postgres_schema().await;
            let schema: (String,) = loyal::on_db!(&db, pool => sqlx::query_as("SELECT current_schema()").fetch_one(pool).await).unwrap();
            db.close().await;
            (
                format!("{}?options=-c%20search_path%3D{}", postgres_url(), schema.0),
                None,
            )
        }
    }
}

async fn postgres_schema() -> Db {
    let url = postgres_url();
    let base = PgConnectOptions::from_str(&url).expect("LOYAL_TEST_POSTGRES_URL is a postgres URL");
    let admin = match sqlx::PgPool::connect_with(base.clone()).await {
        Ok(pool) => pool,
        Err(_) => {
            // The test database does not exist yet: create it from the server's default db.
            let server = sqlx::PgPool::connect_with(base.clone().database("postgres"))
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {url}: {e}. Run ./scripts/test, which starts it."));
            let db = base.get_database().unwrap_or("loyal_test").to_string();
            let _ = sqlx::query(&format!("CREATE DATABASE \"{db}\""))
                .execute(&server)
                .await;
            sqlx::PgPool::connect_with(base.clone())
                .await
                .expect("connect to the test database")
        }
    };
    sweep_old_schemas(&admin).await;
    // A time-ordered name: the sweep tells an old test's schema from a running one's.
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    Db::connect_postgres(base.options([("search_path", schema.as_str())]), 8)
        .await
        .expect("connect to the test schema")
}

/// Drop the schemas tests made more than an hour ago (once per test process): every test
/// on PostgreSQL makes one, and the test database would otherwise keep them all.
async fn sweep_old_schemas(admin: &sqlx::PgPool) {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let schemas: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%'")
            .fetch_all(admin)
            .await
            .unwrap_or_default();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for (schema,) in schemas {
        let made = uuid::Uuid::parse_str(&schema[2..])
            .ok()
            .and_then(|u| u.get_timestamp())
            .map(|t| {
                let (secs, nanos) = t.to_unix();
                std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos)
            });
        // Names from before they were time-ordered are old too.
        if made.is_none_or(|t| t < hour_ago) {
            let _ = sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(admin)
                .await;
        }
    }
}

/// The secret token at the end of an invitation link (from the create-invitation answer).
pub fn invitation_token(created: &Resp) -> String {
    created.body["url"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .expect("the answer has an invitation url")
        .to_string()
}

/// A migrated, empty database on the backend (the temp dir keeps a SQLite file alive).
pub async fn fresh_db(backend: Backend) -> (Db, Option<tempfile::TempDir>) {
    let (db, dir) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("loyal.db").display());
            (Db::connect(&url, 8).await.expect("open sqlite"), Some(dir))
        }
        Backend::Postgres => (postgres_schema().await, None),
    };
    db.migrate().await.expect("migrations apply");
    loyal::store::id_nodes::claim(&db)
        .await
        .expect("an id node");
    (db, dir)
}

impl TestApp {
    /// The ledger's own check (`loyal verify`): every balance matches its entries and lots.
    pub async fn assert_no_drift(&self) {
        let drift = loyal::ledger::verify(&self.db).await.unwrap();
        assert!(drift.is_empty(), "ledger drift: {drift:?}");
    }

    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Serve an existing (migrated) SQLite database, with no periodic jobs of its own
    /// (the test runs the commands that do them).
    pub async fn spawn_on(db: Db) -> TestApp {
        Self::serve(db, tempfile::tempdir().ok(), Backend::Sqlite, |s| {
            s.housekeeping_secs = 0
        })
        .await
    }

    /// A second server on this one's database (as when several servers share PostgreSQL).
    pub async fn another_server(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        Self::serve(
            self.db.clone(),
            tempfile::tempdir().ok(),
            self.backend,
            configure,
        )
        .await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let (db, dir) = fresh_db(backend).await;
        // Every app gets its own data directory (uploads land there).
        let dir = dir.or_else(|| tempfile::tempdir().ok());
        Self::serve(db, dir, backend, configure).await
    }

    async fn serve(
        db: Db,
        dir: Option<tempfile::TempDir>,
        backend: Backend,
        configure: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let mut settings = Settings {
            listen: addr.to_string(),
            public_url: format!("http://{addr}"),
            ..Settings::default()
        };
        if let Some(d) = &dir {
            settings.data_dir = d.path().join("data");
        }
        configure(&mut settings);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server_db = db.clone();
        let clock = loyal::clock::Clock::default();
        let server_clock = clock.clone();
        tokio::spawn(async move {
            let _ =
                loyal::app::serve_with_clock(listener, server_db, settings, server_clock, async {
                    let _ = stopped.await;
                })
                .await;
        });
        // Answering means the server has set itself up (its encryption key written into
        // the data directory): a test that ends sooner would have its directory removed
        // first and the key written after, into a directory nobody removes.
        let health = format!("http://{addr}/healthz");
        let probe = client();
        for _ in 0..500 {
            if probe.get(&health).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        TestApp {
            base: format!("http://{addr}"),
            db,
            clock,
            backend,
            _dir: dir,
            stop: Some(stop),
        }
    }

    /// A client with its own cookie jar, signed in as nobody.
    pub fn anonymous(&self) -> User {
        User {
            client: client(),
            base: self.base.clone(),
            csrf: None,
            api_key: None,
            me: Value::Null,
        }
    }

    /// Sign up a new shop; returns its owner, signed in.
    pub async fn signup(&self, slug: &str) -> User {
        let mut owner = self.anonymous();
        let res = owner
            .post("/api/v1/signup", json!({
                "shop_name": format!("Shop {slug}"), "slug": slug,
                "owner_name": "Owner", "owner_email": format!("owner@{slug}.test"), "password": PASSWORD,
            }))
            .await;
        assert_eq!(res.status, 201, "signup failed: {}", res.body);
        owner.csrf = res.body["me"]["csrf_token"].as_str().map(String::from);
        owner.me = res.body["me"].clone();
        owner
    }

    /// Sign in an existing staff member.
    pub async fn login(&self, slug: &str, email: &str, password: &str) -> Result<User, Resp> {
        let mut user = self.anonymous();
        let res = user
            .post(
                "/api/v1/sessions",
                json!({"tenant": slug, "email": email, "password": password}),
            )
            .await;
        if res.status != 201 {
            return Err(res);
        }
        user.csrf = res.body["me"]["csrf_token"].as_str().map(String::from);
        user.me = res.body["me"].clone();
        Ok(user)
    }

    /// Invite someone with `role` and accept the invitation; returns them signed in.
    pub async fn hire(&self, by: &User, slug: &str, role: &str) -> User {
        let email = format!("{role}-{}@{slug}.test", rand::random::<u32>() % 100_000);
        let inv = by
            .post("/api/v1/invitations", json!({"email": email, "role": role}))
            .await;
        assert_eq!(inv.status, 201, "invite failed: {}", inv.body);
        let token = invitation_token(&inv);
        let mut user = self.anonymous();
        let res = user
            .post(
                &format!("/api/v1/invitation-tokens/{token}/accept"),
                json!({"name": format!("A {role}"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status, 201, "accept failed: {}", res.body);
        user.csrf = res.body["csrf_token"].as_str().map(String::from);
        user.me = res.body.clone();
        user
    }

    /// A client authenticating with an API key.
    pub fn with_key(&self, key: &str) -> User {
        User {
            client: client(),
            base: self.base.clone(),
            csrf: None,
            api_key: Some(key.to_string()),
            me: Value::Null,
        }
    }
}

/// A `loyal serve` process on a free port, stopped (SIGKILL) when dropped.
pub struct ServerProcess {
    pub base: String,
    child: std::process::Child,
}

impl ServerProcess {
    /// Start `loyal serve` with these arguments and `LOYAL_*` variables (no periodic
    /// jobs), its output to `log`, and wait until it answers.
    pub async fn start(args: &[&str], env: &[(&str, &str)], log: std::fs::File) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_loyal"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env_remove("LOYAL_CONFIG")
            .env_remove("LOYAL_DATABASE_URL")
            .env("LOYAL_HOUSEKEEPING_SECS", "0")
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start loyal serve");
        let server = ServerProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        let probe = client();
        for _ in 0..600 {
            if probe
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("loyal serve did not answer in 30 s");
    }

    /// Sign up a shop on this server; returns its owner, signed in.
    pub async fn signup(&self, slug: &str) -> User {
        let mut owner = anonymous_at(&self.base);
        let res = owner
            .post("/api/v1/signup", json!({
                "shop_name": format!("Shop {slug}"), "slug": slug,
                "owner_name": "Owner", "owner_email": format!("owner@{slug}.test"), "password": PASSWORD,
            }))
            .await;
        assert_eq!(res.status, 201, "signup failed: {}", res.body);
        owner.csrf = res.body["me"]["csrf_token"].as_str().map(String::from);
        owner.me = res.body["me"].clone();
        owner
    }

    /// Stop it now (SIGKILL) and wait for it to end.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client of a server the test started as a process, signed in as nobody.
pub fn anonymous_at(base: &str) -> User {
    User {
        client: client(),
        base: base.to_string(),
        csrf: None,
        api_key: None,
        me: Value::Null,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[derive(Clone)]
pub struct User {
    pub client: reqwest::Client,
    pub base: String,
    pub csrf: Option<String>,
    pub api_key: Option<String>,
    pub me: Value,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
    pub fn field(&self) -> &str {
        self.body["field"].as_str().unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

impl User {
    pub fn id(&self) -> i64 {
        self.me["id"].as_i64().unwrap_or_default()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(csrf) = &self.csrf {
            req = req.header("x-csrf-token", csrf);
        }
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Resp::read(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.request(Method::POST, path, Some(body), &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.request(Method::PATCH, path, Some(body), &[]).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.request(Method::PUT, path, Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path, None, &[]).await
    }

    /// Create a branch and return its id.
    pub async fn branch(&self, code: &str) -> i64 {
        let res = self
            .post(
                "/api/v1/branches",
                json!({"code": code, "name": format!("Branch {code}")}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        res.body["id"].as_i64().unwrap()
    }

    /// Every item of a paginated list.
    pub async fn all(&self, path: &str) -> Vec<Value> {
        let mut items = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=2&cursor={c}"),
                None => format!("{path}{sep}limit=2"),
            };
            let res = self.get(&url).await;
            assert_eq!(res.status, 200, "{}", res.body);
            items.extend(res.body["items"].as_array().unwrap().iter().cloned());
            match res.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return items,
            }
        }
    }
}

impl Resp {
    pub async fn read(res: reqwest::Response) -> Resp {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }
}

impl User {
    /// Enrol a member and return their id.
    pub async fn member(&self, phone: &str) -> i64 {
        let res = self
            .post(
                "/api/v1/members",
                json!({"phone": phone, "first_name": "Mali"}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        res.body["id"].as_i64().unwrap()
    }

    /// Record a purchase; returns the response.
    pub async fn purchase(&self, member: i64, satang: i64, receipt: &str) -> Resp {
        self.post(
            "/api/v1/purchases",
            json!({"member_id": member, "amount_satang": satang, "receipt": receipt}),
        )
        .await
    }

    /// Record a purchase at a branch; returns the response.
    pub async fn purchase_at_branch(
        &self,
        member: i64,
        satang: i64,
        receipt: &str,
        branch: i64,
    ) -> Resp {
        self.post(
            "/api/v1/purchases",
            json!({"member_id": member, "amount_satang": satang, "receipt": receipt, "branch_id": branch}),
        )
        .await
    }

    /// Record a purchase that happened at `occurred_at` (RFC 3339); returns the response.
    pub async fn purchase_at(
        &self,
        member: i64,
        satang: i64,
        receipt: &str,
        occurred_at: &str,
    ) -> Resp {
        self.post(
            "/api/v1/purchases",
            json!({"member_id": member, "amount_satang": satang, "receipt": receipt, "occurred_at": occurred_at}),
        )
        .await
    }

    /// Redeem points from a member's balance; returns the response.
    pub async fn redeem(&self, member: i64, points: i64) -> Resp {
        self.post(
            &format!("/api/v1/members/{member}/points/redeem"),
            json!({"points": points}),
        )
        .await
    }

    /// The member's points balance summary.
    pub async fn points(&self, member: i64) -> Value {
        let res = self.get(&format!("/api/v1/members/{member}/points")).await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body["points"].clone()
    }

    pub async fn set_ledger(&self, settings: Value) {
        let res = self.put("/api/v1/ledger/settings", settings).await;
        assert_eq!(res.status, 200, "{}", res.body);
    }

    /// The default ledger settings, with points that expire `months` after they were
    /// earned, to the day.
    pub async fn set_rolling_expiry(&self, months: u32) {
        self.set_ledger(ledger_settings(
            json!({"expiry": {"mode": "rolling", "months": months, "round_up": "none"}}),
        ))
        .await
    }
}

/// The default ledger settings with some fields replaced.
pub fn ledger_settings(overrides: Value) -> Value {
    let mut s = json!({
        "earn": {"spend_satang": 2500, "points": 1, "rounding": "floor", "min_spend_satang": 0},
        "expiry": {"mode": "never"}, "pending_days": 0, "refund_policy": "allow_negative", "welcome_points": 0
    });
    for (k, v) in overrides.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

/// A value bound to a statement whose plan a test reads.
#[derive(Clone, Copy)]
pub enum Bind {
    Int(i64),
    Text(&'static str),
}

/// `q` with every value of `binds` bound in order (the same for either backend's query).
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match *b {
                Bind::Int(v) => q.bind(v),
                Bind::Text(v) => q.bind(v),
            };
        }
        q
    }};
}

/// The steps of `sql`'s plan with `binds`: SQLite's `EXPLAIN QUERY PLAN` details, or
/// PostgreSQL's `EXPLAIN` lines with sequential scans priced out (PostgreSQL plans by
/// table size, so a test's near-empty table would be scanned; with scans priced out an
/// index must serve).
pub async fn plan_steps(db: &Db, sql: &str, binds: &[Bind]) -> Vec<String> {
    let mut tx = db.begin().await.unwrap();
    match &mut tx {
        loyal::store::Tx::Sqlite(c) => {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let q = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
            let plan = bind_all!(q, binds).fetch_all(&mut **c).await.unwrap();
            plan.into_iter().map(|r| r.3).collect()
        }
        loyal::store::Tx::Postgres(c) => {
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut **c)
                .await
                .unwrap();
            let explain = format!("EXPLAIN {sql}");
            let q = sqlx::query_as::<_, (String,)>(&explain);
            let plan = bind_all!(q, binds).fetch_all(&mut **c).await.unwrap();
            plan.into_iter().map(|r| r.0).collect()
        }
    }
}
