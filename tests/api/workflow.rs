//! The purchase workflow through the API: the six steps for each payment
//! method, side paths, tenant isolation, gapless numbers and uploads.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, pdf_bytes};
use crate::on_both_backends;

on_both_backends!(
    six_steps_by_bank_transfer_end_paid,
    six_steps_by_card_end_paid,
    six_steps_by_purchase_order_end_unpaid_until_settled,
    a_registered_developer_must_be_verified_before_requesting,
    a_rejected_payment_goes_back_to_quoted_and_a_new_proof_is_accepted,
    another_company_sees_nothing_and_can_do_nothing,
    fifty_concurrent_quotations_get_fifty_gapless_numbers,
    bad_uploads_are_refused_and_nothing_is_stored,
    wrong_roles_and_wrong_states_change_nothing,
    sign_in_is_throttled_after_five_failures,
    overdue_steps_are_flagged,
    a_quotation_past_its_validity_expires_the_request,
    the_audit_trail_proves_itself_and_names_the_first_bad_record,
    garbage_on_every_workflow_endpoint_gets_a_4xx_and_writes_nothing,
);

pub struct Parties {
    pub developer: String,
    pub retail: String,
    pub finance: String,
}

pub async fn setup(app: &TestApp) -> Parties {
    app.add_developer("PMJ-1", "201901000005").await;
    app.set_price("CERT-1Y", "50.00").await;
    app.set_price("CERT-1M", "8.50").await;
    Parties {
        developer: app.add_user("pemaju@maju.com.my", "developer_admin", Some("PMJ-1")).await,
        retail: app.add_user("retail@posdigicert.com.my", "retail", None).await,
        finance: app.add_user("kewangan@posdigicert.com.my", "finance", None).await,
    }
}

async fn new_request(app: &TestApp, token: &str) -> Value {
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 100}, {"product": "CERT-1M", "units": 20}], "note": "Untuk projek Taman Maju"});
    let response = app.post_as(token, "/api/v1/quota-requests", &body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn quote(app: &TestApp, parties: &Parties, id: i64) -> Value {
    let response = app.post_as(&parties.retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({})).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Steps 2–5 for one method; returns the request id and the invoice answer.
pub async fn purchase(app: &TestApp, parties: &Parties, method: &str) -> (i64, Value) {
    let request = new_request(app, &parties.developer).await;
    let id = request["id"].as_i64().unwrap();
    assert_eq!(request["status"], "submitted");
    assert!(request["number"].as_str().unwrap().starts_with("REQ-2026-"));
    // Retail asks for details; the developer answers and changes a line.
    let asked = app
        .post_as(
            &parties.retail,
            &format!("/api/v1/quota-requests/{id}/info-requests"),
            &json!({"message": "Sila sahkan bilangan unit"}),
        )
        .await;
    assert_eq!(asked.json::<Value>().await.unwrap()["status"], "info_requested");
    let answered = app
        .post_as(&parties.developer, &format!("/api/v1/quota-requests/{id}/info-responses"), &json!({"message": "Dikemas kini", "lines": [{"product": "CERT-1Y", "units": 100}, {"product": "CERT-1M", "units": 40}]}))
        .await;
    assert_eq!(answered.json::<Value>().await.unwrap()["status"], "submitted");
    // Quotation: 100 × 50.00 + 40 × 8.50 = 5340.00; SST 8% = 427.20; total 5767.20.
    let quotation = quote(app, parties, id).await;
    assert_eq!(
        (quotation["subtotal"].as_str(), quotation["tax"].as_str(), quotation["total"].as_str()),
        (Some("5340.00"), Some("427.20"), Some("5767.20"))
    );
    assert_eq!(quotation["tax_rate"], "8.00");
    assert!(quotation["number"].as_str().unwrap().starts_with("QT-2026-"));
    let paid = app
        .submit_payment(
            &parties.developer,
            id,
            method,
            &format!("{method}-ref-{id}"),
            "5767.20",
            "bukti.pdf",
            pdf_bytes(&format!("{method}{id}")),
        )
        .await;
    assert_eq!(paid.status(), 201);
    let payment_id = paid.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let approved = app.post_as(&parties.retail, &format!("/api/v1/payments/{payment_id}/approval"), &json!({})).await;
    assert_eq!(approved.status(), 200);
    assert_eq!(approved.json::<Value>().await.unwrap()["status"], "credited");
    // A second approval is refused and credits nothing.
    let again = app.post_as(&parties.retail, &format!("/api/v1/payments/{payment_id}/approval"), &json!({})).await;
    assert_problem(again, 409, "/wrong-status").await;
    let invoice = app.post_as(&parties.finance, &format!("/api/v1/quota-requests/{id}/invoice"), &json!({})).await;
    assert_eq!(invoice.status(), 201);
    (id, invoice.json().await.unwrap())
}

async fn assert_balances(app: &TestApp, year: i64, month: i64) {
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], year);
    assert_eq!(app.balance("PMJ-1", "CERT-1M").await["available"], month);
    app.assert_ledger_verifies().await;
}

