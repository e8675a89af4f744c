//! The public signup form (versioned terms and privacy notice, marketing consent per
//! channel, questions whose answers set tags) and consent records. Consent is recorded
//! per purpose with the version shown, the time and how it was given; withdrawing is a
//! record too, as easy as giving it (PDPA).

use serde::{Deserialize, Serialize};

use super::store;
use crate::store::{Db, Tx, now_micros};

/// A marketing channel a member can consent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Line,
    Sms,
    Email,
}

impl Channel {
    pub fn purpose(self) -> &'static str {
        match self {
            Channel::Line => "marketing_line",
            Channel::Sms => "marketing_sms",
            Channel::Email => "marketing_email",
        }
    }
}

/// The purposes consent is recorded for.
pub const PURPOSES: &[&str] = &[
    "terms",
    "privacy",
    "marketing_line",
    "marketing_sms",
    "marketing_email",
];

/// One answer a signup question offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    pub value: String,
    pub label: String,
    /// Tags given to members who choose this answer (e.g. `working-age`).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A question on the signup form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
    pub options: Vec<AnswerOption>,
}

/// What the shop configures.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupFormInput {
    /// Terms and conditions shown at signup; a changed text becomes a new version.
    pub terms: String,
    /// The privacy notice; a changed text becomes a new version.
    pub privacy: String,
    /// Channels offered for marketing consent (separate boxes, never pre-ticked).
    pub marketing_channels: Vec<Channel>,
    #[serde(default)]
    pub questions: Vec<Question>,
}

/// What the signup page shows.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SignupForm {
    pub terms: String,
    pub terms_version: i64,
    pub privacy: String,
    pub privacy_version: i64,
    pub marketing_channels: Vec<Channel>,
    pub questions: Vec<Question>,
}

impl SignupFormInput {
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (field, text) in [("terms", &self.terms), ("privacy", &self.privacy)] {
            if text.trim().is_empty() || text.chars().count() > 50_000 {
                return Err((field.into(), "must be 1-50,000 characters".into()));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, q) in self.questions.iter().enumerate() {
            if q.id.trim().is_empty() || q.id.len() > 40 || !ids.insert(q.id.clone()) {
                return Err((
                    format!("questions[{i}].id"),
                    "give each question a unique id of 1-40 characters".into(),
                ));
            }
            if q.label.trim().is_empty() || q.options.is_empty() {
                return Err((
                    format!("questions[{i}]"),
                    "a question needs a label and at least one option".into(),
                ));
            }
            for (j, o) in q.options.iter().enumerate() {
                for (k, t) in o.tags.iter().enumerate() {
                    super::model::Tag::parse(t)
                        .map_err(|e| (format!("questions[{i}].options[{j}].tags[{k}]"), e))?;
                }
            }
        }
        Ok(())
    }
}

/// The shop's form, or None when it has not configured one.
pub async fn form(db: &Db, tenant_id: i64) -> sqlx::Result<Option<SignupForm>> {
    let Some((channels, questions)) = store::signup_form(db, tenant_id).await? else {
        return Ok(None);
    };
    let (Some((tv, terms)), Some((pv, privacy))) = (
        store::latest_legal_text(db, tenant_id, "terms").await?,
        store::latest_legal_text(db, tenant_id, "privacy").await?,
    ) else {
        return Ok(None);
    };
    Ok(Some(SignupForm {
        terms,
        terms_version: tv,
        privacy,
        privacy_version: pv,
        marketing_channels: serde_json::from_str(&channels).unwrap_or_default(),
        questions: serde_json::from_str(&questions).unwrap_or_default(),
    }))
}

/// Save the form; a legal text that changed gets the next version number.
pub async fn save_form(
    tx: &mut Tx,
    db: &Db,
    tenant_id: i64,
    input: &SignupFormInput,
) -> sqlx::Result<()> {
    let now = now_micros();
    for (kind, text) in [("terms", &input.terms), ("privacy", &input.privacy)] {
        let current = store::latest_legal_text(db, tenant_id, kind).await?;
        if current.as_ref().map(|c| &c.1) != Some(text) {
            let next = current.map(|c| c.0 + 1).unwrap_or(1);
            store::insert_legal_text(tx, tenant_id, kind, next, text, now).await?;
        }
    }
    let channels = serde_json::to_string(&input.marketing_channels).unwrap_or_else(|_| "[]".into());
    let questions = serde_json::to_string(&input.questions).unwrap_or_else(|_| "[]".into());
    store::upsert_signup_form(tx, tenant_id, &channels, &questions, now).await?;
    Ok(())
}

/// Record a consent given or withdrawn.
pub async fn record(
    tx: &mut Tx,
    tenant_id: i64,
    member_id: i64,
    purpose: &str,
    granted: bool,
    version: Option<i64>,
    channel: &str,
) -> sqlx::Result<()> {
    store::insert_consent(tx, tenant_id, member_id, purpose, granted, version, channel).await?;
    Ok(())
}

/// One consent record.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct ConsentRecord {
    pub purpose: String,
    pub granted: bool,
    /// The version of the text consented to (terms, privacy).
    pub version: Option<i64>,
    /// How it was given or withdrawn: `signup`, `staff`, `api`.
    pub channel: String,
    #[sqlx(skip)]
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    #[serde(skip)]
    #[schema(ignore)]
    pub at_micros: i64,
}

/// Every consent record of a member, oldest first.
pub async fn history(db: &Db, tenant_id: i64, member_id: i64) -> sqlx::Result<Vec<ConsentRecord>> {
    let mut rows = store::consents(db, tenant_id, member_id).await?;
    for r in &mut rows {
        r.at = crate::types::timestamp(r.at_micros);
    }
    Ok(rows)
}

/// The current state per purpose: the latest record of each.
pub fn current(history: &[ConsentRecord]) -> Vec<ConsentRecord> {
    let mut latest: Vec<ConsentRecord> = vec![];
    for r in history {
        match latest.iter_mut().find(|l| l.purpose == r.purpose) {
            Some(l) => *l = r.clone(),
            None => latest.push(r.clone()),
        }
    }
    latest
}
