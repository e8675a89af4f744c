//! Joining the shop's program from the member page: the shop's own signup form.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
use maud::{Markup, html};

use super::*;
use crate::audit::RequestMeta;
use crate::members::model::Phone;
use crate::members::signup::SignupError;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{field_error, language, t};

type Fields = std::collections::HashMap<String, String>;

fn signup_body(
    lang: Language,
    slug: &str,
    form: &crate::members::consent::SignupForm,
    typed: &Fields,
    error: Option<(&str, String)>,
) -> Markup {
    let v = |k: &str| typed.get(k).cloned().unwrap_or_default();
    let err = |k: &str| {
        error
            .as_ref()
            .filter(|(f, _)| *f == k)
            .map(|(_, m)| m.clone())
    };
    let checked = |k: &str| typed.get(k).is_some_and(|v| v == "on");
    html! {
        @if let Some((f, m)) = &error { @if !["phone", "first_name", "birthday", "accept_terms", "accept_privacy"].contains(f) && !f.starts_with("q_") { p.error role="alert" { (m) } } }
        form method="post" action=(format!("/m/{slug}/signup")) {
            input type="hidden" name="_form" value=(v("_form"));
            label for="phone" { (t(lang, "phone")) }
            input #phone name="phone" type="tel" inputmode="tel" autocomplete="tel" required value=(v("phone")) aria-describedby="phone-error" aria-invalid=[err("phone").map(|_| "true")];
            (field_error("phone", err("phone").as_deref()))
            label for="first_name" { (t(lang, "s_first_name")) }
            input #first_name name="first_name" autocomplete="given-name" required value=(v("first_name")) aria-describedby="first_name-error" aria-invalid=[err("first_name").map(|_| "true")];
            (field_error("first_name", err("first_name").as_deref()))
            label for="last_name" { (t(lang, "s_last_name")) }
            input #last_name name="last_name" autocomplete="family-name" value=(v("last_name"));
            label for="birthday" { (t(lang, "s_birthday")) }
            input #birthday name="birthday" placeholder=(t(lang, "s_birthday_hint")) value=(v("birthday")) aria-describedby="birthday-error" aria-invalid=[err("birthday").map(|_| "true")];
            (field_error("birthday", err("birthday").as_deref()))
            @for q in &form.questions {
                @let key = format!("q_{}", q.id);
                label for=(key) { (q.label) @if q.required { " *" } }
                select id=(key) name=(key) aria-describedby=(format!("{key}-error")) {
                    option value="" { "—" }
                    @for o in &q.options { option value=(o.value) selected[v(&key) == o.value] { (o.label) } }
                }
                (field_error(&key, err(&key).as_deref()))
            }
            details { summary { (t(lang, "s_terms")) } pre style="white-space:pre-wrap" { (form.terms) } }
            label { input #accept_terms type="checkbox" name="accept_terms" style="width:auto" checked[checked("accept_terms")]; " " (t(lang, "s_accept_terms")) }
            (field_error("accept_terms", err("accept_terms").as_deref()))
            details { summary { (t(lang, "s_privacy")) } pre style="white-space:pre-wrap" { (form.privacy) } }
            label { input #accept_privacy type="checkbox" name="accept_privacy" style="width:auto" checked[checked("accept_privacy")]; " " (t(lang, "s_accept_privacy")) }
            (field_error("accept_privacy", err("accept_privacy").as_deref()))
            @if !form.marketing_channels.is_empty() {
                fieldset { legend { (t(lang, "s_marketing")) }
                    @for c in &form.marketing_channels {
                        @let key = format!("m_{}", c.purpose());
                        label { input type="checkbox" name=(key) style="width:auto" checked[checked(&key)]; " " (c.purpose().trim_start_matches("marketing_").to_uppercase()) }
                    }
                }
            }
            input type="hidden" name="terms_version" value=(form.terms_version);
            input type="hidden" name="privacy_version" value=(form.privacy_version);
            button type="submit" #sign-up { (t(lang, "s_sign_up")) }
        }
    }
}

/// `GET /m/{shop}/signup`.
pub async fn show_signup(
    shop: MemberShop,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang_of(&q, &jar);
    let form = match crate::members::signup::shop_form(&app, &slug).await {
        Ok((_, form)) => form,
        Err(SignupError::NoShop | SignupError::NoForm) => return not_found(),
        Err(e) => return failure(e),
    };
    let jar = jar.add(Cookie::build(("lang", lang.as_str())).path("/").build());
    let (jar, token) = crate::web::form_token(&app, jar);
    let typed = Fields::from([("_form".to_string(), token)]);
    (
        jar,
        page(
            lang,
            &shop.name,
            &slug,
            t(lang, "s_sign_up"),
            false,
            signup_body(lang, &slug, &form, &typed, None),
        ),
    )
        .into_response()
}

/// `POST /m/{shop}/signup`: the same checks as the API; errors next to their field.
pub async fn submit_signup(
    shop: MemberShop,
    State(app): State<AppState>,
    Path(slug): Path<String>,
    meta: RequestMeta,
    jar: CookieJar,
    Form(mut f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    let form = match crate::members::signup::shop_form(&app, &slug).await {
        Ok((_, form)) => form,
        Err(SignupError::NoShop | SignupError::NoForm) => return not_found(),
        Err(e) => return failure(e),
    };
    if !crate::web::form_token_ok(&jar, f.get("_form").map_or("", |v| v.as_str())) {
        let (jar, token) = crate::web::form_token(&app, jar);
        f.insert("_form".into(), token);
        let error = Some(("form", t(lang, "form_expired").to_string()));
        let body = signup_body(lang, &slug, &form, &f, error);
        return (
            StatusCode::FORBIDDEN,
            jar,
            page(lang, &shop.name, &slug, t(lang, "s_sign_up"), false, body),
        )
            .into_response();
    }
    let f = f;
    let fail = |field: &str, msg: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                lang,
                &shop.name,
                &slug,
                t(lang, "s_sign_up"),
                false,
                signup_body(lang, &slug, &form, &f, Some((field, msg))),
            ),
        )
            .into_response()
    };
    let refused = |e: SignupError| {
        let (field, msg) = refusal(lang, e);
        fail(&field, msg)
    };
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let Ok(phone) = Phone::parse(&get("phone")) else {
        return fail("phone", t(lang, "bad_phone").into());
    };
    if get("first_name").trim().is_empty() {
        return fail("first_name", t(lang, "s_required").into());
    }
    let birthday = match get("birthday").trim() {
        "" => None,
        typed => match crate::members::model::parse_birthday(typed)
            .and_then(|b| crate::members::model::Birthday::parse(&b).ok())
        {
            Some(b) => Some(b),
            None => return fail("birthday", t(lang, "s_bad_birthday").into()),
        },
    };
    for k in ["accept_terms", "accept_privacy"] {
        if get(k) != "on" {
            return fail(k, t(lang, "s_must_accept").into());
        }
    }
    let answers = form
        .questions
        .iter()
        .filter_map(|q| {
            f.get(&format!("q_{}", q.id))
                .filter(|v| !v.is_empty())
                .map(|v| (q.id.clone(), v.clone()))
        })
        .collect();
    let req = crate::members::signup::SignupRequest {
        phone,
        first_name: get("first_name"),
        last_name: get("last_name"),
        email: None,
        birthday,
        accept_terms_version: get("terms_version").parse().unwrap_or(0),
        accept_privacy_version: get("privacy_version").parse().unwrap_or(0),
        marketing: form
            .marketing_channels
            .iter()
            .copied()
            .filter(|c| get(&format!("m_{}", c.purpose())) == "on")
            .collect(),
        answers,
    };
    // First a code to the phone; with the code back, the account is made and signed in.
    let challenge = get("challenge_id");
    if challenge.is_empty() {
        return match crate::members::signup::send_code(&app, &meta, &slug, &req).await {
            Ok(c) => {
                let body = code_step(lang, &slug, &f, c.challenge_id, &c.sent_to, None);
                page(lang, &shop.name, &slug, t(lang, "s_sign_up"), false, body).into_response()
            }
            Err(e) => refused(e),
        };
    }
    let proof = crate::otp::OtpProof {
        challenge_id: challenge.parse().unwrap_or(0),
        code: get("code"),
    };
    match crate::members::signup::sign_up_verified(&app, &meta, &slug, &req, &proof).await {
        Ok(r) => {
            let token = match super::sign_in::start_session(&app, shop.id, r.member_id).await {
                Ok(token) => token,
                Err(e) => return failure(e),
            };
            let body = html! {
                section.card #signed-up role="status" {
                    p.ok { (t(lang, "s_welcome")) }
                    @if r.welcome_points > 0 { p { "+" (crate::web::number(r.welcome_points)) " " (t(lang, "points")) } }
                    p { a #to-home href=(format!("/m/{slug}")) { (t(lang, "m_home")) } }
                }
            };
            (
                jar.add(super::sign_in::session_cookie(&app, token)),
                page(lang, &shop.name, &slug, t(lang, "s_sign_up"), true, body),
            )
                .into_response()
        }
        Err(SignupError::Otp(e)) if e.asks_again() => {
            let sent_to = crate::otp::mask_phone(req.phone.as_str());
            let body = code_step(
                lang,
                &slug,
                &f,
                proof.challenge_id,
                &sent_to,
                Some(otp_error(lang, e)),
            );
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                page(lang, &shop.name, &slug, t(lang, "s_sign_up"), false, body),
            )
                .into_response()
        }
        Err(e) => refused(e),
    }
}

