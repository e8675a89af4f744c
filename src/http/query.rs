//! Query strings and cursor pagination.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Code};

/// Query parameters; a bad one is a problem+json `invalid_query`.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(QueryParams(v)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_string();
                // "limit: invalid digit found in string": the parameter, then serde's words.
                let (field, reason) = match detail.split_once(": ") {
                    Some((name, reason))
                        if !name.is_empty()
                            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                    {
                        (Some(name.to_string()), reason.to_string())
                    }
                    _ => (between_backticks(&detail), detail.clone()),
                };
                let reason = crate::http::json::humanize(&reason);
                let detail = match &field {
                    Some(f) if !reason.starts_with("there is no field") => format!("{f}: {reason}"),
                    _ => reason,
                };
                let mut e = ApiError::new(Code::InvalidQuery, detail);
                e.field = field;
                Err(e)
            }
        }
    }
}

fn between_backticks(s: &str) -> Option<String> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(s[start..start + len].to_string())
}

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;

/// `?limit=&cursor=`: newest first; the cursor is opaque to clients.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page (1–200, default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::field(
                Code::InvalidQuery,
                "limit",
                "limit must be between 1 and 200",
            )),
        }
    }

    /// Items are listed by descending id; the cursor is the last id seen.
    pub fn before_id(&self) -> Result<i64, ApiError> {
        let Some(cursor) = &self.cursor else {
            return Ok(i64::MAX);
        };
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("id:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| {
                ApiError::field(
                    Code::InvalidCursor,
                    "cursor",
                    "the cursor is not one this server gave out",
                )
            })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Build a page from up to `limit + 1` rows fetched in id order.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Self {
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|last| URL_SAFE_NO_PAD.encode(format!("id:{}", id(last))))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// An `{id}` path segment. Anything that is not an id cannot name a resource, so it
/// answers 404 like an unknown id (problem+json, not axum's plain text).
pub struct PathId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<i64>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| PathId(id))
            .map_err(|_| ApiError::new(Code::NotFound, "no resource has this id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        let page = Page::from_rows(vec![9, 8, 7], 2, |x| *x);
        assert_eq!(page.items, vec![9, 8]);
        let params = PageParams {
            limit: Some(2),
            cursor: page.next_cursor,
        };
        assert_eq!(params.before_id().unwrap(), 8);
        assert!(Page::from_rows(vec![1], 2, |x| *x).next_cursor.is_none());
        let bad = PageParams {
            limit: Some(0),
            cursor: Some("zzz".into()),
        };
        assert!(bad.limit().is_err());
        assert!(bad.before_id().is_err());
    }
}
