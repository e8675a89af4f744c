//! The counter page for cashiers: find a member by phone, type the bill, see the points
//! the rules give, confirm. Phone-sized; the rules run in `earning::record_purchase`, the
//! same code as `POST /api/v1/purchases`.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use crate::audit::ActorRef;
use crate::audit::RequestMeta;
use crate::auth::{Permission, Principal};
use crate::members::card::{Found, find_at_counter};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{
    PageSession, baht, csrf_ok, field_error, language, page_language, parse_baht, refuse,
    staff_layout, t,
};

#[derive(Deserialize, Default)]
pub struct EarnQuery {
    #[serde(default)]
    phone: String,
    lang: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
pub struct EarnForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    branch_id: String,
    #[serde(default)]
    receipt: String,
    /// `preview` or `confirm`.
    #[serde(default)]
    step: String,
}

/// The member card: name, balance, tier.
async fn member_card(
    app: &AppState,
    tenant: i64,
    m: &crate::members::store::Member,
    lang: Language,
) -> Markup {
    let points = crate::ledger::balance_summary(
        &app.db,
        tenant,
        m.id,
        crate::ledger::model::Currency::Points,
    )
    .await;
    let tier = crate::tiers::status(&app.db, tenant, m.id, crate::store::now_micros()).await;
    html! {
        section.card #member aria-label=(t(lang, "member")) {
            p.big { (m.first_name) " " (m.last_name) }
            p.muted { (m.phone) }
            @match points {
                Ok(p) => p { (t(lang, "balance")) ": " strong #balance { (p.balance) } " " (t(lang, "points")) },
                Err(e) => (crate::web::failure_notice(lang, e)),
            }
            @match tier {
                Ok(status) => @if let Some(level) = status.level {
                    p { (t(lang, "tier")) ": " strong #tier { (if lang == Language::En { level.name_en.clone().unwrap_or(level.name.clone()) } else { level.name.clone() }) } }
                },
                Err(e) => (crate::web::failure_notice(lang, e)),
            }
        }
    }
}

async fn branch_select(app: &AppState, p: &Principal, lang: Language, selected: &str) -> Markup {
    let branches = match crate::web::branches_for(app, p).await {
        Ok(b) => b,
        Err(e) => return crate::web::failure_notice(lang, e),
    };
    html! {
        label for="branch_id" { (t(lang, "branch")) }
        select #branch_id name="branch_id" {
            @for b in &branches {
                option value=(b.id) selected[selected == b.id.to_string()] { (b.code) " — " (b.name) }
            }
        }
    }
}

/// A refused join at the counter: the field at fault (empty: none), the reason, and the
/// names typed, shown again.
struct JoinRefused {
    field: &'static str,
    message: String,
    first_name: String,
    last_name: String,
}

