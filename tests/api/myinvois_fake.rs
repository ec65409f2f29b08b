//! A fake MyInvois on loopback, following LHDN's API documentation: the
//! identity service's client-credentials token; document submission with
//! the base64 and SHA-256 checks, the structure and mandatory-field checks
//! (kuota's rule checker) and the signature checked against the certificate
//! in the document; 422 `DuplicateSubmission` with `Retry-After` for a
//! document accepted before; 429 with `Retry-After` on demand; an outage
//! (503) on demand; each document `Submitted` on its first status read, then
//! `Valid` with a long id — or `Invalid`, with an error in English and Malay,
//! when its buyer's TIN is [`INVALID_BUYER_TIN`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

/// A buyer TIN MyInvois finds invalid (a TIN not in LHDN's register).
pub const INVALID_BUYER_TIN: &str = "C99999999990";
pub const CLIENT_ID: &str = "kuota-test-client";
pub const CLIENT_SECRET: &str = "kuota-test-secret";

#[derive(Debug, Clone)]
pub struct Received {
    pub number: String,
    pub sha256: String,
    pub uuid: String,
    pub invalid: bool,
    pub reads: usize,
    pub cancelled: bool,
}

#[derive(Default)]
pub struct Book {
    pub accepted: Vec<Received>,
    pub tokens: usize,
}

#[derive(Clone, Default)]
pub struct FakeMyInvois {
    pub book: Arc<Mutex<Book>>,
    pub down: Arc<AtomicBool>,
    /// This many submissions answer 429 first.
    pub throttle: Arc<AtomicUsize>,
    /// All submissions, answered or not.
    pub attempts: Arc<AtomicUsize>,
}

impl FakeMyInvois {
    pub fn accepted(&self) -> Vec<Received> {
        self.book.lock().unwrap().accepted.clone()
    }
}

pub fn router(fake: FakeMyInvois) -> Router {
    Router::new()
        .route("/connect/token", post(token))
        .route("/api/v1.0/documentsubmissions/", post(submit))
        .route("/api/v1.0/documentsubmissions/{uid}", get(submission))
        .route("/api/v1.0/documents/{uuid}/details", get(details))
        .route("/api/v1.0/documents/state/{uuid}/state", axum::routing::put(change_state))
        .with_state(fake)
}

fn error(status: StatusCode, code: &str, english: &str, malay: &str) -> Response {
    (status, Json(json!({"error": {"errorCode": code, "error": english, "errorMS": malay}}))).into_response()
}

async fn token(
    State(fake): State<FakeMyInvois>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials"
        || field("client_id") != CLIENT_ID
        || field("client_secret") != CLIENT_SECRET
    {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_client"}))).into_response();
    }
    fake.book.lock().unwrap().tokens += 1;
    Json(json!({"access_token": "fake-token", "token_type": "Bearer", "expires_in": 3600, "scope": "InvoicingAPI"}))
        .into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").is_some_and(|v| v.as_bytes() == b"Bearer fake-token")
}

/// The submitted document's text and SHA-256, after the base64, hash,
/// structure and signature checks MyInvois makes on submission; why not
/// (English, Malay).
fn checked_document(document: &Value) -> Result<(String, String), (&'static str, &'static str)> {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(document["document"].as_str().unwrap_or_default())
    else {
        return Err(("The document is not base64", "Dokumen bukan base64"));
    };
    let sha256 = kuota::digest::sha256_hex(&bytes);
    if document["documentHash"].as_str() != Some(sha256.as_str()) {
        return Err(("The document hash does not match", "Cincangan dokumen tidak sepadan"));
    }
    let text = String::from_utf8(bytes).unwrap_or_default();
    let Ok(node) = kuota::myinvois::json::parse(&text) else {
        return Err(("The document is not JSON", "Dokumen bukan JSON"));
    };
    if !kuota::myinvois::rules::check(&node).is_empty() || kuota::myinvois::signature::verify(&text).is_err() {
        return Err(("Structure or signature invalid", "Struktur atau tandatangan tidak sah"));
    }
    Ok((text, sha256))
}

/// A note (credit, debit, refund) must name a valid document MyInvois holds.
fn names_a_valid_original(book: &Book, text: &str) -> bool {
    let plain: Value = serde_json::from_str(text).unwrap_or_default();
    let invoice = &plain["Invoice"][0];
    if !matches!(invoice["InvoiceTypeCode"][0]["_"].as_str(), Some("02" | "03" | "04")) {
        return true;
    }
    let reference = &invoice["BillingReference"][0]["InvoiceDocumentReference"][0];
    let uuid = reference["UUID"][0]["_"].as_str().unwrap_or_default();
    book.accepted.iter().any(|r| r.uuid == uuid && !r.invalid && !r.cancelled)
}

