//! Credit and refund notes: finance corrects an invoice whose e-invoice can
//! no longer be cancelled. A note takes its units back from the developer's
//! available quota in the transaction that numbers it (refused when they are
//! used or held), is priced at the invoice's quotation (its unit prices,
//! discount and SST rates), is queued for MyInvois referencing the original
//! e-invoice, and is rendered like an invoice.

use std::collections::BTreeMap;

use super::NoteKind;
use super::service::FinanceError;
use super::store::{self, NoteRow};
use crate::auth::{ApiCaller, Role};
use crate::ledger::{Outcome, Reference, Rejection, SignedUnits};
use crate::request::Message;
use crate::request::numbering::next_number;
use crate::request::quotation::{Pricing, price};
use crate::state::AppState;

/// Most lines on one note.
pub const LINES_MAX: usize = 20;

/// Finance issues a note of `kind` on invoice `invoice_number` for `lines`
/// (product, units): the units leave the developer's quota, the note gets
/// the next gapless number of its kind, its e-invoice is queued and it is
/// audited, all in one transaction; the PDF is rendered after COMMIT.
///
/// # Errors
/// Not finance, no such invoice, a refund on an unpaid invoice, a product
/// the invoice does not bill, more units than it billed less earlier notes,
/// units used or held, or a fault.
pub async fn issue(
    state: &AppState,
    caller: &ApiCaller,
    invoice_number: &str,
    kind: NoteKind,
    reason: &Message,
    lines: &[(String, i64)],
) -> Result<NoteRow, FinanceError> {
    if !matches!(caller.role, Role::Finance | Role::Admin) {
        return Err(FinanceError::Forbidden);
    }
    let not_found = || FinanceError::InvoiceNotFound(invoice_number.to_owned());
    let now = state.clock.now();
    let now_ms = state.clock.now_ms();
    let today = crate::clock::today_local(now);
    let actor = caller.actor();
    let mut transaction = state.db.begin_write().await?;
    // Lock order: audit head, document counter, ledger accounts. Only notes
    // take the CN/RN counters, always under the audit head, and every
    // ledger write takes the audit head before its accounts.
    crate::audit::store::lock_head(&mut transaction).await?;
    let invoice = store::find(&mut transaction, invoice_number).await?.ok_or_else(not_found)?;
    if kind == NoteKind::Refund && invoice.payment_status != super::InvoiceStatus::Paid {
        return Err(FinanceError::NotPaid(invoice.number));
    }
    let pricing = priced(&mut transaction, &invoice, lines).await?;
    let number = next_number(&mut transaction, kind.numbering(), today.year()).await?;
    let reference = Reference::new(&number).map_err(|e| anyhow::anyhow!("note number {number}: {e}"))?;
    for line in &pricing.lines {
        let units = SignedUnits::new(-line.units).map_err(|e| anyhow::anyhow!("{}: {e}", line.product))?;
        let account = (invoice.developer_id, line.product.as_str());
        let outcome = crate::ledger::adjust_within(
            &mut transaction,
            &state.audit_key,
            account,
            units,
            &reference,
            &actor,
            now_ms,
        )
        .await
        .map_err(|e| anyhow::anyhow!("taking back {} for {number}: {e}", line.product))?;
        if let Outcome::Rejected(Rejection::InsufficientQuota { product, requested, available }) = outcome {
            // Dropping the transaction gives the number back.
            return Err(FinanceError::UnitsInUse { product, requested, available });
        }
    }
    let new_note = store::NewNote {
        number: &number,
        kind,
        invoice_number: &invoice.number,
        reason: reason.as_str(),
        pricing: &pricing,
        issued_on: &today.to_string(),
        issued_by: &actor,
        now_ms,
    };
    store::insert_note(&mut transaction, &new_note).await?;
    crate::myinvois::store::enqueue(&mut transaction, &number, now_ms).await?;
    let subject = format!("invoice:{}", invoice.number);
    let lines_json: Vec<_> =
        pricing.lines.iter().map(|l| serde_json::json!({"product": l.product, "units": l.units})).collect();
    let audit = crate::audit::Record {
        actor: &actor,
        action: match kind {
            NoteKind::Credit => "invoice.credit_note",
            NoteKind::Refund => "invoice.refund_note",
        },
        subject: &subject,
        before: None,
        after: Some(serde_json::json!({
            "note": number, "reason": reason.as_str(), "lines": lines_json, "total_sen": pricing.total.get(),
        })),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    let note =
        store::find_note(&mut transaction, &number).await?.ok_or_else(|| anyhow::anyhow!("{number} vanished"))?;
    transaction.commit().await?;
    crate::request::service::render_issued(state, &[number.as_str()]).await;
    Ok(note)
}

/// One product an invoice bills, and how much of it notes may still take back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correctable {
    /// Product code.
    pub product: String,
    /// Units the invoice billed.
    pub billed: i64,
    /// Units its notes took back so far.
    pub noted: i64,
    /// The invoiced unit price.
    pub unit_price: crate::money::Sen,
}

impl Correctable {
    /// Units a note may still take back (if the developer has not used them).
    #[must_use]
    pub fn remaining(&self) -> i64 {
        self.billed - self.noted
    }
}

/// What each product of the invoice billed and its notes took back.
///
/// # Errors
/// A database fault, or an invoice without its quotation.
pub async fn correctable(
    connection: &mut sqlx::AnyConnection,
    invoice: &store::InvoiceRow,
) -> Result<(Vec<Correctable>, crate::request::store::QuotationRow), FinanceError> {
    let quotation = crate::request::store::invoiced_quotation(&mut *connection, invoice.request_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("invoice {} has no quotation", invoice.number))?;
    let mut noted: BTreeMap<String, i64> = BTreeMap::new();
    for earlier in store::notes_of_invoice(&mut *connection, &invoice.number).await? {
        for line in earlier.lines {
            *noted.entry(line.product).or_default() += line.units;
        }
    }
    let lines = quotation
        .lines
        .iter()
        .map(|line| Correctable {
            product: line.product.clone(),
            billed: line.units,
            noted: noted.get(&line.product).copied().unwrap_or(0),
            unit_price: line.unit_price,
        })
        .collect();
    Ok((lines, quotation))
}

/// The note's lines priced at the invoice's quotation, each within what the
/// invoice billed less its earlier notes.
async fn priced(
    connection: &mut sqlx::AnyConnection,
    invoice: &store::InvoiceRow,
    lines: &[(String, i64)],
) -> Result<Pricing, FinanceError> {
    let (correctable, quotation) = correctable(connection, invoice).await?;
    let mut priced_lines: Vec<(String, i64, crate::money::Sen)> = Vec::with_capacity(lines.len());
    for (product, units) in lines {
        // Each product once: two lines could each pass the check below
        // and together take back more than the invoice billed.
        if priced_lines.iter().any(|(seen, _, _)| seen == product) {
            return Err(FinanceError::DuplicateProduct(product.clone()));
        }
        let billed = correctable
            .iter()
            .find(|line| &line.product == product)
            .ok_or_else(|| FinanceError::NotOnInvoice { invoice: invoice.number.clone(), product: product.clone() })?;
        if *units > billed.remaining() {
            return Err(FinanceError::BeyondInvoiced {
                invoice: invoice.number.clone(),
                product: product.clone(),
                requested: *units,
                remaining: billed.remaining(),
            });
        }
        priced_lines.push((product.clone(), *units, billed.unit_price));
    }
    priced_lines.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(price(&priced_lines, quotation.discount_rate, quotation.tax_rate)
        .map_err(|_| anyhow::anyhow!("a note on {} is too large to price", invoice.number))?)
}
