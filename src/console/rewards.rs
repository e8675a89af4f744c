//! The rewards catalogue in plain words: each reward's kind said as what the member
//! gets ("a coupon used in the shop", "shipped to the member", ...), its price, a
//! voucher's value in baht, what is left and the limits; a form for a new one and a
//! page to change one. Through the API's own handlers.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use maud::{Markup, html};

use super::{ctx, page};
use crate::audit::RequestMeta;
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::query::{PathId, QueryParams};
use crate::rewards::model::{RewardKind, RewardSpec};
use crate::rewards::store::Reward;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{
    baht, csrf_ok, field_error, language, localise_error, number, parse_baht, refuse, t,
};

type Fields = HashMap<String, String>;

/// What a member gets, in the page's words.
pub fn kind_words(lang: Language, kind: RewardKind) -> &'static str {
    match kind {
        RewardKind::Coupon => t(lang, "rk_coupon"),
        RewardKind::Shipped => t(lang, "rk_shipped"),
        RewardKind::DigitalCode => t(lang, "rk_digital_code"),
        RewardKind::Voucher => t(lang, "rk_voucher"),
    }
}

const KINDS: [(RewardKind, &str); 4] = [
    (RewardKind::Coupon, "coupon"),
    (RewardKind::Voucher, "voucher"),
    (RewardKind::Shipped, "shipped"),
    (RewardKind::DigitalCode, "digital_code"),
];

/// A refusal, and the form field it belongs to.
struct Refused {
    field: String,
    words: String,
    status: StatusCode,
}

impl Refused {
    fn from_api(lang: Language, e: &ApiError) -> Refused {
        Refused {
            field: e.field.clone().unwrap_or_default(),
            words: localise_error(lang, e),
            status: e.code.status(),
        }
    }
    fn on(&self, field: &str) -> Option<&str> {
        (self.field == field).then_some(self.words.as_str())
    }
}

/// `GET /admin/rewards`.
pub async fn rewards(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::TenantRead) {
        return refuse(lang);
    }
    list_page(&app, &p, meta, lang, None, None).await
}

async fn list_page(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    typed: Option<&Fields>,
    outcome: Option<Result<&'static str, Refused>>,
) -> Response {
    let query = crate::rewards::api::RewardQuery {
        include_archived: false,
        limit: Some(crate::http::query::MAX_PAGE_SIZE),
        cursor: None,
    };
    let listed =
        crate::rewards::api::list_rewards(State(app.clone()), ctx(p, meta), QueryParams(query))
            .await;
    let manage = p.allows(Permission::RewardsManage);
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let value = |k: &str| typed.and_then(|f| f.get(k).cloned()).unwrap_or_default();
    let refused = outcome.as_ref().and_then(|o| o.as_ref().err());
    let status = refused.map(|r| r.status).unwrap_or(StatusCode::OK);
    let input = |name: &'static str, label: &'static str, mode: &'static str| {
        let e = refused.and_then(|r| r.on(name));
        html! {
            label for=(name) { (t(lang, label)) }
            input id=(name) name=(name) inputmode=(mode) value=(value(name)) aria-describedby=(format!("{name}-error"));
            (field_error(name, e))
        }
    };
    let body = html! {
        @match &outcome {
            Some(Ok(words)) => p.ok #rewards-done role="status" { (t(lang, words)) },
            Some(Err(r)) => p.error #rewards-refused role="alert" { (r.words) },
            None => {}
        }
        @match listed {
            Err(e) => p.error role="alert" { (localise_error(lang, &e)) },
            Ok(list) if list.0.items.is_empty() => p.empty #no-rewards { (t(lang, "rw_none")) },
            Ok(list) => div.table-wrap { table #rewards {
                thead { tr {
                    th scope="col" { (t(lang, "reward")) }
                    th scope="col" { (t(lang, "rw_kind")) }
                    th scope="col" { (t(lang, "rw_group")) }
                    th.num scope="col" { (t(lang, "w_points_cost")) }
                    th.num scope="col" { (t(lang, "rw_left")) }
                    th.num scope="col" { (t(lang, "rw_redeemed")) }
                    th scope="col" { (t(lang, "rw_limits")) }
                    @if manage { th scope="col" { span.visually-hidden { (t(lang, "tm_actions")) } } }
                } }
                tbody { @for r in &list.0.items { tr {
                    td {
                        @if manage { a href=(format!("/admin/rewards/{}", r.id)) { (r.spec.name) } } @else { (r.spec.name) }
                        @if !r.spec.visible { " " span.muted { "(" (t(lang, "rw_hidden")) ")" } }
                    }
                    td { (kind_words(lang, r.spec.kind)) @if let Some(v) = r.spec.value_satang { " · " (baht(v)) " " (t(lang, "baht")) } }
                    td { (r.spec.category) }
                    td.num { (number(r.spec.points_cost)) " " (crate::web::words::unit(lang, r.spec.currency)) }
                    td.num { @match r.spec.stock { Some(n) => (number(n)), None => (t(lang, "rw_unlimited")) } }
                    td.num { (number(r.redeemed)) }
                    td { (limits(lang, r)) }
                    @if manage { td.actions {
                        form method="post" action=(format!("/admin/rewards/{}/archive", r.id)) {
                            input type="hidden" name="_csrf" value=(csrf);
                            button.secondary type="submit" { (t(lang, "a_archive")) }
                        }
                    } }
                } } }
            } },
        }
        @if manage {
            section.card #new-reward aria-labelledby="new-reward-title" {
                h2 #new-reward-title { (t(lang, "a_new_reward")) }
                form method="post" action="/admin/rewards" {
                    input type="hidden" name="_csrf" value=(csrf);
                    label for="kind" { (t(lang, "rw_kind")) }
                    select #kind name="kind" {
                        @for (kind, code) in KINDS { option value=(code) selected[value("kind") == code] { (kind_words(lang, kind)) } }
                    }
                    (input("name", "w_reward_name", "text"))
                    (input("name_en", "rw_name_en", "text"))
                    (input("category", "rw_group", "text"))
                    (input("points_cost", "w_points_cost", "numeric"))
                    (currency_select(lang, &value("currency")))
                    (input("stock", "rw_stock", "numeric"))
                    (input("value_baht", "rw_value_baht", "decimal"))
                    (input("per_member_limit", "rw_per_member", "numeric"))
                    label.choice { input #generate_codes type="checkbox" name="generate_codes" checked[value("generate_codes") == "on"]; " " (t(lang, "rw_generate_codes")) }
                    button #new-reward-save type="submit" { (t(lang, "w_save")) }
                }
            }
        }
    };
    page(lang, t(lang, "m_rewards"), p, body, status)
}

