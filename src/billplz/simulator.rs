//! A simulated Billplz: the documented bills API (v3: create, get, delete;
//! HTTP Basic with the API key; 401/404/422 with Billplz's error body), a
//! payment page, and payment that posts a signed callback and redirects the
//! browser with a signed query — the real X-Signature scheme. The test suite
//! serves it on loopback as its fake Billplz; `kuota serve --demo` mounts it
//! under `/demo/billplz`, labelled as simulated. Never mounted otherwise.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use http::{HeaderMap, StatusCode};

use super::client::Account;
use super::signature::{self, form_encode};

/// A bill the simulator holds, with what it was created with.
#[derive(Debug, Clone)]
pub struct SimulatedBill {
    /// The fields `GET /v3/bills/{id}` answers.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Where a payment's callback goes.
    pub callback_url: String,
    /// Where the payer's browser goes after paying.
    pub redirect_url: String,
}

impl SimulatedBill {
    fn text(&self, name: &str) -> String {
        match self.fields.get(name) {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }
}

/// How many calls of each kind the simulator answered (tests read these).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    /// `POST /v3/bills` that made a bill.
    pub created: usize,
    /// `GET /v3/bills/{id}`.
    pub read: usize,
    /// `DELETE /v3/bills/{id}` that deleted a bill.
    pub deleted: usize,
}

#[derive(Default)]
struct Book {
    bills: BTreeMap<String, SimulatedBill>,
    calls: Calls,
}

/// The simulated gateway (cheap to clone; clones share the bills).
#[derive(Clone)]
pub struct Simulator {
    account: Account,
    /// Where its payment pages are, e.g. `http://127.0.0.1:4000` or
    /// `https://kuota.example/demo/billplz`.
    base_url: String,
    book: Arc<Mutex<Book>>,
    http: reqwest::Client,
    clock: Arc<dyn crate::clock::Clock>,
}

/// A payment made at the simulator: what Billplz would post to the callback
/// URL and the query it would send the browser back with, both signed.
#[derive(Debug, Clone)]
pub struct Payment {
    /// The callback's form fields, `x_signature` last.
    pub callback: Vec<(String, String)>,
    /// The redirect's query string (without `?`).
    pub redirect_query: String,
    /// The bill's callback URL.
    pub callback_url: String,
    /// The bill's redirect URL.
    pub redirect_url: String,
}

impl Simulator {
    /// A simulator for this account whose pages live under `base_url`.
    ///
    /// # Errors
    /// The HTTP client for callbacks cannot be built.
    pub fn new(account: Account, base_url: &str, clock: Arc<dyn crate::clock::Clock>) -> anyhow::Result<Self> {
        Ok(Self {
            account,
            base_url: base_url.trim_end_matches('/').to_owned(),
            book: Arc::default(),
            http: crate::outbound::service_client()?,
            clock,
        })
    }

