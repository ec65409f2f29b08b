//! Developer administration over the API.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;

use super::store::{Developer, insert_verified};
use super::{DeveloperCode, DisplayName, EmailAddress, NewDeveloper, RegistrationNo};
use crate::api::{ApiJson, Validator, checked};
use crate::auth::ApiCaller;
use crate::error::{AppError, AppResult};
use crate::startup::AppState;

/// The developers' routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/developers", post(create))
}

/// The fields of a new developer, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeveloperFields {
    /// Developer code.
    pub code: String,
    /// Company name.
    pub name: String,
    /// SSM registration number.
    pub registration_no: String,
    /// Contact e-mail.
    pub email: String,
}

impl DeveloperFields {
    /// Parses every field, naming each wrong one.
    ///
    /// # Errors
    /// A 400 listing the wrong fields.
    pub fn parse(&self) -> Result<NewDeveloper, AppError> {
        let mut validator = Validator::default();
        let code = validator.check("code", self.code.parse::<DeveloperCode>());
        let name = validator.check("name", self.name.parse::<DisplayName>());
        let registration_no = validator.check("registration_no", self.registration_no.parse::<RegistrationNo>());
        let email = validator.check("email", self.email.parse::<EmailAddress>());
        validator.finish()?;
        Ok(NewDeveloper {
            code: checked(code)?,
            name: checked(name)?,
            registration_no: checked(registration_no)?,
            email: checked(email)?,
        })
    }
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(fields): ApiJson<DeveloperFields>,
) -> AppResult<(StatusCode, Json<Developer>)> {
    caller.require_admin()?;
    let developer = fields.parse()?;
    let created = insert_verified(state.db.pool(), &developer, state.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
