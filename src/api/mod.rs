//! The JSON API's shared parts: strict extractors, field validation that
//! collects every problem at once, health checks, the OpenAPI document and
//! its readable page.

pub mod docs;
pub mod extract;

use crate::error::{AppError, FieldError};

pub use extract::{ApiJson, ApiQuery};

/// Collects field errors so one 400 names every wrong field.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Keeps the value, or records the error under `field`.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.errors.push(FieldError { field: field.to_owned(), message: error.to_string() });
                None
            }
        }
    }

    /// A 400 listing every recorded error, if any.
    ///
    /// # Errors
    /// When any check failed.
    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let detail = self.errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        Err(AppError::Validation { detail, errors: self.errors })
    }
}

/// A whole number in a path or query string, as the document's patterns say: ASCII
/// digits only (no sign, no spaces), at most 18 of them.
#[must_use]
pub fn whole_number(text: &str) -> Option<i64> {
    (!text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Unwraps values that a successful [`Validator::finish`] guarantees.
///
/// # Errors
/// Never in practice; a missing value is reported as an internal error.
pub fn checked<T>(value: Option<T>) -> Result<T, AppError> {
    value.ok_or_else(|| AppError::Internal(anyhow::anyhow!("validated value missing")))
}
