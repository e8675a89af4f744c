//! `loyal bench scale`: import, lookups, search, expiry, verify and memory at any size, in
//! one run.
//!
//! 1. Generates a dataset straight into a fresh database with the ledger's bulk writer
//!    ([`crate::ledger::post_credits_to_new_members`]): N members with unique Thai
//!    mobile numbers and Thai names, each with a purchase history whose length follows a
//!    heavy-tailed (Lomax) distribution, spread over the last two years, in a shop whose
//!    points expire after 12 months, so about half the lots are due for expiry.
//! 2. Imports a CSV of new members through the importer the CLI and the API use: rows/s.
//! 3. Starts `loyal serve` on the database and looks members up by phone over HTTP, as a
//!    point of sale does: p50/p99; then reads the first page of each found member's
//!    ledger history, as the till and the member page show it: p50/p99.
//! 4. Runs the expiry over every due lot: seconds.
//! 5. Checks the whole ledger with `verify`.
//! 6. Reports peak memory: of the server (a `loyal serve` process started for step 3) and
//!    of the bench process (generator, importer, expiry, verify).

use std::io::Write;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::auth::permissions::Permission;
use crate::ledger::{Kind, Posting};
use crate::store::Val::{Int, OptInt, Text};
use crate::store::{Db, Tx};

#[derive(Clone)]
pub struct ScaleBench {
    pub database_url: Option<String>,
    pub members: u64,
    /// Mean purchases per member (each is one ledger transaction, two entries, one lot).
    pub purchases: f64,
    pub import_rows: u64,
    pub lookups: usize,
    /// Stop after generating the dataset.
    pub dataset_only: bool,
    /// The database already holds a dataset from an earlier run (`dataset_only`): measure
    /// on it instead of generating one. Its members are numbered on from the last.
    pub existing: bool,
    /// The `loyal` binary to run as the server for the lookups.
    pub binary: std::path::PathBuf,
}

/// Searches by name of each kind in a run, at most.
const NAME_SEARCHES: usize = 200;

/// Members written per transaction while generating.
const CHUNK: u64 = 5_000;
const DAY_MICROS: i64 = 86_400_000_000;

/// Common first names (a search by one of them finds thousands).
const FIRST_NAMES: &[&str] = &[
    "สมชาย",
    "สมหญิง",
    "มาลี",
    "สมศักดิ์",
    "วิชัย",
    "สุดา",
    "ประเสริฐ",
    "นภา",
    "ธนา",
    "กาญจนา",
    "อนันต์",
    "พรทิพย์",
    "Somchai",
    "Malee",
    "Niran",
    "Kannika",
];

/// A name composed of Thai syllables (consonant, vowel, final consonant; no tone marks),
/// `syllables` of them.
fn composed_name(rng: &mut impl Rng, syllables: std::ops::RangeInclusive<usize>) -> String {
    const CONSONANTS: [char; 28] = [
        'ก', 'ข', 'ค', 'ง', 'จ', 'ช', 'ซ', 'ด', 'ต', 'ถ', 'ท', 'น', 'บ', 'ป', 'ผ', 'พ', 'ฟ', 'ม',
        'ย', 'ร', 'ล', 'ว', 'ศ', 'ส', 'ห', 'อ', 'ฮ', 'ณ',
    ];
    const AFTER: [&str; 8] = ["ะ", "า", "ิ", "ี", "ุ", "ู", "ั", ""];
    const BEFORE: [&str; 3] = ["ไ", "เ", "โ"];
    let mut name = String::new();
    for _ in 0..rng.random_range(syllables) {
        let c = CONSONANTS[rng.random_range(0..CONSONANTS.len())];
        let end = CONSONANTS[rng.random_range(0..CONSONANTS.len())];
        if rng.random_range(0..4) == 0 {
            name.push_str(BEFORE[rng.random_range(0..BEFORE.len())]);
            name.push(c);
        } else {
            name.push(c);
            name.push_str(AFTER[rng.random_range(0..AFTER.len())]);
        }
        name.push(end);
    }
    name
}

/// A member's (first name, last name) as Thai names are spread: most people share one of
/// a few common first names (7 in 10 here, from [`FIRST_NAMES`]), the rest have rarer
/// ones; and a surname belongs to one family by law, so nearly every member's differs.
fn member_name(rng: &mut impl Rng) -> (String, String) {
    let first = if rng.random_range(0..10) < 7 {
        FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())].to_string()
    } else {
        composed_name(rng, 2..=3)
    };
    (first, composed_name(rng, 2..=4))
}

