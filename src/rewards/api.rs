//! Rewards over the API: the catalog, code pools, redeeming, coupons at the counter,
//! and fulfilment of redemptions.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::RewardSpec;
use super::store::{self, Address, Redemption, Reward};
use super::{CouponView, MemberReward, RedeemInput, RedeemOutcome};
use crate::audit::{self, ActorRef, Change};
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::json::JsonBody;
use crate::http::query::{Page, PageParams, PathId, QueryParams};
use crate::otp::OtpProof;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rewards, create_reward))
        .routes(routes!(get_reward, update_reward, archive_reward))
        .routes(routes!(add_reward_codes))
        .routes(routes!(redeem_reward))
        .routes(routes!(member_rewards))
        .routes(routes!(member_redemptions))
        .routes(routes!(list_redemptions))
        .routes(routes!(get_redemption))
        .routes(routes!(cancel_reward_redemption))
        .routes(routes!(update_shipping))
        .routes(routes!(redemption_qr))
        .routes(routes!(check_coupon))
        .routes(routes!(use_coupon))
}

async fn tier_codes(app: &AppState, tenant: i64) -> ApiResult<Vec<String>> {
    Ok(crate::tiers::store::program(&app.db, tenant)
        .await?
        .levels
        .into_iter()
        .map(|l| l.code)
        .collect())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RewardQuery {
    /// Include archived rewards.
    #[serde(default)]
    pub include_archived: bool,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The rewards catalog, newest first.
#[utoipa::path(get, path = "/rewards", tag = "rewards", operation_id = "list_rewards",
    params(RewardQuery), security(("api_key" = ["tenant.read"])), responses((status = 200, body = Page<Reward>)))]
pub(crate) async fn list_rewards(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(q): QueryParams<RewardQuery>,
) -> ApiResult<Json<Page<Reward>>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let (limit, before) = (page.limit()?, page.before_id()?);
    let rows = store::list(&app.db, ctx.tenant_id(), q.include_archived, before, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |r| r.id)))
}

/// Add a reward to the catalog.
#[utoipa::path(post, path = "/rewards", tag = "rewards", operation_id = "create_reward",
    request_body = RewardSpec, security(("api_key" = ["rewards.manage"])),
    responses((status = 201, body = Reward), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn create_reward(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(spec): JsonBody<RewardSpec>,
) -> ApiResult<(StatusCode, Json<Reward>)> {
    spec.validate(&tier_codes(&app, ctx.tenant_id()).await?)
        .map_err(|(f, m)| ApiError::invalid(f, m))?;
    let mut tx = app.db.begin().await?;
    let id = store::create(&mut tx, ctx.tenant_id(), &spec).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("reward.created", "reward", id)
            .details(serde_json::to_value(&spec).unwrap_or_default()),
    )
    .await?;
    tx.commit().await?;
    let reward = store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("reward"))?;
    Ok((StatusCode::CREATED, Json(reward)))
}

