//! The one application error. Client errors become RFC 9457
//! `application/problem+json` bodies with a stable `type`; unexpected errors
//! are logged with their cause chain and answered with a bare 500 that carries
//! only the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Prefix of every problem `type`: a relative URI whose page is `/api/docs`.
pub const PROBLEM_TYPE_PREFIX: &str = "/problems/";
/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field that failed validation, named by its JSON path.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// JSON field (or header, or query parameter) that was wrong.
    pub field: String,
    /// What was wrong with it, in a sentence.
    pub message: String,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or a value breaks a rule (400).
    #[error("{detail}")]
    Validation { detail: String, errors: Vec<FieldError> },
    /// No or unknown credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The password was right, but this account's second factor is missing
    /// or wrong (401, its own type so a client knows to ask for the code).
    #[error("{0}")]
    SecondFactorRequired(String),
    /// Known caller, not allowed to do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist, or the caller may not know it does (404).
    #[error("{0}")]
    NotFound(String),
    /// The method is not defined for this path (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request conflicts with the current state (409), with a specific type
    /// and extension members (e.g. `available`).
    #[error("{detail}")]
    Conflict { slug: &'static str, detail: String, extensions: Map<String, Value> },
    /// The body is larger than allowed (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed but refused (422), with a specific type.
    #[error("{detail}")]
    Unprocessable { slug: &'static str, detail: String },
    /// Too many attempts; try later (429).
    #[error("{0}")]
    TooManyRequests(String),
    /// A dependency is down (503).
    #[error("{0}")]
    Unavailable(String),
    /// A fault on our side (500); never shown to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl AppError {
    /// A 400 about one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Validation { detail: message.clone(), errors: vec![FieldError { field: field.into(), message }] }
    }

    /// A 409 without extension members.
    pub fn conflict(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict { slug, detail: detail.into(), extensions: Map::new() }
    }

    /// The HTTP status of this error.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status_and_slug().0
    }

    fn status_and_slug(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Validation { .. } => (StatusCode::BAD_REQUEST, "validation", "Invalid request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::SecondFactorRequired(_) => {
                (StatusCode::UNAUTHORIZED, "second-factor-required", "Second factor required")
            }
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
            Self::Conflict { slug, .. } => (StatusCode::CONFLICT, slug, "Conflict"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            }
            Self::Unprocessable { slug, .. } => (StatusCode::UNPROCESSABLE_ENTITY, slug, "Unprocessable request"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal server error"),
        }
    }

    /// The problem+json body of this error (the 500 body says nothing of the cause).
    #[must_use]
    pub fn problem_body(&self) -> Value {
        let (status, slug, title) = self.status_and_slug();
        let detail = match self {
            Self::Internal(_) => "An unexpected error occurred; it has been logged. Quote the X-Request-Id response header when reporting it.".to_owned(),
            other => other.to_string(),
        };
        let mut body = json!({
            "type": format!("{PROBLEM_TYPE_PREFIX}{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Some(object) = body.as_object_mut() {
            match self {
                Self::Validation { errors, .. } if !errors.is_empty() => {
                    object.insert("errors".to_owned(), json!(errors));
                }
                Self::Conflict { extensions, .. } => {
                    object.extend(extensions.clone());
                }
                _ => {}
            }
        }
        body
    }
}

/// A problem+json response with the given status and body.
#[must_use]
pub fn problem_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, _, _) = self.status_and_slug();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut response = problem_response(status, self.problem_body().to_string());
        if matches!(self, Self::Unauthorized(_)) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Result of a handler or service.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_reveal_their_cause() {
        let body = AppError::Internal(anyhow::anyhow!("password=hunter2")).problem_body();
        assert!(!body.to_string().contains("hunter2"));
        assert_eq!(body["status"], 500);
    }

    #[test]
    fn conflicts_carry_their_extension_members() {
        let mut extensions = Map::new();
        extensions.insert("available".to_owned(), json!(3));
        let error = AppError::Conflict { slug: "insufficient-quota", detail: "short".into(), extensions };
        let body = error.problem_body();
        assert_eq!(body["type"], "/problems/insufficient-quota");
        assert_eq!(body["available"], 3);
    }
}
