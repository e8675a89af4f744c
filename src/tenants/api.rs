//! Shop signup, shop settings and branches.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{
    BranchCode, CurrencyCode, Language, ShopName, Slug, TimeZoneName, default_currency,
    default_time_zone, slug_from_name,
};
use super::store::{self, Branch, BranchChanges, NewTenant, Tenant, TenantChanges};
use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Change};
use crate::auth::api::session_cookie;
use crate::auth::{Actor, Ctx, Me, Principal, Role, secrets, sessions};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::json::JsonBody;
use crate::http::query::{Page, PageParams, PathId, QueryParams};
use crate::staff::store as staff_store;
use crate::state::AppState;
use crate::types::{Email, NewPassword, PersonName, text};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(get_tenant, update_tenant))
        .routes(routes!(list_branches, create_branch))
        .routes(routes!(get_branch, update_branch))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub shop_name: ShopName,
    /// The shop's short name in URLs; made from the shop name when absent.
    pub slug: Option<Slug>,
    /// ISO 4217; THB when absent.
    pub currency: Option<CurrencyCode>,
    /// IANA time zone; Asia/Bangkok when absent.
    pub time_zone: Option<TimeZoneName>,
    /// `th` (default) or `en`.
    pub language: Option<Language>,
    pub owner_name: PersonName,
    pub owner_email: Email,
    pub password: NewPassword,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignupResponse {
    pub tenant: Tenant,
    pub me: Me,
}

/// What a new shop is made of; shared by the API, the signup page and the demo.
pub struct ShopSignup {
    pub shop_name: ShopName,
    pub slug: Option<Slug>,
    pub currency: CurrencyCode,
    pub time_zone: TimeZoneName,
    pub language: Language,
    pub owner_name: PersonName,
    pub owner_email: Email,
    pub password: NewPassword,
    /// The owner's phone, proved with a one-time code on the signup page.
    pub contact_phone: Option<String>,
}

/// Create a shop and its owner, and open the owner's session.
pub async fn create_shop(
    app: &AppState,
    meta: &RequestMeta,
    s: ShopSignup,
) -> ApiResult<(Tenant, Principal, sessions::NewSession)> {
    let slug = match s.slug {
        Some(slug) => {
            if store::slug_taken(&app.db, slug.as_str()).await? {
                return Err(ApiError::field(
                    Code::AlreadyExists,
                    "slug",
                    format!("the slug {slug} is taken; choose another"),
                ));
            }
            slug
        }
        None => free_slug(app, s.shop_name.as_str()).await?,
    };
    let password = s.password.clone();
    let hash = tokio::task::spawn_blocking(move || secrets::hash_password(password.expose()))
        .await
        .map_err(ApiError::internal)?;
    let mut tx = app.db.begin().await?;
    let tenant = NewTenant {
        slug: &slug,
        name: &s.shop_name,
        currency: &s.currency,
        time_zone: &s.time_zone,
        language: s.language,
        contact_phone: s.contact_phone.as_deref(),
    };
    let tenant_id = match store::insert_tenant(&mut tx, tenant).await {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ApiError::field(
                Code::AlreadyExists,
                "slug",
                "this slug was just taken; choose another",
            ));
        }
        other => other?,
    };
    let email = s.owner_email.as_str();
    let staff_id = staff_store::insert_staff(
        &mut tx,
        tenant_id,
        email,
        s.owner_name.as_str(),
        Role::Owner,
        &hash,
        &[],
    )
    .await?;
    let actor = || ActorRef {
        kind: "staff",
        id: Some(staff_id),
        label: email,
    };
    audit::record_as(
        &mut tx,
        tenant_id,
        actor(),
        meta,
        Change::new("tenant.created", "tenant", tenant_id)
            .details(serde_json::json!({"slug": slug})),
    )
    .await?;
    let session = sessions::create(
        &mut tx,
        tenant_id,
        staff_id,
        &meta.ip,
        app.settings.session_hours,
    )
    .await?;
    audit::record_as(
        &mut tx,
        tenant_id,
        actor(),
        meta,
        Change::new("session.created", "staff", staff_id),
    )
    .await?;
    tx.commit().await?;
    let tenant = store::get_tenant(&app.db, tenant_id)
        .await?
        .ok_or_else(|| ApiError::internal("new tenant vanished"))?;
    let principal = Principal {
        tenant_id,
        actor: Actor::Staff {
            id: staff_id,
            email: email.to_string(),
            name: s.owner_name.to_string(),
            role: Role::Owner,
        },
        csrf_token: Some(session.csrf_token.clone()),
        branches: vec![],
    };
    Ok((tenant, principal, session))
}

