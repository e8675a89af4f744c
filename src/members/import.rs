//! Bulk import of existing members with their balances, from CSV or XLSX.
//!
//! Files are read and checked on a blocking thread and handed to the importer in batches
//! through a bounded channel, so memory does not grow with the file (but for the phones
//! seen, about 20 bytes a row, to report a phone a file repeats). Every bad row is
//! reported with its row number, column and reason; good rows are imported; a member
//! and their opening balance are written in one transaction; re-running a file creates
//! no duplicates and no extra points (the opening balance is keyed by member).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use serde::Serialize;

pub use super::import_file::{BATCH_ROWS, Batch, FileError, read_file};
use super::model::{Birthday, Gender, Phone};
use crate::store::BatchSizer;
use crate::types::Email;

/// The columns an import file may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Phone,
    FullName,
    Points,
    Gender,
    Birthday,
    Email,
}

impl Column {
    pub const ALL: [Column; 6] = [
        Column::Phone,
        Column::FullName,
        Column::Points,
        Column::Gender,
        Column::Birthday,
        Column::Email,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::Phone => "phone",
            Column::FullName => "full_name",
            Column::Points => "points",
            Column::Gender => "gender",
            Column::Birthday => "birthday",
            Column::Email => "email",
        }
    }

    /// Header spellings accepted for this column, in English and Thai (compared after
    /// [`normalise_header`] on both sides).
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Phone => &[
                "phone",
                "phonenumber",
                "mobile",
                "tel",
                "เบอร์โทร",
                "เบอร์โทรศัพท์",
                "โทรศัพท์",
                "เบอร์มือถือ",
            ],
            Column::FullName => &["fullname", "name", "ชื่อนามสกุล", "ชื่อ", "ชื่อสกุล"],
            Column::Points => &["points", "point", "balance", "คะแนน", "แต้ม", "คะแนนสะสม"],
            Column::Gender => &["gender", "sex", "เพศ"],
            Column::Birthday => &[
                "birthday",
                "birthdate",
                "dateofbirth",
                "dob",
                "วันเกิด",
                "วันเดือนปีเกิด",
            ],
            Column::Email => &["email", "emailaddress", "อีเมล", "อีเมล์"],
        }
    }
}

/// The template file members can be prepared in.
pub const TEMPLATE_CSV: &str = "phone,full_name,points,gender,birthday,email\n081-234-5678,สมชาย ใจดี,120,male,1990-04-13,somchai@example.com\n";

/// Lower-case letters and digits only: "Phone Number", "phone_number" and "เบอร์-โทร"
/// compare equal to their aliases (Thai tone and vowel marks are dropped on both sides).
fn normalise_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Where each known column is in the file.
#[derive(Clone, Debug)]
pub struct Headers(HashMap<Column, usize>);

/// Map a header row; a file without a phone column, or with a column we do not know or
/// twice the same column, is refused as a whole.
pub fn map_headers(headers: &[String]) -> Result<Headers, String> {
    let expected = || {
        Column::ALL
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut map = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let n = normalise_header(h);
        if n.is_empty() {
            continue;
        }
        let col = Column::ALL
            .iter()
            .copied()
            .find(|c| c.aliases().iter().any(|a| normalise_header(a) == n));
        match col {
            Some(c) if map.contains_key(&c) => {
                return Err(format!("the column \"{}\" appears twice", h.trim()));
            }
            Some(c) => {
                map.insert(c, i);
            }
            None => {
                return Err(format!(
                    "unknown column \"{}\" (column {}); the columns are: {}",
                    h.trim(),
                    i + 1,
                    expected()
                ));
            }
        }
    }
    if !map.contains_key(&Column::Phone) {
        return Err(format!(
            "the file has no phone column; the first row must name the columns: {}",
            expected()
        ));
    }
    Ok(Headers(map))
}

/// One good row.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRow {
    pub row: u64,
    pub phone: Phone,
    pub first_name: String,
    pub last_name: String,
    pub points: i64,
    pub gender: Option<Gender>,
    pub birthday: Option<Birthday>,
    pub email: Option<Email>,
}

/// What is wrong with one cell of one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The row number as a spreadsheet shows it (the header is row 1).
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

