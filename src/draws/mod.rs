//! Lucky draws: members buy entries with points; the winners are a deterministic
//! function of a secret seed and the entry list, and the seed's SHA-256 is published
//! when the draw is created, so after the draw anyone can check that the seed was fixed
//! in advance and recompute the winners (`loyal draw verify`).
//!
//! The rule: every entry scores SHA-256("<seed>:<entry_id>") (hex); entries are taken in
//! ascending score (then entry id), skipping holders who already won, until the number
//! of winners is reached.

pub mod api;
pub mod store;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const RULE: &str = "score = sha256(seed + \":\" + entry_id) in hex; sort entries by (score, entry_id); take the first entry of each holder until `winners_count` winners";

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The public, pseudonymous reference of a member in one draw.
pub fn holder_ref(draw_id: i64, member_id: i64) -> String {
    sha256_hex(&format!("loyal-draw:{draw_id}:{member_id}"))[..16].to_string()
}

/// A new secret seed and its published hash.
pub fn new_seed() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let seed = hex::encode(bytes);
    let hash = sha256_hex(&seed);
    (seed, hash)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProofEntry {
    pub entry_id: i64,
    pub holder: String,
}

/// The winners (in winning order) for a seed and an entry list.
pub fn pick_winners(seed: &str, entries: &[ProofEntry], count: usize) -> Vec<ProofEntry> {
    let mut scored: Vec<(String, &ProofEntry)> = entries
        .iter()
        .map(|e| (sha256_hex(&format!("{seed}:{}", e.entry_id)), e))
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.entry_id.cmp(&b.1.entry_id)));
    let mut winners: Vec<ProofEntry> = Vec::new();
    for (_, e) in scored {
        if winners.len() == count {
            break;
        }
        if !winners.iter().any(|w| w.holder == e.holder) {
            winners.push(e.clone());
        }
    }
    winners
}

/// Everything needed to check a draw, as published.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Proof {
    pub draw_id: i64,
    pub name: String,
    /// SHA-256 (hex) of the seed, published when the draw opened.
    pub seed_hash: String,
    /// The seed, revealed after the draw (absent before).
    pub seed: Option<String>,
    pub winners_count: i64,
    /// Every entry, in the order they were bought.
    pub entries: Vec<ProofEntry>,
    /// The winners, in winning order (empty before the draw).
    pub winners: Vec<ProofEntry>,
    /// How the winners follow from the seed and the entries.
    pub rule: String,
}

