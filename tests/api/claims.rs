//! A registration is a claim, not an identity: a squatter cannot keep a real
//! company out (pending claims for one SSM number stand side by side, retail
//! withdraws the false one and its code, number and e-mail addresses are free
//! at once), unverified claims expire, registrations are limited per client
//! address and their mails to retail overall, and a pending company cannot
//! invite users.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::on_both_backends;
use crate::people::{csrf, portal_session, post_form};

on_both_backends!(
    a_squatter_cannot_keep_a_real_company_out,
    an_unverified_claim_expires_and_frees_what_it_named,
    registrations_are_limited_per_address_and_mails_to_retail_overall,
    a_pending_company_cannot_invite_users,
    a_withdrawal_never_hits_the_wrong_claim,
);

fn registration(code: &str, registration_no: &str, user_email: &str) -> Value {
    json!({
        "company_name": "Maju Jaya Sdn. Bhd.", "registration_no": registration_no, "developer_code": code,
        "address": "No. 1, Jalan Ampang", "postcode": "50450", "state": "14", "contact_person": "Aminah binti Ali",
        "email": "urusan@majujaya.com.my", "phone": "012-345 6789",
        "user_name": "Aminah binti Ali", "user_email": user_email, "user_password": "kata-laluan-rahsia",
        "privacy_notice_acknowledged": true
    })
}

async fn register_from(app: &TestApp, address: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/registrations"))
        .header("X-Forwarded-For", address)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn sign_in_status(app: &TestApp, email: &str) -> u16 {
    let body = json!({"email": email, "password": "kata-laluan-rahsia"});
    app.client.post(app.url("/api/v1/tokens")).json(&body).send().await.unwrap().status().as_u16()
}

async fn a_squatter_cannot_keep_a_real_company_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let retail = app.add_user("retail@posdigicert.com.my", "retail", None).await;
    // The squatter takes the real company's code, SSM number and its officer's address.
    let squat = registration("MJ-77", "202001012345", "aminah@majujaya.com.my");
    assert_eq!(register_from(&app, "203.0.113.5", &squat).await.status(), 201);
    // The real company can still file its claim for its SSM number (under
    // another code for now), and retail sees both side by side.
    let real = registration("MJ-78", "202001012345", "pengarah@majujaya.com.my");
    assert_eq!(register_from(&app, "198.51.100.7", &real).await.status(), 201);
    let pending = kuota::developer::store::pending_registrations(app.db.pool()).await.unwrap();
    assert_eq!(pending.iter().map(|p| p.claims).collect::<Vec<_>>(), [2, 2]);
    // The held code is refused; a developer cannot withdraw, only retail.
    let same_code = registration("MJ-77", "202001012345", "lain@majujaya.com.my");
    assert_problem(register_from(&app, "198.51.100.7", &same_code).await, 409, "developer-exists").await;
    let reason = json!({"reason": "Bukan syarikat sebenar"});
    assert_problem(
        app.post_as(&app.hims_token, "/api/v1/developers/MJ-77/withdrawal", &reason).await,
        403,
        "forbidden",
    )
    .await;
    let withdrawn = app.post_as(&retail, "/api/v1/developers/MJ-77/withdrawal", &reason).await;
    assert_eq!(withdrawn.json::<Value>().await.unwrap()["status"], "withdrawn");
    assert_problem(
        app.post_as(&retail, "/api/v1/developers/MJ-77/withdrawal", &reason).await,
        409,
        "developer-not-pending",
    )
    .await;
    // At once: the squatter's user is gone and the code and address are free.
    assert_eq!(sign_in_status(&app, "aminah@majujaya.com.my").await, 401);
    let reclaimed = registration("MJ-77", "202001012345", "aminah@majujaya.com.my");
    assert_eq!(register_from(&app, "198.51.100.7", &reclaimed).await.status(), 201);
    assert_eq!(app.post_as(&retail, "/api/v1/developers/MJ-77/verification", &json!({})).await.status(), 200);
    assert_eq!(sign_in_status(&app, "aminah@majujaya.com.my").await, 201);
    // Verified, the SSM number is held: no new claim, and the other claim cannot be verified.
    let late = registration("MJ-79", "202001012345", "baru@majujaya.com.my");
    assert_problem(register_from(&app, "192.0.2.1", &late).await, 409, "registration-no-exists").await;
    assert_problem(
        app.post_as(&retail, "/api/v1/developers/MJ-78/verification", &json!({})).await,
        409,
        "registration-no-exists",
    )
    .await;
    // Audited with the addresses released and the real actor.
    let (actor, before): (String, String) =
        sqlx::query_as("SELECT actor, state_before FROM audit_log WHERE action = 'developer.withdraw'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(actor.starts_with("user:"), "{actor}");
    assert!(before.contains("aminah@majujaya.com.my"), "{before}");
    assert_eq!(app.balance("MJ-77", "CERT-1Y").await["available"], 0, "the verified company works by its code");
}

async fn an_unverified_claim_expires_and_frees_what_it_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let claim = registration("MJ-77", "202001012345", "aminah@majujaya.com.my");
    assert_eq!(register_from(&app, "203.0.113.5", &claim).await.status(), 201);
    app.clock.advance_seconds(13 * 86_400);
    assert_eq!(kuota::developer::service::expire_claims(&app.state).await.unwrap(), 0, "not yet");
    assert_eq!(sign_in_status(&app, "aminah@majujaya.com.my").await, 201);
    app.clock.advance_seconds(86_400 + 60);
    assert_eq!(kuota::developer::service::expire_claims(&app.state).await.unwrap(), 1);
    assert_eq!(kuota::developer::service::expire_claims(&app.state).await.unwrap(), 0, "once");
    assert_eq!(sign_in_status(&app, "aminah@majujaya.com.my").await, 401);
    assert_eq!(register_from(&app, "198.51.100.7", &claim).await.status(), 201, "code, number and address are free");
    assert_eq!(app.count("developers WHERE status = 'expired'").await, 1);
    assert_eq!(
        app.count("audit_log WHERE action = 'developer.expire' AND actor = 'system:registration-expiry'").await,
        1
    );
}

