//! The shop's earning rules as a form (`/admin/settings/earning`): bonus multipliers by
//! branch, day and time, dates, tier level or product; caps per bill and per day; the
//! birthday bonus; stamp cards; and a preview of what a sample bill earns under the rules
//! as typed, before they are saved. Saved through the API's own handler; a refusal shows
//! next to the field it concerns, with everything typed kept. The JSON document stays as
//! the advanced view (`?view=json`).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, PreEscaped, html};

use crate::audit::RequestMeta;
use crate::auth::{Ctx, Principal};
use crate::http::json::JsonBody;
use crate::rules::model::{
    Condition, Day, EarningRules, Evaluation, LineItem, Multiplier, StampRule,
};
use crate::state::AppState;
use crate::tenants::model::Language;
use crate::web::{field_error, localise_error, number, parse_baht, staff_layout, t};

type Fields = HashMap<String, String>;

/// The days as the form names them, with their words.
const DAYS: [(Day, &str, &str); 7] = [
    (Day::Mon, "mon", "er_mon"),
    (Day::Tue, "tue", "er_tue"),
    (Day::Wed, "wed", "er_wed"),
    (Day::Thu, "thu", "er_thu"),
    (Day::Fri, "fri", "er_fri"),
    (Day::Sat, "sat", "er_sat"),
    (Day::Sun, "sun", "er_sun"),
];

/// The kinds of condition, as the form's select names them.
const WHEN: [(&str, &str); 5] = [
    ("days", "er_when_days"),
    ("branches", "er_when_branches"),
    ("dates", "er_when_dates"),
    ("tiers", "er_when_tiers"),
    ("items", "er_when_items"),
];

/// What the checkboxes offer: the shop's branches and tier levels.
pub struct Choices {
    pub branches: Vec<(i64, String)>,
    /// (code, name)
    pub tiers: Vec<(String, String)>,
}

fn list(v: &[String]) -> String {
    v.join(", ")
}

