//! The member's own account: their details, marketing consent per channel (withdrawn as
//! easily as given), a download of everything held on them, and a request to be erased.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::{MemberPage, PageError, check_csrf, found, lang_cookie, page, read};
use crate::audit::RequestMeta;
use crate::members::consent::{self, Channel};
use crate::members::self_service::{self, OwnProfile, SelfServiceError};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{field_error, t};

#[derive(Deserialize, Default)]
pub struct AccountQuery {
    saved: Option<String>,
}

/// The marketing channels the member may choose: those the shop's signup form offers,
/// and any they gave or withdrew consent for before (so it can always be withdrawn).
async fn channels(app: &AppState, shop: i64, member: i64) -> sqlx::Result<Vec<(Channel, bool)>> {
    let offered = consent::form(&app.db, shop)
        .await?
        .map(|f| f.marketing_channels)
        .unwrap_or_default();
    let current = consent::current(&consent::history(&app.db, shop, member).await?);
    let granted = |c: Channel| {
        current
            .iter()
            .any(|r| r.purpose == c.purpose() && r.granted)
    };
    let recorded = |c: Channel| current.iter().any(|r| r.purpose == c.purpose());
    Ok([Channel::Line, Channel::Sms, Channel::Email]
        .into_iter()
        .filter(|c| offered.contains(c) || recorded(*c))
        .map(|c| (c, granted(c)))
        .collect())
}

fn channel_field(c: Channel) -> String {
    format!("{}_ok", c.purpose())
}

struct AccountView<'a> {
    slug: &'a str,
    csrf: &'a str,
    /// The form as typed (or as stored, on arrival).
    typed: &'a HashMap<String, String>,
    channels: &'a [(Channel, bool)],
    erasure: Option<(String, String)>,
    error: Option<(&'static str, String)>,
    saved: bool,
}

fn account_body(lang: Language, v: &AccountView<'_>) -> Markup {
    let typed = |k: &str| v.typed.get(k).cloned().unwrap_or_default();
    let err = |k: &str| {
        v.error
            .as_ref()
            .filter(|(f, _)| *f == k)
            .map(|(_, m)| m.clone())
    };
    let invalid = |k: &str| err(k).map(|_| "true");
    let slug = v.slug;
    html! {
        @if v.saved { p.ok #m-saved role="status" { (t(lang, "m_saved")) } }
        h2 { (t(lang, "m_profile")) }
        form #m-account method="post" action=(format!("/m/{slug}/me")) {
            input type="hidden" name="_csrf" value=(v.csrf);
            label for="first_name" { (t(lang, "s_first_name")) }
            input #first_name name="first_name" autocomplete="given-name" required value=(typed("first_name"))
                aria-invalid=[invalid("first_name")] aria-describedby="first_name-error";
            (field_error("first_name", err("first_name").as_deref()))
            label for="last_name" { (t(lang, "s_last_name")) }
            input #last_name name="last_name" autocomplete="family-name" value=(typed("last_name"))
                aria-invalid=[invalid("last_name")] aria-describedby="last_name-error";
            (field_error("last_name", err("last_name").as_deref()))
            label for="email" { (t(lang, "email")) }
            input #email name="email" type="email" autocomplete="email" value=(typed("email"))
                aria-invalid=[invalid("email")] aria-describedby="email-error";
            (field_error("email", err("email").as_deref()))
            label for="birthday" { (t(lang, "s_birthday")) }
            input #birthday name="birthday" placeholder=(t(lang, "s_birthday_hint")) value=(typed("birthday"))
                aria-invalid=[invalid("birthday")] aria-describedby="birthday-error";
            (field_error("birthday", err("birthday").as_deref()))
            @if !v.channels.is_empty() {
                fieldset #m-marketing {
                    legend { (t(lang, "m_marketing")) }
                    p.muted { (t(lang, "m_marketing_hint")) }
                    @for (c, granted) in v.channels {
                        @let name = channel_field(*c);
                        input type="hidden" name="shown" value=(c.purpose());
                        label { input id=(name) type="checkbox" name=(name) style="width:auto" checked[*granted]; " " (crate::web::words::consent_purpose(lang, c.purpose())) }
                    }
                }
            }
            button #m-save type="submit" { (t(lang, "m_save")) }
        }
        h2 { (t(lang, "m_my_data")) }
        p { a #m-download href=(format!("/m/{slug}/me/data")) download { (t(lang, "m_download")) } }
        @if let Some((asked, by)) = &v.erasure {
            p #m-erasure-asked {
                (t(lang, "m_erase_asked")) " " strong { (asked) } ". " (t(lang, "m_erase_by")) " " strong { (by) } "."
            }
        } @else {
            form method="post" action=(format!("/m/{slug}/me/erase")) {
                input type="hidden" name="_csrf" value=(v.csrf);
                button.secondary #m-erase type="submit" { (t(lang, "m_erase")) }
            }
        }
    }
}

/// The member's open erasure request as (asked on, erased by), in the shop's calendar.
async fn erasure(
    app: &AppState,
    shop: i64,
    member: i64,
    lang: Language,
) -> Result<Option<(String, String)>, PageError> {
    let Some(r) = read(self_service::open_erasure(&app.db, shop, member).await)? else {
        return Ok(None);
    };
    let tz = read(crate::tenants::time_zone(&app.db, shop).await)?;
    let day = |at: jiff::Timestamp| crate::web::local_date(lang, at, &tz);
    Ok(Some((day(r.requested_at), day(r.due_at))))
}

