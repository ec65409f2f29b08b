//! Finance's services: issuing the invoice and delivery order of a credited
//! request (seed step 5) and settling a PO invoice when its money arrives.
//! Each decides and writes in one transaction, with its audit record.

use anyhow::Context as _;
use jiff::civil::Date;

use crate::auth::{ApiCaller, Role};
use crate::ledger::Reference;
use crate::request::domain::Action;
use crate::request::numbering::{NumberKind, next_number};
use crate::request::payment::PaymentStatus;
use crate::request::service::{Step, render_issued};
use crate::request::{RequestError, act, store as request_store};
use crate::state::AppState;

/// What finance's services refuse, and their faults.
#[derive(Debug, thiserror::Error)]
pub enum FinanceError {
    /// The workflow refuses the step (see [`RequestError`]).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Only finance settles invoices (403).
    #[error("only the finance department may do this")]
    Forbidden,
    /// No such invoice, or another company's (404).
    #[error("invoice {0} does not exist")]
    InvoiceNotFound(String),
    /// The invoice is paid already (409).
    #[error("invoice {number} is already {status}")]
    NotUnpaid {
        /// The invoice.
        number: String,
        /// What it is now.
        status: super::InvoiceStatus,
    },
    /// A refund note returns money: only on a paid invoice (409).
    #[error(
        "invoice {0} is not paid; money can be returned only on a paid invoice (a credit note reduces an unpaid one)"
    )]
    NotPaid(String),
    /// A note's product that the invoice does not bill (422).
    #[error("invoice {invoice} does not bill {product}")]
    NotOnInvoice {
        /// The invoice.
        invoice: String,
        /// The product asked for.
        product: String,
    },
    /// A note names a product twice (422).
    #[error("{0} appears more than once; give each product once")]
    DuplicateProduct(String),
    /// More units than the invoice billed, less earlier notes (409).
    #[error("{requested} units of {product} were asked for but invoice {invoice} has only {remaining} left to correct")]
    BeyondInvoiced {
        /// The invoice.
        invoice: String,
        /// The product.
        product: String,
        /// Units asked for.
        requested: i64,
        /// Billed less earlier notes.
        remaining: i64,
    },
    /// The units are no longer available: used or held (409).
    #[error(
        "{requested} units of {product} cannot be taken back: only {available} are available (the rest are used or held)"
    )]
    UnitsInUse {
        /// The product.
        product: String,
        /// Units asked for.
        requested: i64,
        /// Available now.
        available: i64,
    },
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for FinanceError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<FinanceError> for crate::error::AppError {
    fn from(error: FinanceError) -> Self {
        let detail = error.to_string();
        match error {
            FinanceError::Request(error) => error.into(),
            FinanceError::Forbidden => Self::Forbidden(detail),
            FinanceError::InvoiceNotFound(_) => Self::NotFound(detail),
            FinanceError::NotUnpaid { .. } => Self::conflict("invoice-not-unpaid", detail),
            FinanceError::NotPaid(_) => Self::conflict("invoice-not-paid", detail),
            FinanceError::NotOnInvoice { .. } => Self::Unprocessable { slug: "product-not-on-invoice", detail },
            FinanceError::DuplicateProduct(_) => Self::Unprocessable { slug: "duplicate-product", detail },
            FinanceError::BeyondInvoiced { .. } => Self::conflict("units-beyond-invoice", detail),
            FinanceError::UnitsInUse { .. } => Self::conflict("units-in-use", detail),
            FinanceError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// An issued invoice and its delivery order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// `INV-2026-000001`.
    pub invoice_number: String,
    /// `DO-2026-000001`.
    pub delivery_order_number: String,
    /// Paid at issue (transfer, card) or a receivable (PO).
    pub status: super::InvoiceStatus,
}

/// Finance issues the invoice and delivery order of a credited request; the
/// developer gets both by mail. A PO's invoice stays unpaid until settled.
///
/// # Errors
/// The rules' refusal, not found, or a fault.
pub async fn issue_invoice(state: &AppState, caller: &ApiCaller, request_id: i64) -> Result<Issued, FinanceError> {
    let (mut transaction, step) = Step::begin(state, caller, request_id).await?;
    let issued = issue_within(&mut transaction, state, &step).await?;
    transaction.commit().await?;
    render_issued(state, &[issued.invoice_number.as_str(), issued.delivery_order_number.as_str()]).await;
    Ok(issued)
}

/// Issues the invoice and delivery order of the credited request in `step`
/// inside the caller's transaction: by finance ([`issue_invoice`]) or by the
/// system in the transaction that credits (the setting `invoice_on_credit`).
/// Paid when the approved payment's money has arrived (not a PO). The caller
/// renders the documents after COMMIT.
///
/// # Errors
/// The rules' refusal, no quotation, or a fault.
pub(crate) async fn issue_within(
    connection: &mut sqlx::AnyConnection,
    state: &AppState,
    step: &Step,
) -> Result<Issued, RequestError> {
    let request_id = step.row.id;
    let year = step.today.year();
    // Lock order: request row (the step's), audit head, document counters.
    crate::audit::store::lock_head(&mut *connection).await?;
    let invoice_number = next_number(&mut *connection, NumberKind::Invoice, year).await?;
    let delivery_number = next_number(&mut *connection, NumberKind::DeliveryOrder, year).await?;
    let context = step.context(state, Some(&delivery_number), Some(&invoice_number), None);
    act(&mut *connection, &step.row, Action::IssueInvoice, &context).await?;
    let quotation =
        request_store::invoiced_quotation(&mut *connection, request_id).await?.ok_or(RequestError::NoQuotation)?;
    let payments = request_store::payments(&mut *connection, request_id).await?;
    let paid = payments.into_iter().rfind(|p| p.status == PaymentStatus::Approved);
    let is_paid = paid.as_ref().is_some_and(|p| p.method.is_paid());
    let invoice = super::store::NewInvoice {
        number: &invoice_number,
        delivery_order_number: &delivery_number,
        request_id,
        total_sen: quotation.total.get(),
        status: if is_paid { super::InvoiceStatus::Paid } else { super::InvoiceStatus::Unpaid },
        issued_on: &step.today.to_string(),
        paid_on: paid.as_ref().filter(|_| is_paid).map(|p| p.paid_on.as_str()),
        now_ms: step.now_ms,
    };
    super::store::insert_invoice(&mut *connection, &invoice).await?;
    // Its e-invoice, submitted by the job once e-invoicing is configured.
    crate::myinvois::store::enqueue(&mut *connection, &invoice_number, step.now_ms).await?;
    let status = invoice.status;
    Ok(Issued { invoice_number, delivery_order_number: delivery_number, status })
}

/// Finance records that a PO invoice was paid, with the date and the bank's
/// reference; audited with who did it.
///
/// # Errors
/// Not finance, no such invoice, an invoice already paid, or a fault.
pub async fn settle(
    state: &AppState,
    caller: &ApiCaller,
    number: &str,
    paid_on: Date,
    reference: &Reference,
) -> Result<super::store::InvoiceRow, FinanceError> {
    if !matches!(caller.role, Role::Finance | Role::Admin) {
        return Err(FinanceError::Forbidden);
    }
    let not_found = || FinanceError::InvoiceNotFound(number.to_owned());
    let mut transaction = state.db.begin_write().await?;
    let invoice = super::store::find(&mut transaction, number).await?.ok_or_else(not_found)?;
    if !super::store::settle(&mut transaction, number, &paid_on.to_string(), reference.as_str()).await? {
        return Err(FinanceError::NotUnpaid { number: number.to_owned(), status: invoice.payment_status });
    }
    let (actor, subject) = (caller.actor(), format!("invoice:{number}"));
    let audit = crate::audit::Record {
        actor: &actor,
        action: "invoice.settle",
        subject: &subject,
        before: Some(serde_json::json!({"payment_status": invoice.payment_status.as_str()})),
        after: Some(
            serde_json::json!({"payment_status": "paid", "paid_on": paid_on.to_string(), "reference": reference.as_str()}),
        ),
        at_ms: state.clock.now_ms(),
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    let settled = super::store::find(&mut transaction, number).await?.context("settled invoice vanished")?;
    transaction.commit().await?;
    Ok(settled)
}