async fn free_slug(app: &AppState, name: &str) -> ApiResult<Slug> {
    let base = slug_from_name(name);
    let base = if base.len() < 3 {
        "shop".to_string()
    } else {
        base
    };
    if !store::slug_taken(&app.db, &base).await? {
        return Slug::parse(&base).map_err(|e| ApiError::invalid("slug", e));
    }
    for _ in 0..20 {
        let candidate = format!("{base}-{}", rand::random_range(1000..10000));
        if !store::slug_taken(&app.db, &candidate).await? {
            return Slug::parse(&candidate).map_err(|e| ApiError::invalid("slug", e));
        }
    }
    Err(ApiError::field(
        Code::AlreadyExists,
        "slug",
        "choose a slug for the shop",
    ))
}

/// Sign up a new shop with its owner account; signs the owner in.
#[utoipa::path(post, path = "/signup", tag = "tenants", operation_id = "signup",
    request_body = SignupRequest, security(()),
    responses((status = 201, body = SignupResponse), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn signup(
    State(app): State<AppState>,
    meta: RequestMeta,
    jar: CookieJar,
    JsonBody(req): JsonBody<SignupRequest>,
) -> ApiResult<(CookieJar, (StatusCode, Json<SignupResponse>))> {
    if let Err(wait) = app.signup_limiter.shop(&meta.ip, std::time::Instant::now()) {
        let mut e = ApiError::new(
            Code::RateLimited,
            format!("too many new shops from here; try again in {wait} s"),
        );
        e.retry_after_secs = Some(wait);
        return Err(e);
    }
    let shop = ShopSignup {
        shop_name: req.shop_name,
        slug: req.slug,
        currency: req.currency.unwrap_or_else(default_currency),
        time_zone: req.time_zone.unwrap_or_else(default_time_zone),
        language: req.language.unwrap_or_default(),
        owner_name: req.owner_name,
        owner_email: req.owner_email,
        password: req.password,
        contact_phone: None,
    };
    let (tenant, principal, session) = create_shop(&app, &meta, shop).await?;
    let body = SignupResponse {
        tenant,
        me: Me::from(&principal),
    };
    Ok((
        jar.add(session_cookie(&app, session.token)),
        (StatusCode::CREATED, Json(body)),
    ))
}

/// The caller's shop and its settings.
#[utoipa::path(get, path = "/tenant", tag = "tenants", operation_id = "get_tenant",
    security(("api_key" = ["tenant.read"])), responses((status = 200, body = Tenant)))]
async fn get_tenant(State(app): State<AppState>, ctx: Ctx) -> ApiResult<Json<Tenant>> {
    store::get_tenant(&app.db, ctx.tenant_id())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("shop"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    pub name: Option<ShopName>,
    pub currency: Option<CurrencyCode>,
    pub time_zone: Option<TimeZoneName>,
    pub language: Option<Language>,
}

/// Change the shop's name, currency, time zone or language.
#[utoipa::path(patch, path = "/tenant", tag = "tenants", operation_id = "update_tenant",
    request_body = TenantUpdate, security(("api_key" = ["tenant.manage"])),
    responses((status = 200, body = Tenant), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn update_tenant(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<TenantUpdate>,
) -> ApiResult<Json<Tenant>> {
    let changes = TenantChanges {
        name: req.name,
        currency: req.currency,
        time_zone: req.time_zone,
        language: req.language,
    };
    let details = serde_json::json!({
        "name": changes.name, "currency": changes.currency, "time_zone": changes.time_zone, "language": changes.language,
    });
    let mut tx = app.db.begin().await?;
    store::update_tenant(&mut tx, ctx.tenant_id(), &changes).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("tenant.updated", "tenant", ctx.tenant_id()).details(details),
    )
    .await?;
    tx.commit().await?;
    get_tenant(State(app), ctx).await
}

/// List the shop's branches, newest first.
#[utoipa::path(get, path = "/branches", tag = "branches", operation_id = "list_branches",
    params(PageParams), security(("api_key" = ["branches.read"])), responses((status = 200, body = Page<Branch>)))]
