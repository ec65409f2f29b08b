//! Holds: placing, committing, releasing, and expiry by time.

use serde_json::Value;

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(
    a_hold_moves_units_to_held_and_commit_consumes_them,
    a_released_hold_gives_its_units_back,
    a_hold_can_be_settled_only_once,
    an_expired_hold_gives_its_units_back_before_any_read,
    the_sweeper_expires_holds_on_its_own,
    a_hold_needs_available_units,
);

async fn hold(app: &TestApp, key: &str, units: i64, seconds: i64) -> Value {
    let response = app.place_hold("PMJ-1", key, "CERT-1Y", units, seconds).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn setup(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1Y", 10).await;
    app
}

async fn a_hold_moves_units_to_held_and_commit_consumes_them(backend: Backend) {
    let app = setup(backend).await;
    let placed = hold(&app, "h1", 4, 600).await;
    assert_eq!(placed["status"], "pending");
    assert!(placed["expires_at"].as_str().unwrap().ends_with("+08:00"));
    let balance = app.balance("PMJ-1", "CERT-1Y").await;
    assert_eq!((balance["held"].as_i64(), balance["available"].as_i64()), (Some(4), Some(6)));
    let committed = app.settle_hold(placed["id"].as_i64().unwrap(), "commit").await;
    assert_eq!(committed.status(), 200);
    assert_eq!(committed.json::<Value>().await.unwrap()["status"], "committed");
    let balance = app.balance("PMJ-1", "CERT-1Y").await;
    assert_eq!(
        (balance["held"].as_i64(), balance["consumed"].as_i64(), balance["available"].as_i64()),
        (Some(0), Some(4), Some(6))
    );
    app.assert_ledger_verifies().await;
}

async fn a_released_hold_gives_its_units_back(backend: Backend) {
    let app = setup(backend).await;
    let placed = hold(&app, "h1", 4, 600).await;
    let released = app.settle_hold(placed["id"].as_i64().unwrap(), "release").await;
    assert_eq!(released.json::<Value>().await.unwrap()["status"], "released");
    let balance = app.balance("PMJ-1", "CERT-1Y").await;
    assert_eq!(
        (balance["held"].as_i64(), balance["consumed"].as_i64(), balance["available"].as_i64()),
        (Some(0), Some(0), Some(10))
    );
    app.assert_ledger_verifies().await;
}

async fn a_hold_can_be_settled_only_once(backend: Backend) {
    let app = setup(backend).await;
    let id = hold(&app, "h1", 4, 600).await["id"].as_i64().unwrap();
    assert_eq!(app.settle_hold(id, "commit").await.status(), 200);
    let body = assert_problem(app.settle_hold(id, "release").await, 409, "/hold-not-pending").await;
    assert_eq!(body["hold"]["status"], "committed");
    assert_problem(app.settle_hold(id, "commit").await, 409, "/hold-not-pending").await;
    assert_problem(app.settle_hold(999_999, "commit").await, 404, "/not-found").await;
    assert_problem(app.settle_hold(0, "commit").await, 404, "/not-found").await;
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["consumed"], 4);
}

async fn an_expired_hold_gives_its_units_back_before_any_read(backend: Backend) {
    let app = setup(backend).await;
    let id = hold(&app, "h1", 4, 30).await["id"].as_i64().unwrap();
    app.clock.advance_seconds(31);
    // Read at once: the sweeper may not have run, the read must still be true.
    let balance = app.balance("PMJ-1", "CERT-1Y").await;
    assert_eq!((balance["held"].as_i64(), balance["available"].as_i64()), (Some(0), Some(10)));
    let body = assert_problem(app.settle_hold(id, "commit").await, 409, "/hold-not-pending").await;
    assert_eq!(body["hold"]["status"], "expired");
    let shown: Value = app.get(&format!("/api/v1/holds/{id}")).await.json().await.unwrap();
    assert_eq!(shown["status"], "expired");
    let ledger: Value = app.get("/api/v1/developers/PMJ-1/ledger").await.json().await.unwrap();
    let kinds: Vec<&str> = ledger["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["hold_expire", "hold", "adjust"]);
    assert_eq!(ledger["entries"][0]["actor"], "system:hold-expiry");
    app.assert_ledger_verifies().await;
}

async fn the_sweeper_expires_holds_on_its_own(backend: Backend) {
    let app = setup(backend).await;
    let id = hold(&app, "h1", 4, 5).await["id"].as_i64().unwrap();
    app.clock.advance_seconds(6);
    let mut status = String::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let row =
            sqlx::query("SELECT status FROM holds WHERE id = $1").bind(id).fetch_one(app.db.pool()).await.unwrap();
        status = sqlx::Row::try_get(&row, 0).unwrap();
        if status == "expired" {
            break;
        }
    }
    assert_eq!(status, "expired", "the background sweep expires due holds without any read");
    app.assert_ledger_verifies().await;
}

async fn a_hold_needs_available_units(backend: Backend) {
    let app = setup(backend).await;
    hold(&app, "h1", 8, 600).await;
    let body = assert_problem(app.place_hold("PMJ-1", "h2", "CERT-1Y", 3, 600).await, 409, "/insufficient-quota").await;
    assert_eq!(body["available"], 2);
    assert_problem(app.consume("PMJ-1", "c1", "CERT-1Y", 3).await, 409, "/insufficient-quota").await;
}
