//! Demo data: a Thai coffee chain with three branches and one login per role. Created
//! once; running `loyal demo` again reuses it.

use crate::audit::RequestMeta;
use crate::audit::{self, ActorRef, Change};
use crate::auth::{Role, secrets};
use crate::ledger;
use crate::ledger::model::{ExpiryPolicy, RoundUp};
use crate::members::consent::{AnswerOption, Channel, Question};
use crate::members::model::Phone;
use crate::members::store as members_store;
use crate::rules::model::{Condition, Day, EarningRules, LineItem, Multiplier, StampRule};
use crate::rules::store as rules_store;
use crate::staff::store as staff_store;
use crate::store::Db;
use crate::store::now_micros;
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

/// The demo's changes are audited as the system.
fn system() -> ActorRef<'static> {
    ActorRef {
        kind: "system",
        id: None,
        label: "loyal demo",
    }
}

/// Create the demo shop unless it exists. Every change is audited as the system.
pub async fn seed(db: &Db) -> anyhow::Result<DemoLogins> {
    if tenant_store::find_tenant_by_slug(db, SLUG).await?.is_some() {
        return Ok(logins());
    }
    let hash = tokio::task::spawn_blocking(|| secrets::hash_password(PASSWORD)).await?;
    let meta = RequestMeta {
        request_id: "demo-seed".into(),
        ip: "127.0.0.1".into(),
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
            contact_phone: None,
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
    let rules = demo_rules();
    ledger::save_settings(&mut tx, tenant_id, &demo_ledger_settings()).await?;
    rules_store::save(&mut tx, tenant_id, &rules).await?;
    audit::record_as(
        &mut tx,
        tenant_id,
        system(),
        &meta,
        Change::new("rules.earning_changed", "tenant", tenant_id),
    )
    .await?;
    let form = crate::members::consent::SignupFormInput {
        terms: "สมาชิกบ้านกาแฟรับ 1 คะแนนทุกการใช้จ่าย 25 บาท คะแนนมีอายุ 24 เดือน / Members earn 1 point per 25 THB; points expire after 24 months.".into(),
        privacy: "เราเก็บเบอร์โทรและประวัติการซื้อเพื่อให้บริการบัตรสะสมแต้ม / We keep your phone number and purchases to run your points card.".into(),
        marketing_channels: vec![Channel::Line, Channel::Sms, Channel::Email],
        questions: vec![Question {
            id: "age".into(),
            label: "ช่วงอายุ / Age".into(),
            required: false,
            options: vec![
                AnswerOption { value: "under-25".into(), label: "< 25".into(), tags: vec!["young".into()] },
                AnswerOption { value: "25-40".into(), label: "25-40".into(), tags: vec!["working-age".into()] },
                AnswerOption { value: "over-40".into(), label: "> 40".into(), tags: vec!["over-40".into()] },
            ],
        }],
    };
    crate::members::consent::save_form(&mut tx, db, tenant_id, &form).await?;
    crate::store::docs::save(
        &mut tx,
        tenant_id,
        crate::tiers::store::PROGRAM_DOC,
        &demo_tiers(),
    )
    .await?;
    // Commit the rules first: enrolment reads them (welcome points) like any later request.
    tx.commit().await?;
    let mut tx = db.begin().await?;
    let mut members = Vec::new();
    for (i, (first, last)) in MEMBERS.iter().enumerate() {
        let phone = parse(Phone::parse(&format!("08100010{i:02}")))?;
        let new = members_store::NewMember {
            phone: &phone,
            first_name: first,
            last_name: last,
            email: None,
            join_branch_id: Some(branch_ids[i % 3]),
        };
        let id = members_store::insert(&mut tx, tenant_id, new).await?;
        // Member 0 has a birthday today (Bangkok), so the birthday bonus shows at once.
        let today = jiff::Zoned::now()
            .with_time_zone(jiff::tz::TimeZone::get("Asia/Bangkok")?)
            .date();
        let birthday = if i == 0 {
            format!("1992-{:02}-{:02}", today.month(), today.day())
        } else {
            format!("19{}-0{}-1{}", 80 + i, 1 + i % 9, i % 10)
        };
        let profile = members_store::ProfileChanges {
            birthday: Some(birthday),
            tags: Some(vec![if i % 3 == 0 {
                "vip".into()
            } else {
                "regular".into()
            }]),
            ..Default::default()
        };
        members_store::update(&mut tx, tenant_id, id, &profile).await?;
        audit::record_as(
            &mut tx,
            tenant_id,
            system(),
            &meta,
            Change::new("member.created", "member", id),
        )
        .await?;
        crate::earning::grant_welcome(&mut tx, db, tenant_id, id, now_micros())
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        members.push(id);
    }
    tx.commit().await?;
    seed_purchases(db, tenant_id, &members, &branch_ids, &meta).await?;
    seed_rewards(db, tenant_id, &meta).await?;
    Ok(logins())
}

/// Five levels by points earned in the calendar year; higher levels earn more.
fn demo_tiers() -> crate::tiers::model::TierProgram {
    use crate::tiers::model::{Downgrade, Level, Metric, TierProgram, Window};
    let level =
        |code: &str, name: &str, en: &str, threshold: i64, earn_percent: u32, benefit: &str| {
            Level {
                code: code.into(),
                name: name.into(),
                name_en: Some(en.into()),
                threshold,
                earn_percent,
                benefits: if benefit.is_empty() {
                    vec![]
                } else {
                    vec![benefit.into()]
                },
            }
        };
    TierProgram {
        enabled: true,
        metric: Metric::PointsEarned,
        window: Window::CalendarYear,
        downgrade: Downgrade::OneStep,
        levels: vec![
            level("member", "สมาชิก", "Member", 0, 100, ""),
            level(
                "silver",
                "ซิลเวอร์",
                "Silver",
                50,
                110,
                "อัปไซซ์ฟรีเดือนละครั้ง / free upsize once a month",
            ),
            level("gold", "โกลด์", "Gold", 150, 125, "เค้กวันเกิด / birthday cake"),
            level(
                "platinum",
                "แพลทินัม",
                "Platinum",
                400,
                150,
                "เครื่องดื่มฟรีทุกเดือน / a free drink every month",
            ),
            level(
                "diamond",
                "ไดมอนด์",
                "Diamond",
                1000,
                200,
                "ส่วนลด 10% ทุกบิล / 10% off every bill",
            ),
        ],
    }
}

/// A small catalog (one reward of each kind), a code pool and this month's lucky draw.
async fn seed_rewards(db: &Db, tenant_id: i64, meta: &RequestMeta) -> anyhow::Result<()> {
    let spec = |v: serde_json::Value| -> anyhow::Result<crate::rewards::model::RewardSpec> {
        Ok(serde_json::from_value(v)?)
    };
    let rewards = [
        spec(
            serde_json::json!({"kind": "coupon", "category": "drinks", "name": "ลาเต้ฟรี 1 แก้ว", "name_en": "A free latte",
            "points_cost": 80, "period_limit": {"count": 1, "per": "day"}, "use_within_days": 14}),
        )?,
        spec(
            serde_json::json!({"kind": "voucher", "category": "discounts", "name": "ส่วนลด 50 บาท", "name_en": "50 THB off",
            "points_cost": 150, "value_satang": 5000}),
        )?,
        spec(
            serde_json::json!({"kind": "shipped", "category": "premium", "name": "แก้วเก็บความเย็นบ้านกาแฟ", "name_en": "Baan Kafe tumbler",
            "points_cost": 400, "stock": 20, "per_member_limit": 2}),
        )?,
        spec(
            serde_json::json!({"kind": "digital_code", "category": "partners", "name": "คูปอง Grab Food 100 บาท", "name_en": "Grab Food 100 THB",
            "points_cost": 300}),
        )?,
        spec(
            serde_json::json!({"kind": "coupon", "category": "vip", "name": "เค้กวันเกิด", "name_en": "Birthday cake (Gold and up)",
            "points_cost": 120, "tiers": ["gold", "platinum", "diamond"], "tier_prices": {"diamond": 60}}),
        )?,
    ];
    let mut tx = db.begin().await?;
    for r in &rewards {
        let id = crate::rewards::store::create(&mut tx, tenant_id, r).await?;
        if r.kind == crate::rewards::model::RewardKind::DigitalCode {
            let codes: Vec<String> = (1..=5).map(|i| format!("GRAB-DEMO-{i:04}")).collect();
            crate::rewards::store::add_codes(&mut tx, tenant_id, id, &codes).await?;
        }
        audit::record_as(
            &mut tx,
            tenant_id,
            system(),
            meta,
            Change::new("reward.created", "reward", id),
        )
        .await?;
    }
    let now = jiff::Timestamp::now();
    let tz = jiff::tz::TimeZone::get("Asia/Bangkok")?;
    let month_end = now
        .to_zoned(tz.clone())
        .date()
        .last_of_month()
        .tomorrow()?
        .to_zoned(tz)?
        .timestamp();
    let draw = crate::draws::DrawSpec {
        name: "จับรางวัล iPhone ประจำเดือน / Monthly iPhone draw".into(),
        description: "50 points per entry, up to 10 entries per member".into(),
        entry_cost: 50,
        max_entries_per_member: Some(10),
        winners: 1,
        opens_at: now - jiff::SignedDuration::from_hours(24),
        closes_at: month_end,
    };
    let (seed, seed_hash) = crate::draws::new_seed();
    let id = crate::draws::store::create(
        &mut tx,
        tenant_id,
        &serde_json::to_string(&draw)?,
        &seed,
        &seed_hash,
    )
    .await?;
    audit::record_as(
        &mut tx,
        tenant_id,
        system(),
        meta,
        Change::new("draw.created", "draw", id)
            .details(serde_json::json!({"seed_hash": seed_hash})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

const MEMBERS: &[(&str, &str)] = &[
    ("สมหญิง", "ใจงาม"),
    ("Nattapong", "Srisuk"),
    ("ปิยะ", "ทองดี"),
    ("Kanokwan", "Chaiyaporn"),
    ("อนันต์", "มั่นคง"),
    ("Siriporn", "Wongsa"),
    ("ธนา", "รุ่งเรือง"),
    ("Malee", "Boonmee"),
    ("วรรณา", "สุขใจ"),
    ("Somsak", "Jaidee"),
    ("ชัยวัฒน์", "แก้วมณี"),
    ("Araya", "Phromma"),
];

/// 24-month expiry rounded to month end, 1 point per 25 THB, 20 welcome points; a point
/// valued at 33 satang (the 50 THB voucher costs 150 points).
fn demo_ledger_settings() -> ledger::LedgerSettings {
    ledger::LedgerSettings {
        expiry: ExpiryPolicy::Rolling {
            months: 24,
            round_up: RoundUp::MonthEnd,
        },
        welcome_points: 20,
        point_value_satang: 33,
        ..Default::default()
    }
}

/// Double points at weekends, triple on coffee beans, and a coffee stamp card.
fn demo_rules() -> EarningRules {
    EarningRules {
        multipliers: vec![
            Multiplier {
                name: "Double points weekend".into(),
                percent: 200,
                when: Condition::Days {
                    days: vec![Day::Sat, Day::Sun],
                    from: None,
                    until: None,
                },
            },
            Multiplier {
                name: "Triple points on beans".into(),
                percent: 300,
                when: Condition::Items {
                    skus: vec![],
                    categories: vec!["beans".into()],
                },
            },
        ],
        cap_per_bill: Some(500),
        cap_per_day: None,
        birthday_bonus: 50,
        stamps: vec![StampRule {
            name: "Coffee card: 10 stamps = 1 free coffee".into(),
            skus: vec![],
            categories: vec!["coffee".into()],
            stamps_per_item: 1,
        }],
    }
}

const MENU: &[(&str, &str, &str, i64)] = &[
    ("LATTE", "ลาเต้", "coffee", 6_500),
    ("AMERICANO", "อเมริกาโน่", "coffee", 5_500),
    ("THAI-TEA", "ชาไทย", "tea", 6_000),
    ("CROISSANT", "ครัวซองต์", "bakery", 7_500),
    ("BEANS-250G", "เมล็ดกาแฟ 250 ก.", "beans", 42_000),
];

/// A few weeks of purchases, deterministic, through the same code as the API.
async fn seed_purchases(
    db: &Db,
    tenant_id: i64,
    members: &[i64],
    branches: &[i64],
    meta: &RequestMeta,
) -> anyhow::Result<()> {
    let now = now_micros();
    let mut n: u64 = 7;
    for day in (1..=45).rev() {
        for slot in 0..3 {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let member = members[(n >> 33) as usize % members.len()];
            let lines = 1 + (n >> 40) as usize % 3;
            let items: Vec<LineItem> = (0..lines)
                .map(|k| {
                    let (sku, name, category, price) =
                        MENU[((n >> (20 + k * 3)) as usize + k) % MENU.len()];
                    LineItem {
                        sku: sku.into(),
                        name: Some(name.into()),
                        category: Some(category.into()),
                        quantity: 1 + ((n >> (10 + k)) % 2) as i64,
                        unit_price_satang: price,
                    }
                })
                .collect();
            let amount = items.iter().map(LineItem::total).sum();
            let purchase = crate::earning::NewPurchase {
                tenant_id,
                member_id: member,
                amount_satang: amount,
                receipt: format!("DEMO-{day:02}-{slot}"),
                branch_id: Some(branches[(n >> 50) as usize % branches.len()]),
                occurred_at: Some(now - day * 86_400_000_000 + slot * 3 * 3_600_000_000),
                items,
                dry_run: false,
            };
            let input = crate::earning::PurchaseInput::new(purchase, now)
                .map_err(|e| anyhow::anyhow!("demo purchase {}: {e}", e.field()))?;
            let actor = ActorRef {
                kind: "system",
                id: None,
                label: "loyal demo",
            };
            crate::earning::record_purchase(db, input, actor, meta)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
        }
    }
    Ok(())
}
