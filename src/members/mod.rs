//! Members: the people who collect points. This holds what the ledger needs (identity
//! by phone, name, email); profiles, signup, import, merge and PDPA rights build on it.
//!
//! Must never happen: two members of one shop with the same phone; a phone stored in
//! any form but E.164.

pub mod api;
pub mod bulk_points;
pub mod card;
pub mod consent;
pub mod import;
pub mod import_file;
pub mod import_jobs;
pub mod model;
pub mod portal;
pub mod privacy;
pub mod self_service;
pub mod signup;
pub mod store;

/// What merging a duplicate into a member leaves on the surviving profile, shown before
/// staff confirm. The same rule as [`store::merge_profiles`] and the ledger's merge: the
/// survivor keeps its own fields and phone, its empty ones are filled from the
/// duplicate, it gets the tags of both, and the balances add up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergePreview {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub birthday: Option<String>,
    pub tags: Vec<String>,
    pub points: i64,
    pub stamps: i64,
}

/// The profile after merging `duplicate` (with its points and stamps) into `survivor`.
pub fn merge_preview(
    survivor: &store::Member,
    survivor_balances: (i64, i64),
    duplicate: &store::Member,
    duplicate_balances: (i64, i64),
) -> MergePreview {
    let or = |own: &str, theirs: &str| if own.is_empty() { theirs } else { own }.to_string();
    let mut tags = survivor.tags.clone();
    for t in &duplicate.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    MergePreview {
        first_name: or(&survivor.first_name, &duplicate.first_name),
        last_name: or(&survivor.last_name, &duplicate.last_name),
        email: survivor.email.clone().or_else(|| duplicate.email.clone()),
        birthday: survivor
            .birthday
            .clone()
            .or_else(|| duplicate.birthday.clone()),
        tags,
        points: survivor_balances.0.saturating_add(duplicate_balances.0),
        stamps: survivor_balances.1.saturating_add(duplicate_balances.1),
    }
}
