//! The audit log and the API keys, for people: who did what, when (in the shop's
//! calendar), in words of the page's language; keys with their scopes described, a
//! form that makes one (its secret shown once) and revocation.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::CookieJar;
use maud::html;

use super::ctx;
use crate::audit::RequestMeta;
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::http::query::{PageParams, PathId, QueryParams};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{
    csrf_ok, field_error, local_date_time, localise_error, page_language, refuse, staff_layout, t,
};

type Fields = HashMap<String, String>;

/// Every action the audit log records, with its key in the pages' words.
pub const ACTIONS: &[(&str, &str)] = &[
    ("api_key.created", "au_api_key_created"),
    ("api_key.revoked", "au_api_key_revoked"),
    ("branch.created", "au_branch_created"),
    ("branch.updated", "au_branch_updated"),
    ("claim.created", "au_claim_created"),
    ("consent.given", "au_consent_given"),
    ("consent.withdrawn", "au_consent_withdrawn"),
    ("coupon.checked", "au_coupon_checked"),
    ("coupon.used", "au_coupon_used"),
    ("draw.created", "au_draw_created"),
    ("draw.drawn", "au_draw_drawn"),
    ("draw.entered", "au_draw_entered"),
    ("invitation.accepted", "au_invitation_accepted"),
    ("invitation.created", "au_invitation_created"),
    ("invitation.revoked", "au_invitation_revoked"),
    ("ledger.settings_changed", "au_ledger_settings_changed"),
    ("member.created", "au_member_created"),
    ("member.erased", "au_member_erased"),
    ("member.erasure_requested", "au_member_erasure_requested"),
    ("member.exported", "au_member_exported"),
    ("member.merged", "au_member_merged"),
    ("member.national_id_viewed", "au_member_national_id_viewed"),
    ("member.signed_up", "au_member_signed_up"),
    ("member.updated", "au_member_updated"),
    ("members.import_started", "au_members_import_started"),
    ("members.imported", "au_members_imported"),
    ("otp.sent", "au_otp_sent"),
    ("points.adjusted", "au_points_adjusted"),
    ("points.birthday_bonus", "au_points_birthday_bonus"),
    ("points.earned", "au_points_earned"),
    ("points.expired", "au_points_expired"),
    ("points.redeemed", "au_points_redeemed"),
    (
        "points.redemption_cancelled",
        "au_points_redemption_cancelled",
    ),
    ("points.reversed", "au_points_reversed"),
    ("points.welcome", "au_points_welcome"),
    ("reward.archived", "au_reward_archived"),
    ("reward.codes_added", "au_reward_codes_added"),
    ("reward.coupon_expired", "au_reward_coupon_expired"),
    ("reward.created", "au_reward_created"),
    ("reward.redeemed", "au_reward_redeemed"),
    (
        "reward.redemption_cancelled",
        "au_reward_redemption_cancelled",
    ),
    ("reward.shipping_updated", "au_reward_shipping_updated"),
    ("reward.updated", "au_reward_updated"),
    ("rules.earning_changed", "au_rules_earning_changed"),
    ("session.created", "au_session_created"),
    ("session.ended", "au_session_ended"),
    ("session.login_failed", "au_session_login_failed"),
    ("signup_form.changed", "au_signup_form_changed"),
    ("spend.settings_changed", "au_spend_settings_changed"),
    ("staff.created", "au_staff_created"),
    ("staff.password_changed", "au_staff_password_changed"),
    ("staff.password_reset_made", "au_staff_password_reset_made"),
    ("staff.password_reset_used", "au_staff_password_reset_used"),
    ("staff.updated", "au_staff_updated"),
    ("tenant.created", "au_tenant_created"),
    ("tenant.updated", "au_tenant_updated"),
    ("tiers.program_changed", "au_tiers_program_changed"),
    ("tiers.reviewed", "au_tiers_reviewed"),
];

/// An audit action in the page's words (an action this table does not know, as it is).
pub fn action_words(lang: Language, action: &str) -> String {
    ACTIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, key)| t(lang, key).to_string())
        .unwrap_or_else(|| action.to_string())
}

/// What an audit entry is about, in the page's words (an unknown kind as it is).
pub fn target_words(lang: Language, kind: &str) -> String {
    let key = match kind {
        "api_key" => "tg_api_key",
        "branch" => "tg_branch",
        "claim" => "tg_claim",
        "draw" => "tg_draw",
        "invitation" => "tg_invitation",
        "ledger_txn" => "tg_ledger_txn",
        "lots" => "tg_lots",
        "member" => "member",
        "member_import" => "tg_member_import",
        "redemption" => "tg_redemption",
        "reward" => "tg_reward",
        "staff" => "tg_staff",
        "tenant" => "tg_tenant",
        other => return other.to_string(),
    };
    t(lang, key).to_string()
}

