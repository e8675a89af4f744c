//! Member values. Pure: no I/O.

use crate::parsed_string;

parsed_string!(
    /// A phone number in E.164 (`+66812345678`). Thai formats such as `081-234-5678`,
    /// `0812345678`, `+66 81 234 5678` and `66812345678` are accepted and normalised.
    Phone, example = "+66812345678", |s| normalise_phone(s)
);

fn normalise_phone(input: &str) -> Result<String, String> {
    let cleaned = input.trim();
    let bad = || format!("{cleaned:?} is not a valid phone number");
    if cleaned.is_empty() || cleaned.len() > 32 {
        return Err(bad());
    }
    // `66812345678` (country code without +) is common in exports: give it its +.
    let candidate = if cleaned.starts_with("66")
        && cleaned.chars().filter(|c| c.is_ascii_digit()).count() == 11
    {
        format!("+{cleaned}")
    } else {
        cleaned.to_string()
    };
    let parsed =
        phonenumber::parse(Some(phonenumber::country::Id::TH), &candidate).map_err(|_| bad())?;
    if !phonenumber::is_valid(&parsed) {
        return Err(bad());
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// A birthday as typed on the signup page: `31/12/2535` (Buddhist era), `31/12/1992`, or
/// `1992-12-31`. Years from 2400 are Buddhist-era and lose 543.
pub fn parse_birthday(typed: &str) -> Option<String> {
    let t = typed.trim();
    let (y, m, d) = if let Some((d, rest)) = t.split_once('/') {
        let (m, y) = rest.split_once('/')?;
        (y, m, d)
    } else {
        let mut parts = t.splitn(3, '-');
        (parts.next()?, parts.next()?, parts.next()?)
    };
    let (y, m, d): (i32, u32, u32) = (
        y.trim().parse().ok()?,
        m.trim().parse().ok()?,
        d.trim().parse().ok()?,
    );
    let y = if y >= 2400 { y - 543 } else { y };
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thai_formats_normalise_to_e164() {
        for input in [
            "081-234-5678",
            "0812345678",
            "+66 81 234 5678",
            "66812345678",
            " 081 234 5678 ",
        ] {
            assert_eq!(
                Phone::parse(input).unwrap().as_str(),
                "+66812345678",
                "{input}"
            );
        }
        assert_eq!(
            Phone::parse("02-123-4567").unwrap().as_str(),
            "+6621234567",
            "Bangkok landline"
        );
        assert_eq!(
            Phone::parse("+1 650 253 0000").unwrap().as_str(),
            "+16502530000",
            "foreign numbers keep their country"
        );
    }

    #[test]
    fn junk_is_refused() {
        for input in [
            "",
            "12",
            "081-234",
            "hello",
            "0812345678901234",
            "+66 00 000 0000",
        ] {
            assert!(Phone::parse(input).is_err(), "{input:?} accepted");
        }
    }
}

/// A member's gender as they chose to state it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
    Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
    Other,
    #[default]
    Unspecified,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Female => "female",
            Gender::Male => "male",
            Gender::Other => "other",
            Gender::Unspecified => "unspecified",
        }
    }
}

parsed_string!(
    /// A birthday, `YYYY-MM-DD`: a real date, not in the future, not before 1900.
    Birthday, example = "1990-04-13", |s| {
        let t = s.trim();
        match t.parse::<jiff::civil::Date>() {
            Ok(d) if d.year() >= 1900 && d <= jiff::Zoned::now().date() => Ok(d.to_string()),
            Ok(_) => Err(format!("{t:?} is not a possible birthday")),
            Err(_) => Err(format!("{t:?} is not a date; use YYYY-MM-DD")),
        }
    }
);

parsed_string!(
    /// A tag on a member (e.g. `vip`, `working-age`): 1-40 characters, stored lower-case.
    Tag, example = "vip", |s| {
        let t = crate::types::text(s, "tag", 1, 40)?.to_lowercase();
        if t.contains(',') { Err("a tag must not contain a comma".into()) } else { Ok(t) }
    }
);

/// Custom attributes: a flat JSON object of at most 50 keys with string, number or
/// boolean values.
pub fn check_attributes(v: &serde_json::Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("attributes must be a JSON object")?;
    if obj.len() > 50 {
        return Err("at most 50 attributes".into());
    }
    for (k, val) in obj {
        if k.is_empty() || k.chars().count() > 40 {
            return Err(format!("attribute name {k:?} must be 1-40 characters"));
        }
        if !(val.is_string() || val.is_number() || val.is_boolean()) {
            return Err(format!(
                "attribute {k:?} must be a string, number or boolean"
            ));
        }
        if val.as_str().is_some_and(|s| s.chars().count() > 500) {
            return Err(format!("attribute {k:?} is longer than 500 characters"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod profile_tests {
    use super::*;

    #[test]
    fn birthdays_must_be_possible() {
        assert_eq!(
            Birthday::parse("1990-04-13").unwrap().as_str(),
            "1990-04-13"
        );
        for bad in ["1990-02-30", "2999-01-01", "1850-01-01", "13/04/1990", ""] {
            assert!(Birthday::parse(bad).is_err(), "{bad}");
        }
        assert!(Birthday::parse("2000-02-29").is_ok());
    }

    #[test]
    fn tags_and_attributes_are_checked() {
        assert_eq!(Tag::parse(" VIP ").unwrap().as_str(), "vip");
        assert!(Tag::parse("a,b").is_err());
        assert!(
            check_attributes(
                &serde_json::json!({"favourite": "latte", "cups": 3, "student": true})
            )
            .is_ok()
        );
        assert!(check_attributes(&serde_json::json!({"nested": {"x": 1}})).is_err());
        assert!(check_attributes(&serde_json::json!([1])).is_err());
    }
}

parsed_string!(
    /// A Thai national ID: 13 digits (dashes and spaces allowed) with a valid check digit.
    NationalId, example = "1-1017-00203-45-0", |s| {
        let digits: String = s.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        if digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a national ID has 13 digits".into());
        }
        let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = (0..12).map(|i| d[i] * (13 - i as u32)).sum();
        if (11 - sum % 11) % 10 != d[12] {
            return Err("the national ID's check digit is wrong; check for a typing mistake".into());
        }
        Ok(digits)
    }
);

impl NationalId {
    /// Only the last four digits show: `*********2345`.
    pub fn masked(last4: &str) -> String {
        format!("*********{last4}")
    }
}

#[cfg(test)]
mod national_id_tests {
    use super::*;

    #[test]
    fn check_digits_are_verified() {
        assert_eq!(
            NationalId::parse("1-1017-00203-45-0").unwrap().as_str(),
            "1101700203450"
        );
        assert!(
            NationalId::parse("1101700203451").is_err(),
            "wrong check digit"
        );
        assert!(NationalId::parse("110170020345").is_err(), "12 digits");
        assert!(NationalId::parse("11017002034a1").is_err());
        assert_eq!(NationalId::masked("3451"), "*********3451");
    }
}
