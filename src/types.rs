//! Values that are checked once, when they enter the system ("parse, don't validate").
//! A function that takes an [`Email`] never checks it again.

/// Declare a string newtype that can only hold what `parse` accepts. It deserializes
/// through `parse`, so a bad value in a request names its field automatically.
#[macro_export]
macro_rules! parsed_string {
    ($(#[$meta:meta])* $name:ident, example = $example:literal, |$s:ident| $parse:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String, example = $example)]
        pub struct $name(String);

        impl $name {
            pub fn parse($s: &str) -> Result<Self, String> {
                let parsed: Result<String, String> = $parse;
                parsed.map($name)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Trim and check length in characters (not bytes: Thai text is 3 bytes a character).
pub fn text(s: &str, what: &str, min: usize, max: usize) -> Result<String, String> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min {
        Err(if min == 1 {
            format!("{what} must not be empty")
        } else {
            format!("{what} must be at least {min} characters")
        })
    } else if n > max {
        Err(format!("{what} must be at most {max} characters"))
    } else if t.chars().any(|c| c.is_control()) {
        Err(format!("{what} must not contain control characters"))
    } else {
        Ok(t.to_string())
    }
}

parsed_string!(
    /// An email address, trimmed and lower-cased.
    Email, example = "somchai@example.com", |s| {
        let t = s.trim().to_lowercase();
        if t.len() > 254 || !email_address::EmailAddress::is_valid(&t) || !t.contains('.') {
            Err(format!("{:?} is not a valid email address", s.trim()))
        } else {
            Ok(t)
        }
    }
);

parsed_string!(
    /// A person's display name (any script), 1–100 characters.
    PersonName, example = "สมชาย ใจดี", |s| text(s, "name", 1, 100)
);

/// A new password: 10–256 characters. Never serialized.
#[derive(Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String")]
#[schema(value_type = String, format = Password)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(s: &str) -> Result<Self, String> {
        let n = s.chars().count();
        if n < 10 {
            Err("password must be at least 10 characters".into())
        } else if n > 256 {
            Err("password must be at most 256 characters".into())
        } else {
            Ok(NewPassword(s.to_string()))
        }
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NewPassword {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(****)")
    }
}

/// A timestamp as the API shows it: RFC 3339 in UTC.
pub fn timestamp(micros: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// `serialize_with` for a µs column shown as RFC 3339 (keeps row structs plain).
pub fn micros_as_rfc3339<S: serde::Serializer>(micros: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&timestamp(*micros))
}

/// `serialize_with` for an optional µs column.
pub fn opt_micros_as_rfc3339<S: serde::Serializer>(
    micros: &Option<i64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match micros {
        Some(m) => s.collect_str(&timestamp(*m)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Somchai@Example.COM ").unwrap().as_str(),
            "somchai@example.com"
        );
        for bad in ["", "somchai", "a@b", "a @b.com", "@example.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_count_characters_not_bytes() {
        let thai = "ก".repeat(100);
        assert!(PersonName::parse(&thai).is_ok());
        assert!(PersonName::parse(&format!("{thai}ก")).is_err());
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("long enough pass").is_ok());
        assert_eq!(
            format!("{:?}", NewPassword::parse("long enough pass").unwrap()),
            "NewPassword(****)"
        );
    }
}
