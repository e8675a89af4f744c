//! The ledger over the API: purchases and refunds, redemptions and adjustments, balances,
//! history, the liability report, and the tenant's ledger rules.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Currency, MAX_AMOUNT, MAX_POINTS};
use super::store::{
    self, BalanceSummary, HistoryLine, Kind, LedgerSettings, Liability, Posted, Posting,
};
use crate::app::AppState;
use crate::audit::{self, ActorRef, Change};
use crate::auth::{Ctx, Principal};
use crate::earning::{
    NewPurchase, PurchaseError, PurchaseInput, PurchaseOutcome, RefundInput, RefundResult,
};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::idempotency::HoldsSecret;
use crate::http::json::JsonBody;
use crate::http::query::{Page, PageParams, PathId, QueryParams};
use crate::rules::model::LineItem;
use crate::store::now_micros;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_ledger_settings, put_ledger_settings))
        .routes(routes!(record_purchase))
        .routes(routes!(record_purchase_batch))
        .routes(routes!(get_purchase))
        .routes(routes!(refund_purchase))
        .routes(routes!(redeem_points))
        .routes(routes!(adjust_points))
        .routes(routes!(cancel_redemption))
        .routes(routes!(member_points))
        .routes(routes!(member_ledger))
        .routes(routes!(liability_report))
        .routes(routes!(create_claim))
}

/// Satang between `min` and 10^12 (10 billion baht).
fn amount_in_range(field: &str, value: i64, min: i64) -> ApiResult<i64> {
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

fn actor_ref(ctx: &Ctx) -> (&'static str, i64, String) {
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
    Ok(Json(store::settings(&app.db, ctx.tenant_id()).await?))
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
    let mut tx = app.db.begin().await?;
    store::save_settings(&mut tx, ctx.tenant_id(), &s).await?;
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    pub member_id: i64,
    /// The bill in satang (minor units): 25000 = 250.00 THB.
    pub amount_satang: i64,
    /// The POS receipt number: unique in the shop; a retry with the same receipt is
    /// answered with the first result and grants nothing twice.
    pub receipt: String,
    pub branch_id: Option<i64>,
    /// When the purchase happened (default: now). At most 5 minutes ahead, 366 days back.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<jiff::Timestamp>,
    /// The bill's lines (for product multipliers and stamp cards); they may add up to
    /// less than the bill, never more.
    #[serde(default)]
    pub items: Vec<LineItem>,
    /// Compute the points without recording anything ("what would this earn?").
    #[serde(default)]
    pub dry_run: bool,
}

/// Record a purchase: the rules compute the points (and stamps), the ledger credits
/// them, and the answer says which rules fired.
#[utoipa::path(post, path = "/purchases", tag = "ledger", operation_id = "record_purchase",
    request_body = PurchaseRequest, security(("api_key" = ["points.earn"])),
    responses((status = 201, body = PurchaseOutcome), (status = 200, description = "dry run or replay", body = PurchaseOutcome),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn record_purchase(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<PurchaseRequest>,
) -> ApiResult<(StatusCode, Json<PurchaseOutcome>)> {
    let input = check_purchase(&ctx.principal, req)?;
    let (kind, id, label) = actor_ref(&ctx);
    let actor = ActorRef {
        kind,
        id: Some(id),
        label: &label,
    };
    let outcome = crate::earning::writer::record(
        app.ledger_writer.as_ref(),
        &app.db,
        input,
        actor,
        &ctx.meta,
    )
    .await
    .map_err(|e| as_sent(e, ""))?;
    let status = if outcome.replayed || outcome.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(outcome)))
}

/// A purchase by its receipt (percent-encode a receipt with `/` in it): a till that
/// lost the answer to `POST /purchases` looks it up instead of sending it again.
#[utoipa::path(get, path = "/purchases/{receipt}", tag = "ledger", operation_id = "get_purchase",
    params(("receipt" = String, Path)), security(("api_key" = ["points.earn"])),
    responses((status = 200, body = crate::earning::store::RecordedPurchase), (status = 404, body = crate::error::Problem)))]
async fn get_purchase(
    State(app): State<AppState>,
    ctx: Ctx,
    axum::extract::Path(receipt): axum::extract::Path<String>,
) -> ApiResult<Json<crate::earning::store::RecordedPurchase>> {
    // One limited to branches sees only what was bought there.
    let principal = &ctx.principal;
    crate::earning::store::purchase_by_receipt(&app.db, ctx.tenant_id(), &receipt)
        .await?
        .filter(|p| {
            principal.branches.is_empty()
                || p.branch_id.is_some_and(|b| principal.branches.contains(&b))
        })
        .map(Json)
        .ok_or_else(|| ApiError::not_found(&format!("a purchase with receipt {receipt:?}")))
}

/// The ledger's answer in the request's terms: a receipt recorded earlier with other
/// details is the client's conflict, not a key problem, so say so on the receipt field;
/// a field the ledger names (`member_id`, `branch_id`) gets the request's path.
fn as_sent(e: ApiError, path: &str) -> ApiError {
    if e.code == Code::IdempotencyKeyReused {
        ApiError::field(
            Code::AlreadyExists,
            format!("{path}receipt"),
            "this receipt was already recorded with a different member, amount, branch or items",
        )
    } else {
        under(path, e)
    }
}