fn split(typed: &str) -> Vec<String> {
    typed
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// 150 → "1.5", 200 → "2".
fn times(percent: u32) -> String {
    let s = format!("{}.{:02}", percent / 100, percent % 100);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The form's fields as typed, from saved rules; one blank row each to add a rule.
fn fields_of(r: &EarningRules) -> Fields {
    let mut f = Fields::new();
    for (i, m) in r.multipliers.iter().enumerate() {
        let k = |s: &str| format!("m{i}_{s}");
        f.insert(k("name"), m.name.clone());
        f.insert(k("times"), times(m.percent));
        let (kind, _) = match &m.when {
            Condition::Days { days, from, until } => {
                for (day, code, _) in DAYS {
                    if days.contains(&day) {
                        f.insert(k(&format!("day_{code}")), "on".into());
                    }
                }
                let hm = |t: &jiff::civil::Time| t.strftime("%H:%M").to_string();
                f.insert(k("from"), from.as_ref().map(hm).unwrap_or_default());
                f.insert(k("until"), until.as_ref().map(hm).unwrap_or_default());
                WHEN[0]
            }
            Condition::Branches { branch_ids } => {
                for b in branch_ids {
                    f.insert(k(&format!("branch_{b}")), "on".into());
                }
                WHEN[1]
            }
            Condition::Dates { from, to } => {
                f.insert(k("date_from"), from.to_string());
                f.insert(k("date_to"), to.to_string());
                WHEN[2]
            }
            Condition::Tiers { codes } => {
                for c in codes {
                    f.insert(k(&format!("tier_{c}")), "on".into());
                }
                WHEN[3]
            }
            Condition::Items { skus, categories } => {
                f.insert(k("skus"), list(skus));
                f.insert(k("categories"), list(categories));
                WHEN[4]
            }
        };
        f.insert(k("when"), kind.into());
    }
    f.insert("m_count".into(), (r.multipliers.len() + 1).to_string());
    for (i, s) in r.stamps.iter().enumerate() {
        let k = |x: &str| format!("s{i}_{x}");
        f.insert(k("name"), s.name.clone());
        f.insert(k("skus"), list(&s.skus));
        f.insert(k("categories"), list(&s.categories));
        f.insert(k("per_item"), s.stamps_per_item.to_string());
    }
    f.insert("s_count".into(), (r.stamps.len() + 1).to_string());
    let cap = |c: Option<i64>| c.map(|c| c.to_string()).unwrap_or_default();
    f.insert("cap_per_bill".into(), cap(r.cap_per_bill));
    f.insert("cap_per_day".into(), cap(r.cap_per_day));
    f.insert("birthday_bonus".into(), r.birthday_bonus.to_string());
    f
}

/// A field the page could not read, in the page's words.
#[derive(Debug)]
struct Unreadable {
    field: String,
    words: &'static str,
}

/// Which form row each rule the API sees came from (rows removed or left blank are not
/// sent), so a refusal naming `multipliers[2]` shows on the right row.
#[derive(Debug, Default)]
struct Rows {
    multipliers: Vec<usize>,
    stamps: Vec<usize>,
}

fn count(f: &Fields, key: &str) -> usize {
    f.get(key).and_then(|c| c.parse().ok()).unwrap_or(0).min(60)
}

/// The rules the form describes, or the first field it could not read.
fn rules_from(f: &Fields) -> Result<(EarningRules, Rows), Unreadable> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let on = |k: &str| f.get(k).is_some_and(|v| !v.is_empty());
    let bad = |field: String, words: &'static str| Unreadable { field, words };
    let whole = |field: &str, blank: Option<i64>| -> Result<Option<i64>, Unreadable> {
        let typed = get(field).replace(',', "");
        if typed.is_empty() {
            return Ok(blank);
        }
        typed
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or(bad(field.to_string(), "er_whole"))
    };
    let mut rules = EarningRules::default();
    let mut rows = Rows::default();
    for i in 0..count(f, "m_count") {
        let k = |s: &str| format!("m{i}_{s}");
        if on(&k("remove")) || (get(&k("name")).is_empty() && get(&k("times")).is_empty()) {
            continue;
        }
        let percent = parse_baht(&get(&k("times")))
            .and_then(|p| u32::try_from(p).ok())
            .ok_or(bad(k("times"), "er_bad_times"))?;
        let picked = |prefix: &str| -> Vec<String> {
            let prefix = k(prefix);
            let mut v: Vec<String> = f
                .iter()
                .filter(|(key, value)| !value.is_empty() && key.starts_with(&prefix))
                .map(|(key, _)| key[prefix.len()..].to_string())
                .collect();
            v.sort();
            v
        };
        let time = |field: String| -> Result<Option<jiff::civil::Time>, Unreadable> {
            let typed = get(&field);
            if typed.is_empty() {
                return Ok(None);
            }
            typed
                .parse()
                .map(Some)
                .map_err(|_| bad(field, "er_bad_time"))
        };
        let date = |field: String| -> Result<jiff::civil::Date, Unreadable> {
            get(&field).parse().map_err(|_| bad(field, "er_bad_date"))
        };
        let when = match get(&k("when")).as_str() {
            "branches" => Condition::Branches {
                branch_ids: picked("branch_")
                    .iter()
                    .filter_map(|b| b.parse().ok())
                    .collect(),
            },
            "dates" => Condition::Dates {
                from: date(k("date_from"))?,
                to: date(k("date_to"))?,
            },
            "tiers" => Condition::Tiers {
                codes: picked("tier_"),
            },
            "items" => Condition::Items {
                skus: split(&get(&k("skus"))),
                categories: split(&get(&k("categories"))),
            },
            _ => Condition::Days {
                days: DAYS
                    .iter()
                    .filter(|(_, code, _)| on(&k(&format!("day_{code}"))))
                    .map(|(day, _, _)| *day)
                    .collect(),
                from: time(k("from"))?,
                until: time(k("until"))?,
            },
        };
        rules.multipliers.push(Multiplier {
            name: get(&k("name")),
            percent,
            when,
        });
        rows.multipliers.push(i);
    }
    for i in 0..count(f, "s_count") {
        let k = |s: &str| format!("s{i}_{s}");
        let blank = ["name", "skus", "categories", "per_item"]
            .iter()
            .all(|x| get(&k(x)).is_empty());
        if on(&k("remove")) || blank {
            continue;
        }
        rules.stamps.push(StampRule {
            name: get(&k("name")),
            skus: split(&get(&k("skus"))),
            categories: split(&get(&k("categories"))),
            stamps_per_item: whole(&k("per_item"), Some(0))?.unwrap_or(0),
        });
        rows.stamps.push(i);
    }
    rules.cap_per_bill = whole("cap_per_bill", None)?;
    rules.cap_per_day = whole("cap_per_day", None)?;
    rules.birthday_bonus = whole("birthday_bonus", Some(0))?.unwrap_or(0);
    Ok((rules, rows))
}

/// The form field an API refusal names, and the words for it.
fn form_field(api_field: &str, rows: &Rows) -> Option<(String, &'static str)> {
    let row = |list: &[usize], rest: &str| -> Option<(usize, String)> {
        let (index, rest) = rest.split_once(']')?;
        let i: usize = index.parse().ok()?;
        Some((*list.get(i)?, rest.trim_start_matches('.').to_string()))
    };
    if let Some(rest) = api_field.strip_prefix("multipliers[") {
        let (r, what) = row(&rows.multipliers, rest)?;
        let (field, words) = match what.as_str() {
            "name" => ("name", "er_rule_name"),
            "percent" => ("times", "er_bad_times"),
            "when.to" => ("date_to", "er_dates_order"),
            "when.until" => ("until", "er_times_order"),
            "when.skus" | "when.categories" => ("skus", "er_name_products"),
            w if w.starts_with("when.branch_ids") => ("when", "er_pick_branch"),
            "when.days" => ("when", "er_pick_day"),
            "when.codes" => ("when", "er_pick_tier"),
            _ => return None,
        };
        return Some((format!("m{r}_{field}"), words));
    }
    if let Some(rest) = api_field.strip_prefix("stamps[") {
        let (r, what) = row(&rows.stamps, rest)?;
        let (field, words) = match what.as_str() {
            "name" => ("name", "er_card_name"),
            "stamps_per_item" => ("per_item", "er_per_item"),
            _ => ("skus", "er_name_products"),
        };
        return Some((format!("s{r}_{field}"), words));
    }
    match api_field {
        "cap_per_bill" | "cap_per_day" | "birthday_bonus" => {
            Some((api_field.to_string(), "er_too_large"))
        }
        _ => None,
    }
}

/// What the page shows besides the form.
pub enum Outcome {
    Saved,
    /// (form field or "" for above the form, the words shown next to it)
    Refused(String, String),
    Preview(Evaluation),
}

/// The sample bill typed in the preview, or the field that could not be read.
fn sample_from(f: &Fields) -> Result<crate::rules::Sample, Unreadable> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let bad = |field: &str, words: &'static str| Unreadable {
        field: field.into(),
        words,
    };
    let amount = parse_baht(&get("p_amount")).ok_or(bad("p_amount", "bad_amount"))?;
    let at = get("p_at")
        .parse::<jiff::civil::DateTime>()
        .map_err(|_| bad("p_at", "er_bad_time"))?;
    let mut items = vec![];
    let (sku, category) = (get("p_sku"), get("p_category"));
    if !sku.is_empty() || !category.is_empty() {
        let quantity = get("p_qty")
            .parse::<i64>()
            .ok()
            .filter(|q| (1..=10_000).contains(q))
            .ok_or(bad("p_qty", "er_whole"))?;
        let unit = parse_baht(&get("p_price")).ok_or(bad("p_price", "bad_amount"))?;
        items.push(LineItem {
            sku: if sku.is_empty() { "-".into() } else { sku },
            name: None,
            category: (!category.is_empty()).then_some(category),
            quantity,
            unit_price_satang: unit,
        });
    }
    crate::rules::model::validate_items(&items, amount)
        .map_err(|_| bad("p_price", "er_items_over_bill"))?;
    Ok(crate::rules::Sample {
        amount_satang: amount,
        branch_id: get("p_branch").parse().ok(),
        at,
        tier: Some(get("p_tier")).filter(|t| !t.is_empty()),
        items,
    })
}

