//! One-time codes that prove a member holds their phone before points are spent: six
//! digits, valid five minutes, five attempts, sends limited per phone and per client IP.
//!
//! Must never happen: a code stored in clear; one code authorising two spends; a wrong
//! guess that does not count as an attempt.

pub mod api;
pub mod sms;
pub mod store;

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Code};

use crate::ids;
use crate::store::{Db, Tx, now_micros};

pub const VALID_MICROS: i64 = 5 * 60 * 1_000_000;
pub const MAX_ATTEMPTS: i64 = 5;

/// Why a code was not sent or not accepted. The API answers it on the `otp` fields
/// ([`From<OtpError> for ApiError`]); the member page tells a wrong or spent code apart
/// to ask for it again ([`OtpError::asks_again`]).
#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    #[error("too many codes sent; try again in {wait_secs} s")]
    TooManySent { wait_secs: u64 },
    #[error("the text message could not be sent; try again")]
    NotSent,
    #[error("send a one-time code to the member's phone (POST /members/{{id}}/otp) and include it")]
    Required,
    #[error("wrong code; {attempts_left} attempts left")]
    Wrong { attempts_left: i64 },
    #[error("{}", .0.words())]
    Spent(Spent),
    /// The shop's spend settings could not be read.
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Why a code can no longer be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spent {
    NeverSent,
    Used,
    Expired,
    TooManyAttempts,
}

impl Spent {
    fn words(self) -> &'static str {
        match self {
            Spent::NeverSent => "no such code was sent to this member; request a new one",
            Spent::Used => "this code was already used; request a new one",
            Spent::Expired => "this code has expired; request a new one",
            Spent::TooManyAttempts => "too many wrong attempts; request a new code",
        }
    }
}

impl OtpError {
    /// A wrong or spent code: the member may type another one (or ask for a new one).
    pub fn asks_again(&self) -> bool {
        matches!(self, OtpError::Wrong { .. } | OtpError::Spent(_))
    }
}

impl From<OtpError> for ApiError {
    fn from(e: OtpError) -> ApiError {
        let message = e.to_string();
        match e {
            OtpError::TooManySent { wait_secs } => {
                let mut a = ApiError::new(Code::RateLimited, message);
                a.retry_after_secs = Some(wait_secs);
                a
            }
            OtpError::NotSent => ApiError::new(Code::SmsFailed, message),
            OtpError::Required => ApiError::field(Code::OtpRequired, "otp", message),
            OtpError::Wrong { .. } => ApiError::field(Code::OtpInvalid, "otp.code", message),
            OtpError::Spent(_) => ApiError::field(Code::OtpExpired, "otp.challenge_id", message),
            OtpError::Unreadable(e) => ApiError::internal(e),
            OtpError::Db(e) => e.into(),
        }
    }
}

/// Limits how often codes are sent (in memory, per process).
#[derive(Clone)]
pub struct OtpLimiter {
    per_phone: Arc<DefaultKeyedRateLimiter<String>>,
    per_ip: Arc<DefaultKeyedRateLimiter<String>>,
}

impl OtpLimiter {
    pub fn new(per_phone_per_hour: u32, per_ip_per_hour: u32) -> Self {
        let quota =
            |n: u32| Quota::per_hour(NonZeroU32::new(n.max(1)).expect("max(1) is non-zero"));
        OtpLimiter {
            per_phone: Arc::new(RateLimiter::keyed(quota(per_phone_per_hour))),
            per_ip: Arc::new(RateLimiter::keyed(quota(per_ip_per_hour))),
        }
    }

    fn check(&self, phone: &str, ip: &str) -> Result<(), u64> {
        let clock = DefaultClock::default();
        for (limiter, key) in [(&self.per_ip, ip), (&self.per_phone, phone)] {
            if let Err(not_until) = limiter.check_key(&key.to_string()) {
                return Err(not_until.wait_time_from(clock.now()).as_secs().max(1));
            }
        }
        Ok(())
    }

    pub fn shrink(&self) {
        self.per_phone.retain_recent();
        self.per_ip.retain_recent();
    }
}

/// The proof a spend request carries: the challenge it answers and the code the member
/// read from their phone.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpProof {
    pub challenge_id: i64,
    pub code: String,
}

/// A code was sent.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Challenge {
    pub challenge_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
    /// The phone it went to, masked: `+66*****5678`.
    pub sent_to: String,
}

fn hash(challenge_id: i64, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{challenge_id}:{code}")))
}

