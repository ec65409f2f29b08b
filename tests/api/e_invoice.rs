//! The MyInvois v1.1 signature with a certificate made at test time (the
//! subject fields and key usages LHDN asks for), checked by our own code and
//! by the `openssl` command line; LHDN's published values are unit tests in
//! `src/myinvois/signature.rs`.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use kuota::clock::Clock as _;
use kuota::myinvois::signature::{self, Signer, SoftwareSigner};
use kuota::myinvois::simulator::Simulator;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::on_both_backends;
use crate::people::{PASSWORD, csrf, page, portal_session, post_form};

on_both_backends!(
    a_company_records_its_tax_identity_and_is_asked_until_it_does,
    an_issued_invoice_becomes_a_document_that_passes_every_rule,
    every_invoice_reaches_valid_once_across_an_outage_throttling_and_two_nodes,
    a_blocked_or_invalid_e_invoice_says_why_in_both_languages,
    a_quotation_fixes_the_sst_rate_in_force_on_its_date,
    a_credit_note_takes_back_unused_units_and_reaches_valid_referencing_its_invoice,
    a_refund_note_needs_a_paid_invoice_and_waits_for_its_invoice_to_be_valid,
    finance_issues_a_note_from_the_invoice_page_with_reasons_beside_the_fields,
);

async fn quoted(app: &TestApp, retail: &str, id: i64) -> Value {
    app.post_as(retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({})).await.json().await.unwrap()
}

async fn a_quotation_fixes_the_sst_rate_in_force_on_its_date(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = crate::workflow::setup(&app).await;
    let rates: Value = app.get_as(&parties.retail, "/api/v1/sst-rates").await.json().await.unwrap();
    assert_eq!(
        rates["rates"],
        json!([{"effective_from": "2018-09-01", "rate_percent": "6.00"}, {"effective_from": "2024-03-01", "rate_percent": "8.00"}])
    );
    let today = kuota::clock::today_local(app.clock.now());
    let tomorrow = today.tomorrow().unwrap().to_string();
    let ten = json!({"rate_percent": "10", "effective_from": tomorrow});
    assert_problem(app.post_as(&parties.retail, "/api/v1/sst-rates", &ten).await, 403, "forbidden").await;
    let past = json!({"rate_percent": "10", "effective_from": today.yesterday().unwrap().to_string()});
    assert_problem(app.post_as(&app.admin_token, "/api/v1/sst-rates", &past).await, 422, "date-in-past").await;
    assert_eq!(app.post_as(&app.admin_token, "/api/v1/sst-rates", &ten).await.status(), 201);
    assert_problem(app.post_as(&app.admin_token, "/api/v1/sst-rates", &ten).await, 409, "sst-rate-exists").await;
    assert_eq!(app.count("audit_log WHERE action = 'settings.sst_rate'").await, 1);
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 100}]});
    let first: Value = app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    let today_quote = quoted(&app, &parties.retail, first["id"].as_i64().unwrap()).await;
    assert_eq!((today_quote["tax"].as_str(), today_quote["total"].as_str()), (Some("400.00"), Some("5400.00")));
    app.clock.advance_seconds(86_400);
    let second: Value = app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    let tomorrow_quote = quoted(&app, &parties.retail, second["id"].as_i64().unwrap()).await;
    assert_eq!((tomorrow_quote["tax"].as_str(), tomorrow_quote["total"].as_str()), (Some("500.00"), Some("5500.00")));
    // The first quotation keeps its 8%: paid and invoiced after the change, at its rate.
    let id = first["id"].as_i64().unwrap();
    let paid = app
        .submit_payment(
            &parties.developer,
            id,
            "bank_transfer",
            "TRX-SST",
            "5400.00",
            "b.pdf",
            crate::helpers::pdf_bytes("sst"),
        )
        .await;
    assert_eq!(paid.status(), 201);
}

/// The text of the QR code on the first page of a PDF (rendered by poppler's
/// pdftoppm, read by zbarimg).
fn qr_in_pdf(pdf: &[u8]) -> String {
    let folder = std::env::temp_dir().join(format!("kuota-qr-{}-{}", std::process::id(), crate::helpers::unique()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("invoice.pdf"), pdf).unwrap();
    let rendered = Command::new("pdftoppm")
        .args(["-png", "-r", "200", "-f", "1", "-l", "1", "invoice.pdf", "page"])
        .current_dir(&folder)
        .status()
        .expect("pdftoppm (poppler-utils; scripts/test installs it)");
    assert!(rendered.success());
    let page = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "png"))
        .unwrap();
    let output = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&page)
        .output()
        .expect("zbarimg (zbar-tools; scripts/test installs it)");
    let _ = std::fs::remove_dir_all(&folder);
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

const CLIENT_ID: &str = "kuota-test-client";
const CLIENT_SECRET: &str = "kuota-test-secret";

