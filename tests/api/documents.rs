//! Issued documents: real PDFs that parse and say what they should, the same
//! bytes on every download, and invisible to anyone but the developer's users
//! and staff.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, pdf_text};
use crate::on_both_backends;
use crate::workflow::{purchase, setup};

on_both_backends!(documents_are_the_same_bytes_every_time_and_hidden_from_others, hostile_names_print_as_text);

async fn download(app: &TestApp, token: &str, number: &str) -> Vec<u8> {
    let response = app.get_as(token, &format!("/api/v1/documents/{number}.pdf")).await;
    assert_eq!(response.status(), 200, "{number}");
    assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/pdf"));
    response.bytes().await.unwrap().to_vec()
}

async fn documents_are_the_same_bytes_every_time_and_hidden_from_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let (id, invoice) = purchase(&app, &parties, "po").await;
    let request: Value =
        app.get_as(&parties.developer, &format!("/api/v1/quota-requests/{id}")).await.json().await.unwrap();
    let numbers: Vec<String> =
        request["documents"].as_array().unwrap().iter().map(|d| d["number"].as_str().unwrap().to_owned()).collect();
    assert_eq!(numbers, ["QT-2026-000001", "INV-2026-000001", "DO-2026-000001"]);
    for number in &numbers {
        let first = download(&app, &parties.developer, number).await;
        let again = download(&app, &parties.finance, number).await;
        assert_eq!(first, again, "{number}: the same bytes every time");
        assert!(first.starts_with(b"%PDF-"));
        let text = pdf_text(&first);
        assert!(text.contains(number), "{number} names itself");
        assert!(text.contains("REQ-2026-000001"), "{number} names the request");
        if !number.starts_with("DO-") {
            assert!(text.contains("RM 5,767.20"), "{number} shows the total: {text}");
            assert!(text.contains("8%"), "{number} shows the SST rate");
        }
    }
    let invoice_text = pdf_text(&download(&app, &parties.developer, invoice["invoice_number"].as_str().unwrap()).await);
    assert!(invoice_text.contains("Belum dibayar") && invoice_text.contains("MYR"), "{invoice_text}");
    assert_eq!(app.count("documents").await, 3, "each document stored once");
    app.add_developer("PMJ-2", "201901000006").await;
    let stranger = app.add_user("orang@lain.com.my", "developer_admin", Some("PMJ-2")).await;
    for number in &numbers {
        assert_problem(app.get_as(&stranger, &format!("/api/v1/documents/{number}.pdf")).await, 404, "/not-found")
            .await;
        assert_problem(
            app.get_as(&app.hims_token, &format!("/api/v1/documents/{number}.pdf")).await,
            404,
            "/not-found",
        )
        .await;
    }
    assert_problem(app.get_as(&parties.developer, "/api/v1/documents/QT-2026-999999.pdf").await, 404, "/not-found")
        .await;
    assert_problem(app.get_as(&parties.developer, "/api/v1/documents/QT-2026-000001").await, 404, "/not-found").await;
}

async fn hostile_names_print_as_text(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let hostile = "<script>alert(1)</script> #set page(width: 1cm) *tebal* $x^2$ ] \\ \"Maju\" & 'Co' 天宇";
    let long_tail = "Panjang".repeat(20);
    sqlx::query("UPDATE developers SET name = $1, address = $2 WHERE code = 'PMJ-1'")
        .bind(format!("{hostile} {long_tail}"))
        .bind("#{panic()} ]] [[ // /* Jalan */")
        .execute(app.db.pool())
        .await
        .unwrap();
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 3}]});
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
    let bytes = download(&app, &parties.developer, quotation["number"].as_str().unwrap()).await;
    let text = pdf_text(&bytes);
    for fragment in
        ["<script>alert(1)</script>", "#set page(width: 1cm)", "*tebal*", "$x^2$", "#{panic()}", "/* Jalan */"]
    {
        assert!(text.contains(fragment), "{fragment:?} printed as text: {text}");
    }
}