fn gender(s: &str) -> Option<Gender> {
    match s.trim().to_lowercase().as_str() {
        "m" | "male" | "man" | "ชาย" | "ช" | "นาย" => Some(Gender::Male),
        "f" | "female" | "woman" | "หญิง" | "ญ" | "นาง" | "นางสาว" => {
            Some(Gender::Female)
        }
        "other" | "อื่นๆ" | "อื่น ๆ" | "lgbtq+" => Some(Gender::Other),
        "" | "-" | "unspecified" | "ไม่ระบุ" => Some(Gender::Unspecified),
        _ => None,
    }
}

/// `YYYY-MM-DD` or `DD/MM/YYYY`; years after 2400 are Buddhist-era (minus 543).
fn birthday(s: &str) -> Result<Birthday, String> {
    let t = s.trim();
    let iso = if let Some((d, rest)) = t.split_once('/') {
        let (m, y) = rest.split_once('/').ok_or("use YYYY-MM-DD or DD/MM/YYYY")?;
        let y: i32 = y.trim().parse().map_err(|_| "the year is not a number")?;
        let y = if y > 2400 { y - 543 } else { y };
        format!("{y:04}-{:0>2}-{:0>2}", m.trim(), d.trim())
    } else {
        match t.split_once('-') {
            Some((y, rest)) if y.len() == 4 => {
                let y: i32 = y.parse().map_err(|_| "the year is not a number")?;
                format!("{:04}-{rest}", if y > 2400 { y - 543 } else { y })
            }
            _ => t.to_string(),
        }
    };
    Birthday::parse(&iso)
}