async fn submit(State(fake): State<FakeMyInvois>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    fake.attempts.fetch_add(1, Ordering::SeqCst);
    if fake.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if fake.throttle.load(Ordering::SeqCst) > 0 {
        fake.throttle.fetch_sub(1, Ordering::SeqCst);
        let mut response =
            error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Too many requests", "Terlalu banyak permintaan");
        response.headers_mut().insert("retry-after", "2".parse().unwrap());
        return response;
    }
    let document = &body["documents"][0];
    let (text, sha256) = match checked_document(document) {
        Ok(checked) => checked,
        Err((english, malay)) => return error(StatusCode::BAD_REQUEST, "BadStructure", english, malay),
    };
    let number = document["codeNumber"].as_str().unwrap_or_default().to_owned();
    let mut book = fake.book.lock().unwrap();
    if !names_a_valid_original(&book, &text) {
        drop(book);
        return error(
            StatusCode::BAD_REQUEST,
            "BadStructure",
            "The referenced document is not a valid document",
            "Dokumen yang dirujuk bukan dokumen yang sah",
        );
    }
    if book.accepted.iter().any(|r| r.sha256 == sha256) {
        drop(book);
        let mut response = error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "DuplicateSubmission",
            "Duplicated submission",
            "Penyerahan berganda",
        );
        response.headers_mut().insert("retry-after", "600".parse().unwrap());
        return response;
    }
    let uuid = format!("UUID{:022}", book.accepted.len() + 1);
    let invalid = text.contains(&format!(r#""_":"{INVALID_BUYER_TIN}","schemeID":"TIN""#));
    book.accepted.push(Received {
        number: number.clone(),
        sha256,
        uuid: uuid.clone(),
        invalid,
        reads: 0,
        cancelled: false,
    });
    (
        StatusCode::ACCEPTED,
        Json(json!({
            "submissionUid": format!("SUB{:023}", book.accepted.len()),
            "acceptedDocuments": [{"uuid": uuid, "invoiceCodeNumber": number}],
            "rejectedDocuments": []
        })),
    )
        .into_response()
}

async fn submission(State(fake): State<FakeMyInvois>, headers: HeaderMap, Path(uid): Path<String>) -> Response {
    if fake.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let index: usize = uid.trim_start_matches("SUB").parse().unwrap_or(0);
    let mut book = fake.book.lock().unwrap();
    let Some(received) = index.checked_sub(1).and_then(|i| book.accepted.get_mut(i)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    received.reads += 1;
    let status = match (received.reads, received.invalid) {
        (1, _) => "Submitted",
        (_, true) => "Invalid",
        (_, false) => "Valid",
    };
    let long_id = (status == "Valid").then(|| format!("LONG{}", received.uuid));
    Json(json!({
        "submissionUid": uid,
        "documentCount": 1,
        "overallStatus": status.to_lowercase(),
        "documentSummary": [{"uuid": received.uuid, "internalId": received.number, "status": status, "longId": long_id}]
    }))
    .into_response()
}

async fn details(Path(uuid): Path<String>) -> Response {
    Json(json!({
        "uuid": uuid,
        "status": "Invalid",
        "validationResults": {"status": "Invalid", "validationSteps": [{
            "status": "Invalid", "name": "Step06-Taxpayer Validator",
            "error": {"error": "Buyer TIN is not valid", "errorMS": "TIN pembeli tidak sah", "innerError": []}
        }]}
    }))
    .into_response()
}

async fn change_state(
    State(fake): State<FakeMyInvois>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut book = fake.book.lock().unwrap();
    let Some(received) = book.accepted.iter_mut().find(|r| r.uuid == uuid) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let valid = received.reads >= 2 && !received.invalid && !received.cancelled;
    if body["status"] != "cancelled"
        || body["reason"].as_str().is_none_or(|r| r.is_empty() || r.chars().count() > 300)
        || !valid
    {
        return error(
            StatusCode::BAD_REQUEST,
            "IncorrectState",
            "The document cannot be cancelled",
            "Dokumen tidak boleh dibatalkan",
        );
    }
    received.cancelled = true;
    Json(json!({"uuid": uuid, "status": "Cancelled"})).into_response()
}