/// `GET /admin/audit?action=`.
pub async fn audit(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = page_language(q.get("lang").map(String::as_str), &jar);
    if !p.allows(Permission::AuditRead) {
        return refuse(lang);
    }
    let action = q.get("action").filter(|a| !a.is_empty()).cloned();
    let filter = crate::audit::Filter {
        action: action.clone(),
        limit: Some(100),
        ..Default::default()
    };
    let tz = match crate::tenants::time_zone(&app.db, p.tenant_id).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let listed =
        crate::audit::api::list_audit_log(State(app.clone()), ctx(&p, meta), QueryParams(filter))
            .await;
    let chosen = action.unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/admin/audit" role="search" {
            div {
                label for="action" { (t(lang, "au_what")) }
                select #action name="action" {
                    option value="" { (t(lang, "au_everything")) }
                    @for (a, key) in ACTIONS { option value=(a) selected[chosen == *a] { (t(lang, key)) } }
                }
            }
            button type="submit" { (t(lang, "find")) }
        }
        @match listed {
            Err(e) => p.error role="alert" { (localise_error(lang, &e)) },
            Ok(list) if list.0.items.is_empty() => p.empty { (t(lang, "au_none")) },
            Ok(list) => div.table-wrap { table #audit {
                thead { tr {
                    th scope="col" { (t(lang, "mm_when")) }
                    th scope="col" { (t(lang, "au_who")) }
                    th scope="col" { (t(lang, "au_what")) }
                    th scope="col" { (t(lang, "au_about")) }
                    th scope="col" { (t(lang, "au_from")) }
                } }
                tbody { @for e in &list.0.items { tr {
                    td { (local_date_time(lang, e.at, &tz)) }
                    td { (e.actor_label) }
                    td { (action_words(lang, &e.action)) }
                    td { @match (e.target_kind.as_str(), e.target_id) {
                        ("member", Some(id)) => a href=(format!("/admin/members/{id}")) { (t(lang, "member")) " " (id) },
                        (_, Some(id)) => { (target_words(lang, &e.target_kind)) " " (id) },
                        _ => { (target_words(lang, &e.target_kind)) },
                    } }
                    td { (e.ip) }
                } } }
            } },
        }
    };
    Html(staff_layout(lang, t(lang, "a_audit"), &p, body).into_string()).into_response()
}

/// `GET /admin/api-keys`.
pub async fn api_keys(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Query(q): Query<Fields>,
) -> Response {
    let lang = page_language(q.get("lang").map(String::as_str), &jar);
    if !p.allows(Permission::ApiKeysManage) {
        return refuse(lang);
    }
    keys_page(&app, &p, meta, lang, None).await
}

/// What the keys page shows above the list.
enum Notice {
    Secret(String),
    Done,
    Refused(ApiError),
}

async fn keys_page(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    notice: Option<Notice>,
) -> Response {
    let tz = match crate::tenants::time_zone(&app.db, p.tenant_id).await {
        Ok(tz) => tz,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let page = PageParams {
        limit: Some(crate::http::query::MAX_PAGE_SIZE),
        cursor: None,
    };
    let listed =
        crate::auth::api::list_api_keys(State(app.clone()), ctx(p, meta), QueryParams(page)).await;
    let csrf = p.csrf_token.clone().unwrap_or_default();
    let status = match &notice {
        Some(Notice::Refused(e)) => e.code.status(),
        _ => StatusCode::OK,
    };
    let body = html! {
        @match &notice {
            Some(Notice::Secret(secret)) => section.card role="status" { p.ok { (t(lang, "a_key_once")) } code #key-secret.wrap { (secret) } },
            Some(Notice::Done) => p.ok #keys-done role="status" { (t(lang, "mm_saved")) },
            Some(Notice::Refused(e)) => p.error #keys-refused role="alert" { (localise_error(lang, e)) },
            None => {}
        }
        @match listed {
            Err(e) => p.error role="alert" { (localise_error(lang, &e)) },
            Ok(list) if list.0.items.is_empty() => p.empty { (t(lang, "ak_none")) },
            Ok(list) => div.table-wrap { table #api-keys {
                thead { tr {
                    th scope="col" { (t(lang, "mm_name")) }
                    th scope="col" { (t(lang, "ak_may")) }
                    th scope="col" { (t(lang, "ak_last_used")) }
                    th scope="col" { (t(lang, "status")) }
                } }
                tbody { @for k in &list.0.items { tr {
                    td { (k.name) }
                    td { ul.compact { @for s in &k.scopes { li { (permission_words(lang, *s)) } } } }
                    td { @match k.last_used_at { Some(at) => (local_date_time(lang, at, &tz)), None => (t(lang, "ak_never")) } }
                    td.actions { @if k.revoked_at.is_none() {
                        form method="post" action=(format!("/admin/api-keys/{}/revoke", k.id)) {
                            input type="hidden" name="_csrf" value=(csrf);
                            button.secondary type="submit" { (t(lang, "a_revoke")) }
                        }
                    } @else { (t(lang, "ak_revoked")) } }
                } } }
            } },
        }
        section.card #new-key aria-labelledby="new-key-title" {
            h2 #new-key-title { (t(lang, "a_new_key")) }
            form method="post" action="/admin/api-keys" {
                input type="hidden" name="_csrf" value=(csrf);
                label for="key-name" { (t(lang, "ak_name")) } input #key-name name="name" required aria-describedby="key-name-error";
                (field_error("key-name", match &notice { Some(Notice::Refused(e)) if e.field.as_deref() == Some("name") => Some(localise_error(lang, e)), _ => None }.as_deref()))
                fieldset.choices { legend { (t(lang, "ak_may")) }
                    @for perm in p.permissions() {
                        label.choice { input type="checkbox" name=(format!("scope:{}", perm.as_str())); " " (permission_words(lang, perm)) }
                    }
                }
                button type="submit" { (t(lang, "w_save")) }
            }
        }
    };
    (
        status,
        Html(staff_layout(lang, t(lang, "a_api_keys"), p, body).into_string()),
    )
        .into_response()
}

