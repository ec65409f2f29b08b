//! The authorization matrix: every operation of the API (read from the
//! OpenAPI document, so a new one cannot be left out) and every route of the
//! portal (read from its router) against every kind of caller, on both
//! backends. The expected answers live in one reviewable file,
//! `tests/api/authorization.matrix`; `KUOTA_MATRIX_PRINT=1` prints what was
//! observed in the same layout.
//!
//! A cell says how the caller is answered: `401`, `403`, `404` (refused, or
//! hidden as not found); `ok` (let through: any other status — the action may
//! still be refused for its state or input, which is not authorization);
//! `ok*` (let through, and a 404 may mean an earlier cell removed the thing);
//! for portal pages the exact status (`200`, `303` to sign in, …); `-` not
//! applicable (API clients have no portal session).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, pdf_bytes, unique};
use crate::on_both_backends;
use crate::people::{PASSWORD, portal_session};
use crate::workflow::setup;

on_both_backends!(every_route_answers_every_caller_as_the_matrix_says);

const MATRIX: &str = include_str!("authorization.matrix");

/// The callers, in the matrix's column order.
const CALLERS: [&str; 12] = [
    "anon", "memberA", "adminA", "memberB", "adminB", "retail", "finance", "admin", "hims", "client", "gone", "expired",
];

/// Everything the cells need: a token and a portal session per caller, and
/// the things the paths name (all of company A).
struct Fixture {
    tokens: BTreeMap<&'static str, Option<String>>,
    sessions: BTreeMap<&'static str, Option<String>>,
    ids: BTreeMap<&'static str, String>,
}

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(app.db.pool()).await.unwrap()
}

async fn fixture(app: &TestApp) -> Fixture {
    let parties = setup(app).await;
    app.add_developer("PMJ-2", "201901000013").await;
    let member_a = app.add_user("ahli@maju.com.my", "developer_member", Some("PMJ-1")).await;
    let member_b = app.add_user("ahli@lain.com.my", "developer_member", Some("PMJ-2")).await;
    let admin_b = app.add_user("pentadbir@lain.com.my", "developer_admin", Some("PMJ-2")).await;
    let admin = app.add_user("pentadbir@posdigicert.com.my", "admin", None).await;
    let gone = app.add_user("bekas@maju.com.my", "developer_member", Some("PMJ-1")).await;
    let expired = app.add_user("lama@maju.com.my", "developer_member", Some("PMJ-1")).await;
    let target_token = app.add_user("sasaran@maju.com.my", "developer_member", Some("PMJ-1")).await;
    drop(target_token);
    let gone_id = user_id(app, "bekas@maju.com.my").await;
    let reason = json!({"reason": "Telah berhenti"});
    assert_eq!(
        app.post_as(&app.admin_token, &format!("/api/v1/users/{gone_id}/deactivation"), &reason).await.status(),
        200
    );
    sqlx::query("UPDATE user_tokens SET expires_at = 0 WHERE user_id = $1")
        .bind(user_id(app, "lama@maju.com.my").await)
        .execute(app.db.pool())
        .await
        .unwrap();
    let ids = things(app, &parties).await;
    let tokens = BTreeMap::from([
        ("anon", None),
        ("memberA", Some(member_a)),
        ("adminA", Some(parties.developer.clone())),
        ("memberB", Some(member_b)),
        ("adminB", Some(admin_b)),
        ("retail", Some(parties.retail.clone())),
        ("finance", Some(parties.finance.clone())),
        ("admin", Some(admin)),
        ("hims", Some(app.hims_token.clone())),
        ("client", Some(app.admin_token.clone())),
        ("gone", Some(gone)),
        ("expired", Some(expired)),
    ]);
    let mut sessions = BTreeMap::new();
    for (caller, email) in [
        ("memberA", "ahli@maju.com.my"),
        ("adminA", "pemaju@maju.com.my"),
        ("memberB", "ahli@lain.com.my"),
        ("adminB", "pentadbir@lain.com.my"),
        ("retail", "retail@posdigicert.com.my"),
        ("finance", "kewangan@posdigicert.com.my"),
        ("admin", "pentadbir@posdigicert.com.my"),
    ] {
        sessions.insert(caller, Some(portal_session(app, email, PASSWORD).await.expect("signs in")));
    }
    // No session: the anonymous visitor, and a deactivated user (who cannot sign in).
    sessions.insert("anon", None);
    sessions.insert("gone", None);
    Fixture { tokens, sessions, ids }
}

