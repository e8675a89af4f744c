//! The ledger over the API: redemptions and adjustments, balances, history, the
//! liability report, and the tenant's ledger rules.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Currency, MAX_AMOUNT, MAX_POINTS};
use super::{BalanceSummary, HistoryLine, Kind, LedgerSettings, Liability, Posted, Posting};
use crate::audit::{self, ActorRef, Change};
use crate::auth::{Ctx, Principal};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::json::JsonBody;
use crate::http::query::{Page, PageParams, PathId, QueryParams};
use crate::state::AppState;
use crate::store::now_micros;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_ledger_settings, put_ledger_settings))
        .routes(routes!(redeem_points))
        .routes(routes!(adjust_points))
        .routes(routes!(cancel_redemption))
        .routes(routes!(member_points))
        .routes(routes!(member_ledger))
        .routes(routes!(liability_report))
}

/// Satang between `min` and 10^12 (10 billion baht).
pub(crate) fn amount_in_range(field: &str, value: i64, min: i64) -> ApiResult<i64> {
    in_range(field, value, min, MAX_AMOUNT)
}

/// Points between `min` and the most a balance holds.
fn points_in_range(field: &str, value: i64, min: i64) -> ApiResult<i64> {
    in_range(field, value, min, MAX_POINTS)
}

fn in_range(field: &str, value: i64, min: i64, max: i64) -> ApiResult<i64> {
    if value < min || value > max {
        return Err(ApiError::invalid(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(value)
}

/// The ledger key for a request: the client's Idempotency-Key when given (so a retry
/// grants nothing twice even if the first response was lost), else a fresh one. Keys
/// are the caller's own, as the `Idempotency-Key` header's are: another caller using
/// the same key makes a movement of its own.
pub(crate) fn ledger_key(prefix: &str, principal: &Principal, headers: &HeaderMap) -> String {
    match headers
        .get(crate::http::idempotency::HEADER)
        .and_then(|v| v.to_str().ok())
    {
        Some(k) => format!(
            "{prefix}:{}:{k}",
            crate::http::idempotency::owner(principal)
        ),
        None => format!("{prefix}:{}", crate::ids::next_id()),
    }
}

pub(crate) fn actor_ref(ctx: &Ctx) -> (&'static str, i64, String) {
    ctx.principal.audit_actor()
}

/// The member's id after following a merge (an alias posts to its survivor), if the
/// member exists.
async fn resolve_member(app: &AppState, tenant_id: i64, member_id: i64) -> ApiResult<Option<i64>> {
    Ok(crate::members::store::resolve_alias(&app.db, tenant_id, member_id).await?)
}

/// The shop's earning rate, expiry, pending and refund policies.
#[utoipa::path(get, path = "/ledger/settings", tag = "ledger", operation_id = "get_ledger_settings",
    security(("api_key" = ["tenant.read"])), responses((status = 200, body = LedgerSettings)))]
pub(crate) async fn get_ledger_settings(
    State(app): State<AppState>,
    ctx: Ctx,
) -> ApiResult<Json<LedgerSettings>> {
    Ok(Json(super::settings(&app.db, ctx.tenant_id()).await?))
}

/// Replace the shop's ledger rules. They apply to postings from now on; existing lots
/// keep the expiry they were given.
#[utoipa::path(put, path = "/ledger/settings", tag = "ledger", operation_id = "put_ledger_settings",
    request_body = LedgerSettings, security(("api_key" = ["rules.manage"])),
    responses((status = 200, body = LedgerSettings), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn put_ledger_settings(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(s): JsonBody<LedgerSettings>,
) -> ApiResult<Json<LedgerSettings>> {
    s.earn
        .validate()
        .map_err(|(f, m)| ApiError::invalid(format!("earn.{f}"), m))?;
    s.expiry
        .validate()
        .map_err(|m| ApiError::invalid("expiry", m))?;
    if s.pending_days > 365 {
        return Err(ApiError::invalid("pending_days", "must be at most 365"));
    }
    points_in_range("welcome_points", s.welcome_points, 0)?;
    if !(0..=MAX_POINT_VALUE_SATANG).contains(&s.point_value_satang) {
        return Err(ApiError::invalid(
            "point_value_satang",
            format!("must be between 0 and {MAX_POINT_VALUE_SATANG} satang"),
        ));
    }
    let mut tx = app.db.begin().await?;
    super::save_settings(&mut tx, ctx.tenant_id(), &s).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("ledger.settings_changed", "tenant", ctx.tenant_id())
            .details(serde_json::to_value(&s).unwrap_or_default()),
    )
    .await?;
    tx.commit().await?;
    get_ledger_settings(State(app), ctx).await
}

/// A point is worth at most 1,000 THB: with the balance limit, the liability in satang
/// then stays far inside an i64.
const MAX_POINT_VALUE_SATANG: i64 = 100_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    pub points: i64,
    #[serde(default)]
    pub currency: Currency,
    /// What the points were spent on (reward, order number, ...).
    pub reference: Option<String>,
    /// Check without spending.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DebitResult {
    /// The ledger transaction (absent for a dry run).
    pub txn_id: Option<i64>,
    pub points: i64,
    pub balance: i64,
    pub replayed: bool,
    pub dry_run: bool,
}