/// The second step of signing up: the code texted to the phone, with everything typed
/// carried along.
fn code_step(
    lang: Language,
    slug: &str,
    typed: &Fields,
    challenge: i64,
    sent_to: &str,
    error: Option<String>,
) -> Markup {
    html! {
        p { (t(lang, "m_code_sent")) " " strong { (sent_to) } }
        form method="post" action=(format!("/m/{slug}/signup")) {
            @for (k, v) in typed.iter().filter(|(k, _)| !matches!(k.as_str(), "challenge_id" | "code")) {
                input type="hidden" name=(k) value=(v);
            }
            input type="hidden" name="challenge_id" value=(challenge);
            label for="code" { (t(lang, "m_code")) }
            input #code name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required
                aria-invalid=[error.as_ref().map(|_| "true")] aria-describedby="code-error";
            (field_error("code", error.as_deref()))
            button type="submit" #verify-signup { (t(lang, "s_sign_up")) }
        }
    }
}

/// A signup refused: the form again, the reason next to its field.
fn refusal(lang: Language, e: SignupError) -> (String, String) {
    let (field, msg) = match &e {
        SignupError::AlreadyMember => {
            ("phone".to_string(), t(lang, "s_already_member").to_string())
        }
        SignupError::AnswerMissing { question, .. } => {
            (format!("q_{question}"), t(lang, "s_required").to_string())
        }
        SignupError::TermsChanged { .. } => {
            ("accept_terms".into(), t(lang, "s_text_changed").to_string())
        }
        SignupError::PrivacyChanged { .. } => (
            "accept_privacy".into(),
            t(lang, "s_text_changed").to_string(),
        ),
        SignupError::NotAnAnswer { question, .. } | SignupError::NoSuchQuestion(question) => {
            (format!("q_{question}"), String::new())
        }
        SignupError::Name { field, .. } if *field == "first_name" => {
            ("first_name".into(), String::new())
        }
        SignupError::Otp(_) => ("phone".into(), String::new()),
        _ => (String::new(), String::new()),
    };
    let msg = if msg.is_empty() {
        crate::web::localise_error(lang, &e.into())
    } else {
        msg
    };
    (field, msg)
}

#[cfg(test)]
mod tests {
    #[test]
    fn birthdays_take_buddhist_or_gregorian_years() {
        assert_eq!(
            crate::members::model::parse_birthday("31/12/2535").as_deref(),
            Some("1992-12-31")
        );
        assert_eq!(
            crate::members::model::parse_birthday("1/2/1992").as_deref(),
            Some("1992-02-01")
        );
        assert_eq!(
            crate::members::model::parse_birthday("1992-02-01").as_deref(),
            Some("1992-02-01")
        );
        assert_eq!(crate::members::model::parse_birthday("tomorrow"), None);
    }
}
