//! The keyed audit trail: someone who can write the database but not read
//! the key file cannot rewrite history unnoticed; the key file is private;
//! a node with another key is refused; a trail from before the key is
//! checked and re-sealed once.

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use kuota::audit::{KEY_BYTES, Key};
use sqlx::Row;

on_both_backends!(
    a_record_edited_and_rechained_with_plain_sha256_is_still_found,
    the_key_file_is_made_private_when_absent,
    a_node_with_another_key_is_refused,
    a_plain_trail_is_checked_and_sealed_on_first_start,
    a_broken_plain_trail_is_not_sealed,
    money_and_quota_actions_name_their_real_actor,
);

/// Some audited actions: an API client, a developer, an adjustment.
async fn app_with_history(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 5).await.status(), 201);
    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", -2).await.status(), 201);
    let (records, bad) = kuota::audit::verify(app.db.pool(), &app.state.audit_key).await.unwrap();
    assert_eq!(bad, None);
    assert!(records >= 5, "{records}");
    app
}

/// Re-links every record from `from` on with plain SHA-256 over the same
/// text as the old, unkeyed chain, and moves the head — all that someone who
/// can write the database (but cannot read the key) can compute.
async fn rechain_with_plain_sha256(app: &TestApp, from: i64) {
    let rows = sqlx::query(
        "SELECT id, actor, action, subject, state_before, state_after, created_at, hash FROM audit_log ORDER BY id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    let mut prev = kuota::audit::GENESIS_HASH.to_owned();
    for row in &rows {
        let id: i64 = row.try_get(0).unwrap();
        if id < from {
            prev = row.try_get(7).unwrap();
            continue;
        }
        let text = format!(
            "{id}\u{1f}{prev}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            row.try_get::<i64, _>(6).unwrap(),
            row.try_get::<String, _>(1).unwrap(),
            row.try_get::<String, _>(2).unwrap(),
            row.try_get::<String, _>(3).unwrap(),
            row.try_get::<Option<String>, _>(4).unwrap().unwrap_or_default(),
            row.try_get::<Option<String>, _>(5).unwrap().unwrap_or_default(),
        );
        let hash = kuota::digest::sha256_hex(text.as_bytes());
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE id = $3")
            .bind(&prev)
            .bind(&hash)
            .bind(id)
            .execute(app.db.pool())
            .await
            .unwrap();
        prev = hash;
    }
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1").bind(&prev).execute(app.db.pool()).await.unwrap();
}

/// The id of the first `ledger.adjust` record.
async fn first_adjustment(app: &TestApp) -> i64 {
    let row = sqlx::query("SELECT MIN(id) FROM audit_log WHERE action = 'ledger.adjust'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    row.try_get(0).unwrap()
}

async fn a_record_edited_and_rechained_with_plain_sha256_is_still_found(backend: Backend) {
    let app = app_with_history(backend).await;
    let forged = first_adjustment(&app).await;
    sqlx::query("UPDATE audit_log SET state_after = $1 WHERE id = $2")
        .bind(r#"{"units":500,"reason":"forged"}"#)
        .bind(forged)
        .execute(app.db.pool())
        .await
        .unwrap();
    rechain_with_plain_sha256(&app, forged).await;
    let (intact, bad) = kuota::audit::verify(app.db.pool(), &app.state.audit_key).await.unwrap();
    let (id, problem) = bad.expect("the forged record is found");
    assert_eq!(id, forged, "{problem}");
    assert_eq!(intact, forged - 1);
    assert!(problem.contains("edited"), "{problem}");
    // Clearing the head's key and re-chaining everything with plain links is
    // found at the next start (the key file exists) instead of being sealed.
    rechain_with_plain_sha256(&app, 1).await;
    sqlx::query("UPDATE audit_head SET key_id = NULL WHERE id = 1").execute(app.db.pool()).await.unwrap();
    let refused = kuota::startup::open_audit_trail(&app.database.config(), &app.db).await.unwrap_err().to_string();
    assert!(refused.contains("names no key"), "{refused}");
    let (_, bad) = kuota::audit::verify(app.db.pool(), &app.state.audit_key).await.unwrap();
    assert!(bad.is_some(), "verify fails too and seals nothing");
}

async fn the_key_file_is_made_private_when_absent(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(backend).await;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let made = app.database.data_dir.join("audit.key");
    assert_eq!(mode(&made), 0o600);
    assert_eq!(std::fs::read_to_string(&made).unwrap().trim_end().len(), KEY_BYTES * 2);
    // A key file in a folder that does not exist yet: the folder is made 0700.
    let elsewhere = app.database.data_dir.join("secrets").join("audit.key");
    let key = Key::load_or_create(&elsewhere).unwrap();
    assert_eq!(mode(&elsewhere), 0o600);
    assert_eq!(mode(elsewhere.parent().unwrap()), 0o700);
    assert_eq!(Key::load(&elsewhere).unwrap().fingerprint(), key.fingerprint());
    // A key others may read is refused.
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o640)).unwrap();
    let refused = Key::load_or_create(&elsewhere).unwrap_err().to_string();
    assert!(refused.contains("chmod 600"), "{refused}");
}

async fn a_node_with_another_key_is_refused(backend: Backend) {
    let app = app_with_history(backend).await;
    let other = app.database.data_dir.join("other.key");
    Key::load_or_create(&other).unwrap();
    let config = kuota::config::Config { audit_key_file: other.clone(), ..app.database.config() };
    let refused = kuota::startup::open_audit_trail(&config, &app.db).await.unwrap_err().to_string();
    assert!(refused.contains("sealed with another key"), "{refused}");
    assert!(refused.contains("KUOTA_AUDIT_KEY_FILE"), "{refused}");
    let (_, bad) = kuota::audit::verify(app.db.pool(), &Key::load(&other).unwrap()).await.unwrap();
    assert!(bad.is_some_and(|(_, problem)| problem.contains("another key")));
    // The right key still opens it, and nothing was changed.
    kuota::startup::open_audit_trail(&app.database.config(), &app.db).await.unwrap();
    app.assert_ledger_verifies().await;
}

/// Turns the app's trail into one from before the key: plain links, no key
/// named in the head.
async fn make_legacy(app: &TestApp) {
    rechain_with_plain_sha256(app, 1).await;
    sqlx::query("UPDATE audit_head SET key_id = NULL WHERE id = 1").execute(app.db.pool()).await.unwrap();
}

async fn a_plain_trail_is_checked_and_sealed_on_first_start(backend: Backend) {
    let app = app_with_history(backend).await;
    make_legacy(&app).await;
    let (_, bad) = kuota::audit::verify(app.db.pool(), &app.state.audit_key).await.unwrap();
    assert!(bad.is_some_and(|(_, problem)| problem.contains("not sealed")));
    let records = app.count("audit_log").await;
    let key = Key::load(&app.database.data_dir.join("audit.key")).unwrap();
    // A start with the key file already there does not seal it (that would
    // also hide a trail whose head someone cleared); the operator does, once.
    let refused = kuota::startup::open_audit_trail(&app.database.config(), &app.db).await.unwrap_err().to_string();
    assert!(refused.contains("kuota audit seal"), "{refused}");
    assert_eq!(kuota::audit::seal(&app.db, &key, true).await.unwrap(), usize::try_from(records).unwrap());
    assert_eq!(kuota::audit::seal(&app.db, &key, true).await.unwrap(), 0, "sealed once");
    kuota::startup::open_audit_trail(&app.database.config(), &app.db).await.unwrap();
    app.assert_ledger_verifies().await;
    // The sealed trail keeps growing under the key.
    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 1).await.status(), 201);
    app.assert_ledger_verifies().await;
    let other = Key::from_bytes([9; KEY_BYTES]);
    assert!(matches!(kuota::audit::seal(&app.db, &other, true).await, Err(kuota::audit::SealError::OtherKey)));
}

