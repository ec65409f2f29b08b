//! The smaller holes of the security review, each closed with a test:
//! caching and framing of sensitive answers, HSTS, one spelling of an
//! e-mail address, and a payment racing a quotation revision.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, pdf_bytes};
use crate::on_both_backends;
use crate::workflow::{purchase, setup};

on_both_backends!(
    sensitive_answers_are_not_cached_and_proofs_never_run_in_the_origin,
    an_address_in_any_case_is_one_account,
    a_payment_racing_a_revision_pays_the_quotation_in_force,
    other_companies_documents_and_invoices_cost_nothing_and_pages_are_whole,
    a_payment_reference_is_unique_within_a_company_only,
    the_data_folder_database_and_blobs_are_private,
);

async fn sensitive_answers_are_not_cached_and_proofs_never_run_in_the_origin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    purchase(&app, &parties, "bank_transfer").await;
    let balances = app.get_as(&app.admin_token, "/api/v1/developers/PMJ-1/balances").await;
    assert_eq!(balances.headers()["cache-control"], "no-store");
    assert_eq!(balances.headers()["strict-transport-security"], "max-age=31536000", "the portal is on https");
    // On PostgreSQL the rolled-back first decision of a submission spends a sequence value.
    let payment: i64 = sqlx::query_scalar("SELECT id FROM payments").fetch_one(app.db.pool()).await.unwrap();
    let proof = app.get_as(&parties.retail, &format!("/api/v1/payments/{payment}/document")).await;
    assert_eq!(proof.status(), 200);
    assert_eq!(proof.headers()["cache-control"], "no-store");
    let disposition = format!("attachment; filename=\"payment-{payment}.pdf\"");
    assert_eq!(proof.headers()["content-disposition"], disposition.as_str());
    let policy = proof.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.starts_with("sandbox"), "{policy}");
    let stylesheet = app.client.get(app.url("/assets/kuota.css")).send().await.unwrap();
    assert_eq!(stylesheet.status(), 200);
    assert_ne!(stylesheet.headers()["cache-control"], "no-store", "static files may be cached");
}

/// Before: `Ali@x.my` kept its local part's case, so a reset for `ali@x.my`
/// never reached it and `ali@x.my` could be a second account.
async fn an_address_in_any_case_is_one_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("Ali.Retail@PosDigicert.com.my", "retail", None).await;
    for spelling in ["ali.retail@posdigicert.com.my", "ALI.RETAIL@POSDIGICERT.COM.MY"] {
        let signed_in = app
            .client
            .post(app.url("/api/v1/tokens"))
            .json(&json!({"email": spelling, "password": "kata-laluan-ujian"}))
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), 201, "{spelling}");
    }
    let count = app.count("users WHERE email = 'ali.retail@posdigicert.com.my'").await;
    assert_eq!(count, 1, "stored once, in lower case");
}

/// Before: on PostgreSQL a payment could read revision 1, a revision 2 could
/// commit, and the payment then commit against the superseded revision.
async fn a_payment_racing_a_revision_pays_the_quotation_in_force(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    for round in 0..6 {
        let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 10}]});
        let created: Value =
            app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
        let id = created["id"].as_i64().unwrap();
        let first = app.post_as(&parties.retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({})).await;
        let total = first.json::<Value>().await.unwrap()["total"].as_str().unwrap().to_owned();
        let (path, discount) = (format!("/api/v1/quota-requests/{id}/quotations"), json!({"discount_percent": "10"}));
        let revision = app.post_as(&parties.retail, &path, &discount);
        let reference = format!("TRX-RACE-{round}");
        let payment = app.submit_payment(
            &parties.developer,
            id,
            "bank_transfer",
            &reference,
            &total,
            "bukti.pdf",
            pdf_bytes(&format!("race{round}")),
        );
        let (revision, payment) = tokio::join!(revision, payment);
        let (revision, payment) = (revision.status().as_u16(), payment.status().as_u16());
        assert!(matches!((revision, payment), (201, 422) | (409, 201)), "round {round}: {revision} {payment}");
        if payment == 201 {
            let stale = app
                .count(&format!(
                    "payments p JOIN quotations q ON q.id = p.quotation_id WHERE p.request_id = {id} AND q.superseded = 1"
                ))
                .await;
            assert_eq!(stale, 0, "round {round}: the payment is against the quotation in force");
        }
    }
}