/// Shows only the selected condition's fields in each rule (all show without scripts).
const SHOW_CONDITION: &str = r#"
for (const s of document.querySelectorAll('select.when')) {
  const show = () => { for (const g of s.closest('fieldset').querySelectorAll('[data-when]')) g.hidden = g.dataset.when !== s.value; };
  s.addEventListener('change', show); show();
}
"#;

fn form(
    lang: Language,
    p: &Principal,
    f: &Fields,
    choices: &Choices,
    outcome: Option<Outcome>,
) -> Markup {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let on = |k: &str| f.get(k).is_some_and(|v| !v.is_empty());
    let (saved, error, preview) = match outcome {
        Some(Outcome::Saved) => (true, None, None),
        Some(Outcome::Refused(field, words)) => (false, Some((field, words)), None),
        Some(Outcome::Preview(e)) => (false, None, Some(e)),
        None => (false, None, None),
    };
    let error_of = |field: &str| {
        error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, w)| w.clone())
    };
    let input = |name: String, label: &str, mode: &str| {
        let e = error_of(&name);
        html! {
            label for=(name) { (label) }
            input id=(name) name=(name) inputmode=(mode) value=(get(&name))
                aria-invalid=[e.as_ref().map(|_| "true")] aria-describedby=(format!("{name}-error"));
            (field_error(&name, e.as_deref()))
        }
    };
    let typed_input = |name: String, label: &str, kind: &str| {
        let e = error_of(&name);
        html! {
            label for=(name) { (label) }
            input id=(name) name=(name) type=(kind) value=(get(&name))
                aria-invalid=[e.as_ref().map(|_| "true")] aria-describedby=(format!("{name}-error"));
            (field_error(&name, e.as_deref()))
        }
    };
    let check = |name: String, label: &str| {
        html! { label.choice { input type="checkbox" name=(name) checked[on(&name)]; " " (label) } }
    };
    let m_count = count(f, "m_count").max(1);
    let s_count = count(f, "s_count").max(1);
    html! {
        @if saved { p.ok #saved role="status" { (t(lang, "w_saved")) } }
        @if let Some((_, words)) = &error { p.error #rules-error role="alert" { (words) } }
        p.muted { (t(lang, "er_intro")) " " a href="/admin/settings/ledger" { (t(lang, "w_points")) } }
        form.sections-form #earning-rules method="post" action="/admin/settings/earning" {
            input type="hidden" name="_csrf" value=(p.csrf_token.clone().unwrap_or_default());
            input type="hidden" name="m_count" value=(m_count);
            input type="hidden" name="s_count" value=(s_count);
            h2 { (t(lang, "er_multipliers")) }
            p.muted { (t(lang, "er_multipliers_note")) }
            @for i in 0..m_count {
                @let k = |s: &str| format!("m{i}_{s}");
                @let new = i + 1 == m_count;
                fieldset.rule id=(k("rule")) {
                    legend { @if new { (t(lang, "er_new_multiplier")) } @else { (get(&k("name"))) } }
                    div.columns {
                        div { (input(k("name"), t(lang, "er_rule_name_label"), "text")) }
                        div { (input(k("times"), t(lang, "er_times_label"), "decimal")) }
                    }
                    label for=(k("when")) { (t(lang, "er_when")) }
                    select.when id=(k("when")) name=(k("when")) aria-describedby=(format!("{}-error", k("when"))) {
                        @for (value, words) in WHEN {
                            option value=(value) selected[get(&k("when")) == value] { (t(lang, words)) }
                        }
                    }
                    (field_error(&k("when"), error_of(&k("when")).as_deref()))
                    div data-when="days" {
                        div.row { @for (_, code, words) in DAYS { (check(k(&format!("day_{code}")), t(lang, words))) } }
                        div.columns {
                            div { (typed_input(k("from"), t(lang, "er_from_time"), "time")) }
                            div { (typed_input(k("until"), t(lang, "er_until_time"), "time")) }
                        }
                    }
                    div data-when="branches" {
                        @if choices.branches.is_empty() { p.empty { (t(lang, "er_no_branches")) } }
                        div.row { @for (id, name) in &choices.branches { (check(k(&format!("branch_{id}")), name)) } }
                    }
                    div data-when="dates" {
                        div.columns {
                            div { (typed_input(k("date_from"), t(lang, "er_from_date"), "date")) }
                            div { (typed_input(k("date_to"), t(lang, "er_to_date"), "date")) }
                        }
                    }
                    div data-when="tiers" {
                        @if choices.tiers.is_empty() { p.empty { (t(lang, "er_no_tiers")) } }
                        div.row { @for (code, name) in &choices.tiers { (check(k(&format!("tier_{code}")), name)) } }
                    }
                    div data-when="items" {
                        (input(k("skus"), t(lang, "er_skus"), "text"))
                        (input(k("categories"), t(lang, "er_categories"), "text"))
                    }
                    @if !new { (check(k("remove"), t(lang, "er_remove"))) }
                }
            }
            h2 { (t(lang, "er_limits")) }
            fieldset {
                legend { (t(lang, "er_limits")) }
                div.columns {
                    div { (input("cap_per_bill".into(), t(lang, "er_cap_per_bill"), "numeric")) }
                    div { (input("cap_per_day".into(), t(lang, "er_cap_per_day"), "numeric")) }
                }
                p.muted { (t(lang, "er_caps_note")) }
                (input("birthday_bonus".into(), t(lang, "er_birthday_bonus"), "numeric"))
            }
            h2 { (t(lang, "er_stamps")) }
            p.muted { (t(lang, "er_stamps_note")) }
            @for i in 0..s_count {
                @let k = |s: &str| format!("s{i}_{s}");
                @let new = i + 1 == s_count;
                fieldset id=(k("card")) {
                    legend { @if new { (t(lang, "er_new_stamp_card")) } @else { (get(&k("name"))) } }
                    div.columns {
                        div { (input(k("name"), t(lang, "er_card_name_label"), "text")) }
                        div { (input(k("per_item"), t(lang, "er_per_item_label"), "numeric")) }
                    }
                    (input(k("skus"), t(lang, "er_skus"), "text"))
                    (input(k("categories"), t(lang, "er_categories"), "text"))
                    @if !new { (check(k("remove"), t(lang, "er_remove"))) }
                }
            }
            h2 { (t(lang, "er_preview")) }
            fieldset #preview {
                legend { (t(lang, "er_preview")) }
                p.muted { (t(lang, "er_preview_note")) }
                div.columns {
                    div { (input("p_amount".into(), t(lang, "er_bill_baht"), "decimal")) }
                    div { (typed_input("p_at".into(), t(lang, "er_bill_time"), "datetime-local")) }
                }
                div.columns {
                    div {
                        label for="p_branch" { (t(lang, "branch")) }
                        select #p_branch name="p_branch" {
                            option value="" { "—" }
                            @for (id, name) in &choices.branches { option value=(id) selected[get("p_branch") == id.to_string()] { (name) } }
                        }
                    }
                    div {
                        label for="p_tier" { (t(lang, "tier")) }
                        select #p_tier name="p_tier" {
                            option value="" { "—" }
                            @for (code, name) in &choices.tiers { option value=(code) selected[get("p_tier") == *code] { (name) } }
                        }
                    }
                }
                div.columns {
                    div { (input("p_sku".into(), t(lang, "er_sample_sku"), "text")) }
                    div { (input("p_category".into(), t(lang, "er_sample_category"), "text")) }
                }
                div.columns {
                    div { (input("p_qty".into(), t(lang, "er_sample_qty"), "numeric")) }
                    div { (input("p_price".into(), t(lang, "mm_unit_price"), "decimal")) }
                }
                button.secondary #preview-rules type="submit" name="op" value="preview" { (t(lang, "er_preview_button")) }
                @if let Some(e) = &preview {
                    div #preview-result role="status" {
                        p.big { (number(e.points)) " " (t(lang, "points"))
                            @if e.stamps > 0 { " · " (number(e.stamps)) " " (t(lang, "m_stamps")) } }
                        table {
                            thead { tr { th scope="col" { (t(lang, "er_rule")) } th.num scope="col" { (t(lang, "points")) } } }
                            tbody { @for a in &e.applied { tr {
                                td { (applied_name(lang, &a.rule, &a.name)) }
                                td.num { @if a.points > 0 && a.rule != "base_rate" { "+" } (number(a.points))
                                    @if a.rule == "stamps" { " " (t(lang, "m_stamps")) } }
                            } } }
                        }
                    }
                }
            }
            div.row {
                button #save-rules type="submit" name="op" value="save" { (t(lang, "er_save")) }
                a.button.secondary href="/admin/settings/earning?view=json" { (t(lang, "er_advanced")) }
            }
        }
        script nonce=(crate::web::script_nonce()) { (PreEscaped(SHOW_CONDITION)) }
    }
}

