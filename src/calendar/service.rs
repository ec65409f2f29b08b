//! Public holidays changed by administrators, each change audited in its
//! own transaction.

use jiff::civil::Date;

use super::store::{self, Holiday};
use crate::auth::{ApiCaller, Role};
use crate::developer::DisplayName;
use crate::error::AppError;
use crate::state::AppState;

/// What changing holidays refuses, and its faults.
#[derive(Debug, thiserror::Error)]
pub enum HolidayError {
    /// Only administrators change holidays (403).
    #[error("only an administrator may do this")]
    Forbidden,
    /// The date is not a holiday (404).
    #[error("{0} is not a holiday")]
    NotAHoliday(Date),
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for HolidayError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<HolidayError> for AppError {
    fn from(error: HolidayError) -> Self {
        let detail = error.to_string();
        match error {
            HolidayError::Forbidden => Self::Forbidden(detail),
            HolidayError::NotAHoliday(_) => Self::NotFound(detail),
            HolidayError::Internal(cause) => Self::Internal(cause),
        }
    }
}

fn require_admin(caller: &ApiCaller) -> Result<(), HolidayError> {
    if caller.role == Role::Admin { Ok(()) } else { Err(HolidayError::Forbidden) }
}

/// Adds a holiday or renames one; true when it was new.
///
/// # Errors
/// Not an administrator, or a fault.
pub async fn set(
    state: &AppState,
    caller: &ApiCaller,
    date: Date,
    name_ms: &DisplayName,
    name_en: &DisplayName,
) -> Result<(Holiday, bool), HolidayError> {
    require_admin(caller)?;
    let holiday =
        Holiday { date: date.to_string(), name_ms: name_ms.as_str().to_owned(), name_en: name_en.as_str().to_owned() };
    let mut transaction = state.db.begin_write().await?;
    let created = store::upsert(&mut transaction, &holiday).await?;
    let (actor, subject) = (caller.actor(), format!("holiday:{}", holiday.date));
    let audit = crate::audit::Record {
        actor: &actor,
        action: "holiday.set",
        subject: &subject,
        before: None,
        after: serde_json::to_value(&holiday).ok(),
        at_ms: state.clock.now_ms(),
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    transaction.commit().await?;
    Ok((holiday, created))
}

/// Removes a holiday; the audit record keeps what it was.
///
/// # Errors
/// Not an administrator, not a holiday, or a fault.
pub async fn remove(state: &AppState, caller: &ApiCaller, date: Date) -> Result<(), HolidayError> {
    require_admin(caller)?;
    let mut transaction = state.db.begin_write().await?;
    let Some(removed) = store::delete(&mut transaction, &date.to_string()).await? else {
        return Err(HolidayError::NotAHoliday(date));
    };
    let (actor, subject) = (caller.actor(), format!("holiday:{date}"));
    let audit = crate::audit::Record {
        actor: &actor,
        action: "holiday.delete",
        subject: &subject,
        before: serde_json::to_value(&removed).ok(),
        after: None,
        at_ms: state.clock.now_ms(),
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    transaction.commit().await?;
    Ok(())
}