async fn six_steps(backend: Backend, method: &str, paid: bool) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let (id, invoice) = purchase(&app, &parties, method).await;
    assert_eq!(invoice["invoice_number"], "INV-2026-000001");
    assert_eq!(invoice["delivery_order_number"], "DO-2026-000001");
    assert_eq!(invoice["payment_status"], if paid { "paid" } else { "unpaid" });
    // Step 6: the developer sees the request completed and its new balance.
    let request: Value =
        app.get_as(&parties.developer, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    assert_eq!(request["status"], "completed");
    let actions: Vec<&str> =
        request["timeline"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "submit",
            "request_info",
            "respond_info",
            "issue_quotation",
            "submit_payment",
            "approve_payment",
            "issue_invoice"
        ]
    );
    assert_eq!(request["documents"].as_array().unwrap().len(), 3);
    let balances: Value =
        app.get_as(&parties.developer, "/api/v1/developers/PMJ-1/balances").await.json().await.unwrap();
    assert_eq!(balances["balances"][1]["credited"], 100);
    assert_balances(&app, 100, 40).await;
    let (records, bad) = kuota::audit::verify(app.db.pool(), &app.state.audit_key).await.unwrap();
    assert_eq!(bad, None);
    let actions: Vec<String> = sqlx::query("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(app.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| sqlx::Row::try_get(r, 0).unwrap())
        .collect();
    assert_eq!(i64::try_from(actions.len()).unwrap(), records);
    for expected in [
        "submit",
        "request_info",
        "issue_quotation",
        "submit_payment",
        "approve_payment",
        "ledger.credit",
        "issue_invoice",
        "price.add",
        "user.create",
    ] {
        assert!(actions.iter().any(|a| a == expected), "{expected} is audited: {actions:?}");
    }
}

async fn six_steps_by_bank_transfer_end_paid(backend: Backend) {
    six_steps(backend, "bank_transfer", true).await;
}

async fn six_steps_by_card_end_paid(backend: Backend) {
    six_steps(backend, "card_counter", true).await;
}

async fn six_steps_by_purchase_order_end_unpaid_until_settled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let (_, invoice) = purchase(&app, &parties, "po").await;
    assert_eq!(invoice["payment_status"], "unpaid");
    let receivables: Value = app.get_as(&parties.finance, "/api/v1/invoices?status=unpaid").await.json().await.unwrap();
    assert_eq!(receivables["invoices"].as_array().unwrap().len(), 1);
    assert_eq!(receivables["invoices"][0]["age_days"], 0);
    let path = format!("/api/v1/invoices/{}/settlement", invoice["invoice_number"].as_str().unwrap());
    assert_problem(
        app.post_as(&parties.retail, &path, &json!({"paid_on": "2026-12-01", "reference": "FPX-1"})).await,
        403,
        "/forbidden",
    )
    .await;
    let settled = app.post_as(&parties.finance, &path, &json!({"paid_on": "2026-12-01", "reference": "FPX-1"})).await;
    assert_eq!(settled.json::<Value>().await.unwrap()["payment_status"], "paid");
    assert_problem(
        app.post_as(&parties.finance, &path, &json!({"paid_on": "2026-12-01", "reference": "FPX-1"})).await,
        409,
        "/invoice-not-unpaid",
    )
    .await;
    let receivables: Value = app.get_as(&parties.finance, "/api/v1/invoices?status=unpaid").await.json().await.unwrap();
    assert!(receivables["invoices"].as_array().unwrap().is_empty());
    assert_balances(&app, 100, 40).await;
}

