//! Operations endpoints: liveness, readiness, Prometheus metrics, and the API docs.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, html};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;
use crate::error::Code;

/// The process-wide metrics recorder (installed once, shared by every app in the process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; then ours just stays empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

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