pub fn mask_phone(phone: &str) -> String {
    let n = phone.chars().count();
    phone
        .chars()
        .enumerate()
        .map(|(i, c)| if i >= 3 && i + 4 < n { '*' } else { c })
        .collect()
}

/// Send a new code to the member's phone.
pub async fn send(
    app: &crate::state::AppState,
    tenant_id: i64,
    member_id: i64,
    phone: &str,
    purpose: &str,
    ip: &str,
) -> Result<Challenge, OtpError> {
    app.otp_limiter
        .check(phone, ip)
        .map_err(|wait_secs| OtpError::TooManySent { wait_secs })?;
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
    let id = ids::next_id();
    let now = now_micros();
    store::insert_challenge(
        &app.db,
        &store::NewChallenge {
            tenant_id,
            id,
            member_id,
            code_hash: &hash(id, &code),
            purpose,
            expires_at: now + VALID_MICROS,
            created_at: now,
        },
    )
    .await?;
    let shop = crate::tenants::store::get_tenant(&app.db, tenant_id)
        .await?
        .map(|t| t.name)
        // A shop signing up has no name in the system yet.
        .unwrap_or_else(|| "Loyal".into());
    let text = format!(
        "{shop}: รหัส OTP {code} (ใช้ได้ 5 นาที) / Your code is {code}, valid 5 minutes. Never share it."
    );
    app.sms
        .send(&app.db, tenant_id, phone, &text)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "sending a one-time code failed");
            OtpError::NotSent
        })?;
    Ok(Challenge {
        challenge_id: id,
        expires_at: crate::types::timestamp(now + VALID_MICROS),
        sent_to: mask_phone(phone),
    })
}

/// Check a proof for this member (own transaction, so a wrong guess counts even though
/// the spend it came with fails). Does not use the code up: [`consume`] does, in the
/// spend's transaction. Each comparison first takes one of the code's attempts in the
/// same statement that checks one is left, so parallel guesses are compared at most
/// [`MAX_ATTEMPTS`] times in all.
pub async fn check(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    purpose: &str,
    proof: &OtpProof,
) -> Result<(), OtpError> {
    let now = now_micros();
    let taken = store::take_attempt(
        db,
        tenant_id,
        proof.challenge_id,
        member_id,
        purpose,
        now,
        MAX_ATTEMPTS,
    )
    .await?;
    let Some((code_hash, attempts)) = taken else {
        // No attempt left to take: say why.
        let row =
            store::challenge_state(db, tenant_id, proof.challenge_id, member_id, purpose).await?;
        return Err(OtpError::Spent(match row {
            None => Spent::NeverSent,
            Some(r) if r.used_at.is_some() => Spent::Used,
            Some(r) if r.expires_at <= now => Spent::Expired,
            Some(_) => Spent::TooManyAttempts,
        }));
    };
    let typed = proof.code.trim();
    if !crate::auth::secrets::constant_time_eq(&hash(proof.challenge_id, typed), &code_hash) {
        return Err(OtpError::Wrong {
            attempts_left: MAX_ATTEMPTS - attempts,
        });
    }
    Ok(())
}

/// Use the (checked) code up, in the spend's transaction: a second spend with it fails.
pub async fn consume(tx: &mut Tx, tenant_id: i64, proof: &OtpProof) -> Result<(), OtpError> {
    let n = store::use_challenge(tx, tenant_id, proof.challenge_id).await?;
    if n != 1 {
        return Err(OtpError::Spent(Spent::Used));
    }
    Ok(())
}

/// Whether the shop requires a one-time code before points are spent.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendSettings {
    /// Require a one-time code sent to the member's phone for every redemption and
    /// lucky-draw entry (recommended; turn off only where staff check identity).
    pub require_otp: bool,
}

impl Default for SpendSettings {
    fn default() -> Self {
        SpendSettings { require_otp: true }
    }
}

pub const SPEND_SETTINGS_DOC: &str = "spend_settings";

/// Check the proof a spend carries, if the shop requires one. Returns the proof to
/// consume in the spend's transaction.
pub async fn require(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    proof: Option<&OtpProof>,
) -> Result<Option<OtpProof>, OtpError> {
    let settings: SpendSettings = crate::store::docs::get(db, tenant_id, SPEND_SETTINGS_DOC)
        .await
        .map_err(|e| OtpError::Unreadable(format!("spend settings: {e}")))?;
    match proof {
        None if settings.require_otp => Err(OtpError::Required),
        None => Ok(None),
        Some(p) => {
            check(db, tenant_id, member_id, "spend", p).await?;
            Ok(Some(p.clone()))
        }
    }
}
