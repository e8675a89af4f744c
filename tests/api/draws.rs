//! Lucky draws: entries bought with points, the seed's hash published up front, the
//! winners recomputable by anyone from the public proof (`loyal draw verify`).

use std::process::Command;

use serde_json::json;

use crate::db_test;

db_test!(
    a_lucky_draw_can_be_verified_by_anyone_from_its_public_proof,
    |app| {
        let owner = app.signup("kafe").await;
        owner
            .put("/api/v1/spend-settings", json!({"require_otp": false}))
            .await;
        let now = jiff::Timestamp::now();
        let closes = now + jiff::SignedDuration::from_hours(1);
        let created = owner
        .post("/api/v1/draws", json!({"name": "iPhone draw", "entry_cost": 10, "max_entries_per_member": 3, "winners": 2,
            "opens_at": now - jiff::SignedDuration::from_hours(1), "closes_at": closes}))
        .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.body["id"].as_i64().unwrap();
        let seed_hash = created.body["seed_hash"].as_str().unwrap().to_string();
        assert!(
            created.body["seed"].is_null(),
            "the seed stays secret until the draw"
        );
        assert_eq!(created.body["status"], "open");

        let mut members = vec![];
        for (i, n) in [2, 1, 3].iter().enumerate() {
            let m = owner.member(&format!("081000000{i}")).await;
            owner
                .post(
                    &format!("/api/v1/members/{m}/points/adjust"),
                    json!({"points": 100, "reason": "seed"}),
                )
                .await;
            let res = owner
                .post(
                    &format!("/api/v1/draws/{id}/entries"),
                    json!({"member_id": m, "entries": n}),
                )
                .await;
            assert_eq!(res.status, 201, "{}", res.body);
            assert_eq!(res.body["balance"], 100 - 10 * n);
            members.push(m);
        }
        let res = owner
            .post(
                &format!("/api/v1/draws/{id}/entries"),
                json!({"member_id": members[2], "entries": 1}),
            )
            .await;
        assert_eq!((res.status, res.code()), (409, "limit_reached"));
        assert_eq!(
            owner.points(members[2]).await["balance"],
            70,
            "nothing written"
        );
        let early = owner
            .post(&format!("/api/v1/draws/{id}/draw"), json!({}))
            .await;
        assert_eq!((early.status, early.code()), (409, "wrong_state"));

        // After the draw closes.
        let until_closed = closes.duration_since(jiff::Timestamp::now());
        app.clock.advance(
            std::time::Duration::try_from(until_closed).unwrap_or_default()
                + std::time::Duration::from_secs(1),
        );
        let late = owner
            .post(
                &format!("/api/v1/draws/{id}/entries"),
                json!({"member_id": members[0], "entries": 1}),
            )
            .await;
        assert_eq!(late.code(), "wrong_state", "a closed draw sells no entries");
        let drawn = owner
            .post(&format!("/api/v1/draws/{id}/draw"), json!({}))
            .await;
        assert_eq!(drawn.status, 200, "{}", drawn.body);
        assert_eq!(drawn.body["status"], "drawn");
        assert_eq!(
            drawn.body["seed_hash"],
            seed_hash.as_str(),
            "the hash published at creation"
        );
        let winners: Vec<i64> = drawn.body["winners_drawn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["member_id"].as_i64().unwrap())
            .collect();
        assert_eq!(winners.len(), 2);
        assert_ne!(winners[0], winners[1], "one prize per member");
        assert!(winners.iter().all(|w| members.contains(w)));
        assert_eq!(
            owner
                .post(&format!("/api/v1/draws/{id}/draw"), json!({}))
                .await
                .code(),
            "wrong_state",
            "drawn once"
        );

        // Anyone can fetch the proof and check it.
        let proof = app
            .anonymous()
            .get(&format!("/api/v1/public/kafe/draws/{id}/proof"))
            .await;
        assert_eq!(proof.status, 200, "{}", proof.body);
        assert_eq!(proof.body["entries"].as_array().unwrap().len(), 6);
        let parsed: loyal::draws::Proof = serde_json::from_value(proof.body.clone()).unwrap();
        assert_eq!(loyal::draws::verify(&parsed), Ok(()));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("proof.json");
        std::fs::write(&file, &proof.text).unwrap();
        let verify = |arg: &str| {
            Command::new(env!("CARGO_BIN_EXE_loyal"))
                .args(["draw", "verify", arg])
                .output()
                .unwrap()
        };
        let out = verify(file.to_str().unwrap());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("verified"));
        let url = format!("{}/api/v1/public/kafe/draws/{id}/proof", app.base);
        assert!(verify(&url).status.success(), "verified from the URL too");
        // A proof with other winners (or another seed) fails, with a non-zero exit code.
        let mut forged = proof.body.clone();
        let entries = forged["entries"].as_array().unwrap().clone();
        let loser = entries
            .iter()
            .find(|e| !forged["winners"].as_array().unwrap().contains(e))
            .unwrap()
            .clone();
        forged["winners"][0] = loser;
        std::fs::write(&file, forged.to_string()).unwrap();
        let out = verify(file.to_str().unwrap());
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("NOT VERIFIED"));
        // Another shop's draw is not found through this shop's page.
        app.signup("other").await;
        assert_eq!(
            app.anonymous()
                .get(&format!("/api/v1/public/other/draws/{id}/proof"))
                .await
                .status,
            404
        );
    }
);
