//! Member import over the API: upload, poll, error report, re-runs, encodings, XLSX.

use std::io::Write;

use serde_json::Value;

use crate::db_test;
use crate::helpers::{Resp, User};

const CSV: &str = "\u{feff}phone,full_name,points,gender,birthday,email\n\
081-234-5678,สมชาย ใจดี,120,ชาย,13/04/2533,somchai@example.com\n\
0899999999,มาลี มีสุข,50,หญิง,1990-02-30,\n\
12345,bad phone,10,,,\n\
0812345678,again,5,,,\n\
0823456789,Somsak Jaidee,\"1,000\",M,,somsak@x.test\n";

pub(crate) async fn upload(user: &User, query: &str, body: Vec<u8>) -> Resp {
    let res = user
        .client
        .post(format!("{}/api/v1/members/imports?{query}", user.base))
        .header("x-csrf-token", user.csrf.clone().unwrap_or_default())
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    Resp::read(res).await
}

/// Poll a job until it ends.
pub(crate) async fn finished(user: &User, job: &Value) -> Value {
    for _ in 0..200 {
        let res = user
            .get(&format!("/api/v1/members/imports/{}", job["id"]))
            .await;
        if res.body["status"] != "running" {
            return res.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the import did not finish");
}

db_test!(
    an_uploaded_file_imports_good_rows_reports_bad_ones_and_re_runs_add_nothing,
    |app| {
        let owner = app.signup("kafe").await;
        let siam = owner.branch("SIAM").await;
        let start = upload(
            &owner,
            &format!("format=csv&branch_id={siam}&file_name=old-pos.csv"),
            CSV.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(start.status, 202, "{}", start.body);
        let job = finished(&owner, &start.body).await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!(
            (
                job["counts"]["rows"].as_u64(),
                job["counts"]["imported"].as_u64(),
                job["counts"]["failed"].as_u64(),
                job["counts"]["points"].as_i64()
            ),
            (Some(5), Some(2), Some(3), Some(1120))
        );
        let errors = owner
            .get(&format!("/api/v1/members/imports/{}/errors", job["id"]))
            .await
            .body;
        let report: Vec<(u64, &str)> = errors["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap()))
            .collect();
        assert_eq!(report, vec![(3, "birthday"), (4, "phone"), (5, "phone")]);
        let found = owner.get("/api/v1/members?phone=0812345678").await.body["items"][0].clone();
        assert_eq!(
            (
                found["first_name"].as_str(),
                found["birthday"].as_str(),
                found["join_branch_id"].as_i64()
            ),
            (Some("สมชาย"), Some("1990-04-13"), Some(siam))
        );
        let id = found["id"].as_i64().unwrap();
        assert_eq!(owner.points(id).await["balance"], 120);
        let history = owner.all(&format!("/api/v1/members/{id}/ledger")).await;
        assert_eq!(
            history[0]["kind"], "opening",
            "imported balances are opening entries, not a bare number"
        );
        // The same file again: no new members, no extra points.
        let again = finished(
            &owner,
            &upload(&owner, "format=csv", CSV.as_bytes().to_vec())
                .await
                .body,
        )
        .await;
        assert_eq!(
            (
                again["counts"]["imported"].as_u64(),
                again["counts"]["existing"].as_u64()
            ),
            (Some(0), Some(2))
        );
        assert_eq!(owner.points(id).await["balance"], 120);
        assert_eq!(owner.all("/api/v1/members").await.len(), 2);
        app.assert_no_drift().await;
    }
);

db_test!(legacy_thai_encodings_are_converted, |app| {
    let owner = app.signup("kafe").await;
    let (bytes, _, _) =
        encoding_rs::WINDOWS_874.encode("เบอร์โทร,ชื่อ-นามสกุล,คะแนน\n0812345678,สมหญิง รักดี,30\n");
    let job = finished(
        &owner,
        &upload(&owner, "format=csv", bytes.to_vec()).await.body,
    )
    .await;
    assert_eq!(job["counts"]["imported"], 1, "{job}");
    let m = owner.get("/api/v1/members?phone=0812345678").await.body["items"][0].clone();
    assert_eq!(
        (m["first_name"].as_str(), m["last_name"].as_str()),
        (Some("สมหญิง"), Some("รักดี"))
    );
});

db_test!(files_that_cannot_be_imported_say_why, |app| {
    let owner = app.signup("kafe").await;
    let empty = upload(&owner, "format=csv", vec![]).await;
    assert_eq!((empty.status, empty.field()), (422, "body"));
    let bad_format = upload(&owner, "format=pdf", b"x".to_vec()).await;
    assert_eq!((bad_format.status, bad_format.field()), (400, "format"));
    let wrong_headers = finished(
        &owner,
        &upload(&owner, "format=csv", b"name,points\nA,1\n".to_vec())
            .await
            .body,
    )
    .await;
    assert_eq!(wrong_headers["status"], "failed");
    assert!(
        wrong_headers["error"]
            .as_str()
            .unwrap()
            .contains("no phone column"),
        "{wrong_headers}"
    );
    let template = owner.get("/api/v1/members/import-template").await;
    assert!(
        template
            .text
            .starts_with("phone,full_name,points,gender,birthday,email")
    );
});

db_test!(
    an_upload_over_the_limit_is_refused_without_being_held_in_memory,
    |app| {
        let _ = app;
        let app =
            crate::helpers::TestApp::spawn_with(app.backend, |s| s.max_import_bytes = 1000).await;
        let owner = app.signup("kafe").await;
        let big = format!("phone\n{}", "0812345678\n".repeat(200));
        let res = upload(&owner, "format=csv", big.into_bytes()).await;
        assert_eq!((res.status, res.code()), (413, "body_too_large"));
    }
);

/// A minimal XLSX workbook with inline strings and numbers.
pub(crate) fn xlsx(rows: &[Vec<&str>]) -> Vec<u8> {
    let mut sheet = String::new();
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!("<row r=\"{}\">", r + 1));
        for (c, v) in row.iter().enumerate() {
            let cell = format!("{}{}", (b'A' + c as u8) as char, r + 1);
            if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                sheet.push_str(&format!("<c r=\"{cell}\"><v>{v}</v></c>"));
            } else {
                sheet.push_str(&format!(
                    "<c r=\"{cell}\" t=\"inlineStr\"><is><t>{v}</t></is></c>"
                ));
            }
        }
        sheet.push_str("</row>");
    }
    workbook(&sheet, None)
}

/// An XLSX workbook whose one sheet holds `sheet_data` (the rows, as XML) and, when
/// given, a shared-strings part.
pub(crate) fn workbook(sheet_data: &str, shared_strings: Option<&str>) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let opts = zip::write::SimpleFileOptions::default();
    let mut file = |name: &str, body: &str| {
        zip.start_file(name, opts).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    };
    file(
        "[Content_Types].xml",
        r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
    );
    file(
        "_rels/.rels",
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
    );
    file(
        "xl/workbook.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Members" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
    );
    file(
        "xl/_rels/workbook.xml.rels",
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
    );
    file(
        "xl/worksheets/sheet1.xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet_data}</sheetData></worksheet>"#
        ),
    );
    if let Some(strings) = shared_strings {
        file(
            "xl/sharedStrings.xml",
            &format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{strings}</sst>"#
            ),
        );
    }
    zip.finish().unwrap();
    buf.into_inner()
}

