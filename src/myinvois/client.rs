//! LHDN's MyInvois API as kuota uses it: an OAuth2 client-credentials token
//! from the identity service (kept until shortly before it expires), the
//! document submission, and the submission's status. Every answer is read
//! into a typed outcome; what to do about it (wait, retry, give up) is the
//! submission job's decision (`myinvois::job`).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio::sync::Mutex;

/// Where and as whom kuota talks to MyInvois (`KUOTA_MYINVOIS_*`).
#[derive(Clone)]
pub struct Account {
    /// The identity service, e.g. `https://preprod-api.myinvois.hasil.gov.my`.
    pub identity_url: String,
    /// The system API, e.g. `https://preprod-api.myinvois.hasil.gov.my`.
    pub api_url: String,
    /// The client id of the ERP system registered with LHDN.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The portal host of validation links, e.g. `https://preprod.myinvois.hasil.gov.my`.
    pub portal_url: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("api_url", &self.api_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What a submission got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// 202: accepted for validation (the submission and the document's uuid).
    Accepted {
        /// The submission.
        submission_uid: String,
        /// The document's uuid.
        uuid: String,
    },
    /// 202, but this document was rejected at once (its error).
    Rejected(String),
    /// 422 duplicate or 429: wait this many seconds, then send the same bytes.
    RetryAfter(u64),
    /// 400 and other refusals: the error, as LHDN wrote it.
    Refused(String),
    /// Not reachable, or 5xx: try again later.
    Unavailable(String),
}

/// A document's state at MyInvois.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentState {
    /// Still being validated.
    Pending,
    /// Valid, with its long id (for the validation link).
    Valid(String),
    /// Invalid, with LHDN's reasons in English and Malay.
    Invalid(String, String),
    /// Cancelled at MyInvois.
    Cancelled,
}

#[derive(Debug, Clone)]
struct Token {
    value: String,
    until_ms: i64,
}

/// The MyInvois client (one per process; clones share the token).
#[derive(Clone, Debug)]
pub struct Client {
    account: Account,
    http: reqwest::Client,
    token: Arc<Mutex<Option<Token>>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: i64,
}

/// LHDN's error body: `{"error":{"error","errorMS"/"errorMs",…}}`, or a
/// plain `{"error": "…"}` from the identity service.
fn error_texts(body: &str) -> (String, String) {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let error = &value["error"];
    let english = error["error"].as_str().or(error.as_str()).unwrap_or(body).chars().take(500).collect::<String>();
    let malay = error["errorMS"].as_str().or(error["errorMs"].as_str()).map_or_else(|| english.clone(), str::to_owned);
    (english, malay)
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(60)
        .clamp(1, 3_600)
}

impl Client {
    /// A client for this account over the one TLS stack.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(account: Account) -> anyhow::Result<Self> {
        let trim = |url: &str| url.trim_end_matches('/').to_owned();
        let account = Account {
            identity_url: trim(&account.identity_url),
            api_url: trim(&account.api_url),
            portal_url: trim(&account.portal_url),
            ..account
        };
        Ok(Self { account, http: crate::outbound::service_client()?, token: Arc::default() })
    }

    /// The account.
    #[must_use]
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The validation link of a valid document (its QR code's text).
    #[must_use]
    pub fn validation_url(&self, uuid: &str, long_id: &str) -> String {
        format!("{}/{uuid}/share/{long_id}", self.account.portal_url)
    }

    /// A bearer token, from the cache until a minute before it expires.
    async fn token(&self, now_ms: i64) -> Result<String, String> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.until_ms > now_ms) {
            return Ok(token.value.clone());
        }
        let form = [
            ("client_id", self.account.client_id.as_str()),
            ("client_secret", self.account.client_secret.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", "InvoicingAPI"),
        ];
        let url = format!("{}/connect/token", self.account.identity_url);
        let response = self.http.post(url).form(&form).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("token: HTTP {status}: {}", error_texts(&body).0));
        }
        let answer: TokenAnswer = serde_json::from_str(&body).map_err(|e| format!("token: {e}"))?;
        let until_ms = now_ms + (answer.expires_in.max(60) - 60) * 1_000;
        *cached = Some(Token { value: answer.access_token.clone(), until_ms });
        Ok(answer.access_token)
    }

    /// Forgets the token (after a 401).
    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// Submits one signed document: its bytes in base64, their SHA-256 (hex)
    /// and our number.
    pub async fn submit(&self, document: &[u8], number: &str, now_ms: i64) -> Submitted {
        let token = match self.token(now_ms).await {
            Ok(token) => token,
            Err(error) => return Submitted::Unavailable(error),
        };
        let body = serde_json::json!({"documents": [{
            "format": "JSON",
            "document": base64::engine::general_purpose::STANDARD.encode(document),
            "documentHash": crate::digest::sha256_hex(document),
            "codeNumber": number,
        }]});
        let url = format!("{}/api/v1.0/documentsubmissions/", self.account.api_url);
        let response = match self.http.post(url).bearer_auth(token).json(&body).send().await {
            Ok(response) => response,
            Err(error) => return Submitted::Unavailable(error.to_string()),
        };
        let status = response.status().as_u16();
        let wait = retry_after(&response);
        let text = response.text().await.unwrap_or_default();
        match status {
            202 => accepted(&text),
            401 => {
                self.forget_token().await;
                Submitted::Unavailable("the token was refused; a new one is asked for".into())
            }
            422 | 429 => Submitted::RetryAfter(wait),
            500..=599 => Submitted::Unavailable(format!("HTTP {status}")),
            _ => Submitted::Refused(error_texts(&text).0),
        }
    }

    /// The state of document `uuid` in submission `submission_uid`; `Err`
    /// when MyInvois cannot be asked now.
    ///
    /// # Errors
    /// Not reachable, or an answer not understood.
    pub async fn state(&self, submission_uid: &str, uuid: &str, now_ms: i64) -> Result<DocumentState, String> {
        let token = self.token(now_ms).await?;
        let url =
            format!("{}/api/v1.0/documentsubmissions/{submission_uid}?pageNo=1&pageSize=100", self.account.api_url);
        let response = self.http.get(url).bearer_auth(&token).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            if status.as_u16() == 401 {
                self.forget_token().await;
            }
            return Err(format!("HTTP {status}"));
        }
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let summary = value["documentSummary"].as_array().and_then(|all| all.iter().find(|d| d["uuid"] == uuid));
        let Some(summary) = summary else { return Ok(DocumentState::Pending) };
        Ok(match summary["status"].as_str().unwrap_or_default() {
            "Valid" => DocumentState::Valid(summary["longId"].as_str().unwrap_or_default().to_owned()),
            "Invalid" => {
                let (english, malay) = self.reasons(uuid, &token).await;
                let fallback = summary["documentStatusReason"].as_str().unwrap_or("Invalid").to_owned();
                DocumentState::Invalid(english.unwrap_or_else(|| fallback.clone()), malay.unwrap_or(fallback))
            }
            "Cancelled" => DocumentState::Cancelled,
            _ => DocumentState::Pending,
        })
    }

    /// LHDN's validation errors of an invalid document, in English and Malay.
    async fn reasons(&self, uuid: &str, token: &str) -> (Option<String>, Option<String>) {
        let url = format!("{}/api/v1.0/documents/{uuid}/details", self.account.api_url);
        let Ok(response) = self.http.get(url).bearer_auth(token).send().await else { return (None, None) };
        let value: serde_json::Value = response.json().await.unwrap_or_default();
        let steps = value["validationResults"]["validationSteps"].as_array().cloned().unwrap_or_default();
        let errors: Vec<&serde_json::Value> =
            steps.iter().filter(|s| s["status"] == "Invalid").map(|s| &s["error"]).collect();
        let join = |key: &str, other: &str| {
            let parts: Vec<String> = errors
                .iter()
                .flat_map(|e| {
                    let inner = e["innerError"].as_array().cloned().unwrap_or_default();
                    std::iter::once((*e).clone()).chain(inner)
                })
                .filter_map(|e| e[key].as_str().or(e[other].as_str()).map(str::to_owned))
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        };
        (join("error", "error"), join("errorMS", "errorMs"))
    }
}

