//! Personal data (PDPA 2010): the notice in both languages, linked from
//! every page, acknowledged at self-registration and on accepting an
//! invitation; departed users' personal data replaced by a pseudonym after
//! the retention setting, with the ledger and audit trail intact; and a
//! company administrator's export of the company's personal data.

use reqwest::header::COOKIE;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::mail::{SmtpServer, free_port};
use crate::on_both_backends;
use crate::people::{PASSWORD, csrf, portal_session, post_form};
use crate::portal::link_token;
use crate::workflow::setup;

on_both_backends!(
    the_notice_is_in_both_languages_and_linked_from_every_page,
    registration_and_invitation_acknowledge_the_notice,
    departed_users_become_pseudonyms_after_the_retention_period,
    a_company_administrator_exports_the_companys_personal_data,
);

async fn the_notice_is_in_both_languages_and_linked_from_every_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let malay = app.client.get(app.url("/privacy")).send().await.unwrap();
    assert_eq!(malay.status(), 200);
    let malay = malay.text().await.unwrap();
    assert!(malay.contains("Notis data peribadi") && malay.contains("Akta Perlindungan Data Peribadi 2010"));
    assert!(malay.contains("24 bulan"), "the retention setting is quoted");
    assert!(malay.contains("kpkt.retail@posdigicert.com.my"), "whom to contact");
    let english =
        app.client.get(app.url("/privacy")).header(COOKIE, "kuota_lang=en").send().await.unwrap().text().await.unwrap();
    assert!(english.contains("Personal data notice") && english.contains("Personal Data Protection Act 2010"));
    for path in ["/login", "/register", "/password/forgot"] {
        let html = app.client.get(app.url(path)).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("href=\"/privacy\""), "{path} links the notice");
    }
}

fn registration(acknowledged: Option<bool>) -> Value {
    let mut body = json!({
        "company_name": "Maju Jaya Sdn. Bhd.", "registration_no": "202001012345", "developer_code": "MJ-77",
        "address": "No. 1, Jalan Ampang", "postcode": "50450", "state": "14", "contact_person": "Aminah binti Ali",
        "email": "urusan@majujaya.com.my", "phone": "012-345 6789",
        "user_name": "Aminah binti Ali", "user_email": "aminah@majujaya.com.my", "user_password": "kata-laluan-rahsia"
    });
    if let Some(acknowledged) = acknowledged {
        body["privacy_notice_acknowledged"] = json!(acknowledged);
    }
    body
}

