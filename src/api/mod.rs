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

    /// Records an error under `field`.
    pub fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError { field: field.into(), message: message.into() });
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

/// A page of a list as the query asks for it: how many rows, and the `next`
/// cursor of the previous page (an id), if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageQuery {
    /// Rows on the page: 1 to the list's maximum.
    pub limit: i64,
    /// The id the previous page ended at.
    pub after: Option<i64>,
}

impl PageQuery {
    /// Reads `limit` (1 to `max`; `default` when absent) and `after` (a
    /// positive id) from a list's query.
    ///
    /// # Errors
    /// A 400 naming the parameter that is wrong.
    pub fn parse(limit: Option<&str>, after: Option<&str>, default: i64, max: i64) -> Result<Self, AppError> {
        let limit = match limit {
            None => default,
            Some(text) => whole_number(text).filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                AppError::invalid_field("limit", format!("limit must be a whole number from 1 to {max}"))
            })?,
        };
        let after = match after {
            None => None,
            Some(text) => Some(whole_number(text).filter(|n| *n > 0).ok_or_else(|| {
                AppError::invalid_field("after", "after must be the 'next' cursor of a previous page")
            })?),
        };
        Ok(Self { limit, after })
    }

    /// The page size, as a count of rows.
    #[must_use]
    pub fn rows(self) -> usize {
        usize::try_from(self.limit).unwrap_or(usize::MAX)
    }
}

/// Unwraps values that a successful [`Validator::finish`] guarantees.
///
/// # Errors
/// Never in practice; a missing value is reported as an internal error.
pub fn checked<T>(value: Option<T>) -> Result<T, AppError> {
    value.ok_or_else(|| AppError::Internal(anyhow::anyhow!("validated value missing")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(limit: Option<&str>, after: Option<&str>) -> Option<PageQuery> {
        PageQuery::parse(limit, after, 100, 500).ok()
    }

    #[test]
    fn page_limits_are_bounded() {
        assert_eq!(page(None, None), Some(PageQuery { limit: 100, after: None }));
        assert_eq!(page(Some("500"), None).map(|p| p.limit), Some(500));
        for wrong in ["0", "501", "ten", "-5", " 5"] {
            assert_eq!(page(Some(wrong), None), None, "{wrong}");
        }
    }

    #[test]
    fn cursors_must_be_positive_ids() {
        assert_eq!(page(None, Some("42")).and_then(|p| p.after), Some(42));
        for wrong in ["-1", "+42", "0", "abc", "1234567890123456789"] {
            assert_eq!(page(None, Some(wrong)), None, "{wrong}");
        }
    }
}
