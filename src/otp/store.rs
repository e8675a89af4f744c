//! The only SQL of one-time codes and of the developer mailbox. Codes arrive here
//! already hashed.

use super::sms::MailboxMessage;
use crate::store::{Db, Tx, now_micros};
use crate::{ids, on_db, on_tx};

/// A new challenge's row (a code sent, no attempt made yet).
pub struct NewChallenge<'a> {
    pub tenant_id: i64,
    pub id: i64,
    pub member_id: i64,
    pub code_hash: &'a str,
    pub purpose: &'a str,
    pub expires_at: i64,
    pub created_at: i64,
}

/// Write a new challenge.
pub async fn insert_challenge(db: &Db, c: &NewChallenge<'_>) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query(
        "INSERT INTO otp_challenges (tenant_id, id, member_id, code_hash, purpose, attempts, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7)")
        .bind(c.tenant_id).bind(c.id).bind(c.member_id).bind(c.code_hash).bind(c.purpose).bind(c.expires_at).bind(c.created_at)
        .execute(pool).await.map(|r| r.rows_affected()))
}

/// Take one attempt of a member's unused challenge that is live at `now` and has fewer
/// than `max_attempts`, in the statement that checks one is left (so parallel guesses
/// cannot take more): its code hash and the attempts made with this one, or none.
pub async fn take_attempt(
    db: &Db,
    tenant_id: i64,
    challenge_id: i64,
    member_id: i64,
    purpose: &str,
    now: i64,
    max_attempts: i64,
) -> sqlx::Result<Option<(String, i64)>> {
    on_db!(db, pool => sqlx::query_as(
        "UPDATE otp_challenges SET attempts = attempts + 1
         WHERE tenant_id = $1 AND id = $2 AND member_id = $3 AND purpose = $4
           AND used_at IS NULL AND expires_at > $5 AND attempts < $6
         RETURNING code_hash, attempts")
        .bind(tenant_id).bind(challenge_id).bind(member_id).bind(purpose).bind(now).bind(max_attempts)
        .fetch_optional(pool).await)
}

/// When a challenge expires and whether it was used.
#[derive(sqlx::FromRow)]
pub struct ChallengeState {
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A member's challenge for a purpose, to say why no attempt was left.
pub async fn challenge_state(
    db: &Db,
    tenant_id: i64,
    challenge_id: i64,
    member_id: i64,
    purpose: &str,
) -> sqlx::Result<Option<ChallengeState>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT expires_at, used_at FROM otp_challenges WHERE tenant_id = $1 AND id = $2 AND member_id = $3 AND purpose = $4")
        .bind(tenant_id).bind(challenge_id).bind(member_id).bind(purpose).fetch_optional(pool).await)
}

/// Mark a challenge used, unless it already was: the rows changed (0 or 1).
pub async fn use_challenge(tx: &mut Tx, tenant_id: i64, challenge_id: i64) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("UPDATE otp_challenges SET used_at = $3 WHERE tenant_id = $1 AND id = $2 AND used_at IS NULL")
        .bind(tenant_id).bind(challenge_id).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))
}

/// Put a text message in the shop's developer mailbox.
pub async fn insert_mailbox_message(
    db: &Db,
    tenant_id: i64,
    phone: &str,
    body: &str,
) -> sqlx::Result<u64> {
    on_db!(db, pool => sqlx::query("INSERT INTO sms_outbox (tenant_id, id, phone, body, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant_id).bind(ids::next_id()).bind(phone).bind(body).bind(now_micros())
        .execute(pool).await.map(|r| r.rows_affected()))
}

/// The latest `limit` messages of a shop's developer mailbox, newest first.
pub async fn mailbox_messages(
    db: &Db,
    tenant_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<MailboxMessage>> {
    on_db!(db, pool => sqlx::query_as("SELECT id, phone, body, created_at FROM sms_outbox WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2")
        .bind(tenant_id).bind(limit).fetch_all(pool).await)
}