/// The things of company A the paths name: a request quoted and paid, its
/// quotation, a hold, a PO invoice, an attachment, a holiday, a user with a
/// token, and an adjustment waiting for a second person.
async fn things(app: &TestApp, parties: &crate::workflow::Parties) -> BTreeMap<&'static str, String> {
    let (_, invoice) = crate::workflow::purchase(app, parties, "po").await;
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 10}]});
    let request: Value = app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
    let request_id = request["id"].as_i64().unwrap();
    let quotation: Value = app
        .post_as(&parties.retail, &format!("/api/v1/quota-requests/{request_id}/quotations"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let total = quotation["total"].as_str().unwrap().to_owned();
    let paid = app
        .submit_payment(&parties.developer, request_id, "bank_transfer", "TRX-M", &total, "b.pdf", pdf_bytes("m"))
        .await;
    let payment_id = paid.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(app.adjust("PMJ-1", "CERT-1Y", 100).await.status(), 201);
    let hold: Value = app.place_hold("PMJ-1", "matrix-hold", "CERT-1Y", 1, 3600).await.json().await.unwrap();
    let attachment = crate::mail::put_procedure(app, "prosedur", "application/pdf", pdf_bytes("prosedur")).await;
    assert!(attachment.status().is_success());
    let holiday = json!({"date": "2027-03-03", "name_ms": "Cuti ujian", "name_en": "Test holiday"});
    assert!(app.post_as(&app.admin_token, "/api/v1/holidays", &holiday).await.status().is_success());
    let target = user_id(app, "sasaran@maju.com.my").await;
    let token_id: i64 = sqlx::query_scalar("SELECT id FROM user_tokens WHERE user_id = $1")
        .bind(target)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let waiting: Value = app
        .post_as(
            &parties.retail,
            "/api/v1/developers/PMJ-1/adjustments",
            &json!({"product": "CERT-1Y", "units": 5000, "reason": "Besar"}),
        )
        .await
        .json()
        .await
        .unwrap();
    BTreeMap::from([
        ("request", request_id.to_string()),
        ("payment", payment_id.to_string()),
        ("hold", hold["id"].to_string()),
        ("invoice", invoice["invoice_number"].as_str().unwrap().to_owned()),
        ("quotation", quotation["number"].as_str().unwrap().to_owned()),
        ("user", target.to_string()),
        ("token", token_id.to_string()),
        ("approval", waiting["second_approval"].to_string()),
        // This app offers no online payment: no bill exists, and the
        // decision's callers who get past authorization find none (404).
        ("online", "1".to_owned()),
    ])
}

/// The path with its parameters replaced by the fixture's things.
fn concrete(path: &str, ids: &BTreeMap<&'static str, String>) -> String {
    let id = |name: &str| ids.get(name).cloned().unwrap_or_default();
    let by_prefix = [
        ("/api/v1/quota-requests/{id}", "request"),
        ("/requests/{id}", "request"),
        ("/api/v1/payments/{id}", "payment"),
        ("/api/v1/holds/{id}", "hold"),
        ("/api/v1/users/{id}", "user"),
        ("/users/{id}", "user"),
        ("/api/v1/tokens/{id}", "token"),
        ("/tokens/{id}", "token"),
        ("/api/v1/second-approvals/{id}", "approval"),
        ("/approvals/{id}", "approval"),
        ("/api/v1/online-payments/{id}", "online"),
        ("/online-payments/{id}", "online"),
    ];
    let mut concrete = path.to_owned();
    for (prefix, thing) in by_prefix {
        if path.starts_with(prefix) {
            concrete = concrete.replacen("{id}", &id(thing), 1);
        }
    }
    let number = if path.starts_with("/api/v1/documents") { id("quotation") } else { id("invoice") };
    concrete
        .replace("{code}", if path.contains("/products/") { "CERT-1Y" } else { "PMJ-1" })
        .replace("{number}", &number)
        .replace("{date}", "2027-03-03")
        .replace("{name}", "prosedur")
        .replace("{token}", &id("token"))
        .replace("{file}", if path.starts_with("/assets/fonts") { "inter-latin-400-normal.woff2" } else { "kuota.css" })
        .replace("{action}", "cancel")
        .replace("{decision}", "verify")
        .replace("{section}", "settings")
}

/// A body the operation accepts in shape, so that authorization, not input,
/// decides the answer.
fn body_of(method: &Method, path: &str) -> Option<Value> {
    let reason = json!({"reason": "Ujian matriks"});
    let body = match (method.as_str(), path) {
        ("POST", "/api/v1/developers") => {
            json!({"code": format!("MX-{}", unique()), "name": "Matriks Sdn. Bhd.", "registration_no": format!("2019{:08}", unique()), "email": "m@matriks.my"})
        }
        ("POST", "/api/v1/developers/{code}/consumptions") => {
            json!({"product": "CERT-1Y", "units": 1, "reference": "mx"})
        }
        ("POST", "/api/v1/developers/{code}/holds") => {
            json!({"product": "CERT-1Y", "units": 1, "reference": "mx", "expires_in_seconds": 60})
        }
        ("POST", "/api/v1/developers/{code}/adjustments") => json!({"product": "CERT-1Y", "units": 1, "reason": "mx"}),
        ("POST", "/api/v1/registrations") => json!({}),
        // A different unknown account each time, so the sign-in throttle stays out of it.
        ("POST", "/api/v1/tokens") => {
            json!({"email": format!("tiada{}@matriks.my", unique()), "password": "salah-sekali"})
        }
        ("POST", "/api/v1/holidays") => json!({"date": "2027-04-04", "name_ms": "Cuti", "name_en": "Holiday"}),
        ("PUT", "/api/v1/settings") => json!({}),
        ("POST", "/api/v1/sst-rates") => json!({"rate_percent": "8", "effective_from": "2030-01-01"}),
        ("POST", "/api/v1/products/{code}/prices") => json!({"unit_price": "55.00", "effective_from": "2030-01-01"}),
        ("POST", "/api/v1/quota-requests") => {
            json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 1}]})
        }
        ("POST", "/api/v1/quota-requests/{id}/info-requests" | "/api/v1/quota-requests/{id}/info-responses") => {
            json!({"message": "Ujian matriks"})
        }
        ("POST", "/api/v1/online-payments/{id}/decision") => json!({"decision": "credit"}),
        ("POST", "/api/v1/invoices/{number}/settlement") => json!({"paid_on": "2026-12-01", "reference": "MX"}),
        // A product the invoice does not bill: authorization is decided, no quota moves.
        ("POST", "/api/v1/invoices/{number}/credit-notes" | "/api/v1/invoices/{number}/refund-notes") => {
            json!({"reason": "Ujian matriks", "lines": [{"product": "MX-NONE", "units": 1}]})
        }
        ("PUT", "/api/v1/developers/{code}/alert-settings") => json!({"low_balance_threshold": 5}),
        ("PUT", "/api/v1/developers/{code}/tax-identity") => {
            json!({"tin": "C29702635060", "sst_registration_no": "NA"})
        }
        ("PUT", "/api/v1/users/{id}/role") => json!({"role": "developer_member", "reason": "Ujian matriks"}),
        (
            "POST",
            "/api/v1/developers/{code}/rejection"
            | "/api/v1/developers/{code}/withdrawal"
            | "/api/v1/quota-requests/{id}/cancellation"
            | "/api/v1/payments/{id}/rejection"
            | "/api/v1/users/{id}/deactivation"
            | "/api/v1/users/{id}/activation"
            | "/api/v1/second-approvals/{id}/cancellation"
            | "/api/v1/invoices/{number}/e-invoice/cancellation",
        ) => reason,
        ("POST", _) => json!({}),
        _ => return None,
    };
    Some(body)
}

