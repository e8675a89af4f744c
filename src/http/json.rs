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
                ApiError::field(Code::UnknownField, path, humanize(&bare))
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
                let mut e = ApiError::new(Code::InvalidField, humanize(&bare));
                if !field.is_empty() {
                    e.field = Some(field);
                }
                e
            }
        }
    }
}

/// serde's message in words a person reads: `invalid type: string "abc", expected
/// i64` becomes `expected a whole number, not the text "abc"`. Messages of our own
/// (a parsed type's reason) pass through.
pub fn humanize(msg: &str) -> String {
    fn expected(e: &str) -> String {
        let e = e.trim();
        let whole = [
            "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
        ];
        if whole.contains(&e) {
            "a whole number".into()
        } else if e == "f32" || e == "f64" {
            "a number".into()
        } else if e == "a string" || e == "a borrowed string" || e == "a character" {
            "text".into()
        } else if e == "a boolean" {
            "true or false".into()
        } else if e == "a sequence" || e.starts_with("a sequence") {
            "a list".into()
        } else if e == "a map" || e.starts_with("struct ") {
            "an object".into()
        } else {
            e.to_string()
        }
    }
    fn unexpected(u: &str) -> String {
        let u = u.trim();
        let ticked = |prefix: &str| {
            u.strip_prefix(prefix)
                .map(|rest| rest.trim_matches('`').to_string())
        };
        if let Some(text) = u.strip_prefix("string ") {
            format!("the text {text}")
        } else if let Some(n) = ticked("integer ").or_else(|| ticked("floating point ")) {
            format!("the number {n}")
        } else if let Some(b) = ticked("boolean ") {
            b
        } else {
            match u {
                "null" => "nothing (null)".into(),
                "sequence" => "a list".into(),
                "map" => "an object".into(),
                other => other.to_string(),
            }
        }
    }
    let list = |one_of: &str| one_of.trim_start_matches("one of ").replace('`', "");
    if let Some(rest) = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))
        && let Some((got, want)) = rest.rsplit_once(", expected ")
    {
        return format!("expected {}, not {}", expected(want), unexpected(got));
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `")
        && let Some((value, want)) = rest.split_once("`, expected ")
    {
        return format!("\"{value}\" is not one of: {}", list(want));
    }
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((name, want)) = rest.split_once("`, expected ")
    {
        return format!(
            "there is no field \"{name}\" here; the fields are: {}",
            list(want)
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return format!("there is no field \"{name}\" here");
    }
    if let Some((n, want)) = msg
        .strip_prefix("invalid length ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        return format!("expected {}, not {n} items", expected(want));
    }
    match msg {
        "invalid digit found in string" => "must be a whole number".into(),
        "cannot parse integer from empty string" => "must be a whole number, not empty".into(),
        "number too large to fit in target type" => "is too large".into(),
        "number too small to fit in target type" => "is too small".into(),
        "provided string was not `true` or `false`" => "must be true or false".into(),
        other => other.to_string(),
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
    fn serde_speaks_as_a_person_would() {
        for (serde, person) in [
            (
                "invalid type: string \"abc\", expected i64",
                "expected a whole number, not the text \"abc\"",
            ),
            (
                "invalid type: null, expected i64",
                "expected a whole number, not nothing (null)",
            ),
            (
                "invalid type: integer `5`, expected a string",
                "expected text, not the number 5",
            ),
            (
                "invalid type: sequence, expected struct Owner",
                "expected an object, not a list",
            ),
            (
                "unknown variant `bogus`, expected one of `issued`, `used`",
                "\"bogus\" is not one of: issued, used",
            ),
            (
                "unknown field `x`, expected `email` or `age`",
                "there is no field \"x\" here; the fields are: email or age",
            ),
            ("invalid digit found in string", "must be a whole number"),
            ("name must not be empty", "name must not be empty"),
        ] {
            assert_eq!(humanize(serde), person, "{serde}");
        }
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
