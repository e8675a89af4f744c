//! The admin home: the shop's figures first (for those who may read reports), then the
//! shop's sections. Each figure links to the page that explains it.

use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};

use super::Overview;
use crate::auth::{Actor, Permission, Principal, Role};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{PageSession, baht, language, local_date_time, number, staff_layout, t};

/// A role in the page's words.
pub fn role_words(lang: Language, role: Role) -> &'static str {
    match role {
        Role::Owner => t(lang, "role_owner"),
        Role::Admin => t(lang, "role_admin"),
        Role::Manager => t(lang, "role_manager"),
        Role::Cashier => t(lang, "role_cashier"),
        Role::Fulfilment => t(lang, "role_fulfilment"),
        Role::Analyst => t(lang, "role_analyst"),
    }
}

/// `GET /admin`.
pub async fn admin_home(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    RawQuery(q): RawQuery,
    jar: CookieJar,
) -> Response {
    let lang = language(q.as_deref(), &jar);
    let shop = crate::tenants::store::get_tenant(&app.db, p.tenant_id).await;
    let shop = match shop {
        Ok(Some(shop)) => shop,
        Ok(None) => return crate::web::server_error(lang, "the shop is gone"),
        Err(e) => return crate::web::server_error(lang, e),
    };
    let figures = if p.allows(Permission::ReportsRead) {
        Some(super::overview(&app.db, p.tenant_id, app.clock.now_micros()).await)
    } else {
        None
    };
    let tz = jiff::tz::TimeZone::get(&shop.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let who = match &p.actor {
        Actor::Staff { name, role, .. } => format!("{name} · {}", role_words(lang, *role)),
        Actor::ApiKey { name, .. } => name.clone(),
    };
    let body = html! {
        p.muted { (t(lang, "welcome")) ", " strong #who { (who) } }
        @match figures {
            Some(Ok(o)) => (figures_markup(lang, &p, &o, &tz)),
            Some(Err(e)) => (crate::web::failure_notice(lang, e)),
            None => {}
        }
        (sections(lang, &p))
    };
    Html(staff_layout(lang, &shop.name, &p, body).into_string()).into_response()
}

/// A figure's card: its label, the number, a line under it, and where it leads.
fn card(id: &str, label: &str, value: Markup, under: Markup, href: Option<&str>) -> Markup {
    html! {
        @match href {
            Some(href) => a.figure id=(id) href=(href) {
                span.figure-label { (label) } span.figure-value { (value) } span.figure-note { (under) }
            },
            None => div.figure id=(id) {
                span.figure-label { (label) } span.figure-value { (value) } span.figure-note { (under) }
            },
        }
    }
}

fn figures_markup(lang: Language, p: &Principal, o: &Overview, tz: &jiff::tz::TimeZone) -> Markup {
    let members_page = p
        .allows(Permission::MembersRead)
        .then_some("/admin/members");
    let redemptions_page = p
        .allows(Permission::FulfilmentManage)
        .then_some("/staff/fulfilment");
    let settings_page = p
        .allows(Permission::RulesManage)
        .then_some("/admin/settings/ledger");
    let total_today: (i64, i64, i64) = o.today.iter().fold((0, 0, 0), |(n, s, pts), b| {
        (
            n + b.purchases,
            s.saturating_add(b.sales_satang),
            pts.saturating_add(b.points),
        )
    });
    html! {
        section aria-labelledby="figures-title" {
            h2 #figures-title { (t(lang, "o_this_month")) }
            p.muted { (t(lang, "o_counted_at")) " " (local_date_time(lang, o.at, tz)) }
            div.figures {
                (card("fig-members", t(lang, "o_members"), html! { (number(o.members)) },
                    html! { "+" (number(o.new_members_this_month)) " " (t(lang, "o_new_this_month")) }, members_page))
                (card("fig-active", t(lang, "o_active"), html! { (number(o.active_members_30_days)) },
                    html! { (t(lang, "o_active_note")) }, members_page))
                (card("fig-issued", t(lang, "o_issued"), html! { (number(o.points.issued)) },
                    html! { (t(lang, "points")) }, Some("/admin/points")))
                (card("fig-redeemed", t(lang, "o_redeemed"), html! { (number(o.points.redeemed)) },
                    html! { (t(lang, "points")) }, Some("/admin/points")))
                (card("fig-expired", t(lang, "o_expired"), html! { (number(o.points.expired)) },
                    html! { (t(lang, "points")) }, Some("/admin/points")))
                @match o.liability_satang {
                    Some(satang) => (card("fig-liability", t(lang, "o_liability"), html! { (number(o.points.outstanding)) },
                        html! { (t(lang, "points")) " ≈ " (baht(satang)) " " (t(lang, "baht")) }, Some("/admin/points"))),
                    None => (card("fig-liability", t(lang, "o_liability"), html! { (number(o.points.outstanding)) },
                        html! { (t(lang, "points")) " · " (t(lang, "o_set_point_value")) }, settings_page)),
                }
                (card("fig-redemptions", t(lang, "o_redemptions"), html! { (number(o.redemptions_this_month)) },
                    html! { (t(lang, "o_this_month_note")) }, redemptions_page))
            }
        }
        section aria-labelledby="today-title" {
            h2 #today-title { (t(lang, "o_today")) }
            @if o.today.is_empty() {
                p.empty #today-empty { (t(lang, "o_no_purchases_today")) " "
                    @if p.allows(Permission::PointsEarn) { a href="/staff/earn" { (t(lang, "o_open_counter")) } } }
            } @else {
                table #today {
                    thead { tr {
                        th scope="col" { (t(lang, "branch")) }
                        th.num scope="col" { (t(lang, "o_purchases")) }
                        th.num scope="col" { (t(lang, "o_sales")) }
                        th.num scope="col" { (t(lang, "points")) }
                    } }
                    tbody {
                        @for b in &o.today { tr {
                            td { (b.branch_name.clone().unwrap_or_else(|| t(lang, "o_no_branch").to_string())) }
                            td.num { (number(b.purchases)) }
                            td.num { (baht(b.sales_satang)) }
                            td.num { (number(b.points)) }
                        } }
                    }
                    @if o.today.len() > 1 {
                        tfoot { tr {
                            th scope="row" { (t(lang, "o_total")) }
                            td.num { (number(total_today.0)) }
                            td.num { (baht(total_today.1)) }
                            td.num { (number(total_today.2)) }
                        } }
                    }
                }
            }
        }
    }
}

