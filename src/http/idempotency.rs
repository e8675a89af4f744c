//! `Idempotency-Key` for every state-changing API request of a signed-in caller.
//!
//! The first request with a key runs and its response is stored; a retry with the same
//! key and the same request gets the stored response (marked `Idempotent-Replayed:
//! true`) and changes nothing; the same key with a different request is refused.
//! "The same request" is the same method, path, query parameters and content: JSON is
//! compared as parsed, so another key order or spacing is the same request.
//!
//! Keys belong to the caller (the staff member or API key) within the shop: another
//! caller's request with the same key is a request of its own, never a replay of
//! someone else's answer.
//!
//! A claim lasts as long as its request may run (`request_timeout_secs`, plus a few
//! seconds): a request that never finished (the server was killed, the client went
//! away) frees its key for the retry at the latest then, and at once when the request
//! is dropped by a running server. A 5xx response is not stored, so the client may
//! retry. An answer holding a secret (an API key, an invitation or claim link) is not
//! stored: its retry is told the first request succeeded and the secret is shown once.
//!
//! The ledger records its own key (derived from this one) inside its write transaction,
//! so a crash between its commit and storing the response here still cannot grant
//! points twice.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::store::idempotency::{self as keys, KeyRef};
use crate::store::{Db, now_micros};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

/// Put on a response (as an extension) whose body holds a secret shown only once: it
/// is not stored for replays.
#[derive(Clone, Copy, Debug)]
pub struct HoldsSecret;

/// Whose keys these are: `staff:<id>` or `api_key:<id>`.
pub fn owner(principal: &Principal) -> String {
    let (kind, id, _) = principal.audit_actor();
    format!("{kind}:{id}")
}

enum Claim {
    /// Ours: the token that names this request's hold on the key.
    New(String),
    Replay {
        status: i32,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// Another request holds the key until its lease runs out, in this many seconds.
    InProgress(u64),
    Mismatch,
}

async fn claim(db: &Db, k: &KeyRef<'_>, hash: &str, lease_micros: i64) -> sqlx::Result<Claim> {
    let now = now_micros();
    let token = crate::auth::secrets::random_token();
    let inserted = keys::insert_claim(db, k, hash, now, now + lease_micros, &token).await?;
    if inserted == 1 {
        return Ok(Claim::New(token));
    }
    Ok(match keys::stored(db, k).await? {
        None => Claim::InProgress(1), // released between our two statements: retry
        Some((h, ..)) if h != hash => Claim::Mismatch,
        Some((_, Some(status), content_type, body, _)) => Claim::Replay {
            status,
            content_type,
            body: body.unwrap_or_default(),
        },
        // The request that claimed it can no longer be running: take its place.
        Some((.., lease_until)) if lease_until < now => {
            let taken =
                keys::take_over(db, k, now + lease_micros, now, lease_until, &token).await?;
            if taken == 1 {
                Claim::New(token)
            } else {
                Claim::InProgress(1)
            }
        }
        Some((.., lease_until)) => Claim::InProgress((lease_until - now) as u64 / 1_000_000 + 1),
    })
}

/// Store the answer, if the key is still this request's (`token`): one whose lease ran
/// out and was taken over leaves the answer to the request that took it.
async fn store(
    db: &Db,
    k: &KeyRef<'_>,
    token: &str,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> sqlx::Result<()> {
    keys::store_answer(db, k, token, status.as_u16() as i32, content_type, body).await?;
    Ok(())
}

/// Free the key, if it is still this request's.
async fn release(db: &Db, tenant_id: i64, owner: &str, key: &str, token: &str) -> sqlx::Result<()> {
    let k = KeyRef {
        tenant_id,
        owner,
        key,
    };
    keys::release(db, &k, token).await?;
    Ok(())
}

/// Delete keys older than `max_age_hours` (run periodically).
pub async fn purge_older_than(db: &Db, max_age_hours: i64) -> sqlx::Result<u64> {
    let cutoff = now_micros() - max_age_hours * 3_600_000_000;
    keys::delete_older_than(db, cutoff).await
}

fn valid_key(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic())).then_some(s)
}

/// What identifies a request: method, path, query parameters in any order, and the
/// body (JSON as parsed: serde_json's maps are ordered by key).
fn request_hash(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> String {
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .collect();
    query.sort_unstable();
    let mut hasher = Sha256::new();
    hasher.update(method.as_str());
    hasher.update(b" ");
    hasher.update(uri.path().as_bytes());
    hasher.update(b"?");
    hasher.update(query.join("&").as_bytes());
    hasher.update(b"\n");
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => hasher.update(serde_json::to_vec(&json).unwrap_or_default()),
        Err(_) => hasher.update(body),
    }
    hex::encode(hasher.finalize())
}

