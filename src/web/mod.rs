//! Server-rendered pages: the shared layout, Thai/English strings, and page sessions.
//! Pages call the same domain functions as the API; no business rule lives here.

pub mod strings;
pub mod words;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{DOCTYPE, Markup, html};

use crate::auth::{Principal, sessions};
use crate::state::AppState;
use crate::tenants::model::Language;
pub use strings::t;

pub const BASE_CSS: &str = "body{font-family:system-ui,'Noto Sans Thai',sans-serif;margin:0;color:#1d1d1f;background:#fafafa}\
main{max-width:40rem;margin:0 auto;padding:1rem}label{display:block;margin:.8rem 0 .2rem;font-weight:600}\
input,select{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;border:1px solid #888;border-radius:.3rem}\
button{font-size:1rem;padding:.6rem 1.2rem;margin-top:1rem;background:#0b5394;color:#fff;border:0;border-radius:.3rem;cursor:pointer}\
.error{color:#a40000;font-weight:600}.field-error{color:#a40000;margin:.2rem 0}nav{background:#0b5394;color:#fff;padding:.6rem 1rem}\
nav a{color:#fff;margin-right:1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}";

/// The full page around some content.
pub fn layout(lang: Language, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Loyal" }
                style { (BASE_CSS) }
            }
            body {
                main { (body) }
            }
        }
    }
}

/// The page language: `?lang=` wins, then the `lang` cookie, then Thai.
pub fn language(parts_query: Option<&str>, jar: &CookieJar) -> Language {
    let from_query = parts_query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")));
    match from_query.or_else(|| jar.get("lang").map(|c| c.value())) {
        Some("en") => Language::En,
        _ => Language::Th,
    }
}

/// Page middleware: a `?lang=th` or `?lang=en` in the address is the person's choice
/// from then on. The page sees it as if the cookie were already set, and the answer
/// sets the cookie, so every page (not only those that read the query) follows the
/// language switch in the navigation.
pub async fn remember_language(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::{HeaderValue, header};
    let chosen = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")))
        .filter(|l| matches!(*l, "th" | "en"))
        .map(str::to_string);
    let Some(lang) = chosen else {
        return next.run(req).await;
    };
    let others: Vec<String> = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.starts_with("lang="))
        .map(str::to_string)
        .collect();
    let cookies = others
        .into_iter()
        .chain([format!("lang={lang}")])
        .collect::<Vec<_>>()
        .join("; ");
    req.headers_mut().remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&cookies) {
        req.headers_mut().insert(header::COOKIE, v);
    }
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&format!("lang={lang}; Path=/; SameSite=Lax")) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// What a page being drawn knows of its request.
struct PageRequest {
    /// For the navigation to show where the person is.
    path: String,
    /// The one value this answer's scripts carry: the content-security policy runs no
    /// other script (an injected one has not got it).
    nonce: String,
}

tokio::task_local! {
    static PAGE: PageRequest;
}

/// Page middleware: the page's path (for [`nav_current`]) and a new script nonce (for
/// [`script_nonce`]) while the page is drawn; the answer's content-security policy runs
/// only scripts with that nonce, loads everything else from this site only, and lets
/// forms post nowhere else.
pub async fn remember_path(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let page = PageRequest {
        path: req.uri().path().to_string(),
        nonce: crate::auth::secrets::random_token(),
    };
    let policy = format!(
        "default-src 'self'; script-src 'nonce-{}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
        page.nonce
    );
    let mut res = PAGE.scope(page, next.run(req)).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&policy) {
        res.headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// The nonce of the page being drawn, for its `<script nonce=…>`.
pub fn script_nonce() -> String {
    PAGE.try_with(|p| p.nonce.clone()).unwrap_or_default()
}

/// `aria-current="page"` for the navigation link to `href` when the page being drawn is
/// it (or, unless `exact`, under it): the navigation shows where the person is.
pub fn nav_current(href: &str, exact: bool) -> Option<&'static str> {
    let here = PAGE.try_with(|page| {
        let p = &page.path;
        p == href || (!exact && p.starts_with(href) && p[href.len()..].starts_with('/'))
    });
    here.unwrap_or(false).then_some("page")
}