/// A reward's limits in words.
fn limits(lang: Language, r: &Reward) -> Markup {
    html! {
        @if let Some(n) = r.spec.per_member_limit { (t(lang, "rw_per_member_short")) " " (number(n)) " " }
        @if let Some(l) = &r.spec.period_limit { (number(l.count)) " / " (t(lang, match l.per {
            crate::rewards::model::LimitPeriod::Day => "rw_day",
            crate::rewards::model::LimitPeriod::Week => "rw_week",
            crate::rewards::model::LimitPeriod::Month => "rw_month",
        })) " " }
        @if !r.spec.tiers.is_empty() { (t(lang, "rw_tiers_only")) " " (r.spec.tiers.join(", ")) }
    }
}

/// The number typed in `field`: None when left empty.
fn optional_number(lang: Language, f: &Fields, field: &str) -> Result<Option<i64>, ApiError> {
    match f.get(field).map(|v| v.trim().replace(',', "")) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(field, t(lang, "ls_bad_number"))),
    }
}

fn required_number(lang: Language, f: &Fields, field: &str) -> Result<i64, ApiError> {
    optional_number(lang, f, field)?
        .ok_or_else(|| ApiError::invalid(field, t(lang, "ls_bad_number")))
}

fn text(f: &Fields, field: &str) -> String {
    f.get(field)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn optional_text(f: &Fields, field: &str) -> Option<String> {
    Some(text(f, field)).filter(|v| !v.is_empty())
}

/// `POST /admin/rewards`: a new reward.
pub async fn create(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RewardsManage) || !csrf_ok(&p, &text(&f, "_csrf")) {
        return refuse(lang);
    }
    let spec = (|| -> Result<RewardSpec, ApiError> {
        let kind = KINDS
            .iter()
            .find(|(_, code)| *code == text(&f, "kind"))
            .map(|(k, _)| *k)
            .ok_or_else(|| ApiError::invalid("kind", t(lang, "rw_kind")))?;
        let value_satang = match optional_text(&f, "value_baht") {
            None => None,
            Some(v) => Some(
                parse_baht(&v)
                    .ok_or_else(|| ApiError::invalid("value_baht", t(lang, "ls_bad_baht")))?,
            ),
        };
        Ok(RewardSpec {
            kind,
            category: text(&f, "category"),
            name: text(&f, "name"),
            name_en: optional_text(&f, "name_en"),
            description: String::new(),
            description_en: None,
            image_url: None,
            points_cost: required_number(lang, &f, "points_cost")?,
            currency: typed_currency(&f),
            tier_prices: Default::default(),
            tiers: vec![],
            stock: optional_number(lang, &f, "stock")?,
            per_member_limit: optional_number(lang, &f, "per_member_limit")?,
            period_limit: None,
            valid_from: None,
            valid_until: None,
            visible: true,
            value_satang,
            // As the API's defaults for a reward that does not say.
            use_within_days: crate::rewards::model::USE_WITHIN_DAYS,
            refund_on_expiry: true,
            generate_codes: text(&f, "generate_codes") == "on",
        })
    })();
    let made = match spec {
        Ok(spec) => crate::rewards::api::create_reward(
            State(app.clone()),
            ctx(&p, meta.clone()),
            JsonBody(spec),
        )
        .await
        .map(|_| ()),
        Err(e) => Err(e),
    };
    match made {
        Ok(()) => list_page(&app, &p, meta, lang, None, Some(Ok("w_saved"))).await,
        Err(e) => {
            let mut refused = Refused::from_api(lang, &e);
            if refused.field == "value_satang" {
                refused.field = "value_baht".into();
            }
            list_page(&app, &p, meta, lang, Some(&f), Some(Err(refused))).await
        }
    }
}