/// The simulated MyInvois on loopback; its base URL.
async fn fake_myinvois() -> (Simulator, String) {
    let fake = Simulator::new(CLIENT_ID, CLIENT_SECRET).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = kuota::myinvois::simulator::router(fake.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (fake, base)
}

/// An app that submits e-invoices to the fake, signing with a certificate
/// made now.
async fn e_invoicing_app(backend: Backend) -> (TestApp, Simulator) {
    let (fake, base) = fake_myinvois().await;
    let folder = std::env::temp_dir().join(format!("kuota-signer-{}-{}", std::process::id(), crate::helpers::unique()));
    std::fs::create_dir_all(&folder).unwrap();
    let (key, cert) = make_certificate(&folder, "signer");
    let _ = std::fs::remove_dir_all(&folder);
    let account = kuota::myinvois::client::Account {
        identity_url: base.clone(),
        api_url: base,
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        portal_url: "https://preprod.myinvois.hasil.gov.my".into(),
    };
    let e_invoicing = kuota::myinvois::job::EInvoicing {
        client: kuota::myinvois::client::Client::new(account).unwrap(),
        signer: std::sync::Arc::new(SoftwareSigner::from_pem(&key, &cert).unwrap()),
    };
    (TestApp::spawn_e_invoicing(backend, e_invoicing).await, fake)
}

/// A purchase by transfer, approved by retail: its invoice number.
async fn invoiced_purchase(app: &TestApp, developer: &str, retail: &str, reference: &str) -> String {
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 2}]});
    let request: Value = app.post_as(developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    let id = request["id"].as_i64().unwrap();
    let paid = app
        .submit_payment(
            developer,
            id,
            "bank_transfer",
            reference,
            "108.00",
            "b.pdf",
            crate::helpers::pdf_bytes(reference),
        )
        .await;
    let payment = paid.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(app.post_as(retail, &format!("/api/v1/payments/{payment}/approval"), &json!({})).await.status(), 200);
    let shown: Value = app.get_as(developer, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    shown["invoice"]["number"].as_str().unwrap().to_owned()
}

/// Runs the e-invoice job `times`, the clock moving on between runs.
async fn run_job(app: &TestApp, times: usize) {
    for _ in 0..times {
        app.clock.advance_seconds(10);
        kuota::myinvois::job::run_once(&app.state, "node-a").await.unwrap();
    }
}

async fn e_invoice_of(app: &TestApp, token: &str, number: &str) -> Value {
    app.get_as(token, &format!("/api/v1/invoices/{number}/e-invoice")).await.json().await.unwrap()
}

async fn every_invoice_reaches_valid_once_across_an_outage_throttling_and_two_nodes(backend: Backend) {
    let (app, fake) = e_invoicing_app(backend).await;
    let (developer, retail) = e_invoicing_company(&app).await;
    let numbers = [
        invoiced_purchase(&app, &developer, &retail, "TRX-A").await,
        invoiced_purchase(&app, &developer, &retail, "TRX-B").await,
    ];
    assert_eq!(e_invoice_of(&app, &developer, &numbers[0]).await["status"], "queued");
    // MyInvois is down: the documents are built, signed and kept; nothing is accepted.
    fake.down.store(true, std::sync::atomic::Ordering::SeqCst);
    kuota::myinvois::job::run_once(&app.state, "node-a").await.unwrap();
    let kept: Vec<String> = {
        let mut shas = Vec::new();
        for number in &numbers {
            let shown = e_invoice_of(&app, &developer, number).await;
            assert_eq!(shown["status"], "queued", "{shown}");
            shas.push(shown["document_sha256"].as_str().unwrap().to_owned());
        }
        shas
    };
    assert!(fake.accepted().is_empty());
    // Back up, but the first submission is told to wait (429): two nodes work on.
    fake.down.store(false, std::sync::atomic::Ordering::SeqCst);
    fake.throttle.store(1, std::sync::atomic::Ordering::SeqCst);
    let second = if backend == Backend::Postgres { app.second_node().await.1 } else { app.state.clone() };
    for _ in 0..12 {
        app.clock.advance_seconds(700);
        let (a, b) =
            (kuota::myinvois::job::run_once(&app.state, "node-a"), kuota::myinvois::job::run_once(&second, "node-b"));
        let (a, b) = tokio::join!(a, b);
        a.unwrap();
        b.unwrap();
    }
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 2, "each invoice accepted once: {accepted:?}");
    for (number, sha) in numbers.iter().zip(&kept) {
        let received = accepted.iter().find(|r| &r.number == number).unwrap();
        assert_eq!(&received.sha256, sha, "the bytes kept before the outage are the bytes sent");
        let shown = e_invoice_of(&app, &developer, number).await;
        assert_eq!(shown["status"], "valid", "{shown}");
        let url = format!("https://preprod.myinvois.hasil.gov.my/{}/share/LONG{}", received.uuid, received.uuid);
        assert_eq!(shown["validation_url"], url.as_str());
        let bytes =
            app.get_as(&developer, &format!("/api/v1/invoices/{number}/e-invoice.json")).await.bytes().await.unwrap();
        assert_eq!(&kuota::digest::sha256_hex(&bytes), sha);
        signature::verify(std::str::from_utf8(&bytes).unwrap()).unwrap();
    }
    assert_eq!(fake.book.lock().unwrap().tokens, 1, "the token is reused until it expires");
    // The invoice is produced again with the e-invoice's UUID and the QR code
    // of its validation link; the version issued before is kept.
    let received = accepted.iter().find(|r| r.number == numbers[0]).unwrap();
    let pdf = app.get_as(&developer, &format!("/api/v1/documents/{}.pdf", numbers[0])).await.bytes().await.unwrap();
    let text = crate::helpers::pdf_text(&pdf);
    assert!(text.contains(&received.uuid) && text.contains("E-invois disahkan oleh LHDN"), "{text}");
    let url = format!("https://preprod.myinvois.hasil.gov.my/{}/share/LONG{}", received.uuid, received.uuid);
    assert_eq!(qr_in_pdf(&pdf), url);
    assert!(app.count(&format!("superseded_documents WHERE number = '{}'", numbers[0])).await >= 1);
    // Finance cancels the second within 72 hours, with a reason; not twice, and not the first after 72 hours.
    let finance = app.add_user("kewangan@posdigicert.com.my", "finance", None).await;
    let cancel = |number: &str| format!("/api/v1/invoices/{number}/e-invoice/cancellation");
    let reason = json!({"reason": "Dikeluarkan kepada syarikat yang salah"});
    assert_problem(app.post_as(&retail, &cancel(&numbers[1]), &reason).await, 403, "forbidden").await;
    let cancelled: Value = app.post_as(&finance, &cancel(&numbers[1]), &reason).await.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert!(fake.accepted().iter().any(|r| r.number == numbers[1] && r.cancelled));
    assert_problem(app.post_as(&finance, &cancel(&numbers[1]), &reason).await, 409, "e-invoice-not-cancellable").await;
    app.clock.advance_seconds(73 * 3_600);
    assert_problem(app.post_as(&finance, &cancel(&numbers[0]), &reason).await, 409, "e-invoice-not-cancellable").await;
    assert_eq!(e_invoice_of(&app, &developer, &numbers[0]).await["status"], "valid");
    // The developer's documents list says where each e-invoice stands.
    let session = portal_session(&app, "siti@binaharmoni.my", "kata-laluan-siti-1").await.unwrap();
    let list = page(&app, &session, "/documents").await.text().await.unwrap();
    assert!(list.contains("<td>Sah</td>") && list.contains("<td>Dibatalkan</td>"), "{list}");
    // Another company sees none of it.
    app.add_developer("PMJ-8", "201901000088").await;
    let other = app.add_user("lain@lain.my", "developer_admin", Some("PMJ-8")).await;
    assert_eq!(app.get_as(&other, &format!("/api/v1/invoices/{}/e-invoice", numbers[0])).await.status(), 404);
}

