//! The member card: a code on the member page that identifies the member at the counter
//! for a short time. It changes every minute and is taken for two, so a screenshot or a
//! photo of someone's phone stops working; a handheld scanner types it into the counter's
//! search box like a phone number.

use super::model::Phone;
use super::store::{self, Member};
use crate::crypto::Cipher;
use crate::store::Db;

/// How long one code is shown before the next; a code is taken in its own minute and the
/// next (at most two minutes after it appeared).
pub const WINDOW_SECS: i64 = 60;

fn window(now_micros: i64) -> i64 {
    now_micros.div_euclid(WINDOW_SECS * 1_000_000)
}

/// The check part of a code: 8 digits of a MAC over the shop, member and minute.
fn check_digits(cipher: &Cipher, tenant: i64, member: i64, window: i64) -> String {
    let mac = cipher.mac(&format!("member-card:{tenant}:{member}:{window}"));
    let n = u64::from_be_bytes(mac[..8].try_into().expect("8 bytes")) % 100_000_000;
    format!("{n:08}")
}

/// The member's card code at `now`: `M<member id>-<8 digits>`.
pub fn code(cipher: &Cipher, tenant: i64, member: i64, now_micros: i64) -> String {
    let digits = check_digits(cipher, tenant, member, window(now_micros));
    format!("M{member}-{digits}")
}

/// The code as digits only, for the barcode: the member id and the 8 check digits
/// (`M123-45678901` → `12345678901`).
pub fn digits(code: &str) -> String {
    code.chars().filter(char::is_ascii_digit).collect()
}

/// Shortest code in digits only: longer than any phone number, so the two never mix.
const MIN_DIGITS: usize = 12;

/// The member a code typed or scanned at `now` names, if it is one of theirs from this
/// minute or the one before. Taken as shown (`M123-45678901`) or as the barcode reads it
/// (digits only, perhaps with a leading zero).
pub fn member_of(cipher: &Cipher, tenant: i64, typed: &str, now_micros: i64) -> Option<i64> {
    let typed = typed.trim();
    let (member, digits) = if typed.len() >= MIN_DIGITS && typed.bytes().all(|b| b.is_ascii_digit())
    {
        typed.split_at(typed.len() - 8)
    } else {
        typed.strip_prefix(['M', 'm'])?.split_once('-')?
    };
    let member: i64 = member.parse().ok()?;
    let now = window(now_micros);
    [now, now - 1].into_iter().find_map(|w| {
        let expected = check_digits(cipher, tenant, member, w);
        crate::auth::secrets::constant_time_eq(&expected, digits).then_some(member)
    })
}

/// What the counter's search box found.
#[derive(Debug)]
pub enum Found {
    Member(Box<Member>),
    /// A phone or a card code that names no member of the shop (or a code too old).
    NoMember,
    /// Neither a phone number nor a card code.
    NotAPhone,
}

/// The member a cashier typed or scanned: a phone number in any Thai format, or the
/// code of the member's card.
pub async fn find_at_counter(
    db: &Db,
    cipher: &Cipher,
    tenant: i64,
    typed: &str,
    now_micros: i64,
) -> sqlx::Result<Found> {
    if let Some(member) = member_of(cipher, tenant, typed, now_micros) {
        return Ok(store::get(db, tenant, member)
            .await?
            .filter(|m| m.status == "active")
            .map_or(Found::NoMember, |m| Found::Member(Box::new(m))));
    }
    if typed.trim().starts_with(['M', 'm']) {
        return Ok(Found::NoMember);
    }
    match Phone::parse(typed) {
        Ok(phone) => Ok(store::find_by_phone(db, tenant, &phone)
            .await?
            .map_or(Found::NoMember, |m| Found::Member(Box::new(m)))),
        Err(_) => Ok(Found::NotAPhone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> Cipher {
        Cipher::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap()
    }

    const MINUTE: i64 = WINDOW_SECS * 1_000_000;

    #[test]
    fn a_code_names_its_member_for_its_minute_and_the_next_only() {
        let c = cipher();
        let at = 1_800_000_000_000_000;
        let code = code(&c, 7, 42, at);
        assert_eq!(member_of(&c, 7, &code, at), Some(42));
        assert_eq!(member_of(&c, 7, &code, at + MINUTE), Some(42));
        assert_eq!(member_of(&c, 7, &code, at + 2 * MINUTE), None, "too old");
        assert_eq!(member_of(&c, 8, &code, at), None, "another shop");
        let other = code.replacen("M42-", "M43-", 1);
        assert_eq!(member_of(&c, 7, &other, at), None, "another member's id");
        assert_ne!(code, super::code(&c, 7, 42, at + 2 * MINUTE), "it changes");
    }

    #[test]
    fn the_barcode_digits_name_the_member_too_and_never_a_phone() {
        let c = cipher();
        let at = 1_800_000_000_000_000;
        let member = 7_300_000_000_000_042;
        let code = code(&c, 7, member, at);
        let digits = digits(&code);
        assert_eq!(member_of(&c, 7, &digits, at), Some(member));
        // Drawn in pairs, an odd count gains a leading zero: still the member.
        assert_eq!(member_of(&c, 7, &format!("0{digits}"), at), Some(member));
        assert_eq!(member_of(&c, 7, "0812345678", at), None, "a phone");
        assert_eq!(member_of(&c, 7, "66812345678", at), None);
    }
}