/// `POST /admin/rewards/{id}/archive`.
pub async fn archive(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RewardsManage) || !csrf_ok(&p, &text(&f, "_csrf")) {
        return refuse(lang);
    }
    match crate::rewards::api::archive_reward(State(app.clone()), ctx(&p, meta.clone()), PathId(id))
        .await
    {
        Ok(_) => list_page(&app, &p, meta, lang, None, Some(Ok("rw_archived"))).await,
        Err(e) => {
            list_page(
                &app,
                &p,
                meta,
                lang,
                None,
                Some(Err(Refused::from_api(lang, &e))),
            )
            .await
        }
    }
}

/// The edit form, from the reward's definition or from what was typed.
fn edit_page(
    lang: Language,
    p: &Principal,
    id: i64,
    shown: &Fields,
    kind: RewardKind,
    outcome: Option<Result<(), Refused>>,
) -> Response {
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let refused = outcome.as_ref().and_then(|o| o.as_ref().err());
    let status = refused.map(|r| r.status).unwrap_or(StatusCode::OK);
    let value = |k: &str| shown.get(k).cloned().unwrap_or_default();
    let input =
        |name: &'static str, label: &'static str, mode: &'static str, kind: &'static str| {
            let e = refused.and_then(|r| r.on(name));
            html! {
                label for=(name) { (t(lang, label)) }
                input id=(name) name=(name) type=(kind) inputmode=(mode) value=(value(name))
                    aria-invalid=[e.map(|_| "true")] aria-describedby=(format!("{name}-error"));
                (field_error(name, e))
            }
        };
    let body = html! {
        @match &outcome {
            Some(Ok(())) => p.ok #saved role="status" { (t(lang, "w_saved")) },
            Some(Err(r)) => p.error #reward-error role="alert" { (r.words) },
            None => {}
        }
        p.muted { (kind_words(lang, kind)) }
        form method="post" action=(format!("/admin/rewards/{id}")) {
            input type="hidden" name="_csrf" value=(csrf);
            (input("name", "w_reward_name", "text", "text"))
            (input("name_en", "rw_name_en", "text", "text"))
            (input("category", "rw_group", "text", "text"))
            label for="description" { (t(lang, "rw_description")) }
            textarea #description name="description" rows="4" { (value("description")) }
            (input("points_cost", "w_points_cost", "numeric", "text"))
            (currency_select(lang, &value("currency")))
            (input("stock", "rw_stock", "numeric", "text"))
            (input("per_member_limit", "rw_per_member", "numeric", "text"))
            (input("valid_until", "rw_valid_until", "text", "date"))
            label.choice { input #visible type="checkbox" name="visible" checked[value("visible") == "on"]; " " (t(lang, "rw_visible")) }
            button type="submit" #save-reward { (t(lang, "w_save")) }
        }
        p { a href="/admin/rewards" { (t(lang, "m_rewards")) } }
    };
    page(lang, &value("name"), p, body, status)
}

/// The edit form's fields from a saved reward (`valid_until` as the last day it is
/// offered, in the shop's time zone).
fn fields_of(r: &Reward, tz: &jiff::tz::TimeZone) -> Fields {
    let s = &r.spec;
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let last_day = s.valid_until.map(|until| {
        let day = until
            .checked_sub(jiff::SignedDuration::from_micros(1))
            .unwrap_or(until);
        day.to_zoned(tz.clone()).date().to_string()
    });
    [
        ("name", s.name.clone()),
        ("name_en", s.name_en.clone().unwrap_or_default()),
        ("category", s.category.clone()),
        ("description", s.description.clone()),
        ("points_cost", s.points_cost.to_string()),
        ("currency", s.currency.as_str().to_string()),
        ("stock", opt(s.stock)),
        ("per_member_limit", opt(s.per_member_limit)),
        ("valid_until", last_day.unwrap_or_default()),
        (
            "visible",
            if s.visible {
                "on".into()
            } else {
                String::new()
            },
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `GET /admin/rewards/{id}`.
pub async fn reward(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RewardsManage) {
        return refuse(lang);
    }
    let tz = match crate::tenants::time_zone(&app.db, p.tenant_id).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    match crate::rewards::api::get_reward(State(app.clone()), ctx(&p, meta), PathId(id)).await {
        Ok(r) => edit_page(lang, &p, id, &fields_of(&r.0, &tz), r.0.spec.kind, None),
        Err(e) => {
            let body = html! { p.error role="alert" { (localise_error(lang, &e)) } };
            page(lang, t(lang, "m_rewards"), &p, body, e.code.status())
        }
    }
}

/// `POST /admin/rewards/{id}`: the saved definition with the edited fields, through
/// the API's update.
pub async fn save(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RewardsManage) || !csrf_ok(&p, &text(&f, "_csrf")) {
        return refuse(lang);
    }
    let current = match crate::rewards::api::get_reward(
        State(app.clone()),
        ctx(&p, meta.clone()),
        PathId(id),
    )
    .await
    {
        Ok(r) => r.0,
        Err(e) => {
            let body = html! { p.error role="alert" { (localise_error(lang, &e)) } };
            return page(lang, t(lang, "m_rewards"), &p, body, e.code.status());
        }
    };
    let tz = match crate::tenants::time_zone(&app.db, p.tenant_id).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    // The day shown for the saved end: typed again unchanged, the saved instant stays.
    let shown_day = fields_of(&current, &tz)
        .remove("valid_until")
        .unwrap_or_default();
    let kind = current.spec.kind;
    let spec = (|| -> Result<RewardSpec, ApiError> {
        let valid_until = match optional_text(&f, "valid_until") {
            None => None,
            Some(day) if day == shown_day => current.spec.valid_until,
            Some(day) => {
                // Offered through the whole of that day in the shop's time zone.
                let date: jiff::civil::Date = day
                    .parse()
                    .map_err(|_| ApiError::invalid("valid_until", t(lang, "rw_valid_until")))?;
                let next = date
                    .tomorrow()
                    .and_then(|d| d.to_zoned(tz.clone()))
                    .map_err(|_| ApiError::invalid("valid_until", t(lang, "rw_valid_until")))?;
                Some(next.timestamp())
            }
        };
        Ok(RewardSpec {
            name: text(&f, "name"),
            name_en: optional_text(&f, "name_en"),
            category: text(&f, "category"),
            description: text(&f, "description"),
            points_cost: required_number(lang, &f, "points_cost")?,
            currency: typed_currency(&f),
            stock: optional_number(lang, &f, "stock")?,
            per_member_limit: optional_number(lang, &f, "per_member_limit")?,
            valid_until,
            visible: text(&f, "visible") == "on",
            ..current.spec.clone()
        })
    })();
    let saved = match spec {
        Ok(spec) => crate::rewards::api::update_reward(
            State(app.clone()),
            ctx(&p, meta),
            PathId(id),
            JsonBody(spec),
        )
        .await
        .map(|r| r.0),
        Err(e) => Err(e),
    };
    match saved {
        Ok(r) => edit_page(lang, &p, id, &fields_of(&r, &tz), kind, Some(Ok(()))),
        Err(e) => edit_page(
            lang,
            &p,
            id,
            &f,
            kind,
            Some(Err(Refused::from_api(lang, &e))),
        ),
    }
}

fn typed_currency(f: &Fields) -> crate::ledger::model::Currency {
    crate::ledger::model::Currency::from_db(&text(f, "currency"))
}

/// Points or stamps, for a reward's price.
fn currency_select(lang: Language, current: &str) -> Markup {
    html! {
        label for="currency" { (t(lang, "rw_paid_in")) }
        select #currency name="currency" {
            option value="points" selected[current != "stamps"] { (t(lang, "points")) }
            option value="stamps" selected[current == "stamps"] { (t(lang, "m_stamps")) }
        }
    }
}