#[utoipa::path(get, path = "/rewards/{id}", tag = "rewards", operation_id = "get_reward",
    params(("id" = i64, Path)), security(("api_key" = ["tenant.read"])),
    responses((status = 200, body = Reward), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_reward(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Reward>> {
    Ok(Json(
        store::get(&app.db, ctx.tenant_id(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("reward"))?,
    ))
}

/// Replace a reward's definition. `stock` sets what is left.
#[utoipa::path(put, path = "/rewards/{id}", tag = "rewards", operation_id = "update_reward",
    params(("id" = i64, Path)), request_body = RewardSpec, security(("api_key" = ["rewards.manage"])),
    responses((status = 200, body = Reward), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn update_reward(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    JsonBody(spec): JsonBody<RewardSpec>,
) -> ApiResult<Json<Reward>> {
    let existing = store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .filter(|r| !r.archived)
        .ok_or_else(|| ApiError::not_found("reward"))?;
    spec.validate(&tier_codes(&app, ctx.tenant_id()).await?)
        .map_err(|(f, m)| ApiError::invalid(f, m))?;
    if spec.kind != existing.spec.kind {
        return Err(ApiError::invalid(
            "kind",
            "the kind of a reward cannot change; create a new reward",
        ));
    }
    let mut tx = app.db.begin().await?;
    if !store::update(&mut tx, ctx.tenant_id(), id, &spec).await? {
        return Err(ApiError::not_found("reward"));
    }
    audit::record(
        &mut tx,
        &ctx,
        Change::new("reward.updated", "reward", id)
            .details(serde_json::to_value(&spec).unwrap_or_default()),
    )
    .await?;
    tx.commit().await?;
    get_reward(State(app), ctx, PathId(id)).await
}

/// Archive a reward: it leaves the catalog; its redemptions stay as they are.
#[utoipa::path(delete, path = "/rewards/{id}", tag = "rewards", operation_id = "archive_reward",
    params(("id" = i64, Path)), security(("api_key" = ["rewards.manage"])),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn archive_reward(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    let mut tx = app.db.begin().await?;
    if !store::archive(&mut tx, ctx.tenant_id(), id).await? {
        return Err(ApiError::not_found("reward"));
    }
    audit::record(&mut tx, &ctx, Change::new("reward.archived", "reward", id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodesRequest {
    /// Up to 10,000 codes per request; codes already in the pool are skipped.
    pub codes: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CodesAdded {
    pub added: u64,
    pub duplicates: u64,
    pub available: i64,
}

/// Upload codes (e.g. partner vouchers) to a digital-code reward's pool.
#[utoipa::path(post, path = "/rewards/{id}/codes", tag = "rewards", operation_id = "add_reward_codes",
    params(("id" = i64, Path)), request_body = CodesRequest, security(("api_key" = ["rewards.manage"])),
    responses((status = 201, body = CodesAdded), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn add_reward_codes(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    JsonBody(req): JsonBody<CodesRequest>,
) -> ApiResult<(StatusCode, Json<CodesAdded>)> {
    let reward = store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .filter(|r| !r.archived)
        .ok_or_else(|| ApiError::not_found("reward"))?;
    if reward.spec.kind != super::model::RewardKind::DigitalCode {
        return Err(ApiError::invalid(
            "codes",
            "only digital-code rewards have a code pool",
        ));
    }
    if req.codes.is_empty() || req.codes.len() > 10_000 {
        return Err(ApiError::invalid("codes", "send 1 to 10,000 codes"));
    }
    let mut codes = Vec::with_capacity(req.codes.len());
    for (i, c) in req.codes.iter().enumerate() {
        let c = crate::types::text(c, "a code", 1, 100)
            .map_err(|m| ApiError::invalid(format!("codes[{i}]"), m))?;
        codes.push(c);
    }
    let mut tx = app.db.begin().await?;
    let added = store::add_codes(&mut tx, ctx.tenant_id(), id, &codes).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("reward.codes_added", "reward", id)
            .details(serde_json::json!({"added": added})),
    )
    .await?;
    tx.commit().await?;
    let available = store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .and_then(|r| r.codes_available)
        .unwrap_or(0);
    Ok((
        StatusCode::CREATED,
        Json(CodesAdded {
            added,
            duplicates: codes.len() as u64 - added,
            available,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemRewardRequest {
    pub member_id: i64,
    /// The one-time code the member received (required unless the shop turned it off).
    pub otp: Option<OtpProof>,
    /// Where to ship (shipped rewards).
    pub shipping: Option<Address>,
    /// Check price, tier, limits and balance without redeeming.
    #[serde(default)]
    pub dry_run: bool,
}

impl From<super::model::AddressError> for ApiError {
    fn from(e: super::model::AddressError) -> ApiError {
        ApiError::invalid(format!("shipping.{}", e.field), e.message)
    }
}

/// Redeem a reward for a member: the points and the stock are taken in one
/// transaction; a coupon gets a code and QR, a digital reward its code, a shipped reward
/// goes to fulfilment. Needs the one-time code the member received (POST
/// /members/{id}/otp) unless the shop turned that off. Send an Idempotency-Key so a
/// retry returns the first redemption.
#[utoipa::path(post, path = "/rewards/{id}/redeem", tag = "rewards", operation_id = "redeem_reward",
    params(("id" = i64, Path)), request_body = RedeemRewardRequest, security(("api_key" = ["points.redeem"])),
    responses((status = 201, body = RedeemOutcome), (status = 200, description = "dry run or replay", body = RedeemOutcome),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn redeem_reward(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RedeemRewardRequest>,
) -> ApiResult<(StatusCode, Json<RedeemOutcome>)> {
    let tenant = ctx.tenant_id();
    // The reward first: another shop's reward id is simply not found.
    store::get(&app.db, tenant, id)
        .await?
        .filter(|r| !r.archived)
        .ok_or_else(|| ApiError::not_found("reward"))?;
    let member = crate::members::store::get(&app.db, tenant, req.member_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "member_id",
                format!("member {} does not exist", req.member_id),
            )
        })?;
    if member.status != "active" {
        return Err(ApiError::invalid("member_id", "this member is blocked"));
    }
    let shipping = req.shipping.as_ref().map(Address::checked).transpose()?;
    let idem_key = crate::ledger::api::ledger_key("reward", &ctx.principal, &headers);
    let input = RedeemInput {
        tenant_id: tenant,
        reward_id: id,
        member_id: member.id,
        shipping,
        otp: req.otp,
        idem_key,
        dry_run: req.dry_run,
    };
    let (kind, actor_id, label) = ctx.principal.audit_actor();
    let outcome = super::redeem(
        &app.db,
        &input,
        ActorRef {
            kind,
            id: Some(actor_id),
            label: &label,
        },
        &ctx.meta,
    )
    .await?;
    let status = if outcome.replayed || outcome.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(outcome)))
}

/// The catalog as one member sees it: their tier's price, and whether they can redeem
/// each reward now (and why not).
#[utoipa::path(get, path = "/members/{id}/rewards", tag = "rewards", operation_id = "member_rewards",
    params(("id" = i64, Path)), security(("api_key" = ["members.read"])),
    responses((status = 200, body = Vec<MemberReward>), (status = 404, body = crate::error::Problem)))]
async fn member_rewards(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(member): PathId,
) -> ApiResult<Json<Vec<MemberReward>>> {
    let member = crate::members::store::get(&app.db, ctx.tenant_id(), member)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    Ok(Json(
        super::catalog_for(&app.db, ctx.tenant_id(), member.id).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RedemptionQuery {
    #[param(inline)]
    pub status: Option<super::model::RedemptionStatus>,
    #[param(inline)]
    pub kind: Option<super::model::RewardKind>,
    pub member_id: Option<i64>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

async fn redemption_page(
    app: &AppState,
    tenant: i64,
    q: RedemptionQuery,
) -> ApiResult<Page<Redemption>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let (limit, before) = (page.limit()?, page.before_id()?);
    let filter = store::Filter {
        status: q.status.map(|s| s.as_str().to_string()),
        kind: q.kind.map(|k| k.as_str().to_string()),
        member_id: q.member_id,
    };
    let rows = store::list_redemptions(&app.db, tenant, &filter, before, limit).await?;
    Ok(Page::from_rows(rows, limit, |r| r.id))
}

/// A member's redemptions (coupons, codes, shipments), newest first.
#[utoipa::path(get, path = "/members/{id}/redemptions", tag = "rewards", operation_id = "member_redemptions",
    params(("id" = i64, Path), PageParams), security(("api_key" = ["members.read"])),
    responses((status = 200, body = Page<Redemption>), (status = 404, body = crate::error::Problem)))]
async fn member_redemptions(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(member): PathId,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<Page<Redemption>>> {
    let member = crate::members::store::get(&app.db, ctx.tenant_id(), member)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    let q = RedemptionQuery {
        status: None,
        kind: None,
        member_id: Some(member.id),
        limit: page.limit,
        cursor: page.cursor,
    };
    Ok(Json(redemption_page(&app, ctx.tenant_id(), q).await?))
}

/// Redemptions, newest first: the fulfilment queue is `?kind=shipped&status=pending`.
#[utoipa::path(get, path = "/redemptions", tag = "rewards", operation_id = "list_redemptions",
    params(RedemptionQuery), security(("api_key" = ["fulfilment.manage"])), responses((status = 200, body = Page<Redemption>)))]
async fn list_redemptions(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(q): QueryParams<RedemptionQuery>,
) -> ApiResult<Json<Page<Redemption>>> {
    Ok(Json(redemption_page(&app, ctx.tenant_id(), q).await?))
}

#[utoipa::path(get, path = "/redemptions/{id}", tag = "rewards", operation_id = "get_redemption",
    params(("id" = i64, Path)), security(("api_key" = ["fulfilment.manage"])),
    responses((status = 200, body = Redemption), (status = 404, body = crate::error::Problem)))]
async fn get_redemption(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Redemption>> {
    Ok(Json(
        store::get_redemption(&app.db, ctx.tenant_id(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("redemption"))?,
    ))
}

/// Cancel a redemption and refund its points: a coupon or voucher not yet used, or a
/// shipment not yet shipped. The unit goes back to stock.
#[utoipa::path(post, path = "/redemptions/{id}/cancel", tag = "rewards", operation_id = "cancel_reward_redemption",
    params(("id" = i64, Path)), security(("api_key" = ["fulfilment.manage"])),
    responses((status = 200, body = Redemption), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
async fn cancel_reward_redemption(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Redemption>> {
    let (kind, actor_id, label) = ctx.principal.audit_actor();
    Ok(Json(
        super::cancel(
            &app.db,
            ctx.tenant_id(),
            id,
            ActorRef {
                kind,
                id: Some(actor_id),
                label: &label,
            },
            &ctx.meta,
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingUpdate {
    /// `packed`, `shipped` or `delivered`.
    pub status: String,
    /// Required when shipping: `Thailand Post`, `Kerry`, `Flash`, ...
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

/// Move a shipped reward along: pending → packed → shipped (with carrier and tracking
/// number) → delivered.
#[utoipa::path(post, path = "/redemptions/{id}/shipping", tag = "rewards", operation_id = "update_shipping",
    params(("id" = i64, Path)), request_body = ShippingUpdate, security(("api_key" = ["fulfilment.manage"])),
    responses((status = 200, body = Redemption), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn update_shipping(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    JsonBody(req): JsonBody<ShippingUpdate>,
) -> ApiResult<Json<Redemption>> {
    // The redemption first: another shop's id is simply not found.
    store::get_redemption(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("redemption"))?;
    if !["packed", "shipped", "delivered"].contains(&req.status.as_str()) {
        return Err(ApiError::invalid(
            "status",
            "must be packed, shipped or delivered",
        ));
    }
    let opt = |v: &Option<String>, f: &str| {
        v.as_deref()
            .map(|s| crate::types::text(s, f, 1, 100).map_err(|m| ApiError::invalid(f, m)))
            .transpose()
    };
    let carrier = opt(&req.carrier, "carrier")?;
    let tracking = opt(&req.tracking_number, "tracking_number")?;
    if req.status == "shipped" && (carrier.is_none() || tracking.is_none()) {
        let field = if carrier.is_none() {
            "carrier"
        } else {
            "tracking_number"
        };
        return Err(ApiError::field(
            Code::MissingField,
            field,
            "a shipment needs its carrier and tracking number",
        ));
    }
    let (kind, actor_id, label) = ctx.principal.audit_actor();
    let actor = ActorRef {
        kind,
        id: Some(actor_id),
        label: &label,
    };
    Ok(Json(
        super::advance_shipping(
            &app.db,
            ctx.tenant_id(),
            id,
            &req.status,
            carrier.as_deref(),
            tracking.as_deref(),
            actor,
            &ctx.meta,
        )
        .await?,
    ))
}

/// The coupon's QR code (SVG), to show at the counter.
#[utoipa::path(get, path = "/redemptions/{id}/qr.svg", tag = "rewards", operation_id = "redemption_qr",
    params(("id" = i64, Path)), security(("api_key" = ["members.read"])),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = crate::error::Problem)))]
async fn redemption_qr(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<impl IntoResponse> {
    let r = store::get_redemption(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("redemption"))?;
    let code = r.coupon_code.ok_or_else(|| ApiError::not_found("coupon"))?;
    let svg = crate::qr::svg(&super::model::display_code(&code));
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponCheck {
    /// The code as typed or scanned (`K7M2-QX9P`; case, spaces and dashes do not matter).
    pub code: String,
}

/// Look up a coupon at the counter: the reward, the member, and whether it can be used.
#[utoipa::path(post, path = "/coupons/check", tag = "rewards", operation_id = "check_coupon",
    request_body = CouponCheck, security(("api_key" = ["coupons.validate"])),
    responses((status = 200, body = CouponView), (status = 404, body = crate::error::Problem)))]
async fn check_coupon(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<CouponCheck>,
) -> ApiResult<Json<CouponView>> {
    let view = super::check_coupon(&app.db, ctx.tenant_id(), &req.code).await?;
    // Look-ups are audited too: they show a member's name, and guessing codes shows up.
    let mut tx = app.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("coupon.checked", "redemption", view.redemption.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(view))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponUse {
    pub code: String,
    /// The branch where it is used.
    pub branch_id: i64,
}

/// Mark a coupon or voucher used at a branch. It works once: a second attempt is
/// refused with who used it, when and where.
#[utoipa::path(post, path = "/coupons/use", tag = "rewards", operation_id = "use_coupon",
    request_body = CouponUse, security(("api_key" = ["coupons.validate"])),
    responses((status = 200, body = Redemption), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn use_coupon(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<CouponUse>,
) -> ApiResult<Json<Redemption>> {
    ctx.principal
        .check_branch(Some(req.branch_id), "branch_id")?;
    match crate::tenants::store::get_branch(&app.db, ctx.tenant_id(), req.branch_id).await? {
        Some(b) if b.active => {}
        _ => {
            return Err(ApiError::invalid(
                "branch_id",
                format!("branch {} does not exist or is inactive", req.branch_id),
            ));
        }
    }
    let (kind, actor_id, label) = ctx.principal.audit_actor();
    let actor = ActorRef {
        kind,
        id: Some(actor_id),
        label: &label,
    };
    Ok(Json(
        super::use_coupon(
            &app.db,
            ctx.tenant_id(),
            &req.code,
            req.branch_id,
            actor,
            &ctx.meta,
        )
        .await?,
    ))
}
