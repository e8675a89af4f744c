//! `Idempotency-Key` for every state-changing API request of a signed-in caller.
//!
//! The first request with a key runs and its response is stored; a retry with the same
//! key and the same request gets the stored response (marked `Idempotent-Replayed:
//! true`) and changes nothing; the same key with a different request is refused. Keys
//! are scoped to the tenant. A 5xx response is not stored, so the client may retry.
//!
//! The ledger (a later capability) records its own idempotency key inside its write
//! transaction as well, so a crash between its commit and storing the response here
//! still cannot grant points twice.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, Code};
use crate::on_db;
use crate::store::{Db, now_micros};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

enum Claim {
    New,
    Replay {
        status: i32,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    InProgress,
    Mismatch,
}

/// request_hash, status_code, response_type, response_body
type StoredRow = (String, Option<i32>, Option<String>, Option<Vec<u8>>);

async fn claim(db: &Db, tenant_id: i64, key: &str, hash: &str) -> sqlx::Result<Claim> {
    let inserted = on_db!(db, pool => sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, key) DO NOTHING")
        .bind(tenant_id).bind(key).bind(hash).bind(now_micros()).execute(pool).await.map(|r| r.rows_affected()))?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let row: Option<StoredRow> = on_db!(db, pool => sqlx::query_as(
        "SELECT request_hash, status_code, response_type, response_body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
        .bind(tenant_id).bind(key).fetch_optional(pool).await)?;
    Ok(match row {
        None => Claim::InProgress, // released between our two statements: let the client retry
        Some((h, _, _, _)) if h != hash => Claim::Mismatch,
        Some((_, Some(status), content_type, body)) => Claim::Replay {
            status,
            content_type,
            body: body.unwrap_or_default(),
        },
        Some(_) => Claim::InProgress,
    })
}

async fn store(
    db: &Db,
    tenant_id: i64,
    key: &str,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> sqlx::Result<()> {
    on_db!(db, pool => sqlx::query(
        "UPDATE idempotency_keys SET status_code = $3, response_type = $4, response_body = $5 WHERE tenant_id = $1 AND key = $2")
        .bind(tenant_id).bind(key).bind(status.as_u16() as i32).bind(content_type).bind(body).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

async fn release(db: &Db, tenant_id: i64, key: &str) -> sqlx::Result<()> {
    on_db!(db, pool => sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
        .bind(tenant_id).bind(key).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Delete keys older than `max_age_hours` (run periodically).
pub async fn purge_older_than(db: &Db, max_age_hours: i64) -> sqlx::Result<u64> {
    let cutoff = now_micros() - max_age_hours * 3_600_000_000;
    let done = on_db!(db, pool => sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(cutoff).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done)
}

fn valid_key(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic())).then_some(s)
}

/// Route middleware; runs after `authorize`, so the principal is known.
pub async fn idempotency(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let (Some(raw), Some(principal), true) = (
        req.headers().get(HEADER).cloned(),
        req.extensions().get::<Principal>().cloned(),
        write,
    ) else {
        return next.run(req).await;
    };
    let Some(key) = valid_key(&raw).map(str::to_string) else {
        return ApiError::field(
            Code::IdempotencyKeyInvalid,
            "Idempotency-Key",
            "use 1-255 visible ASCII characters",
        )
        .into_response();
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, app.settings.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                Code::BodyTooLarge,
                "the request body is larger than this server accepts",
            )
            .into_response();
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"?");
    hasher.update(parts.uri.query().unwrap_or_default().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash = hex::encode(hasher.finalize());
    let tenant = principal.tenant_id;
    match claim(&app.db, tenant, &key, &hash).await {
        Err(e) => return ApiError::from(e).into_response(),
        Ok(Claim::Mismatch) => {
            return ApiError::field(
                Code::IdempotencyKeyReused,
                "Idempotency-Key",
                "this key was already used for a different request; use a new key",
            )
            .into_response();
        }
        Ok(Claim::InProgress) => {
            return ApiError::field(
                Code::IdempotencyInProgress,
                "Idempotency-Key",
                "the first request with this key has not finished; retry shortly",
            )
            .into_response();
        }
        Ok(Claim::Replay {
            status,
            content_type,
            body,
        }) => {
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                res.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            res.headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            return res;
        }
        Ok(Claim::New) => {}
    }
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = res.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            let _ = release(&app.db, tenant, &key).await;
            return ApiError::internal(format!("buffering response: {e}")).into_response();
        }
    };
    let outcome = if parts.status.is_server_error() {
        release(&app.db, tenant, &key).await
    } else {
        let ct = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        store(&app.db, tenant, &key, parts.status, ct, &body).await
    };
    if let Err(e) = outcome {
        tracing::error!(error = %e, "could not record idempotency outcome");
    }
    Response::from_parts(parts, Body::from(body))
}