/// The error with its field named under `path` (`purchases[3].` in a batch).
fn under(path: &str, e: ApiError) -> ApiError {
    ApiError {
        field: e.field.map(|f| format!("{path}{f}")),
        ..e
    }
}

impl From<PurchaseError> for ApiError {
    fn from(e: PurchaseError) -> ApiError {
        ApiError::invalid(e.field(), e.to_string())
    }
}

/// Check a purchase request's fields (its member and branch are checked when recorded).
fn check_purchase(principal: &Principal, req: PurchaseRequest) -> ApiResult<PurchaseInput> {
    check_purchases(principal, vec![req], |_| String::new())
        .pop()
        .expect("one answer per request")
}

/// Check many purchase requests' fields, and that the caller works at their branches.
/// Their members and branches are checked when recorded, where the writer checks a
/// whole group's with one query each. `path(i)` prefixes the field names in the i-th
/// request's errors (`purchases[3].` in a batch).
fn check_purchases(
    principal: &Principal,
    reqs: Vec<PurchaseRequest>,
    path: impl Fn(usize) -> String,
) -> Vec<ApiResult<PurchaseInput>> {
    let now = now_micros();
    reqs.into_iter()
        .enumerate()
        .map(|(i, req)| {
            let path = path(i);
            let at = |e: ApiError| under(&path, e);
            principal
                .check_branch(req.branch_id, "branch_id")
                .map_err(at)?;
            let purchase = NewPurchase {
                tenant_id: principal.tenant_id,
                member_id: req.member_id,
                amount_satang: req.amount_satang,
                receipt: req.receipt,
                branch_id: req.branch_id,
                occurred_at: req.occurred_at.map(|t| t.as_microsecond()),
                items: req.items,
                dry_run: req.dry_run,
            };
            PurchaseInput::new(purchase, now).map_err(|e| at(e.into()))
        })
        .collect()
}

/// Most purchases in one batch request.
pub const MAX_BATCH: usize = 1_000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseBatch {
    /// 1 to 1,000 purchases, each as for `POST /purchases` (`dry_run` is not allowed).
    pub purchases: Vec<PurchaseRequest>,
}

/// One purchase of a batch: its status as if sent alone, and its outcome or problem.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchItem {
    /// 201 recorded, 200 replayed (the receipt was recorded before), or the error status.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchaseOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::Problem>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    pub created: usize,
    pub replayed: usize,
    pub failed: usize,
    /// One item per purchase, in the order sent.
    pub results: Vec<BatchItem>,
}

/// Record up to 1,000 purchases in one request (a POS uploading a shift, a partner's
/// nightly file). Each purchase is checked, recorded and made idempotent by its receipt
/// exactly as if sent alone; one bad purchase does not stop the others. Retrying the
/// whole batch is safe: recorded receipts answer 200 and grant nothing twice.
#[utoipa::path(post, path = "/purchases/batch", tag = "ledger", operation_id = "record_purchase_batch",
    request_body = PurchaseBatch, security(("api_key" = ["points.earn"])),
    responses((status = 200, body = BatchResult), (status = 422, body = crate::error::Problem)))]
async fn record_purchase_batch(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(batch): JsonBody<PurchaseBatch>,
) -> ApiResult<Json<BatchResult>> {
    if batch.purchases.is_empty() || batch.purchases.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "purchases",
            format!("send 1 to {MAX_BATCH} purchases"),
        ));
    }
    if let Some(i) = batch.purchases.iter().position(|p| p.dry_run) {
        return Err(ApiError::invalid(
            format!("purchases[{i}].dry_run"),
            "a batch records purchases; send a dry run alone",
        ));
    }
    let (kind, id, label) = actor_ref(&ctx);
    let actor = ActorRef {
        kind,
        id: Some(id),
        label: &label,
    };
    let checked = check_purchases(&ctx.principal, batch.purchases, |i| {
        format!("purchases[{i}].")
    });
    // Everything checked is queued at once, so the writers commit it in a few groups.
    let answers =
        futures_util::future::join_all(checked.into_iter().enumerate().map(|(i, input)| {
            let (app, meta) = (&app, &ctx.meta);
            async move {
                let input = input?;
                crate::earning::writer::record(
                    app.ledger_writer.as_ref(),
                    &app.db,
                    input,
                    actor,
                    meta,
                )
                .await
                .map_err(|e| as_sent(e, &format!("purchases[{i}].")))
            }
        }))
        .await;
    let mut result = BatchResult {
        created: 0,
        replayed: 0,
        failed: 0,
        results: Vec::with_capacity(answers.len()),
    };
    for answer in answers {
        result.results.push(match answer {
            Ok(outcome) => {
                let status = if outcome.replayed {
                    result.replayed += 1;
                    200
                } else {
                    result.created += 1;
                    201
                };
                BatchItem {
                    status,
                    purchase: Some(outcome),
                    error: None,
                }
            }
            Err(e) => {
                result.failed += 1;
                BatchItem {
                    status: e.code.status().as_u16(),
                    purchase: None,
                    error: Some(e.problem()),
                }
            }
        });
    }
    Ok(Json(result))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// The receipt of the purchase being refunded.
    pub receipt: String,
    /// The refund id from the POS (unique per receipt): a retry with it changes nothing.
    pub refund_id: String,
    /// Satang refunded; default: everything not yet refunded.
    pub amount_satang: Option<i64>,
}

