//! Procedure attachments: the documents an administrator uploads for
//! applicants who need a different procedure (non-Malaysians without a
//! Malaysian phone number, OKU applicants). Every quotation e-mail carries
//! the current ones, and a request lists them for download.
//!
//! `PUT /api/v1/attachments/{name}` (admin, a PDF body) adds or replaces one;
//! `GET /api/v1/attachments` lists them; `GET /api/v1/attachments/{name}`
//! returns the PDF to any signed-in person; `DELETE` (admin) withdraws one.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::auth::{ApiCaller, Role};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub use super::store::current_procedures as current;

/// Largest procedure file.
pub const PROCEDURE_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Longest name.
const NAME_MAX_CHARS: usize = 60;

/// One stored procedure file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Procedure {
    /// Its name in the URL, e.g. `oku`.
    pub name: String,
    /// File name shown to people, `{name}.pdf`.
    pub filename: String,
    /// Blob store key.
    pub sha256: String,
    /// Size.
    pub size_bytes: i64,
}

impl Procedure {
    /// Its download address.
    #[must_use]
    pub fn url(&self) -> String {
        format!("/api/v1/attachments/{}", self.name)
    }

    /// Its JSON form.
    #[must_use]
    pub fn json(&self) -> Value {
        json!({"name": self.name, "filename": self.filename, "sha256": self.sha256,
               "size_bytes": self.size_bytes, "url": self.url()})
    }
}

/// The procedure routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/attachments", get(list)).route(
        "/api/v1/attachments/{name}",
        get(download).put(replace).delete(withdraw).layer(DefaultBodyLimit::max(PROCEDURE_MAX_BYTES)),
    )
}

/// A name is lower-case letters, digits and hyphens, starting with a letter or digit.
pub(crate) fn parse_name(name: &str) -> Result<&str, String> {
    let well_formed = !name.is_empty()
        && name.chars().count() <= NAME_MAX_CHARS
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if well_formed {
        Ok(name)
    } else {
        Err(format!(
            "an attachment name is 1 to {NAME_MAX_CHARS} lower-case letters, digits and hyphens, e.g. \"oku\" or \"non-malaysian\""
        ))
    }
}

fn not_found(name: &str) -> AppError {
    AppError::NotFound(format!("there is no procedure attachment named {name}"))
}

async fn list(State(state): State<AppState>, caller: ApiCaller) -> AppResult<axum::Json<Value>> {
    if caller.role == Role::Hims {
        return Err(AppError::Forbidden("procedure attachments are for people, not for HIMS".into()));
    }
    let mut connection = state.db.pool().acquire().await?;
    let procedures = current(&mut connection).await?;
    Ok(axum::Json(json!({"attachments": procedures.iter().map(Procedure::json).collect::<Vec<_>>()})))
}

async fn download(State(state): State<AppState>, caller: ApiCaller, Path(name): Path<String>) -> AppResult<Response> {
    if caller.role == Role::Hims {
        return Err(not_found(&name));
    }
    let mut connection = state.db.pool().acquire().await?;
    let procedure =
        current(&mut connection).await?.into_iter().find(|p| p.name == name).ok_or_else(|| not_found(&name))?;
    drop(connection);
    let bytes = state
        .blobs
        .get(&procedure.sha256)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reading attachment {name}: {e}")))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{}\"", procedure.filename)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn replace(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    caller.require_admin()?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(format!("a procedure file may be at most {} MiB", PROCEDURE_MAX_BYTES >> 20))
        } else {
            AppError::invalid_field("body", rejection.body_text())
        }
    })?;
    let name = parse_name(&name).map_err(|message| AppError::invalid_field("name", message))?.to_owned();
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !declared.starts_with("application/pdf") {
        return Err(AppError::UnsupportedMediaType(format!(
            "send the procedure as the request body with Content-Type: application/pdf (got \"{declared}\")"
        )));
    }
    let (status, procedure) = store(&state, &caller, name, &body).await?;
    Ok((status, axum::Json(procedure.json())))
}

/// Checks and stores a procedure file under `name` (admin); 201 when new, 200 when replaced.
///
/// # Errors
/// 403 for anyone but an administrator, 415 for a file that is not a PDF, or a fault.
pub(crate) async fn store(
    state: &AppState,
    caller: &ApiCaller,
    name: String,
    body: &[u8],
) -> AppResult<(StatusCode, Procedure)> {
    caller.require_admin()?;
    if !body.starts_with(b"%PDF-") {
        return Err(AppError::UnsupportedMediaType("the body is not a PDF file (it does not begin with %PDF-)".into()));
    }
    let sha256 =
        state.blobs.store(body).await.map_err(|e| AppError::Internal(anyhow::anyhow!("storing {name}: {e}")))?;
    let procedure = Procedure {
        filename: format!("{name}.pdf"),
        name,
        sha256,
        size_bytes: i64::try_from(body.len()).unwrap_or(i64::MAX),
    };
    let now_ms = state.clock.now_ms();
    let actor = caller.actor();
    let mut transaction = state.db.begin_write().await?;
    let before = current(&mut transaction).await?.into_iter().find(|p| p.name == procedure.name);
    super::store::upsert_procedure(&mut transaction, &procedure, now_ms, &actor).await?;
    let subject = format!("procedure_attachment:{}", procedure.name);
    let record = crate::audit::Record {
        actor: &actor,
        action: "procedure_attachment.put",
        subject: &subject,
        before: before.as_ref().map(Procedure::json),
        after: Some(procedure.json()),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    transaction.commit().await?;
    let status = if before.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, procedure))
}

async fn withdraw(State(state): State<AppState>, caller: ApiCaller, Path(name): Path<String>) -> AppResult<StatusCode> {
    caller.require_admin()?;
    let actor = caller.actor();
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let before =
        current(&mut transaction).await?.into_iter().find(|p| p.name == name).ok_or_else(|| not_found(&name))?;
    super::store::delete_procedure(&mut transaction, &name).await?;
    let subject = format!("procedure_attachment:{name}");
    let record = crate::audit::Record {
        actor: &actor,
        action: "procedure_attachment.delete",
        subject: &subject,
        before: Some(before.json()),
        after: None,
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    transaction.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::parse_name;

    #[test]
    fn names_are_plain_lower_case_words() {
        assert!(parse_name("oku").is_ok());
        assert!(parse_name("non-malaysian-2026").is_ok());
        for bad in ["", "-x", "OKU", "a/b", "../etc", "a b", &"x".repeat(61)] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
    }
}