async fn a_blocked_or_invalid_e_invoice_says_why_in_both_languages(backend: Backend) {
    let (app, _fake) = e_invoicing_app(backend).await;
    let (developer, retail) = e_invoicing_company(&app).await;
    sqlx::query("UPDATE developers SET tin = NULL").execute(app.db.pool()).await.unwrap();
    let number = invoiced_purchase(&app, &developer, &retail, "TRX-C").await;
    kuota::myinvois::job::run_once(&app.state, "node-a").await.unwrap();
    let blocked = e_invoice_of(&app, &retail, &number).await;
    assert_eq!(blocked["status"], "blocked");
    assert_eq!(blocked["errors"]["en"], "AccountingCustomerParty.Party.PartyIdentification[TIN] is missing");
    assert_eq!(blocked["errors"]["ms"], "AccountingCustomerParty.Party.PartyIdentification[TIN] tiada");
    // Finance sees it in its queue, with the reason in its own language.
    let finance = app.add_user("kewangan@posdigicert.com.my", "finance", None).await;
    let session = portal_session(&app, "kewangan@posdigicert.com.my", PASSWORD).await.unwrap();
    let finance_page = page(&app, &session, "/finance").await.text().await.unwrap();
    assert!(finance_page.contains(&number) && finance_page.contains("Belum boleh dihantar"), "{finance_page}");
    assert!(finance_page.contains("PartyIdentification[TIN] tiada"));
    // The company gives a TIN that LHDN's register does not know.
    let identity = json!({"tin": kuota::myinvois::simulator::INVALID_BUYER_TIN, "sst_registration_no": "NA"});
    let saved = app
        .client
        .put(app.url("/api/v1/developers/PMJ-1/tax-identity"))
        .bearer_auth(&developer)
        .json(&identity)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    for _ in 0..4 {
        app.clock.advance_seconds(3_700);
        kuota::myinvois::job::run_once(&app.state, "node-a").await.unwrap();
    }
    let invalid = e_invoice_of(&app, &retail, &number).await;
    assert_eq!(invalid["status"], "invalid", "{invalid}");
    assert_eq!(
        (invalid["errors"]["en"].as_str(), invalid["errors"]["ms"].as_str()),
        (Some("Buyer TIN is not valid"), Some("TIN pembeli tidak sah"))
    );
    // The company corrects its TIN; finance sends the e-invoice again, as version 2.
    let identity = json!({"tin": "C2021010003", "sst_registration_no": "NA"});
    let fixed = app
        .client
        .put(app.url("/api/v1/developers/PMJ-1/tax-identity"))
        .bearer_auth(&developer)
        .json(&identity)
        .send()
        .await
        .unwrap();
    assert_eq!(fixed.status(), 200);
    let path = format!("/api/v1/invoices/{number}/e-invoice/resubmission");
    assert_problem(app.post_as(&retail, &path, &json!({})).await, 403, "forbidden").await;
    let again: Value = app.post_as(&finance, &path, &json!({})).await.json().await.unwrap();
    assert_eq!((again["version"].as_i64(), again["status"].as_str()), (Some(2), Some("queued")));
    assert_problem(app.post_as(&finance, &path, &json!({})).await, 409, "e-invoice-not-invalid").await;
    for _ in 0..4 {
        app.clock.advance_seconds(10);
        kuota::myinvois::job::run_once(&app.state, "node-a").await.unwrap();
    }
    let valid = e_invoice_of(&app, &retail, &number).await;
    assert_eq!((valid["version"].as_i64(), valid["status"].as_str()), (Some(2), Some("valid")), "{valid}");
}

