//! The shop's points rules as a form (`/admin/settings/ledger`): how points are earned
//! from the bill, when they expire, how refunds take them back, the welcome points and
//! a point's value. Saved through the API's own handler; its refusals show next to the
//! field they concern, with everything typed kept.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use crate::audit::RequestMeta;
use crate::auth::{Ctx, Principal};
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::ledger::LedgerSettings;
use crate::ledger::model::{EarnRate, ExpiryPolicy, RefundPolicy, RoundUp, Rounding};
use crate::money::Satang;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{baht, field_error, localise_error, number, parse_baht, staff_layout, t};

type Fields = HashMap<String, String>;

/// The form's fields as typed, from saved settings.
fn fields_of(s: &LedgerSettings) -> Fields {
    let (mode, months, round_up) = match s.expiry {
        ExpiryPolicy::Never => ("never", 24, RoundUp::None),
        ExpiryPolicy::Rolling { months, round_up } => ("rolling", months, round_up),
    };
    let money = |satang: i64| baht(satang).replace(',', "");
    [
        ("earn_baht", money(s.earn.spend_satang)),
        ("earn_points", s.earn.points.to_string()),
        ("rounding", s.earn.rounding.as_str().to_string()),
        ("min_spend_baht", money(s.earn.min_spend_satang)),
        ("welcome_points", s.welcome_points.to_string()),
        ("expiry_mode", mode.to_string()),
        ("expiry_months", months.to_string()),
        ("round_up", round_up_code(round_up).to_string()),
        ("pending_days", s.pending_days.to_string()),
        ("refund_policy", s.refund_policy.as_str().to_string()),
        ("point_value_baht", money(s.point_value_satang)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn round_up_code(r: RoundUp) -> &'static str {
    match r {
        RoundUp::None => "none",
        RoundUp::MonthEnd => "month_end",
        RoundUp::QuarterEnd => "quarter_end",
        RoundUp::YearEnd => "year_end",
    }
}

/// A field the page could not read, in the page's words.
struct Unreadable {
    field: &'static str,
    words: &'static str,
}

/// The settings the form describes, or the first field it could not read.
fn settings_from(f: &Fields) -> Result<LedgerSettings, Unreadable> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let money = |field: &'static str, zero_ok: bool| -> Result<i64, Unreadable> {
        let typed = get(field);
        if zero_ok && (typed.is_empty() || typed.trim_start_matches(['0', '.']).is_empty()) {
            return Ok(0);
        }
        parse_baht(&typed).ok_or(Unreadable {
            field,
            words: "ls_bad_baht",
        })
    };
    let whole = |field: &'static str| -> Result<i64, Unreadable> {
        get(field)
            .replace(',', "")
            .parse::<i64>()
            .map_err(|_| Unreadable {
                field,
                words: "ls_bad_number",
            })
    };
    let small = |field: &'static str| -> Result<u16, Unreadable> {
        u16::try_from(whole(field)?).map_err(|_| Unreadable {
            field,
            words: "ls_bad_number",
        })
    };
    let rounding = match get("rounding").as_str() {
        "nearest" => Rounding::Nearest,
        "ceil" => Rounding::Ceil,
        _ => Rounding::Floor,
    };
    let expiry = match get("expiry_mode").as_str() {
        "rolling" => ExpiryPolicy::Rolling {
            months: small("expiry_months")?,
            round_up: match get("round_up").as_str() {
                "month_end" => RoundUp::MonthEnd,
                "quarter_end" => RoundUp::QuarterEnd,
                "year_end" => RoundUp::YearEnd,
                _ => RoundUp::None,
            },
        },
        _ => ExpiryPolicy::Never,
    };
    Ok(LedgerSettings {
        earn: EarnRate {
            spend_satang: money("earn_baht", false)?,
            points: whole("earn_points")?,
            rounding,
            min_spend_satang: money("min_spend_baht", true)?,
        },
        expiry,
        pending_days: small("pending_days")?,
        refund_policy: match get("refund_policy").as_str() {
            "within_balance" => RefundPolicy::WithinBalance,
            _ => RefundPolicy::AllowNegative,
        },
        welcome_points: whole("welcome_points")?,
        point_value_satang: money("point_value_baht", true)?,
    })
}

/// The form field an API error names (`earn.spend_satang` is typed as `earn_baht`).
fn form_field(api_field: &str) -> &'static str {
    match api_field {
        "earn.spend_satang" => "earn_baht",
        "earn.points" => "earn_points",
        "earn.min_spend_satang" => "min_spend_baht",
        "expiry" | "expiry.months" => "expiry_months",
        "pending_days" => "pending_days",
        "welcome_points" => "welcome_points",
        "point_value_satang" => "point_value_baht",
        "refund_policy" => "refund_policy",
        "expiry.round_up" => "round_up",
        // Not one of the form's inputs: shown above the form only.
        _ => "",
    }
}