impl DebitResult {
    /// 201 for a new movement, 200 for a replay of an earlier one.
    fn answer(posted: Posted) -> (StatusCode, Json<DebitResult>) {
        let status = if posted.replayed {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        let body = DebitResult {
            txn_id: Some(posted.txn_id),
            points: posted.points.get(),
            balance: posted.balance.get(),
            replayed: posted.replayed,
            dry_run: false,
        };
        (status, Json(body))
    }
}

/// Post a staff- or key-initiated movement, stamped with the caller as actor.
async fn post_as_caller(
    app: &AppState,
    ctx: &Ctx,
    mut posting: Posting,
    action: &str,
) -> ApiResult<Posted> {
    let (kind, id, label) = actor_ref(ctx);
    posting.actor_kind = kind.to_string();
    posting.actor_id = Some(id);
    posting.request_hash = format!(
        "{}|{}|{}|{:?}",
        posting.member_id,
        posting.amount,
        posting.currency.as_str(),
        posting.reverses_id
    );
    super::post_one(
        &app.db,
        &posting,
        ActorRef {
            kind,
            id: Some(id),
            label: &label,
        },
        &ctx.meta,
        action,
    )
    .await
    .map_err(ApiError::from)
}

/// Spend a member's points, soonest-expiring first. Never takes the balance below zero,
/// however many requests arrive at once.
#[utoipa::path(post, path = "/members/{id}/points/redeem", tag = "ledger", operation_id = "redeem_points",
    params(("id" = i64, Path)), request_body = RedeemRequest, security(("api_key" = ["points.redeem"])),
    responses((status = 201, body = DebitResult), (status = 200, description = "dry run or replay", body = DebitResult), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn redeem_points(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(member): PathId,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RedeemRequest>,
) -> ApiResult<(StatusCode, Json<DebitResult>)> {
    let Some(member) = resolve_member(&app, ctx.tenant_id(), member).await? else {
        return Err(ApiError::not_found("member"));
    };
    let points = points_in_range("points", req.points, 1)?;
    let reference = req
        .reference
        .as_deref()
        .map(|r| crate::types::text(r, "reference", 1, 200))
        .transpose()
        .map_err(|e| ApiError::invalid("reference", e))?;
    if req.dry_run {
        let summary =
            super::balance_summary(&app.db, ctx.tenant_id(), member, req.currency).await?;
        if summary.available < points {
            return Err(super::LedgerError::InsufficientPoints {
                available: summary.available,
            }
            .into());
        }
        return Ok((
            StatusCode::OK,
            Json(DebitResult {
                txn_id: None,
                points: -points,
                balance: summary.balance - points,
                replayed: false,
                dry_run: true,
            }),
        ));
    }
    let posting = Posting {
        currency: req.currency,
        amount: crate::money::Points::new(points),
        idem_key: ledger_key("redeem", &ctx.principal, &headers),
        reason: reference,
        ..Posting::blank(ctx.tenant_id(), member, Kind::Redeem)
    };
    let posted = post_as_caller(&app, &ctx, posting, "points.redeemed").await?;
    Ok(DebitResult::answer(posted))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustRequest {
    /// Points to add (positive) or deduct (negative).
    pub points: i64,
    /// Why: shown in the member's history and the audit log.
    pub reason: String,
    #[serde(default)]
    pub currency: Currency,
}

/// Grant or deduct points by hand, with a reason. A deduction cannot take the balance
/// below zero.
#[utoipa::path(post, path = "/members/{id}/points/adjust", tag = "ledger", operation_id = "adjust_points",
    params(("id" = i64, Path)), request_body = AdjustRequest, security(("api_key" = ["points.adjust"])),
    responses((status = 201, body = DebitResult), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn adjust_points(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(member): PathId,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AdjustRequest>,
) -> ApiResult<(StatusCode, Json<DebitResult>)> {
    let Some(member) = resolve_member(&app, ctx.tenant_id(), member).await? else {
        return Err(ApiError::not_found("member"));
    };
    let reason = crate::types::text(&req.reason, "reason", 1, 200)
        .map_err(|e| ApiError::invalid("reason", e))?;
    if req.points == 0 {
        return Err(ApiError::invalid("points", "must not be zero"));
    }
    let magnitude = points_in_range("points", req.points.checked_abs().unwrap_or(i64::MAX), 1)?;
    let kind = if req.points > 0 {
        Kind::AdjustCredit
    } else {
        Kind::AdjustDebit
    };
    let posting = Posting {
        currency: req.currency,
        amount: crate::money::Points::new(magnitude),
        idem_key: ledger_key("adjust", &ctx.principal, &headers),
        reason: Some(reason),
        ..Posting::blank(ctx.tenant_id(), member, kind)
    };
    let posted = post_as_caller(&app, &ctx, posting, "points.adjusted").await?;
    Ok(DebitResult::answer(posted))
}

/// Cancel a redemption: its points go back to the lots they came from (with their
/// original expiry dates).
#[utoipa::path(post, path = "/ledger/redemptions/{id}/cancel", tag = "ledger", operation_id = "cancel_redemption",
    params(("id" = i64, Path)), security(("api_key" = ["points.adjust"])),
    responses((status = 201, body = DebitResult), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
async fn cancel_redemption(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(txn): PathId,
) -> ApiResult<(StatusCode, Json<DebitResult>)> {
    let original = super::get_txn(&app.db, ctx.tenant_id(), txn)
        .await?
        .filter(|t| t.kind == "redeem")
        .ok_or_else(|| ApiError::not_found("redemption"))?;
    // A reward's points come back with its stock and status, through its own route.
    if let Some(r) = crate::rewards::store::by_txn(&app.db, ctx.tenant_id(), txn).await? {
        return Err(ApiError::new(
            Code::WrongState,
            format!(
                "these points bought a reward: cancel redemption {r} (POST /redemptions/{r}/cancel)"
            ),
        ));
    }
    let currency = Currency::from_db(&original.currency);
    let key = format!("redeem_cancel:{txn}");
    let posting = Posting {
        currency,
        idem_key: key,
        reason: Some("redemption cancelled".into()),
        reverses_id: Some(txn),
        ..Posting::blank(ctx.tenant_id(), original.member_id, Kind::RedeemCancel)
    };
    let posted = post_as_caller(&app, &ctx, posting, "points.redemption_cancelled").await?;
    if posted.replayed {
        return Err(ApiError::new(
            Code::NothingToUndo,
            "this redemption was already cancelled",
        ));
    }
    Ok(DebitResult::answer(posted))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberPoints {
    pub points: BalanceSummary,
    pub stamps: BalanceSummary,
}

/// A member's balances: spendable, pending, and what expires in the next 30/60/90 days.
#[utoipa::path(get, path = "/members/{id}/points", tag = "ledger", operation_id = "member_points",
    params(("id" = i64, Path)), security(("api_key" = ["members.read"])),
    responses((status = 200, body = MemberPoints), (status = 404, body = crate::error::Problem)))]
async fn member_points(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(member): PathId,
) -> ApiResult<Json<MemberPoints>> {
    let Some(member) = resolve_member(&app, ctx.tenant_id(), member).await? else {
        return Err(ApiError::not_found("member"));
    };
    Ok(Json(MemberPoints {
        points: super::balance_summary(&app.db, ctx.tenant_id(), member, Currency::Points).await?,
        stamps: super::balance_summary(&app.db, ctx.tenant_id(), member, Currency::Stamps).await?,
    }))
}

/// A member's ledger history, newest first: every movement with its kind, amount, the
/// expiry of the points it credited, its receipt or reason, branch and actor.
#[utoipa::path(get, path = "/members/{id}/ledger", tag = "ledger", operation_id = "member_ledger",
    params(("id" = i64, Path), PageParams), security(("api_key" = ["members.read"])),
    responses((status = 200, body = Page<HistoryLine>), (status = 404, body = crate::error::Problem)))]
async fn member_ledger(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(member): PathId,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<Page<HistoryLine>>> {
    let Some(member) = resolve_member(&app, ctx.tenant_id(), member).await? else {
        return Err(ApiError::not_found("member"));
    };
    let limit = page.limit()?;
    let rows = super::history(&app.db, ctx.tenant_id(), member, page.before_id()?, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |l| l.id)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LiabilityQuery {
    /// Start of the period (RFC 3339; default: the beginning).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<jiff::Timestamp>,
    /// End of the period, exclusive (default: now).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<jiff::Timestamp>,
    #[serde(default)]
    pub currency: Currency,
}

/// Points liability for a period: opening, issued, redeemed, expired and outstanding,
/// where opening + issued - redeemed - expired = outstanding exactly. A movement counts
/// in the period in which it was recorded, as in a book of accounts: a purchase
/// back-dated to last month and recorded today counts today, so a period's figures
/// never change once it has ended. (A member's history lists purchases by when they
/// happened.)
#[utoipa::path(get, path = "/reports/liability", tag = "reports", operation_id = "liability_report",
    params(LiabilityQuery), security(("api_key" = ["reports.read"])), responses((status = 200, body = Liability)))]
async fn liability_report(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(q): QueryParams<LiabilityQuery>,
) -> ApiResult<Json<Liability>> {
    let from = q.from.map(|t| t.as_microsecond()).unwrap_or(i64::MIN + 1);
    let to = q.to.map(|t| t.as_microsecond()).unwrap_or(now_micros() + 1);
    if from >= to {
        return Err(ApiError::field(
            Code::InvalidQuery,
            "from",
            "from must be before to",
        ));
    }
    Ok(Json(
        super::liability(&app.db, ctx.tenant_id(), q.currency, from, to).await?,
    ))
}