async fn a_broken_plain_trail_is_not_sealed(backend: Backend) {
    let app = app_with_history(backend).await;
    make_legacy(&app).await;
    let edited = first_adjustment(&app).await;
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE id = $1")
        .bind(edited)
        .execute(app.db.pool())
        .await
        .unwrap();
    let refused = kuota::startup::open_audit_trail(&app.database.config(), &app.db).await.unwrap_err().to_string();
    assert!(refused.contains(&format!("broken at record {edited}")), "{refused}");
    let key_id: Option<String> = sqlx::query("SELECT key_id FROM audit_head WHERE id = 1")
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(key_id, None, "nothing was sealed");
}

async fn money_and_quota_actions_name_their_real_actor(backend: Backend) {
    let app = app_with_history(backend).await;
    let actors: Vec<(String, String)> = sqlx::query("SELECT action, actor FROM audit_log ORDER BY id")
        .fetch_all(app.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| (row.try_get(0).unwrap(), row.try_get(1).unwrap()))
        .collect();
    assert!(actors.iter().all(|(_, actor)| actor != "admin"), "{actors:?}");
    let created = actors.iter().find(|(action, _)| action == "developer.create").unwrap();
    assert!(created.1.starts_with("api_client:"), "{created:?}");
    let adjusted = actors.iter().find(|(action, _)| action == "ledger.adjust").unwrap();
    assert!(adjusted.1.starts_with("api_client:"), "{adjusted:?}");
}
