//! The API answers as its OpenAPI document says. schemathesis (installed by
//! `scripts/test`) generates requests from the document a `loyal serve` process serves,
//! signed in with a key holding every permission, and fails the test on any 5xx, any
//! status, content type or body the document does not describe. Bounded in time:
//! `LOYAL_CONTRACT_SECS` (90 s by default) per backend.

use crate::helpers::{Backend, ServerProcess, fresh_url};

async fn answers_as_documented(backend: Backend) {
    let tool = std::env::var("LOYAL_TEST_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!(
            "LOYAL_TEST_SCHEMATHESIS is not set: run ./scripts/test, which installs schemathesis"
        )
    });
    let secs = std::env::var("LOYAL_CONTRACT_SECS").unwrap_or_else(|_| "90".into());
    let (url, _keep) = fresh_url(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(
        &["--database-url", &url, "--data-dir", data.to_str().unwrap()],
        &[("LOYAL_LOG_LEVEL", "warn")],
        log,
    )
    .await;
    let owner = server.signup("contract").await;
    let all = owner.me["permissions"].clone();
    let key = owner
        .post(
            "/api/v1/api-keys",
            serde_json::json!({"name": "contract test", "scopes": all}),
        )
        .await;
    assert_eq!(key.status, 201, "{}", key.body);
    let secret = key.body["secret"].as_str().unwrap().to_string();
    let out = tokio::process::Command::new(&tool)
        .args(["run", &format!("{}/api/openapi.json", server.base)])
        .args(["--header", &format!("Authorization: Bearer {secret}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // One worker: with two threads, Python 3.11's parser (which hypothesis calls to
        // describe its strategies) can fail with "AST constructor recursion depth
        // mismatch", a CPython race, and the run reports an error that is not the API's.
        .args(["--max-time", &secs, "--workers", "1", "--no-color"])
        // Its cache of what it found goes to the test's directory, not the project's.
        .current_dir(dir.path())
        .output()
        .await
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: String = report
        .lines()
        .rev()
        .take(25)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.status.success(),
        "schemathesis on {backend:?} found answers the document does not describe:\n{report}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    println!("{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_its_document_says_sqlite() {
    answers_as_documented(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_its_document_says_postgres() {
    answers_as_documented(Backend::Postgres).await;
}