/// A registered, verified company with its e-invoice details and address;
/// returns the developer administrator's and retail's tokens.
pub async fn e_invoicing_company(app: &TestApp) -> (String, String) {
    let registration = json!({
        "company_name": "Bina Harmoni Sdn. Bhd.", "registration_no": "202101000034", "developer_code": "PMJ-1",
        "address": "No. 9, Jalan Harmoni, Taman Harmoni, 81100 Johor Bahru", "postcode": "81100", "state": "01",
        "contact_person": "Siti Aminah", "email": "akaun@binaharmoni.my", "phone": "012-345 6789",
        "user_name": "Siti Aminah", "user_email": "siti@binaharmoni.my", "user_password": "kata-laluan-siti-1",
        "privacy_notice_acknowledged": true, "tin": "C2021010003", "sst_registration_no": "NA"
    });
    assert_eq!(
        app.client.post(app.url("/api/v1/registrations")).json(&registration).send().await.unwrap().status(),
        201
    );
    let retail = app.add_user("retail@posdigicert.com.my", "retail", None).await;
    assert_eq!(app.post_as(&retail, "/api/v1/developers/PMJ-1/verification", &json!({})).await.status(), 200);
    let developer = app.add_user("pentadbir@binaharmoni.my", "developer_admin", Some("PMJ-1")).await;
    app.set_price("CERT-1Y", "50.00").await;
    app.set_price("CERT-1M", "8.50").await;
    let mut settings: Value = app.get_as(&app.admin_token, "/api/v1/settings").await.json().await.unwrap();
    settings["seller"]["tin"] = json!("C10000000000");
    settings["seller"]["registration_no"] = json!("200001012345");
    settings["seller"]["sst_no"] = json!("W10-1808-32000000");
    settings["seller"]["msic_code"] = json!("62091");
    settings["seller"]["msic_activity"] = json!("Information Communication Technology (ICT) system security");
    settings["seller"]["address"] = json!("Aras 8, Menara Contoh, Jalan Contoh");
    settings["seller"]["city"] = json!("Kuala Lumpur");
    settings["seller"]["postcode"] = json!("50450");
    settings["seller"]["state_code"] = json!("14");
    settings["seller"]["phone"] = json!("03-2727 2000");
    let saved =
        app.client.put(app.url("/api/v1/settings")).bearer_auth(&app.admin_token).json(&settings).send().await.unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    (developer, retail)
}