/// A customer who is not a member yet joins on the same bill: their first name, and the
/// shop's terms and privacy notice accepted on the cashier's screen.
async fn join_form(
    app: &AppState,
    p: &Principal,
    lang: Language,
    phone: &str,
    refused: Option<&JoinRefused>,
) -> Markup {
    let terms = match crate::members::consent::form(&app.db, p.tenant_id).await {
        Ok(form) => form,
        Err(e) => return crate::web::failure_notice(lang, e),
    };
    let err = |k: &str| refused.filter(|r| r.field == k).map(|r| r.message.as_str());
    let typed = |name: fn(&JoinRefused) -> &str| refused.map(name).unwrap_or_default();
    html! {
        section.card #join aria-labelledby="join-title" {
            h2 #join-title { (t(lang, "join_title")) }
            form method="post" action="/staff/earn/join" {
                input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
                input type="hidden" name="phone" value=(phone);
                label for="first_name" { (t(lang, "s_first_name")) }
                input #first_name name="first_name" autocomplete="off" required autofocus value=(typed(|r| &r.first_name))
                    aria-invalid=[err("first_name").map(|_| "true")] aria-describedby="first_name-error";
                (field_error("first_name", err("first_name")))
                label for="last_name" { (t(lang, "s_last_name")) }
                input #last_name name="last_name" autocomplete="off" value=(typed(|r| &r.last_name));
                @if let Some(form) = &terms {
                    details { summary { (t(lang, "s_terms")) } pre style="white-space:pre-wrap" { (form.terms) } }
                    details { summary { (t(lang, "s_privacy")) } pre style="white-space:pre-wrap" { (form.privacy) } }
                    label.choice { input #accepted type="checkbox" name="accepted" aria-describedby="accepted-error"; " " (t(lang, "join_accepts")) }
                    (field_error("accepted", err("accepted")))
                }
                button type="submit" #join-member { (t(lang, "join_button")) }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct JoinForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    accepted: String,
}

/// `POST /staff/earn/join`: the customer joins; the counter goes on to their bill.
pub async fn join(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(form): Form<JoinForm>,
) -> Response {
    use crate::members::signup::SignupError;
    let lang = language(None, &jar);
    if !p.allows(Permission::MembersWrite) || !csrf_ok(&p, &form.csrf) {
        return refuse(lang);
    }
    let Ok(phone) = crate::members::model::Phone::parse(&form.phone) else {
        return Redirect::to("/staff/earn").into_response();
    };
    let who = crate::auth::Ctx {
        principal: p.clone(),
        meta,
    };
    let joined = crate::members::signup::join_at_counter(
        &app,
        &who,
        &phone,
        &form.first_name,
        &form.last_name,
        !form.accepted.is_empty(),
    )
    .await;
    let (field, message) = match joined {
        // Already a member (joined a moment ago at another till): the bill goes on.
        Ok(_) | Err(SignupError::AlreadyMember) => {
            let to = format!(
                "/staff/earn?phone={}",
                percent_encoding::utf8_percent_encode(
                    phone.as_str(),
                    percent_encoding::NON_ALPHANUMERIC
                )
            );
            return Redirect::to(&to).into_response();
        }
        Err(SignupError::NotAccepted) => ("accepted", t(lang, "s_must_accept").to_string()),
        Err(SignupError::Name {
            field: "first_name",
            ..
        }) => ("first_name", t(lang, "s_required").to_string()),
        Err(e) => ("", crate::web::localise_error(lang, &e.into())),
    };
    let page = render(
        &app,
        View {
            lang,
            p: &p,
            form: EarnForm {
                phone: crate::web::phone_for_people(&form.phone),
                ..Default::default()
            },
            phone_error: None,
            amount_error: None,
            notice: field
                .is_empty()
                .then(|| html! { p.error role="alert" { (message) } }),
            join_error: Some(JoinRefused {
                field,
                message,
                first_name: form.first_name.clone(),
                last_name: form.last_name.clone(),
            }),
        },
    )
    .await;
    (StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response()
}

struct View<'a> {
    lang: Language,
    p: &'a Principal,
    form: EarnForm,
    phone_error: Option<&'static str>,
    amount_error: Option<&'static str>,
    notice: Option<Markup>,
    /// Why joining at the counter was refused, with what was typed.
    join_error: Option<JoinRefused>,
}

async fn render(app: &AppState, v: View<'_>) -> Markup {
    let tenant = v.p.tenant_id;
    let lang = v.lang;
    // A phone typed, or a member card's code scanned (a handheld scanner types it).
    let typed = v.form.phone.trim();
    let (member, lookup_failed, not_found, not_a_phone) = if typed.is_empty() {
        (None, None, false, false)
    } else {
        let now = app.clock.now_micros();
        match find_at_counter(&app.db, &app.cipher, tenant, typed, now).await {
            Ok(Found::Member(m)) => (Some(m), None, false, false),
            Ok(Found::NoMember) => (None, None, true, false),
            Ok(Found::NotAPhone) => (None, None, false, true),
            Err(e) => (
                None,
                Some(crate::web::failure_notice(lang, e)),
                false,
                false,
            ),
        }
    };
    let phone_error = v.phone_error.or(not_a_phone.then_some("bad_phone"));
    let csrf = v.p.csrf_token.clone().unwrap_or_default();
    // Three steps from the counter to points granted: the phone (focused on arrival),
    // the amount (focused once the member is found), confirm (focused on the preview).
    let previewing = v.notice.is_some();
    let body = html! {
        @if member.is_some() || previewing {
            p { a.button.secondary #next-customer href="/staff/earn" { (t(lang, "next_member")) } }
        }
        form method="get" action="/staff/earn" role="search" {
            label for="phone" { (t(lang, "phone_or_card")) }
            input #phone name="phone" type="tel" inputmode="tel" autocomplete="off" value=(v.form.phone) required
                autofocus[member.is_none() && !previewing]
                aria-invalid=[(phone_error.is_some() || not_found).then_some("true")] aria-describedby="phone-error";
            (field_error("phone", phone_error.map(|k| t(lang, k)).or(not_found.then(|| t(lang, "no_member")))))
            div.row {
                button type="submit" { (t(lang, "find")) }
                // Shown where the browser reads codes from the camera (Chrome on Android).
                button.secondary #scan-card type="button" hidden { (t(lang, "scan_card")) }
            }
            video #scan-view hidden playsinline muted {}
        }
        @if let Some(notice) = lookup_failed { (notice) }
        @if not_found && v.p.allows(Permission::MembersWrite) {
            @if let Ok(phone) = crate::members::model::Phone::parse(typed) {
                (join_form(app, v.p, lang, phone.as_str(), v.join_error.as_ref()).await)
            }
        }
        @if let Some(m) = &member {
            (member_card(app, tenant, m, lang).await)
            form method="post" action="/staff/earn" {
                input type="hidden" name="_csrf" value=(csrf);
                // The phone from here on: a card's code stops working a minute later.
                input type="hidden" name="phone" value=(m.phone);
                input type="hidden" name="step" value="preview";
                label for="amount" { (t(lang, "bill_amount")) }
                input #amount name="amount" inputmode="decimal" autocomplete="off" value=(v.form.amount) required
                    autofocus[!previewing || v.amount_error.is_some()]
                    aria-invalid=[v.amount_error.map(|_| "true")] aria-describedby="amount-error";
                (field_error("amount", v.amount_error.map(|k| t(lang, k))))
                (branch_select(app, v.p, lang, &v.form.branch_id).await)
                label for="receipt" { (t(lang, "receipt")) }
                input #receipt name="receipt" autocomplete="off" value=(v.form.receipt);
                button type="submit" #preview { (t(lang, "preview")) }
            }
        }
        @if let Some(n) = &v.notice { (n) }
        @if member.is_none() {
            details #claim-qr {
                summary { (t(lang, "claim_qr")) }
                form method="post" action="/staff/claims" {
                    input type="hidden" name="_csrf" value=(csrf);
                    label for="claim-amount" { (t(lang, "bill_amount")) }
                    input #claim-amount name="amount" inputmode="decimal" autocomplete="off" required;
                    (branch_select(app, v.p, lang, "").await)
                    button type="submit" #make-qr { (t(lang, "make_qr")) }
                }
            }
        }
        // The phone's camera reads the member card's QR or barcode into the search box;
        // where the browser cannot, the button stays hidden and the code is typed.
        script nonce=(crate::web::script_nonce()) { (maud::PreEscaped(SCAN_CARD)) }
        // While a request runs its button says so and cannot be pressed twice.
        script nonce=(crate::web::script_nonce()) { (maud::PreEscaped(format!(
            "document.addEventListener('submit',function(e){{var b=e.target.querySelector('button[type=submit]');\
             if(b){{setTimeout(function(){{b.disabled=true;b.setAttribute('aria-busy','true');b.textContent={working:?}}},0)}}}});",
            working = t(lang, "working")
        ))) }
    };
    staff_layout(lang, t(lang, "counter"), v.p, body)
}

/// Reads a member card with the camera through the browser's own `BarcodeDetector`
/// (no library to ship); it puts what it read in the search box and sends it.
const SCAN_CARD: &str = r#"
(function(){
  var b=document.getElementById('scan-card'),v=document.getElementById('scan-view');
  if(!b||!v||!('BarcodeDetector' in window)||!navigator.mediaDevices)return;
  b.hidden=false;
  b.addEventListener('click',function(){
    var d=new BarcodeDetector({formats:['qr_code','code_128']});
    navigator.mediaDevices.getUserMedia({video:{facingMode:'environment'}}).then(function(s){
      v.srcObject=s;v.hidden=false;v.play();
      var stop=function(){s.getTracks().forEach(function(t){t.stop()});v.hidden=true};
      var look=function(){d.detect(v).then(function(found){
        if(found.length){stop();var f=b.form;f.elements.phone.value=found[0].rawValue;f.submit()}
        else{setTimeout(look,250)}
      }).catch(function(){setTimeout(look,250)})};
      look();
    }).catch(function(){b.hidden=true});
  });
})();
"#;

/// `GET /staff/earn`: the counter.
pub async fn show_earn(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    jar: CookieJar,
    Query(q): Query<EarnQuery>,
) -> Response {
    let lang = page_language(q.lang.as_deref(), &jar);
    if !p.allows(Permission::PointsEarn) {
        return refuse(lang);
    }
    let form = EarnForm {
        phone: q.phone.clone(),
        ..Default::default()
    };
    let page = render(
        &app,
        View {
            lang,
            p: &p,
            form,
            phone_error: None,
            amount_error: None,
            notice: None,
            join_error: None,
        },
    )
    .await;
    let jar = jar.add(
        axum_extra::extract::cookie::Cookie::build(("lang", lang.as_str()))
            .path("/")
            .build(),
    );
    (jar, Html(page.into_string())).into_response()
}

/// `POST /staff/earn`: preview (a dry run through the rules) or confirm (the purchase).
pub async fn submit_earn(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(form): Form<EarnForm>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::PointsEarn) {
        return refuse(lang);
    }
    if !csrf_ok(&p, &form.csrf) {
        return (
            StatusCode::FORBIDDEN,
            Html(
                crate::web::layout(
                    lang,
                    t(lang, "form_expired"),
                    html! { p.error { (t(lang, "form_expired")) } },
                )
                .into_string(),
            ),
        )
            .into_response();
    }
    let tenant = p.tenant_id;
    let again = |amount_error: Option<&'static str>, notice: Option<Markup>, form: EarnForm| {
        let app = app.clone();
        let p = p.clone();
        async move {
            let status = if amount_error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (
                status,
                Html(
                    render(
                        &app,
                        View {
                            lang,
                            p: &p,
                            form,
                            phone_error: None,
                            amount_error,
                            notice,
                            join_error: None,
                        },
                    )
                    .await
                    .into_string(),
                ),
            )
                .into_response()
        }
    };
    let now = app.clock.now_micros();
    let member = match find_at_counter(&app.db, &app.cipher, tenant, &form.phone, now).await {
        Ok(Found::Member(member)) => member,
        Ok(Found::NoMember | Found::NotAPhone) => return again(None, None, form).await,
        Err(e) => return again(None, Some(crate::web::failure_notice(lang, e)), form).await,
    };
    // The member's phone from here on, whether a phone or a card's code was given.
    let form = EarnForm {
        phone: member.phone.clone(),
        ..form
    };
    let Some(amount) = parse_baht(&form.amount) else {
        return again(Some("bad_amount"), None, form).await;
    };
    let branch_id = match counter_branch(&app, &p, &form.branch_id, lang).await {
        Ok(branch) => branch,
        Err(notice) => return again(None, Some(notice), form).await,
    };
    let receipt = match crate::types::text(&form.receipt, "receipt", 1, 64) {
        Ok(r) => r,
        Err(_) => format!("POS-{}", crate::ids::next_id()),
    };
    let confirm = form.step == "confirm";
    let purchase = crate::earning::NewPurchase {
        tenant_id: tenant,
        member_id: member.id,
        amount_satang: amount,
        receipt: receipt.clone(),
        branch_id,
        occurred_at: None,
        items: vec![],
        dry_run: !confirm,
    };
    let input = match crate::earning::PurchaseInput::new(purchase, crate::store::now_micros()) {
        Ok(input) => input,
        Err(e) => {
            let notice =
                html! { p.error role="alert" { (crate::web::localise_error(lang, &e.into())) } };
            return again(None, Some(notice), form).await;
        }
    };
    let (kind, id, label) = p.audit_actor();
    let outcome = crate::earning::writer::record(
        app.ledger_writer.as_ref(),
        &app.db,
        input,
        ActorRef {
            kind,
            id: Some(id),
            label: &label,
        },
        &meta,
    )
    .await;
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let notice = match outcome {
        Err(e) => html! { p.error role="alert" { (crate::web::localise_error(lang, &e.into())) } },
        Ok(o) if !confirm => html! {
            section.card #preview-result aria-live="polite" {
                p { (t(lang, "this_bill_earns")) " (" (baht(amount)) " ฿)" }
                p.big #points { (o.points) " " (t(lang, "points")) }
                ul.muted { @for r in &o.rules { li { (r.name) ": " (r.points) } } }
                form method="post" action="/staff/earn" {
                    input type="hidden" name="_csrf" value=(csrf);
                    input type="hidden" name="phone" value=(form.phone);
                    input type="hidden" name="amount" value=(form.amount);
                    input type="hidden" name="branch_id" value=(form.branch_id);
                    // The receipt is fixed now, so confirming twice grants once.
                    input type="hidden" name="receipt" value=(receipt);
                    input type="hidden" name="step" value="confirm";
                    button type="submit" #confirm autofocus { (t(lang, "confirm")) }
                }
            }
        },
        Ok(o) => html! {
            section.card #granted role="status" {
                p.ok { (t(lang, "granted")) ": " span #granted-points { (o.points) } " " (t(lang, "points")) }
                p { (t(lang, "new_balance")) ": " strong #new-balance { (o.balance.unwrap_or(0)) } }
                @if let Some(c) = &o.tier_change { p.ok { "↑ " (c.to_level) } }
                p { a href="/staff/earn" { (t(lang, "next_member")) } }
            }
        },
    };
    let form = if confirm {
        EarnForm {
            amount: String::new(),
            receipt: String::new(),
            ..form
        }
    } else {
        form
    };
    again(None, Some(notice), form).await
}

/// The branch a counter form names: none, or one this person works at. One the form
/// names that is not theirs, or branches the database could not list, are refused (the
/// notice to show), never recorded as no branch.
async fn counter_branch(
    app: &AppState,
    p: &Principal,
    named: &str,
    lang: Language,
) -> Result<Option<i64>, Markup> {
    let refused = |e: crate::error::ApiError| {
        html! { p.error role="alert" { (crate::web::localise_error(lang, &e)) } }
    };
    let allowed = crate::web::branches_for(app, p)
        .await
        .map_err(|e| crate::web::failure_notice(lang, e))?;
    let branch = match named.trim() {
        "" => None,
        named => match named.parse::<i64>() {
            Ok(b) if allowed.iter().any(|x| x.id == b) => Some(b),
            _ => {
                let e = crate::error::ApiError::invalid("branch_id", "choose one of your branches");
                return Err(refused(e));
            }
        },
    };
    p.check_branch(branch, "branch_id").map_err(refused)?;
    Ok(branch)
}

/// `POST /staff/claims`: make a one-time claim QR for a bill.
pub async fn submit_claim(
    State(app): State<AppState>,
    PageSession(p): PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(form): Form<EarnForm>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::PointsEarn) || !csrf_ok(&p, &form.csrf) {
        return refuse(lang);
    }
    let Some(amount) = parse_baht(&form.amount) else {
        let notice = html! { p.error role="alert" { (t(lang, "bad_amount")) } };
        let page = render(
            &app,
            View {
                lang,
                p: &p,
                form: EarnForm::default(),
                phone_error: None,
                amount_error: None,
                notice: Some(notice),
                join_error: None,
            },
        )
        .await;
        return (StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response();
    };
    let (kind, id, label) = p.audit_actor();
    let actor = ActorRef {
        kind,
        id: Some(id),
        label: &label,
    };
    // Each step's refusal is the notice to show.
    let made = async {
        let branch = counter_branch(&app, &p, &form.branch_id, lang).await?;
        let tenant = match crate::tenants::store::get_tenant(&app.db, p.tenant_id).await {
            Ok(Some(tenant)) => tenant,
            Ok(None) => return Err(crate::web::failure_notice(lang, "the shop is gone")),
            Err(e) => return Err(crate::web::failure_notice(lang, e)),
        };
        let url = &app.settings.public_url;
        crate::earning::claims::create(
            &app.db,
            url,
            &tenant.slug,
            p.tenant_id,
            amount,
            branch,
            10,
            actor,
            &meta,
        )
        .await
        .map_err(|e| crate::web::failure_notice(lang, e))
    }
    .await;
    let notice = match made {
        Ok(c) => html! {
            section.card #claim {
                p { (baht(c.amount_satang)) " ฿" }
                div.qr role="img" aria-label="QR" { (maud::PreEscaped(c.qr_svg)) }
                p.muted { (t(lang, "scan_within")) }
                a #claim-link href=(c.url) { (c.url) }
            }
        },
        Err(notice) => notice,
    };
    let page = render(
        &app,
        View {
            lang,
            p: &p,
            form: EarnForm::default(),
            phone_error: None,
            amount_error: None,
            notice: Some(notice),
            join_error: None,
        },
    )
    .await;
    Html(page.into_string()).into_response()
}
