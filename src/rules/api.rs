//! Earning rules over the API.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Condition, EarningRules};
use crate::audit::{self, Change};
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::http::json::JsonBody;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_earning_rules, put_earning_rules))
}

/// The shop's multipliers, caps and stamp cards (the base rate is in the ledger settings).
#[utoipa::path(get, path = "/rules/earning", tag = "rules", operation_id = "get_earning_rules",
    security(("api_key" = ["tenant.read"])), responses((status = 200, body = EarningRules)))]
pub(crate) async fn get_earning_rules(
    State(app): State<AppState>,
    ctx: Ctx,
) -> ApiResult<Json<EarningRules>> {
    Ok(Json(super::store::get(&app.db, ctx.tenant_id()).await?))
}

/// Replace the shop's multipliers, caps and stamp cards. Preview their effect with a
/// purchase `dry_run`.
#[utoipa::path(put, path = "/rules/earning", tag = "rules", operation_id = "put_earning_rules",
    request_body = EarningRules, security(("api_key" = ["rules.manage"])),
    responses((status = 200, body = EarningRules), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn put_earning_rules(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(rules): JsonBody<EarningRules>,
) -> ApiResult<Json<EarningRules>> {
    rules
        .validate()
        .map_err(|(field, msg)| ApiError::invalid(field, msg))?;
    for (i, m) in rules.multipliers.iter().enumerate() {
        if let Condition::Branches { branch_ids } = &m.when {
            let found =
                crate::tenants::store::existing_branch_ids(&app.db, ctx.tenant_id(), branch_ids)
                    .await?;
            if let Some(j) = branch_ids.iter().position(|b| !found.contains(b)) {
                return Err(ApiError::invalid(
                    format!("multipliers[{i}].when.branch_ids[{j}]"),
                    format!("branch {} does not exist", branch_ids[j]),
                ));
            }
        }
    }
    let mut tx = app.db.begin().await?;
    super::store::save(&mut tx, ctx.tenant_id(), &rules).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("rules.earning_changed", "tenant", ctx.tenant_id())
            .details(serde_json::to_value(&rules).unwrap_or_default()),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(rules))
}