/// How an API answer reads in the matrix.
fn api_cell(status: u16) -> String {
    match status {
        401 | 403 | 404 => status.to_string(),
        _ => "ok".to_owned(),
    }
}

fn matches(expected: &str, observed: &str) -> bool {
    expected == observed || (expected == "ok*" && (observed == "ok" || observed == "404"))
}

async fn call_api(
    app: &TestApp,
    token: Option<&str>,
    method: &Method,
    path: &str,
    ids: &BTreeMap<&'static str, String>,
) -> u16 {
    let url = app.url(&concrete(path, ids));
    let mut request = app.client.request(method.clone(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if path.ends_with("/consumptions") || path.ends_with("/holds") {
        request = request.header("Idempotency-Key", format!("mx-{}", unique()));
    }
    request = if path == "/api/v1/quota-requests/{id}/payments" {
        let form = reqwest::multipart::Form::new()
            .text("method", "bank_transfer")
            .text("reference", format!("MX-{}", unique()))
            .text("amount", "1.00")
            .text("paid_on", "2026-11-20")
            .part(
                "document",
                reqwest::multipart::Part::bytes(pdf_bytes(&format!("mx{}", unique()))).file_name("m.pdf"),
            );
        request.multipart(form)
    } else if path == "/api/v1/attachments/{name}" && method == Method::PUT {
        request.header("content-type", "application/pdf").body(pdf_bytes("mx"))
    } else if let Some(body) = body_of(method, path) {
        request.json(&body)
    } else {
        request
    };
    request.send().await.unwrap().status().as_u16()
}

async fn call_portal(
    app: &TestApp,
    session: Option<&str>,
    method: &Method,
    path: &str,
    ids: &BTreeMap<&'static str, String>,
) -> u16 {
    let client =
        kuota::outbound::client_builder().unwrap().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut request = client.request(method.clone(), app.url(&concrete(path, ids)));
    if let Some(session) = session {
        request = request.header(COOKIE, format!("kuota_session={session}"));
    }
    if method == Method::POST {
        // No CSRF token: every form must refuse it (or send an anonymous visitor to sign in).
        request = request.form(&[("reason", "x")]);
    }
    request.send().await.unwrap().status().as_u16()
}

/// One row of the matrix file: the part (`api` or `portal`), method, path
/// and one cell per caller.
struct Row {
    part: String,
    method: Method,
    path: String,
    cells: Vec<String>,
}

fn rows() -> Vec<Row> {
    MATRIX
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words.len(), 3 + CALLERS.len(), "a matrix row has a part, method, path and 12 cells: {line}");
            Row {
                part: words[0].to_owned(),
                method: words[1].parse().unwrap(),
                path: words[2].to_owned(),
                cells: words[3..].iter().map(|w| (*w).to_owned()).collect(),
            }
        })
        .collect()
}