/// A stored answer as a replay says it: a body that reports `"replayed"` says true.
fn replayed_body(content_type: Option<&str>, body: Vec<u8>) -> Vec<u8> {
    if !content_type.is_some_and(|c| c.starts_with("application/json")) {
        return body;
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(mut map))
            if map.get("replayed").is_some_and(|v| v.is_boolean()) =>
        {
            map.insert("replayed".into(), serde_json::Value::Bool(true));
            serde_json::to_vec(&map).unwrap_or(body)
        }
        _ => body,
    }
}

/// Frees a claim whose request was dropped before it answered (the client went away),
/// so its retry need not wait for the lease to run out.
struct Pending {
    db: Option<Db>,
    tenant_id: i64,
    owner: String,
    key: String,
    token: String,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(db) = self.db.take() else { return };
        let tenant_id = self.tenant_id;
        let (owner, key, token) = (
            std::mem::take(&mut self.owner),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.token),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = release(&db, tenant_id, &owner, &key, &token).await;
            });
        }
    }
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
    let hash = request_hash(&parts.method, &parts.uri, &bytes);
    let owner = owner(&principal);
    let k = KeyRef {
        tenant_id: principal.tenant_id,
        owner: &owner,
        key: &key,
    };
    let lease_micros = (app.settings.request_timeout_secs as i64 + 5) * 1_000_000;
    let token = match claim(&app.db, &k, &hash, lease_micros).await {
        Err(e) => return ApiError::from(e).into_response(),
        Ok(Claim::Mismatch) => {
            return ApiError::field(
                Code::IdempotencyKeyReused,
                "Idempotency-Key",
                "this key was already used for a different request; use a new key",
            )
            .into_response();
        }
        Ok(Claim::InProgress(secs)) => {
            let mut e = ApiError::field(
                Code::IdempotencyInProgress,
                "Idempotency-Key",
                "the first request with this key has not finished; retry after the seconds Retry-After says",
            );
            e.retry_after_secs = Some(secs);
            return e.into_response();
        }
        Ok(Claim::Replay {
            status,
            content_type,
            body,
        }) => {
            let body = replayed_body(content_type.as_deref(), body);
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                res.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            res.headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            return res;
        }
        Ok(Claim::New(token)) => token,
    };
    let mut pending = Pending {
        db: Some(app.db.clone()),
        tenant_id: principal.tenant_id,
        owner: owner.clone(),
        key: key.clone(),
        token: token.clone(),
    };
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = res.into_parts();
    let body: Bytes = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::internal(format!("buffering response: {e}")).into_response();
        }
    };
    // From here the claim is settled (stored or released) below, not by the guard.
    pending.db = None;
    let outcome = if parts.status.is_server_error() {
        release(&app.db, k.tenant_id, k.owner, k.key, &token).await
    } else if parts.extensions.get::<HoldsSecret>().is_some() {
        let e = ApiError::field(
            Code::SecretNotReplayed,
            "Idempotency-Key",
            "the first request with this key succeeded, but its answer held a secret, which is shown only once; look the result up, and make a new one if the secret was lost",
        );
        let problem = serde_json::to_vec(&e.problem()).unwrap_or_default();
        store(
            &app.db,
            &k,
            &token,
            e.code.status(),
            Some(crate::error::PROBLEM_JSON),
            &problem,
        )
        .await
    } else {
        let ct = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        store(&app.db, &k, &token, parts.status, ct, &body).await
    };
    if let Err(e) = outcome {
        tracing::error!(error = %e, "could not record idempotency outcome");
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_content_is_the_same_request_whatever_its_spelling() {
        let uri = |u: &str| u.parse::<axum::http::Uri>().unwrap();
        let post = Method::POST;
        let a = request_hash(&post, &uri("/p?a=1&b=2"), br#"{"x": 1, "y": [1, 2]}"#);
        let b = request_hash(&post, &uri("/p?b=2&a=1"), br#"{"y":[1,2],"x":1}"#);
        assert_eq!(a, b);
        assert_ne!(
            a,
            request_hash(&post, &uri("/p?a=1&b=2"), br#"{"x": 2, "y": [1, 2]}"#)
        );
        assert_ne!(
            a,
            request_hash(&post, &uri("/p?a=1&b=3"), br#"{"x": 1, "y": [1, 2]}"#)
        );
        assert_ne!(
            a,
            request_hash(
                &Method::PUT,
                &uri("/p?a=1&b=2"),
                br#"{"x": 1, "y": [1, 2]}"#
            )
        );
        assert_ne!(
            a,
            request_hash(&post, &uri("/q?a=1&b=2"), br#"{"x": 1, "y": [1, 2]}"#)
        );
    }

    #[test]
    fn a_replayed_answer_says_it_was_replayed() {
        let json = Some("application/json");
        let body = replayed_body(json, br#"{"points":5,"replayed":false}"#.to_vec());
        assert_eq!(body, br#"{"points":5,"replayed":true}"#);
        let other = br#"{"points":5}"#.to_vec();
        assert_eq!(replayed_body(json, other.clone()), other);
        assert_eq!(
            replayed_body(Some("text/csv"), b"replayed".to_vec()),
            b"replayed"
        );
    }
}