async fn registration_and_invitation_acknowledge_the_notice(backend: Backend) {
    let port = free_port();
    let server = SmtpServer::start(port, std::env::temp_dir().join(format!("kuota-mail-{port}")));
    let app = TestApp::spawn_with_mail(backend, Some(format!("smtp://127.0.0.1:{port}"))).await;
    setup(&app).await;
    for refused in [None, Some(false)] {
        let answer =
            app.client.post(app.url("/api/v1/registrations")).json(&registration(refused)).send().await.unwrap();
        let problem = assert_problem(answer, 400, "validation").await;
        assert_eq!(problem["errors"][0]["field"], "privacy_notice_acknowledged");
    }
    assert_eq!(app.count("developers WHERE code = 'MJ-77'").await, 0, "nothing written");
    let registered =
        app.client.post(app.url("/api/v1/registrations")).json(&registration(Some(true))).send().await.unwrap();
    assert_eq!(registered.status(), 201);
    assert_eq!(
        app.count("users WHERE email = 'aminah@majujaya.com.my' AND privacy_acknowledged_at IS NOT NULL").await,
        1
    );
    // An invited colleague acknowledges it when setting a password.
    let admin = portal_session(&app, "pemaju@maju.com.my", PASSWORD).await.unwrap();
    let token = csrf(&app, &admin, "/company").await;
    let form = [
        ("csrf", token.as_str()),
        ("email", "rakan@maju.com.my"),
        ("name", "Rakan Sekerja"),
        ("role", "developer_member"),
    ];
    assert_eq!(post_form(&app, &admin, "/company/users", &form).await.status(), 303);
    let link = link_token(&app, &server, "rakan@maju.com.my").await;
    let page =
        app.client.get(app.url(&format!("/password/reset?token={link}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("privacy_notice_acknowledged") && page.contains("href=\"/privacy\""));
    let set = |acknowledged: bool| {
        let mut form = vec![
            ("token", link.clone()),
            ("password", "kata-laluan-rakan".to_owned()),
            ("confirmation", "kata-laluan-rakan".to_owned()),
        ];
        if acknowledged {
            form.push(("privacy_notice_acknowledged", "on".to_owned()));
        }
        let request = app.client.post(app.url("/password/reset")).form(&form);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(set(false).await, 400);
    assert_eq!(set(true).await, 200);
    assert_eq!(app.count("users WHERE email = 'rakan@maju.com.my' AND privacy_acknowledged_at IS NOT NULL").await, 1);
}

async fn departed_users_become_pseudonyms_after_the_retention_period(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let leaver = app.add_user("bekas@maju.com.my", "developer_member", Some("PMJ-1")).await;
    // The leaver leaves a trace: a request of theirs, in the timeline and audit trail.
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 3}]});
    assert_eq!(app.post_as(&leaver, "/api/v1/quota-requests", &body).await.status(), 201);
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'bekas@maju.com.my'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let reason = json!({"reason": "Berhenti kerja"});
    assert_eq!(
        app.post_as(&parties.developer, &format!("/api/v1/users/{id}/deactivation"), &reason).await.status(),
        200
    );
    app.clock.advance_seconds(23 * 30 * 86_400);
    assert_eq!(kuota::privacy::anonymise_departed(&app.state).await.unwrap(), 0, "not before the retention period");
    app.clock.advance_seconds(2 * 30 * 86_400);
    assert_eq!(kuota::privacy::anonymise_departed(&app.state).await.unwrap(), 1);
    assert_eq!(kuota::privacy::anonymise_departed(&app.state).await.unwrap(), 0, "once");
    let (name, email): (String, String) =
        sqlx::query_as("SELECT name, email FROM users WHERE id = $1").bind(id).fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(name, format!("Pengguna #{id}"));
    assert_eq!(email, format!("erased-{id}@kuota.invalid"));
    assert_eq!(app.count("users WHERE email = 'bekas@maju.com.my'").await, 0, "the address is gone");
    // The trail and the ledger still prove themselves, and point at the pseudonym.
    app.assert_ledger_verifies().await;
    assert_eq!(app.count(&format!("audit_log WHERE action = 'user.anonymise' AND subject = 'user:{id}'")).await, 1);
    let events: i64 = app.count(&format!("quota_request_events WHERE actor = 'user:{id}'")).await;
    assert!(events >= 1, "the request's history still names user:{id}");
}

async fn a_company_administrator_exports_the_companys_personal_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    app.add_developer("PMJ-2", "201901000013").await;
    let member = app.add_user("ahli@maju.com.my", "developer_member", Some("PMJ-1")).await;
    let other = app.add_user("pentadbir@lain.com.my", "developer_admin", Some("PMJ-2")).await;
    let path = "/api/v1/developers/PMJ-1/personal-data";
    let exported: Value = app.get_as(&parties.developer, path).await.json().await.unwrap();
    assert_eq!(exported["company"]["code"], "PMJ-1");
    let emails: Vec<&str> =
        exported["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["pemaju@maju.com.my", "ahli@maju.com.my"]);
    assert!(exported["users"][0].get("password_hash").is_none(), "no secret is exported");
    assert_problem(app.get_as(&member, path).await, 403, "forbidden").await;
    assert_problem(app.get_as(&other, path).await, 404, "not-found").await;
    assert_eq!(app.get_as(&app.admin_token, path).await.status(), 200);
    assert_eq!(app.count("audit_log WHERE action = 'developer.personal_data_export'").await, 2);
}