    /// Now as Billplz writes `paid_at`: `2018-09-27 15:15:09 +0800`.
    #[must_use]
    pub fn now_text(&self) -> String {
        self.clock.now().to_zoned(crate::clock::user_time_zone()).strftime("%Y-%m-%d %H:%M:%S %z").to_string()
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The calls answered so far.
    #[must_use]
    pub fn calls(&self) -> Calls {
        self.book().calls
    }

    /// A bill by id.
    #[must_use]
    pub fn bill(&self, id: &str) -> Option<SimulatedBill> {
        self.book().bills.get(id).cloned()
    }

    /// Every bill id, in order.
    #[must_use]
    pub fn bill_ids(&self) -> Vec<String> {
        self.book().bills.keys().cloned().collect()
    }

    /// Pays a bill (a deleted one too, as Billplz allows), `paid_amount` as
    /// given or the bill's amount; returns the signed callback and redirect,
    /// without sending either. `None` for an unknown bill.
    #[must_use]
    pub fn pay(&self, id: &str, paid_amount: Option<i64>, paid_at: &str) -> Option<Payment> {
        let mut book = self.book();
        let bill = book.bills.get_mut(id)?;
        let amount = paid_amount.unwrap_or_else(|| bill.fields["amount"].as_i64().unwrap_or_default());
        bill.fields.insert("paid".into(), true.into());
        bill.fields.insert("state".into(), "paid".into());
        bill.fields.insert("paid_amount".into(), amount.into());
        bill.fields.insert("paid_at".into(), paid_at.into());
        Some(self.signed(bill))
    }

    /// The signed callback and redirect for a bill as it stands now (a bill
    /// not paid gives `paid=false`, `state=due`: a failed attempt).
    #[must_use]
    pub fn report(&self, id: &str) -> Option<Payment> {
        self.book().bills.get(id).map(|bill| self.signed(bill))
    }

    fn signed(&self, bill: &SimulatedBill) -> Payment {
        let key = &self.account.x_signature_key;
        let names = ["id", "collection_id", "paid", "state", "amount", "paid_amount", "due_at", "email", "mobile"];
        let mut callback: Vec<(String, String)> =
            names.iter().chain(&["name", "url", "paid_at"]).map(|name| ((*name).to_owned(), bill.text(name))).collect();
        callback.push(("x_signature".into(), signature::sign(key, &callback)));
        let mut redirect: Vec<(String, String)> =
            ["id", "paid", "paid_at"].iter().map(|name| (format!("billplz[{name}]"), bill.text(name))).collect();
        redirect.push(("billplz[x_signature]".into(), signature::sign(key, &redirect)));
        let redirect_query = redirect
            .iter()
            .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        Payment {
            callback,
            redirect_query,
            callback_url: bill.callback_url.clone(),
            redirect_url: bill.redirect_url.clone(),
        }
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let expected =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:", self.account.api_key)));
        headers.get(http::header::AUTHORIZATION).is_some_and(|value| value.as_bytes() == expected.as_bytes())
    }
}

/// The simulator's routes: `/api/v3/bills…` and the payment pages `/bills/…`.
pub fn router(simulator: Simulator) -> Router {
    // Billplz's API lives under its own `/api`, not kuota's (nested, so the
    // check that every kuota API route is documented does not take it for one).
    let api = Router::new().route("/v3/bills", post(create)).route("/v3/bills/{id}", get(read).delete(delete));
    Router::new()
        .nest("/api", api)
        .route("/bills/{id}", get(page))
        .route("/bills/{id}/pay", post(pay_in_browser))
        .with_state(simulator)
}

fn billplz_error(status: StatusCode, kind: &str, messages: &[String]) -> Response {
    (status, axum::Json(serde_json::json!({"error": {"type": kind, "message": messages}}))).into_response()
}

fn unauthorised() -> Response {
    billplz_error(StatusCode::UNAUTHORIZED, "Unauthorized", &["Invalid access".to_owned()])
}

fn not_found() -> Response {
    billplz_error(StatusCode::NOT_FOUND, "RecordNotFound", &["The requested bill was not found".to_owned()])
}

/// The problems of a create request, in Billplz's words.
fn creation_problems(form: &BTreeMap<String, String>, collection_id: &str) -> Vec<String> {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let mut problems = Vec::new();
    if field("collection_id") != collection_id {
        problems.push("Collection not found".to_owned());
    }
    if field("email").is_empty() && field("mobile").is_empty() {
        problems.push("Email or mobile is required".to_owned());
    }
    for (name, limit) in [("name", 255), ("description", 200)] {
        let length = field(name).chars().count();
        if length == 0 || length > limit {
            problems.push(format!("{name} must be 1 to {limit} characters"));
        }
    }
    if field("amount").parse::<i64>().map_or(true, |amount| amount <= 0) {
        problems.push("Amount must be a positive integer".to_owned());
    }
    if field("callback_url").is_empty() {
        problems.push("Callback url is required".to_owned());
    }
    if field("reference_1").chars().count() > 120 || field("reference_1_label").chars().count() > 20 {
        problems.push("Reference is too long".to_owned());
    }
    problems
}

fn new_bill_id() -> String {
    let mut bytes = [0_u8; 8];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[usize::from(*b) % 36])).collect()
}