/// `GET /m/{shop}/me`.
pub async fn account(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<AccountQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let member = found(crate::members::store::get(&app.db, shop.id, s.member_id).await)?;
    let channels = read(channels(&app, shop.id, member.id).await)?;
    let typed = HashMap::from([
        ("first_name".to_string(), member.first_name.clone()),
        ("last_name".to_string(), member.last_name.clone()),
        (
            "email".to_string(),
            member.email.clone().unwrap_or_default(),
        ),
        (
            "birthday".to_string(),
            member
                .birthday
                .as_deref()
                .map(|b| crate::web::words::birthday_as_typed(lang, b))
                .unwrap_or_default(),
        ),
    ]);
    let view = AccountView {
        slug: &slug,
        csrf: &s.csrf_token,
        typed: &typed,
        channels: &channels,
        erasure: erasure(&app, shop.id, member.id, lang).await?,
        error: None,
        saved: q.saved.is_some(),
    };
    let body = account_body(lang, &view);
    Ok((
        jar.add(lang_cookie(lang)),
        page(lang, &shop.name, &slug, t(lang, "m_account"), true, body),
    )
        .into_response())
}

/// `POST /m/{shop}/me`: save the details and the marketing choices; a refusal is shown
/// next to its field with everything typed kept.
pub async fn save_account(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    check_csrf(&s, lang, &get("_csrf"))?;
    let channels = read(channels(&app, shop.id, s.member_id).await)?;
    let typed: HashMap<String, String> = fields.iter().cloned().collect();
    let refuse = |field: &'static str, message: String, channels: &[(Channel, bool)]| {
        let view = AccountView {
            slug: &slug,
            csrf: &s.csrf_token,
            typed: &typed,
            channels,
            erasure: None,
            error: Some((field, message)),
            saved: false,
        };
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                lang,
                &shop.name,
                &slug,
                t(lang, "m_account"),
                true,
                account_body(lang, &view),
            ),
        )
            .into_response()
    };
    // What the member ticked, as they left the boxes.
    let ticked: Vec<(Channel, bool)> = channels
        .iter()
        .map(|(c, _)| (*c, !get(&channel_field(*c)).is_empty()))
        .collect();
    let birthday = match get("birthday").trim() {
        "" => String::new(),
        typed => match crate::members::model::parse_birthday(typed) {
            Some(b) => b,
            None => {
                return Ok(refuse(
                    "birthday",
                    t(lang, "s_bad_birthday").into(),
                    &ticked,
                ));
            }
        },
    };
    let profile = OwnProfile {
        first_name: get("first_name"),
        last_name: get("last_name"),
        email: get("email"),
        birthday,
    };
    match self_service::update_profile(&app.db, shop.id, s.member_id, &profile, &meta).await {
        Ok(()) => {}
        Err(SelfServiceError::Field { field, .. }) => {
            let key = match field {
                "first_name" => "s_required",
                "birthday" => "s_bad_birthday",
                "email" => "m_bad_email",
                _ => "m_too_long",
            };
            return Ok(refuse(field, t(lang, key).into(), &ticked));
        }
        Err(e) => return Err(super::failed(e)),
    }
    // Only the channels the page showed (a shop may stop offering one meanwhile).
    let shown: Vec<String> = fields
        .iter()
        .filter(|(f, _)| f == "shown")
        .map(|(_, v)| v.clone())
        .collect();
    for (c, on) in ticked {
        if shown.iter().any(|p| p == c.purpose()) {
            read(self_service::set_marketing(&app.db, shop.id, s.member_id, c, on, &meta).await)?;
        }
    }
    Ok(Redirect::to(&format!("/m/{slug}/me?saved=1")).into_response())
}

/// `GET /m/{shop}/me/data`: everything held on the member, as a JSON file to keep.
pub async fn download_data(
    MemberPage {
        shop, session: s, ..
    }: MemberPage,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
) -> Result<Response, PageError> {
    let export = found(crate::members::privacy::export(&app, shop.id, s.member_id).await)?;
    read(self_service::record_export(&app.db, shop.id, s.member_id, &meta).await)?;
    let json = read(serde_json::to_string_pretty(&export))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{slug}-my-data.json\""),
            ),
        ],
        json,
    )
        .into_response())
}

#[derive(Deserialize, Default)]
pub struct EraseForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /m/{shop}/me/erase`: first what erasure removes and keeps; confirmed, the
/// request is recorded for staff to carry out.
pub async fn ask_erasure(
    MemberPage {
        shop,
        session: s,
        lang,
    }: MemberPage,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    Form(form): Form<EraseForm>,
) -> Result<Response, PageError> {
    check_csrf(&s, lang, &form.csrf)?;
    if form.confirm != "yes" {
        let body = html! {
            section.card #m-erase-confirm {
                p { (t(lang, "m_erase_removed")) }
                p { strong { (t(lang, "m_erase_kept")) } }
                p { (t(lang, "m_erase_days")) }
                form method="post" action=(format!("/m/{slug}/me/erase")) {
                    input type="hidden" name="_csrf" value=(s.csrf_token);
                    input type="hidden" name="confirm" value="yes";
                    button.danger #m-erase-yes type="submit" { (t(lang, "m_erase_confirm")) }
                }
                p { a href=(format!("/m/{slug}/me")) { (t(lang, "mm_cancel")) } }
            }
        };
        return Ok(page(lang, &shop.name, &slug, t(lang, "m_erase"), true, body).into_response());
    }
    let now = app.clock.now_micros();
    match self_service::ask_erasure(&app.db, shop.id, s.member_id, &meta, now).await {
        // Asked twice (a second tap): the first request stands.
        Ok(_) | Err(SelfServiceError::AlreadyAsked) => {}
        Err(e) => return Err(super::failed(e)),
    }
    Ok(Redirect::to(&format!("/m/{slug}/me")).into_response())
}