async fn a_registered_developer_must_be_verified_before_requesting(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_price("CERT-1Y", "50.00").await;
    let retail = app.add_user("retail@posdigicert.com.my", "retail", None).await;
    let registration = json!({
        "company_name": "Maju Jaya Sdn. Bhd.", "registration_no": "202001012345", "developer_code": "MJ-77",
        "address": "No. 1, Jalan Ampang", "postcode": "50450", "state": "14", "contact_person": "Aminah binti Ali",
        "email": "urusan@majujaya.com.my", "phone": "012-345 6789",
        "user_name": "Aminah binti Ali", "user_email": "aminah@majujaya.com.my", "user_password": "kata-laluan-rahsia",
        "privacy_notice_acknowledged": true
    });
    let response = app.client.post(app.url("/api/v1/registrations")).json(&registration).send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_problem(
        app.client.post(app.url("/api/v1/registrations")).json(&registration).send().await.unwrap(),
        409,
        "/developer-exists",
    )
    .await;
    let signed_in: Value = app
        .client
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"email": "aminah@majujaya.com.my", "password": "kata-laluan-rahsia"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let developer = signed_in["token"].as_str().unwrap().to_owned();
    let body = json!({"developer": "MJ-77", "lines": [{"product": "CERT-1Y", "units": 5}]});
    assert_problem(app.post_as(&developer, "/api/v1/quota-requests", &body).await, 409, "/developer-not-verified")
        .await;
    assert_problem(
        app.post_as(&developer, "/api/v1/developers/MJ-77/verification", &json!({})).await,
        403,
        "/forbidden",
    )
    .await;
    assert_eq!(app.post_as(&retail, "/api/v1/developers/MJ-77/verification", &json!({})).await.status(), 200);
    assert_problem(
        app.post_as(&retail, "/api/v1/developers/MJ-77/rejection", &json!({"reason": "late"})).await,
        409,
        "/developer-not-pending",
    )
    .await;
    assert_eq!(app.post_as(&developer, "/api/v1/quota-requests", &body).await.status(), 201);
    let row = sqlx::query("SELECT phone FROM developers WHERE code = 'MJ-77'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(sqlx::Row::try_get::<String, _>(&row, 0).unwrap(), "+60123456789");
}

async fn a_rejected_payment_goes_back_to_quoted_and_a_new_proof_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let id = new_request(&app, &parties.developer).await["id"].as_i64().unwrap();
    let total = quote(&app, &parties, id).await["total"].as_str().unwrap().to_owned();
    let first =
        app.submit_payment(&parties.developer, id, "bank_transfer", "TRX-1", &total, "a.pdf", pdf_bytes("one")).await;
    let payment_id = first.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let rejected = app
        .post_as(
            &parties.retail,
            &format!("/api/v1/payments/{payment_id}/rejection"),
            &json!({"reason": "Resit tidak jelas"}),
        )
        .await;
    let rejected: Value = rejected.json().await.unwrap();
    assert_eq!(rejected["status"], "quoted");
    assert_eq!(rejected["payments"][0]["reason"], "Resit tidak jelas");
    // The same file again is a duplicate, on any request.
    let duplicate =
        app.submit_payment(&parties.developer, id, "bank_transfer", "TRX-2", &total, "a.pdf", pdf_bytes("one")).await;
    assert_problem(duplicate, 409, "/duplicate-payment").await;
    let second =
        app.submit_payment(&parties.developer, id, "bank_transfer", "TRX-2", &total, "b.pdf", pdf_bytes("two")).await;
    assert_eq!(second.status(), 201);
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 0, "nothing is credited before approval");
}

