//! Two people for large credits: a payment approval or a quota adjustment
//! above its threshold credits nothing until a different retail officer or
//! administrator confirms it; the first cannot, a developer never can; either
//! cancels with a reason; concurrent confirmations credit once.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, pdf_bytes};
use crate::idempotency::futures_join_all;
use crate::on_both_backends;
use crate::people::{PASSWORD, csrf, page, portal_session, post_form};
use crate::workflow::setup;

on_both_backends!(
    a_large_payment_is_credited_only_when_a_second_person_approves,
    a_large_adjustment_waits_and_either_person_can_cancel_it,
    two_second_people_confirming_at_once_credit_once,
    rejecting_a_payment_ends_its_waiting_approval,
    the_retail_queue_shows_what_waits_and_the_second_person_confirms_there,
);

/// A quoted and paid request of `units` CERT-1Y; the payment's id.
async fn paid_request(app: &TestApp, developer: &str, retail: &str, units: i64) -> (i64, i64) {
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": units}]});
    let id = app.post_as(developer, "/api/v1/quota-requests", &body).await.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let quotation: Value =
        app.post_as(retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({})).await.json().await.unwrap();
    let total = quotation["total"].as_str().unwrap().to_owned();
    let paid = app
        .submit_payment(
            developer,
            id,
            "bank_transfer",
            &format!("TRX-{id}"),
            &total,
            "bukti.pdf",
            pdf_bytes(&format!("p{id}")),
        )
        .await;
    assert_eq!(paid.status(), 201);
    (id, paid.json::<Value>().await.unwrap()["id"].as_i64().unwrap())
}

async fn waiting(app: &TestApp, retail: &str) -> Vec<Value> {
    let list: Value = app.get_as(retail, "/api/v1/second-approvals").await.json().await.unwrap();
    list["second_approvals"].as_array().unwrap().clone()
}

async fn a_large_payment_is_credited_only_when_a_second_person_approves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let second = app.add_user("retail2@posdigicert.com.my", "retail", None).await;
    let (request_id, payment) = paid_request(&app, &parties.developer, &parties.retail, 1_200).await;
    let approve = format!("/api/v1/payments/{payment}/approval");
    let first = app.post_as(&parties.retail, &approve, &json!({})).await;
    assert_eq!(first.status(), 202);
    let approval = first.json::<Value>().await.unwrap()["second_approval"].as_i64().unwrap();
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 0, "nothing credited yet");
    let listed = waiting(&app, &parties.retail).await;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0]["kind"].as_str(), listed[0]["units"].as_i64()), (Some("payment"), Some(1_200)));
    // The first person cannot be the second, by either route; a developer never can.
    assert_problem(app.post_as(&parties.retail, &approve, &json!({})).await, 409, "second-person-required").await;
    let confirm = format!("/api/v1/second-approvals/{approval}/confirmation");
    assert_problem(app.post_as(&parties.retail, &confirm, &json!({})).await, 409, "second-person-required").await;
    // Nor can an API client (an administrator could make one to be their own second).
    for token in [&parties.developer, &parties.finance, &app.hims_token, &app.admin_token] {
        assert_problem(app.post_as(token, &confirm, &json!({})).await, 403, "forbidden").await;
    }
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 0);
    // The second person credits.
    let confirmed = app.post_as(&second, &confirm, &json!({})).await;
    assert_eq!(confirmed.status(), 200);
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 1_200);
    let request: Value =
        app.get_as(&parties.retail, &format!("/api/v1/quota-requests/{request_id}")).await.json().await.unwrap();
    assert_eq!(request["status"], "credited");
    assert!(waiting(&app, &parties.retail).await.is_empty());
    assert_problem(app.post_as(&second, &confirm, &json!({})).await, 404, "not-found").await;
    // Audited both times, each with its own actor.
    let actors: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE action IN ('approval.request', 'approve_payment') ORDER BY id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(actors.len(), 2, "{actors:?}");
    assert_ne!(actors[0].1, actors[1].1, "two different people");
    // A payment at the threshold is approved by one person at once.
    let (_, small) = paid_request(&app, &parties.developer, &parties.retail, 1_000).await;
    assert_eq!(
        app.post_as(&parties.retail, &format!("/api/v1/payments/{small}/approval"), &json!({})).await.status(),
        200
    );
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 2_200);
    app.assert_ledger_verifies().await;
}