/// Every operation of the OpenAPI document, and every path of the portal's router.
fn routes() -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let document: Value = serde_json::from_str(kuota::api::docs::OPENAPI_JSON).unwrap();
    let mut api = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            api.insert((method.to_uppercase(), path.clone()));
        }
    }
    let router =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/portal/mod.rs")).unwrap();
    let portal = router
        .split(".route(")
        .skip(1)
        .filter_map(|rest| rest.trim_start().strip_prefix('"')?.split('"').next().map(str::to_owned))
        .collect();
    (api, portal)
}

async fn every_route_answers_every_caller_as_the_matrix_says(backend: Backend) {
    let rows = rows();
    let (api, portal) = routes();
    let listed_api: BTreeSet<(String, String)> =
        rows.iter().filter(|r| r.part == "api").map(|r| (r.method.to_string(), r.path.clone())).collect();
    let listed_portal: BTreeSet<String> = rows.iter().filter(|r| r.part == "portal").map(|r| r.path.clone()).collect();
    assert_eq!(
        api.difference(&listed_api).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "API operations missing from the matrix"
    );
    assert_eq!(
        listed_api.difference(&api).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "matrix rows for no API operation"
    );
    assert_eq!(
        portal.difference(&listed_portal).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "portal routes missing from the matrix"
    );
    let app = TestApp::spawn(backend).await;
    let fixture = fixture(&app).await;
    let mut wrong = Vec::new();
    let mut observed_table = String::new();
    for row in &rows {
        let mut observed = Vec::new();
        for (caller, expected) in CALLERS.iter().zip(&row.cells) {
            let seen = if row.part == "api" {
                let token = fixture.tokens[caller].as_deref();
                api_cell(call_api(&app, token, &row.method, &row.path, &fixture.ids).await)
            } else if expected == "-" {
                "-".to_owned()
            } else {
                let session = fixture.sessions.get(caller).cloned().flatten();
                call_portal(&app, session.as_deref(), &row.method, &row.path, &fixture.ids).await.to_string()
            };
            if !matches(expected, &seen) {
                wrong.push(format!(
                    "{} {} {} as {caller}: expected {expected}, got {seen}",
                    row.part, row.method, row.path
                ));
            }
            observed.push(if matches(expected, &seen) { expected.clone() } else { seen });
        }
        observed_table.push_str(&format!(
            "{:<6} {:<6} {:<48} {}\n",
            row.part,
            row.method,
            row.path,
            observed.join(" ")
        ));
    }
    if std::env::var_os("KUOTA_MATRIX_PRINT").is_some() {
        println!("{observed_table}");
    }
    assert!(
        wrong.is_empty(),
        "{} cells differ from tests/api/authorization.matrix:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