/// Parse one data row (cells in file order); `row` is its spreadsheet row number.
pub fn parse_row(h: &Headers, row: u64, cells: &[String]) -> Result<ImportRow, Vec<RowError>> {
    let cell = |c: Column| {
        h.0.get(&c)
            .and_then(|i| cells.get(*i))
            .map(|s| s.trim())
            .unwrap_or("")
    };
    let mut errors = vec![];
    let mut err = |c: Column, reason: String| {
        errors.push(RowError {
            row,
            column: c.name().into(),
            // The report stores the value: a control character (a NUL) would not store.
            value: cell(c)
                .chars()
                .take(100)
                .map(|ch| if ch.is_control() { '\u{fffd}' } else { ch })
                .collect(),
            reason,
        })
    };
    let raw_phone = cell(Column::Phone);
    // Spreadsheets drop the leading 0 of phone numbers stored as numbers.
    let raw_phone = if raw_phone.len() == 9
        && raw_phone.bytes().all(|b| b.is_ascii_digit())
        && !raw_phone.starts_with('0')
    {
        format!("0{raw_phone}")
    } else {
        raw_phone.to_string()
    };
    let phone = if raw_phone.is_empty() {
        Err("the phone is required".to_string())
    } else {
        Phone::parse(&raw_phone)
    };
    let phone = phone.map_err(|e| err(Column::Phone, e)).ok();
    let full = cell(Column::FullName);
    let full = crate::types::text(full, "full name", 0, 200)
        .map_err(|e| err(Column::FullName, e))
        .unwrap_or_default();
    let (first, last) = full
        .split_once(char::is_whitespace)
        .map(|(f, l)| (f.to_string(), l.trim().to_string()))
        .unwrap_or((full.clone(), String::new()));
    let points_raw = cell(Column::Points).replace(',', "");
    let points = if points_raw.is_empty() {
        0
    } else {
        match points_raw.parse::<i64>() {
            Ok(p) if (0..=crate::ledger::model::MAX_POINTS).contains(&p) => p,
            Ok(_) => {
                err(
                    Column::Points,
                    "points must be between 0 and 100,000,000,000".into(),
                );
                0
            }
            Err(_) => {
                err(Column::Points, "points must be a whole number".into());
                0
            }
        }
    };
    let g = match gender(cell(Column::Gender)) {
        Some(Gender::Unspecified) => None,
        Some(g) => Some(g),
        None => {
            err(Column::Gender, "use male/female/other or ชาย/หญิง".into());
            None
        }
    };
    let b = match cell(Column::Birthday) {
        "" => None,
        s => birthday(s).map_err(|e| err(Column::Birthday, e)).ok(),
    };
    let e = match cell(Column::Email) {
        "" => None,
        s => Email::parse(s).map_err(|e| err(Column::Email, e)).ok(),
    };
    match (phone, errors.is_empty()) {
        (Some(phone), true) => Ok(ImportRow {
            row,
            phone,
            first_name: first,
            last_name: last,
            points,
            gender: g,
            birthday: b,
            email: e,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_import_transactions_may_take_more_rows() {
        use std::time::Duration;
        // Transactions that each take 1 ms: the sizer doubles up to its most rows.
        let grown = |mut sizer: BatchSizer| {
            for _ in 0..40 {
                sizer.adapt(Duration::from_millis(1), false);
            }
            sizer
        };
        // The default is what it was before the option: from 1,000 rows, at most 50,000,
        // half a second.
        assert_eq!(
            IMPORT_BATCHES,
            BatchSizer::new(1_000, 50_000, Duration::from_millis(500))
        );
        assert_eq!(grown(IMPORT_BATCHES).size(), 50_000);
        assert_eq!(grown(import_batches(5_000)).size(), 500_000);
        assert_eq!(grown(import_batches(600_000)).size(), 2_000_000);
        assert_eq!(grown(import_batches(50)).size(), 50_000);
        // One over its time halves it, as the default's does.
        let mut sizer = grown(import_batches(5_000));
        sizer.adapt(Duration::from_millis(5_001), false);
        assert_eq!(sizer.size(), 250_000);
        sizer.adapt(Duration::from_millis(4_000), false);
        assert_eq!(
            sizer.size(),
            250_000,
            "between half its time and its time: kept"
        );
    }

    fn headers(h: &[&str]) -> Headers {
        map_headers(&h.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn cells(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn thai_and_english_headers_map_and_wrong_ones_are_refused() {
        let h = headers(&[
            "\u{feff}เบอร์โทร",
            "ชื่อ-นามสกุล",
            "คะแนน",
            "เพศ",
            "วันเกิด",
            "อีเมล์",
        ]);
        assert_eq!(h.0[&Column::Email], 5);
        assert!(
            map_headers(&cells(&["name", "points"]))
                .unwrap_err()
                .contains("no phone column")
        );
        assert!(
            map_headers(&cells(&["phone", "colour"]))
                .unwrap_err()
                .contains("unknown column \"colour\" (column 2)")
        );
        assert!(
            map_headers(&cells(&["phone", "Phone Number"]))
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn rows_parse_with_thai_conventions() {
        let h = headers(&[
            "phone",
            "full_name",
            "points",
            "gender",
            "birthday",
            "email",
        ]);
        let r = parse_row(
            &h,
            2,
            &cells(&[
                "812345678",
                "สมชาย  ใจดี",
                "1,200",
                "ชาย",
                "13/04/2533",
                " A@B.co ",
            ]),
        )
        .unwrap();
        assert_eq!(
            r.phone.as_str(),
            "+66812345678",
            "a leading 0 lost by a spreadsheet is restored"
        );
        assert_eq!(
            (r.first_name.as_str(), r.last_name.as_str(), r.points),
            ("สมชาย", "ใจดี", 1200)
        );
        assert_eq!(
            r.birthday.unwrap().as_str(),
            "1990-04-13",
            "Buddhist-era year"
        );
        assert_eq!(r.gender, Some(Gender::Male));
        assert_eq!(r.email.unwrap().as_str(), "a@b.co");
    }

    #[test]
    fn every_bad_cell_of_a_row_is_reported() {
        let h = headers(&["phone", "points", "birthday", "gender"]);
        let errs = parse_row(&h, 7, &cells(&["12", "12.5", "31/02/1990", "x"])).unwrap_err();
        let cols: Vec<&str> = errs.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(cols, vec!["phone", "points", "gender", "birthday"]);
        assert!(errs.iter().all(|e| e.row == 7));
        let errs = parse_row(&h, 8, &cells(&["", "-5"])).unwrap_err();
        assert_eq!(errs[0].reason, "the phone is required");
        assert_eq!(errs[1].column, "points");
    }

    #[test]
    fn a_phone_key_is_the_same_only_for_the_same_phone() {
        let key = |p: &str| phone_key(&Phone::parse(p).unwrap());
        assert_eq!(key("081-234-5678"), key("+66 81 234 5678"));
        assert_eq!(key("081-234-5678"), 66_812_345_678);
        assert_ne!(key("081-234-5678"), key("081-234-5679"));
        assert_ne!(key("02-123-4567"), key("+1 650 253 0000"));
    }
}

/// Who runs an import, for the ledger and the audit log.
#[derive(Clone, Debug)]
pub struct ImportTarget {
    pub tenant_id: i64,
    pub branch_id: Option<i64>,
    /// May the rows open balances (the importer holds `points.adjust`)? Otherwise a row
    /// with points is refused: members without points still import.
    pub may_grant_points: bool,
    pub actor_kind: &'static str,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub meta: crate::audit::RequestMeta,
}

/// How far an import got.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ImportCounts {
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// New members created.
    pub imported: u64,
    /// Rows whose phone was already a member: nothing changed, no points added.
    pub existing: u64,
    /// Rows refused; each is in the error report.
    pub failed: u64,
    /// Opening-balance points granted.
    pub points: i64,
    pub bytes_read: u64,
    /// Database transactions the import wrote in, and the longest of them (how long a
    /// purchase could wait on one); for the CLI and the benchmark, not the API.
    #[serde(skip)]
    pub transactions: u64,
    #[serde(skip)]
    pub longest_ms: u64,
}

/// How an import sizes its write transactions: as an expiry run's, to about half a second,
/// so a purchase waits at most about that long behind one on SQLite. Bigger transactions
/// write each page they touch once for more rows: at 200k members on SQLite a file of
/// 200,000 rows took 10.7 s in transactions of 1,000 rows and 5.8 s in 30,000 (measured
/// 2026-11-26).
pub const IMPORT_BATCHES: BatchSizer = import_batches(crate::store::BULK_TRANSACTION_MS);

/// Transactions sized to `target_ms` each instead of half a second, with room for as
/// many more rows (`loyal import members --transaction-ms`).
pub const fn import_batches(target_ms: u64) -> BatchSizer {
    BatchSizer::for_time(BATCH_ROWS, 50_000, 2_000_000, target_ms)
}

/// Import a file. `on_progress` is called after every batch the file is read in;
/// `on_errors` with the errors of each. Returns the totals, or why the file as a whole
/// was refused.
pub async fn import_file(
    db: &crate::store::Db,
    path: &Path,
    target: &ImportTarget,
    on_progress: impl FnMut(&ImportCounts),
    on_errors: impl AsyncErrorSink,
) -> Result<ImportCounts, String> {
    import_file_with(db, path, target, IMPORT_BATCHES, on_progress, on_errors).await
}

/// [`import_file`] with other transaction sizes (tests use tiny ones).
pub async fn import_file_with(
    db: &crate::store::Db,
    path: &Path,
    target: &ImportTarget,
    mut sizer: BatchSizer,
    mut on_progress: impl FnMut(&ImportCounts),
    mut on_errors: impl AsyncErrorSink,
) -> Result<ImportCounts, String> {
    let job = db.for_bulk_job();
    let db = &job.db;
    // The reading thread parses and checks the rows, and keeps up to a transaction's
    // worth ready while the database writes the last one.
    let ahead = (sizer.max() / BATCH_ROWS).clamp(4, 64);
    let (tx_checked, mut rx) = tokio::sync::mpsc::channel::<Result<Checked, String>>(ahead);
    let path_buf = path.to_path_buf();
    let may_grant_points = target.may_grant_points;
    let reader = tokio::task::spawn_blocking(move || {
        let mut checker = Checker {
            may_grant_points,
            ..Checker::default()
        };
        read_file(&path_buf, |batch| {
            let checked = batch
                .map_err(|e| e.to_string())
                .and_then(|b| checker.check(b));
            let refused = checked.is_err();
            tx_checked.blocking_send(checked).is_ok() && !refused
        });
        checker.headers.is_some()
    });
    let settings = crate::ledger::settings(db, target.tenant_id)
        .await
        .map_err(|e| e.to_string())?;
    let tz = crate::tenants::time_zone(db, target.tenant_id)
        .await
        .map_err(|e| e.to_string())?;
    let mut counts = ImportCounts::default();
    let mut pending: Vec<ImportRow> = vec![];
    loop {
        let next = rx.recv().await;
        let read_all = next.is_none();
        if let Some(checked) = next {
            let checked = checked?;
            counts.rows += checked.rows;
            let failed = checked.failed();
            counts.failed += failed;
            metrics::counter!("loyal_import_rows_total", "outcome" => "failed").increment(failed);
            counts.bytes_read = counts.bytes_read.max(checked.bytes_read);
            pending.extend(checked.good);
            if !checked.errors.is_empty() {
                on_errors.send(&checked.errors).await;
            }
        }
        while pending.len() >= sizer.size() || (read_all && !pending.is_empty()) {
            let rows: Vec<ImportRow> = pending.drain(..sizer.size().min(pending.len())).collect();
            let started = std::time::Instant::now();
            let (imported, existing) = (counts.imported, counts.existing);
            write_batch(db, target, &rows, &settings, &tz, &mut counts).await?;
            let took = started.elapsed();
            metrics::counter!("loyal_import_rows_total", "outcome" => "imported")
                .increment(counts.imported - imported);
            metrics::counter!("loyal_import_rows_total", "outcome" => "existing")
                .increment(counts.existing - existing);
            crate::store::record_bulk_transaction("import", took);
            counts.transactions += 1;
            counts.longest_ms = counts.longest_ms.max(took.as_millis() as u64);
            sizer.adapt(took, false);
        }
        on_progress(&counts);
        if read_all {
            break;
        }
    }
    if !reader.await.map_err(|e| e.to_string())? {
        return Err("the file is empty".into());
    }
    // Each new member is a row in each of these (its opening balance, when it has one,
    // two entries): what is read next should be planned knowing they are there. The
    // rows are in; a failure here only costs plans until autovacuum catches up.
    let n = counts.imported;
    let written = [
        ("members", n),
        ("ledger_txns", n),
        ("ledger_entries", 2 * n),
        ("lots", n),
        ("balances", n),
    ];
    db.refresh_statistics_after("import", &written).await;
    Ok(counts)
}

/// One batch of a file's rows as the reading thread checked them.
struct Checked {
    good: Vec<ImportRow>,
    errors: Vec<RowError>,
    /// Data rows read (blank rows and the header not counted).
    rows: u64,
    bytes_read: u64,
}

impl Checked {
    /// Rows refused (a row may have errors in several columns).
    fn failed(&self) -> u64 {
        let rows: std::collections::BTreeSet<u64> = self.errors.iter().map(|e| e.row).collect();
        rows.len() as u64
    }
}

/// Checks a file's rows in order: the header, each row, and phones seen earlier in it.
#[derive(Default)]
struct Checker {
    headers: Option<Headers>,
    may_grant_points: bool,
    /// The row of each phone so far, by [`phone_key`]: about 20 bytes a row, a quarter
    /// of what the phone's text would take (a 10M-row file holds 10M of them).
    seen: HashMap<u64, u64>,
}

/// A phone as a number: E.164 is `+` and at most 15 digits, and no country code starts
/// with 0, so two phones have the same key only if they are the same.
fn phone_key(phone: &Phone) -> u64 {
    phone
        .as_str()
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0, |n, d| n * 10 + u64::from(d - b'0'))
}

impl Checker {
    fn check(&mut self, batch: Batch) -> Result<Checked, String> {
        let mut out = Checked {
            good: Vec::with_capacity(batch.rows.len()),
            errors: vec![],
            rows: 0,
            bytes_read: batch.bytes_read,
        };
        for (row, cells) in batch.rows {
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let Some(h) = &self.headers else {
                self.headers = Some(map_headers(&cells)?);
                continue;
            };
            out.rows += 1;
            match parse_row(h, row, &cells) {
                Ok(r) if r.points > 0 && !self.may_grant_points => out.errors.push(RowError {
                    row,
                    column: "points".into(),
                    value: r.points.to_string(),
                    reason: "giving members points needs the points.adjust permission; leave the column empty, or ask a manager to import the file".into(),
                }),
                Ok(r) => match self.seen.entry(phone_key(&r.phone)) {
                    Entry::Occupied(first) => out.errors.push(RowError {
                        row,
                        column: "phone".into(),
                        value: r.phone.to_string(),
                        reason: format!("the same phone is on row {}", first.get()),
                    }),
                    Entry::Vacant(slot) => {
                        slot.insert(row);
                        out.good.push(r);
                    }
                },
                Err(mut e) => out.errors.append(&mut e),
            }
        }
        Ok(out)
    }
}

/// Receives each batch's row errors (to print, or to store for the API's report).
pub trait AsyncErrorSink {
    fn send(&mut self, errors: &[RowError]) -> impl std::future::Future<Output = ()>;
}

impl<T: AsyncErrorSink> AsyncErrorSink for &mut T {
    async fn send(&mut self, errors: &[RowError]) {
        (**self).send(errors).await
    }
}

/// Write one batch of good rows in one transaction: new members with their profile and
/// opening balance; rows whose phone is already a member change nothing. Set-based: one
/// multi-row insert of members (`ON CONFLICT DO NOTHING` tells which were new), then the
/// new members' opening balances with [`crate::ledger::post_credits_to_new_members`].
async fn write_batch(
    db: &crate::store::Db,
    target: &ImportTarget,
    rows: &[ImportRow],
    settings: &crate::ledger::LedgerSettings,
    tz: &jiff::tz::TimeZone,
    counts: &mut ImportCounts,
) -> Result<(), String> {
    use crate::ledger::{Kind, Posting};
    if rows.is_empty() {
        return Ok(());
    }
    let fail = |e: sqlx::Error| format!("database: {e}");
    let now = crate::store::now_micros();
    let ids: Vec<i64> = rows.iter().map(|_| crate::ids::next_id()).collect();
    let birthdays: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.birthday.as_ref().map(|b| b.to_string()))
        .collect();
    let member_rows = super::store::imported_member_values(
        target.tenant_id,
        target.branch_id,
        rows,
        &ids,
        &birthdays,
        now,
    );
    let mut tx = db.begin().await.map_err(fail)?;
    let created = super::store::insert_imported_members(&mut tx, &member_rows)
        .await
        .map_err(fail)?;
    let openings: Vec<Posting> = rows
        .iter()
        .zip(&ids)
        .filter(|(r, id)| r.points > 0 && created.contains(*id))
        .map(|(r, &id)| {
            let key = format!("opening:{id}");
            Posting {
                amount: crate::money::Points::new(r.points),
                request_hash: key.clone(),
                idem_key: key,
                reason: Some(format!("opening balance (import row {})", r.row)),
                branch_id: target.branch_id,
                actor_kind: target.actor_kind.to_string(),
                actor_id: target.actor_id,
                occurred_at: now,
                ..Posting::blank(target.tenant_id, id, Kind::Opening)
            }
        })
        .collect();
    crate::ledger::post_credits_to_new_members(
        &mut tx,
        &openings,
        crate::ledger::ShopRules::new(settings, tz),
    )
    .await
    .map_err(|e| match e {
        crate::ledger::LedgerError::Db(e) => fail(e),
        refused => refused.to_string(),
    })?;
    let imported = created.len() as u64;
    let points: i64 = openings.iter().map(|p| p.amount.get()).sum();
    counts.existing += rows.len() as u64 - imported;
    if imported > 0 {
        let actor = crate::audit::ActorRef {
            kind: target.actor_kind,
            id: target.actor_id,
            label: &target.actor_label,
        };
        let change = crate::audit::Change::new("members.imported", "member", None).details(
            serde_json::json!({"members": imported, "points": points, "first_row": rows[0].row}),
        );
        crate::audit::record_as(&mut tx, target.tenant_id, actor, &target.meta, change)
            .await
            .map_err(fail)?;
    }
    tx.commit().await.map_err(fail)?;
    counts.imported += imported;
    counts.points += points;
    Ok(())
}