/// Before: another company's PDF was rendered (and stored) before the 404;
/// invoice lists took the first 1,000 rows of all companies, then filtered.
async fn other_companies_documents_and_invoices_cost_nothing_and_pages_are_whole(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    purchase(&app, &parties, "bank_transfer").await;
    purchase(&app, &parties, "card_counter").await;
    app.add_developer("PMJ-2", "201801000013").await;
    let other = app.add_user("pemaju@indah.com.my", "developer_admin", Some("PMJ-2")).await;
    let before = app.count("documents").await;
    for number in ["QT-2026-000001", "INV-2026-000001", "DO-2026-000002"] {
        let response = app.get_as(&other, &format!("/api/v1/documents/{number}.pdf")).await;
        assert_eq!(response.status(), 404, "{number}");
    }
    assert_eq!(app.count("documents").await, before, "nothing was rendered for the other company");
    let theirs: Value = app.get_as(&other, "/api/v1/invoices").await.json().await.unwrap();
    assert_eq!(theirs["invoices"].as_array().unwrap().len(), 0);
    let first: Value = app.get_as(&parties.finance, "/api/v1/invoices?limit=1").await.json().await.unwrap();
    assert_eq!(first["invoices"].as_array().unwrap().len(), 1);
    let next = first["next"].as_str().unwrap();
    let second: Value =
        app.get_as(&parties.finance, &format!("/api/v1/invoices?limit=1&after={next}")).await.json().await.unwrap();
    assert_eq!(second["invoices"][0]["number"], "INV-2026-000002");
    assert_eq!(second["next"], Value::Null);
    let own: Value = app.get_as(&parties.developer, "/api/v1/invoices").await.json().await.unwrap();
    assert_eq!(own["invoices"].as_array().unwrap().len(), 2);
}

/// Before: references were unique across all companies, so company A learned
/// of — and could block — company B's PO number.
async fn a_payment_reference_is_unique_within_a_company_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    app.add_developer("PMJ-2", "201801000013").await;
    let other = app.add_user("pemaju@indah.com.my", "developer_admin", Some("PMJ-2")).await;
    let mut submitted = Vec::new();
    for (token, code) in [(&parties.developer, "PMJ-1"), (&other, "PMJ-2"), (&parties.developer, "PMJ-1")] {
        let body = json!({"developer": code, "lines": [{"product": "CERT-1Y", "units": 2}]});
        let created: Value = app.post_as(token, "/api/v1/quota-requests", &body).await.json().await.unwrap();
        let id = created["id"].as_i64().unwrap();
        let quoted = app.post_as(&parties.retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({})).await;
        let total = quoted.json::<Value>().await.unwrap()["total"].as_str().unwrap().to_owned();
        let document = pdf_bytes("the same proof");
        let paid = app.submit_payment(token, id, "po", "PO-2026-0001", &total, "po.pdf", document).await;
        submitted.push(paid.status().as_u16());
    }
    assert_eq!(
        submitted,
        [201, 201, 409],
        "the same PO number and file: another company may, the same company may not"
    );
}

/// Database files, the key file and blobs are readable by kuota's own user
/// only: folders 0700, files 0600.
async fn the_data_folder_database_and_blobs_are_private(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(backend).await;
    let parties = crate::workflow::setup(&app).await;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let data = &app.database.data_dir;
    assert_eq!(mode(data), 0o700);
    assert_eq!(mode(&data.join("audit.key")), 0o600);
    if backend == Backend::Sqlite {
        for file in ["kuota.db", "kuota.db-wal", "kuota.db-shm"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
    }
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 2}]});
    let id =
        app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
    let total = app
        .post_as(&parties.retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap()["total"]
        .as_str()
        .unwrap()
        .to_owned();
    let proof = pdf_bytes("private");
    let paid =
        app.submit_payment(&parties.developer, id, "bank_transfer", "TRX-P", &total, "b.pdf", proof.clone()).await;
    assert_eq!(paid.status(), 201);
    let sha256 = kuota::digest::sha256_hex(&proof);
    let blob = data.join("blobs").join(&sha256[..2]).join(&sha256);
    assert_eq!(mode(&blob), 0o600);
    assert_eq!(mode(blob.parent().unwrap()), 0o700);
    assert_eq!(mode(&data.join("blobs")), 0o700);
}
