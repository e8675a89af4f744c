//! The only SQL of staff and invitations.

use serde::Serialize;

use crate::auth::Role;
use crate::store::{Db, Tx, now_micros};
use crate::{ids, on_db, on_tx};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StaffMember {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    /// Branches this person works at; empty means all branches.
    pub branch_ids: Vec<i64>,
}

#[derive(sqlx::FromRow)]
struct StaffRow {
    id: i64,
    email: String,
    name: String,
    role: String,
    active: bool,
}

/// A staff row with what login needs.
#[derive(sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub password_hash: String,
}

pub async fn insert_staff(
    tx: &mut Tx,
    tenant_id: i64,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
    branch_ids: &[i64],
) -> sqlx::Result<i64> {
    let id = ids::next_id();
    let now = now_micros();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO staff (tenant_id, id, email, name, role, password_hash, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7)")
        .bind(tenant_id).bind(id).bind(email).bind(name).bind(role.as_str()).bind(password_hash).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    set_branches(tx, tenant_id, id, branch_ids).await?;
    Ok(id)
}

pub async fn set_branches(
    tx: &mut Tx,
    tenant_id: i64,
    staff_id: i64,
    branch_ids: &[i64],
) -> sqlx::Result<()> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM staff_branches WHERE tenant_id = $1 AND staff_id = $2")
            .bind(tenant_id).bind(staff_id).execute(&mut *c).await.map(|r| r.rows_affected())?;
        for b in branch_ids {
            sqlx::query("INSERT INTO staff_branches (tenant_id, staff_id, branch_id) VALUES ($1, $2, $3)")
                .bind(tenant_id).bind(staff_id).bind(b).execute(&mut *c).await.map(|r| r.rows_affected())?;
        }
        Ok(())
    })
}

/// Staff rows with their branches, read in one query.
async fn hydrate(db: &Db, tenant_id: i64, rows: Vec<StaffRow>) -> sqlx::Result<Vec<StaffMember>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let branches: Vec<(i64, i64)> = crate::store::children(
        db,
        "staff_branches",
        "staff_id",
        "branch_id",
        tenant_id,
        &ids,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| StaffMember {
            branch_ids: branches
                .iter()
                .filter(|(owner, _)| *owner == row.id)
                .map(|(_, b)| *b)
                .collect(),
            id: row.id,
            email: row.email,
            name: row.name,
            role: row.role.parse().unwrap_or(Role::Cashier),
            active: row.active,
        })
        .collect())
}

pub async fn get_staff(db: &Db, tenant_id: i64, id: i64) -> sqlx::Result<Option<StaffMember>> {
    let row: Option<StaffRow> = on_db!(db, pool => sqlx::query_as(
        "SELECT id, email, name, role, active FROM staff WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).fetch_optional(pool).await)?;
    Ok(hydrate(db, tenant_id, row.into_iter().collect())
        .await?
        .pop())
}

pub async fn list_staff(
    db: &Db,
    tenant_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<StaffMember>> {
    let rows: Vec<StaffRow> = on_db!(db, pool => sqlx::query_as(
        "SELECT id, email, name, role, active FROM staff WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
        .bind(tenant_id).bind(before_id).bind(limit + 1).fetch_all(pool).await)?;
    hydrate(db, tenant_id, rows).await
}

pub async fn find_credentials(
    db: &Db,
    tenant_id: i64,
    email: &str,
) -> sqlx::Result<Option<Credentials>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT id, email, name, role, active, password_hash FROM staff WHERE tenant_id = $1 AND email = $2")
        .bind(tenant_id).bind(email).fetch_optional(pool).await)
}

pub async fn email_taken(db: &Db, tenant_id: i64, email: &str) -> sqlx::Result<bool> {
    Ok(find_credentials(db, tenant_id, email).await?.is_some())
}

pub async fn update_staff(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    name: Option<&str>,
    role: Option<Role>,
    active: Option<bool>,
) -> sqlx::Result<()> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE staff SET name = COALESCE($3, name), role = COALESCE($4, role), active = COALESCE($5, active), updated_at = $6
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).bind(name).bind(role.map(|r| r.as_str())).bind(active).bind(now_micros())
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Active owners other than `except` (to keep at least one).
pub async fn other_active_owners(tx: &mut Tx, tenant_id: i64, except: i64) -> sqlx::Result<i64> {
    let (n,): (i64,) = on_tx!(tx, c => sqlx::query_as(
        "SELECT COUNT(*) FROM staff WHERE tenant_id = $1 AND id <> $2 AND role = 'owner' AND active = TRUE")
        .bind(tenant_id).bind(except).fetch_one(c).await)?;
    Ok(n)
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub branch_ids: Vec<i64>,
    pub invited_by: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
}

#[derive(sqlx::FromRow)]
pub struct InvitationRow {
    pub tenant_id: i64,
    pub id: i64,
    pub email: String,
    pub role: String,
    pub branch_ids: String,
    pub invited_by: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl InvitationRow {
    pub fn status(&self, now: i64) -> &'static str {
        if self.accepted_at.is_some() {
            "accepted"
        } else if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "pending"
        }
    }

    pub fn into_api(self) -> Invitation {
        Invitation {
            status: self.status(now_micros()).into(),
            id: self.id,
            email: self.email,
            role: self.role.parse().unwrap_or(Role::Cashier),
            branch_ids: serde_json::from_str(&self.branch_ids).unwrap_or_default(),
            invited_by: self.invited_by,
            created_at: crate::types::timestamp(self.created_at),
            expires_at: crate::types::timestamp(self.expires_at),
        }
    }
}

