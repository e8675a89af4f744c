//! Members over the API: enrol, edit, find by phone / name / email / tag, the 360 view.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Birthday, Gender, NationalId, Phone, Tag, check_attributes};
use super::store::{self, Member, NewMember, ProfileChanges};
use crate::audit::{self, Change};
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::json::JsonBody;
use crate::http::query::{Page, PageParams, PathId, QueryParams};
use crate::state::AppState;
use crate::types::{Email, text};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members, create_member))
        .routes(routes!(get_member, update_member))
        .routes(routes!(member_360))
        .routes(routes!(reveal_national_id))
        .routes(routes!(merge_members))
}

/// Member fields a request may set. All optional, except `phone` on enrolment. (Not
/// split with `serde(flatten)`: flattening loses the field path of errors.)
#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MemberFields {
    /// Any Thai format (081-234-5678, +66 81 234 5678, ...); stored as E.164.
    pub phone: Option<Phone>,
    /// `active` or `blocked` (blocked members get no automatic bonuses).
    pub status: Option<String>,
    /// The branch where the member joined.
    pub join_branch_id: Option<i64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<Email>,
    pub gender: Option<Gender>,
    pub birthday: Option<Birthday>,
    pub address: Option<String>,
    /// Thai national ID (check digit verified); stored encrypted, shown masked.
    pub national_id: Option<NationalId>,
    pub line_user_id: Option<String>,
    pub line_display_name: Option<String>,
    /// Replaces the member's tags.
    pub tags: Option<Vec<Tag>>,
    /// Replaces the custom attributes: a flat object of strings, numbers and booleans.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

fn optional_text(field: &str, v: &Option<String>, max: usize) -> ApiResult<Option<String>> {
    v.as_deref()
        .map(|s| text(s, field, 0, max))
        .transpose()
        .map_err(|e| ApiError::invalid(field, e))
}

/// The national ID sealed for this member's row.
fn seal(
    app: &AppState,
    tenant_id: i64,
    member_id: i64,
    id: &Option<NationalId>,
) -> Option<(String, String)> {
    id.as_ref().map(|n| {
        (
            app.cipher
                .encrypt(n.as_str(), &format!("member:{tenant_id}:{member_id}")),
            n.as_str()[9..].to_string(),
        )
    })
}

impl MemberFields {
    async fn into_changes(self, app: &AppState, ctx: &Ctx) -> ApiResult<ProfileChanges> {
        let tenant_id = ctx.tenant_id();
        // A branch named (a member moved to another) must be one of the caller's.
        if self.join_branch_id.is_some() {
            ctx.principal
                .check_branch(self.join_branch_id, "join_branch_id")?;
        }
        if let Some(a) = &self.attributes {
            check_attributes(a).map_err(|e| ApiError::invalid("attributes", e))?;
        }
        if self.tags.as_ref().is_some_and(|t| t.len() > 50) {
            return Err(ApiError::invalid("tags", "at most 50 tags"));
        }
        if self
            .status
            .as_deref()
            .is_some_and(|s| s != "active" && s != "blocked")
        {
            return Err(ApiError::invalid("status", "must be active or blocked"));
        }
        if let Some(b) = self.join_branch_id
            && crate::tenants::store::get_branch(&app.db, tenant_id, b)
                .await?
                .is_none()
        {
            return Err(ApiError::invalid(
                "join_branch_id",
                format!("branch {b} does not exist"),
            ));
        }
        Ok(ProfileChanges {
            first_name: optional_text("first_name", &self.first_name, 100)?,
            last_name: optional_text("last_name", &self.last_name, 100)?,
            address: optional_text("address", &self.address, 500)?,
            line_user_id: optional_text("line_user_id", &self.line_user_id, 64)?,
            line_display_name: optional_text("line_display_name", &self.line_display_name, 100)?,
            phone: self.phone.map(String::from),
            status: self.status,
            join_branch_id: self.join_branch_id,
            email: self.email.map(String::from),
            gender: self.gender,
            birthday: self.birthday.map(String::from),
            tags: self.tags.map(|t| t.into_iter().map(String::from).collect()),
            attributes: self.attributes,
            // Sealed by the caller, who knows the member's id.
            national_id: None,
        })
    }
}

