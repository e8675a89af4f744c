//! The product's codes in the page's words: ledger movements, redemption statuses,
//! consent purposes, genders and member statuses. A code this table does not know is
//! shown as it is (it is data, not a missing word).

use super::t;
use crate::tenants::model::Language;

/// A ledger movement's kind (`earn`, `redeem`, …).
pub fn movement(lang: Language, kind: &str) -> String {
    let key = match kind {
        "earn" => "k_earn",
        "bonus" => "k_bonus",
        "opening" => "k_opening",
        "adjust_credit" => "k_adjust_credit",
        "adjust_debit" => "k_adjust_debit",
        "redeem" => "k_redeem",
        "redeem_cancel" => "k_redeem_cancel",
        "expire" => "k_expire",
        "reversal" => "k_reversal",
        other => return other.to_string(),
    };
    t(lang, key).to_string()
}

/// A redemption's status (`issued`, `used`, `shipped`, …).
pub fn redemption_status(lang: Language, status: &str) -> String {
    let key = match status {
        "issued" => "rs_issued",
        "used" => "rs_used",
        "expired" => "rs_expired",
        "cancelled" => "rs_cancelled",
        "pending" => "rs_pending",
        "packed" => "rs_packed",
        "shipped" => "rs_shipped",
        "delivered" => "rs_delivered",
        other => return other.to_string(),
    };
    t(lang, key).to_string()
}

/// What a consent was given for (`terms`, `marketing_sms`, …).
pub fn consent_purpose(lang: Language, purpose: &str) -> String {
    let key = match purpose {
        "terms" => "cp_terms",
        "privacy" => "cp_privacy",
        "marketing_line" => "cp_marketing_line",
        "marketing_sms" => "cp_marketing_sms",
        "marketing_email" => "cp_marketing_email",
        other => return other.to_string(),
    };
    t(lang, key).to_string()
}

/// Where a consent was given or withdrawn (`signup`, `member_page`, `counter`, `staff`,
/// `api`).
pub fn consent_channel(lang: Language, channel: &str) -> String {
    let key = match channel {
        "signup" => "cc_signup",
        "member_page" => "cc_member_page",
        "counter" => "cc_counter",
        "staff" => "cc_staff",
        "api" => "cc_api",
        other => return other.to_string(),
    };
    t(lang, key).to_string()
}

/// A member's status (`active`, `blocked`, `merged`, `erased`).
pub fn member_status(lang: Language, status: &str) -> String {
    let key = match status {
        "active" => "ms_active",
        "blocked" => "ms_blocked",
        "merged" => "ms_merged",
        "erased" => "ms_erased",
        other => return other.to_string(),
    };
    t(lang, key).to_string()
}

/// A gender as the member gave it.
pub fn gender(lang: Language, gender: &str) -> String {
    let key = match gender {
        "female" => "g_female",
        "male" => "g_male",
        "other" => "g_other",
        "unspecified" => "g_unspecified",
        other => return other.to_string(),
    };
    t(lang, key).to_string()
}

/// A birthday (`YYYY-MM-DD`) as people write it: `31/12/2535` in Thai (Buddhist era).
pub fn birthday(lang: Language, iso: &str) -> String {
    let mut parts = iso.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return iso.to_string();
    };
    match (lang, y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) {
        (Language::Th, Ok(y), Ok(m), Ok(d)) => format!("{d}/{m}/{}", y + 543),
        _ => iso.to_string(),
    }
}

/// A stored birthday (`YYYY-MM-DD`) as a person types it into a form: `31/12/2535` on
/// Thai pages (Buddhist era), `31/12/1992` on English ones; read back by
/// `members::model::parse_birthday`.
pub fn birthday_as_typed(lang: Language, stored: &str) -> String {
    let mut parts = stored.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return stored.to_string();
    };
    let year = y.parse::<i32>().unwrap_or(0) + if lang == Language::Th { 543 } else { 0 };
    format!("{d}/{m}/{year}")
}

/// What a price or balance is counted in: points or stamps.
pub fn unit(lang: Language, c: crate::ledger::model::Currency) -> &'static str {
    match c {
        crate::ledger::model::Currency::Points => t(lang, "points"),
        crate::ledger::model::Currency::Stamps => t(lang, "m_stamps"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_in_the_pages_language_and_unknown_ones_as_they_are() {
        assert_eq!(movement(Language::En, "earn"), "Purchase");
        assert_eq!(movement(Language::Th, "expire"), "หมดอายุ");
        assert_eq!(movement(Language::En, "adjust_debit"), "Deducted by staff");
        assert_eq!(movement(Language::En, "partner_in"), "partner_in");
        assert_eq!(redemption_status(Language::Th, "used"), "ใช้แล้ว");
        assert_eq!(birthday(Language::Th, "1992-12-31"), "31/12/2535");
        assert_eq!(birthday(Language::En, "1992-12-31"), "1992-12-31");
    }
}