/// A permission in the page's words.
pub fn permission_words(lang: Language, p: Permission) -> &'static str {
    use Permission::*;
    t(
        lang,
        match p {
            TenantRead => "pm_tenant_read",
            TenantManage => "pm_tenant_manage",
            BranchesRead => "pm_branches_read",
            BranchesManage => "pm_branches_manage",
            StaffRead => "pm_staff_read",
            StaffManage => "pm_staff_manage",
            ApiKeysManage => "pm_api_keys_manage",
            AuditRead => "pm_audit_read",
            MembersRead => "pm_members_read",
            MembersWrite => "pm_members_write",
            MembersSensitive => "pm_members_sensitive",
            PointsEarn => "pm_points_earn",
            PointsRedeem => "pm_points_redeem",
            PointsAdjust => "pm_points_adjust",
            RulesManage => "pm_rules_manage",
            ReportsRead => "pm_reports_read",
            RewardsManage => "pm_rewards_manage",
            CouponsValidate => "pm_coupons_validate",
            FulfilmentManage => "pm_fulfilment_manage",
        },
    )
}

/// `POST /admin/api-keys`: make a key; its secret is shown once.
pub async fn create_api_key(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let lang = crate::web::language(None, &jar);
    if !p.allows(Permission::ApiKeysManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let scopes = f
        .keys()
        .filter_map(|k| k.strip_prefix("scope:"))
        .filter_map(|s| s.parse::<Permission>().ok())
        .collect();
    let name = f.get("name").cloned().unwrap_or_default();
    let made = match crate::types::PersonName::parse(&name) {
        Ok(name) => {
            let req = crate::auth::api::NewApiKey { name, scopes };
            crate::auth::api::create_api_key(
                State(app.clone()),
                ctx(&p, meta.clone()),
                JsonBody(req),
            )
            .await
            .map(|(_, _, created)| created.0.secret)
        }
        Err(e) => Err(ApiError::invalid("name", e)),
    };
    let notice = match made {
        Ok(secret) => Notice::Secret(secret),
        Err(e) => Notice::Refused(e),
    };
    keys_page(&app, &p, meta, lang, Some(notice)).await
}

/// `POST /admin/api-keys/{id}/revoke`.
pub async fn revoke_api_key(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let lang = crate::web::language(None, &jar);
    if !p.allows(Permission::ApiKeysManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let done =
        crate::auth::api::revoke_api_key(State(app.clone()), ctx(&p, meta.clone()), PathId(id))
            .await;
    let notice = match done {
        Ok(_) => Notice::Done,
        Err(e) => Notice::Refused(e),
    };
    keys_page(&app, &p, meta, lang, Some(notice)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every action some code records has words: read from the sources, like the keys.
    #[test]
    fn every_recorded_action_has_words_in_both_languages() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut dirs = vec![src];
        let mut recorded = std::collections::BTreeSet::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let mut rest = text.as_str();
                    while let Some(at) = rest.find("Change::new(\"") {
                        rest = &rest[at + "Change::new(\"".len()..];
                        recorded.insert(rest[..rest.find('"').unwrap()].to_string());
                    }
                }
            }
        }
        assert!(recorded.len() > 30, "actions found: {}", recorded.len());
        for action in &recorded {
            assert!(
                ACTIONS.iter().any(|(a, _)| a == action),
                "{action} has no words in console/audit.rs"
            );
        }
        for (_, key) in ACTIONS {
            assert_ne!(t(Language::Th, key), *key, "{key} has no Thai words");
            assert_ne!(t(Language::En, key), *key, "{key} has no English words");
        }
    }
}