/// The language of a page: its `?lang=` value if given, else the cookie, else Thai.
pub fn page_language(lang_param: Option<&str>, jar: &CookieJar) -> Language {
    language(lang_param.map(|l| format!("lang={l}")).as_deref(), jar)
}

/// The page for a signed-in person whose role does not allow what they asked for.
pub fn refuse(lang: Language) -> Response {
    (
        axum::http::StatusCode::FORBIDDEN,
        axum::response::Html(
            layout(
                lang,
                t(lang, "not_allowed"),
                html! { p.error { (t(lang, "not_allowed")) } },
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// A page that could not be built because the database failed: a 500 with the error
/// in the page's language (the details go to the log), never a page that pretends
/// there was nothing to show.
pub fn server_error(lang: Language, err: impl std::fmt::Display) -> Response {
    let body = failure_notice(lang, err);
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::response::Html(layout(lang, t(lang, "server_error"), body).into_string()),
    )
        .into_response()
}

/// A signed-in staff member on a page; redirects to the login page otherwise (and shows
/// an error when the session could not be read).
pub struct PageSession(pub Principal);

impl FromRequestParts<AppState> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let principal = match jar.get(sessions::COOKIE) {
            Some(c) => sessions::resolve(&app.db, c.value())
                .await
                .map_err(|e| server_error(language(None, &jar), e))?,
            None => None,
        };
        principal
            .map(PageSession)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// Forms anyone may post before signing in (staff and member sign-in, member signup)
/// carry a `_form` token equal to this cookie, set with the form: another site cannot
/// post them from a visitor's browser (and sign them in to its own account).
pub const FORM_COOKIE: &str = "loyal_form";

/// The visitor's form token (from their cookie, or a new one) and the jar that keeps it.
pub fn form_token(app: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(token) = jar.get(FORM_COOKIE).map(|c| c.value().to_string())
        && token.len() == 43
    {
        return (jar, token);
    }
    let token = crate::auth::secrets::random_token();
    let cookie = axum_extra::extract::cookie::Cookie::build((FORM_COOKIE, token.clone()))
        .path("/")
        .http_only(true)
        .secure(app.settings.secure_cookies())
        .same_site(axum_extra::extract::cookie::SameSite::Lax)
        .build();
    (jar.add(cookie), token)
}

/// Whether a pre-sign-in form's `_form` field matches the visitor's cookie.
pub fn form_token_ok(jar: &CookieJar, sent: &str) -> bool {
    jar.get(FORM_COOKIE)
        .is_some_and(|c| crate::auth::secrets::constant_time_eq(c.value(), sent))
}

/// Whether a form's `_csrf` matches the session's token.
pub fn csrf_ok(p: &Principal, form_token: &str) -> bool {
    p.csrf_token
        .as_deref()
        .is_some_and(|c| crate::auth::secrets::constant_time_eq(c, form_token))
}

/// Where a person lands after signing in: the figures for those who run the shop, the
/// counter for a cashier, the shipments for fulfilment.
pub fn landing(p: &Principal) -> &'static str {
    use crate::auth::Permission;
    if p.allows(Permission::ReportsRead) || p.allows(Permission::TenantManage) {
        "/admin"
    } else if p.allows(Permission::PointsEarn) {
        "/staff/earn"
    } else if p.allows(Permission::FulfilmentManage) {
        "/staff/fulfilment"
    } else {
        "/admin"
    }
}

/// A page for staff: the shop's navigation (only what the role may use) and the language
/// switch around the content.
pub fn staff_layout(lang: Language, title: &str, p: &Principal, body: Markup) -> Markup {
    use crate::auth::Permission;
    let nav = html! {
        nav aria-label=(t(lang, "menu")) {
            @if p.allows(Permission::PointsEarn) { a href="/staff/earn" aria-current=[nav_current("/staff/earn", false)] { (t(lang, "counter")) } }
            @if p.allows(Permission::CouponsValidate) { a href="/staff/coupons" aria-current=[nav_current("/staff/coupons", false)] { (t(lang, "coupons")) } }
            @if p.allows(Permission::FulfilmentManage) { a href="/staff/fulfilment" aria-current=[nav_current("/staff/fulfilment", false)] { (t(lang, "fulfilment")) } }
            a href="/admin" aria-current=[nav_current("/admin", false)] { (t(lang, "admin")) }
            a href="?lang=th" lang="th" { "ไทย" }
            a href="?lang=en" lang="en" { "English" }
            form.nav-form method="post" action="/logout" {
                input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
                button.nav-button type="submit" { (t(lang, "sign_out")) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Loyal" }
                style { (BASE_CSS) (EXTRA_CSS) }
            }
            body { (nav) main.wide { h1 { (title) } (body) } }
        }
    }
}

pub const EXTRA_CSS: &str = ".card{background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:1rem;margin:1rem 0}\
.big{font-size:2rem;font-weight:700}ol.steps li[aria-current]{font-weight:700}.ok{color:#0a6b2d;font-weight:600}.muted{color:#555}\
button.secondary{background:#555}.row{display:flex;gap:.5rem;flex-wrap:wrap}\
main.wide{max-width:64rem}nav{display:flex;flex-wrap:wrap;align-items:center;gap:0 .2rem}nav a{display:inline-flex;align-items:center;min-height:44px}\
nav a[aria-current]{font-weight:700;text-decoration:none;box-shadow:inset 0 -3px 0 #fff}\
.nav-form{display:inline;margin-left:auto}.nav-button{margin:0;background:none;border:1px solid #fff;min-height:44px;padding:0 .8rem}\
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));gap:.75rem;margin:1rem 0}\
.figure{display:flex;flex-direction:column;background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:.9rem;color:inherit;text-decoration:none;min-height:44px}\
a.figure:hover,a.figure:focus{border-color:#0b5394;box-shadow:0 0 0 2px #cfe0f3}\
.figure-label{font-size:.9rem;color:#555}.figure-value{font-size:1.8rem;font-weight:700;font-variant-numeric:tabular-nums}.figure-note{font-size:.85rem;color:#555}\
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}thead th{border-bottom:2px solid #bbb}tfoot th,tfoot td{border-top:2px solid #bbb;font-weight:700}\
.table-wrap{overflow-x:auto}.empty{background:#fff;border:1px dashed #bbb;border-radius:.5rem;padding:1rem}\
.sections{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.5rem;background:none;padding:0}\
.sections a{display:flex;align-items:center;min-height:44px;padding:.5rem .8rem;background:#fff;border:1px solid #ddd;border-radius:.5rem;color:#0b5394;margin:0}\
a.button.secondary{background:#555}button.danger{background:#a40000}\
.columns{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:0 1rem}.card h2{margin-top:0;font-size:1.1rem}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem;margin:.5rem 0}dt{color:#555}dd{margin:0}\
.filters{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:0 .75rem;align-items:end}.filters button{margin:.8rem 0 0}\
.confirm{border:2px solid #0b5394}.choices label.choice,label.choice{display:flex;align-items:center;gap:.5rem;min-height:44px;font-weight:400;margin:0}label.choice input{width:auto}\
.actions{display:flex;gap:.5rem;flex-wrap:wrap}.actions form{margin:0}.actions button{margin:0}.link{overflow-wrap:anywhere}.qr svg{max-width:14rem;height:auto}.barcode{background:#fff;padding:.5rem 1.5rem;max-width:22rem}.barcode svg{display:block;width:100%;height:4.5rem}#scan-view{width:100%;max-width:22rem}\
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}fieldset{border:1px solid #ddd;border-radius:.5rem;background:#fff;margin:1rem 0;padding:.5rem 1rem 1rem}legend{font-weight:700;padding:0 .3rem}.row{align-items:center;margin-top:1rem}.row button{margin-top:0}\
.tabs{display:flex;gap:.5rem;overflow-x:auto;margin:1rem 0}.tabs a{display:inline-flex;align-items:center;min-height:44px;padding:0 1rem;border:1px solid #0b5394;border-radius:2rem;white-space:nowrap;text-decoration:none}\
a.button{display:inline-flex;align-items:center;min-height:44px;padding:0 1.2rem;background:#0b5394;color:#fff;border-radius:.3rem;text-decoration:none}";

/// An API error in the page's language: the code's meaning in Thai or English, with the
/// API's detail (which names the exact rule) after it.
pub fn localise_error(lang: Language, e: &crate::error::ApiError) -> String {
    use crate::error::Code;
    if lang == Language::En {
        return e.message.clone();
    }
    let th = match e.code {
        Code::InvalidField | Code::UnknownField => "ค่านี้ไม่ถูกต้อง",
        Code::MissingField => "กรุณากรอก",
        Code::AlreadyExists => "มีอยู่แล้ว",
        Code::Forbidden => "ตำแหน่งของคุณไม่มีสิทธิ์",
        Code::InsufficientPoints => "คะแนนไม่พอ",
        Code::NotFound => "ไม่พบ",
        _ => "ทำรายการไม่สำเร็จ",
    };
    format!("{th} ({})", e.message)
}

/// A field's error message, tied to the field for screen readers by id.
pub fn field_error(id: &str, error: Option<&str>) -> Markup {
    html! { @if let Some(e) = error { p.field-error id=(format!("{id}-error")) role="alert" { (e) } } }
}

/// Baht as typed ("249", "249.5", "1,249.50") to satang, exactly; None when not a
/// positive amount with at most two decimals.
pub fn parse_baht(typed: &str) -> Option<i64> {
    let s: String = typed.trim().chars().filter(|c| *c != ',').collect();
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s.as_str(), ""),
    };
    if whole.is_empty()
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    let satang = whole.checked_mul(100)?.checked_add(frac)?;
    (satang > 0 && satang <= crate::ledger::model::MAX_AMOUNT).then_some(satang)
}

/// A day in the shop's time zone as people read it: `25/11/2569` in Thai (Buddhist
/// era), `2026-11-25` in English.
pub fn local_date(lang: Language, at: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    let d = at.to_zoned(tz.clone()).date();
    match lang {
        Language::Th => format!("{}/{}/{}", d.day(), d.month(), i32::from(d.year()) + 543),
        Language::En => d.to_string(),
    }
}

/// A moment in the shop's time zone as people read it: `25/11/2569 14:05` in Thai
/// (Buddhist era), `2026-11-25 14:05` in English.
pub fn local_date_time(lang: Language, at: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    let z = at.to_zoned(tz.clone());
    format!(
        "{} {:02}:{:02}",
        local_date(lang, at, tz),
        z.hour(),
        z.minute()
    )
}

/// A count for people: `1,249`, `-1,249`.
pub fn number(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", thousands(&n.unsigned_abs().to_string()))
}

/// A phone number as Thai people write it: `+66812345678` as `081-234-5678`, a Bangkok
/// line `+6621234567` as `02-123-4567`; numbers of other countries as stored.
pub fn phone_for_people(e164: &str) -> String {
    let Some(national) = e164.strip_prefix("+66") else {
        return e164.to_string();
    };
    if !national.bytes().all(|b| b.is_ascii_digit()) {
        return e164.to_string();
    }
    let local = format!("0{national}");
    match local.len() {
        // Mobile: 0XX-XXX-XXXX.
        10 => format!("{}-{}-{}", &local[..3], &local[3..6], &local[6..]),
        // Bangkok (02) and provincial lines: 0X-XXX-XXXX / 0XX-XXX-XXX.
        9 if local.starts_with("02") => format!("{}-{}-{}", &local[..2], &local[2..5], &local[5..]),
        9 => format!("{}-{}-{}", &local[..3], &local[3..6], &local[6..]),
        _ => local,
    }
}

/// Digits grouped by thousands for people: `1249` as `1,249`.
pub fn thousands(digits: &str) -> String {
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

/// Satang as baht for people: `1,249.50`, `-1,249.50` (a refund's or a reversal's).
pub fn baht(satang: i64) -> String {
    // Digits of the magnitude (i64::MIN has none of its own), the sign written once.
    let size = satang.unsigned_abs();
    let sign = if satang < 0 { "-" } else { "" };
    let grouped = thousands(&(size / 100).to_string());
    format!("{sign}{grouped}.{:02}", size % 100)
}

/// The active branches a staff member works at (all of the shop's when none are
/// assigned): what the counter and coupon pages offer and accept.
pub async fn branches_for(
    app: &AppState,
    p: &Principal,
) -> sqlx::Result<Vec<crate::tenants::store::Branch>> {
    let all = crate::tenants::store::list_branches(&app.db, p.tenant_id, i64::MAX, 500).await?;
    Ok(all
        .into_iter()
        .filter(|b| b.active && (p.branches.is_empty() || p.branches.contains(&b.id)))
        .collect())
}

/// An error the page shows in place of what it could not do (the details go to the log).
pub fn failure_notice(lang: Language, err: impl std::fmt::Display) -> Markup {
    let e = crate::error::ApiError::internal(err);
    html! { p.error role="alert" { (localise_error(lang, &e)) } }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_phones_and_moments_read_as_people_write_them() {
        use crate::tenants::model::Language;
        assert_eq!(super::number(0), "0");
        assert_eq!(super::number(1_249), "1,249");
        assert_eq!(super::number(-1_234_567), "-1,234,567");
        assert_eq!(super::number(i64::MIN), "-9,223,372,036,854,775,808");
        assert_eq!(super::phone_for_people("+66812345678"), "081-234-5678");
        assert_eq!(super::phone_for_people("+6621234567"), "02-123-4567");
        assert_eq!(super::phone_for_people("+6653123456"), "053-123-456");
        assert_eq!(super::phone_for_people("+16502530000"), "+16502530000");
        let tz = jiff::tz::TimeZone::get("Asia/Bangkok").unwrap();
        // 2026-11-25 07:05 UTC is 14:05 in Bangkok.
        let at: jiff::Timestamp = "2026-11-25T07:05:00Z".parse().unwrap();
        assert_eq!(
            super::local_date_time(Language::Th, at, &tz),
            "25/11/2569 14:05"
        );
        assert_eq!(
            super::local_date_time(Language::En, at, &tz),
            "2026-11-25 14:05"
        );
    }

    #[test]
    fn baht_parses_exactly_and_refuses_fractions_of_satang() {
        assert_eq!(super::parse_baht("249"), Some(24_900));
        assert_eq!(super::parse_baht("249.5"), Some(24_950));
        assert_eq!(super::parse_baht(" 1,249.05 "), Some(124_905));
        for bad in ["", "0", "-5", "1.234", "abc", "1.2.3", ".5"] {
            assert_eq!(super::parse_baht(bad), None, "{bad:?}");
        }
        assert_eq!(super::baht(124_905), "1,249.05");
        assert_eq!(super::baht(5), "0.05");
        assert_eq!(super::baht(-123_400), "-1,234.00");
        assert_eq!(super::baht(-5), "-0.05");
        assert_eq!(super::baht(i64::MIN), "-92,233,720,368,547,758.08");
        let tz = jiff::tz::TimeZone::get("Asia/Bangkok").unwrap();
        // 20:00 UTC on 24 November is already 25 November in Bangkok.
        let at: jiff::Timestamp = "2026-11-24T20:00:00Z".parse().unwrap();
        assert_eq!(
            super::local_date(super::Language::Th, at, &tz),
            "25/11/2569"
        );
        assert_eq!(
            super::local_date(super::Language::En, at, &tz),
            "2026-11-25"
        );
    }
}
