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
    /// An SST rate from a day gone by (422): issued quotations keep theirs.
    #[error("effective_from must be today ({0}) or later: a rate is never changed for days gone by")]
    PastDate(jiff::civil::Date),
    /// An SST rate already starts that day (409).
    #[error("an SST rate already starts on {0}")]
    RateExists(jiff::civil::Date),
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
            SettingsError::PastDate(_) => Self::Unprocessable { slug: "date-in-past", detail },
            SettingsError::RateExists(_) => Self::conflict("sst-rate-exists", detail),
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

/// An SST rate from a date, as the settings page and the API list them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SstRate {
    /// First day, `YYYY-MM-DD`.
    pub effective_from: String,
    /// The rate, `8.00`.
    pub rate_percent: String,
}

/// Every SST rate, oldest first.
///
/// # Errors
/// A fault.
pub async fn sst_rates(state: &AppState) -> Result<Vec<SstRate>, SettingsError> {
    let rows = super::store::sst_rates(&mut *state.db.pool().acquire().await?).await?;
    Ok(rows
        .into_iter()
        .map(|(effective_from, bp)| SstRate {
            effective_from,
            rate_percent: crate::money::BasisPoints::new(bp).map(|rate| rate.to_string()).unwrap_or_default(),
        })
        .collect())
}

/// An administrator adds an SST rate from a date (today or later: quotations
/// already issued keep their rate); audited.
///
/// # Errors
/// Not an administrator, a date in the past or taken, or a fault.
pub async fn add_sst_rate(
    state: &AppState,
    caller: &ApiCaller,
    from: jiff::civil::Date,
    rate: crate::money::BasisPoints,
) -> Result<(), SettingsError> {
    if caller.role != crate::auth::Role::Admin {
        return Err(SettingsError::Forbidden);
    }
    let today = crate::clock::today_local(state.clock.now());
    if from < today {
        return Err(SettingsError::PastDate(today));
    }
    let actor = caller.actor();
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    match super::store::insert_sst_rate(&mut transaction, &from.to_string(), rate.get(), &actor, now_ms).await {
        Ok(()) => {}
        Err(error) if crate::db::is_unique_violation(&error) => return Err(SettingsError::RateExists(from)),
        Err(error) => return Err(error.into()),
    }
    let record = crate::audit::Record {
        actor: &actor,
        action: "settings.sst_rate",
        subject: "sst_rates",
        before: None,
        after: Some(serde_json::json!({"effective_from": from.to_string(), "rate_bp": rate.get()})),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    transaction.commit().await?;
    Ok(())
}