/// The shop's sections the person may use, as a grid of links.
fn sections(lang: Language, p: &Principal) -> Markup {
    let links: Vec<(&str, &str, &str)> = [
        (
            Permission::TenantManage,
            "to-setup",
            "/admin/setup",
            t(lang, "w_title"),
        ),
        (
            Permission::PointsEarn,
            "to-counter",
            "/staff/earn",
            t(lang, "counter"),
        ),
        (
            Permission::CouponsValidate,
            "to-coupons",
            "/staff/coupons",
            t(lang, "coupons"),
        ),
        (
            Permission::FulfilmentManage,
            "to-fulfilment",
            "/staff/fulfilment",
            t(lang, "fulfilment"),
        ),
        (
            Permission::MembersRead,
            "to-members",
            "/admin/members",
            t(lang, "a_members"),
        ),
        (
            Permission::StaffRead,
            "to-staff",
            "/admin/staff",
            t(lang, "tm_title"),
        ),
        (
            Permission::BranchesRead,
            "to-branches",
            "/admin/branches",
            t(lang, "branches"),
        ),
        (
            Permission::MembersWrite,
            "to-import",
            "/admin/import",
            t(lang, "a_import"),
        ),
        (
            Permission::ReportsRead,
            "to-points",
            "/admin/points",
            t(lang, "o_points_page"),
        ),
        (
            Permission::TenantRead,
            "to-rewards",
            "/admin/rewards",
            t(lang, "m_rewards"),
        ),
        (
            Permission::TenantRead,
            "to-draws",
            "/admin/draws",
            t(lang, "a_draws"),
        ),
        (
            Permission::RulesManage,
            "to-tiers",
            "/admin/tiers",
            t(lang, "w_tiers"),
        ),
        (
            Permission::TenantManage,
            "to-signup-form",
            "/admin/signup-form",
            t(lang, "s_sign_up"),
        ),
        (
            Permission::RulesManage,
            "to-points-rules",
            "/admin/settings/ledger",
            t(lang, "ls_title"),
        ),
        (
            Permission::RulesManage,
            "to-settings",
            "/admin/settings/earning",
            t(lang, "a_settings"),
        ),
        (
            Permission::AuditRead,
            "to-audit",
            "/admin/audit",
            t(lang, "a_audit"),
        ),
        (
            Permission::ApiKeysManage,
            "to-api-keys",
            "/admin/api-keys",
            t(lang, "a_api_keys"),
        ),
        (
            Permission::TenantManage,
            "to-mailbox",
            "/admin/mailbox",
            t(lang, "a_mailbox"),
        ),
    ]
    .into_iter()
    .filter(|(perm, ..)| p.allows(*perm))
    .map(|(_, id, href, label)| (id, href, label))
    // Everyone signed in has their own account.
    .chain([("to-account", "/admin/account", t(lang, "pw_account"))])
    .collect();
    html! {
        section aria-labelledby="sections-title" {
            h2 #sections-title { (t(lang, "o_sections")) }
            nav.sections aria-labelledby="sections-title" {
                @for (id, href, label) in links { a id=(id) href=(href) { (label) } }
            }
            p.muted { a href="/api/docs" { (t(lang, "api_docs")) } }
        }
    }
}

