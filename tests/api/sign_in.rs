//! Signing in under attack: parallel guesses, unknown accounts, a guesser
//! trying to lock staff out, forged client addresses.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(
    parallel_guesses_cannot_all_pass_the_throttle,
    unknown_and_known_accounts_get_the_same_answers,
    a_guesser_cannot_lock_the_owner_out,
    a_client_cannot_choose_its_own_address,
    a_flood_from_one_address_is_refused_before_any_database_work,
);

const PASSWORD: &str = "kata-laluan-ujian";

async fn attempt(app: &TestApp, email: &str, password: &str, from: Option<&str>) -> StatusCode {
    let mut request = app.client.post(app.url("/api/v1/tokens")).json(&json!({"email": email, "password": password}));
    if let Some(address) = from {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap().status()
}

/// Before the fix, every one of N parallel guesses passed the failure count
/// (counted, then hashed, then recorded) and was checked.
async fn parallel_guesses_cannot_all_pass_the_throttle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("retail@posdigicert.com.my", "retail", None).await;
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..20 {
        let request = app
            .client
            .post(app.url("/api/v1/tokens"))
            .header("x-forwarded-for", "203.0.113.7")
            .json(&json!({"email": "retail@posdigicert.com.my", "password": format!("tekaan-salah-{n}")}));
        guesses.spawn(async move { request.send().await.unwrap().status() });
    }
    let answers = guesses.join_all().await;
    let checked = answers.iter().filter(|status| **status == StatusCode::UNAUTHORIZED).count();
    let refused = answers.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked <= 5, "at most five guesses are checked: {answers:?}");
    assert_eq!(checked + refused, 20, "{answers:?}");
}

async fn unknown_and_known_accounts_get_the_same_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("finance@posdigicert.com.my", "finance", None).await;
    for email in ["finance@posdigicert.com.my", "nobody@posdigicert.com.my"] {
        let mut answers = Vec::new();
        for _ in 0..6 {
            answers.push(attempt(&app, email, "salah-salah-salah", Some("198.51.100.9")).await);
        }
        let expected = [[StatusCode::UNAUTHORIZED; 5].as_slice(), &[StatusCode::TOO_MANY_REQUESTS]].concat();
        assert_eq!(answers, expected, "{email}");
    }
}

async fn a_guesser_cannot_lock_the_owner_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("admin@posdigicert.com.my", "admin", None).await;
    for _ in 0..10 {
        attempt(&app, "admin@posdigicert.com.my", "salah-salah-salah", Some("203.0.113.7")).await;
    }
    assert_eq!(
        attempt(&app, "admin@posdigicert.com.my", PASSWORD, Some("203.0.113.7")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the guesser's address is locked, even with the right password"
    );
    assert_eq!(
        attempt(&app, "admin@posdigicert.com.my", PASSWORD, Some("198.51.100.2")).await,
        StatusCode::CREATED,
        "the owner, from their own address, signs in"
    );
}

/// Only a trusted proxy's X-Forwarded-For is believed: a client that is not
/// one cannot rotate fake addresses past the throttle.
async fn a_client_cannot_choose_its_own_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let untrusted = app.state.clone().with_trusted_proxies(&[]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let router = kuota::startup::app(untrusted).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await });
    app.add_user("retail@posdigicert.com.my", "retail", None).await;
    let mut answers = Vec::new();
    for n in 0..7 {
        let status = app
            .client
            .post(format!("{address}/api/v1/tokens"))
            .header("x-forwarded-for", format!("192.0.2.{n}"))
            .json(&json!({"email": "retail@posdigicert.com.my", "password": "salah-salah-salah"}))
            .send()
            .await
            .unwrap()
            .status();
        answers.push(status);
    }
    assert_eq!(answers[5], StatusCode::TOO_MANY_REQUESTS, "the forged addresses were ignored: {answers:?}");
}

/// The public doors admit a burst per address, refilled over time; the rest
/// is refused in memory: no attempt recorded, no registration counted, no
/// password hashed, while other addresses and HIMS go on.
async fn a_flood_from_one_address_is_refused_before_any_database_work(backend: Backend) {
    let allowance = kuota::auth::admission::Allowance {
        burst: 5,
        refill_every: std::time::Duration::from_secs(3600),
        tarpit: std::time::Duration::from_millis(200),
    };
    let app = TestApp::spawn_admitting(backend, allowance).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.add_user("retail@posdigicert.com.my", "retail", None).await;
    let mut statuses = Vec::new();
    for n in 0..12 {
        statuses.push(attempt(&app, "retail@posdigicert.com.my", &format!("tekaan-{n}"), Some("203.0.113.9")).await);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count(), 5, "the burst is judged");
    // A refusal waits out the tarpit before it is answered.
    let started = kuota::clock::monotonic_now();
    assert_eq!(
        attempt(&app, "retail@posdigicert.com.my", "lagi", Some("203.0.113.9")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(200), "answered after the pause");
    assert!(statuses[5..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(
        app.count("sign_in_attempts WHERE address = '203.0.113.9'").await,
        5,
        "the rest never reached the database"
    );
    // Registrations share the door.
    let registration =
        app.client.post(app.url("/api/v1/registrations")).header("x-forwarded-for", "203.0.113.9").json(&json!({}));
    assert_eq!(registration.send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    // The owner, from another address, and HIMS are not affected.
    assert_eq!(attempt(&app, "retail@posdigicert.com.my", PASSWORD, Some("198.51.100.20")).await, StatusCode::CREATED);
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 0);
}
