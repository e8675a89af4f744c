//! The signup form over the API: the shop configures it; the public signup page (and
//! any client) reads it and signs members up; staff record consent changes.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::consent::{self, Channel, ConsentRecord, PURPOSES, SignupForm, SignupFormInput};
use super::model::{Birthday, Phone};
use super::store::{self, NewMember, ProfileChanges};
use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Change};
use crate::auth::Ctx;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::json::JsonBody;
use crate::http::query::PathId;
use crate::state::AppState;
use crate::types::{Email, text};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_signup_form, put_signup_form))
        .routes(routes!(public_signup_form))
        .routes(routes!(public_signup))
        .routes(routes!(member_consents, change_consent))
}

/// The shop's signup form (404 until it is set up).
#[utoipa::path(get, path = "/signup-form", tag = "signup", operation_id = "get_signup_form",
    security(("api_key" = ["tenant.read"])), responses((status = 200, body = SignupForm), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_signup_form(
    State(app): State<AppState>,
    ctx: Ctx,
) -> ApiResult<Json<SignupForm>> {
    consent::form(&app.db, ctx.tenant_id())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("signup form"))
}

/// Set up the signup form: terms, privacy notice (each change is a new version),
/// marketing channels offered, and questions whose answers set tags.
#[utoipa::path(put, path = "/signup-form", tag = "signup", operation_id = "put_signup_form",
    request_body = SignupFormInput, security(("api_key" = ["tenant.manage"])),
    responses((status = 200, body = SignupForm), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn put_signup_form(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(input): JsonBody<SignupFormInput>,
) -> ApiResult<Json<SignupForm>> {
    input.validate().map_err(|(f, m)| ApiError::invalid(f, m))?;
    let mut tx = app.db.begin().await?;
    consent::save_form(&mut tx, &app.db, ctx.tenant_id(), &input).await?;
    audit::record(
        &mut tx,
        &ctx,
        Change::new("signup_form.changed", "tenant", ctx.tenant_id()),
    )
    .await?;
    tx.commit().await?;
    get_signup_form(State(app), ctx).await
}

pub async fn shop_form(app: &AppState, slug: &str) -> Result<(i64, SignupForm), SignupError> {
    let tenant = crate::tenants::store::find_tenant_by_slug(&app.db, slug)
        .await?
        .filter(|t| t.status == "active")
        .ok_or(SignupError::NoShop)?;
    let form = consent::form(&app.db, tenant.id)
        .await?
        .ok_or(SignupError::NoForm)?;
    Ok((tenant.id, form))
}

/// A shop's signup form, for its public signup page.
#[utoipa::path(get, path = "/public/{slug}/signup-form", tag = "signup", operation_id = "public_signup_form",
    params(("slug" = String, Path)), security(()), responses((status = 200, body = SignupForm), (status = 404, body = crate::error::Problem)))]
async fn public_signup_form(
    State(app): State<AppState>,
    Path(slug): Path<String>,
) -> ApiResult<Json<SignupForm>> {
    Ok(Json(shop_form(&app, &slug).await?.1))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub phone: Phone,
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    pub email: Option<Email>,
    pub birthday: Option<Birthday>,
    /// The terms version the person read and accepted (must be the current one).
    pub accept_terms_version: i64,
    /// The privacy notice version the person read (must be the current one).
    pub accept_privacy_version: i64,
    /// Channels the person agreed to receive marketing on (each offered one is recorded
    /// as given or not).
    #[serde(default)]
    pub marketing: Vec<Channel>,
    /// Question id → chosen option value.
    #[serde(default)]
    pub answers: HashMap<String, String>,
}

