//! The Billplz bills API (v3) as kuota uses it: create a bill, read one back,
//! delete a due one. HTTP Basic with the API secret key as the user name and
//! an empty password; form-encoded requests, JSON answers; amounts in sen.
//! Reads and deletions are retried on 429, 5xx and connection faults (a few
//! times, backing off); a creation is not (it is not idempotent: a second
//! POST would make a second bill).

use std::time::Duration;

use serde::Deserialize;

use crate::money::Sen;

/// Where and as whom kuota talks to Billplz: the four `KUOTA_BILLPLZ_*`
/// variables. Online payment is offered only when all four are set.
#[derive(Clone)]
pub struct Account {
    /// `https://www.billplz.com/api` (or the sandbox's), no trailing slash.
    pub api_url: String,
    /// The API secret key.
    pub api_key: String,
    /// The collection bills are made in.
    pub collection_id: String,
    /// The key of callbacks' and redirects' X-Signature.
    pub x_signature_key: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("api_url", &self.api_url)
            .field("collection_id", &self.collection_id)
            .finish_non_exhaustive()
    }
}

/// A bill to create.
#[derive(Debug, Clone)]
pub struct NewBill<'a> {
    /// The payer's e-mail.
    pub email: &'a str,
    /// The payer's name (≤ 255 characters).
    pub name: &'a str,
    /// Amount in sen.
    pub amount: Sen,
    /// Shown to the payer (≤ 200 characters).
    pub description: &'a str,
    /// Our request number (≤ 120 characters).
    pub reference_1: &'a str,
    /// Where Billplz posts the payment's outcome.
    pub callback_url: &'a str,
    /// Where Billplz sends the payer's browser afterwards.
    pub redirect_url: &'a str,
}

/// A bill as Billplz reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Bill {
    /// Billplz's id.
    pub id: String,
    /// Its collection.
    pub collection_id: String,
    /// True once paid.
    pub paid: bool,
    /// `due`, `paid` or `deleted`.
    pub state: String,
    /// Amount asked, in sen.
    pub amount: i64,
    /// Amount paid, in sen.
    #[serde(default)]
    pub paid_amount: i64,
    /// The payment page.
    pub url: String,
    /// When paid (`2018-09-27 15:15:09 +0800`), when Billplz says.
    #[serde(default)]
    pub paid_at: Option<String>,
}

impl Bill {
    /// Paid, by both of Billplz's signs.
    #[must_use]
    pub fn is_paid(&self) -> bool {
        self.paid && self.state == "paid"
    }
}

/// What went wrong talking to Billplz.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Billplz could not be reached, or answered 429 or 5xx, after retries.
    #[error("the payment gateway is unavailable: {0}")]
    Unavailable(String),
    /// Billplz refused the request (401, 404, 422 …), with its message.
    #[error("the payment gateway refused the request ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Billplz's `error.message`, joined.
        message: String,
    },
    /// An answer that is not the documented JSON.
    #[error("the payment gateway's answer was not understood: {0}")]
    Malformed(String),
}

/// Attempts of a read or deletion before giving up.
const ATTEMPTS: u32 = 3;

/// The Billplz API client (one per process; cheap to clone).
#[derive(Clone, Debug)]
pub struct Client {
    account: Account,
    http: reqwest::Client,
}

impl Client {
    /// A client for this account: HTTPS through rustls (ring, webpki roots),
    /// 5 s to connect, 20 s per request.
    ///
    /// # Errors
    /// The TLS configuration cannot be built.
    pub fn new(account: Account) -> anyhow::Result<Self> {
        let http = crate::outbound::service_client()?;
        Ok(Self { account: Account { api_url: account.api_url.trim_end_matches('/').to_owned(), ..account }, http })
    }

    /// The account (collection, signature key).
    #[must_use]
    pub fn account(&self) -> &Account {
        &self.account
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v3/{path}", self.account.api_url)
    }

    /// Creates a bill (`POST /v3/bills`), once.
    ///
    /// # Errors
    /// Unreachable, refused, or an answer not understood.
    pub async fn create_bill(&self, bill: &NewBill<'_>) -> Result<Bill, GatewayError> {
        let amount = bill.amount.get().to_string();
        let form = [
            ("collection_id", self.account.collection_id.as_str()),
            ("email", bill.email),
            ("name", bill.name),
            ("amount", amount.as_str()),
            ("description", bill.description),
            ("reference_1_label", "Request"),
            ("reference_1", bill.reference_1),
            ("callback_url", bill.callback_url),
            ("redirect_url", bill.redirect_url),
        ];
        let request = self.http.post(self.url("bills")).basic_auth(&self.account.api_key, Some("")).form(&form);
        let response = request.send().await.map_err(|error| GatewayError::Unavailable(error.to_string()))?;
        read(response).await
    }

