//! Request bodies: JSON only, size-limited, and every failure names the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Code};

/// A JSON request body. Unlike `axum::Json`, every rejection is a problem+json error
/// with a stable code and the JSON path of the field at fault.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                Code::UnsupportedMediaType,
                "send the body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    Code::BodyTooLarge,
                    "the request body is larger than this server accepts",
                )
            } else {
                ApiError::new(Code::MalformedJson, rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parse JSON, turning serde's error into an [`ApiError`] naming the field. A string
/// holding the NUL character (`\u0000`) is refused: no database stores it as text.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.windows(6).any(|w| w == b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(path) = nul_at(&value, String::new())
    {
        return Err(ApiError::field(
            Code::NulCharacter,
            path,
            "this text holds a NUL character (\\u0000), which no text may hold",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        classify(&path, &inner)
    })?;
    de.end().map_err(|e| classify(".", &e))?;
    Ok(value)
}

/// The JSON path of the first string (or key) holding a NUL.
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => {
            Some(if path.is_empty() { ".".into() } else { path })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "")))
            } else {
                nul_at(v, join(k))
            }
        }),
        _ => None,
    }
}

fn classify(path: &str, err: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let msg = err.to_string();
    // serde appends " at line L column C"; keep it only for syntax errors.
    let bare = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    let join = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::new(Code::MalformedJson, format!("malformed JSON: {msg}"))
        }
        Category::Data => {
            // serde_path_to_error's path already ends with an unknown field's name, but
            // stops at the enclosing object for a missing one.
            if between_backticks(&bare, "unknown field `").is_some() {
                ApiError::field(Code::UnknownField, path, bare)
            } else if let Some(name) = between_backticks(&bare, "missing field `") {
                ApiError::field(
                    Code::MissingField,
                    join(&name),
                    format!("{name} is required"),
                )
            } else {
                let field = if path == "." {
                    String::new()
                } else {
                    path.to_string()
                };
                let mut e = ApiError::new(Code::InvalidField, bare);
                if !field.is_empty() {
                    e.field = Some(field);
                }
                e
            }
        }
    }
}

fn between_backticks(msg: &str, prefix: &str) -> Option<String> {
    let rest = msg.strip_prefix(prefix)?;
    Some(rest.split('`').next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Owner {
        email: String,
        age: u8,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Signup {
        name: String,
        owner: Owner,
    }

    #[test]
    fn errors_name_the_field() {
        let e =
            parse_json::<Signup>(br#"{"name":"x","owner":{"email":"a","age":"old"}}"#).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (Code::InvalidField, Some("owner.age"))
        );
        let e = parse_json::<Signup>(br#"{"name":"x","owner":{"email":"a","age":3,"x":1}}"#)
            .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (Code::UnknownField, Some("owner.x"))
        );
        let e = parse_json::<Signup>(br#"{"owner":{"email":"a","age":3}}"#).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (Code::MissingField, Some("name"))
        );
        let e = parse_json::<Signup>(br#"{"name":"x","owner":{"email":"a\u0000b","age":3}}"#)
            .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (Code::NulCharacter, Some("owner.email"))
        );
        let e = parse_json::<Signup>(br#"{"name":"x""#).unwrap_err();
        assert_eq!(e.code, Code::MalformedJson);
        let e = parse_json::<Signup>(br#"{"name":"x","owner":{"email":"a","age":3}} trailing"#)
            .unwrap_err();
        assert_eq!(e.code, Code::MalformedJson);
    }
}
