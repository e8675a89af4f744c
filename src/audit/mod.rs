//! The audit log: who did what, to what, when, from where, in which request. Written in
//! the same transaction as the change it describes, so there is no change without its
//! entry. Entries are never updated or deleted by the application.

pub mod api;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::store::{Db, Tx};

/// Who sent a request (or which job acted) and how to find it in the logs: the audit
/// log keeps both with every change. The HTTP layer makes one per request.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub ip: String,
}

/// One change to record.
pub struct Change<'a> {
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<i64>,
    pub details: serde_json::Value,
}

impl<'a> Change<'a> {
    pub fn new(action: &'a str, target_kind: &'a str, target_id: impl Into<Option<i64>>) -> Self {
        Change {
            action,
            target_kind,
            target_id: target_id.into(),
            details: serde_json::json!({}),
        }
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Who made a change when there is no signed-in principal yet (signup, invitation).
#[derive(Clone, Copy)]
pub struct ActorRef<'a> {
    pub kind: &'a str,
    pub id: Option<i64>,
    pub label: &'a str,
}

/// Who makes a change through a request, as the audit log names them: the request's
/// principal (`auth::Ctx` is one).
pub trait Author {
    fn tenant_id(&self) -> i64;
    /// (kind, id, label) of the actor.
    fn actor(&self) -> (&'static str, i64, String);
    fn meta(&self) -> &RequestMeta;
}

/// Record a change made by the request's principal.
pub async fn record(tx: &mut Tx, who: &impl Author, change: Change<'_>) -> sqlx::Result<()> {
    let (kind, id, label) = who.actor();
    record_as(
        tx,
        who.tenant_id(),
        ActorRef {
            kind,
            id: Some(id),
            label: &label,
        },
        who.meta(),
        change,
    )
    .await
}

/// Record a change made by an explicitly named actor.
pub async fn record_as(
    tx: &mut Tx,
    tenant_id: i64,
    actor: ActorRef<'_>,
    meta: &RequestMeta,
    change: Change<'_>,
) -> sqlx::Result<()> {
    record_all(tx, &[(tenant_id, actor, meta, change)]).await
}

/// Record many changes, each as (tenant, actor, request, change), with one statement
/// (a group of purchases committed together).
pub async fn record_all(
    tx: &mut Tx,
    changes: &[(i64, ActorRef<'_>, &RequestMeta, Change<'_>)],
) -> sqlx::Result<()> {
    store::insert_entries(tx, changes).await?;
    Ok(())
}

/// An audit-log entry as listed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    #[sqlx(skip)]
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    #[serde(skip)]
    #[schema(ignore)]
    pub at_micros: i64,
    /// `staff`, `api_key`, `member` (on the member page) or `system`.
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    /// The staff email or API key name at the time.
    pub actor_label: String,
    /// What happened, e.g. `branch.created`.
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<i64>,
    #[sqlx(skip)]
    pub details: serde_json::Value,
    #[serde(skip)]
    #[schema(ignore)]
    pub details_json: String,
    pub ip: String,
    pub request_id: String,
}

/// Filters for listing the audit log; all optional and combined with AND.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    pub actor_kind: Option<String>,
    pub actor_id: Option<i64>,
    pub action: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<i64>,
    pub request_id: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<jiff::Timestamp>,
    /// Only entries before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<jiff::Timestamp>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn list(
    db: &Db,
    tenant_id: i64,
    f: &Filter,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Entry>> {
    let mut rows = store::entries(db, tenant_id, f, before_id, limit).await?;
    for r in &mut rows {
        r.at = crate::types::timestamp(r.at_micros);
        r.details = serde_json::from_str(&r.details_json).unwrap_or_default();
    }
    Ok(rows)
}
