//! Request extractors for the JSON API whose rejections are problem+json:
//! a body that is not JSON, has the wrong types or misses fields, or a query
//! string that does not parse, all become a 4xx that says what was wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

/// Largest JSON body accepted by the API.
pub const JSON_BODY_MAX_BYTES: usize = 64 * 1024;

/// A JSON body, parsed strictly.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|media| {
                let media = media.trim().to_ascii_lowercase();
                media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
            });
        if !is_json {
            return Err(AppError::UnsupportedMediaType(
                "the body must be JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(format!("the body is larger than {JSON_BODY_MAX_BYTES} bytes"))
            } else {
                AppError::invalid_field("body", format!("the body could not be read: {rejection}"))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON document; a wrong field is named by its path.
///
/// # Errors
/// A 400 that says where the document is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // Every body of this API is an object; serde would also accept an array
    // for a struct, so `[]` could pass as a body whose fields are all optional.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AppError::invalid_field("body", "the body must be a JSON object"));
    }
    let mut document: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        let message = error.to_string();
        AppError::Validation {
            detail: format!("the body is not valid JSON: {message}"),
            errors: vec![FieldError { field: "body".to_owned(), message }],
        }
    })?;
    whole_numbers_as_integers(&mut document);
    serde_path_to_error::deserialize(document).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = if path == "." { field_named_in(&message).unwrap_or_else(|| "body".to_owned()) } else { path };
        AppError::Validation { detail: format!("{field}: {message}"), errors: vec![FieldError { field, message }] }
    })
}

/// JSON has one number type: `5.0` is the integer 5 (JSON Schema says so
/// too), but serde refuses it for an integer field. Whole numbers written
/// with a fraction become integers; any other number stays as it is.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            if let Some(float) = number.as_f64() {
                // i64 covers every integer field of the API; beyond ±2^53 a float is not exact anyway.
                if float.fract() == 0.0 && float.abs() < 9_007_199_254_740_992.0 {
                    #[allow(clippy::cast_possible_truncation)]
                    let whole = float as i64;
                    *value = serde_json::Value::from(whole);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// serde names missing or unknown fields in backticks; use the first.
fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let length = message[start..].find('`')?;
    Some(message[start..start + length].to_owned())
}

/// A query string, parsed strictly.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection| AppError::invalid_field("query", rejection.body_text()))
    }
}

/// A multipart form whose rejection (not multipart, no boundary) is problem+json.
pub struct ApiMultipart(pub axum::extract::Multipart);

impl<S> FromRequest<S> for ApiMultipart
where
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(request, state).await.map(ApiMultipart).map_err(|rejection| {
            AppError::UnsupportedMediaType(format!("the body must be multipart/form-data: {}", rejection.body_text()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        units: u32,
    }

    #[test]
    fn missing_fields_are_named() {
        let error = parse_json::<Sample>(b"{}").err();
        let Some(AppError::Validation { errors, .. }) = error else { unreachable!("expected a validation error") };
        assert_eq!(errors[0].field, "units");
    }

    #[test]
    fn wrong_types_are_named_by_their_path() {
        let error = parse_json::<Sample>(br#"{"units":"5"}"#).err();
        let Some(AppError::Validation { errors, .. }) = error else { unreachable!("expected a validation error") };
        assert_eq!(errors[0].field, "units");
    }

    #[test]
    fn only_objects_are_bodies() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct AllOptional {
            discount: Option<String>,
        }
        assert!(matches!(parse_json::<AllOptional>(b"[]"), Err(AppError::Validation { .. })));
        assert!(parse_json::<AllOptional>(b" {}").is_ok());
    }

    #[test]
    fn whole_numbers_with_a_fraction_are_integers() {
        assert_eq!(parse_json::<Sample>(br#"{"units":651.0}"#).map(|s| s.units).ok(), Some(651));
        assert!(matches!(parse_json::<Sample>(br#"{"units":651.5}"#), Err(AppError::Validation { .. })));
        assert!(matches!(parse_json::<Sample>(br#"{"units":1e300}"#), Err(AppError::Validation { .. })));
    }

    #[test]
    fn malformed_json_is_a_validation_error() {
        assert!(matches!(parse_json::<Sample>(b"{\"units\":"), Err(AppError::Validation { .. })));
    }
}
