//! Text no database stores: PostgreSQL refuses the NUL character in text, so a NUL in
//! the address, the query or a form is refused here as bad input before any handler
//! runs (a JSON body's NUL is refused by `http::json`, naming the field). The request's
//! context middleware calls it first.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Code};
use crate::state::AppState;

/// Does this percent-encoded text hold a NUL (`%00`, or the byte itself)?
pub fn holds_nul(encoded: &[u8]) -> bool {
    encoded.contains(&0) || encoded.windows(3).any(|w| w == b"%00")
}

/// The request, or the answer refusing it: called first by `context::request_meta`
/// (a middleware layer of its own costs a small request a tenth of its time).
pub async fn refuse_nul(app: &AppState, req: Request) -> Result<Request, Response> {
    let uri = req.uri();
    if holds_nul(uri.path().as_bytes()) || uri.query().is_some_and(|q| holds_nul(q.as_bytes())) {
        return Err(ApiError::new(
            Code::NulCharacter,
            "the address holds a NUL character (%00), which no text may hold",
        )
        .into_response());
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, app.settings.max_body_bytes).await else {
        return Err(ApiError::new(
            Code::BodyTooLarge,
            "the request body is larger than this server accepts",
        )
        .into_response());
    };
    if holds_nul(&bytes) {
        return Err(ApiError::new(
            Code::NulCharacter,
            "the form holds a NUL character (%00), which no text may hold",
        )
        .into_response());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_nul_is_found_encoded_or_raw() {
        assert!(super::holds_nul(b"q=%00"));
        assert!(super::holds_nul(b"/api/v1/public/%00/signup-form"));
        assert!(super::holds_nul(b"a\0b"));
        assert!(!super::holds_nul(b"q=%2500&p=%20"));
    }
}
