//! Replacing the settings (administrators), audited with what they were.

use super::Settings;
use crate::auth::ApiCaller;
use crate::error::{AppError, FieldError};
use crate::state::AppState;

/// What replacing the settings refuses, and its faults.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Only administrators change settings (403).
    #[error("only an administrator may do this")]
    Forbidden,
    /// Values that break their rules, by field (400).
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SettingsError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<SettingsError> for AppError {
    fn from(error: SettingsError) -> Self {
        let detail = error.to_string();
        match error {
            SettingsError::Forbidden => Self::Forbidden(detail),
            SettingsError::Invalid(errors) => Self::Validation { detail, errors },
            SettingsError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// Replaces the settings; the audit record keeps the ones replaced.
///
/// # Errors
/// Not an administrator, values that break their rules, or a fault.
pub async fn replace(state: &AppState, caller: &ApiCaller, settings: Settings) -> Result<Settings, SettingsError> {
    if caller.role != crate::auth::Role::Admin {
        return Err(SettingsError::Forbidden);
    }
    let problems = settings.problems();
    if !problems.is_empty() {
        let errors = problems.into_iter().map(|(field, message)| FieldError { field, message }).collect();
        return Err(SettingsError::Invalid(errors));
    }
    let settings = Settings { sst_rate: settings.sst().to_string(), ..settings };
    let mut transaction = state.db.begin_write().await?;
    let before = super::load_in(&mut transaction).await?;
    super::save(&mut transaction, &settings).await?;
    let actor = caller.actor();
    let audit = crate::audit::Record {
        actor: &actor,
        action: "settings.replace",
        subject: "settings",
        before: serde_json::to_value(&before).ok(),
        after: serde_json::to_value(&settings).ok(),
        at_ms: state.clock.now_ms(),
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    transaction.commit().await?;
    Ok(settings)
}
