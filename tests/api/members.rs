//! Member profiles through the API: enrol with a profile, edit, search, tags, the 360
//! view, bad input, and the birthday bonus.

use serde_json::json;

use crate::db_test;

db_test!(a_member_is_enrolled_with_a_profile_and_edited, |app| {
    let owner = app.signup("kafe").await;
    let res = owner.post("/api/v1/members", json!({
        "phone": "081-234-5678", "first_name": "มาลี", "last_name": "ใจดี", "email": "Malee@Example.com",
        "gender": "female", "birthday": "1990-04-13", "address": "99 Sukhumvit, Bangkok",
        "line_user_id": "U1234", "line_display_name": "Malee ☕", "tags": ["VIP", "working-age"],
        "attributes": {"favourite": "latte", "cups_per_week": 5}
    })).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let m = res.body["id"].as_i64().unwrap();
    assert_eq!(
        (
            res.body["phone"].as_str(),
            res.body["email"].as_str(),
            res.body["birthday"].as_str()
        ),
        (
            Some("+66812345678"),
            Some("malee@example.com"),
            Some("1990-04-13")
        )
    );
    assert_eq!(res.body["tags"], json!(["vip", "working-age"]));
    assert_eq!(res.body["attributes"]["cups_per_week"], 5);
    let res = owner
        .patch(
            &format!("/api/v1/members/{m}"),
            json!({"last_name": "สุขใจ", "tags": ["vip"], "status": "blocked"}),
        )
        .await;
    assert_eq!(
        (
            res.status,
            res.body["last_name"].as_str(),
            res.body["status"].as_str(),
            res.body["first_name"].as_str()
        ),
        (200, Some("สุขใจ"), Some("blocked"), Some("มาลี"))
    );
    assert_eq!(res.body["tags"], json!(["vip"]));
    let audit = owner.all("/api/v1/audit-log?action=member.updated").await;
    assert_eq!(
        audit[0]["details"]["fields"],
        json!(["status", "last_name", "tags"])
    );
    assert!(
        !audit[0].to_string().contains("สุขใจ"),
        "the audit log names fields, not personal data"
    );
});

db_test!(
    bad_profiles_are_refused_naming_the_field_and_nothing_is_written,
    |app| {
        let owner = app.signup("kafe").await;
        let cases = [
            (json!({"phone": "12345"}), "phone"),
            (
                json!({"phone": "0812345678", "birthday": "1990-02-30"}),
                "birthday",
            ),
            (
                json!({"phone": "0812345678", "birthday": "2999-01-01"}),
                "birthday",
            ),
            (json!({"phone": "0812345678", "gender": "robot"}), "gender"),
            (json!({"phone": "0812345678", "email": "not-mail"}), "email"),
            (json!({"phone": "0812345678", "tags": ["a,b"]}), "tags[0]"),
            (
                json!({"phone": "0812345678", "attributes": {"x": {"nested": 1}}}),
                "attributes",
            ),
            (json!({"phone": "0812345678", "nickname": "x"}), "nickname"),
        ];
        for (body, field) in cases {
            let res = owner.post("/api/v1/members", body.clone()).await;
            assert_eq!(
                (res.status, res.field()),
                (422, field),
                "{body}: {}",
                res.body
            );
        }
        assert!(owner.all("/api/v1/members").await.is_empty());
    }
);