/// Enrol a member. The phone is normalised to E.164 and unique in the shop; the shop's
/// welcome points are granted in the same step.
#[utoipa::path(post, path = "/members", tag = "members", operation_id = "create_member",
    request_body = MemberFields, security(("api_key" = ["members.write"])),
    responses((status = 201, body = Member), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn create_member(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<MemberFields>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    let phone = req
        .phone
        .clone()
        .ok_or_else(|| ApiError::field(Code::MissingField, "phone", "phone is required"))?;
    // Staff limited to branches enrol members at one of them.
    ctx.principal
        .check_branch(req.join_branch_id, "join_branch_id")?;
    let national_id = req.national_id.clone();
    let mut changes = req.into_changes(&app, &ctx).await?;
    let mut tx = app.db.begin().await?;
    let new = NewMember {
        phone: &phone,
        first_name: "",
        last_name: "",
        email: None,
        join_branch_id: None,
    };
    let id = match store::insert(&mut tx, ctx.tenant_id(), new).await {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ApiError::field(
                Code::AlreadyExists,
                "phone",
                format!("a member with phone {phone} exists"),
            ));
        }
        other => other?,
    };
    changes.national_id = seal(&app, ctx.tenant_id(), id, &national_id);
    store::update(&mut tx, ctx.tenant_id(), id, &changes).await?;
    audit::record(&mut tx, &ctx, Change::new("member.created", "member", id)).await?;
    if let Some(welcome) = crate::earning::grant_welcome(
        &mut tx,
        &app.db,
        ctx.tenant_id(),
        id,
        crate::store::now_micros(),
    )
    .await?
    {
        audit::record(
            &mut tx,
            &ctx,
            Change::new("points.welcome", "ledger_txn", welcome.txn_id)
                .details(serde_json::json!({"member_id": id, "points": welcome.points})),
        )
        .await?;
    }
    tx.commit().await?;
    let member = store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::internal("new member vanished"))?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// One member.
#[utoipa::path(get, path = "/members/{id}", tag = "members", operation_id = "get_member",
    params(("id" = i64, Path)), security(("api_key" = ["members.read"])),
    responses((status = 200, body = Member), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_member(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Member>> {
    store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("member"))
}

/// Change a member's profile. Absent fields keep their value; `tags` and `attributes`
/// replace the whole list / object.
#[utoipa::path(patch, path = "/members/{id}", tag = "members", operation_id = "update_member",
    params(("id" = i64, Path)), request_body = MemberFields, security(("api_key" = ["members.write"])),
    responses((status = 200, body = Member), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn update_member(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    JsonBody(req): JsonBody<MemberFields>,
) -> ApiResult<Json<Member>> {
    let national_id = req.national_id.clone();
    let mut changes = req.into_changes(&app, &ctx).await?;
    changes.national_id = seal(&app, ctx.tenant_id(), id, &national_id);
    let mut tx = app.db.begin().await?;
    let found = match store::update(&mut tx, ctx.tenant_id(), id, &changes).await {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ApiError::field(
                Code::AlreadyExists,
                "phone",
                "another member has this phone",
            ));
        }
        other => other?,
    };
    if !found {
        return Err(ApiError::not_found("member"));
    }
    let changed: Vec<&str> = [
        ("phone", changes.phone.is_some()),
        ("status", changes.status.is_some()),
        ("join_branch_id", changes.join_branch_id.is_some()),
        ("first_name", changes.first_name.is_some()),
        ("last_name", changes.last_name.is_some()),
        ("email", changes.email.is_some()),
        ("gender", changes.gender.is_some()),
        ("birthday", changes.birthday.is_some()),
        ("address", changes.address.is_some()),
        ("national_id", changes.national_id.is_some()),
        (
            "line",
            changes.line_user_id.is_some() || changes.line_display_name.is_some(),
        ),
        ("tags", changes.tags.is_some()),
        ("attributes", changes.attributes.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, c)| c.then_some(f))
    .collect();
    // Personal data stays out of the audit log: it says which fields changed, not to what.
    audit::record(
        &mut tx,
        &ctx,
        Change::new("member.updated", "member", id).details(serde_json::json!({"fields": changed})),
    )
    .await?;
    tx.commit().await?;
    get_member(State(app), ctx, PathId(id)).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Find the member with this phone (any Thai format).
    pub phone: Option<String>,
    /// Members whose first name, last name or email starts with this (case-insensitive).
    pub q: Option<String>,
    /// Members with this tag.
    pub tag: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List members newest first; find one by phone; search by name or email; filter by tag.
#[utoipa::path(get, path = "/members", tag = "members", operation_id = "list_members",
    params(MemberQuery), security(("api_key" = ["members.read"])), responses((status = 200, body = Page<Member>)))]
