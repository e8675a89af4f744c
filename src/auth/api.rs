//! Sign-in, sign-out, who-am-I, and API keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api_keys::{self, ApiKey};
use super::{Ctx, Me, Permission, Principal, sessions};
use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Change};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::idempotency::HoldsSecret;
use crate::http::json::JsonBody;
use crate::http::query::{Page, PageParams, PathId, QueryParams};
use crate::staff::store as staff_store;
use crate::state::AppState;
use crate::tenants::store as tenant_store;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The shop's slug.
    pub tenant: String,
    pub email: String,
    pub password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionCreated {
    pub me: Me,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
}

/// The session cookie for a new session.
pub fn session_cookie(app: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((sessions::COOKIE, token))
        .http_only(true)
        .secure(app.settings.secure_cookies())
        .same_site(SameSite::Lax)
        .path("/")
        // No Max-Age: the cookie ends with the browser session; the server ends the
        // session itself after `session_hours` either way.
        .build()
}

/// Check a login and open a session. Shared by the API and the login page.
pub async fn authenticate(
    app: &AppState,
    meta: &RequestMeta,
    tenant: &str,
    email: &str,
    password: &str,
) -> ApiResult<(Principal, sessions::NewSession)> {
    let email = email.trim().to_lowercase();
    let tenant_slug = tenant.trim().to_lowercase();
    let account = format!("{tenant_slug}/{email}");
    if let Err(wait) = app
        .login_limiter
        .begin(&account, &meta.ip, std::time::Instant::now())
    {
        let mut e = ApiError::new(
            Code::RateLimited,
            format!("too many sign-in attempts; try again in {wait} s"),
        );
        e.retry_after_secs = Some(wait);
        return Err(e);
    }
    let tenant = tenant_store::find_tenant_by_slug(&app.db, &tenant_slug)
        .await?
        .filter(|t| t.status == "active");
    let creds = match &tenant {
        Some(t) => staff_store::find_credentials(&app.db, t.id, &email).await?,
        None => None,
    };
    // Always run one argon2 check so timing does not reveal which accounts exist.
    let stored = creds
        .as_ref()
        .map(|c| c.password_hash.clone())
        .unwrap_or_else(|| super::secrets::dummy_hash().to_string());
    let password = password.to_string();
    // At most one argon2 check per core at once (19 MiB each): a crowd of sign-ins
    // queues instead of taking the machine's memory.
    let _permit = app
        .password_checks
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let ok =
        tokio::task::spawn_blocking(move || super::secrets::verify_password(&password, &stored))
            .await
            .map_err(ApiError::internal)?;
    let (Some(tenant), Some(creds)) = (tenant, creds) else {
        return Err(ApiError::new(
            Code::InvalidCredentials,
            "wrong shop, email or password",
        ));
    };
    if !ok || !creds.active {
        let mut tx = app.db.begin().await?;
        audit::record_as(
            &mut tx,
            tenant.id,
            ActorRef {
                kind: "anonymous",
                id: None,
                label: &email,
            },
            meta,
            Change::new("session.login_failed", "staff", creds.id),
        )
        .await?;
        tx.commit().await?;
        return Err(ApiError::new(
            Code::InvalidCredentials,
            "wrong shop, email or password",
        ));
    }
    app.login_limiter
        .succeeded(&account, &meta.ip, std::time::Instant::now());
    let mut tx = app.db.begin().await?;
    let session = sessions::create(
        &mut tx,
        tenant.id,
        creds.id,
        &meta.ip,
        app.settings.session_hours,
    )
    .await?;
    audit::record_as(
        &mut tx,
        tenant.id,
        ActorRef {
            kind: "staff",
            id: Some(creds.id),
            label: &creds.email,
        },
        meta,
        Change::new("session.created", "staff", creds.id),
    )
    .await?;
    tx.commit().await?;
    let role = creds.role.parse().map_err(ApiError::internal)?;
    let principal = Principal {
        tenant_id: tenant.id,
        actor: super::Actor::Staff {
            id: creds.id,
            email: creds.email,
            name: creds.name,
            role,
        },
        csrf_token: Some(session.csrf_token.clone()),
        branches: vec![],
    };
    Ok((principal, session))
}

/// Sign in with shop, email and password; sets the session cookie.
#[utoipa::path(post, path = "/sessions", tag = "auth", operation_id = "login",
    request_body = LoginRequest, security(()),
    responses((status = 201, body = SessionCreated), (status = 401, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
async fn login(
    State(app): State<AppState>,
    meta: RequestMeta,
    jar: CookieJar,
    JsonBody(req): JsonBody<LoginRequest>,
) -> ApiResult<(CookieJar, (StatusCode, Json<SessionCreated>))> {
    let (principal, session) =
        authenticate(&app, &meta, &req.tenant, &req.email, &req.password).await?;
    let body = SessionCreated {
        me: Me::from(&principal),
        expires_at: crate::types::timestamp(session.expires_at),
    };
    Ok((
        jar.add(session_cookie(&app, session.token)),
        (StatusCode::CREATED, Json(body)),
    ))
}

/// Sign out: ends the current web session and clears its cookie.
#[utoipa::path(delete, path = "/sessions/current", tag = "auth", operation_id = "logout",
    security(("api_key" = [])), responses((status = 204)))]