impl Client {
    /// Cancels a valid document (`PUT …/documents/state/{uuid}/state`,
    /// status `cancelled`, the reason ≤ 300 characters); `Err` with LHDN's
    /// reason (English, Malay) when refused or unreachable.
    ///
    /// # Errors
    /// Refused (e.g. `OperationPeriodOver` after 72 hours) or unreachable.
    pub async fn cancel(&self, uuid: &str, reason: &str, now_ms: i64) -> Result<(), (String, String)> {
        let token = self.token(now_ms).await.map_err(|e| (e.clone(), e))?;
        let url = format!("{}/api/v1.0/documents/state/{uuid}/state", self.account.api_url);
        let reason: String = reason.chars().take(300).collect();
        let body = serde_json::json!({"status": "cancelled", "reason": reason});
        let response = self
            .http
            .put(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| (e.to_string(), e.to_string()))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() { Ok(()) } else { Err(error_texts(&text)) }
    }
}

/// A 202's body: the document's uuid, or its rejection.
fn accepted(text: &str) -> Submitted {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let uid = value["submissionUid"].as_str().or(value["submissionUID"].as_str()).unwrap_or_default().to_owned();
    if let Some(document) = value["acceptedDocuments"].as_array().and_then(|all| all.first()) {
        return Submitted::Accepted {
            submission_uid: uid,
            uuid: document["uuid"].as_str().unwrap_or_default().to_owned(),
        };
    }
    if let Some(rejected) = value["rejectedDocuments"].as_array().and_then(|all| all.first()) {
        return Submitted::Rejected(error_texts(&rejected.to_string()).0);
    }
    Submitted::Unavailable("a 202 without the document".into())
}

/// How long to wait before asking a submission's status again.
pub const POLL_EVERY: Duration = Duration::from_secs(4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lhdn_s_error_bodies_give_both_languages() {
        let body = r#"{"status":"Invalid","error":{"propertyName":null,"errorCode":"DS302","error":"Previous passwords may not be reused","errorMs":"Kata laluan lama tidak boleh digunakan semula"}}"#;
        assert_eq!(
            error_texts(body),
            (
                "Previous passwords may not be reused".to_owned(),
                "Kata laluan lama tidak boleh digunakan semula".to_owned()
            )
        );
        assert_eq!(error_texts(r#"{"error":"invalid_client"}"#).0, "invalid_client");
    }

    #[test]
    fn a_202_names_the_accepted_or_rejected_document() {
        let ok = r#"{"submissionUid":"HJSD135P2S7D8IU","acceptedDocuments":[{"uuid":"F9D425P6DS7D8IU","invoiceCodeNumber":"INV-1"}],"rejectedDocuments":[]}"#;
        assert_eq!(
            accepted(ok),
            Submitted::Accepted { submission_uid: "HJSD135P2S7D8IU".into(), uuid: "F9D425P6DS7D8IU".into() }
        );
        let no = r#"{"submissionUid":"X","acceptedDocuments":[],"rejectedDocuments":[{"invoiceCodeNumber":"INV-1","error":{"error":"Bad structure"}}]}"#;
        assert_eq!(accepted(no), Submitted::Rejected("Bad structure".into()));
    }
}