pub(crate) async fn list_members(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(q): QueryParams<MemberQuery>,
) -> ApiResult<Json<Page<Member>>> {
    if let Some(phone) = &q.phone {
        let phone =
            Phone::parse(phone).map_err(|e| ApiError::field(Code::InvalidQuery, "phone", e))?;
        let found = store::find_by_phone(&app.db, ctx.tenant_id(), &phone).await?;
        return Ok(Json(Page {
            items: found.into_iter().collect(),
            next_cursor: None,
        }));
    }
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let tag = q.tag.as_deref().map(|t| t.trim().to_lowercase());
    let rows = store::search(
        &app.db,
        ctx.tenant_id(),
        search,
        tag.as_deref(),
        page.before_id()?,
        limit,
    )
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |m| m.id)))
}

/// Everything about a member on one screen.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Member360 {
    pub member: Member,
    pub points: crate::ledger::BalanceSummary,
    pub stamps: crate::ledger::BalanceSummary,
    /// The 20 most recent ledger movements.
    pub recent_ledger: Vec<crate::ledger::HistoryLine>,
    /// The current consent per purpose.
    pub consents: Vec<super::consent::ConsentRecord>,
    /// Tier level, progress and history (level absent when the shop has no tiers).
    pub tier: crate::tiers::TierStatus,
    /// The 20 most recent redemptions (coupons, codes, shipments).
    pub redemptions: Vec<crate::rewards::store::Redemption>,
    /// The member asked to be erased (on the member page) and has not been yet.
    pub erasure_request: Option<super::self_service::ErasureRequest>,
}

