//! Bad input on every endpoint: each gets the right 4xx as problem+json,
//! never a 5xx, and nothing is written.

use reqwest::Method;

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(bad_input_gets_a_clear_4xx_and_writes_nothing);

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    token: Option<String>,
    key: Option<Vec<u8>>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    problem: &'static str,
}

fn case(
    name: &'static str,
    method: Method,
    path: &str,
    token: &str,
    body: &str,
    status: u16,
    problem: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        token: Some(token.to_owned()),
        key: Some(b"key-1".to_vec()),
        content_type: Some("application/json"),
        body: body.as_bytes().to_vec(),
        status,
        problem,
    }
}

const TABLES: [&str; 5] = ["ledger_entries", "ledger_accounts", "holds", "idempotency_records", "developers"];

#[allow(clippy::too_many_lines)]
fn cases(app: &TestApp) -> Vec<Case> {
    let hims = app.hims_token.as_str();
    let admin = app.admin_token.as_str();
    let consume = "/api/v1/developers/PMJ-1/consumptions";
    let holds = "/api/v1/developers/PMJ-1/holds";
    let adjust = "/api/v1/developers/PMJ-1/adjustments";
    let good = r#"{"product":"CERT-1Y","units":1,"reference":"r"}"#;
    let long_reference = format!(r#"{{"product":"CERT-1Y","units":1,"reference":"{}"}}"#, "r".repeat(201));
    let huge_body = format!(r#"{{"product":"CERT-1Y","units":1,"reference":"{}"}}"#, "r".repeat(70_000));
    let mut cases = vec![
        case("malformed JSON", Method::POST, consume, hims, r#"{"product":"#, 400, "/validation"),
        case("JSON array", Method::POST, consume, hims, "[]", 400, "/validation"),
        case("JSON null", Method::POST, consume, hims, "null", 400, "/validation"),
        case("empty body", Method::POST, consume, hims, "", 400, "/validation"),
        case(
            "units as string",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-1Y","units":"1","reference":"r"}"#,
            400,
            "/validation",
        ),
        case(
            "product as number",
            Method::POST,
            consume,
            hims,
            r#"{"product":5,"units":1,"reference":"r"}"#,
            400,
            "/validation",
        ),
        case("missing fields", Method::POST, consume, hims, "{}", 400, "/validation"),
        case(
            "missing reference",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-1Y","units":1}"#,
            400,
            "/validation",
        ),
        case(
            "unknown field",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-1Y","units":1,"reference":"r","extra":1}"#,
            400,
            "/validation",
        ),
        case(
            "zero units",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-1Y","units":0,"reference":"r"}"#,
            400,
            "/validation",
        ),
        case(
            "negative units",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-1Y","units":-1,"reference":"r"}"#,
            400,
            "/validation",
        ),
        case(
            "too many units",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-1Y","units":1000001,"reference":"r"}"#,
            400,
            "/validation",
        ),
        case(
            "fractional units",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-1Y","units":1.5,"reference":"r"}"#,
            400,
            "/validation",
        ),
        case(
            "astronomical units",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-1Y","units":1e30,"reference":"r"}"#,
            400,
            "/validation",
        ),
        case(
            "empty reference",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-1Y","units":1,"reference":"  "}"#,
            400,
            "/validation",
        ),
        case("overlong reference", Method::POST, consume, hims, &long_reference, 400, "/validation"),
        case(
            "unknown product",
            Method::POST,
            consume,
            hims,
            r#"{"product":"CERT-9Y","units":1,"reference":"r"}"#,
            422,
            "/unknown-product",
        ),
        case("unknown developer", Method::POST, "/api/v1/developers/NOPE/consumptions", hims, good, 404, "/not-found"),
        case(
            "impossible developer code",
            Method::POST,
            "/api/v1/developers/%3Cscript%3E/consumptions",
            hims,
            good,
            404,
            "/not-found",
        ),
        case("body over 64 KiB", Method::POST, consume, hims, &huge_body, 413, "/payload-too-large"),
        case("unknown token", Method::POST, consume, "kuota_0000", good, 401, "/unauthorized"),
        case(
            "hold expiry zero",
            Method::POST,
            holds,
            hims,
            r#"{"product":"CERT-1Y","units":1,"reference":"r","expires_in_seconds":0}"#,
            400,
            "/validation",
        ),
        case(
            "hold expiry over a day",
            Method::POST,
            holds,
            hims,
            r#"{"product":"CERT-1Y","units":1,"reference":"r","expires_in_seconds":86401}"#,
            400,
            "/validation",
        ),
        case(
            "hold expiry as text",
            Method::POST,
            holds,
            hims,
            r#"{"product":"CERT-1Y","units":1,"reference":"r","expires_in_seconds":"soon"}"#,
            400,
            "/validation",
        ),
        case(
            "hold zero units",
            Method::POST,
            holds,
            hims,
            r#"{"product":"CERT-1Y","units":0,"reference":"r"}"#,
            400,
            "/validation",
        ),
        case(
            "hold unknown product",
            Method::POST,
            holds,
            hims,
            r#"{"product":"X","units":1,"reference":"r"}"#,
            422,
            "/unknown-product",
        ),
        case(
            "adjust zero",
            Method::POST,
            adjust,
            admin,
            r#"{"product":"CERT-1Y","units":0,"reason":"r"}"#,
            400,
            "/validation",
        ),
        case(
            "adjust too large",
            Method::POST,
            adjust,
            admin,
            r#"{"product":"CERT-1Y","units":-1000001,"reason":"r"}"#,
            400,
            "/validation",
        ),
        case(
            "adjust without reason",
            Method::POST,
            adjust,
            admin,
            r#"{"product":"CERT-1Y","units":5}"#,
            400,
            "/validation",
        ),
        case(
            "adjust by hims",
            Method::POST,
            adjust,
            hims,
            r#"{"product":"CERT-1Y","units":5,"reason":"r"}"#,
            403,
            "/forbidden",
        ),
        case(
            "developer by hims",
            Method::POST,
            "/api/v1/developers",
            hims,
            r#"{"code":"X","name":"X","registration_no":"201901000006","email":"a@b.my"}"#,
            403,
            "/forbidden",
        ),
        case(
            "developer missing email",
            Method::POST,
            "/api/v1/developers",
            admin,
            r#"{"code":"X","name":"X","registration_no":"201901000006"}"#,
            400,
            "/validation",
        ),
        case("ledger limit zero", Method::GET, "/api/v1/developers/PMJ-1/ledger?limit=0", hims, "", 400, "/validation"),
        case(
            "ledger limit too big",
            Method::GET,
            "/api/v1/developers/PMJ-1/ledger?limit=501",
            hims,
            "",
            400,
            "/validation",
        ),
        case(
            "ledger limit text",
            Method::GET,
            "/api/v1/developers/PMJ-1/ledger?limit=ten",
            hims,
            "",
            400,
            "/validation",
        ),
        case(
            "ledger malformed cursor",
            Method::GET,
            "/api/v1/developers/PMJ-1/ledger?after=abc",
            hims,
            "",
            400,
            "/validation",
        ),
        case(
            "ledger negative cursor",
            Method::GET,
            "/api/v1/developers/PMJ-1/ledger?after=-5",
            hims,
            "",
            400,
            "/validation",
        ),
        case(
            "ledger unknown product",
            Method::GET,
            "/api/v1/developers/PMJ-1/ledger?product=NOPE",
            hims,
            "",
            400,
            "/validation",
        ),
        case(
            "ledger unknown parameter",
            Method::GET,
            "/api/v1/developers/PMJ-1/ledger?colour=red",
            hims,
            "",
            400,
            "/validation",
        ),
        case("ledger unknown developer", Method::GET, "/api/v1/developers/NOPE/ledger", hims, "", 404, "/not-found"),
        case(
            "balances unknown developer",
            Method::GET,
            "/api/v1/developers/NOPE/balances",
            hims,
            "",
            404,
            "/not-found",
        ),
        case("hold id not a number", Method::POST, "/api/v1/holds/abc/commit", hims, "", 404, "/not-found"),
        case("hold id unknown", Method::GET, "/api/v1/holds/424242", hims, "", 404, "/not-found"),
        case("unknown path", Method::GET, "/api/v1/nothing-here", hims, "", 404, "/not-found"),
        case("wrong method", Method::GET, consume, hims, "", 405, "/method-not-allowed"),
    ];
    let mut no_token = case("missing token", Method::POST, consume, hims, good, 401, "/unauthorized");
    no_token.token = None;
    let mut no_key = case("missing Idempotency-Key", Method::POST, consume, hims, good, 400, "/validation");
    no_key.key = None;
    let mut long_key = case("overlong Idempotency-Key", Method::POST, consume, hims, good, 400, "/validation");
    long_key.key = Some(vec![b'k'; 256]);
    let mut binary_key = case("non-ASCII Idempotency-Key", Method::POST, consume, hims, good, 400, "/validation");
    binary_key.key = Some("kunci-é".as_bytes().to_vec());
    let mut no_content_type =
        case("no content type", Method::POST, consume, hims, good, 415, "/unsupported-media-type");
    no_content_type.content_type = None;
    let mut text_body = case("text/plain body", Method::POST, consume, hims, good, 415, "/unsupported-media-type");
    text_body.content_type = Some("text/plain");
    let mut no_token_read = case(
        "missing token on a read",
        Method::GET,
        "/api/v1/developers/PMJ-1/balances",
        hims,
        "",
        401,
        "/unauthorized",
    );
    no_token_read.token = None;
    cases.extend([no_token, no_key, long_key, binary_key, no_content_type, text_body, no_token_read]);
    cases
}

async fn bad_input_gets_a_clear_4xx_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    app.adjust("PMJ-1", "CERT-1Y", 10).await;
    let mut before = Vec::new();
    for table in TABLES {
        before.push(app.count(table).await);
    }
    for case in cases(&app) {
        let mut request = app.client.request(case.method.clone(), app.url(&case.path)).body(case.body.clone());
        if let Some(token) = &case.token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = &case.key {
            request = request.header("Idempotency-Key", reqwest::header::HeaderValue::from_bytes(key).unwrap());
        }
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status < 500, "{}: got {status}", case.name);
        assert_eq!(status, case.status, "{}", case.name);
        let _ = assert_problem(response, case.status, case.problem).await;
    }
    for (table, count) in TABLES.iter().zip(before) {
        assert_eq!(app.count(table).await, count, "nothing written to {table}");
    }
    app.assert_ledger_verifies().await;
}