async fn registrations_are_limited_per_address_and_mails_to_retail_overall(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let register = |n: usize, address: String| {
        let app = &app;
        async move {
            let body =
                registration(&format!("MJ-{n}"), &format!("2020010{n:05}"), &format!("pengguna{n}@majujaya.com.my"));
            register_from(app, &address, &body).await
        }
    };
    for n in 0..5 {
        assert_eq!(register(n, "203.0.113.5".to_owned()).await.status(), 201);
    }
    let refused = register(5, "203.0.113.5".to_owned()).await;
    assert_problem(refused, 429, "too-many-requests").await;
    assert_eq!(app.count("developers").await, 5, "nothing written for the refused one");
    // Many addresses: every claim is kept, retail's mail stops at the hourly limit.
    for n in 6..(6 + 20) {
        assert_eq!(register(n, format!("198.51.100.{n}")).await.status(), 201);
    }
    assert_eq!(app.count("developers").await, 25);
    let mails = app.count("outbox WHERE kind = 'registration_received'").await;
    assert_eq!(mails, kuota::developer::service::REGISTRATION_MAILS_PER_HOUR);
    // An hour later the address may register again.
    app.clock.advance_seconds(3_601);
    assert_eq!(register(99, "203.0.113.5".to_owned()).await.status(), 201);
}

async fn a_pending_company_cannot_invite_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let claim = registration("MJ-77", "202001012345", "aminah@majujaya.com.my");
    assert_eq!(register_from(&app, "203.0.113.5", &claim).await.status(), 201);
    let session = portal_session(&app, "aminah@majujaya.com.my", "kata-laluan-rahsia").await.expect("signs in");
    let token = csrf(&app, &session, "/account").await;
    let form = [
        ("csrf", token.as_str()),
        ("email", "orang@luar.com.my"),
        ("name", "Orang Luar"),
        ("role", "developer_member"),
    ];
    let refused = post_form(&app, &session, "/company/users", &form).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("belum disahkan"));
    assert_eq!(app.count("users WHERE email = 'orang@luar.com.my'").await, 0, "the address is not taken");
}

/// A rejected claim frees its code, so the real company can claim it next;
/// withdrawing "that code" would then be ambiguous — it is refused, and the
/// real company's claim stays.
async fn a_withdrawal_never_hits_the_wrong_claim(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let retail = app.add_user("retail@posdigicert.com.my", "retail", None).await;
    let squat = registration("MJ-77", "202001012345", "palsu@luar.com.my");
    assert_eq!(register_from(&app, "203.0.113.5", &squat).await.status(), 201);
    let reason = json!({"reason": "Bukan syarikat sebenar"});
    assert_eq!(app.post_as(&retail, "/api/v1/developers/MJ-77/rejection", &reason).await.status(), 200);
    let real = registration("MJ-77", "202001012345", "aminah@majujaya.com.my");
    assert_eq!(register_from(&app, "198.51.100.7", &real).await.status(), 201);
    assert_problem(
        app.post_as(&retail, "/api/v1/developers/MJ-77/withdrawal", &reason).await,
        409,
        "developer-not-pending",
    )
    .await;
    assert_eq!(sign_in_status(&app, "aminah@majujaya.com.my").await, 201, "the real company's claim stands");
}
