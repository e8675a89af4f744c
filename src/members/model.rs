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
