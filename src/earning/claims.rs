//! One-time claim QR codes: staff create one for a bill when the customer's phone is not
//! at hand; the member scans it on their page and collects the points the rules give.
//! It expires (10 minutes by default) and works once: the purchase it records has the
//! receipt `claim:<id>`, so a second member is refused by the ledger's own receipt
//! check, and the same member scanning twice gets the first result.

use serde::Serialize;

use super::store;
use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Change};
use crate::auth::secrets::{random_token, token_hash};
use crate::error::{ApiError, Code};
use crate::ids;
use crate::ledger::LedgerError;
use crate::store::{Db, now_micros};

pub use super::store::Claim;

/// Why a claim's points could not be collected ([`From<ClaimError> for ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("claim not found")]
    NotFound,
    #[error("this QR code was already used")]
    AlreadyUsed,
    #[error("this QR code has expired")]
    Expired,
    #[error(transparent)]
    Earn(super::EarnError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<super::EarnError> for ClaimError {
    /// The claim's receipt recorded for someone else: another member collected it first.
    fn from(e: super::EarnError) -> ClaimError {
        match e {
            super::EarnError::ReceiptReused | super::EarnError::Ledger(LedgerError::KeyReused) => {
                ClaimError::AlreadyUsed
            }
            e => ClaimError::Earn(e),
        }
    }
}

impl From<ClaimError> for ApiError {
    fn from(e: ClaimError) -> ApiError {
        let message = e.to_string();
        match e {
            ClaimError::NotFound => ApiError::new(Code::NotFound, message),
            ClaimError::AlreadyUsed | ClaimError::Expired => {
                ApiError::new(Code::WrongState, message)
            }
            ClaimError::Earn(e) => e.into(),
            ClaimError::Db(e) => e.into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct NewClaim {
    pub id: i64,
    /// The link the QR code holds (the member page's claim page).
    pub url: String,
    /// The QR code of `url`, as SVG.
    pub qr_svg: String,
    pub amount_satang: i64,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
}

#[allow(clippy::too_many_arguments)]
pub async fn create(
    db: &Db,
    public_url: &str,
    slug: &str,
    tenant_id: i64,
    amount_satang: i64,
    branch_id: Option<i64>,
    valid_minutes: i64,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
) -> sqlx::Result<NewClaim> {
    let id = ids::next_id();
    let token = random_token();
    let now = now_micros();
    let expires_at = now + valid_minutes * 60_000_000;
    let mut tx = db.begin().await?;
    store::insert_claim(
        &mut tx,
        &store::NewClaimRow {
            tenant_id,
            id,
            token_hash: &token_hash(&token),
            amount_satang,
            branch_id,
            created_by: actor.label,
            expires_at,
            created_at: now,
        },
    )
    .await?;
    audit::record_as(
        &mut tx,
        tenant_id,
        actor,
        meta,
        Change::new("claim.created", "claim", id)
            .details(serde_json::json!({"amount_satang": amount_satang, "branch_id": branch_id})),
    )
    .await?;
    tx.commit().await?;
    let url = format!(
        "{}/m/{slug}/claim/{token}",
        public_url.trim_end_matches('/')
    );
    let qr_svg = crate::qr::svg(&url);
    Ok(NewClaim {
        id,
        url,
        qr_svg,
        amount_satang,
        expires_at: crate::types::timestamp(expires_at),
    })
}

impl Claim {
    /// Whether `member_id` may collect it at `now`: not collected by someone else, and
    /// not expired unless this member already collected it (they get the first result).
    pub fn open_to(&self, member_id: i64, now: i64) -> Result<(), ClaimError> {
        match self.claimed_member {
            Some(m) if m != member_id => Err(ClaimError::AlreadyUsed),
            None if self.expires_at <= now => Err(ClaimError::Expired),
            _ => Ok(()),
        }
    }
}

pub async fn find(db: &Db, tenant_id: i64, token: &str) -> sqlx::Result<Option<Claim>> {
    store::claim_by_token_hash(db, tenant_id, &token_hash(token)).await
}

/// Collect a claim's points for a member.
pub async fn collect(
    db: &Db,
    tenant_id: i64,
    token: &str,
    member_id: i64,
    meta: &RequestMeta,
) -> Result<super::PurchaseOutcome, ClaimError> {
    let claim = find(db, tenant_id, token)
        .await?
        .ok_or(ClaimError::NotFound)?;
    claim.open_to(member_id, now_micros())?;
    let purchase = super::NewPurchase {
        tenant_id,
        member_id,
        amount_satang: claim.amount_satang,
        receipt: format!("claim:{}", claim.id),
        branch_id: claim.branch_id,
        occurred_at: None,
        items: vec![],
        dry_run: false,
    };
    // The claim was checked when staff made it; a refusal here is the server's fault.
    let input = super::PurchaseInput::new(purchase, now_micros()).map_err(|e| {
        ClaimError::Earn(super::EarnError::Unreadable(format!(
            "claim {}: {e}",
            claim.id
        )))
    })?;
    let actor = ActorRef {
        kind: "member",
        id: Some(member_id),
        label: "claim QR",
    };
    let outcome = super::record_purchase(db, input, actor, meta).await?;
    store::mark_claimed(db, tenant_id, claim.id, member_id).await?;
    Ok(outcome)
}