/// Check a proof: the seed matches its published hash, and the winners are what the
/// rule gives.
pub fn verify(proof: &Proof) -> Result<(), String> {
    let seed = proof
        .seed
        .as_deref()
        .ok_or("the seed is not revealed yet: the draw has not been made")?;
    if sha256_hex(seed) != proof.seed_hash {
        return Err(format!(
            "the seed does not match the published hash {}",
            proof.seed_hash
        ));
    }
    let count = usize::try_from(proof.winners_count).map_err(|_| "winners_count is negative")?;
    let expected = pick_winners(seed, &proof.entries, count);
    if expected != proof.winners {
        return Err(format!(
            "the published winners {:?} differ from the recomputed {:?}",
            proof.winners.iter().map(|w| w.entry_id).collect::<Vec<_>>(),
            expected.iter().map(|w| w.entry_id).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

/// `loyal draw verify <file | - | URL>`.
pub async fn verify_cli(source: &str) -> anyhow::Result<()> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        let res = reqwest::get(source).await?;
        anyhow::ensure!(
            res.status().is_success(),
            "{source} answered {}",
            res.status()
        );
        res.text().await?
    } else if source == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(source).map_err(|e| anyhow::anyhow!("{source}: {e}"))?
    };
    let proof: Proof =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("not a draw proof: {e}"))?;
    verify(&proof).map_err(|e| {
        anyhow::anyhow!("draw {} ({}): NOT VERIFIED: {e}", proof.draw_id, proof.name)
    })?;
    println!(
        "draw {} ({}): verified. The seed matches its published hash and the {} winner(s) follow from the seed and the {} entries: {}",
        proof.draw_id,
        proof.name,
        proof.winners.len(),
        proof.entries.len(),
        proof
            .winners
            .iter()
            .map(|w| w.entry_id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

use jiff::Timestamp;

use crate::audit::{self, ActorRef, Change};
use crate::error::{ApiError, Code};
use crate::ledger::LedgerError;
use crate::ledger::model::{Currency, MAX_AMOUNT};
use crate::ledger::{Kind, Posting};
use crate::otp::{OtpError, OtpProof};
use crate::tenants::ShopError;

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawSpec {
    /// `iPhone draw, December`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Points per entry.
    pub entry_cost: i64,
    /// Most entries one member may buy (absent = no limit).
    pub max_entries_per_member: Option<i64>,
    /// How many prizes (one per member).
    pub winners: i64,
    #[schema(value_type = String, format = DateTime)]
    pub opens_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub closes_at: Timestamp,
}

impl DrawSpec {
    /// Whether entries may be bought at `now`: open, not closed, not yet drawn.
    pub fn takes_entries(&self, drawn: bool, now: Timestamp) -> bool {
        !drawn && self.opens_at <= now && now < self.closes_at
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Entered {
    pub entry_ids: Vec<i64>,
    /// Points spent.
    pub points: i64,
    pub balance: i64,
    pub txn_id: i64,
}

/// Why entries could not be bought. The API and the member page turn it into their
/// answer ([`From<DrawError> for ApiError`]); the page also tells a wrong code apart.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    #[error("draw not found")]
    NotFound,
    #[error("must be between 1 and 100")]
    EntriesOutOfRange,
    #[error("this draw is not open for entries")]
    NotOpen,
    #[error("a member may hold at most {max} entries; this member has {held}")]
    EntryLimit { max: i64, held: i64 },
    #[error("too many points")]
    TooManyPoints,
    #[error("these entries were already bought with this Idempotency-Key")]
    AlreadyBought,
    /// The one-time code was missing, wrong or used up.
    #[error(transparent)]
    Otp(#[from] OtpError),
    #[error(transparent)]
    Shop(#[from] ShopError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The draw's saved settings, or the shop's time zone, could not be read.
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<DrawError> for ApiError {
    fn from(e: DrawError) -> ApiError {
        let message = e.to_string();
        match e {
            DrawError::NotFound => ApiError::new(Code::NotFound, message),
            DrawError::EntriesOutOfRange | DrawError::TooManyPoints => {
                ApiError::invalid("entries", message)
            }
            DrawError::NotOpen => ApiError::new(Code::WrongState, message),
            DrawError::EntryLimit { .. } => ApiError::field(Code::LimitReached, "entries", message),
            DrawError::AlreadyBought => ApiError::new(Code::IdempotencyKeyReused, message),
            DrawError::Otp(e) => e.into(),
            DrawError::Shop(e) => e.into(),
            DrawError::Ledger(e) => e.into(),
            DrawError::Unreadable(e) => ApiError::internal(e),
            DrawError::Db(e) => e.into(),
        }
    }
}

/// Buy entries for a member (the API and the member page): checks the draw is open,
/// the one-time code, the per-member cap; debits the points and records the entries in
/// one transaction under the member's lock.
#[allow(clippy::too_many_arguments)]
pub async fn enter(
    db: &crate::store::Db,
    tenant: i64,
    id: i64,
    member_id: i64,
    entries: i64,
    otp: Option<&OtpProof>,
    idem_key: String,
    actor: ActorRef<'_>,
    meta: &crate::audit::RequestMeta,
    now: Timestamp,
) -> Result<Entered, DrawError> {
    let row = store::get(db, tenant, id)
        .await?
        .ok_or(DrawError::NotFound)?;
    let spec: DrawSpec =
        serde_json::from_str(&row.spec).map_err(|e| DrawError::Unreadable(e.to_string()))?;
    if !(1..=100).contains(&entries) {
        return Err(DrawError::EntriesOutOfRange);
    }
    if !spec.takes_entries(row.drawn_at.is_some(), now) {
        return Err(DrawError::NotOpen);
    }
    let proof = crate::otp::require(db, tenant, member_id, otp).await?;
    let settings = crate::ledger::settings(db, tenant).await?;
    let tz = crate::tenants::time_zone(db, tenant).await?;
    let mut tx = db.begin().await?;
    crate::ledger::lock_member(&mut tx, tenant, member_id, Currency::Points).await?;
    if let Some(max) = spec.max_entries_per_member {
        let held = store::member_entries(&mut tx, tenant, id, member_id).await?;
        if held + entries > max {
            return Err(DrawError::EntryLimit { max, held });
        }
    }
    let points = spec
        .entry_cost
        .checked_mul(entries)
        .filter(|p| *p <= MAX_AMOUNT)
        .ok_or(DrawError::TooManyPoints)?;
    let posting = Posting {
        amount: crate::money::Points::new(points),
        idem_key,
        request_hash: format!("draw|{id}|{member_id}|{entries}"),
        reason: Some(format!("lucky draw: {}", spec.name)),
        actor_kind: actor.kind.to_string(),
        actor_id: actor.id,
        details: serde_json::json!({"draw_id": id, "entries": entries}),
        ..Posting::blank(tenant, member_id, Kind::Redeem)
    };
    let posted = crate::ledger::post(
        &mut tx,
        &posting,
        crate::ledger::ShopRules::new(&settings, &tz),
    )
    .await?;
    if posted.replayed {
        return Err(DrawError::AlreadyBought);
    }
    let entry_ids =
        store::add_entries(&mut tx, tenant, id, member_id, posted.txn_id, entries).await?;
    if let Some(p) = &proof {
        crate::otp::consume(&mut tx, tenant, p).await?;
    }
    audit::record_as(
        &mut tx,
        tenant,
        actor,
        meta,
        Change::new("draw.entered", "draw", id).details(serde_json::json!({"member_id": member_id, "entries": entry_ids, "points": points, "txn_id": posted.txn_id})),
    )
    .await?;
    tx.commit().await?;
    Ok(Entered {
        entry_ids,
        points,
        balance: posted.balance.get(),
        txn_id: posted.txn_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entries(holders: &[u8]) -> Vec<ProofEntry> {
        holders
            .iter()
            .enumerate()
            .map(|(i, h)| ProofEntry {
                entry_id: 100 + i as i64,
                holder: format!("h{h}"),
            })
            .collect()
    }

    #[test]
    fn a_tampered_seed_or_winner_list_fails_verification() {
        let (seed, seed_hash) = new_seed();
        let list = entries(&[1, 1, 2, 3, 3, 3, 4]);
        let winners = pick_winners(&seed, &list, 2);
        let mut proof = Proof {
            draw_id: 1,
            name: "d".into(),
            seed_hash,
            seed: Some(seed.clone()),
            winners_count: 2,
            entries: list,
            winners,
            rule: RULE.into(),
        };
        assert_eq!(verify(&proof), Ok(()));
        proof.winners.reverse();
        assert!(verify(&proof).is_err(), "order matters");
        proof.winners.reverse();
        proof.seed = Some(new_seed().0);
        assert!(verify(&proof).unwrap_err().contains("hash"));
        proof.seed = None;
        assert!(verify(&proof).is_err());
    }

    proptest! {
        #[test]
        fn winners_are_distinct_holders_and_depend_only_on_seed_and_entries(holders in proptest::collection::vec(0u8..20, 0..60), count in 0usize..10, seed in "[0-9a-f]{64}") {
            let list = entries(&holders);
            let w = pick_winners(&seed, &list, count);
            let distinct: std::collections::HashSet<_> = holders.iter().collect();
            prop_assert_eq!(w.len(), count.min(distinct.len()));
            let mut seen = std::collections::HashSet::new();
            for e in &w {
                prop_assert!(seen.insert(e.holder.clone()), "one prize per holder");
                prop_assert!(list.contains(e));
            }
            prop_assert_eq!(pick_winners(&seed, &list, count), w);
        }
    }
}
