//! Messages kuota sends on its own — quotation expiry warnings, the daily
//! overdue digest, low / zero balance alerts — each written once to the
//! outbox whatever how often (and on how many nodes) the sweep runs; and the
//! procedure attachments an administrator uploads.

use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, pdf_bytes};
use crate::mail::put_procedure;
use crate::on_both_backends;
use crate::workflow::setup;

on_both_backends!(
    a_quotation_is_announced_once_three_working_days_before_it_runs_out,
    the_overdue_digest_goes_once_per_working_day_after_eight,
    balance_alerts_follow_each_crossing_of_the_developers_threshold,
    procedure_attachments_are_pdfs_only_an_administrator_changes,
);

/// Sets the test clock to `hour`:00 in Kuala Lumpur on `day`.
fn set_local(app: &TestApp, day: Date, hour: i8) {
    let instant = day.at(hour, 0, 0, 0).to_zoned(TimeZone::get("Asia/Kuala_Lumpur").unwrap()).unwrap().timestamp();
    app.clock.set(instant);
}

/// Runs the reminder sweep, sometimes twice at once as two nodes would.
async fn sweep(app: &TestApp) {
    let state = &app.state;
    let (a, b) = tokio::join!(
        kuota::notify::reminders::run(&state.db, state.clock.as_ref(), &state.public_url),
        kuota::notify::reminders::run(&state.db, state.clock.as_ref(), &state.public_url),
    );
    a.unwrap();
    b.unwrap();
}

/// The messages of `kind` to the developer's administrator.
async fn told(app: &TestApp, kind: &str) -> Vec<(String, String, String)> {
    outbox(app, kind).await.into_iter().filter(|(to, _, _)| to == "pemaju@maju.com.my").collect()
}

async fn outbox(app: &TestApp, kind: &str) -> Vec<(String, String, String)> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT recipient, subject, body_text FROM outbox WHERE kind = $1 ORDER BY id")
            .bind(kind)
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    rows
}

async fn a_quotation_is_announced_once_three_working_days_before_it_runs_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let start = date(2026, 12, 1); // a Tuesday
    set_local(&app, start, 10);
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 20}]});
    let id =
        app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
    let quotation: Value = app
        .post_as(&parties.retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let valid_until: Date = quotation["valid_until"].as_str().unwrap().parse().unwrap();
    let calendar = kuota::settings::working_calendar(app.db.pool()).await.unwrap();
    let mut day = start;
    let mut announced_on = None;
    while day <= valid_until {
        set_local(&app, day, 10);
        sweep(&app).await;
        if announced_on.is_none() && !outbox(&app, "quotation_expiring").await.is_empty() {
            announced_on = Some(day);
        }
        day = day.tomorrow().unwrap();
    }
    let announced_on = announced_on.expect("the expiry was announced");
    assert!(calendar.working_days_between(announced_on, valid_until) <= 3);
    let day_before = announced_on.yesterday().unwrap();
    assert!(calendar.working_days_between(day_before, valid_until) > 3, "not earlier than needed");
    let sent = outbox(&app, "quotation_expiring").await;
    assert_eq!(sent.len(), 1, "once, however often the sweep ran");
    let (to, subject, text) = &sent[0];
    assert_eq!(to, "pemaju@maju.com.my");
    let valid_until_text = valid_until.strftime("%d/%m/%Y").to_string();
    assert!(
        subject.contains(quotation["number"].as_str().unwrap()) && subject.contains(&valid_until_text),
        "{subject}"
    );
    assert!(text.contains("REQ-2026-") && text.contains("https://kuota.test"), "{text}");
}

async fn the_overdue_digest_goes_once_per_working_day_after_eight(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    set_local(&app, date(2026, 12, 1), 10); // Tuesday; retail has until Thursday
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 20}]});
    let request: Value = app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    let number = request["number"].as_str().unwrap();
    // Friday before eight: nothing yet.
    set_local(&app, date(2026, 12, 4), 7);
    sweep(&app).await;
    assert!(outbox(&app, "overdue_digest").await.is_empty());
    // Friday after eight: one digest to retail naming the late request; none to finance.
    set_local(&app, date(2026, 12, 4), 9);
    sweep(&app).await;
    sweep(&app).await;
    let sent = outbox(&app, "overdue_digest").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (to, subject, text) = &sent[0];
    assert_eq!(to, "kpkt.retail@posdigicert.com.my");
    assert!(subject.contains('1'), "{subject}");
    assert!(text.contains(number) && text.contains("PMJ-1") && text.contains("03/12/2026"), "{text}");
    assert!(text.contains("lewat 1 hari bekerja"), "{text}");
    // Saturday: no digest; Monday: the next one.
    set_local(&app, date(2026, 12, 5), 9);
    sweep(&app).await;
    assert_eq!(outbox(&app, "overdue_digest").await.len(), 1);
    set_local(&app, date(2026, 12, 7), 9);
    sweep(&app).await;
    let sent = outbox(&app, "overdue_digest").await;
    assert_eq!(sent.len(), 2);
    assert!(sent[1].2.contains("lewat 2 hari bekerja"), "{}", sent[1].2);
}

