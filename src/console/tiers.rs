//! The tier program as a form (`/admin/tiers`): whether tiers are on, what qualifies
//! (points earned, spend in baht, purchases, days as a member) over which period, what
//! a review does, and up to eight levels with their threshold, extra points and
//! benefits, with how many members hold each level now. Saved through the API's own
//! handler; a refusal shows on the row or field it concerns, with what was typed kept.

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::CookieJar;
use maud::{Markup, html};

use super::ctx;
use crate::audit::RequestMeta;
use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::http::json::JsonBody;
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::tiers::model::{Downgrade, Level, Metric, TierProgram, Window};
use crate::web::{
    baht, csrf_ok, field_error, language, localise_error, number, parse_baht, refuse, staff_layout,
    t,
};

type Fields = HashMap<String, String>;

/// The most levels a program may have (the API's limit), so the form never drops one.
const MAX_ROWS: usize = 20;

/// How many rows the form shows: every level and two empty rows, at least eight.
fn rows_shown(f: &Fields) -> usize {
    let last_filled = filled_rows(f).last().map(|r| r + 1).unwrap_or(0);
    (last_filled + 2).clamp(8, MAX_ROWS)
}

/// The rows that hold a level, in order: a program's level `i` is the i-th of them.
fn filled_rows(f: &Fields) -> Vec<usize> {
    let typed = |i: usize, x: &str| {
        f.get(&format!("l{i}_{x}"))
            .is_some_and(|v| !v.trim().is_empty())
    };
    (0..MAX_ROWS)
        .filter(|&i| typed(i, "code") || typed(i, "name"))
        .collect()
}

const COLUMNS: [(&str, &str); 6] = [
    ("code", "t_code"),
    ("name", "t_name"),
    ("name_en", "t_name_en"),
    ("threshold", "t_threshold"),
    ("earn_percent", "t_earn_percent"),
    ("benefits", "t_benefits"),
];

fn metric_code(m: Metric) -> &'static str {
    match m {
        Metric::PointsEarned => "points_earned",
        Metric::SpendSatang => "spend_satang",
        Metric::Purchases => "purchases",
        Metric::TenureDays => "tenure_days",
    }
}

/// A threshold as typed: spend in baht, the rest as whole numbers.
fn threshold_text(metric: Metric, value: i64) -> String {
    match metric {
        Metric::SpendSatang => baht(value).replace(',', ""),
        _ => value.to_string(),
    }
}

/// The form's fields from a saved program.
fn fields_of(program: &TierProgram) -> Fields {
    let mut f: Fields = HashMap::new();
    let mut put = |k: String, v: String| {
        f.insert(k, v);
    };
    put(
        "enabled".into(),
        if program.enabled {
            "on".into()
        } else {
            String::new()
        },
    );
    put("metric".into(), metric_code(program.metric).into());
    let (window, months) = match program.window {
        Window::Rolling { months } => ("rolling", months.to_string()),
        Window::CalendarMonth => ("calendar_month", String::new()),
        Window::CalendarQuarter => ("calendar_quarter", String::new()),
        Window::CalendarYear => ("calendar_year", String::new()),
        Window::Lifetime => ("lifetime", String::new()),
    };
    put("window".into(), window.into());
    put("months".into(), months);
    put(
        "downgrade".into(),
        match program.downgrade {
            Downgrade::ToQualified => "to_qualified",
            Downgrade::OneStep => "one_step",
            Downgrade::Never => "never",
        }
        .into(),
    );
    for (i, l) in program.levels.iter().enumerate().take(MAX_ROWS) {
        put(format!("l{i}_code"), l.code.clone());
        put(format!("l{i}_name"), l.name.clone());
        put(
            format!("l{i}_name_en"),
            l.name_en.clone().unwrap_or_default(),
        );
        put(
            format!("l{i}_threshold"),
            threshold_text(program.metric, l.threshold),
        );
        put(format!("l{i}_earn_percent"), l.earn_percent.to_string());
        put(format!("l{i}_benefits"), l.benefits.join("; "));
    }
    f
}

/// Where a refusal shows: on a level's row, on a field, or above the form.
struct Refused {
    /// `l1` for a level's row, a field's id, or empty.
    at: String,
    words: String,
    status: StatusCode,
}

impl Refused {
    /// `rows` are the form's rows holding levels: an error on `levels[i]` shows on the
    /// i-th of them (empty rows between levels are skipped when the program is read).
    fn new(lang: Language, e: &ApiError, rows: &[usize]) -> Refused {
        let field = e.field.clone().unwrap_or_default();
        let level = field
            .strip_prefix("levels[")
            .and_then(|rest| rest.split(']').next())
            .and_then(|i| i.parse::<usize>().ok());
        let at = match level {
            Some(i) => format!("l{}", rows.get(i).copied().unwrap_or(i)),
            None if field.starts_with("window") => "months".into(),
            None => field,
        };
        Refused {
            at,
            words: localise_error(lang, e),
            status: e.code.status(),
        }
    }
}