async fn create(
    State(simulator): State<Simulator>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if !simulator.authorised(&headers) {
        return unauthorised();
    }
    let problems = creation_problems(&form, &simulator.account.collection_id);
    if !problems.is_empty() {
        return billplz_error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid parameter", &problems);
    }
    let id = new_bill_id();
    let text = |name: &str| serde_json::Value::from(form.get(name).cloned().unwrap_or_default());
    let mut fields: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    fields.insert("id".into(), id.clone().into());
    fields.insert("paid".into(), false.into());
    fields.insert("state".into(), "due".into());
    let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or_default();
    fields.insert("amount".into(), amount.into());
    fields.insert("paid_amount".into(), 0.into());
    fields.insert("due_at".into(), "2026-12-31".into());
    fields.insert("mobile".into(), serde_json::Value::Null);
    fields.insert("paid_at".into(), serde_json::Value::Null);
    fields.insert("url".into(), format!("{}/bills/{id}", simulator.base_url).into());
    for name in ["collection_id", "email", "name", "description", "reference_1_label", "reference_1"] {
        fields.insert(name.into(), text(name));
    }
    let bill = SimulatedBill {
        fields,
        callback_url: form.get("callback_url").cloned().unwrap_or_default(),
        redirect_url: form.get("redirect_url").cloned().unwrap_or_default(),
    };
    let answer = serde_json::Value::Object(bill.fields.clone().into_iter().collect());
    let mut book = simulator.book();
    book.bills.insert(id, bill);
    book.calls.created += 1;
    (StatusCode::OK, axum::Json(answer)).into_response()
}

async fn read(State(simulator): State<Simulator>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !simulator.authorised(&headers) {
        return unauthorised();
    }
    let mut book = simulator.book();
    book.calls.read += 1;
    match book.bills.get(&id) {
        Some(bill) => axum::Json(serde_json::Value::Object(bill.fields.clone().into_iter().collect())).into_response(),
        None => not_found(),
    }
}

async fn delete(State(simulator): State<Simulator>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !simulator.authorised(&headers) {
        return unauthorised();
    }
    let mut book = simulator.book();
    let Some(bill) = book.bills.get_mut(&id) else { return not_found() };
    if bill.text("state") != "due" {
        let message = format!("Bill is {}", bill.text("state"));
        return billplz_error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid parameter", &[message]);
    }
    bill.fields.insert("state".into(), "deleted".into());
    book.calls.deleted += 1;
    axum::Json(serde_json::json!({})).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn page(State(simulator): State<Simulator>, Path(id): Path<String>) -> Response {
    let Some(bill) = simulator.bill(&id) else { return (StatusCode::NOT_FOUND, "no such bill").into_response() };
    let amount = crate::format::rm_sen(bill.fields["amount"].as_i64().unwrap_or_default());
    let paid = bill.text("state") == "paid";
    let action = if paid {
        "<p><strong>Bil ini telah dibayar · This bill is paid.</strong></p>".to_owned()
    } else {
        format!(
            "<form method=\"post\" action=\"{}/bills/{}/pay\"><button type=\"submit\">Bayar (FPX simulasi) · Pay (simulated FPX)</button></form>",
            escape(&simulator.base_url),
            escape(&id)
        )
    };
    Html(format!(
        "<!doctype html><html lang=\"ms\"><head><meta charset=\"utf-8\"><title>Billplz (SIMULASI · SIMULATED)</title></head>\
         <body><p role=\"alert\"><strong>SIMULASI · SIMULATED</strong> — Billplz tiruan untuk demo dan ujian; tiada wang berpindah. \
         A simulated Billplz for demos and tests; no money moves.</p>\
         <h1>{}</h1><p>{}</p><p id=\"amount\">{amount}</p>{action}</body></html>",
        escape(&bill.text("name")),
        escape(&bill.text("description")),
    ))
    .into_response()
}

/// The payer pays on the simulated page: the bill is paid, the callback is
/// posted in the background (as Billplz does, in no fixed order with the
/// redirect) and the browser is sent to the redirect URL.
async fn pay_in_browser(State(simulator): State<Simulator>, Path(id): Path<String>) -> Response {
    let Some(payment) = simulator.pay(&id, None, &simulator.now_text()) else {
        return (StatusCode::NOT_FOUND, "no such bill").into_response();
    };
    let (http, url, form) = (simulator.http.clone(), payment.callback_url.clone(), payment.callback.clone());
    tokio::spawn(async move {
        if let Err(error) = http.post(&url).form(&form).send().await {
            tracing::warn!(%error, "the simulated Billplz could not deliver a callback");
        }
    });
    let separator = if payment.redirect_url.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{}{separator}{}", payment.redirect_url, payment.redirect_query)).into_response()
}
