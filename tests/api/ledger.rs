//! Balances, consumptions, adjustments and the entry listing.

use serde_json::Value;

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(
    balances_list_every_active_product_with_zeros,
    a_consumption_takes_units_and_is_in_the_ledger,
    consuming_more_than_available_is_refused_with_the_balance,
    negative_adjustments_never_take_available_below_zero,
    only_admins_adjust,
    the_ledger_pages_newest_first_without_gaps,
    the_ledger_filters_by_product,
    health_and_readiness_answer,
);

async fn balances_list_every_active_product_with_zeros(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    let body: Value = app.get("/api/v1/developers/pmj-1/balances").await.json().await.unwrap();
    assert_eq!(body["developer"], "PMJ-1");
    let products: Vec<&str> =
        body["balances"].as_array().unwrap().iter().map(|b| b["product"].as_str().unwrap()).collect();
    assert_eq!(products, ["CERT-1M", "CERT-1Y"]);
    for balance in body["balances"].as_array().unwrap() {
        for part in ["credited", "consumed", "held", "available"] {
            assert_eq!(balance[part], 0, "{part} of {balance}");
        }
    }
}

async fn a_consumption_takes_units_and_is_in_the_ledger(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 10).await.status(), 201);
    let response = app.consume("PMJ-1", "k1", "CERT-1Y", 3).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["product"].as_str(), body["units"].as_i64(), body["available"].as_i64()),
        (Some("CERT-1Y"), Some(3), Some(7))
    );
    assert_eq!(body["reference"], "cert-k1");
    let balance = app.balance("PMJ-1", "CERT-1Y").await;
    assert_eq!(
        (balance["credited"].as_i64(), balance["consumed"].as_i64(), balance["available"].as_i64()),
        (Some(10), Some(3), Some(7))
    );
    let ledger: Value = app.get("/api/v1/developers/PMJ-1/ledger").await.json().await.unwrap();
    let newest = &ledger["entries"][0];
    assert_eq!((newest["kind"].as_str(), newest["units"].as_i64()), (Some("consume"), Some(3)));
    assert_eq!(newest["id"], body["id"]);
    assert!(newest["at"].as_str().unwrap().ends_with("+08:00"), "times are shown in Kuala Lumpur: {newest}");
    assert!(newest["actor"].as_str().unwrap().starts_with("api_client:"));
    app.assert_ledger_verifies().await;
}

async fn consuming_more_than_available_is_refused_with_the_balance(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1M", 2).await;
    let body = assert_problem(app.consume("PMJ-1", "k1", "CERT-1M", 3).await, 409, "/insufficient-quota").await;
    assert_eq!(body["available"], 2);
    let body = assert_problem(app.consume("PMJ-1", "k2", "CERT-1Y", 1).await, 409, "/insufficient-quota").await;
    assert_eq!(body["available"], 0, "an account never used has nothing available");
    assert_eq!(app.balance("PMJ-1", "CERT-1M").await["available"], 2);
    assert_eq!(app.count("ledger_entries").await, 1, "only the credit is in the ledger");
}

async fn negative_adjustments_never_take_available_below_zero(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1Y", 5).await;
    assert_eq!(app.consume("PMJ-1", "k1", "CERT-1Y", 2).await.status(), 201);
    let body = assert_problem(app.adjust("PMJ-1", "CERT-1Y", -4).await, 409, "/insufficient-quota").await;
    assert_eq!(body["available"], 3);
    let response = app.adjust("PMJ-1", "CERT-1Y", -3).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!((body["units"].as_i64(), body["available"].as_i64()), (Some(-3), Some(0)));
    let balance = app.balance("PMJ-1", "CERT-1Y").await;
    assert_eq!((balance["credited"].as_i64(), balance["consumed"].as_i64()), (Some(2), Some(2)));
    app.assert_ledger_verifies().await;
}

async fn only_admins_adjust(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    let response = app
        .client
        .post(app.url("/api/v1/developers/PMJ-1/adjustments"))
        .bearer_auth(&app.hims_token)
        .json(&serde_json::json!({"product": "CERT-1Y", "units": 5, "reason": "gift"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "/forbidden").await;
    assert_eq!(app.count("ledger_entries").await, 0);
}

async fn the_ledger_pages_newest_first_without_gaps(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1Y", 1000).await;
    for i in 0..24 {
        assert_eq!(app.consume("PMJ-1", &format!("k{i}"), "CERT-1Y", 1).await.status(), 201);
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(cursor) => format!("/api/v1/developers/PMJ-1/ledger?limit=10&after={cursor}"),
            None => "/api/v1/developers/PMJ-1/ledger?limit=10".to_owned(),
        };
        let page: Value = app.get(&path).await.json().await.unwrap();
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 10);
        seen.extend(entries.iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25, "24 consumptions and the credit");
    assert!(seen.windows(2).all(|pair| pair[0] > pair[1]), "strictly newest first: {seen:?}");
}

async fn the_ledger_filters_by_product(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1Y", 5).await;
    app.adjust("PMJ-1", "CERT-1M", 5).await;
    app.consume("PMJ-1", "k1", "CERT-1M", 1).await;
    let page: Value = app.get("/api/v1/developers/PMJ-1/ledger?product=CERT-1M").await.json().await.unwrap();
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e["product"] == "CERT-1M"));
    assert_eq!(page["next"], Value::Null);
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);
    let docs = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("/api/v1/openapi.json"));
}
