//! Demo data: a Thai coffee chain with three branches and one login per role. Created
//! once; running `loyal demo` again reuses it.

use crate::audit::{self, ActorRef, Change};
use crate::auth::{Role, secrets};
use crate::config::Settings;
use crate::http::context::RequestMeta;
use crate::staff::store as staff_store;
use crate::store::Db;
use crate::tenants::model::{BranchCode, CurrencyCode, Language, ShopName, Slug, TimeZoneName};
use crate::tenants::store::{self as tenant_store, NewTenant};
use crate::types::Email;

pub const SLUG: &str = "baan-kafe";
pub const PASSWORD: &str = "demo-password-2026";
const SHOP: &str = "บ้านกาแฟ Baan Kafe";

fn parse<T>(r: Result<T, String>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!(e))
}

pub struct DemoLogins {
    pub shop_name: String,
    pub slug: String,
    pub password: String,
    pub staff: Vec<(String, String)>,
}

const BRANCHES: &[(&str, &str, &str)] = &[
    (
        "SIAM",
        "สาขาสยามสแควร์ Siam Square",
        "Rama I Rd, Pathum Wan, Bangkok 10330",
    ),
    (
        "NIMMAN",
        "สาขานิมมาน Chiang Mai Nimman",
        "Nimmanhaemin Rd, Mueang Chiang Mai 50200",
    ),
    (
        "OLDTOWN",
        "สาขาภูเก็ตเมืองเก่า Phuket Old Town",
        "Thalang Rd, Mueang Phuket 83000",
    ),
];

const STAFF: &[(Role, &str, &str)] = &[
    (Role::Owner, "owner@baan-kafe.test", "สมชาย ใจดี"),
    (Role::Admin, "admin@baan-kafe.test", "สุดา รักงาน"),
    (Role::Manager, "manager@baan-kafe.test", "วิชัย บริหาร"),
    (Role::Cashier, "cashier@baan-kafe.test", "มานี ขายดี"),
    (Role::Fulfilment, "fulfilment@baan-kafe.test", "ประยุทธ ส่งไว"),
    (Role::Analyst, "analyst@baan-kafe.test", "อรุณ วิเคราะห์"),
];

fn logins() -> DemoLogins {
    DemoLogins {
        shop_name: SHOP.into(),
        slug: SLUG.into(),
        password: PASSWORD.into(),
        staff: STAFF
            .iter()
            .map(|(r, e, _)| (r.as_str().to_string(), e.to_string()))
            .collect(),
    }
}

/// Create the demo shop unless it exists. Every change is audited as the system.
pub async fn seed(db: &Db, _settings: &Settings) -> anyhow::Result<DemoLogins> {
    if tenant_store::find_tenant_by_slug(db, SLUG).await?.is_some() {
        return Ok(logins());
    }
    let hash = tokio::task::spawn_blocking(|| secrets::hash_password(PASSWORD)).await?;
    let meta = RequestMeta {
        request_id: "demo-seed".into(),
        ip: "127.0.0.1".into(),
    };
    let system = || ActorRef {
        kind: "system",
        id: None,
        label: "loyal demo",
    };
    let mut tx = db.begin().await?;
    let tenant_id = tenant_store::insert_tenant(
        &mut tx,
        NewTenant {
            slug: &parse(Slug::parse(SLUG))?,
            name: &parse(ShopName::parse(SHOP))?,
            currency: &parse(CurrencyCode::parse("THB"))?,
            time_zone: &parse(TimeZoneName::parse("Asia/Bangkok"))?,
            language: Language::Th,
        },
    )
    .await?;
    audit::record_as(
        &mut tx,
        tenant_id,
        system(),
        &meta,
        Change::new("tenant.created", "tenant", tenant_id),
    )
    .await?;
    let mut branch_ids = Vec::new();
    for (code, name, address) in BRANCHES {
        let id = tenant_store::insert_branch(
            &mut tx,
            tenant_id,
            &parse(BranchCode::parse(code))?,
            name,
            address,
        )
        .await?;
        audit::record_as(
            &mut tx,
            tenant_id,
            system(),
            &meta,
            Change::new("branch.created", "branch", id),
        )
        .await?;
        branch_ids.push(id);
    }
    for (role, email, name) in STAFF {
        let email = parse(Email::parse(email))?;
        // Counter staff work at the first branch; the others at all branches.
        let branches: &[i64] = if matches!(role, Role::Cashier | Role::Manager) {
            &branch_ids[..1]
        } else {
            &[]
        };
        let id = staff_store::insert_staff(
            &mut tx,
            tenant_id,
            email.as_str(),
            name,
            *role,
            &hash,
            branches,
        )
        .await?;
        audit::record_as(
            &mut tx,
            tenant_id,
            system(),
            &meta,
            Change::new("staff.created", "staff", id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(logins())
}
