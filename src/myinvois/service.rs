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
    /// Only a valid e-invoice is cancelled, within 72 hours of its
    /// validation; after that a credit note corrects it (409).
    #[error(
        "the e-invoice of {0} cannot be cancelled: only a valid one, within 72 hours of its validation (then a credit note)"
    )]
    NotCancellable(String),
    /// E-invoicing is not configured (409).
    #[error("e-invoicing is not configured on this server")]
    Off,
    /// MyInvois refused (its reason) or could not be reached (503).
    #[error("MyInvois refused: {0}")]
    Refused(String),
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
            EInvoiceError::NotCancellable(_) => Self::conflict("e-invoice-not-cancellable", detail),
            EInvoiceError::Off => Self::conflict("e-invoicing-off", detail),
            EInvoiceError::Refused(_) => Self::Unavailable(detail),
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

/// How long after its validation a document may be cancelled (LHDN).
pub const CANCEL_WINDOW_MS: i64 = 72 * 3_600_000;

/// Finance cancels a valid e-invoice at MyInvois within 72 hours of its
/// validation, with a reason; audited. (Later, a credit note corrects it.)
///
/// # Errors
/// Not finance, no such e-invoice, not valid or too late, e-invoicing off,
/// MyInvois's refusal, or a fault.
pub async fn cancel(
    state: &AppState,
    caller: &ApiCaller,
    number: &str,
    reason: &crate::request::Message,
) -> Result<EInvoiceRow, EInvoiceError> {
    if !matches!(caller.role, Role::Finance | Role::Admin) {
        return Err(EInvoiceError::Forbidden);
    }
    let e_invoicing = state.e_invoicing.clone().ok_or(EInvoiceError::Off)?;
    let now_ms = state.clock.now_ms();
    let mut connection = state.db.pool().acquire().await?;
    let latest =
        store::latest(&mut connection, number).await?.ok_or_else(|| EInvoiceError::NotFound(number.to_owned()))?;
    let validated_at = store::validated_at(&mut connection, latest.id).await?;
    drop(connection);
    let (Some(uuid), Some(validated_at)) = (&latest.uuid, validated_at.filter(|_| latest.status == "valid")) else {
        return Err(EInvoiceError::NotCancellable(number.to_owned()));
    };
    if now_ms - validated_at > CANCEL_WINDOW_MS {
        return Err(EInvoiceError::NotCancellable(number.to_owned()));
    }
    e_invoicing
        .client
        .cancel(uuid, reason.as_str(), now_ms)
        .await
        .map_err(|(english, _)| EInvoiceError::Refused(english))?;
    let mut transaction = state.db.begin_write().await?;
    store::mark_cancelled(&mut transaction, latest.id, now_ms).await?;
    let actor = caller.actor();
    let record = crate::audit::Record {
        actor: &actor,
        action: "e_invoice.cancel",
        subject: &format!("invoice:{number}"),
        before: Some(serde_json::json!({"status": "valid", "uuid": uuid})),
        after: Some(serde_json::json!({"status": "cancelled", "reason": reason.as_str()})),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    let row =
        store::latest(&mut transaction, number).await?.ok_or_else(|| EInvoiceError::NotFound(number.to_owned()))?;
    transaction.commit().await?;
    Ok(row)
}
