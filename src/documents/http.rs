//! `GET /api/v1/documents/{number}.pdf`: the same bytes every time, only to
//! the developer's users and to staff (anyone else gets 404).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{ApiCaller, Role};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The document route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/documents/{file}", get(download))
}

async fn download(State(state): State<AppState>, caller: ApiCaller, Path(file): Path<String>) -> AppResult<Response> {
    let not_found = || AppError::NotFound(format!("document {file} does not exist"));
    let number = file.strip_suffix(".pdf").ok_or_else(not_found)?;
    if caller.role == Role::Hims || number.len() > 40 {
        return Err(not_found());
    }
    // Whose document it is, before anything is read or rendered: another
    // company's number is a 404 that cost nothing.
    let mut connection = state.db.pool().acquire().await?;
    let request_id = super::store::request_of_document(&mut connection, number).await?.ok_or_else(not_found)?;
    let request = crate::request::store::find(&mut connection, request_id).await?.ok_or_else(not_found)?;
    drop(connection);
    if !caller.may_see_developer(request.developer_id) {
        return Err(not_found());
    }
    let document = super::fetch(&state.db, &state.blobs, number, state.clock.now_ms()).await?.ok_or_else(not_found)?;
    let mut response = document.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{number}.pdf\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