async fn a_large_adjustment_waits_and_either_person_can_cancel_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let second = app.add_user("retail2@posdigicert.com.my", "retail", None).await;
    let adjust = |token: &str, units: i64| {
        let body = json!({"product": "CERT-1Y", "units": units, "reason": "Pemindahan baki"});
        let request = app.client.post(app.url("/api/v1/developers/PMJ-1/adjustments")).bearer_auth(token).json(&body);
        async move { request.send().await.unwrap() }
    };
    // Above the threshold an API client cannot even ask: only people count.
    assert_problem(app.adjust("PMJ-1", "CERT-1Y", 5_000).await, 403, "forbidden").await;
    let asked = adjust(&parties.retail, 5_000).await;
    assert_eq!(asked.status(), 202);
    let approval = asked.json::<Value>().await.unwrap()["second_approval"].as_i64().unwrap();
    let again = adjust(&parties.retail, 5_000).await.json::<Value>().await.unwrap();
    assert_eq!(again["second_approval"].as_i64(), Some(approval), "asking twice asks once");
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 0);
    let confirm = format!("/api/v1/second-approvals/{approval}/confirmation");
    assert_problem(app.post_as(&parties.retail, &confirm, &json!({})).await, 409, "second-person-required").await;
    // The second person cancels (a reason is required); nothing is credited.
    let cancel = format!("/api/v1/second-approvals/{approval}/cancellation");
    assert_problem(app.post_as(&second, &cancel, &json!({"reason": " "})).await, 400, "validation").await;
    assert_eq!(app.post_as(&second, &cancel, &json!({"reason": "Tiada dokumen sokongan"})).await.status(), 200);
    assert_problem(app.post_as(&second, &confirm, &json!({})).await, 404, "not-found").await;
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 0);
    // A removal the balance cannot bear stays waiting until it can.
    let removal =
        adjust(&parties.retail, -1_500).await.json::<Value>().await.unwrap()["second_approval"].as_i64().unwrap();
    let confirm = format!("/api/v1/second-approvals/{removal}/confirmation");
    assert_problem(app.post_as(&second, &confirm, &json!({})).await, 409, "insufficient-quota").await;
    assert_eq!(waiting(&app, &parties.retail).await.len(), 1, "still waiting");
    for _ in 0..2 {
        assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 1_000).await.status(), 201, "at the threshold: at once");
    }
    let booked = app.post_as(&second, &confirm, &json!({})).await;
    assert_eq!(booked.status(), 201);
    assert_eq!(booked.json::<Value>().await.unwrap()["units"], -1_500);
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 500);
    let entry_actor: String = sqlx::query_scalar("SELECT actor FROM ledger_entries WHERE units = -1500")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let second_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = 'retail2@posdigicert.com.my'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(entry_actor, format!("user:{second_id}"), "the entry names who confirmed it");
    assert_eq!(app.count("audit_log WHERE action = 'approval.cancel'").await, 1);
    assert_eq!(app.count("audit_log WHERE action = 'approval.confirm'").await, 1);
    app.assert_ledger_verifies().await;
}

async fn two_second_people_confirming_at_once_credit_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let seconds = [
        app.add_user("retail2@posdigicert.com.my", "retail", None).await,
        app.add_user("retail3@posdigicert.com.my", "retail", None).await,
        app.add_user("pentadbir@posdigicert.com.my", "admin", None).await,
    ];
    let body = json!({"product": "CERT-1Y", "units": 7_000, "reason": "Pemindahan baki"});
    let asked = app.post_as(&parties.retail, "/api/v1/developers/PMJ-1/adjustments", &body).await;
    let approval = asked.json::<Value>().await.unwrap()["second_approval"].as_i64().unwrap();
    let confirm = format!("/api/v1/second-approvals/{approval}/confirmation");
    let empty = json!({});
    let answers = futures_join_all(seconds.iter().map(|token| app.post_as(token, &confirm, &empty))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| [201, 404].contains(s)), "{statuses:?}");
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 7_000);
    app.assert_ledger_verifies().await;
}

async fn rejecting_a_payment_ends_its_waiting_approval(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let second = app.add_user("retail2@posdigicert.com.my", "retail", None).await;
    let (_, payment) = paid_request(&app, &parties.developer, &parties.retail, 2_000).await;
    let first = app.post_as(&parties.retail, &format!("/api/v1/payments/{payment}/approval"), &json!({})).await;
    let approval = first.json::<Value>().await.unwrap()["second_approval"].as_i64().unwrap();
    let rejected = app
        .post_as(&second, &format!("/api/v1/payments/{payment}/rejection"), &json!({"reason": "Jumlah tidak diterima"}))
        .await;
    assert_eq!(rejected.status(), 200);
    assert!(waiting(&app, &parties.retail).await.is_empty());
    let confirm = format!("/api/v1/second-approvals/{approval}/confirmation");
    assert_problem(app.post_as(&second, &confirm, &json!({})).await, 404, "not-found").await;
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 0);
}

async fn the_retail_queue_shows_what_waits_and_the_second_person_confirms_there(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    app.add_user("retail2@posdigicert.com.my", "retail", None).await;
    let (request_id, payment) = paid_request(&app, &parties.developer, &parties.retail, 1_500).await;
    let first = portal_session(&app, "retail@posdigicert.com.my", PASSWORD).await.unwrap();
    let token = csrf(&app, &first, &format!("/requests/{request_id}")).await;
    let payment = payment.to_string();
    let approved =
        post_form(&app, &first, &format!("/requests/{request_id}/approve"), &[("csrf", &token), ("payment", &payment)])
            .await;
    assert_eq!(approved.status(), 303);
    let location = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("done=approve-awaiting"), "{location}");
    let own_queue = page(&app, &first, "/requests").await.text().await.unwrap();
    assert!(own_queue.contains("Menunggu kelulusan orang kedua"));
    assert!(own_queue.contains("Anda yang memohon"), "the one who asked is told to wait for another");
    let approval = waiting(&app, &parties.retail).await[0]["id"].as_i64().unwrap();
    assert!(!own_queue.contains(&format!("action=\"/approvals/{approval}/confirm\"")), "and is not offered to confirm");
    let second = portal_session(&app, "retail2@posdigicert.com.my", PASSWORD).await.unwrap();
    let queue = page(&app, &second, "/requests").await.text().await.unwrap();
    assert!(queue.contains(&format!("action=\"/approvals/{approval}/confirm\"")));
    let token = csrf(&app, &second, "/requests").await;
    // The first officer cannot confirm even by posting the form.
    let own_token = csrf(&app, &first, "/requests").await;
    let refused = post_form(&app, &first, &format!("/approvals/{approval}/confirm"), &[("csrf", &own_token)]).await;
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.unwrap().contains("tidak boleh mengesahkannya"));
    let confirmed = post_form(&app, &second, &format!("/approvals/{approval}/confirm"), &[("csrf", &token)]).await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 1_500);
}
