//! Developer administration over the API.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{Developer, insert_verified};
use super::{DeveloperCode, DisplayName, EmailAddress, NewDeveloper, RegistrationNo};
use crate::api::{ApiJson, Validator, checked};
use crate::auth::{ApiCaller, Role};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The developers' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/developers", post(create))
        .route("/api/v1/developers/{code}/alert-settings", get(alert_settings).put(replace_alert_settings))
        .route("/api/v1/developers/{code}/tax-identity", get(tax_identity).put(replace_tax_identity))
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
    let created =
        insert_verified(state.db.pool(), (&state.audit_key, &caller.actor()), &developer, state.clock.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Largest low-balance threshold.
pub const THRESHOLD_MAX: i64 = 1_000_000;

/// A developer's alert settings, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Units of available balance at or below which the developer is warned,
    /// per product; `null` takes the threshold in the settings.
    pub low_balance_threshold: Option<i64>,
}

/// The developer a caller may see, or 404 (other companies, HIMS).
async fn visible_developer(state: &AppState, caller: &ApiCaller, code: &str) -> AppResult<super::store::Developer> {
    let not_found = || AppError::NotFound(format!("developer {code} does not exist"));
    let code = code.parse::<DeveloperCode>().map_err(|_| not_found())?;
    let developer = super::store::find_by_code(state.db.pool(), &code).await?.ok_or_else(not_found)?;
    if caller.role == Role::Hims || !caller.may_see_developer(developer.id) {
        return Err(not_found());
    }
    Ok(developer)
}

async fn tax_identity(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
) -> AppResult<Json<Value>> {
    let developer = visible_developer(&state, &caller, &code).await?;
    let identity = super::service::tax_identity(&state, developer.id).await?;
    Ok(Json(tax_identity_json(&developer, &identity)))
}

fn tax_identity_json(developer: &super::store::Developer, identity: &super::service::TaxIdentity) -> Value {
    json!({
        "developer": developer.code, "tin": identity.tin, "sst_registration_no": identity.sst_registration_no,
        "address": identity.address, "postcode": identity.postcode, "state": identity.state_code,
        "phone": identity.phone, "complete": identity.is_complete(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaxIdentityBody {
    tin: String,
    sst_registration_no: String,
    address: Option<String>,
    postcode: Option<String>,
    state: Option<String>,
    phone: Option<String>,
}

async fn replace_tax_identity(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<TaxIdentityBody>,
) -> AppResult<Json<Value>> {
    let mut validator = crate::api::Validator::default();
    let tin = validator.check("tin", body.tin.parse::<super::domain::TaxId>());
    let sst =
        validator.check("sst_registration_no", body.sst_registration_no.parse::<super::domain::SstRegistration>());
    let whereabouts = super::service::Whereabouts {
        address: body.address.and_then(|text| validator.check("address", text.parse::<DisplayName>())),
        postcode: body.postcode.and_then(|text| validator.check("postcode", text.parse::<super::domain::Postcode>())),
        state: body.state.and_then(|text| validator.check("state", text.parse::<super::domain::StateCode>())),
        phone: body.phone.and_then(|text| validator.check("phone", text.parse::<super::domain::Phone>())),
    };
    validator.finish()?;
    let developer = visible_developer(&state, &caller, &code).await?;
    let (Some(tin), Some(sst)) = (tin, sst) else { return Err(AppError::invalid_field("tin", "required")) };
    let identity = super::service::set_tax_identity(&state, &caller, developer.id, (&tin, &sst), &whereabouts).await?;
    Ok(Json(tax_identity_json(&developer, &identity)))
}

async fn alert_settings_json(state: &AppState, developer: &super::store::Developer) -> AppResult<Value> {
    let own = super::store::low_balance_threshold(state.db.pool(), developer.id).await?;
    let default = crate::settings::load(state.db.pool()).await?.low_balance_threshold;
    Ok(
        json!({"developer": developer.code, "low_balance_threshold": own, "effective_threshold": own.unwrap_or(default)}),
    )
}

async fn alert_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
) -> AppResult<Json<Value>> {
    let developer = visible_developer(&state, &caller, &code).await?;
    Ok(Json(alert_settings_json(&state, &developer).await?))
}

async fn replace_alert_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
    ApiJson(fields): ApiJson<AlertSettings>,
) -> AppResult<Json<Value>> {
    let developer = visible_developer(&state, &caller, &code).await?;
    caller.require(&[Role::DeveloperAdmin, Role::Retail], "the developer's administrator or the retail team")?;
    if let Some(units) = fields.low_balance_threshold
        && !(0..=THRESHOLD_MAX).contains(&units)
    {
        return Err(AppError::invalid_field(
            "low_balance_threshold",
            format!("must be from 0 to {THRESHOLD_MAX}, or null"),
        ));
    }
    let now_ms = state.clock.now_ms();
    let actor = caller.actor();
    let mut transaction = state.db.begin_write().await?;
    let before = super::store::low_balance_threshold(&mut *transaction, developer.id).await?;
    super::store::set_low_balance_threshold(&mut transaction, developer.id, fields.low_balance_threshold).await?;
    let subject = format!("developer:{}", developer.code);
    let record = crate::audit::Record {
        actor: &actor,
        action: "developer.alert_settings",
        subject: &subject,
        before: Some(json!({"low_balance_threshold": before})),
        after: Some(json!({"low_balance_threshold": fields.low_balance_threshold})),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    transaction.commit().await?;
    Ok(Json(alert_settings_json(&state, &developer).await?))
}