const INVITATION_COLUMNS: &str = "tenant_id, id, email, role, branch_ids, invited_by, created_at, expires_at, accepted_at, revoked_at";

pub struct NewInvitation<'a> {
    pub tenant_id: i64,
    pub token_hash: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub branch_ids: &'a [i64],
    pub invited_by: i64,
    pub expires_at: i64,
}

pub async fn insert_invitation(tx: &mut Tx, inv: NewInvitation<'_>) -> sqlx::Result<i64> {
    let id = ids::next_id();
    let branches = serde_json::to_string(inv.branch_ids).unwrap_or_else(|_| "[]".into());
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO invitations (tenant_id, id, token_hash, email, role, branch_ids, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(inv.tenant_id).bind(id).bind(inv.token_hash).bind(inv.email).bind(inv.role.as_str())
        .bind(&branches).bind(inv.invited_by).bind(now_micros()).bind(inv.expires_at)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

pub async fn list_invitations(
    db: &Db,
    tenant_id: i64,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<InvitationRow>> {
    let sql = format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    );
    on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(before_id).bind(limit + 1).fetch_all(pool).await)
}

pub async fn get_invitation(
    db: &Db,
    tenant_id: i64,
    id: i64,
) -> sqlx::Result<Option<InvitationRow>> {
    let sql =
        format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND id = $2");
    on_db!(db, pool => sqlx::query_as(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)
}

pub async fn find_invitation_by_token(
    db: &Db,
    token_hash: &str,
) -> sqlx::Result<Option<InvitationRow>> {
    let sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1");
    on_db!(db, pool => sqlx::query_as(&sql).bind(token_hash).fetch_optional(pool).await)
}

/// Mark a pending invitation accepted; false if it was not pending (already used,
/// revoked or expired) — the check and the change are one statement, so two
/// simultaneous acceptances cannot both win.
pub async fn claim_invitation(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    staff_id: i64,
) -> sqlx::Result<bool> {
    let now = now_micros();
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE invitations SET accepted_at = $3, staff_id = $4
         WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3")
        .bind(tenant_id).bind(id).bind(now).bind(staff_id).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

pub async fn revoke_invitation(tx: &mut Tx, tenant_id: i64, id: i64) -> sqlx::Result<bool> {
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE invitations SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL")
        .bind(tenant_id).bind(id).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// A staff member's credentials by id.
pub async fn credentials_by_id(
    db: &Db,
    tenant_id: i64,
    id: i64,
) -> sqlx::Result<Option<Credentials>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT id, email, name, role, active, password_hash FROM staff WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).fetch_optional(pool).await)
}

pub async fn set_password_hash(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    password_hash: &str,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query("UPDATE staff SET password_hash = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id).bind(id).bind(password_hash).bind(now_micros()).execute(c).await.map(|r| r.rows_affected()))
}

/// A password reset link as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PasswordReset {
    pub tenant_id: i64,
    pub id: i64,
    pub staff_id: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn insert_password_reset(
    tx: &mut Tx,
    tenant_id: i64,
    staff_id: i64,
    token_hash: &str,
    made_by: i64,
    expires_at: i64,
) -> sqlx::Result<i64> {
    let id = ids::next_id();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO password_resets (tenant_id, id, staff_id, token_hash, made_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(tenant_id).bind(id).bind(staff_id).bind(token_hash).bind(made_by).bind(now_micros()).bind(expires_at)
        .execute(c).await.map(|r| r.rows_affected()))?;
    Ok(id)
}

pub async fn password_reset_by_token(
    db: &Db,
    token_hash: &str,
) -> sqlx::Result<Option<PasswordReset>> {
    on_db!(db, pool => sqlx::query_as(
        "SELECT tenant_id, id, staff_id, expires_at, used_at FROM password_resets WHERE token_hash = $1")
        .bind(token_hash).fetch_optional(pool).await)
}

/// Mark a reset link used; false when it was used (or ended) already.
pub async fn use_password_reset(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    now: i64,
) -> sqlx::Result<bool> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE password_resets SET used_at = $3 WHERE tenant_id = $1 AND id = $2 AND used_at IS NULL AND expires_at > $3")
        .bind(tenant_id).bind(id).bind(now).execute(c).await.map(|r| r.rows_affected() == 1))
}

/// End a staff member's unused reset links (a new one replaces them).
pub async fn end_password_resets(
    tx: &mut Tx,
    tenant_id: i64,
    staff_id: i64,
    now: i64,
) -> sqlx::Result<u64> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE password_resets SET used_at = $3 WHERE tenant_id = $1 AND staff_id = $2 AND used_at IS NULL")
        .bind(tenant_id).bind(staff_id).bind(now).execute(c).await.map(|r| r.rows_affected()))
}