/// The program the form describes, or the first value it could not read.
fn program_from(lang: Language, f: &Fields) -> Result<TierProgram, ApiError> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let metric = match get("metric").as_str() {
        "spend_satang" => Metric::SpendSatang,
        "purchases" => Metric::Purchases,
        "tenure_days" => Metric::TenureDays,
        _ => Metric::PointsEarned,
    };
    let bad_number = |field: String| ApiError::invalid(field, t(lang, "ls_bad_number"));
    let window = match get("window").as_str() {
        "rolling" => Window::Rolling {
            months: get("months")
                .parse()
                .map_err(|_| bad_number("window.months".into()))?,
        },
        "calendar_month" => Window::CalendarMonth,
        "calendar_quarter" => Window::CalendarQuarter,
        "lifetime" => Window::Lifetime,
        _ => Window::CalendarYear,
    };
    let mut levels = vec![];
    for i in filled_rows(f) {
        let k = |x: &str| get(&format!("l{i}_{x}"));
        let at = |x: &str| format!("levels[{}].{x}", levels.len());
        let threshold = match metric {
            Metric::SpendSatang if k("threshold").trim_start_matches(['0', '.']).is_empty() => 0,
            Metric::SpendSatang => parse_baht(&k("threshold"))
                .ok_or_else(|| ApiError::invalid(at("threshold"), t(lang, "ls_bad_baht")))?,
            _ => k("threshold")
                .replace(',', "")
                .parse()
                .map_err(|_| bad_number(at("threshold")))?,
        };
        let earn_percent = match k("earn_percent").as_str() {
            "" => 100,
            v => v.parse().map_err(|_| bad_number(at("earn_percent")))?,
        };
        levels.push(Level {
            code: k("code"),
            name: k("name"),
            name_en: Some(k("name_en")).filter(|n| !n.is_empty()),
            threshold,
            earn_percent,
            benefits: k("benefits")
                .split(';')
                .map(|b| b.trim().to_string())
                .filter(|b| !b.is_empty())
                .collect(),
        });
    }
    Ok(TierProgram {
        enabled: get("enabled") == "on",
        metric,
        window,
        downgrade: match get("downgrade").as_str() {
            "one_step" => Downgrade::OneStep,
            "never" => Downgrade::Never,
            _ => Downgrade::ToQualified,
        },
        levels,
    })
}