db_test!(xlsx_workbooks_import_like_csv, |app| {
    let owner = app.signup("kafe").await;
    // The phone is a number in the sheet, so its leading 0 is gone (as Excel does).
    let book = xlsx(&[
        vec!["phone", "full_name", "points"],
        vec!["812345678", "Araya Phromma", "75"],
        vec!["abc", "Bad", "1"],
    ]);
    let job = finished(&owner, &upload(&owner, "format=xlsx", book).await.body).await;
    assert_eq!(
        (
            job["status"].as_str(),
            job["counts"]["imported"].as_u64(),
            job["counts"]["failed"].as_u64()
        ),
        (Some("done"), Some(1), Some(1)),
        "{job}"
    );
    let m = owner.get("/api/v1/members?phone=0812345678").await.body["items"][0].clone();
    assert_eq!(owner.points(m["id"].as_i64().unwrap()).await["balance"], 75);
    let errors = owner
        .get(&format!("/api/v1/members/imports/{}/errors", job["id"]))
        .await
        .body;
    assert_eq!(errors["items"][0]["row"], 3);
});

db_test!(
    a_large_file_imports_in_batches_with_opening_lots_that_expire_by_the_shop_rules,
    |app| {
        let owner = app.signup("kafe").await;
        owner.set_rolling_expiry(2).await;
        // Already a member before the import: the file must not touch them.
        let existing = owner.member("0810001500").await;
        let mut csv = String::from("phone,full_name,points,gender,birthday\n");
        let mut expected_points = 0;
        for i in 1..=2500 {
            let points = i % 100; // every hundredth row has no opening balance
            if i != 1500 {
                expected_points += points;
            }
            csv.push_str(&format!(
                "081{i:07},สมาชิก {i},{points},หญิง,1990-01-{:02}\n",
                i % 28 + 1
            ));
        }
        let job = finished(
            &owner,
            &upload(&owner, "format=csv", csv.into_bytes()).await.body,
        )
        .await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!(
            (
                job["counts"]["rows"].as_u64(),
                job["counts"]["imported"].as_u64(),
                job["counts"]["existing"].as_u64(),
                job["counts"]["failed"].as_u64(),
                job["counts"]["points"].as_i64()
            ),
            (
                Some(2500),
                Some(2499),
                Some(1),
                Some(0),
                Some(expected_points)
            )
        );
        assert_eq!(owner.points(existing).await["balance"], 0);
        let m = owner.get("/api/v1/members?phone=0810002042").await.body["items"][0].clone();
        assert_eq!(
            (
                m["first_name"].as_str(),
                m["gender"].as_str(),
                m["birthday"].as_str()
            ),
            (Some("สมาชิก"), Some("female"), Some("1990-01-27"))
        );
        let p = owner.points(m["id"].as_i64().unwrap()).await;
        assert_eq!(
            (
                p["balance"].as_i64(),
                p["expiring_30_days"].as_i64(),
                p["expiring_90_days"].as_i64()
            ),
            (Some(42), Some(0), Some(42)),
            "opening points expire two months after the import: {p}"
        );
        assert_eq!(owner.all("/api/v1/members").await.len(), 2500);
        app.assert_no_drift().await;
    }
);