/// A rule's contribution in the page's words: the shop's own names for its rules and
/// stamp cards, the page's words for the base rate and the caps.
fn applied_name(lang: Language, rule: &str, name: &str) -> String {
    match rule {
        "base_rate" => t(lang, "er_base_rate").into(),
        "cap_per_bill" => t(lang, "er_cap_per_bill").into(),
        "cap_per_day" => t(lang, "er_cap_per_day").into(),
        "tier" => format!("{} {name}", t(lang, "tier")),
        _ => name.into(),
    }
}

fn page(lang: Language, p: &Principal, body: Markup, status: StatusCode) -> Response {
    (
        status,
        Html(staff_layout(lang, t(lang, "a_rules"), p, body).into_string()),
    )
        .into_response()
}

async fn choices(app: &AppState, tenant_id: i64, lang: Language) -> Result<Choices, String> {
    let branches = crate::tenants::store::list_branches(&app.db, tenant_id, i64::MAX, 200)
        .await
        .map_err(|e| e.to_string())?;
    let program = crate::tiers::store::program(&app.db, tenant_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Choices {
        branches: branches.into_iter().map(|b| (b.id, b.name)).collect(),
        tiers: program
            .levels
            .into_iter()
            .filter(|_| program.enabled)
            .map(|l| {
                let name = match (lang, l.name_en) {
                    (Language::En, Some(en)) => en,
                    _ => l.name,
                };
                (l.code, name)
            })
            .collect(),
    })
}

