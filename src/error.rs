//! Errors are data. Every error a client can see has a stable `code` from the table
//! below, mapped to its HTTP status once, and is rendered as `application/problem+json`.
//! Internal errors are logged with the request id and never leak details.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

macro_rules! error_codes {
    ($( $variant:ident = $code:literal, $status:ident, $title:literal; )+) => {
        /// The stable error codes of the API. Clients may rely on them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code { $( $variant, )+ }

        impl Code {
            pub const ALL: &'static [Code] = &[$( Code::$variant, )+];
            pub fn as_str(self) -> &'static str { match self { $( Code::$variant => $code, )+ } }
            pub fn status(self) -> StatusCode { match self { $( Code::$variant => StatusCode::$status, )+ } }
            pub fn title(self) -> &'static str { match self { $( Code::$variant => $title, )+ } }
        }
    };
}

error_codes! {
    MalformedJson = "malformed_json", BAD_REQUEST, "The request body is not valid JSON";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json";
    BodyTooLarge = "body_too_large", PAYLOAD_TOO_LARGE, "The request body is too large";
    InvalidField = "invalid_field", UNPROCESSABLE_ENTITY, "A field has an invalid value";
    UnknownField = "unknown_field", UNPROCESSABLE_ENTITY, "The request has a field this endpoint does not accept";
    MissingField = "missing_field", UNPROCESSABLE_ENTITY, "A required field is missing";
    InvalidQuery = "invalid_query", BAD_REQUEST, "A query parameter is invalid";
    NulCharacter = "nul_character", BAD_REQUEST, "Text may not hold the NUL character";
    InvalidCursor = "invalid_cursor", BAD_REQUEST, "The pagination cursor is invalid";
    Unauthenticated = "unauthenticated", UNAUTHORIZED, "Sign in or send an API key";
    InvalidCredentials = "invalid_credentials", UNAUTHORIZED, "Wrong shop, email or password";
    CsrfFailed = "csrf_failed", FORBIDDEN, "The CSRF token is missing or wrong";
    Forbidden = "forbidden", FORBIDDEN, "Your role or API key does not allow this";
    NotFound = "not_found", NOT_FOUND, "Not found";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "This method is not allowed here";
    AlreadyExists = "already_exists", CONFLICT, "It already exists";
    StaleVersion = "stale_version", CONFLICT, "The text you accepted has changed; show the current version";
    InvitationUnusable = "invitation_unusable", GONE, "The invitation has expired, was revoked or was already used";
    IdempotencyKeyInvalid = "idempotency_key_invalid", BAD_REQUEST, "The Idempotency-Key header is invalid";
    IdempotencyKeyReused = "idempotency_key_reused", UNPROCESSABLE_ENTITY, "This Idempotency-Key was used with a different request";
    IdempotencyInProgress = "idempotency_in_progress", CONFLICT, "A request with this Idempotency-Key is still being processed";
    SecretNotReplayed = "secret_not_replayed", CONFLICT, "The first request with this Idempotency-Key succeeded; the secret it answered is shown only once";
    InsufficientPoints = "insufficient_points", UNPROCESSABLE_ENTITY, "The member does not have enough points";
    PointsLimit = "points_limit", UNPROCESSABLE_ENTITY, "A movement or balance would pass the most points a balance holds";
    NothingToUndo = "nothing_to_undo", CONFLICT, "There is nothing (left) to undo";
    RewardUnavailable = "reward_unavailable", UNPROCESSABLE_ENTITY, "This reward cannot be redeemed now";
    OutOfStock = "out_of_stock", CONFLICT, "This reward is out of stock";
    TierRestricted = "tier_restricted", FORBIDDEN, "This reward is for other tier levels";
    LimitReached = "limit_reached", CONFLICT, "The member has reached this reward's limit";
    OtpRequired = "otp_required", UNPROCESSABLE_ENTITY, "A one-time code from the member's phone is required";
    OtpInvalid = "otp_invalid", UNPROCESSABLE_ENTITY, "The one-time code is wrong";
    OtpExpired = "otp_expired", UNPROCESSABLE_ENTITY, "The one-time code has expired or was used; request a new one";
    SmsFailed = "sms_failed", BAD_GATEWAY, "The text message could not be sent";
    CouponUsed = "coupon_already_used", CONFLICT, "This coupon was already used";
    CouponNotUsable = "coupon_not_usable", CONFLICT, "This coupon has expired or was cancelled";
    WrongState = "wrong_state", CONFLICT, "This cannot be done in the current state";
    RateLimited = "rate_limited", TOO_MANY_REQUESTS, "Too many attempts; wait and try again";
    Timeout = "timeout", SERVICE_UNAVAILABLE, "The request took too long";
    Overloaded = "overloaded", SERVICE_UNAVAILABLE, "The server is busy; try again shortly";
    Internal = "internal", INTERNAL_SERVER_ERROR, "Something went wrong on our side";
}

/// An error answered to a client.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    /// An invalid value in a named field (`field` is a JSON path such as `owner.email`).
    pub fn field(code: Code, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(code, message)
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::field(Code::InvalidField, field, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, message)
    }

    /// An unexpected failure: logged in full, answered without details.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(Code::Internal, Code::Internal.title())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::internal(format!("database: {err}"))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::internal(format!("{err:#}"))
    }
}

/// The problem+json body (RFC 9457) with Loyal's extension members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the error code.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// The stable error code, for programs.
    pub code: String,
    /// The request field at fault, as a JSON path, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl ApiError {
    /// The problem+json body of this error (also used for each failed item of a batch).
    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("/api/docs#error-{}", self.code.as_str()),
            title: self.code.title().to_string(),
            status: self.code.status().as_u16(),
            detail: self.message.clone(),
            code: self.code.as_str().to_string(),
            field: self.field.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_4xx_or_5xx() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(
                seen.insert(code.as_str()),
                "duplicate code {}",
                code.as_str()
            );
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }
}