/// Collects the row errors an import reports.
#[derive(Default)]
struct Errors(Vec<loyal::members::import::RowError>);

impl loyal::members::import::AsyncErrorSink for Errors {
    async fn send(&mut self, errors: &[loyal::members::import::RowError]) {
        self.0.extend_from_slice(errors);
    }
}

db_test!(
    a_file_written_in_several_transactions_imports_each_row_once,
    |app| {
        let owner = app.signup("kafe").await;
        let existing = owner.member("0810000000").await;
        let mut csv = String::from("phone,full_name,points\n0810000000,Already,500\n");
        for i in 1..=9 {
            csv.push_str(&format!("081000000{i},Member {i},{}\n", i * 10));
        }
        // Row 13 repeats row 3's phone: it lands in a later transaction than row 3.
        csv.push_str("12345,bad phone,10\n0810000001,again,99\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("members.csv");
        std::fs::write(&path, csv).unwrap();
        let target = loyal::members::import::ImportTarget {
            tenant_id: owner.me["tenant_id"].as_i64().unwrap(),
            may_grant_points: true,
            branch_id: None,
            actor_kind: "system",
            actor_id: None,
            actor_label: "test".into(),
            meta: loyal::audit::RequestMeta {
                request_id: "import-test".into(),
                ip: "local".into(),
            },
        };
        // Two rows in the first transaction, then three per transaction: the 10 good
        // rows take 2 + 3 + 3 + 2. (The time target is never reached, so sizes follow
        // the rows alone.)
        let sizer = loyal::store::BatchSizer::new(2, 3, std::time::Duration::from_secs(3600));
        let mut errors = Errors::default();
        let counts = loyal::members::import::import_file_with(
            &app.db,
            &path,
            &target,
            sizer,
            |_| {},
            &mut errors,
        )
        .await
        .unwrap();
        assert_eq!(
            (
                counts.rows,
                counts.imported,
                counts.existing,
                counts.failed,
                counts.points,
                counts.transactions
            ),
            (12, 9, 1, 2, 450, 4)
        );
        let refused: Vec<(u64, &str)> = errors
            .0
            .iter()
            .map(|e| (e.row, e.reason.as_str()))
            .collect();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert_eq!(refused[1], (13, "the same phone is on row 3"));
        assert_eq!(owner.points(existing).await["balance"], 0);
        let m = owner.get("/api/v1/members?phone=0810000009").await.body["items"][0].clone();
        assert_eq!(owner.points(m["id"].as_i64().unwrap()).await["balance"], 90);
        // Each transaction that created members is audited once.
        let audit = owner.get("/api/v1/audit-log?action=members.imported").await;
        assert_eq!(
            audit.body["items"].as_array().unwrap().len(),
            4,
            "{}",
            audit.body
        );
        // The same file again, in one transaction: nothing new, no points.
        let again = loyal::members::import::import_file(
            &app.db,
            &path,
            &target,
            |_| {},
            &mut Errors::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            (
                again.imported,
                again.existing,
                again.points,
                again.transactions
            ),
            (0, 10, 0, 1)
        );
        assert_eq!(owner.all("/api/v1/members").await.len(), 10);
        app.assert_no_drift().await;
    }
);

/// What the planner knows of the members table: on PostgreSQL its estimated rows (none
/// until first analyzed), on SQLite the rows of its statistics table (none unless some
/// ANALYZE made one).
async fn members_statistics(db: &loyal::store::Db) -> Option<i64> {
    match db {
        loyal::store::Db::Postgres(pool) => {
            let (rows,): (i64,) = sqlx::query_as(
                "SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE oid = to_regclass('members')",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            (rows >= 0).then_some(rows)
        }
        loyal::store::Db::Sqlite(pool) => {
            let (tables,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
                    .fetch_one(pool)
                    .await
                    .unwrap();
            (tables > 0).then_some(tables)
        }
    }
}

// PostgreSQL plans from statistics that autovacuum refreshes a minute or more after a
// bulk load (never where it is off): an import refreshes them itself when it wrote more
// than autovacuum's threshold (50 rows and a tenth of the table). SQLite plans by its
// rules and keeps no statistics: the import leaves it so.
db_test!(
    an_import_refreshes_the_statistics_of_the_tables_it_filled,
    |app| {
        let owner = app.signup("kafe").await;
        let mut seen = vec![members_statistics(&app.db).await];
        for (first, rows) in [(0, 80), (100, 40), (200, 70)] {
            let mut csv = String::from("phone,full_name,points\n");
            for i in first..first + rows {
                csv.push_str(&format!("0820000{i:03},สมาชิก {i},10\n"));
            }
            let job = finished(
                &owner,
                &upload(&owner, "format=csv", csv.into_bytes()).await.body,
            )
            .await;
            assert_eq!(job["counts"]["imported"].as_u64(), Some(rows), "{job}");
            seen.push(members_statistics(&app.db).await);
        }
        let expected = match app.backend {
            // 80 > 50 rows: analyzed; 40 ≤ 50 + 8: left as it was; 70 > 50 + 8: analyzed.
            crate::helpers::Backend::Postgres => vec![None, Some(80), Some(80), Some(190)],
            crate::helpers::Backend::Sqlite => vec![None; 4],
        };
        assert_eq!(seen, expected);
    }
);