/// Why a signup was refused. The API answers it on the request's field
/// ([`From<SignupError> for ApiError`]); the signup page puts it next to its input.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("too many signups from here or for this phone; try again in {wait_secs} s")]
    TooMany { wait_secs: u64 },
    #[error("shop not found")]
    NoShop,
    #[error("signup form not found")]
    NoForm,
    #[error("the terms changed; the current version is {current}")]
    TermsChanged { current: i64 },
    #[error("the privacy notice changed; the current version is {current}")]
    PrivacyChanged { current: i64 },
    #[error("this shop does not offer {0:?} messages")]
    ChannelNotOffered(Channel),
    /// A name that is empty or too long (`first_name`, `last_name`).
    #[error("{message}")]
    Name {
        field: &'static str,
        message: String,
    },
    #[error("{value:?} is not one of the answers offered")]
    NotAnAnswer { question: String, value: String },
    #[error("{label} is required")]
    AnswerMissing { question: String, label: String },
    #[error("no such question")]
    NoSuchQuestion(String),
    #[error("this phone is already a member; sign in instead")]
    AlreadyMember,
    /// Joining at the counter: the customer did not accept the shop's terms and privacy
    /// notice.
    #[error("the customer must accept the terms and the privacy notice")]
    NotAccepted,
    /// The one-time code that proves the phone (member page signup).
    #[error(transparent)]
    Otp(#[from] crate::otp::OtpError),
    #[error(transparent)]
    Earn(#[from] crate::earning::EarnError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<SignupError> for ApiError {
    fn from(e: SignupError) -> ApiError {
        let message = e.to_string();
        match e {
            SignupError::TooMany { wait_secs } => {
                let mut a = ApiError::new(Code::RateLimited, message);
                a.retry_after_secs = Some(wait_secs);
                a
            }
            SignupError::NoShop | SignupError::NoForm => ApiError::new(Code::NotFound, message),
            SignupError::TermsChanged { .. } => {
                ApiError::field(Code::StaleVersion, "accept_terms_version", message)
            }
            SignupError::PrivacyChanged { .. } => {
                ApiError::field(Code::StaleVersion, "accept_privacy_version", message)
            }
            SignupError::ChannelNotOffered(_) => ApiError::invalid("marketing", message),
            SignupError::Name { field, .. } => ApiError::invalid(field, message),
            SignupError::NotAnAnswer { question, .. } => {
                ApiError::invalid(format!("answers.{question}"), message)
            }
            SignupError::AnswerMissing { question, .. } => {
                ApiError::field(Code::MissingField, format!("answers.{question}"), message)
            }
            SignupError::NoSuchQuestion(question) => {
                ApiError::field(Code::UnknownField, format!("answers.{question}"), message)
            }
            SignupError::AlreadyMember => ApiError::field(Code::AlreadyExists, "phone", message),
            SignupError::NotAccepted => ApiError::invalid("accept_terms", message),
            SignupError::Otp(e) => e.into(),
            SignupError::Earn(e) => e.into(),
            SignupError::Db(e) => e.into(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignupResult {
    pub member_id: i64,
    pub welcome_points: i64,
}

/// Sign up as a member of a shop: accept its current terms and privacy notice, choose
/// marketing channels, answer its questions. Rate-limited per IP.
#[utoipa::path(post, path = "/public/{slug}/signup", tag = "signup", operation_id = "public_signup",
    params(("slug" = String, Path)), request_body = SignupRequest, security(()),
    responses((status = 201, body = SignupResult), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn public_signup(
    State(app): State<AppState>,
    meta: RequestMeta,
    Path(slug): Path<String>,
    JsonBody(req): JsonBody<SignupRequest>,
) -> ApiResult<(StatusCode, Json<SignupResult>)> {
    Ok((
        StatusCode::CREATED,
        Json(sign_up(&app, &meta, &slug, &req).await?),
    ))
}

/// A signup checked against the shop's form, ready to write.
struct Checked {
    tenant: i64,
    form: SignupForm,
    first: String,
    last: String,
    tags: Vec<String>,
}

/// What the one-time code of a signup is for: this phone, before any member has it.
fn code_purpose(phone: &Phone) -> String {
    format!("signup:{}", phone.as_str())
}

/// Text a one-time code to the phone of a signup on the member page, once the rest of the
/// form is acceptable and the phone is no member's yet: the account is made only when the
/// code comes back ([`sign_up_verified`]).
pub async fn send_code(
    app: &AppState,
    meta: &RequestMeta,
    slug: &str,
    req: &SignupRequest,
) -> Result<crate::otp::Challenge, SignupError> {
    let checked = check(app, slug, req).await?;
    if store::find_by_phone(&app.db, checked.tenant, &req.phone)
        .await?
        .is_some()
    {
        return Err(SignupError::AlreadyMember);
    }
    let purpose = code_purpose(&req.phone);
    // A code belongs to a member; a signup's to none yet (0), its purpose names the phone.
    Ok(crate::otp::send(
        app,
        checked.tenant,
        0,
        req.phone.as_str(),
        &purpose,
        &meta.ip,
    )
    .await?)
}

/// Sign up on the member page with the code texted by [`send_code`]: the code is checked
/// for this phone and used up in the transaction that makes the member.
pub async fn sign_up_verified(
    app: &AppState,
    meta: &RequestMeta,
    slug: &str,
    req: &SignupRequest,
    proof: &crate::otp::OtpProof,
) -> Result<SignupResult, SignupError> {
    let (tenant, _) = shop_form(app, slug).await?;
    crate::otp::check(&app.db, tenant, 0, &code_purpose(&req.phone), proof).await?;
    write(app, meta, slug, req, Some(proof)).await
}

/// A customer joins at the counter: the cashier types their phone and first name, and
/// the customer accepts the shop's current terms and privacy notice there (recorded as
/// given at the counter, with their versions). Marketing is not asked: the member chooses
/// it on their own page. Answers to the signup questions are left for later.
pub async fn join_at_counter(
    app: &AppState,
    who: &impl audit::Author,
    phone: &Phone,
    first_name: &str,
    last_name: &str,
    accepted: bool,
) -> Result<SignupResult, SignupError> {
    let tenant = who.tenant_id();
    let form = consent::form(&app.db, tenant).await?;
    if form.is_some() && !accepted {
        return Err(SignupError::NotAccepted);
    }
    let name = |field: &'static str, value: &str, least: usize| {
        text(value, field, least, 100).map_err(|message| SignupError::Name { field, message })
    };
    let first = name("first_name", first_name, 1)?;
    let last = name("last_name", last_name, 0)?;
    let mut tx = app.db.begin().await?;
    let new = NewMember {
        phone,
        first_name: &first,
        last_name: &last,
        email: None,
        join_branch_id: None,
    };
    let id = match store::insert(&mut tx, tenant, new).await {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(SignupError::AlreadyMember);
        }
        other => other?,
    };
    if let Some(form) = &form {
        for (purpose, version) in [
            ("terms", form.terms_version),
            ("privacy", form.privacy_version),
        ] {
            consent::record(&mut tx, tenant, id, purpose, true, Some(version), "counter").await?;
        }
    }
    let change = Change::new("member.created", "member", id)
        .details(serde_json::json!({"joined": "counter"}));
    audit::record(&mut tx, who, change).await?;
    let welcome =
        crate::earning::grant_welcome(&mut tx, &app.db, tenant, id, crate::store::now_micros())
            .await?;
    tx.commit().await?;
    Ok(SignupResult {
        member_id: id,
        welcome_points: welcome.map(|w| w.points.get()).unwrap_or(0),
    })
}

/// Sign someone up as a member of the shop `slug` (the API).
pub async fn sign_up(
    app: &AppState,
    meta: &RequestMeta,
    slug: &str,
    req: &SignupRequest,
) -> Result<SignupResult, SignupError> {
    write(app, meta, slug, req, None).await
}

/// The signup checked against the shop's current form: texts' versions, channels, names
/// and answers (which give the member's tags).
async fn check(app: &AppState, slug: &str, req: &SignupRequest) -> Result<Checked, SignupError> {
    let (tenant, form) = shop_form(app, slug).await?;
    if req.accept_terms_version != form.terms_version {
        return Err(SignupError::TermsChanged {
            current: form.terms_version,
        });
    }
    if req.accept_privacy_version != form.privacy_version {
        return Err(SignupError::PrivacyChanged {
            current: form.privacy_version,
        });
    }
    if let Some(c) = req
        .marketing
        .iter()
        .find(|c| !form.marketing_channels.contains(c))
    {
        return Err(SignupError::ChannelNotOffered(*c));
    }
    let name = |field: &'static str, value: &str, least: usize| {
        text(value, field, least, 100).map_err(|message| SignupError::Name { field, message })
    };
    let first = name("first_name", &req.first_name, 1)?;
    let last = name("last_name", &req.last_name, 0)?;
    let mut tags: Vec<String> = vec![];
    for q in &form.questions {
        match req.answers.get(&q.id) {
            Some(v) => {
                let option = q.options.iter().find(|o| &o.value == v).ok_or_else(|| {
                    SignupError::NotAnAnswer {
                        question: q.id.clone(),
                        value: v.clone(),
                    }
                })?;
                tags.extend(option.tags.iter().map(|t| t.to_lowercase()));
            }
            None if q.required => {
                return Err(SignupError::AnswerMissing {
                    question: q.id.clone(),
                    label: q.label.clone(),
                });
            }
            None => {}
        }
    }
    if let Some(k) = req
        .answers
        .keys()
        .find(|k| !form.questions.iter().any(|q| &q.id == *k))
    {
        return Err(SignupError::NoSuchQuestion(k.clone()));
    }
    tags.sort();
    tags.dedup();
    Ok(Checked {
        tenant,
        form,
        first,
        last,
        tags,
    })
}

/// Make the member, with their consents, tags and welcome points; with `proof`, the
/// signup's one-time code is used up in the same transaction.
async fn write(
    app: &AppState,
    meta: &RequestMeta,
    slug: &str,
    req: &SignupRequest,
    proof: Option<&crate::otp::OtpProof>,
) -> Result<SignupResult, SignupError> {
    // Per address and per phone: a crowd at one shop signs up freely, one address or
    // one phone cannot block anyone else.
    if let Err(wait) = app.signup_limiter.member(
        slug,
        &meta.ip,
        req.phone.as_str(),
        std::time::Instant::now(),
    ) {
        return Err(SignupError::TooMany { wait_secs: wait });
    }
    let Checked {
        tenant,
        form,
        first,
        last,
        tags,
    } = check(app, slug, req).await?;
    let mut tx = app.db.begin().await?;
    if let Some(proof) = proof {
        crate::otp::consume(&mut tx, tenant, proof).await?;
    }
    let new = NewMember {
        phone: &req.phone,
        first_name: &first,
        last_name: &last,
        email: req.email.as_ref().map(|e| e.as_str()),
        join_branch_id: None,
    };
    let id = match store::insert(&mut tx, tenant, new).await {
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(SignupError::AlreadyMember);
        }
        other => other?,
    };
    let profile = ProfileChanges {
        birthday: req.birthday.clone().map(String::from),
        tags: Some(tags),
        ..Default::default()
    };
    store::update(&mut tx, tenant, id, &profile).await?;
    consent::record(
        &mut tx,
        tenant,
        id,
        "terms",
        true,
        Some(form.terms_version),
        "signup",
    )
    .await?;
    consent::record(
        &mut tx,
        tenant,
        id,
        "privacy",
        true,
        Some(form.privacy_version),
        "signup",
    )
    .await?;
    for c in &form.marketing_channels {
        consent::record(
            &mut tx,
            tenant,
            id,
            c.purpose(),
            req.marketing.contains(c),
            None,
            "signup",
        )
        .await?;
    }
    let actor = || ActorRef {
        kind: "member",
        id: Some(id),
        label: "member signup",
    };
    audit::record_as(
        &mut tx,
        tenant,
        actor(),
        meta,
        Change::new("member.signed_up", "member", id),
    )
    .await?;
    let welcome =
        crate::earning::grant_welcome(&mut tx, &app.db, tenant, id, crate::store::now_micros())
            .await?;
    tx.commit().await?;
    Ok(SignupResult {
        member_id: id,
        welcome_points: welcome.map(|w| w.points.get()).unwrap_or(0),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberConsents {
    /// The state of each purpose: its latest record.
    pub current: Vec<ConsentRecord>,
    /// Every record, oldest first.
    pub history: Vec<ConsentRecord>,
}

/// A member's consents: the current state per purpose and the full history.
#[utoipa::path(get, path = "/members/{id}/consents", tag = "signup", operation_id = "member_consents",
    params(("id" = i64, Path)), security(("api_key" = ["members.read"])),
    responses((status = 200, body = MemberConsents), (status = 404, body = crate::error::Problem)))]
async fn member_consents(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
) -> ApiResult<Json<MemberConsents>> {
    let member = store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    let history = consent::history(&app.db, ctx.tenant_id(), member.id).await?;
    Ok(Json(MemberConsents {
        current: consent::current(&history),
        history,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChange {
    /// `marketing_line`, `marketing_sms`, `marketing_email`, `terms` or `privacy`.
    pub purpose: String,
    /// false withdraws the consent.
    pub granted: bool,
}

/// Record a consent given or withdrawn on the member's behalf (e.g. they asked at the
/// counter to stop SMS messages).
#[utoipa::path(post, path = "/members/{id}/consents", tag = "signup", operation_id = "change_consent",
    params(("id" = i64, Path)), request_body = ConsentChange, security(("api_key" = ["members.write"])),
    responses((status = 201, body = MemberConsents), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn change_consent(
    State(app): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    JsonBody(req): JsonBody<ConsentChange>,
) -> ApiResult<(StatusCode, Json<MemberConsents>)> {
    let member = store::get(&app.db, ctx.tenant_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))?;
    if !PURPOSES.contains(&req.purpose.as_str()) {
        return Err(ApiError::invalid(
            "purpose",
            format!("use one of {}", PURPOSES.join(", ")),
        ));
    }
    let channel = if ctx.principal.staff_id().is_some() {
        "staff"
    } else {
        "api"
    };
    let mut tx = app.db.begin().await?;
    consent::record(
        &mut tx,
        ctx.tenant_id(),
        member.id,
        &req.purpose,
        req.granted,
        None,
        channel,
    )
    .await?;
    let action = if req.granted {
        "consent.given"
    } else {
        "consent.withdrawn"
    };
    audit::record(
        &mut tx,
        &ctx,
        Change::new(action, "member", member.id)
            .details(serde_json::json!({"purpose": req.purpose})),
    )
    .await?;
    tx.commit().await?;
    let history = consent::history(&app.db, ctx.tenant_id(), member.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(MemberConsents {
            current: consent::current(&history),
            history,
        }),
    ))
}
