//! Per-request context: request id, client IP, access log line and metrics.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::audit::RequestMeta;
use crate::error::ApiError;
use crate::state::AppState;

pub const REQUEST_ID: &str = "x-request-id";

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<RequestMeta>()
            .cloned()
            .ok_or_else(|| ApiError::internal("request meta missing"))
    }
}

/// A client-supplied request id is kept only if it is short and plain, so it cannot
/// forge log lines; otherwise a new one is made.
fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
    .then(|| s.to_string())
}

/// Outermost middleware: assigns the request id, finds the client IP, logs the request,
/// records its metrics and puts on the headers every page carries.
pub async fn request_meta(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(acceptable_request_id)
        // Time-ordered (UUIDv7, ordered within the process): the audit log's index on
        // request ids then grows at its end instead of taking a key at a random place for
        // every audited write, a page each purchase group's commit had to write again.
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let forwarded = app
        .settings
        .trust_forwarded_for
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
        })
        .flatten()
        // The last address is the one the proxy in front of Loyal added; the ones
        // before it are whatever the client sent.
        .and_then(|v| v.rsplit(',').next())
        .map(|s| s.trim().to_string());
    let ip = forwarded.or(peer).unwrap_or_else(|| "unknown".into());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let path = req.uri().path().to_string();
    req.extensions_mut().insert(RequestMeta {
        request_id: request_id.clone(),
        ip: ip.clone(),
    });

    // The route's template, not the path: a path may hold a secret (an invitation's or
    // a claim's token), which the log must not keep.
    let logged_path = route.as_deref().unwrap_or(&path);
    let span = tracing::info_span!("request", request_id = %request_id, %method, path = %logged_path, ip = %ip);
    // Text no database stores is refused before any handler (and answered as any other).
    let mut res = match super::text_guard::refuse_nul(&app, req).await {
        Ok(req) => next.run(req).instrument(span.clone()).await,
        Err(refused) => refused,
    };
    let status = res.status();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(
                status = status.as_u16(),
                ms = elapsed.as_secs_f64() * 1e3,
                "request failed"
            );
        } else {
            tracing::info!(
                status = status.as_u16(),
                ms = elapsed.as_secs_f64() * 1e3,
                "request"
            );
        }
    });
    let route = route.unwrap_or_else(|| {
        if status == StatusCode::NOT_FOUND {
            "unmatched".into()
        } else {
            path
        }
    });
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("loyal_http_requests_total", &labels).increment(1);
    metrics::histogram!("loyal_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    let page = headers
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if page {
        for (name, value) in EVERY_PAGE {
            headers
                .entry(name)
                .or_insert(HeaderValue::from_static(value));
        }
    }
    res
}

/// Headers every page carries: no other site may frame it (clickjacking), it is read as
/// HTML and nothing else, and no address (an invitation link holds a token) is sent on
/// to another site as the referrer. Only on pages, where they matter: on the API's small
/// answers even one costs a few per cent of the time (`loyal bench earn`, healthz).
const EVERY_PAGE: [(axum::http::HeaderName, &str); 4] = [
    (axum::http::header::X_FRAME_OPTIONS, "DENY"),
    (
        axum::http::header::CONTENT_SECURITY_POLICY,
        "frame-ancestors 'none'",
    ),
    (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (axum::http::header::REFERRER_POLICY, "no-referrer"),
];