async fn another_company_sees_nothing_and_can_do_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    app.add_developer("PMJ-2", "201901000006").await;
    let stranger = app.add_user("orang@lain.com.my", "developer_admin", Some("PMJ-2")).await;
    let id = new_request(&app, &parties.developer).await["id"].as_i64().unwrap();
    let total = quote(&app, &parties, id).await["total"].as_str().unwrap().to_owned();
    let payment = app.submit_payment(&parties.developer, id, "po", "PO-1", &total, "po.pdf", pdf_bytes("po")).await;
    let payment_id = payment.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/quota-requests/{id}"),
        format!("/api/v1/payments/{payment_id}/document"),
        "/api/v1/developers/PMJ-1/balances".into(),
        "/api/v1/developers/PMJ-1/ledger".into(),
    ] {
        assert_problem(app.get_as(&stranger, &path).await, 404, "/not-found").await;
    }
    for path in [format!("/api/v1/quota-requests/{id}/cancellation"), format!("/api/v1/payments/{payment_id}/approval")]
    {
        assert_problem(app.post_as(&stranger, &path, &json!({"reason": "x"})).await, 404, "/not-found").await;
    }
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 1}]});
    assert_problem(app.post_as(&stranger, "/api/v1/quota-requests", &body).await, 404, "/not-found").await;
    let listed: Value = app.get_as(&stranger, "/api/v1/quota-requests").await.json().await.unwrap();
    assert!(listed["requests"].as_array().unwrap().is_empty());
    let own: Value = app.get_as(&parties.developer, "/api/v1/quota-requests").await.json().await.unwrap();
    assert_eq!(own["requests"].as_array().unwrap().len(), 1);
    let document = app.get_as(&parties.developer, &format!("/api/v1/payments/{payment_id}/document")).await;
    assert_eq!(document.bytes().await.unwrap().to_vec(), pdf_bytes("po"));
}

async fn fifty_concurrent_quotations_get_fifty_gapless_numbers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let mut ids = Vec::new();
    for _ in 0..50 {
        ids.push(new_request(&app, &parties.developer).await["id"].as_i64().unwrap());
    }
    let issues = ids
        .iter()
        .map(|id| {
            app.client
                .post(app.url(&format!("/api/v1/quota-requests/{id}/quotations")))
                .bearer_auth(&parties.retail)
                .json(&json!({}))
                .send()
        })
        .collect::<Vec<_>>();
    let mut numbers = Vec::new();
    for response in crate::idempotency::futures_join_all(issues).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        numbers.push(response.json::<Value>().await.unwrap()["number"].as_str().unwrap().to_owned());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=50).map(|n| format!("QT-2026-{n:06}")).collect();
    assert_eq!(numbers, expected);
}

async fn bad_uploads_are_refused_and_nothing_is_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let id = new_request(&app, &parties.developer).await["id"].as_i64().unwrap();
    let total = quote(&app, &parties, id).await["total"].as_str().unwrap().to_owned();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("program.pdf", b"MZ\x90\x00 not a document".to_vec()),
        ("empty.pdf", Vec::new()),
        ("huge.pdf", [b"%PDF-1.4\n".as_slice(), &vec![b'x'; 10 * 1024 * 1024]].concat()),
        ("bukti.png", pdf_bytes("named png")),
    ];
    for (name, bytes) in cases {
        let response = app.submit_payment(&parties.developer, id, "bank_transfer", "TRX-9", &total, name, bytes).await;
        let body = assert_problem(response, 422, "/invalid-document").await;
        assert!(body["detail"].as_str().unwrap().len() > 10, "{name}: {body}");
    }
    let wrong_amount = app
        .submit_payment(&parties.developer, id, "bank_transfer", "TRX-9", "1.00", "a.pdf", pdf_bytes("amount"))
        .await;
    assert_problem(wrong_amount, 422, "/amount-mismatch").await;
    assert_eq!(app.count("payments").await, 0);
    // The only blob is the quotation's PDF: no upload was kept.
    let blobs = app.database.data_dir.join("blobs");
    let stored: usize = std::fs::read_dir(&blobs)
        .map_or(0, |folders| folders.map(|f| std::fs::read_dir(f.unwrap().path()).unwrap().count()).sum());
    assert_eq!(i64::try_from(stored).unwrap(), app.count("documents").await, "no upload stored");
    let request: Value =
        app.get_as(&parties.developer, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    assert_eq!(request["status"], "quoted");
}