async fn an_issued_invoice_becomes_a_document_that_passes_every_rule(backend: Backend) {
    let app = TestApp::spawn_straight_through(backend).await;
    let (developer, retail) = e_invoicing_company(&app).await;
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 3}, {"product": "CERT-1M", "units": 7}]});
    let request: Value = app.post_as(&developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    let id = request["id"].as_i64().unwrap();
    // A 5% discount: 150.00 + 59.50 = 209.50, less 10.48 = 199.02, SST 15.92, total 214.94.
    let revised = app
        .post_as(&retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({"discount_percent": "5"}))
        .await;
    assert_eq!(revised.status(), 201);
    let total = revised.json::<Value>().await.unwrap()["total"].as_str().unwrap().to_owned();
    let paid = app
        .submit_payment(&developer, id, "bank_transfer", "TRX-EINV", &total, "b.pdf", crate::helpers::pdf_bytes("einv"))
        .await;
    let payment = paid.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(app.post_as(&retail, &format!("/api/v1/payments/{payment}/approval"), &json!({})).await.status(), 200);
    let shown: Value = app.get_as(&developer, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    let number = shown["invoice"]["number"].as_str().unwrap().to_owned();
    let mut connection = app.db.pool().acquire().await.unwrap();
    let at = kuota::clock::millis_to_timestamp(1_796_000_000_000);
    let document = kuota::myinvois::compose::invoice(&mut connection, &number, at).await.unwrap().unwrap();
    let text = document.to_json();
    let node = kuota::myinvois::json::parse(&text).unwrap();
    assert_eq!(kuota::myinvois::rules::check(&node), Vec::new(), "{text}");
    assert_eq!(kuota::myinvois::rules::check_totals(&node), Vec::new());
    assert!(text.contains(&format!(r#""PayableAmount":[{{"_":{total},"currencyID":"MYR"}}]"#)), "{text}");
    assert!(text.contains(r#""PaymentMeansCode":[{"_":"03"}]"#));
    assert!(text.contains(r#""CityName":[{"_":"Johor Bahru"}]"#));
    assert!(text.contains(r#""ID":[{"_":"C2021010003","schemeID":"TIN"}]"#));
    // Without the buyer's TIN the checker names what is missing.
    sqlx::query("UPDATE developers SET tin = NULL").execute(app.db.pool()).await.unwrap();
    let blank = kuota::myinvois::compose::invoice(&mut connection, &number, at).await.unwrap().unwrap();
    let problems = kuota::myinvois::rules::check(&kuota::myinvois::json::parse(&blank.to_json()).unwrap());
    assert_eq!(
        problems.iter().map(|p| p.english()).collect::<Vec<_>>(),
        ["AccountingCustomerParty.Party.PartyIdentification[TIN] is missing"]
    );
}

async fn a_company_records_its_tax_identity_and_is_asked_until_it_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    let admin = app.add_user("pentadbir@maju.com.my", "developer_admin", Some("PMJ-1")).await;
    let member = app.add_user("ahli@maju.com.my", "developer_member", Some("PMJ-1")).await;
    let finance = app.add_user("kewangan@posdigicert.com.my", "finance", None).await;
    let path = "/api/v1/developers/PMJ-1/tax-identity";
    let empty: Value = app.get_as(&member, path).await.json().await.unwrap();
    assert_eq!((empty["tin"].clone(), empty["sst_registration_no"].clone()), (Value::Null, Value::Null));
    // The company's administrator is asked on the dashboard until it is done.
    let session = portal_session(&app, "pentadbir@maju.com.my", PASSWORD).await.unwrap();
    assert!(page(&app, &session, "/dashboard").await.text().await.unwrap().contains("id=\"tax-identity-missing\""));
    let good = json!({"tin": "c29702635060", "sst_registration_no": " W10-1808-32000000 ; W10-1808-32000001 "});
    for token in [&member, &finance] {
        assert_problem(
            app.client.put(app.url(path)).bearer_auth(token).json(&good).send().await.unwrap(),
            403,
            "forbidden",
        )
        .await;
    }
    let wrong = json!({"tin": "29702635060", "sst_registration_no": "x"});
    let refused = assert_problem(
        app.client.put(app.url(path)).bearer_auth(&admin).json(&wrong).send().await.unwrap(),
        400,
        "validation",
    )
    .await;
    let fields: Vec<&str> =
        refused["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["tin", "sst_registration_no"]);
    let saved: Value =
        app.client.put(app.url(path)).bearer_auth(&admin).json(&good).send().await.unwrap().json().await.unwrap();
    assert_eq!(saved["tin"], "C29702635060");
    assert_eq!(saved["sst_registration_no"], "W10-1808-32000000;W10-1808-32000001");
    assert_eq!(app.count("audit_log WHERE action = 'developer.tax_identity'").await, 1);
    // A company made by an administrator has no address yet: still asked.
    assert_eq!(saved["complete"], false);
    assert!(page(&app, &session, "/dashboard").await.text().await.unwrap().contains("tax-identity-missing"));
    let wrong_place = json!({"tin": "C29702635060", "sst_registration_no": "NA", "postcode": "5045", "state": "17"});
    let refused = app.client.put(app.url(path)).bearer_auth(&admin).json(&wrong_place).send().await.unwrap();
    let refused = assert_problem(refused, 400, "validation").await;
    let fields: Vec<&str> =
        refused["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["postcode", "state"]);
    let placed = json!({"tin": "C29702635060", "sst_registration_no": "NA", "address": "Lot 5, Jalan Ampang",
                        "postcode": "50450", "state": "14", "phone": "03-2161 1234"});
    let saved: Value =
        app.client.put(app.url(path)).bearer_auth(&admin).json(&placed).send().await.unwrap().json().await.unwrap();
    assert_eq!((saved["phone"].as_str(), saved["complete"].as_bool()), (Some("+60321611234"), Some(true)), "{saved}");
    assert!(!page(&app, &session, "/dashboard").await.text().await.unwrap().contains("tax-identity-missing"));
    // Left out, the address stays.
    let saved: Value =
        app.client.put(app.url(path)).bearer_auth(&admin).json(&good).send().await.unwrap().json().await.unwrap();
    assert_eq!((saved["address"].as_str(), saved["state"].as_str()), (Some("Lot 5, Jalan Ampang"), Some("14")));
    the_company_page_takes_the_particulars(&app, &session, &member).await;
    // A registration may give them at once; a wrong one is named.
    let mut registration = json!({
        "company_name": "Bina Harmoni Sdn. Bhd.", "registration_no": "202101000034", "developer_code": "PMJ-9",
        "address": "No. 9, Jalan Harmoni", "postcode": "50450", "state": "14", "contact_person": "Siti Aminah",
        "email": "akaun@binaharmoni.my", "phone": "012-345 6789", "user_name": "Siti Aminah",
        "user_email": "siti@binaharmoni.my", "user_password": "kata-laluan-siti-1", "privacy_notice_acknowledged": true,
        "tin": "C2021010003", "sst_registration_no": "NA"
    });
    registration["tin"] = json!("X1");
    let bad = app.client.post(app.url("/api/v1/registrations")).json(&registration).send().await.unwrap();
    assert_eq!(assert_problem(bad, 400, "validation").await["errors"][0]["field"], "tin");
    registration["tin"] = json!("C2021010003");
    assert_eq!(
        app.client.post(app.url("/api/v1/registrations")).json(&registration).send().await.unwrap().status(),
        201
    );
    let registered: Value =
        app.get_as(&app.admin_token, "/api/v1/developers/PMJ-9/tax-identity").await.json().await.unwrap();
    assert_eq!(registered["tin"], "C2021010003");
}

/// In the portal, a wrong TIN and an empty address are refused beside their
/// fields and kept as typed; then saved.
async fn the_company_page_takes_the_particulars(app: &TestApp, session: &str, member: &str) {
    let path = "/api/v1/developers/PMJ-1/tax-identity";
    let token = csrf(app, session, "/company").await;
    let mut form = vec![
        ("csrf", token.as_str()),
        ("tin", "C12"),
        ("sst_registration_no", "NA"),
        ("address", " "),
        ("postcode", "50450"),
        ("state", "14"),
        ("phone", "03-2161 1234"),
    ];
    let response = post_form(app, session, "/company/tax-identity", &form).await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"tax-tin-error\"") && html.contains("value=\"C12\""), "{html}");
    assert!(html.contains("id=\"tax-address-error\"") && !html.contains("id=\"tax-phone-error\""), "{html}");
    assert!(html.contains(r#"<option value="14" selected>"#), "the state stays chosen: {html}");
    form[1] = ("tin", "C20200100002");
    form[3] = ("address", "No. 1, Jalan Maju");
    assert_eq!(post_form(app, session, "/company/tax-identity", &form).await.status(), 303);
    let now: Value = app.get_as(member, path).await.json().await.unwrap();
    assert_eq!((now["tin"].as_str(), now["sst_registration_no"].as_str()), (Some("C20200100002"), Some("NA")));
    assert_eq!(now["address"], "No. 1, Jalan Maju");
}

fn openssl(args: &[&str], folder: &Path) -> String {
    let output = Command::new("openssl").args(args).current_dir(folder).output().expect("openssl on PATH");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A key and a self-signed organisation certificate as LHDN's profile has it:
/// CN and O the organisation, C=MY, organizationIdentifier = TIN,
/// serialNumber = BRN, non-repudiation, document signing.
fn make_certificate(folder: &Path, name: &str) -> (String, String) {
    let subject = "/CN=Pos Digicert Sdn Bhd/O=Pos Digicert Sdn Bhd/C=MY/organizationIdentifier=C12345678901/serialNumber=200001012345";
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "2",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            subject,
            "-addext",
            "keyUsage=critical,nonRepudiation,digitalSignature",
            "-addext",
            "extendedKeyUsage=1.3.6.1.4.1.311.10.3.12",
        ],
        folder,
    );
    let read = |file: String| std::fs::read_to_string(folder.join(file)).unwrap();
    (read(format!("{name}.key")), read(format!("{name}.pem")))
}

#[test]
fn a_document_signed_here_verifies_here_and_with_openssl() {
    let folder = std::env::temp_dir().join(format!("kuota-einvoice-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let (key, cert) = make_certificate(&folder, "signer");
    let signer = SoftwareSigner::from_pem(&key, &cert).unwrap();
    let certificate = signer.certificate();
    assert!(certificate.subject.contains("CN=Pos Digicert Sdn Bhd"), "{}", certificate.subject);
    let tin = certificate.subject_attributes.iter().find(|(oid, _)| oid == "2.5.4.97").map(|(_, v)| v.clone());
    assert_eq!(tin.as_deref(), Some("C12345678901"));
    // LHDN's invoice sample, re-signed with our certificate.
    let sample = std::fs::read_to_string("data/myinvois/samples/1.1-Invoice-Sample.json").unwrap();
    let signed = signature::sign(&sample, &signer, "2026-12-02T03:04:05Z").unwrap();
    assert!(!signed.contains('\n'), "minified");
    assert_eq!(signature::verify(&signed).unwrap().serial, certificate.serial);
    assert_eq!(
        signature::unsigned_bytes(&signed).unwrap(),
        signature::unsigned_bytes(&sample).unwrap(),
        "B is unchanged"
    );
    // openssl checks the RSA signature over B with the certificate's key.
    let unsigned = signature::unsigned_bytes(&signed).unwrap();
    let value = signed.split("\"SignatureValue\":[{\"_\":\"").nth(1).unwrap().split('"').next().unwrap();
    std::fs::write(folder.join("b.json"), &unsigned).unwrap();
    std::fs::write(folder.join("signature.bin"), base64::engine::general_purpose::STANDARD.decode(value).unwrap())
        .unwrap();
    let public = openssl(&["x509", "-in", "signer.pem", "-pubkey", "-noout"], &folder);
    std::fs::write(folder.join("public.pem"), public).unwrap();
    let verified =
        openssl(&["dgst", "-sha256", "-verify", "public.pem", "-signature", "signature.bin", "b.json"], &folder);
    assert_eq!(verified.trim(), "Verified OK");
    // A changed amount, or a key that is not the certificate's, fails.
    let tampered = signed.replacen("\"PayableAmount\":[{\"_\":", "\"PayableAmount\":[{\"_\":1", 1);
    assert!(signature::verify(&tampered).is_err());
    let (other_key, _) = make_certificate(&folder, "other");
    assert!(SoftwareSigner::from_pem(&other_key, &cert).is_err(), "a key must match its certificate");
    let _ = std::fs::remove_dir_all(&folder);
}

/// What a note's rows and the ledger hold: notes, their lines, ledger
/// entries, e-invoices, audit records.
async fn note_footprint(app: &TestApp) -> [i64; 5] {
    [
        app.count("invoice_notes").await,
        app.count("invoice_note_lines").await,
        app.count("ledger_entries").await,
        app.count("e_invoices").await,
        app.count("audit_log").await,
    ]
}

async fn a_credit_note_takes_back_unused_units_and_reaches_valid_referencing_its_invoice(backend: Backend) {
    let (app, fake) = e_invoicing_app(backend).await;
    let (developer, retail) = e_invoicing_company(&app).await;
    let finance = app.add_user("kewangan@posdigicert.com.my", "finance", None).await;
    let invoice = invoiced_purchase(&app, &developer, &retail, "TRX-CN").await;
    run_job(&app, 4).await;
    let original = e_invoice_of(&app, &finance, &invoice).await;
    assert_eq!(original["status"], "valid", "{original}");
    let original_uuid = original["uuid"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/invoices/{invoice}/credit-notes");
    let one = json!({"reason": "Unit berlebihan / Units over-ordered", "lines": [{"product": "CERT-1Y", "units": 1}]});
    // Only finance (and administrators) issue notes.
    assert_problem(app.post_as(&retail, &path, &one).await, 403, "forbidden").await;
    assert_problem(app.post_as(&developer, &path, &one).await, 403, "forbidden").await;
    // The developer uses one of its two units.
    assert_eq!(app.consume("PMJ-1", "cn-use-1", "CERT-1Y", 1).await.status(), 201);
    let before = note_footprint(&app).await;
    // Two units cannot come back now: one is used. Nothing is written, no number is spent.
    let two = json!({"reason": "Batal / Cancelled", "lines": [{"product": "CERT-1Y", "units": 2}]});
    let refused = assert_problem(app.post_as(&finance, &path, &two).await, 409, "units-in-use").await;
    assert!(refused["detail"].as_str().unwrap().contains("only 1 are available"), "{refused}");
    // More than the invoice billed, a product it does not bill, a product twice: refused.
    let three = json!({"reason": "Batal", "lines": [{"product": "CERT-1Y", "units": 3}]});
    assert_problem(app.post_as(&finance, &path, &three).await, 409, "units-beyond-invoice").await;
    let other = json!({"reason": "Batal", "lines": [{"product": "CERT-2Y", "units": 1}]});
    assert_problem(app.post_as(&finance, &path, &other).await, 422, "product-not-on-invoice").await;
    let twice =
        json!({"reason": "Batal", "lines": [{"product": "CERT-1Y", "units": 1}, {"product": "CERT-1Y", "units": 1}]});
    assert_problem(app.post_as(&finance, &path, &twice).await, 422, "duplicate-product").await;
    let empty = json!({"reason": " ", "lines": []});
    assert_problem(app.post_as(&finance, &path, &empty).await, 400, "validation").await;
    assert_eq!(note_footprint(&app).await, before, "a refused note writes nothing");
    // The unused unit comes back: the quota drops, the note is priced at the invoice's quotation.
    let issued = app.post_as(&finance, &path, &one).await;
    assert_eq!(issued.status(), 201);
    let note: Value = issued.json().await.unwrap();
    let number = note["number"].as_str().unwrap().to_owned();
    assert!(number.starts_with("CN-") && number.ends_with("-000001"), "gapless after the refusals: {number}");
    assert_eq!((note["kind"].as_str(), note["invoice"].as_str()), (Some("credit_note"), Some(invoice.as_str())));
    assert_eq!(
        (note["subtotal"].as_str(), note["tax"].as_str(), note["total"].as_str()),
        (Some("50.00"), Some("4.00"), Some("54.00"))
    );
    let balance = app.balance("PMJ-1", "CERT-1Y").await;
    assert_eq!((balance["available"].as_i64(), balance["consumed"].as_i64()), (Some(0), Some(1)), "{balance}");
    // The invoice's other unit is the one used: it cannot come back, and then nothing is left to take back.
    assert_problem(app.post_as(&finance, &path, &one).await, 409, "units-in-use").await;
    assert_problem(app.post_as(&finance, &path, &two).await, 409, "units-beyond-invoice").await;
    // The note reaches Valid at MyInvois once, as type 02 naming the invoice's e-invoice.
    run_job(&app, 4).await;
    run_job(&app, 4).await;
    let accepted: Vec<_> = fake.accepted().into_iter().filter(|r| r.number == number).collect();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    let shown = e_invoice_of(&app, &finance, &number).await;
    assert_eq!(shown["status"], "valid", "{shown}");
    let bytes =
        app.get_as(&developer, &format!("/api/v1/invoices/{number}/e-invoice.json")).await.bytes().await.unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    signature::verify(text).unwrap();
    let document: Value = serde_json::from_str(text).unwrap();
    let body = &document["Invoice"][0];
    assert_eq!(body["InvoiceTypeCode"][0]["_"], "02");
    let reference = &body["BillingReference"][0]["InvoiceDocumentReference"][0];
    assert_eq!(
        (reference["ID"][0]["_"].as_str(), reference["UUID"][0]["_"].as_str()),
        (Some(invoice.as_str()), Some(original_uuid.as_str()))
    );
    assert!(kuota::myinvois::rules::check(&kuota::myinvois::json::parse(text).unwrap()).is_empty());
    the_note_is_shown_to_its_company_only(&app, &developer, (&invoice, &original_uuid), (&number, &accepted[0].uuid))
        .await;
    app.assert_ledger_verifies().await;
}

/// The invoice lists its note; the note's PDF says what it is, names the
/// invoice and both e-invoices; another company sees none of it.
async fn the_note_is_shown_to_its_company_only(
    app: &TestApp,
    developer: &str,
    (invoice, original_uuid): (&str, &str),
    (number, own_uuid): (&str, &str),
) {
    let shown: Value = app.get_as(developer, &format!("/api/v1/invoices/{invoice}")).await.json().await.unwrap();
    assert_eq!(
        (shown["e_invoice"]["status"].as_str(), shown["notes"][0]["number"].as_str()),
        (Some("valid"), Some(number)),
        "{shown}"
    );
    assert_eq!(shown["notes"][0]["e_invoice"]["status"], "valid");
    let pdf = app.get_as(developer, &format!("/api/v1/documents/{number}.pdf")).await.bytes().await.unwrap();
    let pdf_text = crate::helpers::pdf_text(&pdf);
    for expected in ["NOTA KREDIT", "Credit note", invoice, original_uuid, own_uuid, "Unit berlebihan"] {
        assert!(pdf_text.contains(expected), "{expected} missing from {pdf_text}");
    }
    let url = format!("https://preprod.myinvois.hasil.gov.my/{own_uuid}/share/LONG{own_uuid}");
    assert_eq!(qr_in_pdf(&pdf), url);
    // The developer's documents list has it; another company cannot see it.
    let session = portal_session(app, "siti@binaharmoni.my", "kata-laluan-siti-1").await.unwrap();
    let list = page(app, &session, "/documents").await.text().await.unwrap();
    assert!(list.contains(number) && list.contains("Nota kredit"), "{list}");
    app.add_developer("PMJ-8", "201901000088").await;
    let stranger = app.add_user("lain@lain.my", "developer_admin", Some("PMJ-8")).await;
    assert_eq!(app.get_as(&stranger, &format!("/api/v1/invoices/{invoice}")).await.status(), 404);
    assert_eq!(app.get_as(&stranger, &format!("/api/v1/documents/{number}.pdf")).await.status(), 404);
    assert_eq!(app.get_as(&stranger, &format!("/api/v1/invoices/{number}/e-invoice")).await.status(), 404);
}

async fn a_refund_note_needs_a_paid_invoice_and_waits_for_its_invoice_to_be_valid(backend: Backend) {
    let (app, fake) = e_invoicing_app(backend).await;
    let (developer, retail) = e_invoicing_company(&app).await;
    let finance = app.add_user("kewangan@posdigicert.com.my", "finance", None).await;
    // A purchase order's invoice is unpaid: no money to return.
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 2}]});
    let request: Value = app.post_as(&developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    let id = request["id"].as_i64().unwrap();
    let po =
        app.submit_payment(&developer, id, "po", "PO-77", "108.00", "po.pdf", crate::helpers::pdf_bytes("PO-77")).await;
    let payment = po.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(app.post_as(&retail, &format!("/api/v1/payments/{payment}/approval"), &json!({})).await.status(), 200);
    let shown: Value = app.get_as(&developer, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    let unpaid = shown["invoice"]["number"].as_str().unwrap().to_owned();
    let two = json!({"reason": "Wang dikembalikan / Money returned", "lines": [{"product": "CERT-1Y", "units": 2}]});
    assert_problem(
        app.post_as(&finance, &format!("/api/v1/invoices/{unpaid}/refund-notes"), &two).await,
        409,
        "invoice-not-paid",
    )
    .await;
    // A paid invoice, refunded before its own e-invoice is valid: the note waits for it.
    let paid = invoiced_purchase(&app, &developer, &retail, "TRX-RN").await;
    let issued = app.post_as(&finance, &format!("/api/v1/invoices/{paid}/refund-notes"), &two).await;
    assert_eq!(issued.status(), 201);
    let note: Value = issued.json().await.unwrap();
    let number = note["number"].as_str().unwrap().to_owned();
    assert!(number.starts_with("RN-") && number.ends_with("-000001"), "{number}");
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 2, "the PO's units stay; the refunded ones left");
    kuota::myinvois::job::run_once(&app.state, "node-a").await.unwrap();
    let waiting = e_invoice_of(&app, &finance, &number).await;
    assert_eq!(waiting["status"], "blocked", "{waiting}");
    assert!(waiting["errors"]["en"].as_str().unwrap().contains("BillingReference"), "{waiting}");
    // Once the invoice's e-invoice is valid the note goes at once, not an hour later.
    run_job(&app, 8).await;
    assert_eq!(e_invoice_of(&app, &finance, &paid).await["status"], "valid");
    let shown = e_invoice_of(&app, &finance, &number).await;
    assert_eq!(shown["status"], "valid", "{shown}");
    let accepted: Vec<_> = fake.accepted().into_iter().filter(|r| r.number == number).collect();
    assert_eq!(accepted.len(), 1);
    let bytes = app.get_as(&finance, &format!("/api/v1/invoices/{number}/e-invoice.json")).await.bytes().await.unwrap();
    let document: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(document["Invoice"][0]["InvoiceTypeCode"][0]["_"], "04");
    let pdf = app.get_as(&developer, &format!("/api/v1/documents/{number}.pdf")).await.bytes().await.unwrap();
    assert!(crate::helpers::pdf_text(&pdf).contains("NOTA BAYARAN BALIK"));
    // Audited with who did it.
    assert_eq!(app.count("audit_log WHERE action = 'invoice.refund_note'").await, 1);
    app.assert_ledger_verifies().await;
}

async fn finance_issues_a_note_from_the_invoice_page_with_reasons_beside_the_fields(backend: Backend) {
    let (app, _fake) = e_invoicing_app(backend).await;
    let (developer, retail) = e_invoicing_company(&app).await;
    app.add_user("kewangan@posdigicert.com.my", "finance", None).await;
    let invoice = invoiced_purchase(&app, &developer, &retail, "TRX-PG").await;
    let session = portal_session(&app, "kewangan@posdigicert.com.my", PASSWORD).await.unwrap();
    // The finance page leads to the invoice: from its e-invoice row and by its number.
    let overview = page(&app, &session, "/finance").await.text().await.unwrap();
    assert!(overview.contains(&format!("href=\"/finance/invoices/{invoice}\"")), "{overview}");
    let found = page(&app, &session, &format!("/finance/invoices?number={}", invoice.to_lowercase())).await;
    assert_eq!(found.status(), 303);
    assert_eq!(found.headers()["location"], format!("/finance/invoices/{invoice}").as_str());
    let path = format!("/finance/invoices/{invoice}");
    let shown = page(&app, &session, &path).await.text().await.unwrap();
    assert!(shown.contains("Boleh diambil semula") && shown.contains("Tiada nota bagi invois ini."), "{shown}");
    // One of the two units is used: two cannot come back, and the page says so beside the units.
    assert_eq!(app.consume("PMJ-1", "pg-use-1", "CERT-1Y", 1).await.status(), 201);
    let token = csrf(&app, &session, &path).await;
    let notes = format!("{path}/notes");
    let form = |kind: &'static str, units: &'static str, reason: &'static str| {
        vec![
            ("csrf", token.clone()),
            ("kind", kind.to_owned()),
            ("product", "CERT-1Y".to_owned()),
            ("units", units.to_owned()),
            ("reason", reason.to_owned()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let (app, session, notes) = (&app, &session, &notes);
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(app, session, notes, &pairs).await
        }
    };
    let refused = post(form("credit_note", "2", "Unit berlebihan")).await;
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Hanya 1 unit masih tersedia") && html.contains(r#"id="units-error""#), "{html}");
    assert!(html.contains("Unit berlebihan"), "what was typed stays");
    let bad = post(form("credit_note", "dua", "Unit berlebihan")).await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("Masukkan nombor bulat dari 1 hingga 1,000,000."));
    let no_reason = post(form("credit_note", "1", "  ")).await;
    assert_eq!(no_reason.status(), 400);
    assert_eq!(app.count("invoice_notes").await, 0, "nothing refused is written");
    // The unused unit comes back.
    let issued = post(form("credit_note", "1", "Unit berlebihan")).await;
    assert_eq!(issued.status(), 303);
    assert_eq!(issued.headers()["location"], format!("{path}?done=note-issued").as_str());
    let shown = page(&app, &session, &format!("{path}?done=note-issued")).await.text().await.unwrap();
    assert!(
        shown.contains("Nota dikeluarkan") && shown.contains("-000001") && shown.contains("Nota kredit"),
        "{shown}"
    );
    assert_eq!(app.balance("PMJ-1", "CERT-1Y").await["available"], 0);
    // Retail may not, and neither may the developer.
    let retail_session = portal_session(&app, "retail@posdigicert.com.my", PASSWORD).await.unwrap();
    assert_eq!(page(&app, &retail_session, &path).await.status(), 404);
    let siti = portal_session(&app, "siti@binaharmoni.my", "kata-laluan-siti-1").await.unwrap();
    assert_eq!(page(&app, &siti, &path).await.status(), 404);
}