fn select(lang: Language, name: &str, current: &str, options: &[(&str, &'static str)]) -> Markup {
    html! {
        select id=(name) name=(name) {
            @for (value, words) in options { option value=(value) selected[current == *value] { (t(lang, words)) } }
        }
    }
}

fn form(
    lang: Language,
    p: &Principal,
    f: &Fields,
    holders: &[i64],
    outcome: Option<Result<(), Refused>>,
) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let refused = outcome.as_ref().and_then(|o| o.as_ref().err());
    let on = |at: &str| refused.filter(|r| r.at == at).map(|r| r.words.clone());
    let status = refused.map(|r| r.status).unwrap_or(StatusCode::OK);
    let filled = filled_rows(f);
    let on_a_row = |at: &str| {
        at.strip_prefix('l')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let shown_elsewhere = |r: &Refused| on_a_row(&r.at) || r.at == "months";
    let body = html! {
        @match &outcome {
            Some(Ok(())) => p.ok #saved role="status" { (t(lang, "w_saved")) },
            Some(Err(r)) if !shown_elsewhere(r) => p.error #tiers-error role="alert" { (r.words) },
            _ => {}
        }
        form method="post" action="/admin/tiers" {
            input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
            label.choice { input #enabled type="checkbox" name="enabled" checked[get("enabled") == "on"]; " " (t(lang, "t_enabled")) }
            div.columns {
                div {
                    label for="metric" { (t(lang, "t_metric")) }
                    (select(lang, "metric", &get("metric"), &[("points_earned", "t_points_earned"), ("spend_satang", "t_spend"), ("purchases", "t_purchases"), ("tenure_days", "t_tenure")]))
                }
                div {
                    label for="window" { (t(lang, "t_window")) }
                    (select(lang, "window", &get("window"), &[("calendar_year", "t_year"), ("calendar_quarter", "t_quarter"), ("calendar_month", "t_month"), ("rolling", "t_rolling"), ("lifetime", "t_lifetime")]))
                }
                div {
                    label for="months" { (t(lang, "t_months")) }
                    input #months name="months" inputmode="numeric" value=(get("months")) aria-describedby="months-error";
                    (field_error("months", on("months").as_deref()))
                }
                div {
                    label for="downgrade" { (t(lang, "t_downgrade")) }
                    (select(lang, "downgrade", &get("downgrade"), &[("to_qualified", "t_to_qualified"), ("one_step", "t_one_step"), ("never", "t_never")]))
                }
            }
            p.muted { (t(lang, "t_levels_note")) }
            div.table-wrap { table #levels {
                thead { tr {
                    @for (_, words) in COLUMNS { th scope="col" { (t(lang, words)) } }
                    th.num scope="col" { (t(lang, "t_holders")) }
                } }
                tbody { @for i in 0..rows_shown(f) {
                    @let row_error = on(&format!("l{i}"));
                    tr {
                        @for (key, words) in COLUMNS {
                            @let name = format!("l{i}_{key}");
                            td { input id=(name) name=(name) value=(get(&name)) aria-label=(format!("{} {}", t(lang, words), i + 1))
                                aria-invalid=[row_error.as_ref().map(|_| "true")]; }
                        }
                        td.num { @if let Some(n) = filled.iter().position(|r| *r == i).and_then(|level| holders.get(level)) { (number(*n)) } }
                    }
                    @if let Some(e) = row_error { tr { td colspan="7" { p.field-error id=(format!("l{i}-error")) role="alert" { (e) } } } }
                } }
            } }
            button type="submit" #save-tiers { (t(lang, "w_save")) }
        }
    };
    (
        status,
        Html(staff_layout(lang, t(lang, "w_tiers"), p, body).into_string()),
    )
        .into_response()
}

/// `GET /admin/tiers`.
pub async fn tiers(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RulesManage) {
        return refuse(lang);
    }
    match crate::tiers::api::get_tier_program(State(app.clone()), ctx(&p, meta)).await {
        Ok(v) => {
            let holders: Vec<i64> = v.0.members_per_level.iter().map(|c| c.members).collect();
            form(lang, &p, &fields_of(&v.0.program), &holders, None)
        }
        Err(e) => crate::web::server_error(lang, e.message),
    }
}

/// `POST /admin/tiers`.
pub async fn save(
    State(app): State<AppState>,
    crate::web::PageSession(p): crate::web::PageSession,
    meta: RequestMeta,
    jar: CookieJar,
    Form(f): Form<Fields>,
) -> Response {
    let lang = language(None, &jar);
    if !p.allows(Permission::RulesManage)
        || !csrf_ok(&p, f.get("_csrf").map(String::as_str).unwrap_or_default())
    {
        return refuse(lang);
    }
    let saved = match program_from(lang, &f) {
        Ok(program) => {
            crate::tiers::api::put_tier_program(
                State(app.clone()),
                ctx(&p, meta),
                JsonBody(program),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(v) => {
            let holders: Vec<i64> = v.0.members_per_level.iter().map(|c| c.members).collect();
            form(lang, &p, &fields_of(&v.0.program), &holders, Some(Ok(())))
        }
        Err(e) => {
            let refused = Refused::new(lang, &e, &filled_rows(&f));
            form(lang, &p, &f, &[], Some(Err(refused)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_back_the_program_it_shows_spend_in_baht() {
        let program = TierProgram {
            enabled: true,
            metric: Metric::SpendSatang,
            window: Window::Rolling { months: 12 },
            downgrade: Downgrade::OneStep,
            levels: vec![
                Level {
                    code: "member".into(),
                    name: "สมาชิก".into(),
                    name_en: None,
                    threshold: 0,
                    earn_percent: 100,
                    benefits: vec![],
                },
                Level {
                    code: "gold".into(),
                    name: "โกลด์".into(),
                    name_en: Some("Gold".into()),
                    threshold: 1_000_050,
                    earn_percent: 150,
                    benefits: vec!["free upsize".into(), "birthday cake".into()],
                },
            ],
        };
        let f = fields_of(&program);
        assert_eq!(f["l1_threshold"], "10000.50", "spend is shown in baht");
        assert_eq!(program_from(Language::En, &f).unwrap(), program);
    }

    #[test]
    fn an_error_on_a_level_shows_on_the_row_it_was_typed_in() {
        // Levels typed on rows 0 and 2, row 1 left empty: the API's levels[1] is row 2.
        let mut f = Fields::new();
        for (k, v) in [
            ("l0_code", "member"),
            ("l0_name", "สมาชิก"),
            ("l2_code", "gold"),
            ("l2_name", "โกลด์"),
        ] {
            f.insert(k.into(), v.into());
        }
        let e = ApiError::invalid("levels[1].threshold", "must be above the level below");
        assert_eq!(Refused::new(Language::En, &e, &filled_rows(&f)).at, "l2");
        // A refusal of the whole list has no row: it shows above the form.
        let e = ApiError::invalid("levels", "an enabled program needs at least 2 levels");
        assert_eq!(
            Refused::new(Language::En, &e, &filled_rows(&f)).at,
            "levels"
        );
        // Every level of a long program has a row, and two empty ones follow.
        for i in 0..12 {
            f.insert(format!("l{i}_code"), format!("c{i}"));
        }
        assert_eq!(rows_shown(&f), 14);
    }
}