async fn logout(
    State(app): State<AppState>,
    ctx: Ctx,
    jar: CookieJar,
) -> ApiResult<(CookieJar, StatusCode)> {
    if let Some(cookie) = jar.get(sessions::COOKIE) {
        let mut tx = app.db.begin().await?;
        sessions::delete(&mut tx, cookie.value()).await?;
        audit::record(
            &mut tx,
            &ctx,
            Change::new("session.ended", "staff", ctx.principal.staff_id()),
        )
        .await?;
        tx.commit().await?;
    }
    Ok((
        jar.remove(Cookie::build(sessions::COOKIE).path("/").build()),
        StatusCode::NO_CONTENT,
    ))
}

/// Who is calling: the staff member or API key, their role and permissions.
#[utoipa::path(get, path = "/me", tag = "auth", operation_id = "me",
    security(("api_key" = [])), responses((status = 200, body = Me)))]
async fn me(ctx: Ctx) -> Json<Me> {
    Json(Me::from(&ctx.principal))
}

/// List API keys (never their secrets).
#[utoipa::path(get, path = "/api-keys", tag = "api_keys", operation_id = "list_api_keys",
    params(PageParams), security(("api_key" = ["api_keys.manage"])),
    responses((status = 200, body = Page<ApiKey>)))]
pub(crate) async fn list_api_keys(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<Page<ApiKey>>> {
    let limit = page.limit()?;
    let rows = api_keys::list(&app.db, ctx.tenant_id(), page.before_id()?, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |k| k.id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    #[schema(value_type = String, example = "POS integration")]
    pub name: crate::types::PersonName,
    /// Permissions the key gets; each must be one the creator has.
    #[schema(value_type = Vec<String>, example = json!(["branches.read"]))]
    pub scopes: Vec<Permission>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyCreated {
    pub key: ApiKey,
    /// The full key. Shown only now: store it in the integration's secret store.
    pub secret: String,
}

/// Create an API key with some of your own permissions. The secret is shown once.
#[utoipa::path(post, path = "/api-keys", tag = "api_keys", operation_id = "create_api_key",
    request_body = NewApiKey, security(("api_key" = ["api_keys.manage"])),
    responses((status = 201, body = ApiKeyCreated), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn create_api_key(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(req): JsonBody<NewApiKey>,
) -> ApiResult<(StatusCode, Extension<HoldsSecret>, Json<ApiKeyCreated>)> {
    if req.scopes.is_empty() {
        return Err(ApiError::invalid(
            "scopes",
            "give the key at least one permission",
        ));
    }
    if let Some((i, p)) = req
        .scopes
        .iter()
        .enumerate()
        .find(|(_, p)| !ctx.principal.allows(**p))
    {
        return Err(ApiError::field(
            Code::Forbidden,
            format!("scopes[{i}]"),
            format!("you cannot give a key {p}, which you do not have"),
        ));
    }
    let mut scopes = req.scopes.clone();
    scopes.sort();
    scopes.dedup();
    // A key made by a key belongs to the person who made the first, and goes with it.
    let creator_id = ctx.principal.person();
    let parent_key_id = match &ctx.principal.actor {
        crate::auth::Actor::ApiKey { id, .. } => Some(*id),
        crate::auth::Actor::Staff { .. } => None,
    };
    let mut tx = app.db.begin().await?;
    let (id, secret) = api_keys::create(
        &mut tx,
        ctx.tenant_id(),
        req.name.as_str(),
        &scopes,
        creator_id,
        parent_key_id,
    )
    .await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("api_key.created", "api_key", id)
            .details(serde_json::json!({"name": req.name, "scopes": scopes})),
    )
    .await?;
    tx.commit().await?;
    let key = api_keys::get(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::internal("created key vanished"))?;
    Ok((
        StatusCode::CREATED,
        Extension(HoldsSecret),
        Json(ApiKeyCreated { key, secret }),
    ))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api_keys", operation_id = "revoke_api_key",
    params(("id" = i64, Path)), security(("api_key" = ["api_keys.manage"])),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn revoke_api_key(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    let mut tx = app.db.begin().await?;
    let revoked = api_keys::revoke(&mut tx, ctx.tenant_id(), id).await?;
    if revoked.is_empty() {
        return Err(ApiError::not_found("active API key"));
    }
    let change = Change::new("api_key.revoked", "api_key", id)
        .details(serde_json::json!({"with_keys_it_made": &revoked[1..]}));
    audit::record(&mut tx, &ctx, change).await?;
    tx.commit().await?;
    for key in revoked {
        app.api_keys.forget(key);
    }
    Ok(StatusCode::NO_CONTENT)
}