async fn wrong_roles_and_wrong_states_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let id = new_request(&app, &parties.developer).await["id"].as_i64().unwrap();
    let quotations = format!("/api/v1/quota-requests/{id}/quotations");
    assert_problem(app.post_as(&parties.developer, &quotations, &json!({})).await, 403, "/forbidden").await;
    assert_problem(
        app.post_as(&parties.finance, &format!("/api/v1/quota-requests/{id}/invoice"), &json!({})).await,
        409,
        "/wrong-status",
    )
    .await;
    assert_problem(
        app.post_as(
            &parties.developer,
            &format!("/api/v1/quota-requests/{id}/info-responses"),
            &json!({"message": "x"}),
        )
        .await,
        409,
        "/wrong-status",
    )
    .await;
    assert_problem(app.post_as(&app.hims_token, &quotations, &json!({})).await, 403, "/forbidden").await;
    assert_problem(
        app.post_as(&parties.retail, &quotations, &json!({"discount_percent": "101"})).await,
        400,
        "/validation",
    )
    .await;
    let request: Value =
        app.get_as(&parties.retail, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    assert_eq!(request["status"], "submitted");
    assert_eq!(request["timeline"].as_array().unwrap().len(), 1);
    // The developer may cancel before paying; then nothing more can happen.
    let cancelled = app
        .post_as(
            &parties.developer,
            &format!("/api/v1/quota-requests/{id}/cancellation"),
            &json!({"reason": "Tidak perlu lagi"}),
        )
        .await;
    assert_eq!(cancelled.json::<Value>().await.unwrap()["status"], "cancelled");
    assert_problem(app.post_as(&parties.retail, &quotations, &json!({})).await, 409, "/wrong-status").await;
}

async fn sign_in_is_throttled_after_five_failures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("retail@posdigicert.com.my", "retail", None).await;
    let attempt = |password: &'static str| {
        app.client
            .post(app.url("/api/v1/tokens"))
            .json(&json!({"email": "retail@posdigicert.com.my", "password": password}))
            .send()
    };
    for _ in 0..5 {
        assert_problem(attempt("salah-salah-salah").await.unwrap(), 401, "/unauthorized").await;
    }
    assert_problem(attempt("kata-laluan-ujian").await.unwrap(), 429, "/too-many-requests").await;
    app.clock.advance_seconds(15 * 60 + 1);
    assert_eq!(attempt("kata-laluan-ujian").await.unwrap().status(), 201);
}