/// The customer 360 view: profile, tags, attributes, balances and recent history.
#[utoipa::path(get, path = "/members/{id}/360", tag = "members", operation_id = "member_360",
    params(("id" = i64, Path)), security(("api_key" = ["members.read"])),
    responses((status = 200, body = Member360), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn member_360(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Member360>> {
    let member = store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    let view = crate::ledger::member_view(&app.db, ctx.tenant_id(), id).await?;
    let consents = super::consent::current(
        &super::consent::history(&app.db, ctx.tenant_id(), member.id).await?,
    );
    let tier = crate::tiers::status(
        &app.db,
        ctx.tenant_id(),
        member.id,
        crate::store::now_micros(),
    )
    .await?;
    let filter = crate::rewards::store::Filter {
        member_id: Some(member.id),
        ..Default::default()
    };
    let mut redemptions =
        crate::rewards::store::list_redemptions(&app.db, ctx.tenant_id(), &filter, i64::MAX, 20)
            .await?;
    redemptions.truncate(20);
    let erasure_request =
        super::self_service::open_erasure(&app.db, ctx.tenant_id(), member.id).await?;
    Ok(Json(Member360 {
        member,
        points: view.0,
        stamps: view.1,
        recent_ledger: view.2,
        consents,
        tier,
        redemptions,
        erasure_request,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NationalIdView {
    pub national_id: Option<String>,
}

/// A member's national ID in full. Every view is written to the audit log.
#[utoipa::path(get, path = "/members/{id}/national-id", tag = "members", operation_id = "reveal_national_id",
    params(("id" = i64, Path)), security(("api_key" = ["members.sensitive"])),
    responses((status = 200, body = NationalIdView), (status = 404, body = crate::error::Problem)))]
async fn reveal_national_id(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<NationalIdView>> {
    if store::get(&app.db, ctx.tenant_id(), id).await?.is_none() {
        return Err(ApiError::not_found("member"));
    }
    let sealed = store::sealed_national_id(&app.db, ctx.tenant_id(), id).await?;
    let national_id = match sealed {
        Some(s) => Some(
            app.cipher
                .decrypt(&s, &format!("member:{}:{id}", ctx.tenant_id()))
                .ok_or_else(|| {
                    ApiError::internal("a national ID does not decrypt with the configured key")
                })?,
        ),
        None => None,
    };
    let mut tx = app.db.begin().await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("member.national_id_viewed", "member", id),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(NationalIdView { national_id }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The duplicate profile; it becomes an alias of the member in the path.
    pub other_member_id: i64,
}

/// Is this id a profile of its own (not an alias of another)? 404 if unknown.
async fn own_profile(app: &AppState, tenant_id: i64, id: i64, field: &str) -> ApiResult<Member> {
    let Some(target) = store::resolve_alias(&app.db, tenant_id, id).await? else {
        return Err(if field.is_empty() {
            ApiError::not_found("member")
        } else {
            ApiError::invalid(field, format!("member {id} does not exist"))
        });
    };
    if target != id {
        return Err(ApiError::new(
            Code::AlreadyExists,
            format!("member {id} was already merged into {target}"),
        ));
    }
    let m = store::get(&app.db, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    if m.status == "erased" {
        return Err(ApiError::new(
            Code::NothingToUndo,
            format!("member {id} was erased"),
        ));
    }
    Ok(m)
}

/// Merge two profiles of one person: the other's points, stamps, lots, history and tags
/// move to this member, empty fields are filled from it, and the other becomes an alias
/// (its id and phone still resolve to this member).
#[utoipa::path(post, path = "/members/{id}/merge", tag = "members", operation_id = "merge_members",
    params(("id" = i64, Path)), request_body = MergeRequest, security(("api_key" = ["points.adjust"])),
    responses((status = 200, body = Member), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn merge_members(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    JsonBody(req): JsonBody<MergeRequest>,
) -> ApiResult<Json<Member>> {
    let tenant = ctx.tenant_id();
    own_profile(&app, tenant, id, "").await?;
    if req.other_member_id == id {
        return Err(ApiError::invalid(
            "other_member_id",
            "a member cannot be merged with itself",
        ));
    }
    let other = own_profile(&app, tenant, req.other_member_id, "other_member_id").await?;
    let mut tx = app.db.begin().await?;
    // Checked again under the members' locks: a merge of the same two the other way
    // round, at the same moment, must not leave neither active.
    let held = crate::ledger::lock_members(&mut tx, tenant, &[other.id, id]).await?;
    if !store::both_mergeable(&mut tx, tenant, other.id, id).await? {
        return Err(ApiError::new(
            Code::WrongState,
            "one of these members was merged or erased a moment ago; look them up again",
        ));
    }
    // The survivor's balance is the two summed: within the ledger's limit.
    let summed = |m: i64| {
        [
            crate::ledger::model::Currency::Points,
            crate::ledger::model::Currency::Stamps,
        ]
        .map(|c| held.get(&(m, c)).copied().unwrap_or((0, 0)))
    };
    let (mine, theirs) = (summed(id), summed(other.id));
    if mine.iter().zip(&theirs).any(|(a, b)| {
        a.0.saturating_add(b.0) > crate::ledger::model::MAX_POINTS
            || a.1.saturating_add(b.1) > crate::ledger::model::MAX_POINTS
    }) {
        return Err(crate::ledger::LedgerError::PointsLimit.into());
    }
    crate::ledger::merge_members(&mut tx, tenant, other.id, id).await?;
    store::merge_profiles(&mut tx, tenant, other.id, id).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("member.merged", "member", id).details(serde_json::json!({"merged": other.id})),
    )
    .await?;
    tx.commit().await?;
    get_member(State(app), ctx, PathId(id)).await
}