/// What the page shows above the form.
pub enum Outcome {
    Saved,
    /// (form field, the words shown next to it)
    Refused(&'static str, String),
}

fn form(lang: Language, p: &Principal, f: &Fields, outcome: Option<Outcome>) -> Markup {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (saved, error) = match outcome {
        Some(Outcome::Saved) => (true, None),
        Some(Outcome::Refused(field, words)) => (false, Some((field, words))),
        None => (false, None),
    };
    let error_of = |field: &str| {
        error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, w)| w.clone())
    };
    let input = |name: &'static str, label: &'static str, mode: &'static str| {
        let e = error_of(name);
        html! {
            label for=(name) { (t(lang, label)) }
            input id=(name) name=(name) inputmode=(mode) value=(get(name))
                aria-invalid=[e.as_ref().map(|_| "true")] aria-describedby=(format!("{name}-error"));
            (field_error(name, e.as_deref()))
        }
    };
    let select = |name: &'static str, label: &'static str, options: &[(&str, &'static str)]| {
        let current = get(name);
        html! {
            label for=(name) { (t(lang, label)) }
            select id=(name) name=(name) {
                @for (value, words) in options {
                    option value=(value) selected[current == *value] { (t(lang, words)) }
                }
            }
        }
    };
    // What a sample bill earns under the settings as typed (when they can be read).
    let sample = settings_from(f).ok().map(|s| {
        let bill = Satang::new(24_900);
        (baht(bill.get()), number(s.earn.points_for(bill)))
    });
    html! {
        @if saved { p.ok #saved role="status" { (t(lang, "w_saved")) } }
        @if let Some((_, words)) = &error { p.error #settings-error role="alert" { (words) } }
        form.sections-form method="post" action="/admin/settings/ledger" {
            input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
            fieldset {
                legend { (t(lang, "ls_earning")) }
                div.columns {
                    div { (input("earn_baht", "ls_earn_baht", "decimal")) }
                    div { (input("earn_points", "ls_earn_points", "numeric")) }
                }
                (select("rounding", "ls_rounding", &[("floor", "ls_floor"), ("nearest", "ls_nearest"), ("ceil", "ls_ceil")]))
                (input("min_spend_baht", "ls_min_spend", "decimal"))
                @if let Some((bill, points)) = &sample {
                    p.muted #sample { (t(lang, "ls_sample")) " " (bill) " " (t(lang, "baht")) " → " strong { (points) } " " (t(lang, "points")) }
                }
                (input("welcome_points", "w_welcome_points", "numeric"))
            }
            fieldset {
                legend { (t(lang, "ls_expiry")) }
                (select("expiry_mode", "ls_expiry_mode", &[("never", "ls_never"), ("rolling", "ls_rolling")]))
                (input("expiry_months", "ls_months", "numeric"))
                (select("round_up", "ls_round_up", &[("none", "ls_to_the_day"), ("month_end", "ls_month_end"), ("quarter_end", "ls_quarter_end"), ("year_end", "ls_year_end")]))
                p.muted { (t(lang, "ls_expiry_note")) }
            }
            fieldset {
                legend { (t(lang, "ls_refunds")) }
                (input("pending_days", "ls_pending_days", "numeric"))
                (select("refund_policy", "ls_refund_policy", &[("allow_negative", "ls_allow_negative"), ("within_balance", "ls_within_balance")]))
            }
            fieldset {
                legend { (t(lang, "ls_value")) }
                (input("point_value_baht", "ls_point_value", "decimal"))
                p.muted { (t(lang, "ls_value_note")) }
            }
            button #save-ledger type="submit" { (t(lang, "ls_save")) }
        }
    }
}

fn page(lang: Language, p: &Principal, body: Markup, status: StatusCode) -> Response {
    (
        status,
        Html(staff_layout(lang, t(lang, "ls_title"), p, body).into_string()),
    )
        .into_response()
}

/// The form with the shop's saved settings.
pub async fn show(app: &AppState, p: &Principal, meta: RequestMeta, lang: Language) -> Response {
    let ctx = Ctx {
        principal: p.clone(),
        meta,
    };
    match crate::ledger::api::get_ledger_settings(State(app.clone()), ctx).await {
        Ok(s) => page(
            lang,
            p,
            form(lang, p, &fields_of(&s.0), None),
            StatusCode::OK,
        ),
        Err(e) => crate::web::server_error(lang, e.message),
    }
}

/// Save the form through the API's handler.
pub async fn save(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    f: Fields,
) -> Response {
    let settings = match settings_from(&f) {
        Ok(s) => s,
        Err(u) => {
            let outcome = Outcome::Refused(u.field, t(lang, u.words).to_string());
            return page(
                lang,
                p,
                form(lang, p, &f, Some(outcome)),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let ctx = Ctx {
        principal: p.clone(),
        meta,
    };
    match crate::ledger::api::put_ledger_settings(State(app.clone()), ctx, JsonBody(settings)).await
    {
        Ok(saved) => page(
            lang,
            p,
            form(lang, p, &fields_of(&saved.0), Some(Outcome::Saved)),
            StatusCode::OK,
        ),
        Err(e) => refused(lang, p, &f, e),
    }
}

fn refused(lang: Language, p: &Principal, f: &Fields, e: ApiError) -> Response {
    let field = form_field(e.field.as_deref().unwrap_or_default());
    let outcome = Outcome::Refused(field, localise_error(lang, &e));
    page(lang, p, form(lang, p, f, Some(outcome)), e.code.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_back_what_it_shows() {
        let saved = LedgerSettings {
            earn: EarnRate {
                spend_satang: 2_550,
                points: 2,
                rounding: Rounding::Ceil,
                min_spend_satang: 10_000,
            },
            expiry: ExpiryPolicy::Rolling {
                months: 12,
                round_up: RoundUp::QuarterEnd,
            },
            pending_days: 7,
            refund_policy: RefundPolicy::WithinBalance,
            welcome_points: 20,
            point_value_satang: 33,
        };
        let read = settings_from(&fields_of(&saved)).ok().unwrap();
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            serde_json::to_value(&saved).unwrap()
        );
        let mut typed = fields_of(&saved);
        typed.insert("earn_baht".into(), "abc".into());
        assert_eq!(
            settings_from(&typed).err().map(|u| u.field),
            Some("earn_baht")
        );
    }
}
