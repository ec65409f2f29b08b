//! A simulated MyInvois, following LHDN's API documentation: the identity
//! service's client-credentials token; document submission with the base64
//! and SHA-256 checks, the structure and mandatory-field checks (kuota's
//! rule checker), the signature checked against the certificate in the
//! document, and a note's reference to a valid document; 422
//! `DuplicateSubmission` with `Retry-After` for a document accepted before;
//! 429 with `Retry-After` and an outage (503) on demand; each document
//! `Submitted` on its first status read, then `Valid` with a long id — or
//! `Invalid`, with an error in English and Malay, when its buyer's TIN is
//! [`INVALID_BUYER_TIN`]; cancellation of a valid document; and the
//! validation page a QR code opens.
//!
//! The tests' MyInvois, and `serve --demo`'s under `/demo/myinvois` (clearly
//! labelled, with a certificate made at start). Never mounted otherwise.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

/// A buyer TIN the simulator finds invalid (as if not in LHDN's register).
pub const INVALID_BUYER_TIN: &str = "C99999999990";

/// A document the simulator accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its internal number (`codeNumber`).
    pub number: String,
    /// The SHA-256 of the bytes submitted.
    pub sha256: String,
    /// The uuid given.
    pub uuid: String,
    /// Whether it will turn out invalid.
    pub invalid: bool,
    /// Status reads so far.
    pub reads: usize,
    /// Cancelled by its issuer.
    pub cancelled: bool,
}

/// What the simulator holds.
#[derive(Debug, Default)]
pub struct Book {
    /// Every accepted document, in order.
    pub accepted: Vec<Received>,
    /// Tokens issued.
    pub tokens: usize,
}

/// The simulated MyInvois (cheap to clone; clones share the book).
#[derive(Debug, Clone, Default)]
pub struct Simulator {
    client_id: String,
    client_secret: String,
    token: String,
    /// What it holds.
    pub book: Arc<Mutex<Book>>,
    /// Answer 503 to everything (an outage).
    pub down: Arc<AtomicBool>,
    /// This many submissions answer 429 first.
    pub throttle: Arc<AtomicUsize>,
    /// All submissions, answered or not.
    pub attempts: Arc<AtomicUsize>,
}

impl Simulator {
    /// A simulator that admits this client; its access token is made now.
    ///
    /// # Errors
    /// The system's random source failed.
    pub fn new(client_id: &str, client_secret: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            token: crate::auth::token::generate()?,
            ..Self::default()
        })
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every document accepted so far.
    #[must_use]
    pub fn accepted(&self) -> Vec<Received> {
        self.book().accepted.clone()
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        headers.get("authorization").is_some_and(|v| v.as_bytes() == format!("Bearer {}", self.token).as_bytes())
    }
}

/// The simulator's routes, as LHDN's identity service and API answer them,
/// and the validation page.
pub fn router(fake: Simulator) -> Router {
    // LHDN's system API lives under `/api`, beside the identity service.
    let api = Router::new()
        .route("/v1.0/documentsubmissions/", post(submit))
        .route("/v1.0/documentsubmissions/{uid}", get(submission))
        .route("/v1.0/documents/{uuid}/details", get(details))
        .route("/v1.0/documents/state/{uuid}/state", axum::routing::put(change_state));
    Router::new()
        .route("/connect/token", post(token))
        .route("/{uuid}/share/{long_id}", get(validation_page))
        .nest("/api", api)
        .with_state(fake)
}

fn error(status: StatusCode, code: &str, english: &str, malay: &str) -> Response {
    (status, Json(json!({"error": {"errorCode": code, "error": english, "errorMS": malay}}))).into_response()
}

async fn token(State(fake): State<Simulator>, Form(form): Form<std::collections::HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials"
        || field("client_id") != fake.client_id
        || field("client_secret") != fake.client_secret
    {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_client"}))).into_response();
    }
    fake.book().tokens += 1;
    Json(json!({"access_token": fake.token, "token_type": "Bearer", "expires_in": 3600, "scope": "InvoicingAPI"}))
        .into_response()
}

/// The submitted document's text and SHA-256, after the base64, hash,
/// structure and signature checks MyInvois makes on submission; why not
/// (English, Malay).
fn checked_document(document: &Value) -> Result<(String, String), (&'static str, &'static str)> {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(document["document"].as_str().unwrap_or_default())
    else {
        return Err(("The document is not base64", "Dokumen bukan base64"));
    };
    let sha256 = crate::digest::sha256_hex(&bytes);
    if document["documentHash"].as_str() != Some(sha256.as_str()) {
        return Err(("The document hash does not match", "Cincangan dokumen tidak sepadan"));
    }
    let text = String::from_utf8(bytes).unwrap_or_default();
    let Ok(node) = crate::myinvois::json::parse(&text) else {
        return Err(("The document is not JSON", "Dokumen bukan JSON"));
    };
    if !crate::myinvois::rules::check(&node).is_empty() || crate::myinvois::signature::verify(&text).is_err() {
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

async fn submit(State(fake): State<Simulator>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    fake.attempts.fetch_add(1, Ordering::SeqCst);
    if fake.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !fake.authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if fake.throttle.load(Ordering::SeqCst) > 0 {
        fake.throttle.fetch_sub(1, Ordering::SeqCst);
        let mut response =
            error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Too many requests", "Terlalu banyak permintaan");
        response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("2"));
        return response;
    }
    let document = &body["documents"][0];
    let (text, sha256) = match checked_document(document) {
        Ok(checked) => checked,
        Err((english, malay)) => return error(StatusCode::BAD_REQUEST, "BadStructure", english, malay),
    };
    let number = document["codeNumber"].as_str().unwrap_or_default().to_owned();
    let mut book = fake.book();
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
        response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("600"));
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

async fn submission(State(fake): State<Simulator>, headers: HeaderMap, Path(uid): Path<String>) -> Response {
    if fake.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !fake.authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let index: usize = uid.trim_start_matches("SUB").parse().unwrap_or(0);
    let mut book = fake.book();
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
    State(fake): State<Simulator>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if !fake.authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut book = fake.book();
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

/// The page a validation QR code opens: what LHDN's portal would show,
/// labelled as the simulation it is.
async fn validation_page(State(fake): State<Simulator>, Path((uuid, long_id)): Path<(String, String)>) -> Response {
    let book = fake.book();
    let found = book.accepted.iter().find(|r| r.uuid == uuid && long_id == format!("LONG{}", r.uuid));
    let Some(received) = found else {
        return (StatusCode::NOT_FOUND, "No such document at this simulated MyInvois").into_response();
    };
    let status = if received.cancelled { "Cancelled" } else { "Valid" };
    let number = received.number.clone();
    drop(book);
    axum::response::Html(format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Simulated MyInvois</title>\
         <body><p><strong>SIMULATED MyInvois — kuota demo, not LHDN.</strong></p>\
         <p>Document {number} · UUID {uuid}: {status}</p></body></html>"
    ))
    .into_response()
}
