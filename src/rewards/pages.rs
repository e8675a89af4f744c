//! Staff pages for rewards: validate a coupon at the counter (typed or scanned), and the
//! fulfilment queue. They call the same functions as the API.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::CookieJar;
use maud::html;
use serde::Deserialize;

use crate::audit::ActorRef;
use crate::audit::RequestMeta;
use crate::auth::Permission;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{
    PageSession, baht, csrf_ok, field_error, language, page_language, refuse, staff_layout, t,
};

#[derive(Deserialize, Default)]
pub struct CodeQuery {
    #[serde(default)]
    code: String,
    lang: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct UseForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    branch_id: String,
}

/// The strings key of a redemption status.
pub fn status_key(status: &str) -> &'static str {
    match status {
        "issued" => "st_issued",
        "used" => "st_used",
        "expired" => "st_expired",
        "cancelled" => "st_cancelled",
        "pending" => "st_pending",
        "packed" => "st_packed",
        "shipped" => "st_shipped",
        "delivered" => "st_delivered",
        _ => "status",
    }
}

async fn coupon_page(
    app: &AppState,
    p: &crate::auth::Principal,
    lang: Language,
    code: &str,
    notice: Option<maud::Markup>,
) -> Response {
    let tenant = p.tenant_id;
    let view = if code.trim().is_empty() {
        None
    } else {
        match super::check_coupon(&app.db, tenant, code).await {
            Ok(c) => Some(Ok(c)),
            Err(super::RedemptionError::NoSuchCoupon) => Some(Err(())),
            Err(e) => return crate::web::server_error(lang, e),
        }
    };
    let branches = match crate::web::branches_for(app, p).await {
        Ok(b) => b,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let tz = match crate::tenants::time_zone(&app.db, tenant).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let local = |m: i64| crate::web::local_date_time(lang, crate::types::timestamp(m), &tz);
    let not_found = matches!(view, Some(Err(())));
    let used_branch = match &view {
        Some(Ok(c)) => match c.redemption.used_branch_id {
            Some(b) => match crate::tenants::store::get_branch(&app.db, tenant, b).await {
                Ok(b) => b.map(|b| b.name),
                Err(e) => return crate::web::server_error(lang, e),
            },
            None => None,
        },
        _ => None,
    };
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        form method="get" action="/staff/coupons" role="search" {
            label for="code" { (t(lang, "coupon_code")) }
            input #code name="code" autocomplete="off" autocapitalize="characters" value=(code) required
                aria-invalid=[not_found.then_some("true")] aria-describedby="code-error";
            (field_error("code", not_found.then(|| t(lang, "no_coupon"))))
            button type="submit" { (t(lang, "check")) }
        }
        @if let Some(n) = notice { (n) }
        @if let Some(Ok(c)) = &view {
            section.card #coupon {
                p.big { (c.redemption.reward_name) }
                p { (t(lang, "member")) ": " (c.member_name) " " span.muted { (c.member_phone) } }
                @if let Some(v) = c.redemption.value_satang { p { (t(lang, "value")) ": " (baht(v)) " ฿" } }
                @if let Some(e) = c.redemption.expires_at { p.muted { (t(lang, "expires")) ": " (local(e)) } }
                p { (t(lang, "status")) ": " strong #coupon-status { (t(lang, status_key(&c.redemption.status))) } }
                @if c.problem.is_some() {
                    p.error #coupon-problem role="alert" {
                        @if c.redemption.status == "used" {
                            (t(lang, "used_on")) " " (c.redemption.used_at.map(local).unwrap_or_default())
                            " · " (used_branch.clone().unwrap_or_default()) " · " (c.redemption.used_by.clone().unwrap_or_default())
                        } @else if c.redemption.status == "issued" {
                            (t(lang, "coupon_expired"))
                        } @else {
                            (t(lang, status_key(&c.redemption.status)))
                        }
                    }
                }
                @if c.usable {
                    form method="post" action="/staff/coupons" {
                        input type="hidden" name="_csrf" value=(csrf);
                        input type="hidden" name="code" value=(code);
                        label for="branch_id" { (t(lang, "branch")) }
                        select #branch_id name="branch_id" {
                            @for b in branches.iter().filter(|b| b.active) { option value=(b.id) { (b.code) " — " (b.name) } }
                        }
                        button type="submit" #use-coupon { (t(lang, "mark_used")) }
                    }
                }
            }
        }
    };
    Html(staff_layout(lang, t(lang, "coupons"), p, body).into_string()).into_response()
}

/// `GET /staff/coupons?code=`: look a coupon up.
pub async fn show_coupons(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    jar: CookieJar,
    Query(q): Query<CodeQuery>,
) -> Response {
    let lang = page_language(q.lang.as_deref(), &jar);
    if !p.allows(Permission::CouponsValidate) {
        return refuse(lang);
    }
    let jar = jar.add(
        axum_extra::extract::cookie::Cookie::build(("lang", lang.as_str()))
            .path("/")
            .build(),
    );
    (jar, coupon_page(&app, &p, lang, &q.code, None).await).into_response()
}