/// `GET /admin/points[?format=csv]`: the points ledger of the last twelve months, and
/// the same table as a CSV file for the accountant.
pub async fn points_page(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    RawQuery(q): RawQuery,
    jar: CookieJar,
) -> Response {
    let lang = language(q.as_deref(), &jar);
    if !p.allows(Permission::ReportsRead) {
        return crate::web::refuse(lang);
    }
    let months =
        match super::points_by_month(&app.db, p.tenant_id, app.clock.now_micros(), 12).await {
            Ok(months) => months,
            Err(e) => return crate::web::server_error(lang, e),
        };
    let by_branch =
        match super::points_by_branch(&app.db, p.tenant_id, app.clock.now_micros()).await {
            Ok(rows) => rows,
            Err(e) => return crate::web::server_error(lang, e),
        };
    let asks = |part: &str| {
        q.as_deref()
            .is_some_and(|q| q.split('&').any(|kv| kv == part))
    };
    if asks("format=csv") && asks("by=branch") {
        return match branches_csv(&by_branch, lang) {
            Ok(bytes) => (
                [
                    (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        "attachment; filename=\"points-by-branch.csv\"",
                    ),
                ],
                bytes,
            )
                .into_response(),
            Err(e) => crate::web::server_error(lang, e),
        };
    }
    let wants_csv = asks("format=csv");
    if wants_csv {
        return match months_csv(&months) {
            Ok(bytes) => (
                [
                    (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        "attachment; filename=\"points-by-month.csv\"",
                    ),
                ],
                bytes,
            )
                .into_response(),
            Err(e) => crate::web::server_error(lang, e),
        };
    }
    let month_words = |m: &super::MonthOfPoints| match lang {
        Language::Th => format!(
            "{}/{}",
            &m.month[5..],
            m.month[..4].parse::<i32>().unwrap_or(0) + 543
        ),
        Language::En => m.month.clone(),
    };
    let body = html! {
        p.muted { (t(lang, "o_points_explained")) }
        p.row {
            a.button #download-csv href="/admin/points?format=csv" download { (t(lang, "o_download_csv")) }
            @if p.allows(crate::auth::Permission::PointsAdjust) {
                a.button.secondary #bulk-adjust href="/admin/points/adjust" { (t(lang, "pa_title")) }
            }
        }
        div.table-wrap {
            table #points-by-month {
                thead { tr {
                    th scope="col" { (t(lang, "o_month")) }
                    th.num scope="col" { (t(lang, "o_opening")) }
                    th.num scope="col" { (t(lang, "o_issued")) }
                    th.num scope="col" { (t(lang, "o_redeemed")) }
                    th.num scope="col" { (t(lang, "o_expired")) }
                    th.num scope="col" { (t(lang, "o_liability")) }
                    th.num scope="col" { (t(lang, "o_liability_baht")) }
                } }
                tbody {
                    @for m in months.iter().rev() { tr {
                        th scope="row" { (month_words(m)) }
                        td.num { (number(m.points.opening)) }
                        td.num { (number(m.points.issued)) }
                        td.num { (number(m.points.redeemed)) }
                        td.num { (number(m.points.expired)) }
                        td.num { (number(m.points.outstanding)) }
                        td.num { @match m.liability_satang { Some(s) => (baht(s)), None => "—" } }
                    } }
                }
            }
        }
        h2 { (t(lang, "o_by_branch")) }
        p { a.button.secondary #download-branch-csv href="/admin/points?format=csv&by=branch" download { (t(lang, "o_download_csv")) } }
        div.table-wrap {
            table #points-by-branch {
                thead { tr {
                    th scope="col" { (t(lang, "branch")) }
                    th.num scope="col" { (t(lang, "o_issued")) }
                    th.num scope="col" { (t(lang, "o_redeemed")) }
                    th.num scope="col" { (t(lang, "o_expired")) }
                } }
                tbody {
                    @for b in &by_branch { tr {
                        th scope="row" { (b.branch.clone().unwrap_or_else(|| t(lang, "o_points_no_branch").to_string())) }
                        td.num { (number(b.issued)) }
                        td.num { (number(b.redeemed)) }
                        td.num { (number(b.expired)) }
                    } }
                }
            }
        }
        @if months.iter().all(|m| m.liability_satang.is_none()) && p.allows(Permission::RulesManage) {
            p.empty { a href="/admin/settings/ledger" { (t(lang, "o_set_point_value")) } }
        }
    };
    Html(staff_layout(lang, t(lang, "o_points_page"), &p, body).into_string()).into_response()
}