/// The form with the shop's saved rules.
pub async fn show(app: &AppState, p: &Principal, meta: RequestMeta, lang: Language) -> Response {
    let ctx = Ctx {
        principal: p.clone(),
        meta,
    };
    let choices = match choices(app, p.tenant_id, lang).await {
        Ok(c) => c,
        Err(e) => return crate::web::server_error(lang, e),
    };
    match crate::rules::api::get_earning_rules(State(app.clone()), ctx).await {
        Ok(r) => {
            let mut f = fields_of(&r.0);
            f.insert("p_amount".into(), "250".into());
            page(lang, p, form(lang, p, &f, &choices, None), StatusCode::OK)
        }
        Err(e) => crate::web::server_error(lang, e.message),
    }
}

/// Preview or save the form (`op`), saving through the API's handler.
pub async fn save(
    app: &AppState,
    p: &Principal,
    meta: RequestMeta,
    lang: Language,
    f: Fields,
) -> Response {
    let choices = match choices(app, p.tenant_id, lang).await {
        Ok(c) => c,
        Err(e) => return crate::web::server_error(lang, e),
    };
    let refused = |field: String, words: String, status: StatusCode| {
        let outcome = Outcome::Refused(field, words);
        page(lang, p, form(lang, p, &f, &choices, Some(outcome)), status)
    };
    let (rules, rows) = match rules_from(&f) {
        Ok(r) => r,
        Err(u) => {
            return refused(
                u.field,
                t(lang, u.words).into(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    if f.get("op").map(String::as_str) == Some("preview") {
        if let Err((field, _)) = rules.validate() {
            let (field, words) = form_field(&field, &rows).unwrap_or_default();
            return refused(
                field,
                t(lang, words).into(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        let sample = match sample_from(&f) {
            Ok(s) => s,
            Err(u) => {
                return refused(
                    u.field,
                    t(lang, u.words).into(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
            }
        };
        return match crate::rules::preview(&app.db, p.tenant_id, &rules, &sample).await {
            Ok(e) => page(
                lang,
                p,
                form(lang, p, &f, &choices, Some(Outcome::Preview(e))),
                StatusCode::OK,
            ),
            Err(crate::rules::PreviewError::Time) => refused(
                "p_at".into(),
                t(lang, "er_bad_time").into(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Err(e) => crate::web::server_error(lang, e),
        };
    }
    let ctx = Ctx {
        principal: p.clone(),
        meta,
    };
    match crate::rules::api::put_earning_rules(State(app.clone()), ctx, JsonBody(rules)).await {
        Ok(saved) => {
            let mut fields = fields_of(&saved.0);
            // The sample bill stays as typed.
            for (k, v) in f.iter().filter(|(k, _)| k.starts_with("p_")) {
                fields.insert(k.clone(), v.clone());
            }
            page(
                lang,
                p,
                form(lang, p, &fields, &choices, Some(Outcome::Saved)),
                StatusCode::OK,
            )
        }
        Err(e) => {
            let status = e.code.status();
            let (field, words) = match form_field(e.field.as_deref().unwrap_or_default(), &rows) {
                Some((field, words)) => (field, t(lang, words).to_string()),
                None => (String::new(), localise_error(lang, &e)),
            };
            refused(field, words, status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> EarningRules {
        EarningRules {
            multipliers: vec![
                Multiplier {
                    name: "happy hour".into(),
                    percent: 150,
                    when: Condition::Days {
                        days: vec![Day::Sat, Day::Sun],
                        from: Some("14:00".parse().unwrap()),
                        until: Some("17:00".parse().unwrap()),
                    },
                },
                Multiplier {
                    name: "Siam".into(),
                    percent: 200,
                    when: Condition::Branches {
                        branch_ids: vec![7, 9],
                    },
                },
                Multiplier {
                    name: "December".into(),
                    percent: 300,
                    when: Condition::Dates {
                        from: "2026-12-01".parse().unwrap(),
                        to: "2026-12-31".parse().unwrap(),
                    },
                },
                Multiplier {
                    name: "gold".into(),
                    percent: 125,
                    when: Condition::Tiers {
                        codes: vec!["gold".into()],
                    },
                },
                Multiplier {
                    name: "coffee".into(),
                    percent: 1000,
                    when: Condition::Items {
                        skus: vec!["LATTE".into()],
                        categories: vec!["coffee".into(), "tea".into()],
                    },
                },
            ],
            cap_per_bill: Some(500),
            cap_per_day: None,
            stamps: vec![StampRule {
                name: "card".into(),
                skus: vec!["LATTE".into()],
                categories: vec![],
                stamps_per_item: 2,
            }],
            birthday_bonus: 50,
        }
    }

    #[test]
    fn the_form_reads_back_what_it_shows() {
        let saved = rules();
        let (read, rows) = rules_from(&fields_of(&saved)).unwrap();
        assert_eq!(read, saved);
        assert_eq!(rows.multipliers, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn removed_and_blank_rows_are_not_sent_and_refusals_find_their_row() {
        let mut f = fields_of(&rules());
        f.insert("m1_remove".into(), "on".into());
        let (read, rows) = rules_from(&f).unwrap();
        assert_eq!(
            read.multipliers.len(),
            4,
            "one removed, the blank row skipped"
        );
        // The API names the second rule it got: the form's third row.
        assert_eq!(
            form_field("multipliers[1].when.to", &rows),
            Some(("m2_date_to".to_string(), "er_dates_order"))
        );
        f.insert("m0_times".into(), "abc".into());
        assert_eq!(rules_from(&f).unwrap_err().field, "m0_times");
        f.insert("m0_times".into(), "1.5".into());
        f.insert("m0_until".into(), "25:00".into());
        assert_eq!(rules_from(&f).unwrap_err().field, "m0_until");
    }
}