db_test!(members_are_searched_by_name_email_and_tag, |app| {
    let owner = app.signup("kafe").await;
    owner
        .post(
            "/api/v1/members",
            json!({"phone": "0810000001", "first_name": "Somchai", "tags": ["vip"]}),
        )
        .await;
    owner
        .post(
            "/api/v1/members",
            json!({"phone": "0810000002", "first_name": "Somsak", "email": "somsak@x.test"}),
        )
        .await;
    owner
        .post(
            "/api/v1/members",
            json!({"phone": "0810000003", "first_name": "Malee", "last_name": "Som_"}),
        )
        .await;
    let names = |items: Vec<serde_json::Value>| {
        items
            .iter()
            .map(|m| m["first_name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(owner.all("/api/v1/members?q=som").await),
        vec!["Malee", "Somsak", "Somchai"]
    );
    assert_eq!(
        names(owner.all("/api/v1/members?q=SOMS").await),
        vec!["Somsak"]
    );
    assert_eq!(
        names(owner.all("/api/v1/members?q=som_").await),
        vec!["Malee"],
        "_ is not a wildcard"
    );
    assert_eq!(
        names(owner.all("/api/v1/members?tag=VIP").await),
        vec!["Somchai"]
    );
    // More with the tag: read newest first through the tag, in pages (of 2), and with a
    // name as well.
    for (phone, name, tags) in [
        ("0810000004", "Somporn", json!(["vip", "student"])),
        ("0810000005", "Anong", json!(["vip"])),
    ] {
        let res = owner
            .post(
                "/api/v1/members",
                json!({"phone": phone, "first_name": name, "tags": tags}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
    }
    assert_eq!(
        names(owner.all("/api/v1/members?tag=vip").await),
        vec!["Anong", "Somporn", "Somchai"]
    );
    assert_eq!(
        names(owner.all("/api/v1/members?tag=vip&q=som").await),
        vec!["Somporn", "Somchai"]
    );
    assert_eq!(
        names(owner.all("/api/v1/members?tag=student&q=x").await),
        Vec::<String>::new()
    );
});

// Search by name answers from the names' indexes when few members match, and walks the
// members newest first when many do: both must give what the search promises (a first
// name, last name or email starting with the text, any case, newest first, merged
// profiles left out), page after page.
db_test!(
    a_name_search_gives_the_same_pages_from_the_index_and_the_walk,
    |app| {
        let owner = app.signup("kafe").await;
        let people = [
            ("Somchai", "Jaidee", None),
            ("สมชาย", "ใจดี", Some("somchai.j@x.test")),
            ("Malee", "Somsri", None),
            ("somsak", "Boonma", Some("sak@x.test")),
            ("Anong", "Som_porn", None),
            ("สมหญิง", "ศรีสุข", None),
            ("Niran", "SOMBOON", Some("niran@x.test")),
            ("Kannika", "Srisuk", Some("somk@x.test")),
            ("Somporn", "Somboon", None),
            ("มาลี", "สมบูรณ์", None),
            ("Tom[2]", "Ng", None),
        ];
        let mut ids = vec![];
        for (i, (first, last, email)) in people.iter().enumerate() {
            // Every other member and Somporn carry a tag.
            let tags = if i % 2 == 1 || i == 8 {
                vec!["vip"]
            } else {
                vec![]
            };
            let res = owner
            .post(
                "/api/v1/members",
                json!({"phone": format!("08100000{i:02}"), "first_name": first, "last_name": last, "email": email, "tags": tags}),
            )
            .await;
            assert_eq!(res.status, 201, "{}", res.body);
            ids.push(res.body["id"].as_i64().unwrap());
        }
        // Somporn is merged into Somchai: only the survivor is listed.
        let merged = owner
            .post(
                &format!("/api/v1/members/{}/merge", ids[0]),
                json!({"other_member_id": ids[8]}),
            )
            .await;
        assert_eq!(merged.status, 200, "{}", merged.body);
        let (tenant,): (i64,) = loyal::on_db!(&app.db, pool => sqlx::query_as("SELECT id FROM tenants WHERE slug = 'kafe'")
        .fetch_one(pool).await)
    .unwrap();
        let listed = |i: usize| i != 8;
        // Somchai took Somporn's tag in the merge.
        let tagged = |i: usize| i % 2 == 1 || i == 0;
        for q in [
            "som", "SOM", "สม", "som_", "somb", "sak", "zz", "ส", "s", "tom@", "tom[",
        ] {
            let lower = q.to_lowercase();
            let mut expected: Vec<i64> = people
                .iter()
                .enumerate()
                .filter(|&(i, (first, last, email))| {
                    listed(i)
                        && [Some(*first), Some(*last), *email]
                            .into_iter()
                            .flatten()
                            .any(|t| t.to_lowercase().starts_with(&lower))
                })
                .map(|(i, _)| ids[i])
                .collect();
            expected.sort_unstable_by(|a, b| b.cmp(a));
            let expected_vip: Vec<i64> = expected
                .iter()
                .copied()
                .filter(|id| tagged(ids.iter().position(|i| i == id).unwrap()))
                .collect();
            // 10,000 matches read: the index answers; 1: every prefix is common, the walk
            // does (the tag's members, with a tag).
            for (tag, expected) in [(None, &expected), (Some("vip"), &expected_vip)] {
                for matches_read in [10_000, 1] {
                    let mut got = vec![];
                    let mut before = i64::MAX;
                    loop {
                        let page = loyal::members::store::search_with(
                            &app.db,
                            tenant,
                            Some(q),
                            tag,
                            before,
                            2,
                            matches_read,
                        )
                        .await
                        .unwrap();
                        got.extend(page.iter().take(2).map(|m| m.id));
                        if page.len() <= 2 {
                            break;
                        }
                        before = page[1].id;
                    }
                    assert_eq!(
                        &got, expected,
                        "q={q:?}, tag={tag:?}, matches_read={matches_read}"
                    );
                }
            }
        }
        // The newest matches all merged away: a page of one reads six index entries (three
        // members, each by first and last name), finds them merged, and reads on below.
        let mut zeds = vec![];
        for i in 0..4 {
            let res = owner
                .post(
                    "/api/v1/members",
                    json!({"phone": format!("08200000{i:02}"), "first_name": "Zed", "last_name": "Zedson"}),
                )
                .await;
            zeds.push(res.body["id"].as_i64().unwrap());
        }
        for other in &zeds[1..] {
            let res = owner
                .post(
                    &format!("/api/v1/members/{}/merge", zeds[0]),
                    json!({"other_member_id": other}),
                )
                .await;
            assert_eq!(res.status, 200, "{}", res.body);
        }
        for matches_read in [10_000, 1] {
            let page = loyal::members::store::search_with(
                &app.db,
                tenant,
                Some("zed"),
                None,
                i64::MAX,
                1,
                matches_read,
            )
            .await
            .unwrap();
            let ids: Vec<i64> = page.iter().map(|m| m.id).collect();
            assert_eq!(ids, vec![zeds[0]], "matches_read={matches_read}");
        }
        // And through the API, where the index serves this shop's few members.
        let names: Vec<String> = owner
            .all("/api/v1/members?q=%E0%B8%AA%E0%B8%A1") // "สม"
            .await
            .iter()
            .map(|m| m["first_name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, vec!["มาลี", "สมหญิง", "สมชาย"]);
    }
);

// The plan of the index path, read, not timed: each of the three ranges is read from its
// index alone, and nothing walks the shop's members (a name search at 1M members walked
// every row before the indexes: about a second, docs/BENCHMARKS.md). PostgreSQL plans by
// table size, so with scans priced out the indexes must serve.
db_test!(a_name_search_reads_the_names_indexes_only, |app| {
    use crate::helpers::Bind::{Int, Text};
    let backend = app.db.backend();
    for sql in loyal::members::store::name_search_sql(backend) {
        // Shop, range of keys, ids below, and the statement's limits.
        let mut binds = vec![Int(1), Text("som"), Text("son"), Int(i64::MAX), Int(10)];
        if sql.contains("$6") {
            binds.push(Int(100));
        }
        let steps = crate::helpers::plan_steps(&app.db, &sql, &binds).await;
        let (indexes, scan) = match backend {
            loyal::store::Backend::Sqlite => (
                [
                    "COVERING INDEX members_first_name",
                    "COVERING INDEX members_last_name",
                    "COVERING INDEX members_email",
                ],
                "SCAN members",
            ),
            loyal::store::Backend::Postgres => (
                [
                    "using members_first_name ",
                    "using members_last_name ",
                    "using members_email_prefix ",
                ],
                "Seq Scan",
            ),
        };
        for index in indexes {
            assert!(
                steps.iter().any(|s| s.contains(index)),
                "{index}: {steps:?}"
            );
        }
        assert!(!steps.iter().any(|s| s.contains(scan)), "{steps:?}");
    }
});

db_test!(the_360_view_shows_profile_balances_and_history, |app| {
    let owner = app.signup("kafe").await;
    let m = owner.member("0812345678").await;
    owner.purchase(m, 50_000, "R1").await;
    let res = owner.get(&format!("/api/v1/members/{m}/360")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        (
            res.body["member"]["phone"].as_str(),
            res.body["points"]["balance"].as_i64()
        ),
        (Some("+66812345678"), Some(20))
    );
    assert_eq!(res.body["recent_ledger"][0]["receipt"], "R1");
});

db_test!(
    the_birthday_bonus_is_granted_once_a_year_on_the_local_birthday,
    |app| {
        let owner = app.signup("kafe").await;
        let rules = json!({"birthday_bonus": 50});
        assert_eq!(owner.put("/api/v1/rules/earning", rules).await.status, 200);
        // 2026-06-15 00:30 in Bangkok is still 14 June in UTC.
        let now = "2026-06-14T17:30:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_microsecond();
        let today = owner
            .post(
                "/api/v1/members",
                json!({"phone": "0810000001", "birthday": "1990-06-15"}),
            )
            .await
            .body["id"]
            .as_i64()
            .unwrap();
        let other = owner
            .post(
                "/api/v1/members",
                json!({"phone": "0810000002", "birthday": "1990-06-14"}),
            )
            .await
            .body["id"]
            .as_i64()
            .unwrap();
        let blocked = owner
            .post(
                "/api/v1/members",
                json!({"phone": "0810000003", "birthday": "1991-06-15"}),
            )
            .await
            .body["id"]
            .as_i64()
            .unwrap();
        owner
            .patch(
                &format!("/api/v1/members/{blocked}"),
                json!({"status": "blocked"}),
            )
            .await;
        assert_eq!(
            loyal::earning::run_birthday_bonuses(&app.db, now)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            loyal::earning::run_birthday_bonuses(&app.db, now)
                .await
                .unwrap(),
            0,
            "once a year"
        );
        assert_eq!(owner.points(today).await["balance"], 50);
        assert_eq!(owner.points(other).await["balance"], 0);
        assert_eq!(owner.points(blocked).await["balance"], 0);
        let leap = owner
            .post(
                "/api/v1/members",
                json!({"phone": "0810000004", "birthday": "2000-02-29"}),
            )
            .await
            .body["id"]
            .as_i64()
            .unwrap();
        let feb28 = "2027-02-27T17:30:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_microsecond();
        assert_eq!(
            loyal::earning::run_birthday_bonuses(&app.db, feb28)
                .await
                .unwrap(),
            1,
            "29 February birthdays are celebrated on the 28th"
        );
        assert_eq!(owner.points(leap).await["balance"], 50);
        assert_eq!(
            owner
                .get(&format!("/api/v1/members/{today}/ledger"))
                .await
                .body["items"][0]["reason"],
            "birthday bonus"
        );
    }
);

db_test!(
    a_national_id_is_checked_encrypted_masked_and_its_views_audited,
    |app| {
        let owner = app.signup("kafe").await;
        let bad = owner
            .post(
                "/api/v1/members",
                json!({"phone": "0812345678", "national_id": "1-1017-00203-45-1"}),
            )
            .await;
        assert_eq!((bad.status, bad.field()), (422, "national_id"));
        let res = owner
            .post(
                "/api/v1/members",
                json!({"phone": "0812345678", "national_id": "1-1017-00203-45-0"}),
            )
            .await;
        assert_eq!(
            (res.status, res.body["national_id_masked"].as_str()),
            (201, Some("*********3450")),
            "{}",
            res.body
        );
        assert!(
            !res.text.contains("1101700203450"),
            "never in a normal response"
        );
        let m = res.body["id"].as_i64().unwrap();
        let stored: (Option<String>,) = loyal::on_db!(&app.db, pool => sqlx::query_as("SELECT national_id_enc FROM members WHERE id = $1").bind(m).fetch_one(pool).await).unwrap();
        let stored = stored.0.unwrap();
        assert!(
            !stored.contains("1101700203450") && stored.len() > 30,
            "stored encrypted: {stored}"
        );
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        assert_eq!(
            cashier
                .get(&format!("/api/v1/members/{m}/national-id"))
                .await
                .status,
            403
        );
        let full = owner.get(&format!("/api/v1/members/{m}/national-id")).await;
        assert_eq!(full.body["national_id"], "1101700203450");
        let views = owner
            .all("/api/v1/audit-log?action=member.national_id_viewed")
            .await;
        assert_eq!(views.len(), 1);
    }
);

db_test!(
    pdpa_export_holds_everything_and_erasure_keeps_every_total,
    |app| {
        let owner = app.signup("kafe").await;
        let res = owner
            .post(
                "/api/v1/members",
                json!({"phone": "0812345678", "first_name": "Somchai", "email": "s@x.test",
        "national_id": "1101700203450", "tags": ["vip"], "attributes": {"favourite": "latte"}}),
            )
            .await;
        let m = res.body["id"].as_i64().unwrap();
        owner.purchase(m, 100_000, "R1").await;
        owner
            .post(
                &format!("/api/v1/members/{m}/points/adjust"),
                json!({"points": 5, "reason": "Somchai complained about the wifi"}),
            )
            .await;
        let export = owner.get(&format!("/api/v1/members/{m}/export")).await;
        assert_eq!(export.status, 200, "{}", export.body);
        assert_eq!(
            (
                export.body["member"]["phone"].as_str(),
                export.body["national_id"].as_str()
            ),
            (Some("+66812345678"), Some("1101700203450"))
        );
        assert_eq!(export.body["ledger"].as_array().unwrap().len(), 2);
        assert_eq!(export.body["ledger"][0]["kind"], "earn", "oldest first");
        assert!(
            export.body["audit"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "member.created")
        );
        let before = owner.get("/api/v1/reports/liability").await.body;
        let erased = owner
            .post(&format!("/api/v1/members/{m}/erase"), json!({}))
            .await;
        assert_eq!(erased.status, 200, "{}", erased.body);
        assert_eq!(
            (
                erased.body["status"].as_str(),
                erased.body["first_name"].as_str(),
                erased.body["email"].as_str()
            ),
            (Some("erased"), Some(""), None)
        );
        assert_eq!(erased.body["phone"], format!("erased-{m}"));
        assert_eq!(
            (
                erased.body["tags"].clone(),
                erased.body["attributes"].clone(),
                erased.body["national_id_masked"].clone()
            ),
            (json!([]), json!({}), serde_json::Value::Null)
        );
        let text = owner.get(&format!("/api/v1/members/{m}/export")).await.text;
        for personal in [
            "Somchai",
            "0812345678",
            "66812345678",
            "1101700203450",
            "s@x.test",
            "latte",
            "wifi",
        ] {
            assert!(!text.contains(personal), "{personal} survived the erasure");
        }
        assert_eq!(
            owner.get("/api/v1/reports/liability").await.body,
            before,
            "every total is unchanged"
        );
        assert_eq!(owner.points(m).await["balance"], 45);
        assert!(
            owner.get("/api/v1/members?phone=0812345678").await.body["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let again = owner
            .post(&format!("/api/v1/members/{m}/erase"), json!({}))
            .await;
        assert_eq!((again.status, again.code()), (409, "nothing_to_undo"));
        app.assert_no_drift().await;
        // The phone is free for a new enrolment.
        assert_eq!(
            owner
                .post("/api/v1/members", json!({"phone": "0812345678"}))
                .await
                .status,
            201
        );
    }
);

db_test!(
    merging_two_profiles_moves_points_history_and_tags_and_leaves_an_alias,
    |app| {
        let owner = app.signup("kafe").await;
        let a = owner
            .post(
                "/api/v1/members",
                json!({"phone": "0811111111", "first_name": "Malee", "tags": ["vip"]}),
            )
            .await
            .body["id"]
            .as_i64()
            .unwrap();
        let b = owner.post("/api/v1/members", json!({"phone": "0822222222", "email": "malee@x.test", "birthday": "1990-01-02", "tags": ["student"]})).await.body["id"].as_i64().unwrap();
        owner.purchase(a, 50_000, "A1").await;
        owner.purchase(b, 25_000, "B1").await;
        owner.redeem(b, 3).await;
        let before = owner.get("/api/v1/reports/liability").await.body;
        let cashier = app.hire(&owner, "kafe", "cashier").await;
        assert_eq!(
            cashier
                .post(
                    &format!("/api/v1/members/{a}/merge"),
                    json!({"other_member_id": b})
                )
                .await
                .status,
            403,
            "merging moves points: managers and up"
        );
        let merged = owner
            .post(
                &format!("/api/v1/members/{a}/merge"),
                json!({"other_member_id": b}),
            )
            .await;
        assert_eq!(merged.status, 200, "{}", merged.body);
        assert_eq!(
            (
                merged.body["email"].as_str(),
                merged.body["birthday"].as_str(),
                merged.body["first_name"].as_str()
            ),
            (Some("malee@x.test"), Some("1990-01-02"), Some("Malee"))
        );
        assert_eq!(merged.body["tags"], json!(["student", "vip"]));
        assert_eq!(owner.points(a).await["balance"], 20 + 10 - 3);
        assert_eq!(
            owner
                .all(&format!("/api/v1/members/{a}/ledger"))
                .await
                .len(),
            3,
            "the history follows"
        );
        // The other profile still resolves, to the survivor; it is no longer listed.
        assert_eq!(
            owner.get(&format!("/api/v1/members/{b}")).await.body["id"],
            a
        );
        assert_eq!(
            owner.get("/api/v1/members?phone=0822222222").await.body["items"][0]["id"],
            a
        );
        assert_eq!(
            owner.all("/api/v1/members").await.len(),
            1,
            "only the survivor is listed"
        );
        // A purchase for the old id lands on the survivor.
        owner.purchase(b, 25_000, "B2").await;
        assert_eq!(owner.points(a).await["balance"], 37);
        let again = owner
            .post(
                &format!("/api/v1/members/{a}/merge"),
                json!({"other_member_id": b}),
            )
            .await;
        assert_eq!((again.status, again.code()), (409, "already_exists"));
        let same = owner
            .post(
                &format!("/api/v1/members/{a}/merge"),
                json!({"other_member_id": a}),
            )
            .await;
        assert_eq!((same.status, same.field()), (422, "other_member_id"));
        let l = owner.get("/api/v1/reports/liability").await.body;
        assert_eq!(
            l["outstanding"].as_i64().unwrap(),
            before["outstanding"].as_i64().unwrap() + 10,
            "merging changed no total (only the new purchase did)"
        );
        app.assert_no_drift().await;
        assert_eq!(
            owner
                .all("/api/v1/audit-log?action=member.merged")
                .await
                .len(),
            1
        );
    }
);

db_test!(
    expired_member_sessions_are_purged_and_live_ones_kept,
    |app| {
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        let tenant = owner.me["tenant_id"].as_i64().unwrap();
        let mut tx = app.db.begin().await.unwrap();
        for (hash, hours) in [("ended-yesterday", -24), ("live", 1)] {
            loyal::members::store::create_member_session(&mut tx, tenant, m, hash, "c", hours)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let purge = || loyal::members::store::purge_expired_member_sessions(&app.db);
        assert_eq!(purge().await.unwrap(), 1, "only the ended session goes");
        assert!(
            loyal::members::store::member_session(&app.db, "live")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(purge().await.unwrap(), 0, "nothing twice");
    }
);

db_test!(
    staff_refund_part_of_a_bill_from_the_members_history_after_a_confirmation_and_once,
    |app| {
        use crate::page_access::{hidden, post_form};
        let owner = app.signup("kafe").await;
        let m = owner.member("0812345678").await;
        assert_eq!(owner.purchase(m, 100_000, "R1").await.status, 201);
        assert_eq!(owner.points(m).await["balance"], 40);
        let page = owner.get(&format!("/admin/members/{m}?lang=th")).await;
        assert!(
            page.text.contains("name=\"receipt\" value=\"R1\""),
            "a refund on the bill's row"
        );
        let csrf = hidden(&page.text, "_csrf");
        let url = format!("/admin/members/{m}/actions");
        let ask = |amount: &str| {
            vec![
                ("_csrf", csrf.clone()),
                ("action", "refund".to_string()),
                ("receipt", "R1".to_string()),
                ("amount", amount.to_string()),
            ]
        };
        let refused = post_form(&owner, &url, &ask("abc")).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        let confirm = post_form(&owner, &url, &ask("250")).await;
        assert_eq!(confirm.status, 200);
        assert!(confirm.text.contains("confirm-panel") && confirm.text.contains("250 บาท"));
        assert_eq!(
            owner.points(m).await["balance"],
            40,
            "nothing before it is confirmed"
        );
        let mut confirmed = ask("250");
        confirmed.push(("step", "confirm".to_string()));
        confirmed.push(("nonce", hidden(&confirm.text, "nonce")));
        for _ in 0..2 {
            let done = post_form(&owner, &url, &confirmed).await;
            assert_eq!(done.status, 200, "{}", done.text);
            assert!(done.text.contains("action-done"), "{}", done.text);
        }
        assert_eq!(
            owner.points(m).await["balance"],
            30,
            "a quarter of the bill takes back a quarter of its points, once"
        );
    }
);