/// Refund a purchase in full or in part: its points are reversed in proportion to the
/// refunded share. Points already spent are taken from the balance; under the
/// `allow_negative` policy the balance may go below zero and later earnings repay it.
#[utoipa::path(post, path = "/purchases/refunds", tag = "ledger", operation_id = "refund_purchase",
    request_body = RefundRequest, security(("api_key" = ["points.earn"])),
    responses((status = 201, body = RefundResult), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn refund_purchase(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<RefundRequest>,
) -> ApiResult<(StatusCode, Json<RefundResult>)> {
    let tenant = ctx.tenant_id();
    let refund_id = crate::types::text(&req.refund_id, "refund_id", 1, 64)
        .map_err(|e| ApiError::invalid("refund_id", e))?;
    if let Some(a) = req.amount_satang {
        amount_in_range("amount_satang", a, 1)?;
    }
    // A staff member limited to branches refunds only what was bought there.
    if !ctx.principal.branches.is_empty() {
        let purchase = store::find_purchase(&app.db, tenant, req.receipt.trim())
            .await?
            .ok_or_else(|| ApiError::not_found("a purchase with this receipt"))?;
        ctx.principal.check_branch(purchase.branch_id, "receipt")?;
    }
    let input = RefundInput {
        tenant_id: tenant,
        receipt: req.receipt.trim().to_string(),
        refund_id,
        amount_satang: req.amount_satang,
    };
    let (kind, id, label) = actor_ref(&ctx);
    let result = crate::earning::refund_purchase(
        &app.db,
        &input,
        ActorRef {
            kind,
            id: Some(id),
            label: &label,
        },
        &ctx.meta,
    )
    .await?;
    let status = if result.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(result)))
}

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
            points: posted.points,
            balance: posted.balance,
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
            store::balance_summary(&app.db, ctx.tenant_id(), member, req.currency).await?;
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
        amount: points,
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
async fn adjust_points(
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
        amount: magnitude,
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
    let original = store::get_txn(&app.db, ctx.tenant_id(), txn)
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
        points: store::balance_summary(&app.db, ctx.tenant_id(), member, Currency::Points).await?,
        stamps: store::balance_summary(&app.db, ctx.tenant_id(), member, Currency::Stamps).await?,
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
    let rows = store::history(&app.db, ctx.tenant_id(), member, page.before_id()?, limit).await?;
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
        store::liability(&app.db, ctx.tenant_id(), q.currency, from, to).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The bill in satang.
    pub amount_satang: i64,
    pub branch_id: Option<i64>,
    /// Minutes the QR code stays valid (1-1440, default 10).
    pub valid_minutes: Option<i64>,
}

/// Create a one-time claim QR for a bill: the member who scans it first on their member
/// page, before it expires, collects the points the rules give for it.
#[utoipa::path(post, path = "/claims", tag = "ledger", operation_id = "create_claim",
    request_body = ClaimRequest, security(("api_key" = ["points.earn"])),
    responses((status = 201, body = crate::earning::claims::NewClaim), (status = 422, body = crate::error::Problem)))]
async fn create_claim(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<ClaimRequest>,
) -> ApiResult<(
    StatusCode,
    Extension<HoldsSecret>,
    Json<crate::earning::claims::NewClaim>,
)> {
    let amount = amount_in_range("amount_satang", req.amount_satang, 1)?;
    ctx.principal.check_branch(req.branch_id, "branch_id")?;
    let minutes = req.valid_minutes.unwrap_or(10);
    if !(1..=1440).contains(&minutes) {
        return Err(ApiError::invalid(
            "valid_minutes",
            "must be between 1 and 1440",
        ));
    }
    if let Some(b) = req.branch_id
        && !crate::tenants::store::get_branch(&app.db, ctx.tenant_id(), b)
            .await?
            .is_some_and(|b| b.active)
    {
        return Err(ApiError::invalid(
            "branch_id",
            format!("branch {b} does not exist or is inactive"),
        ));
    }
    let tenant = crate::tenants::store::get_tenant(&app.db, ctx.tenant_id())
        .await?
        .ok_or_else(|| ApiError::not_found("shop"))?;
    let (kind, id, label) = actor_ref(&ctx);
    let claim = crate::earning::claims::create(
        &app.db,
        &app.settings.public_url,
        &tenant.slug,
        ctx.tenant_id(),
        amount,
        req.branch_id,
        minutes,
        ActorRef {
            kind,
            id: Some(id),
            label: &label,
        },
        &ctx.meta,
    )
    .await?;
    Ok((StatusCode::CREATED, Extension(HoldsSecret), Json(claim)))
}
