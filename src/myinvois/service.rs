//! What people do to e-invoices: finance sends an invalid one again, as a
//! new version, once the data LHDN refused is corrected (the same invoice
//! number: an invalid document was never accepted, so LHDN's rules ask for
//! no new one). The job builds, signs and submits the new version.

use super::store::{self, EInvoiceRow};
use crate::auth::{ApiCaller, Role};
use crate::state::AppState;

/// What e-invoice services refuse, and their faults.
#[derive(Debug, thiserror::Error)]
pub enum EInvoiceError {
    /// Only finance and administrators (403).
    #[error("only the finance department or an administrator may do this")]
    Forbidden,
    /// No such invoice, another company's, or no e-invoice (404).
    #[error("invoice {0} has no e-invoice")]
    NotFound(String),
    /// Only an invalid e-invoice is sent again (409).
    #[error("the e-invoice of {number} is {status}; only an invalid one is sent again")]
    NotInvalid {
        /// The invoice.
        number: String,
        /// Its e-invoice's status.
        status: String,
    },
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for EInvoiceError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<EInvoiceError> for crate::error::AppError {
    fn from(error: EInvoiceError) -> Self {
        let detail = error.to_string();
        match error {
            EInvoiceError::Forbidden => Self::Forbidden(detail),
            EInvoiceError::NotFound(_) => Self::NotFound(detail),
            EInvoiceError::NotInvalid { .. } => Self::conflict("e-invoice-not-invalid", detail),
            EInvoiceError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// Finance sends an invalid e-invoice again: a new version, queued, built
/// from the data as it is now; audited. Returns the new version.
///
/// # Errors
/// Not finance, no such e-invoice, not invalid, or a fault.
pub async fn resubmit(state: &AppState, caller: &ApiCaller, number: &str) -> Result<EInvoiceRow, EInvoiceError> {
    if !matches!(caller.role, Role::Finance | Role::Admin) {
        return Err(EInvoiceError::Forbidden);
    }
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let latest =
        store::latest(&mut transaction, number).await?.ok_or_else(|| EInvoiceError::NotFound(number.to_owned()))?;
    if latest.status != "invalid" {
        return Err(EInvoiceError::NotInvalid { number: number.to_owned(), status: latest.status });
    }
    store::insert_version(&mut transaction, number, latest.version + 1, now_ms).await?;
    let actor = caller.actor();
    let record = crate::audit::Record {
        actor: &actor,
        action: "e_invoice.resubmit",
        subject: &format!("invoice:{number}"),
        before: Some(
            serde_json::json!({"version": latest.version, "status": latest.status, "errors": latest.errors_en}),
        ),
        after: Some(serde_json::json!({"version": latest.version + 1, "status": "queued"})),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    let queued =
        store::latest(&mut transaction, number).await?.ok_or_else(|| EInvoiceError::NotFound(number.to_owned()))?;
    transaction.commit().await?;
    Ok(queued)
}