/// Thai mobile prefixes after +66 (06x where assigned, 08x, 09x).
const MOBILE_PREFIXES: [u64; 26] = [
    61, 62, 63, 64, 65, 66, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97,
    98, 99,
];

/// The `i`-th Thai mobile number, E.164 as Loyal stores phones. The 7 digits after the
/// prefix are a bijection of `i` (48,271 is prime to 10^7), so numbers are unique for
/// i < 260 million and look random.
pub fn thai_mobile(i: u64) -> String {
    let prefix = MOBILE_PREFIXES[(i % 26) as usize];
    let body = ((i / 26) * 48_271 + 12_345) % 10_000_000;
    format!("+66{prefix}{body:07}")
}

/// A member's number of purchases: Lomax (Pareto II) with shape 1.5 and the given mean,
/// capped at 100× the mean: about a quarter of members never bought, a few buy hundreds
/// of times.
fn purchase_count(rng: &mut impl Rng, mean: f64) -> u64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let scale = mean * 0.5; // Lomax mean = scale / (shape - 1)
    (scale * (u.powf(-1.0 / 1.5) - 1.0)).min(mean * 100.0) as u64
}

/// Peak resident memory (VmHWM, Linux) of a process: "self" or a pid.
pub(super) fn peak_memory_mib(process: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn per_second(n: u64, d: Duration) -> u64 {
    (n as f64 / d.as_secs_f64().max(1e-9)) as u64
}

/// The shop, branch and API key the dataset belongs to.
struct Shop {
    tenant_id: i64,
    branch_id: i64,
    api_key: String,
    settings: crate::ledger::LedgerSettings,
    tz: jiff::tz::TimeZone,
}

async fn create_shop(db: &Db) -> anyhow::Result<Shop> {
    use crate::tenants::model::{BranchCode, CurrencyCode, Language, ShopName, Slug, TimeZoneName};
    use crate::tenants::store::{NewTenant, insert_branch, insert_tenant};
    let bad = |e: String| anyhow::anyhow!(e);
    let mut tx = db.begin().await?;
    let tenant_id = insert_tenant(
        &mut tx,
        NewTenant {
            slug: &Slug::parse(&format!("scale{}", crate::ids::next_id() % 1_000_000))
                .map_err(bad)?,
            name: &ShopName::parse("Scale bench").map_err(bad)?,
            currency: &CurrencyCode::parse("THB").map_err(bad)?,
            time_zone: &TimeZoneName::parse("Asia/Bangkok").map_err(bad)?,
            language: Language::Th,
            contact_phone: None,
        },
    )
    .await?;
    let branch_id = insert_branch(
        &mut tx,
        tenant_id,
        &BranchCode::parse("HQ").map_err(bad)?,
        "Head office",
        "",
    )
    .await?;
    let settings = crate::ledger::LedgerSettings {
        expiry: crate::ledger::model::ExpiryPolicy::Rolling {
            months: 12,
            round_up: crate::ledger::model::RoundUp::None,
        },
        pending_days: 0,
        ..Default::default()
    };
    crate::ledger::save_settings(&mut tx, tenant_id, &settings).await?;
    let api_key = lookup_key(&mut tx, tenant_id).await?;
    tx.commit().await?;
    Ok(Shop {
        tenant_id,
        branch_id,
        api_key,
        settings,
        tz: jiff::tz::TimeZone::get("Asia/Bangkok")?,
    })
}

/// A new API key for the lookups by phone, made by an analyst of the bench's own (a
/// key acts for a person), who has no password and cannot sign in.
async fn lookup_key(tx: &mut Tx, tenant_id: i64) -> anyhow::Result<String> {
    let permissions = [Permission::MembersRead];
    let email = format!("bench-{}@scale.invalid", crate::ids::next_id());
    let analyst = crate::staff::store::insert_staff(
        tx,
        tenant_id,
        &email,
        "Scale bench",
        crate::auth::Role::Analyst,
        "",
        &[],
    )
    .await?;
    let (_, key) =
        crate::auth::api_keys::create(tx, tenant_id, "scale bench", &permissions, analyst, None)
            .await?;
    Ok(key)
}

/// The shop of a dataset generated earlier (the newest), with a new API key.
async fn find_shop(db: &Db) -> anyhow::Result<(Shop, u64)> {
    let (tenant_id, branch_id): (i64, i64) = crate::on_db!(db, pool => sqlx::query_as(
        "SELECT t.id, b.id FROM tenants t JOIN branches b ON b.tenant_id = t.id AND b.code = 'HQ' \
         WHERE t.name = 'Scale bench' ORDER BY t.id DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await)?
    .ok_or_else(|| {
        anyhow::anyhow!("no dataset of `bench scale --dataset-only` in this database")
    })?;
    let (members,): (i64,) = crate::on_db!(db, pool => sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM members WHERE tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_one(pool)
    .await)?;
    let settings = crate::ledger::settings(db, tenant_id).await?;
    let mut tx = db.begin().await?;
    let api_key = lookup_key(&mut tx, tenant_id).await?;
    tx.commit().await?;
    let shop = Shop {
        tenant_id,
        branch_id,
        api_key,
        settings,
        tz: jiff::tz::TimeZone::get("Asia/Bangkok")?,
    };
    Ok((shop, members as u64))
}

/// Members `from..to` with their purchase histories, in one transaction. Returns the
/// purchases written.
async fn generate_chunk(
    tx: &mut Tx,
    shop: &Shop,
    rng: &mut impl Rng,
    (from, to): (u64, u64),
    mean_purchases: f64,
    now: i64,
) -> anyhow::Result<u64> {
    let phones: Vec<String> = (from..to).map(thai_mobile).collect();
    let ids: Vec<i64> = (from..to).map(|_| crate::ids::next_id()).collect();
    let names: Vec<(String, String)> = ids.iter().map(|_| member_name(rng)).collect();
    let members: Vec<_> = phones
        .iter()
        .zip(&ids)
        .zip(&names)
        .map(|((phone, &id), (first, last))| {
            let joined = now - rng.random_range(730..1500) * DAY_MICROS;
            vec![
                Int(shop.tenant_id),
                Int(id),
                Text(phone),
                Text(first),
                Text(last),
                OptInt(Some(shop.branch_id)),
                Int(joined),
                Int(joined),
            ]
        })
        .collect();
    crate::members::store::insert_new_members(tx, &members).await?;
    let mut purchases = Vec::new();
    for &member in &ids {
        for _ in 0..purchase_count(rng, mean_purchases) {
            let bill: i64 = rng.random_range(4_000..300_000); // 40 to 3,000 baht
            let receipt = format!("G{}", crate::ids::next_id());
            purchases.push(Posting {
                amount: crate::money::Points::new((bill / 2_500).max(1)),
                request_hash: format!("{member}|{bill}|Some({})|", shop.branch_id),
                idem_key: crate::ledger::purchase_key(&receipt),
                receipt: Some(receipt),
                branch_id: Some(shop.branch_id),
                bill_satang: Some(crate::money::Satang::new(bill)),
                actor_kind: "system".into(),
                occurred_at: now - rng.random_range(0..730 * DAY_MICROS),
                ..Posting::blank(shop.tenant_id, member, Kind::Earn)
            });
        }
    }
    crate::ledger::post_credits_to_new_members(
        tx,
        &purchases,
        crate::ledger::ShopRules::new(&shop.settings, &shop.tz),
    )
    .await?;
    Ok(purchases.len() as u64)
}

/// Step 1: the members and their purchase histories, `CHUNK` members per transaction.
async fn generate(
    db: &Db,
    shop: &Shop,
    rng: &mut impl Rng,
    b: &ScaleBench,
    now: i64,
    report: &mut ScaleReport,
) -> anyhow::Result<()> {
    println!("generating {} members…", b.members);
    let started = Instant::now();
    let mut from = 0;
    while from < b.members {
        let to = (from + CHUNK).min(b.members);
        let mut tx = db.begin().await?;
        report.purchases +=
            generate_chunk(&mut tx, shop, rng, (from, to), b.purchases, now).await?;
        tx.commit().await?;
        from = to;
        if from % 100_000 == 0 || from == b.members {
            println!(
                "  {from} members, {} purchases, {:.0} s",
                report.purchases,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let generated = started.elapsed();
    report.ledger_entries = count(db, "ledger_entries").await?;
    report.lots = count(db, "lots").await?;
    // As an import does: PostgreSQL plans the next phases from statistics of these
    // tables, which autovacuum (when it runs at all) would gather only later.
    report.analyzed = db
        .refresh_statistics(&[
            ("members", b.members),
            ("ledger_txns", report.purchases),
            ("ledger_entries", report.ledger_entries as u64),
            ("lots", report.lots as u64),
            ("balances", b.members),
        ])
        .await?;
    if !report.analyzed.is_empty() {
        println!("analyzed: {}", report.analyzed.join(", "));
    }
    println!(
        "dataset: {} members, {} purchases, {} ledger entries, {} lots in {:.1} s ({} purchases/s)",
        b.members,
        report.purchases,
        report.ledger_entries,
        report.lots,
        generated.as_secs_f64(),
        per_second(report.purchases, generated)
    );
    Ok(())
}

/// Count rows of a table (for the report).
async fn count(db: &Db, table: &str) -> anyhow::Result<i64> {
    let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}");
    let (n,): (i64,) = crate::on_db!(db, pool => sqlx::query_as(&sql).fetch_one(pool).await)?;
    Ok(n)
}

/// What a scale run measured; the counts let a test check the run did what it says.
/// Phases not run (with `dataset_only`) stay at zero.
#[derive(Debug, Default)]
pub struct ScaleReport {
    pub members: u64,
    pub purchases: u64,
    pub ledger_entries: i64,
    pub lots: i64,
    /// Tables the generator had PostgreSQL analyze (none on SQLite).
    pub analyzed: Vec<&'static str>,
    pub import: crate::members::import::ImportCounts,
    /// How long the import took, from the file to the last commit.
    pub import_elapsed: Duration,
    pub lookups: usize,
    pub lookups_found: usize,
    pub lookup_p50: Duration,
    pub lookup_p99: Duration,
    /// First pages of the found members' ledger history read, and how many answered.
    pub history_pages: usize,
    pub history_answered: usize,
    pub history_p99: Duration,
    /// Searches by name of each kind: a first name thousands share (each should find
    /// members), and a name no member has (none should).
    pub name_searches: usize,
    pub common_names_found: usize,
    pub common_name_p99: Duration,
    pub unknown_names_found: usize,
    pub unknown_name_p99: Duration,
    /// Open lots past their expiry date before the expiry run, and after it.
    pub due_lots_before: i64,
    pub due_lots_after: i64,
    pub expired_lots: u64,
    pub expiry_elapsed: Duration,
    /// The expiry's longest transaction (how long a purchase could have waited on it).
    pub expiry_longest: Duration,
    pub drift: usize,
    /// Peak resident memory of the `loyal serve` process that answered the lookups.
    pub server_peak_mib: Option<u64>,
    /// Peak resident memory of the bench process (generator, importer, expiry, verify).
    pub peak_memory_mib: Option<u64>,
}

/// Open lots whose expiry date has passed at `now`.
async fn count_due_lots(db: &Db, now: i64) -> anyhow::Result<i64> {
    let sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM lots WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1";
    let (n,): (i64,) =
        crate::on_db!(db, pool => sqlx::query_as(sql).bind(now).fetch_one(pool).await)?;
    Ok(n)
}

/// Run the measurements; fails if `verify` finds drift or a generated member is not found
/// by phone.
pub async fn scale(b: ScaleBench) -> anyhow::Result<ScaleReport> {
    let tmp = super::tempfile_dir()?;
    let dir = tmp.path();
    let url = b
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/scale.db", dir.display()));
    let db = Db::open(&url, 16).await?;
    let now = crate::store::now_micros();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let (shop, members) = if b.existing {
        find_shop(&db).await?
    } else {
        (create_shop(&db).await?, b.members)
    };
    let mut report = ScaleReport {
        members,
        ..ScaleReport::default()
    };

    // 1. The dataset.
    if b.existing {
        report.ledger_entries = count(&db, "ledger_entries").await?;
        report.lots = count(&db, "lots").await?;
        println!(
            "dataset at {url}: {members} members, {} ledger entries, {} lots",
            report.ledger_entries, report.lots
        );
    } else {
        generate(&db, &shop, &mut rng, &b, now, &mut report).await?;
    }
    if b.dataset_only {
        println!("dataset kept at {url}");
        return Ok(report);
    }

    // 2. Import from CSV: new members (numbers after the dataset's), with opening balances.
    let csv = dir.join("import.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv)?);
        writeln!(f, "phone,full_name,points,gender,birthday,email")?;
        for i in report.members..report.members + b.import_rows {
            let phone = thai_mobile(i).replacen("+66", "0", 1);
            let (first, last) = member_name(&mut rng);
            let name = format!("{first} {last}");
            let points = rng.random_range(0..5_000);
            let gender = ["ชาย", "หญิง", ""][rng.random_range(0..3)];
            let birthday = format!(
                "{}-{:02}-{:02}",
                rng.random_range(1950..2008),
                rng.random_range(1..13),
                rng.random_range(1..29)
            );
            writeln!(f, "{phone},{name},{points},{gender},{birthday},")?;
        }
    }
    let target = crate::members::import::ImportTarget {
        tenant_id: shop.tenant_id,
        may_grant_points: true,
        branch_id: Some(shop.branch_id),
        actor_kind: "system",
        actor_id: None,
        actor_label: "scale bench".into(),
        meta: crate::audit::RequestMeta {
            request_id: "scale-bench".into(),
            ip: "local".into(),
        },
    };
    let started = Instant::now();
    report.import = crate::members::import::import_file(&db, &csv, &target, |_| {}, NoErrors)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let imported = started.elapsed();
    report.import_elapsed = imported;
    println!(
        "import: {} rows ({} imported, {} failed) in {:.1} s → {} rows/s; {} transactions, the longest {} ms",
        report.import.rows,
        report.import.imported,
        report.import.failed,
        imported.as_secs_f64(),
        per_second(report.import.rows, imported),
        report.import.transactions,
        report.import.longest_ms
    );

    // 3. Lookups by phone over HTTP, before the expiry: at 10M members the expiry runs
    // for the better part of an hour, and a run stopped during it still has these. The
    // server is a `loyal serve` process of its own, so its peak memory is its alone.
    let port = super::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut server = super::start_server(&b.binary, &url, dir, port)?;
    let http = reqwest::Client::new();
    let looked_up = async {
        super::wait_ready(&http, &base).await?;
        // One lookup first, not counted: it opens the client's connection and has the
        // server check the API key's hash once (then cached), as a till's first request
        // of the day does; counted, it was the p99 of a run of few lookups (~50 ms).
        super::lookups(&http, &base, &shop.api_key, std::iter::once(thai_mobile(0))).await?;
        let phones =
            (0..b.lookups).map(|_| thai_mobile(rng.random_range(0..report.members.max(1))));
        let (latencies, found) = super::lookups(&http, &base, &shop.api_key, phones).await?;
        // Then each found member's history, as the till shows it after the lookup.
        let history = super::history_pages(&http, &base, &shop.api_key, &found).await?;
        // Searches by name: a first name thousands share, and a name no member has (the
        // rarest: every member would be read if no index served it).
        let searches = b.lookups.min(NAME_SEARCHES);
        let common = (0..searches).map(|i| FIRST_NAMES[i % FIRST_NAMES.len()].to_string());
        let common = super::name_searches(&http, &base, &shop.api_key, common).await?;
        let nobody = (0..searches).map(|i| format!("ไม่มีชื่อนี้{i}"));
        let nobody = super::name_searches(&http, &base, &shop.api_key, nobody).await?;
        anyhow::Ok((latencies, found.len(), history, (common, nobody)))
    }
    .await;
    report.server_peak_mib = peak_memory_mib(&server.id().to_string());
    server.kill()?;
    server.wait()?;
    let (latencies, found, (history, answered), (common, nobody)) = looked_up?;
    report.lookups = b.lookups;
    report.lookups_found = found;
    report.lookup_p50 = super::percentile(&latencies, 0.50);
    report.lookup_p99 = super::percentile(&latencies, 0.99);
    report.history_pages = history.len();
    report.history_answered = answered;
    report.history_p99 = super::percentile(&history, 0.99);
    report.name_searches = common.0.len();
    report.common_names_found = common.1;
    report.common_name_p99 = super::percentile(&common.0, 0.99);
    report.unknown_names_found = nobody.1;
    report.unknown_name_p99 = super::percentile(&nobody.0, 0.99);
    println!(
        "lookup by phone over HTTP, 1 client, {} lookups ({} not found): p50 {}, p99 {}",
        b.lookups,
        b.lookups - found,
        super::ms(report.lookup_p50),
        super::ms(report.lookup_p99)
    );
    println!(
        "member history (first page) over HTTP, 1 client, {} members ({} failed): p50 {}, p99 {}",
        history.len(),
        history.len() - answered,
        super::ms(super::percentile(&history, 0.50)),
        super::ms(report.history_p99)
    );
    for (what, (latencies, found)) in [
        ("a shared first name", &common),
        ("a name no member has", &nobody),
    ] {
        println!(
            "search by {what} over HTTP, 1 client, {} searches ({found} found members): p50 {}, p99 {}",
            latencies.len(),
            super::ms(super::percentile(latencies, 0.50)),
            super::ms(super::percentile(latencies, 0.99))
        );
    }
    if let Some(mib) = report.server_peak_mib {
        println!("peak memory (VmHWM) of the server process: {mib} MiB");
    }

    // 4. Expiry over every due lot.
    report.due_lots_before = count_due_lots(&db, now).await?;
    println!("expiry: {} lots due…", report.due_lots_before);
    let started = Instant::now();
    let run = crate::ledger::run_expiry(&db, now).await?;
    let expiry = started.elapsed();
    report.expired_lots = run.lots;
    report.expiry_elapsed = expiry;
    report.expiry_longest = run.longest;
    report.due_lots_after = count_due_lots(&db, now).await?;
    println!(
        "expiry: {} lots ({} points) in {:.1} s → {} lots/s; {} transactions, the longest {} ms; {} due lots left",
        run.lots,
        run.points,
        expiry.as_secs_f64(),
        per_second(run.lots, expiry),
        run.batches,
        run.longest.as_millis(),
        report.due_lots_after
    );

    // 5. The whole ledger checked.
    let started = Instant::now();
    report.drift = crate::ledger::verify(&db).await?.len();
    println!(
        "verify: {} difference(s) in {:.1} s",
        report.drift,
        started.elapsed().as_secs_f64()
    );

    // 6. Peak memory.
    report.peak_memory_mib = peak_memory_mib("self");
    if let Some(mib) = report.peak_memory_mib {
        println!("peak memory (VmHWM) of the bench process: {mib} MiB");
    }
    // The CSV, the server's data directory and (without --database-url) the database.
    db.close().await;
    drop(tmp);
    // (A shared first name may have no holder in a shop of a few dozen members, so only
    // a name no member has that is found counts as a miss.)
    let misses = report.lookups - report.lookups_found
        + (report.history_pages - report.history_answered)
        + report.unknown_names_found;
    if report.drift == 0 && misses == 0 {
        Ok(report)
    } else {
        anyhow::bail!(
            "{} ledger differences, {misses} lookups failed",
            report.drift
        )
    }
}

struct NoErrors;

impl crate::members::import::AsyncErrorSink for NoErrors {
    async fn send(&mut self, errors: &[crate::members::import::RowError]) {
        for e in errors.iter().take(3) {
            eprintln!("import row {} {}: {}", e.row, e.column, e.reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_phones_are_valid_thai_mobiles_stored_as_loyal_stores_them_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for i in (0..3_000_000).step_by(997) {
            let phone = thai_mobile(i);
            let parsed = crate::members::model::Phone::parse(&phone).expect("a valid number");
            assert_eq!(parsed.as_str(), phone);
            assert!(seen.insert(phone));
        }
        let all: std::collections::HashSet<String> = (0..300_000).map(thai_mobile).collect();
        assert_eq!(all.len(), 300_000);
    }

    #[test]
    fn purchase_frequency_is_skewed_with_the_requested_mean() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let counts: Vec<u64> = (0..200_000)
            .map(|_| purchase_count(&mut rng, 10.0))
            .collect();
        let mean = counts.iter().sum::<u64>() as f64 / counts.len() as f64;
        let none = counts.iter().filter(|&&c| c == 0).count() as f64 / counts.len() as f64;
        let heavy = counts.iter().filter(|&&c| c >= 100).count();
        assert!((8.0..11.0).contains(&mean), "mean {mean}");
        assert!(
            (0.15..0.35).contains(&none),
            "share with no purchase {none}"
        );
        assert!(
            heavy > 100,
            "a heavy tail: {heavy} members with 100+ purchases"
        );
    }
}