pub(crate) async fn list_branches(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<Page<Branch>>> {
    let limit = page.limit()?;
    let rows = store::list_branches(&app.db, ctx.tenant_id(), page.before_id()?, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |b| b.id)))
}

fn branch_text(field: &str, value: &str, max: usize, min: usize) -> ApiResult<String> {
    text(value, field, min, max).map_err(|e| ApiError::invalid(field, e))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBranch {
    pub code: BranchCode,
    #[schema(example = "สาขาสยาม Siam")]
    pub name: String,
    #[serde(default)]
    pub address: String,
}

/// Add a branch.
#[utoipa::path(post, path = "/branches", tag = "branches", operation_id = "create_branch",
    request_body = NewBranch, security(("api_key" = ["branches.manage"])),
    responses((status = 201, body = Branch), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn create_branch(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<NewBranch>,
) -> ApiResult<(StatusCode, Json<Branch>)> {
    let name = branch_text("name", &req.name, 100, 1)?;
    let address = branch_text("address", &req.address, 500, 0)?;
    let mut tx = app.db.begin().await?;
    let id = match store::insert_branch(&mut tx, ctx.tenant_id(), &req.code, &name, &address).await
    {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ApiError::field(
                Code::AlreadyExists,
                "code",
                format!("a branch with code {} exists", req.code),
            ));
        }
        other => other?,
    };
    audit::record(
        &mut tx,
        &ctx,
        Change::new("branch.created", "branch", id)
            .details(serde_json::json!({"code": req.code, "name": name})),
    )
    .await?;
    tx.commit().await?;
    let branch = store::get_branch(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::internal("new branch vanished"))?;
    Ok((StatusCode::CREATED, Json(branch)))
}

/// One branch.
#[utoipa::path(get, path = "/branches/{id}", tag = "branches", operation_id = "get_branch",
    params(("id" = i64, Path)), security(("api_key" = ["branches.read"])),
    responses((status = 200, body = Branch), (status = 404, body = crate::error::Problem)))]
async fn get_branch(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<Branch>> {
    store::get_branch(&app.db, ctx.tenant_id(), id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("branch"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchUpdate {
    pub code: Option<BranchCode>,
    pub name: Option<String>,
    pub address: Option<String>,
    /// Inactive branches stay in history but take no new activity.
    pub active: Option<bool>,
}

/// Change a branch.
#[utoipa::path(patch, path = "/branches/{id}", tag = "branches", operation_id = "update_branch",
    params(("id" = i64, Path)), request_body = BranchUpdate, security(("api_key" = ["branches.manage"])),
    responses((status = 200, body = Branch), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn update_branch(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    JsonBody(req): JsonBody<BranchUpdate>,
) -> ApiResult<Json<Branch>> {
    let changes = BranchChanges {
        name: req
            .name
            .as_deref()
            .map(|n| branch_text("name", n, 100, 1))
            .transpose()?,
        address: req
            .address
            .as_deref()
            .map(|a| branch_text("address", a, 500, 0))
            .transpose()?,
        code: req.code,
        active: req.active,
    };
    let details = serde_json::json!({"code": changes.code, "name": changes.name, "address": changes.address, "active": changes.active});
    let mut tx = app.db.begin().await?;
    let found = match store::update_branch(&mut tx, ctx.tenant_id(), id, &changes).await {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ApiError::field(
                Code::AlreadyExists,
                "code",
                "another branch has this code",
            ));
        }
        other => other?,
    };
    if !found {
        return Err(ApiError::not_found("branch"));
    }
    audit::record(
        &mut tx,
        &ctx,
        Change::new("branch.updated", "branch", id).details(details),
    )
    .await?;
    tx.commit().await?;
    get_branch(State(app), ctx, PathId(id)).await
}