/// `POST /staff/coupons`: mark it used at the chosen branch, once.
pub async fn submit_coupon(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(form): Form<UseForm>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::CouponsValidate) || !csrf_ok(&p, &form.csrf) {
        return refuse(lang);
    }
    let branch = form.branch_id.parse::<i64>().unwrap_or(0);
    // Only a branch this person works at.
    let valid_branch = crate::web::branches_for(&app, &p)
        .await
        .is_ok_and(|mine| mine.iter().any(|b| b.id == branch));
    let (kind, id, label) = p.audit_actor();
    let notice = if !valid_branch {
        html! { p.error role="alert" { (t(lang, "branch")) "?" } }
    } else {
        match super::use_coupon(
            &app.db,
            p.tenant_id,
            &form.code,
            branch,
            ActorRef {
                kind,
                id: Some(id),
                label: &label,
            },
            &meta,
        )
        .await
        {
            Ok(_) => html! { p.ok #coupon-result role="status" { (t(lang, "coupon_used_ok")) } },
            // The details (when, where, by whom) are shown on the card below, in the page's language.
            Err(super::RedemptionError::CouponRefused { used: true, .. }) => {
                html! { p.error #coupon-result role="alert" { (t(lang, "st_used")) } }
            }
            Err(super::RedemptionError::CouponRefused { used: false, .. }) => {
                html! { p.error #coupon-result role="alert" { (t(lang, "coupon_expired")) } }
            }
            Err(e) => {
                let e = crate::error::ApiError::from(e);
                html! { p.error #coupon-result role="alert" { (crate::web::localise_error(lang, &e)) } }
            }
        }
    };
    coupon_page(&app, &p, lang, &form.code, Some(notice)).await
}

#[derive(Deserialize, Default)]
pub struct ShipForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    carrier: String,
    #[serde(default)]
    tracking: String,
}

#[derive(Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
}

async fn fulfilment_page(
    app: &AppState,
    p: &crate::auth::Principal,
    lang: Language,
    notice: Option<maud::Markup>,
) -> Response {
    let mut queue = vec![];
    for status in ["pending", "packed", "shipped"] {
        let f = super::store::Filter {
            status: Some(status.into()),
            kind: Some("shipped".into()),
            member_id: None,
        };
        queue.extend(
            super::store::list_redemptions(&app.db, p.tenant_id, &f, i64::MAX, 200)
                .await
                .unwrap_or_default(),
        );
    }
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let body = html! {
        @if let Some(n) = notice { (n) }
        @if queue.is_empty() { p { (t(lang, "nothing_to_ship")) } }
        @for r in &queue {
            section.card.shipment id=(format!("shipment-{}", r.id)) {
                p.big { (r.reward_name) }
                p { (t(lang, "status")) ": " strong { (t(lang, status_key(&r.status))) } }
                @if let Some(a) = &r.shipping {
                    p { (t(lang, "address")) ": " (a.recipient) ", " (a.line1) " " (a.line2.clone().unwrap_or_default()) ", " (a.district) ", " (a.province) " " (a.postcode) " · " (a.phone) }
                }
                form method="post" action="/staff/fulfilment" {
                    input type="hidden" name="_csrf" value=(csrf);
                    input type="hidden" name="id" value=(r.id);
                    @match r.status.as_str() {
                        "pending" => { input type="hidden" name="status" value="packed"; button type="submit" { (t(lang, "pack")) } }
                        "packed" => {
                            input type="hidden" name="status" value="shipped";
                            label for=(format!("carrier-{}", r.id)) { (t(lang, "carrier")) }
                            input id=(format!("carrier-{}", r.id)) name="carrier" required;
                            label for=(format!("tracking-{}", r.id)) { (t(lang, "tracking")) }
                            input id=(format!("tracking-{}", r.id)) name="tracking" required;
                            button type="submit" { (t(lang, "ship")) }
                        }
                        _ => { input type="hidden" name="status" value="delivered"; button type="submit" { (t(lang, "deliver")) } }
                    }
                }
            }
        }
    };
    Html(staff_layout(lang, t(lang, "fulfilment"), p, body).into_string()).into_response()
}

/// `GET /staff/fulfilment`: shipments to pack, ship and confirm delivered.
pub async fn show_fulfilment(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    jar: CookieJar,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = page_language(q.lang.as_deref(), &jar);
    if !p.allows(Permission::FulfilmentManage) {
        return refuse(lang);
    }
    fulfilment_page(&app, &p, lang, None).await
}

/// `POST /staff/fulfilment`: move one shipment a step on.
pub async fn submit_fulfilment(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<ShipForm>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::FulfilmentManage) || !csrf_ok(&p, &f.csrf) {
        return refuse(lang);
    }
    let id = f.id.parse::<i64>().unwrap_or(0);
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let (carrier, tracking) = (opt(&f.carrier), opt(&f.tracking));
    let (kind, actor_id, label) = p.audit_actor();
    let notice = if f.status == "shipped" && (carrier.is_none() || tracking.is_none()) {
        html! { p.error role="alert" { (t(lang, "carrier")) " / " (t(lang, "tracking")) "?" } }
    } else {
        match super::advance_shipping(
            &app.db,
            p.tenant_id,
            id,
            &f.status,
            carrier.as_deref(),
            tracking.as_deref(),
            ActorRef {
                kind,
                id: Some(actor_id),
                label: &label,
            },
            &meta,
        )
        .await
        {
            Ok(r) => html! { p.ok role="status" { (r.reward_name) ": " (r.status) } },
            Err(e) => {
                let e = crate::error::ApiError::from(e);
                html! { p.error role="alert" { (crate::web::localise_error(lang, &e)) } }
            }
        }
    };
    fulfilment_page(&app, &p, lang, Some(notice)).await
}
