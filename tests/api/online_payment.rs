//! Straight-through purchase: instant quotation, online payment through a
//! fake Billplz on loopback (the documented bills API and the real
//! X-Signature scheme), invoice on credit; single credit under duplicate,
//! concurrent and out-of-order callbacks and redirects, on one node and two;
//! forged callbacks and redirects; late payments; reconciliation.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, pdf_bytes};
use crate::on_both_backends;
use crate::workflow::{Parties, setup};

on_both_backends!(
    a_developer_pays_online_and_has_quota_with_no_staff_touch,
    fifty_concurrent_callbacks_and_a_redirect_credit_once,
    forged_callbacks_and_redirects_change_nothing,
    a_bill_paid_after_cancellation_waits_for_retail_and_is_credited_once,
    a_payment_of_another_amount_or_on_a_superseded_quotation_is_never_credited_by_itself,
    reconciliation_credits_a_missed_payment_once_and_reports_it,
    manual_payments_take_one_staff_touch_and_invoice_on_credit,
    without_a_price_or_with_the_setting_off_retail_quotes,
    online_payment_is_refused_where_it_is_not_offered,
);

const PAID_AT: &str = "2026-12-02 10:15:09 +0800";

/// A request of 100 × CERT-1Y at 50.00 and 20 × CERT-1M at 8.50: 5,170.00 +
/// SST 8% 413.60 = 5,583.60.
async fn submit(app: &TestApp, parties: &Parties) -> Value {
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 100}, {"product": "CERT-1M", "units": 20}]});
    let response = app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn request(app: &TestApp, token: &str, id: i64) -> Value {
    app.get_as(token, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap()
}

async fn start_online(app: &TestApp, token: &str, id: i64) -> (u16, Value) {
    let response = app.post_as(token, &format!("/api/v1/quota-requests/{id}/online-payments"), &json!({})).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn form(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!("{}={}", kuota::billplz::signature::form_encode(k), kuota::billplz::signature::form_encode(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn post_callback(app: &TestApp, base: &str, fields: &[(String, String)]) -> reqwest::Response {
    app.client
        .post(format!("{base}/api/v1/payment-gateways/billplz/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send()
        .await
        .unwrap()
}

async fn follow_redirect(app: &TestApp, base: &str, query: &str) -> reqwest::Response {
    let client =
        kuota::outbound::client_builder().unwrap().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let _ = app;
    client.get(format!("{base}/payments/billplz/return?{query}")).send().await.unwrap()
}

async fn units(app: &TestApp, product: &str) -> i64 {
    app.balance("PMJ-1", product).await["available"].as_i64().unwrap()
}

async fn a_developer_pays_online_and_has_quota_with_no_staff_touch(backend: Backend) {
    let app = TestApp::spawn_straight_through(backend).await;
    let parties = setup(&app).await;
    let billplz = app.billplz.clone().unwrap();
    // Instant quotation: quoted at list price by the system at submission.
    let submitted = submit(&app, &parties).await;
    let id = submitted["id"].as_i64().unwrap();
    let shown = request(&app, &parties.developer, id).await;
    assert_eq!(shown["status"], "quoted", "{shown}");
    assert_eq!(shown["quotations"][0]["total"], "5583.60");
    let quoted_by = shown["timeline"].as_array().unwrap().iter().find(|e| e["action"] == "issue_quotation").unwrap();
    assert_eq!((quoted_by["actor"].as_str(), quoted_by["by"].as_str()), (Some("system"), Some("system")));
    // The bill: created once, asked twice.
    let (status, bill) = start_online(&app, &parties.developer, id).await;
    assert_eq!(status, 201, "{bill}");
    assert_eq!(
        (bill["provider"].as_str(), bill["amount"].as_i64(), bill["status"].as_str()),
        (Some("billplz"), Some(558_360), Some("pending"))
    );
    let (again, same) = start_online(&app, &parties.developer, id).await;
    assert_eq!((again, same["bill_id"].clone()), (200, bill["bill_id"].clone()));
    assert_eq!(billplz.calls().created, 1, "never a second bill for one quotation");
    let bill_id = bill["bill_id"].as_str().unwrap();
    let made = billplz.bill(bill_id).unwrap();
    assert_eq!(made.fields["reference_1"], submitted["number"]);
    assert!(made.fields["description"].as_str().unwrap().contains("QT-"));
    assert_eq!(made.callback_url, "https://kuota.test/api/v1/payment-gateways/billplz/callback");
    assert_eq!(made.redirect_url, "https://kuota.test/payments/billplz/return");
    assert!(bill["url"].as_str().unwrap().ends_with(&format!("/bills/{bill_id}")));
    // The bank confirms: the callback credits, invoices, and answers 200.
    let paid = billplz.pay(bill_id, None, PAID_AT).unwrap();
    let response = post_callback(&app, &app.address, &paid.callback).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "credited");
    assert_eq!((units(&app, "CERT-1Y").await, units(&app, "CERT-1M").await), (100, 20));
    let done = request(&app, &parties.developer, id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["staff_actions"], 0, "no one at Pos Digicert touched it: {}", done["timeline"]);
    assert_eq!(done["payments"][0]["method"], "online");
    assert_eq!(done["payments"][0]["reference"], bill_id);
    assert_eq!(done["payments"][0]["paid_on"], "2026-12-02");
    assert_eq!(
        (done["invoice"]["payment_status"].as_str(), done["invoice"]["total"].as_str()),
        (Some("paid"), Some("5583.60")),
        "{}",
        done["invoice"]
    );
    assert_eq!(done["online_payments"][0]["status"], "credited");
    // The redirect after the callback: shows the credited request, credits nothing more.
    let back = follow_redirect(&app, &app.address, &paid.redirect_query).await;
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], format!("/requests/{id}?done=pay-online-returned"));
    let repeated = post_callback(&app, &app.address, &paid.callback).await;
    assert_eq!(repeated.json::<Value>().await.unwrap()["status"], "credited");
    assert_eq!((app.count("payments").await, app.count("invoices").await), (1, 1));
    assert_eq!(units(&app, "CERT-1Y").await, 100);
    // The invoice PDF is there for the developer.
    let invoice_number = done["invoice"]["number"].as_str().unwrap();
    let pdf = app.get_as(&parties.developer, &format!("/api/v1/documents/{invoice_number}.pdf")).await;
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));
    // Every callback and redirect was stored as received.
    assert_eq!(app.count(&format!("gateway_events WHERE bill_id = '{bill_id}' AND kind <> 'query'")).await, 3);
    app.assert_ledger_verifies().await;
}

async fn fifty_concurrent_callbacks_and_a_redirect_credit_once(backend: Backend) {
    let app = TestApp::spawn_straight_through(backend).await;
    let parties = setup(&app).await;
    let billplz = app.billplz.clone().unwrap();
    let id = submit(&app, &parties).await["id"].as_i64().unwrap();
    let (_, bill) = start_online(&app, &parties.developer, id).await;
    let paid = billplz.pay(bill["bill_id"].as_str().unwrap(), None, PAID_AT).unwrap();
    // On PostgreSQL half the deliveries go to a second node on the same database.
    let second = if backend == Backend::Postgres { Some(app.second_node().await.0) } else { None };
    let bases: Vec<String> = (0..51)
        .map(|n| if n % 2 == 1 { second.clone().unwrap_or(app.address.clone()) } else { app.address.clone() })
        .collect();
    let mut tasks = Vec::new();
    for (n, base) in bases.iter().enumerate() {
        let (app, paid, base) = (&app, &paid, base.clone());
        tasks.push(async move {
            if n == 25 {
                follow_redirect(app, &base, &paid.redirect_query).await.status().as_u16()
            } else {
                post_callback(app, &base, &paid.callback).await.status().as_u16()
            }
        });
    }
    let statuses = futures_join_all(tasks).await;
    assert!(statuses.iter().enumerate().all(|(n, s)| if n == 25 { *s == 303 } else { *s == 200 }), "{statuses:?}");
    assert_eq!((app.count("payments").await, app.count("invoices").await), (1, 1));
    assert_eq!(app.count("ledger_entries WHERE kind = 'credit'").await, 2, "one credit per line, once");
    assert_eq!((units(&app, "CERT-1Y").await, units(&app, "CERT-1M").await), (100, 20));
    assert_eq!(request(&app, &parties.developer, id).await["status"], "completed");
    app.assert_ledger_verifies().await;
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    crate::idempotency::futures_join_all(futures).await
}

async fn forged_callbacks_and_redirects_change_nothing(backend: Backend) {
    let app = TestApp::spawn_straight_through(backend).await;
    let parties = setup(&app).await;
    let billplz = app.billplz.clone().unwrap();
    let id = submit(&app, &parties).await["id"].as_i64().unwrap();
    let (_, bill) = start_online(&app, &parties.developer, id).await;
    let bill_id = bill["bill_id"].as_str().unwrap().to_owned();
    // The forger knows the bill id but not the key: the bill is not paid at
    // Billplz, and every signature is wrong in its own way.
    let due = billplz.report(&bill_id).unwrap();
    let mut claims_paid = due.callback.clone();
    for (key, value) in &mut claims_paid {
        match key.as_str() {
            "paid" => *value = "true".into(),
            "state" => *value = "paid".into(),
            _ => {}
        }
    }
    let mut wrong_key = claims_paid.clone();
    wrong_key.retain(|(k, _)| k != "x_signature");
    wrong_key.push(("x_signature".into(), kuota::billplz::signature::sign("not-the-key", &wrong_key)));
    let mut missing = claims_paid.clone();
    missing.retain(|(k, _)| k != "x_signature");
    for forged in [claims_paid, wrong_key, missing] {
        let response = post_callback(&app, &app.address, &forged).await;
        assert_problem(response, 401, "unauthorized").await;
    }
    // A real payment's callback with the amount changed after signing.
    let paid = billplz.pay(&bill_id, None, PAID_AT).unwrap();
    let tampered: Vec<(String, String)> =
        paid.callback.iter().map(|(k, v)| (k.clone(), if k == "amount" { "1".into() } else { v.clone() })).collect();
    assert_problem(post_callback(&app, &app.address, &tampered).await, 401, "unauthorized").await;
    // Garbage bodies are 400s, never 500s.
    let garbage = app
        .client
        .post(app.url("/api/v1/payment-gateways/billplz/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("id=%zz")
        .send()
        .await
        .unwrap();
    assert_problem(garbage, 400, "validation").await;
    // A redirect whose paid flag was flipped, and one with no signature.
    let flipped = paid.redirect_query.replace("billplz%5Bpaid_at%5D=2026", "billplz%5Bpaid_at%5D=2025");
    for query in [flipped.as_str(), "billplz%5Bid%5D=x&billplz%5Bpaid%5D=true"] {
        let page = follow_redirect(&app, &app.address, query).await;
        assert_eq!(page.status(), 400);
        assert!(page.text().await.unwrap().contains("tandatangan Billplz"));
    }
    assert_eq!(app.count("gateway_events").await, 0, "nothing forged was even stored");
    assert_eq!((app.count("payments").await, units(&app, "CERT-1Y").await), (0, 0));
    assert_eq!(request(&app, &parties.developer, id).await["status"], "quoted");
}

async fn a_bill_paid_after_cancellation_waits_for_retail_and_is_credited_once(backend: Backend) {
    let app = TestApp::spawn_straight_through(backend).await;
    let parties = setup(&app).await;
    let billplz = app.billplz.clone().unwrap();
    let id = submit(&app, &parties).await["id"].as_i64().unwrap();
    let (_, bill) = start_online(&app, &parties.developer, id).await;
    let bill_id = bill["bill_id"].as_str().unwrap().to_owned();
    let cancelled = app
        .post_as(
            &parties.developer,
            &format!("/api/v1/quota-requests/{id}/cancellation"),
            &json!({"reason": "Tersilap"}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(billplz.calls().deleted, 1, "the pending bill is deleted at Billplz");
    assert_eq!(billplz.bill(&bill_id).unwrap().fields["state"], "deleted");
    // Billplz: "Deleted bill will always reappeared once the customer make payment".
    let paid = billplz.pay(&bill_id, None, PAID_AT).unwrap();
    let response = post_callback(&app, &app.address, &paid.callback).await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "needs_decision");
    assert_eq!((app.count("payments").await, units(&app, "CERT-1Y").await), (0, 0), "never credited by itself");
    assert_eq!(app.count("outbox WHERE kind = 'online_payment_needs_decision'").await, 1);
    let waiting: Value = app.get_as(&parties.retail, "/api/v1/online-payments").await.json().await.unwrap();
    let item = &waiting["items"][0];
    assert_eq!(
        (item["bill_id"].as_str(), item["problem"].as_str()),
        (Some(bill_id.as_str()), Some("request_cancelled"))
    );
    let online_id = item["id"].as_i64().unwrap();
    // The developer cannot decide; retail credits at the paid quotation.
    let path = format!("/api/v1/online-payments/{online_id}/decision");
    assert_problem(app.post_as(&parties.developer, &path, &json!({"decision": "credit"})).await, 403, "forbidden")
        .await;
    assert_problem(app.post_as(&parties.retail, &path, &json!({"decision": "refund"})).await, 400, "validation").await;
    let credit = json!({"decision": "credit"});
    let decisions: Vec<_> = (0..5).map(|_| app.post_as(&parties.retail, &path, &credit)).collect();
    let statuses: Vec<u16> = futures_join_all(decisions).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
    assert_eq!((units(&app, "CERT-1Y").await, units(&app, "CERT-1M").await), (100, 20));
    let shown = request(&app, &parties.retail, id).await;
    assert_eq!((shown["status"].as_str(), shown["staff_actions"].as_i64()), (Some("completed"), Some(1)));
    // A repeated callback after the decision changes nothing.
    let again = post_callback(&app, &app.address, &paid.callback).await;
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "credited");
    assert_eq!((app.count("payments").await, app.count("invoices").await), (1, 1));
    app.assert_ledger_verifies().await;
}

async fn a_payment_of_another_amount_or_on_a_superseded_quotation_is_never_credited_by_itself(backend: Backend) {
    let app = TestApp::spawn_straight_through(backend).await;
    let parties = setup(&app).await;
    let billplz = app.billplz.clone().unwrap();
    // Another amount (Billplz's paid_amount differs from the bill's).
    let first = submit(&app, &parties).await["id"].as_i64().unwrap();
    let (_, bill) = start_online(&app, &parties.developer, first).await;
    let paid = billplz.pay(bill["bill_id"].as_str().unwrap(), Some(100), PAID_AT).unwrap();
    let response = post_callback(&app, &app.address, &paid.callback).await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "needs_decision");
    // A revision (a discount) supersedes the quotation; its bill is deleted; paid anyway.
    let second = submit(&app, &parties).await["id"].as_i64().unwrap();
    let (_, old_bill) = start_online(&app, &parties.developer, second).await;
    let revised = app
        .post_as(
            &parties.retail,
            &format!("/api/v1/quota-requests/{second}/quotations"),
            &json!({"discount_percent": "5"}),
        )
        .await;
    assert_eq!(revised.status(), 201);
    let old_id = old_bill["bill_id"].as_str().unwrap();
    assert_eq!(billplz.bill(old_id).unwrap().fields["state"], "deleted");
    let (status, new_bill) = start_online(&app, &parties.developer, second).await;
    assert_eq!(status, 201);
    assert_ne!(new_bill["bill_id"], old_bill["bill_id"]);
    assert!(new_bill["amount"].as_i64().unwrap() < old_bill["amount"].as_i64().unwrap());
    let late = billplz.pay(old_id, None, PAID_AT).unwrap();
    assert_eq!(
        post_callback(&app, &app.address, &late.callback).await.json::<Value>().await.unwrap()["status"],
        "needs_decision"
    );
    assert_eq!((app.count("payments").await, units(&app, "CERT-1Y").await), (0, 0));
    let waiting: Value = app.get_as(&parties.retail, "/api/v1/online-payments").await.json().await.unwrap();
    let problems: Vec<&str> =
        waiting["items"].as_array().unwrap().iter().map(|i| i["problem"].as_str().unwrap()).collect();
    assert_eq!(problems, ["amount", "quotation_superseded"]);
    // Retail sends the short payment back, with a reason; it is then decided.
    let short = waiting["items"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/online-payments/{short}/decision");
    let refund =
        app.post_as(&parties.retail, &path, &json!({"decision": "refund", "reason": "Jumlah tidak lengkap"})).await;
    assert_eq!(refund.json::<Value>().await.unwrap()["status"], "refund");
    assert_problem(
        app.post_as(&parties.retail, &path, &json!({"decision": "credit"})).await,
        409,
        "online-payment-not-waiting",
    )
    .await;
    assert_eq!(units(&app, "CERT-1Y").await, 0);
    // Crediting the superseded quotation's payment withdraws the newer bill,
    // so the developer is not charged twice.
    let superseded = waiting["items"][1]["id"].as_i64().unwrap();
    let path = format!("/api/v1/online-payments/{superseded}/decision");
    let credited = app.post_as(&parties.retail, &path, &json!({"decision": "credit"})).await;
    assert_eq!(credited.status(), 200);
    assert_eq!(units(&app, "CERT-1Y").await, 100, "the paid (superseded) quotation's lines");
    assert_eq!(billplz.bill(new_bill["bill_id"].as_str().unwrap()).unwrap().fields["state"], "deleted");
    let shown = request(&app, &parties.retail, second).await;
    assert_eq!(shown["invoice"]["total"], "5583.60", "invoiced at the quotation paid, not the revision");
    app.assert_ledger_verifies().await;
}

async fn reconciliation_credits_a_missed_payment_once_and_reports_it(backend: Backend) {
    let app = TestApp::spawn_straight_through(backend).await;
    let parties = setup(&app).await;
    let billplz = app.billplz.clone().unwrap();
    let id = submit(&app, &parties).await["id"].as_i64().unwrap();
    let (_, bill) = start_online(&app, &parties.developer, id).await;
    // Paid at Billplz; the callback never arrives (five failed deliveries).
    let _ = billplz.pay(bill["bill_id"].as_str().unwrap(), None, PAID_AT).unwrap();
    let report = kuota::billplz::service::reconcile(&app.state).await.unwrap();
    assert_eq!(report.checked, 1);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(
        (report.findings[0].kind.as_str(), report.findings[0].outcome.as_deref()),
        ("paid_not_credited", Some("credited"))
    );
    assert_eq!(units(&app, "CERT-1Y").await, 100);
    assert_eq!(app.count("outbox WHERE kind = 'payment_reconciliation'").await, 2, "to retail and to finance");
    // Run again: nothing more to credit, nothing different.
    let again = kuota::billplz::service::reconcile(&app.state).await.unwrap();
    assert!(again.findings.is_empty(), "{:?}", again.findings);
    assert_eq!((app.count("payments").await, units(&app, "CERT-1Y").await), (1, 100));
    let latest: Value =
        app.get_as(&parties.finance, "/api/v1/online-payments/reconciliation").await.json().await.unwrap();
    assert_eq!((latest["checked"].as_i64(), latest["findings"].as_array().map(Vec::len)), (Some(1), Some(0)));
    app.assert_ledger_verifies().await;
}

async fn manual_payments_take_one_staff_touch_and_invoice_on_credit(backend: Backend) {
    let app = TestApp::spawn_straight_through(backend).await;
    let parties = setup(&app).await;
    for (method, reference, invoice_status) in [("bank_transfer", "TRX-1", "paid"), ("po", "PO-1", "unpaid")] {
        let id = submit(&app, &parties).await["id"].as_i64().unwrap();
        let shown = request(&app, &parties.developer, id).await;
        let proof = pdf_bytes(reference);
        let payment =
            app.submit_payment(&parties.developer, id, method, reference, "5583.60", "bukti.pdf", proof).await;
        assert_eq!(payment.status(), 201, "{method}");
        let payment_id = payment.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let approved =
            app.post_as(&parties.retail, &format!("/api/v1/payments/{payment_id}/approval"), &json!({})).await;
        assert_eq!(approved.status(), 200, "{method}");
        let done = request(&app, &parties.developer, id).await;
        assert_eq!(done["status"], "completed", "{method}: invoiced in the crediting transaction");
        assert_eq!(done["invoice"]["payment_status"], invoice_status, "{method}");
        assert_eq!(done["staff_actions"], 1, "{method}: only the payment check: {}", done["timeline"]);
        assert_eq!(shown["status"], "quoted");
    }
    assert_eq!(app.count("outbox WHERE kind = 'invoice_due'").await, 0, "finance is not asked for what was issued");
    app.assert_ledger_verifies().await;
}

async fn without_a_price_or_with_the_setting_off_retail_quotes(backend: Backend) {
    let app = TestApp::spawn_straight_through(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.set_price("CERT-1Y", "50.00").await;
    let developer = app.add_user("pemaju@maju.com.my", "developer_admin", Some("PMJ-1")).await;
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 1}, {"product": "CERT-1M", "units": 1}]});
    let unpriced: Value = app.post_as(&developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    assert_eq!(unpriced["status"], "submitted", "a product without a price waits for retail");
    app.set_price("CERT-1M", "8.50").await;
    let priced: Value = app.post_as(&developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    assert_eq!(priced["status"], "quoted");
    let mut settings: Value = app.get_as(&app.admin_token, "/api/v1/settings").await.json().await.unwrap();
    assert_eq!(
        (settings["instant_quotation"].as_bool(), settings["invoice_on_credit"].as_bool()),
        (Some(true), Some(true))
    );
    settings["instant_quotation"] = json!(false);
    let saved =
        app.client.put(app.url("/api/v1/settings")).bearer_auth(&app.admin_token).json(&settings).send().await.unwrap();
    assert_eq!(saved.status(), 200);
    let manual: Value = app.post_as(&developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    assert_eq!(manual["status"], "submitted", "with the setting off retail quotes");
}

async fn online_payment_is_refused_where_it_is_not_offered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let id = submit(&app, &parties).await["id"].as_i64().unwrap();
    let quoted = app.post_as(&parties.retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({})).await;
    assert_eq!(quoted.status(), 201);
    let refused =
        app.post_as(&parties.developer, &format!("/api/v1/quota-requests/{id}/online-payments"), &json!({})).await;
    assert_problem(refused, 409, "online-payment-not-offered").await;
    let callback =
        post_callback(&app, &app.address, &[("id".into(), "x".into()), ("x_signature".into(), "y".into())]).await;
    assert_problem(callback, 409, "online-payment-not-offered").await;
    // Where it is offered, only the request's company pays, and only a quoted request.
    let straight = TestApp::spawn_straight_through(backend).await;
    let parties = setup(&straight).await;
    let id = submit(&straight, &parties).await["id"].as_i64().unwrap();
    let retail =
        straight.post_as(&parties.retail, &format!("/api/v1/quota-requests/{id}/online-payments"), &json!({})).await;
    assert_problem(retail, 403, "forbidden").await;
    straight.add_developer("PMJ-9", "201901000099").await;
    let other = straight.add_user("lain@lain.com.my", "developer_admin", Some("PMJ-9")).await;
    let hidden = straight.post_as(&other, &format!("/api/v1/quota-requests/{id}/online-payments"), &json!({})).await;
    assert_problem(hidden, 404, "not-found").await;
    assert_eq!(straight.billplz.as_ref().unwrap().calls().created, 0);
}
