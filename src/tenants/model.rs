//! A tenant is one shop, brand or loyalty program. Pure types and rules.

use serde::{Deserialize, Serialize};

use crate::parsed_string;
use crate::types::text;

parsed_string!(
    /// The shop's name as members see it, 1–100 characters.
    ShopName, example = "บ้านกาแฟ Baan Kafe", |s| text(s, "shop name", 1, 100)
);

parsed_string!(
    /// The shop's short name in URLs: 3–40 of a–z, 0–9 and inner hyphens.
    Slug, example = "baan-kafe", |s| {
        let t = s.trim();
        let ok = (3..=40).contains(&t.len())
            && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !t.starts_with('-')
            && !t.ends_with('-')
            && !t.contains("--");
        if ok { Ok(t.to_string()) } else { Err(format!("{t:?} is not a valid slug: use 3-40 lowercase letters, digits and single hyphens")) }
    }
);

parsed_string!(
    /// An ISO 4217 currency code with minor units (THB, USD, JPY, …).
    CurrencyCode, example = "THB", |s| {
        let t = s.trim().to_ascii_uppercase();
        match iso_currency::Currency::from_code(&t) {
            Some(c) if c.exponent().is_some() => Ok(t),
            _ => Err(format!("{:?} is not an ISO 4217 currency code", s.trim())),
        }
    }
);

parsed_string!(
    /// An IANA time zone name (e.g. Asia/Bangkok).
    TimeZoneName, example = "Asia/Bangkok", |s| {
        let t = s.trim();
        match jiff::tz::TimeZone::get(t) {
            Ok(_) if !t.is_empty() => Ok(t.to_string()),
            _ => Err(format!("{t:?} is not a known time zone; use an IANA name such as Asia/Bangkok")),
        }
    }
);

parsed_string!(
    /// A branch code, unique in the shop: 1–20 of A–Z, 0–9, hyphen, underscore.
    BranchCode, example = "SIAM", |s| {
        let t = s.trim().to_ascii_uppercase();
        if (1..=20).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
            Ok(t)
        } else {
            Err(format!("{:?} is not a valid branch code: use 1-20 letters, digits, - or _", s.trim()))
        }
    }
);

/// The language of the shop's pages and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Th,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Th => "th",
            Language::En => "en",
        }
    }
}

pub fn default_currency() -> CurrencyCode {
    CurrencyCode::parse("THB").expect("THB is a currency")
}

pub fn default_time_zone() -> TimeZoneName {
    TimeZoneName::parse("Asia/Bangkok").expect("Asia/Bangkok is a time zone")
}

/// Turn a shop name into a slug candidate (Latin letters and digits only).
pub fn slug_from_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(|c| c.to_lowercase()) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-').chars().take(32).collect::<String>();
    slug.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_values_are_checked() {
        assert_eq!(CurrencyCode::parse("thb").unwrap().as_str(), "THB");
        assert!(CurrencyCode::parse("XYZ").is_err());
        assert!(TimeZoneName::parse("Asia/Bangkok").is_ok());
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        assert!(TimeZoneName::parse("").is_err());
        assert!(Slug::parse("baan-kafe").is_ok());
        for bad in ["ab", "-abc", "abc-", "a--b", "ABC", "ร้าน"] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(BranchCode::parse(" siam-1 ").unwrap().as_str(), "SIAM-1");
    }

    #[test]
    fn slugs_come_from_latin_parts_of_names() {
        assert_eq!(slug_from_name("บ้านกาแฟ Baan Kafe!"), "baan-kafe");
        assert_eq!(slug_from_name("ร้าน"), "");
    }
}