async fn balance_alerts_follow_each_crossing_of_the_developers_threshold(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let member = app.add_user("ahli@maju.com.my", "developer_member", Some("PMJ-1")).await;
    app.add_developer("PMJ-2", "201901000013").await;
    let stranger = app.add_user("orang@lain.com.my", "developer_admin", Some("PMJ-2")).await;
    let settings = "/api/v1/developers/PMJ-1/alert-settings";
    let shown: Value = app.get_as(&member, settings).await.json().await.unwrap();
    assert_eq!(
        (shown["low_balance_threshold"].clone(), shown["effective_threshold"].clone()),
        (Value::Null, json!(10))
    );
    let put = |token: String, body: Value| {
        let app = &app;
        async move { app.client.put(app.url(settings)).bearer_auth(token).json(&body).send().await.unwrap() }
    };
    assert_problem(put(member.clone(), json!({"low_balance_threshold": 12})).await, 403, "forbidden").await;
    assert_problem(put(stranger.clone(), json!({"low_balance_threshold": 12})).await, 404, "not-found").await;
    assert_problem(put(parties.developer.clone(), json!({"low_balance_threshold": -1})).await, 400, "validation").await;
    let saved = put(parties.developer.clone(), json!({"low_balance_threshold": 12})).await;
    assert_eq!(saved.status(), 200);
    assert_eq!(saved.json::<Value>().await.unwrap()["effective_threshold"], 12);

    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 15).await.status(), 201);
    sweep(&app).await;
    assert!(told(&app, "low_balance").await.is_empty(), "15 is above 12");
    assert_eq!(app.consume("PMJ-1", "k1", "CERT-1Y", 3).await.status(), 201);
    sweep(&app).await;
    sweep(&app).await;
    let low = told(&app, "low_balance").await;
    assert_eq!(low.len(), 1, "12 reached once: {low:?}");
    assert_eq!(low[0].0, "pemaju@maju.com.my");
    assert!(low[0].1.contains("CERT-1Y") && low[0].1.contains("12"), "{}", low[0].1);
    assert_eq!(app.consume("PMJ-1", "k2", "CERT-1Y", 2).await.status(), 201);
    sweep(&app).await;
    assert_eq!(told(&app, "low_balance").await.len(), 1, "still low: no second warning");
    assert_eq!(app.consume("PMJ-1", "k3", "CERT-1Y", 10).await.status(), 201);
    sweep(&app).await;
    sweep(&app).await;
    assert_eq!(told(&app, "zero_balance").await.len(), 1);
    // A top-up re-arms the alert; the next fall warns again.
    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 40).await.status(), 201);
    sweep(&app).await;
    assert_eq!(told(&app, "low_balance").await.len() + told(&app, "zero_balance").await.len(), 2);
    assert_eq!(app.consume("PMJ-1", "k4", "CERT-1Y", 30).await.status(), 201);
    sweep(&app).await;
    assert_eq!(told(&app, "low_balance").await.len(), 2);
    assert_eq!(outbox(&app, "low_balance").await.len(), 4, "every user of the company, each time");
    assert_eq!(app.count("outbox WHERE recipient = 'orang@lain.com.my'").await, 0);
}

async fn procedure_attachments_are_pdfs_only_an_administrator_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let retail_put = app
        .client
        .put(app.url("/api/v1/attachments/oku"))
        .bearer_auth(&parties.retail)
        .header("content-type", "application/pdf")
        .body(pdf_bytes("oku"))
        .send()
        .await
        .unwrap();
    assert_problem(retail_put, 403, "forbidden").await;
    assert_problem(put_procedure(&app, "oku", "text/plain", b"hello".to_vec()).await, 415, "unsupported-media-type")
        .await;
    assert_problem(
        put_procedure(&app, "oku", "application/pdf", b"<html>".to_vec()).await,
        415,
        "unsupported-media-type",
    )
    .await;
    assert_problem(put_procedure(&app, "OKU%20x", "application/pdf", pdf_bytes("x")).await, 400, "validation").await;
    let too_big = vec![b'%'; kuota::documents::procedures::PROCEDURE_MAX_BYTES + 1];
    assert_problem(put_procedure(&app, "oku", "application/pdf", too_big).await, 413, "payload-too-large").await;
    assert_eq!(app.count("procedure_attachments").await, 0, "refused uploads leave nothing");
    assert_eq!(put_procedure(&app, "oku", "application/pdf", pdf_bytes("oku v1")).await.status(), 201);
    let replaced = put_procedure(&app, "oku", "application/pdf", pdf_bytes("oku v2")).await;
    assert_eq!(replaced.status(), 200);
    let download = app.get_as(&parties.developer, "/api/v1/attachments/oku").await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert_eq!(download.bytes().await.unwrap().as_ref(), pdf_bytes("oku v2").as_slice());
    assert_eq!(app.get("/api/v1/attachments/oku").await.status(), 404, "HIMS does not see procedures");
    let listed: Value = app.get_as(&parties.developer, "/api/v1/attachments").await.json().await.unwrap();
    assert_eq!(listed["attachments"][0]["url"], "/api/v1/attachments/oku");
    // The request lists them for download.
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 20}]});
    let request: Value = app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    assert_eq!(request["procedures"][0]["filename"], "oku.pdf");
    let deleted = app.client.delete(app.url("/api/v1/attachments/oku")).bearer_auth(&app.admin_token).send().await;
    assert_eq!(deleted.unwrap().status(), 204);
    assert_eq!(app.get_as(&parties.developer, "/api/v1/attachments/oku").await.status(), 404);
}
