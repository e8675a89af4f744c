//! Data-subject rights under Thailand's PDPA: a machine-readable export of everything
//! held on a member, and erasure by anonymisation (ledger totals stay exact).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{self, Member};
use crate::audit::{self, Change};
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::query::PathId;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_member))
        .routes(routes!(erase_member))
}

/// Everything held on a member, as one JSON document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberExport {
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: jiff::Timestamp,
    pub shop: String,
    pub member: Member,
    /// The national ID in full (the export goes to the person themselves).
    pub national_id: Option<String>,
    pub points: crate::ledger::BalanceSummary,
    pub stamps: crate::ledger::BalanceSummary,
    /// Every movement of their points and stamps, oldest first.
    pub ledger: Vec<crate::ledger::HistoryLine>,
    /// Consents given and withdrawn, oldest first.
    pub consents: Vec<super::consent::ConsentRecord>,
    /// What staff did to their record.
    pub audit: Vec<crate::audit::Entry>,
}

/// Export everything held on a member (PDPA access request), machine-readable.
/// The export itself is audited.
#[utoipa::path(get, path = "/members/{id}/export", tag = "privacy", operation_id = "export_member",
    params(("id" = i64, Path)), security(("api_key" = ["members.sensitive"])),
    responses((status = 200, body = MemberExport), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn export_member(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<MemberExport>> {
    let tenant = ctx.tenant_id();
    let export = export(&app, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    let mut tx = app.db.begin().await?;
    audit::record(&mut tx, &ctx, Change::new("member.exported", "member", id)).await?;
    tx.commit().await?;
    Ok(Json(export))
}

/// Everything held on a member (`None`: no such member). The caller records who took it.
pub async fn export(app: &AppState, tenant: i64, id: i64) -> sqlx::Result<Option<MemberExport>> {
    let Some(member) = store::get(&app.db, tenant, id).await? else {
        return Ok(None);
    };
    let national_id = match store::sealed_national_id(&app.db, tenant, id).await? {
        Some(s) => app.cipher.decrypt(&s, &format!("member:{tenant}:{id}")),
        None => None,
    };
    let (points, stamps, _) = crate::ledger::member_view(&app.db, tenant, id).await?;
    let ledger = crate::ledger::full_history(&app.db, tenant, id).await?;
    let filter = crate::audit::Filter {
        target_kind: Some("member".into()),
        target_id: Some(id),
        ..Default::default()
    };
    let audit_entries = crate::audit::list(&app.db, tenant, &filter, i64::MAX, 10_000).await?;
    let consents = super::consent::history(&app.db, tenant, id).await?;
    let shop = crate::tenants::store::get_tenant(&app.db, tenant)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    Ok(Some(MemberExport {
        exported_at: jiff::Timestamp::now(),
        shop,
        member,
        national_id,
        points,
        stamps,
        ledger,
        consents,
        audit: audit_entries,
    }))
}

/// Erase a member (PDPA erasure): their identifiers, profile, tags, attributes and the
/// free text about them are removed; the record stays as `erased` with its ledger
/// amounts, so balances, the liability and every report are unchanged.
#[utoipa::path(post, path = "/members/{id}/erase", tag = "privacy", operation_id = "erase_member",
    params(("id" = i64, Path)), security(("api_key" = ["members.sensitive"])),
    responses((status = 200, body = Member), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn erase_member(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Member>> {
    let tenant = ctx.tenant_id();
    let member = store::get(&app.db, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    if member.status == "erased" {
        return Err(ApiError::new(
            Code::NothingToUndo,
            "this member was already erased",
        ));
    }
    let mut tx = app.db.begin().await?;
    // Under the member's lock, as a merge takes it: a merge and an erasure at once run
    // one after the other, and an erased member's data is never merged into another.
    crate::ledger::lock_members(&mut tx, tenant, &[id]).await?;
    match store::status_in(&mut tx, tenant, id).await?.as_deref() {
        Some("erased") => {
            return Err(ApiError::new(
                Code::NothingToUndo,
                "this member was already erased",
            ));
        }
        Some("merged") => {
            return Err(ApiError::new(
                Code::WrongState,
                "this member was merged into another a moment ago; erase that one",
            ));
        }
        _ => {}
    }
    store::anonymise(&mut tx, tenant, id).await?;
    store::close_erasure_requests(&mut tx, tenant, id, crate::store::now_micros()).await?;
    let scrubbed = crate::ledger::scrub_free_text(&mut tx, tenant, id).await?
        + crate::rewards::store::scrub_addresses(&mut tx, tenant, id).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("member.erased", "member", id)
            .details(serde_json::json!({"ledger_reasons_removed": scrubbed})),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(store::get(&app.db, tenant, id).await?.ok_or_else(
        || ApiError::internal("erased member vanished"),
    )?))
}
