//! Authorization for every API route, from the rules in the OpenAPI document.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::openapi::Access;
use crate::auth::secrets::constant_time_eq;
use crate::auth::{Principal, api_keys, sessions};
use crate::error::{ApiError, Code};
use crate::state::AppState;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// Find the caller from `Authorization: Bearer <API key>` or the session cookie.
pub async fn resolve(app: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let key = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        return match api_keys::resolve(&app.db, &app.api_keys, key).await? {
            Some(p) => Ok(Some(p)),
            None => Err(ApiError::new(
                Code::Unauthenticated,
                "the API key is not valid or was revoked",
            )),
        };
    }
    let jar = CookieJar::from_headers(headers);
    match jar.get(sessions::COOKIE) {
        Some(c) => Ok(sessions::resolve(&app.db, c.value()).await?),
        None => Ok(None),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Route middleware: enforce the operation's access rule and put the [`Principal`] in
/// the request. Session-cookie writes must carry the session's CSRF token.
pub async fn authorize(
    State(app): State<AppState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(path) = matched else {
        return next.run(req).await;
    };
    let access = app.policies.get(req.method(), path.as_str()).cloned();
    let Some(access) = access else {
        // Not an operation of the document (e.g. HEAD): refuse rather than guess.
        return ApiError::new(Code::MethodNotAllowed, "this method is not allowed here")
            .into_response();
    };
    if access == Access::Public {
        return next.run(req).await;
    }
    let principal = match resolve(&app, req.headers()).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return ApiError::new(Code::Unauthenticated, "sign in or send an API key")
                .into_response();
        }
        Err(e) => return e.into_response(),
    };
    if let Some(expected) = &principal.csrf_token
        && !is_safe(req.method())
    {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !constant_time_eq(sent, expected) {
            return ApiError::new(
                Code::CsrfFailed,
                "send the session's CSRF token in the X-CSRF-Token header",
            )
            .into_response();
        }
    }
    if let Access::Needs(permission) = access
        && !principal.allows(permission)
    {
        return ApiError::forbidden(format!("this needs the permission {permission}"))
            .into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}
