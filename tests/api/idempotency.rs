//! Idempotency keys: replay, reuse with another body, per-client scope, and
//! many concurrent requests with one key.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(
    the_same_key_and_body_replay_the_first_answer,
    the_same_key_with_another_body_is_refused,
    a_refusal_is_replayed_too,
    keys_belong_to_one_client,
    twenty_concurrent_requests_with_one_key_write_one_entry,
    holds_are_idempotent,
);

async fn the_same_key_and_body_replay_the_first_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1Y", 10).await;
    let first = app.consume("PMJ-1", "same", "CERT-1Y", 4).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    app.consume("PMJ-1", "other", "CERT-1Y", 1).await;
    let again = app.consume("PMJ-1", "same", "CERT-1Y", 4).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "the replay is the first answer, available included");
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 5);
}

async fn the_same_key_with_another_body_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1Y", 10).await;
    assert_eq!(app.consume("PMJ-1", "same", "CERT-1Y", 4).await.status(), 201);
    assert_problem(app.consume("PMJ-1", "same", "CERT-1Y", 5).await, 422, "/idempotency-key-reused").await;
    let hold = app.place_hold("PMJ-1", "same", "CERT-1Y", 4, 60).await;
    assert_problem(hold, 422, "/idempotency-key-reused").await;
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 6);
}

async fn a_refusal_is_replayed_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    assert_problem(app.consume("PMJ-1", "k", "CERT-1Y", 4).await, 409, "/insufficient-quota").await;
    app.adjust("PMJ-1", "CERT-1Y", 10).await;
    let again = assert_problem(app.consume("PMJ-1", "k", "CERT-1Y", 4).await, 409, "/insufficient-quota").await;
    assert_eq!(again["available"], 0, "the first answer, not a new attempt");
    assert_eq!(app.consume("PMJ-1", "k2", "CERT-1Y", 4).await.status(), 201, "a new key is a new attempt");
}

async fn keys_belong_to_one_client(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1Y", 10).await;
    let body = json!({"product": "CERT-1Y", "units": 2, "reference": "x"});
    assert_eq!(app.consume_as(&app.hims_token, "PMJ-1", "k", &body).await.status(), 201);
    assert_eq!(app.consume_as(&app.admin_token, "PMJ-1", "k", &body).await.status(), 201);
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 6);
}

async fn twenty_concurrent_requests_with_one_key_write_one_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1Y", 100).await;
    let entries_before = app.count("ledger_entries").await;
    let requests = (0..20).map(|_| app.consume("PMJ-1", "one-key", "CERT-1Y", 3));
    let responses = futures_join_all(requests).await;
    let mut bodies = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        bodies.push(response.text().await.unwrap());
    }
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]), "identical answers: {bodies:?}");
    assert_eq!(app.count("ledger_entries").await, entries_before + 1);
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 97);
}

async fn holds_are_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1M", 10).await;
    let first: Value = app.place_hold("PMJ-1", "h", "CERT-1M", 3, 60).await.json().await.unwrap();
    let again: Value = app.place_hold("PMJ-1", "h", "CERT-1M", 3, 60).await.json().await.unwrap();
    assert_eq!(first, again);
    assert_eq!(app.balance("PMJ-1", "CERT-1M").await["held"], 3);
}

/// Runs futures concurrently (a tiny join_all on tokio tasks would need 'static).
pub async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut pending: Vec<_> = futures.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(index, future)| match future.as_mut().poll(cx) {
            std::task::Poll::Ready(output) => {
                results[*index] = Some(output);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    results.into_iter().map(|r| r.expect("every future finished")).collect()
}
