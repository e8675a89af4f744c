//! Operations endpoints: liveness, readiness, Prometheus metrics, and the API docs.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, html};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::error::Code;
use crate::state::AppState;

/// The process-wide metrics recorder (installed once, shared by every app in the process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; then ours just stays empty.
            if metrics::set_global_recorder(recorder).is_ok() {
                describe_metrics();
                // Histogram samples wait in memory until drained: by a scrape, or by this
                // every 5 s, so a server nobody scrapes does not grow with every request
                // (the exporter's docs: its recorder alone runs no upkeep).
                let upkeep = handle.clone();
                let _ = std::thread::Builder::new()
                    .name("metrics-upkeep".into())
                    .spawn(move || {
                        loop {
                            std::thread::sleep(std::time::Duration::from_secs(5));
                            upkeep.run_upkeep();
                        }
                    });
            }
            handle
        })
        .clone()
}

/// The `# HELP` line of each of Loyal's metrics (README, "Operations", lists them).
fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "loyal_http_requests_total",
        "HTTP requests answered, by route, method and status."
    );
    describe_histogram!(
        "loyal_http_request_duration_seconds",
        "Time to answer an HTTP request, by route, method and status."
    );
    describe_histogram!(
        "loyal_ledger_group_size",
        "Purchases committed together in one transaction by the ledger's writer."
    );
    describe_histogram!(
        "loyal_ledger_group_seconds",
        "Time of one group in the ledger's writer: checks, statements and commit, until every purchase in it is answered."
    );
    describe_gauge!(
        "loyal_ledger_queued_purchases",
        "Purchases waiting in each writer's queue, read when /metrics is scraped."
    );
    describe_counter!(
        "loyal_ledger_queue_full_total",
        "Purchases refused with 503 because the writers' queue was full."
    );
    describe_counter!(
        "loyal_ledger_group_retries_total",
        "Groups rolled back by a database error and recorded again one purchase at a time."
    );
    describe_counter!("loyal_expiry_lots_total", "Lots closed by expiry runs.");
    describe_counter!(
        "loyal_expiry_points_total",
        "Points expired by expiry runs."
    );
    describe_counter!(
        "loyal_import_rows_total",
        "Rows of member imports, by outcome: imported, existing (the phone was a member), failed."
    );
    describe_histogram!(
        "loyal_bulk_transaction_seconds",
        "One transaction of a bulk job (import, expiry), begin to commit: on SQLite the longest a purchase may wait behind it."
    );
    describe_counter!(
        "loyal_housekeeping_failures_total",
        "Periodic jobs that failed, by job; each is tried again at the next run."
    );
    // Labelled counters shown at 0 from the start, so the first failure is an increase
    // Prometheus sees (a series that appears at 1 has no increase).
    for job in HOUSEKEEPING_JOBS {
        metrics::counter!("loyal_housekeeping_failures_total", "job" => job).increment(0);
    }
    for outcome in ["imported", "existing", "failed"] {
        metrics::counter!("loyal_import_rows_total", "outcome" => outcome).increment(0);
    }
}

/// The periodic jobs, as `loyal_housekeeping_failures_total` labels them.
pub const HOUSEKEEPING_JOBS: [&str; 7] = [
    "expiry",
    "birthday_bonuses",
    "tier_reviews",
    "coupon_expiry",
    "staff_sessions",
    "member_sessions",
    "idempotency_keys",
];

/// Liveness: the process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
pub async fn readyz(State(app): State<AppState>) -> Response {
    if app.db.ping().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

pub async fn metrics_endpoint(State(app): State<AppState>) -> Response {
    // The writers' queues as they are now: a slow group is when they fill.
    if let Some(writer) = &app.ledger_writer {
        for (i, queued) in writer.queued_per_writer().enumerate() {
            metrics::gauge!("loyal_ledger_queued_purchases", "writer" => i.to_string())
                .set(queued as f64);
        }
    }
    let body = app.metrics.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

pub async fn openapi_json(State(app): State<AppState>) -> Response {
    Json(app.openapi.clone()).into_response()
}

/// A readable API reference rendered from the same OpenAPI document.
pub async fn api_reference(State(app): State<AppState>) -> Html<String> {
    let doc = serde_json::to_value(&*app.openapi).unwrap_or_default();
    let empty = serde_json::Map::new();
    let paths = doc["paths"].as_object().unwrap_or(&empty);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Loyal API reference" }
                style { (crate::web::BASE_CSS) "code{background:#f3f3f3;padding:0 .2em}.op{border-top:1px solid #ddd;padding:.6em 0}.m{font-weight:bold;display:inline-block;min-width:4.5em}" }
            }
            body {
                main {
                    h1 { "Loyal API reference" }
                    p { "Base path " code { "/api/v1" } ". Machine-readable document: " a href="/api/openapi.json" { "/api/openapi.json" } " (OpenAPI 3.1)." }
                    h2 { "Conventions" }
                    ul {
                        li { "Authenticate with " code { "Authorization: Bearer lk_…" } " (API key) or the session cookie; cookie requests that change state also send " code { "X-CSRF-Token" } "." }
                        li { "Send " code { "Idempotency-Key" } " with any write: a retry returns the first response (" code { "Idempotent-Replayed: true" } "); the same key with another body is refused." }
                        li { "Lists take " code { "limit" } " and " code { "cursor" } " and return " code { "next_cursor" } " until the last page." }
                        li { "Every response carries " code { "X-Request-Id" } "; times are RFC 3339 in UTC; money is in minor units (satang)." }
                    }
                    h2 { "Operations" }
                    @for (path, item) in paths {
                        @if let Some(ops) = item.as_object() {
                            @for (method, op) in ops {
                                div.op {
                                    span.m { (method.to_uppercase()) } code { "/api/v1" (path.trim_start_matches("/api/v1")) }
                                    p { (op["summary"].as_str().unwrap_or_default()) }
                                    p { small { (op["description"].as_str().unwrap_or_default()) } }
                                }
                            }
                        }
                    }
                    h2 { "Error codes" }
                    p { "Errors are " code { "application/problem+json" } " with " code { "code" } ", " code { "detail" } " and, when one field is at fault, " code { "field" } "." }
                    table {
                        tr { th { "code" } th { "HTTP" } th { "meaning" } }
                        @for code in Code::ALL {
                            tr id=(format!("error-{}", code.as_str())) { td { code { (code.as_str()) } } td { (code.status().as_u16()) } td { (code.title()) } }
                        }
                    }
                }
            }
        }
    };
    Html(page.into_string())
}
