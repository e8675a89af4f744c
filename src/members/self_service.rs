//! What a member does for themselves on the member page, under Thailand's PDPA: change
//! their name, email and birthday; give or withdraw marketing consent per channel (as
//! easily as it was given); download everything held on them; and ask to be erased, a
//! request staff carry out (with the existing erasure) within 30 days.

use serde::Serialize;

use super::consent::{self, Channel};
use super::model::Birthday;
use super::store::{self, ProfileChanges};
use crate::audit::{self, ActorRef, Change, RequestMeta};
use crate::store::Db;
use crate::types::{Email, text};

/// The days a shop has to carry out an erasure request (PDPA: without delay, and within
/// 30 days of the request).
pub const ERASURE_DAYS: i64 = 30;

/// The member acting on their own record, as the audit log names them.
fn member(member_id: i64) -> ActorRef<'static> {
    ActorRef {
        kind: "member",
        id: Some(member_id),
        label: "member page",
    }
}

/// Why a member's own change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SelfServiceError {
    /// A field as typed is not acceptable (`first_name`, `last_name`, `email`, `birthday`).
    #[error("{field}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("erasure was already asked for")]
    AlreadyAsked,
    #[error("member not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A member's profile as they may change it themselves, as typed.
#[derive(Clone, Debug, Default)]
pub struct OwnProfile {
    pub first_name: String,
    pub last_name: String,
    /// Empty: no email.
    pub email: String,
    /// `YYYY-MM-DD`, or empty: none given.
    pub birthday: String,
}

impl OwnProfile {
    /// Checked, as the changes to store. An empty email or birthday is left as it was
    /// (a member cannot clear what the shop's records need).
    fn changes(&self) -> Result<ProfileChanges, SelfServiceError> {
        let field =
            |field: &'static str| move |message: String| SelfServiceError::Field { field, message };
        let first_name =
            text(&self.first_name, "first name", 1, 100).map_err(field("first_name"))?;
        let last_name = text(&self.last_name, "last name", 0, 100).map_err(field("last_name"))?;
        let email = match self.email.trim() {
            "" => None,
            typed => Some(String::from(Email::parse(typed).map_err(field("email"))?)),
        };
        let birthday = match self.birthday.trim() {
            "" => None,
            typed => Some(String::from(
                Birthday::parse(typed).map_err(|e| field("birthday")(e.to_string()))?,
            )),
        };
        Ok(ProfileChanges {
            first_name: Some(first_name),
            last_name: Some(last_name),
            email,
            birthday,
            ..Default::default()
        })
    }
}

/// Save the member's own profile; the audit log says which fields, not what to.
pub async fn update_profile(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    profile: &OwnProfile,
    meta: &RequestMeta,
) -> Result<(), SelfServiceError> {
    let changes = profile.changes()?;
    let mut fields = vec!["first_name", "last_name"];
    fields.extend(changes.email.as_ref().map(|_| "email"));
    fields.extend(changes.birthday.as_ref().map(|_| "birthday"));
    let mut tx = db.begin().await?;
    if !store::update(&mut tx, tenant_id, member_id, &changes).await? {
        return Err(SelfServiceError::NotFound);
    }
    let change = Change::new("member.updated", "member", member_id)
        .details(serde_json::json!({"fields": fields}));
    audit::record_as(&mut tx, tenant_id, member(member_id), meta, change).await?;
    tx.commit().await?;
    Ok(())
}

/// Give or withdraw marketing consent on one channel, recorded as given on the member
/// page. Nothing is recorded when it is already so.
pub async fn set_marketing(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    channel: Channel,
    granted: bool,
    meta: &RequestMeta,
) -> Result<bool, SelfServiceError> {
    let history = consent::history(db, tenant_id, member_id).await?;
    let now = consent::current(&history)
        .iter()
        .any(|c| c.purpose == channel.purpose() && c.granted);
    if now == granted {
        return Ok(false);
    }
    let mut tx = db.begin().await?;
    consent::record(
        &mut tx,
        tenant_id,
        member_id,
        channel.purpose(),
        granted,
        None,
        "member_page",
    )
    .await?;
    let action = if granted {
        "consent.given"
    } else {
        "consent.withdrawn"
    };
    let change = Change::new(action, "member", member_id)
        .details(serde_json::json!({"purpose": channel.purpose()}));
    audit::record_as(&mut tx, tenant_id, member(member_id), meta, change).await?;
    tx.commit().await?;
    Ok(true)
}

/// Record that the member downloaded everything held on them.
pub async fn record_export(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    meta: &RequestMeta,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let change = Change::new("member.exported", "member", member_id);
    audit::record_as(&mut tx, tenant_id, member(member_id), meta, change).await?;
    tx.commit().await
}

/// A member's request to be erased, open until staff erase them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErasureRequest {
    pub id: i64,
    pub member_id: i64,
    /// When the member asked.
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: jiff::Timestamp,
    /// By when the shop must have erased them (30 days after the request).
    #[schema(value_type = String, format = DateTime)]
    pub due_at: jiff::Timestamp,
}

/// Record the member's request to be erased (one open request at a time).
pub async fn ask_erasure(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
    meta: &RequestMeta,
    now: i64,
) -> Result<ErasureRequest, SelfServiceError> {
    let due_at = now + ERASURE_DAYS * 86_400_000_000;
    let id = crate::ids::next_id();
    let mut tx = db.begin().await?;
    // Under the member's lock, as an erasure takes it: two requests at once make one.
    crate::ledger::lock_members(&mut tx, tenant_id, &[member_id]).await?;
    if store::open_erasure_request(&mut tx, tenant_id, member_id)
        .await?
        .is_some()
    {
        return Err(SelfServiceError::AlreadyAsked);
    }
    store::insert_erasure_request(&mut tx, tenant_id, id, member_id, now, due_at).await?;
    let change = Change::new("member.erasure_requested", "member", member_id);
    audit::record_as(&mut tx, tenant_id, member(member_id), meta, change).await?;
    tx.commit().await?;
    Ok(ErasureRequest {
        id,
        member_id,
        requested_at: crate::types::timestamp(now),
        due_at: crate::types::timestamp(due_at),
    })
}

/// The member's open erasure request, if any.
pub async fn open_erasure(
    db: &Db,
    tenant_id: i64,
    member_id: i64,
) -> sqlx::Result<Option<ErasureRequest>> {
    store::erasure_requests(db, tenant_id, Some(member_id))
        .await
        .map(|mut r| r.pop())
}

/// Every open erasure request of a shop, the soonest due first.
pub async fn open_erasures(db: &Db, tenant_id: i64) -> sqlx::Result<Vec<ErasureRequest>> {
    store::erasure_requests(db, tenant_id, None).await
}