/// This month by branch as CSV (a byte-order mark first, so a spreadsheet opens it as
/// UTF-8).
fn branches_csv(rows: &[super::BranchOfPoints], lang: Language) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record([
        "branch",
        "issued_points",
        "redeemed_points",
        "expired_points",
    ])?;
    for b in rows {
        out.write_record([
            b.branch
                .clone()
                .unwrap_or_else(|| t(lang, "o_points_no_branch").to_string()),
            b.issued.to_string(),
            b.redeemed.to_string(),
            b.expired.to_string(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// The months as CSV (a byte-order mark first, so a spreadsheet opens it as UTF-8).
fn months_csv(months: &[super::MonthOfPoints]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record([
        "month",
        "opening_points",
        "issued_points",
        "redeemed_points",
        "expired_points",
        "outstanding_points",
        "outstanding_baht",
    ])?;
    for m in months {
        out.write_record([
            m.month.clone(),
            m.points.opening.to_string(),
            m.points.issued.to_string(),
            m.points.redeemed.to_string(),
            m.points.expired.to_string(),
            m.points.outstanding.to_string(),
            m.liability_satang
                .map(|s| {
                    let sign = if s < 0 { "-" } else { "" };
                    let size = s.unsigned_abs();
                    format!("{sign}{}.{:02}", size / 100, size % 100)
                })
                .unwrap_or_default(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}