async fn overdue_steps_are_flagged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let id = new_request(&app, &parties.developer).await["id"].as_i64().unwrap();
    let request: Value =
        app.get_as(&parties.retail, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    assert_eq!(request["overdue"], false);
    assert!(request["timeline"][0]["due_at"].as_str().is_some());
    let overdue: Value = app.get_as(&parties.retail, "/api/v1/quota-requests?overdue=true").await.json().await.unwrap();
    assert!(overdue["requests"].as_array().unwrap().is_empty());
    app.clock.advance_seconds(10 * 24 * 3600);
    let overdue: Value = app.get_as(&parties.retail, "/api/v1/quota-requests?overdue=true").await.json().await.unwrap();
    assert_eq!(overdue["requests"].as_array().unwrap().len(), 1);
    assert_eq!(overdue["requests"][0]["owner"], "retail");
    let request: Value =
        app.get_as(&parties.retail, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    assert_eq!(request["timeline"][0]["overdue"], true);
}

async fn a_quotation_past_its_validity_expires_the_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let id = new_request(&app, &parties.developer).await["id"].as_i64().unwrap();
    let quotation = quote(&app, &parties, id).await;
    assert_eq!(
        kuota::request::expire_quotations(&app.db, &app.clock, &app.state.audit_key, "https://kuota.test")
            .await
            .unwrap(),
        0,
        "still valid"
    );
    // 14 working days of validity end well within 30 calendar days.
    app.clock.advance_seconds(30 * 24 * 3600);
    assert_eq!(
        kuota::request::expire_quotations(&app.db, &app.clock, &app.state.audit_key, "https://kuota.test")
            .await
            .unwrap(),
        1
    );
    let request: Value =
        app.get_as(&parties.developer, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    assert_eq!(request["status"], "expired");
    assert_eq!(request["timeline"].as_array().unwrap().last().unwrap()["actor"], "system:quotation-expiry");
    let total = quotation["total"].as_str().unwrap();
    let late = app.submit_payment(&parties.developer, id, "po", "PO-LATE", total, "po.pdf", pdf_bytes("late")).await;
    assert_problem(late, 409, "/wrong-status").await;
}

async fn the_audit_trail_proves_itself_and_names_the_first_bad_record(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    new_request(&app, &parties.developer).await;
    app.adjust("PMJ-1", "CERT-1Y", 5).await;
    let (records, bad) = kuota::audit::verify(app.db.pool(), &app.state.audit_key).await.unwrap();
    assert!(records >= 6, "{records}");
    assert_eq!(bad, None);
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE id = 3").execute(app.db.pool()).await.unwrap();
    assert_eq!(kuota::audit::verify(app.db.pool(), &app.state.audit_key).await.unwrap().1.map(|(id, _)| id), Some(3));
    sqlx::query("DELETE FROM audit_log WHERE id = 3").execute(app.db.pool()).await.unwrap();
    let (_, bad) = kuota::audit::verify(app.db.pool(), &app.state.audit_key).await.unwrap();
    assert_eq!(bad.as_ref().map(|(id, _)| *id), Some(3));
    assert!(bad.unwrap().1.contains("missing"));
    let last: i64 =
        sqlx::Row::try_get(&sqlx::query("SELECT MAX(id) FROM audit_log").fetch_one(app.db.pool()).await.unwrap(), 0)
            .unwrap();
    sqlx::query("INSERT INTO audit_log SELECT 3, actor, action, subject, state_before, state_after, created_at, prev_hash, hash FROM audit_log WHERE id = 2").execute(app.db.pool()).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE id = $1").bind(last).execute(app.db.pool()).await.unwrap();
    assert!(
        kuota::audit::verify(app.db.pool(), &app.state.audit_key).await.unwrap().1.is_some(),
        "a copied record or a cut tail is found"
    );
}

async fn garbage_on_every_workflow_endpoint_gets_a_4xx_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let id = new_request(&app, &parties.developer).await["id"].as_i64().unwrap();
    let tables = [
        "quota_requests",
        "quota_request_events",
        "quotations",
        "payments",
        "invoices",
        "developers",
        "users",
        "holidays",
        "product_prices",
        "settings",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(app.count(table).await);
    }
    let paths = [
        "/api/v1/registrations".to_owned(),
        "/api/v1/tokens".into(),
        "/api/v1/quota-requests".into(),
        format!("/api/v1/quota-requests/{id}/info-requests"),
        format!("/api/v1/quota-requests/{id}/info-responses"),
        format!("/api/v1/quota-requests/{id}/quotations"),
        format!("/api/v1/quota-requests/{id}/cancellation"),
        format!("/api/v1/quota-requests/{id}/invoice"),
        format!("/api/v1/quota-requests/{id}/payments"),
        "/api/v1/payments/1/approval".into(),
        "/api/v1/payments/1/rejection".into(),
        "/api/v1/payments/abc/rejection".into(),
        "/api/v1/invoices/INV-2026-000009/settlement".into(),
        "/api/v1/products/CERT-1Y/prices".into(),
        "/api/v1/holidays".into(),
        "/api/v1/developers/PMJ-1/verification".into(),
        "/api/v1/developers/PMJ-1/rejection".into(),
    ];
    let bodies = [
        "{\"lines\":",
        "[]",
        "{\"unexpected\":1}",
        "{\"lines\":\"many\",\"developer\":5}",
        "{\"discount_percent\":\"-5\",\"message\":\"\",\"reason\":\"\"}",
    ];
    for token in [&parties.developer, &parties.retail, &parties.finance, &app.admin_token] {
        for path in &paths {
            for body in bodies {
                let response = app
                    .client
                    .post(app.url(path))
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                assert!((400..500).contains(&status), "{path} {body}: {status}");
                let content_type =
                    response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                assert_eq!(content_type, "application/problem+json", "{path} {body}");
            }
        }
    }
    for (table, count) in tables.iter().zip(before) {
        assert_eq!(app.count(table).await, count, "nothing written to {table}");
    }
}