    /// Reads a bill (`GET /v3/bills/{id}`).
    ///
    /// # Errors
    /// Unreachable after retries, refused (404: no such bill), or not understood.
    pub async fn get_bill(&self, id: &str) -> Result<Bill, GatewayError> {
        let url = self.url(&format!("bills/{}", path_segment(id)?));
        self.with_retries(|| self.http.get(&url).basic_auth(&self.account.api_key, Some(""))).await
    }

    /// Deletes a due bill (`DELETE /v3/bills/{id}`); a paid one is refused (422).
    ///
    /// # Errors
    /// Unreachable after retries, refused, or not understood.
    pub async fn delete_bill(&self, id: &str) -> Result<(), GatewayError> {
        let url = self.url(&format!("bills/{}", path_segment(id)?));
        self.with_retries::<serde_json::Value>(|| self.http.delete(&url).basic_auth(&self.account.api_key, Some("")))
            .await
            .map(|_| ())
    }

    async fn with_retries<T: serde::de::DeserializeOwned>(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, GatewayError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match request().send().await {
                Ok(response) => read(response).await,
                Err(error) => Err(GatewayError::Unavailable(error.to_string())),
            };
            match outcome {
                Err(GatewayError::Unavailable(_)) if attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(250 * u64::from(4_u32.pow(attempt - 1)))).await;
                }
                other => return other,
            }
        }
    }
}

/// A bill id as one URL path segment: Billplz's ids are letters, digits, `_`
/// and `-`; anything else is refused rather than sent.
fn path_segment(id: &str) -> Result<&str, GatewayError> {
    if !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        Ok(id)
    } else {
        Err(GatewayError::Refused { status: 404, message: format!("{id:?} is not a bill id") })
    }
}

/// Billplz's error body: `{"error":{"type":…,"message":[…] or "…"}}`.
fn error_message(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match &value["error"]["message"] {
        serde_json::Value::Array(parts) => parts.iter().filter_map(|p| p.as_str()).collect::<Vec<_>>().join("; "),
        serde_json::Value::String(text) => text.clone(),
        _ => body.chars().take(200).collect(),
    }
}

async fn read<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, GatewayError> {
    let status = response.status();
    let body = response.text().await.map_err(|error| GatewayError::Unavailable(error.to_string()))?;
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(GatewayError::Unavailable(format!("HTTP {status}: {}", error_message(&body))));
    }
    if !status.is_success() {
        return Err(GatewayError::Refused { status: status.as_u16(), message: error_message(&body) });
    }
    serde_json::from_str(&body).map_err(|error| GatewayError::Malformed(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bill_reads_from_the_reference_s_example() -> anyhow::Result<()> {
        // The "Get a Bill" response of Billplz's API reference.
        let bill: Bill = serde_json::from_str(
            r#"{"id":"8X0Iyzaw","collection_id":"inbmmepb","paid":false,"state":"due","amount":200,
            "paid_amount":0,"due_at":"2015-3-9","email":"api@billplz.com","mobile":null,"name":"MICHAEL API V3",
            "url":"https://www.billplz.com/bills/8X0Iyzaw","reference_1_label":"Reference 1","reference_1":null,
            "reference_2_label":"Reference 2","reference_2":null,"redirect_url":null,
            "callback_url":"http://example.com/webhook/","description":"Maecenas eu placerat ante."}"#,
        )?;
        assert_eq!((bill.id.as_str(), bill.amount, bill.is_paid()), ("8X0Iyzaw", 200, false));
        Ok(())
    }

    #[test]
    fn errors_carry_billplz_s_message() {
        assert_eq!(
            error_message(r#"{"error":{"type":"RateLimit","message":["Too many requests"]}}"#),
            "Too many requests"
        );
        assert_eq!(error_message(r#"{"error":{"type":"Unauthorized","message":"Invalid access"}}"#), "Invalid access");
    }

    #[test]
    fn only_plain_ids_reach_a_url() {
        assert!(path_segment("zq0tm2wc").is_ok());
        for wrong in ["", "../collections", "a b", "x?y=1"] {
            assert!(path_segment(wrong).is_err(), "{wrong}");
        }
    }
}
