//! The settings documents a shop sends (ledger settings, earning rules, tier program,
//! reward, signup form; the first byte chooses), parsed and checked as the API does, and
//! earning rules that pass evaluated on a bill: no input may crash or overflow. Seeds:
//! fuzz/seeds/settings (the tests' documents).

#![no_main]

use libfuzzer_sys::fuzz_target;
use loyal::http::json::parse_json;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, json)) = data.split_first() else {
        return;
    };
    match kind % 5 {
        0 => {
            if let Ok(s) = parse_json::<loyal::ledger::store::LedgerSettings>(json) {
                let _ = s.earn.validate();
                let _ = s.expiry.validate();
                if s.earn.validate().is_ok() {
                    let _ = s.earn.points_for(loyal::ledger::model::MAX_AMOUNT);
                }
            }
        }
        1 => {
            if let Ok(rules) = parse_json::<loyal::rules::model::EarningRules>(json)
                && rules.validate().is_ok()
            {
                let at = jiff::Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC);
                let bill = loyal::rules::model::Bill {
                    amount_satang: loyal::ledger::model::MAX_AMOUNT,
                    branch_id: Some(1),
                    at: &at,
                    items: &[],
                    earned_today: 0,
                    tier: None,
                };
                let rate = loyal::ledger::model::EarnRate::default();
                let _ = loyal::rules::model::evaluate(&rate, &rules, &bill);
            }
        }
        2 => {
            if let Ok(p) = parse_json::<loyal::tiers::model::TierProgram>(json) {
                let _ = p.validate();
            }
        }
        3 => {
            if let Ok(r) = parse_json::<loyal::rewards::model::RewardSpec>(json) {
                let _ = r.validate(&["GOLD".to_string()]);
            }
        }
        _ => {
            if let Ok(f) = parse_json::<loyal::members::consent::SignupFormInput>(json) {
                let _ = f.validate();
            }
        }
    }
});
