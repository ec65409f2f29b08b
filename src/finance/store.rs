//! SQL for invoices.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::money::Sen;

/// An invoice to store.
pub struct NewInvoice<'a> {
    /// `INV-2026-000001`.
    pub number: &'a str,
    /// `DO-2026-000001`.
    pub delivery_order_number: &'a str,
    /// The request invoiced.
    pub request_id: i64,
    /// Total, sen.
    pub total_sen: i64,
    /// Paid at issue (bank transfer, card) or not yet (PO).
    pub status: super::InvoiceStatus,
    /// `YYYY-MM-DD`.
    pub issued_on: &'a str,
    /// When paid, for paid invoices.
    pub paid_on: Option<&'a str>,
    /// Now, Unix ms.
    pub now_ms: i64,
}

/// Stores an invoice.
///
/// # Errors
/// A database fault (a second invoice for a request violates a unique key).
pub async fn insert_invoice(connection: &mut AnyConnection, invoice: &NewInvoice<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO invoices (number, delivery_order_number, request_id, total_sen, payment_status, issued_on, paid_on, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(invoice.number)
    .bind(invoice.delivery_order_number)
    .bind(invoice.request_id)
    .bind(invoice.total_sen)
    .bind(invoice.status.as_str())
    .bind(invoice.issued_on)
    .bind(invoice.paid_on)
    .bind(invoice.now_ms)
    .execute(connection)
    .await?;
    Ok(())
}

/// An invoice as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InvoiceRow {
    /// Invoice number.
    pub number: String,
    /// Delivery order number.
    pub delivery_order_number: String,
    /// Request number.
    pub request: String,
    /// Developer code.
    pub developer: String,
    /// Total.
    pub total: Sen,
    /// `paid` or `unpaid`.
    pub payment_status: super::InvoiceStatus,
    /// `YYYY-MM-DD`.
    pub issued_on: String,
    /// `YYYY-MM-DD`, once paid.
    pub paid_on: Option<String>,
    /// Settlement reference, for settled POs.
    pub settlement_reference: Option<String>,
    /// The owning developer's id.
    #[serde(skip)]
    pub developer_id: i64,
    /// Its id, the cursor of the next page.
    #[serde(skip)]
    pub id: i64,
    /// The request it bills.
    #[serde(skip)]
    pub request_id: i64,
}

const INVOICE_COLUMNS: &str = "SELECT i.number, i.delivery_order_number, r.number, d.code, i.total_sen, i.payment_status, i.issued_on, i.paid_on, i.settlement_reference, d.id, i.id, i.request_id
     FROM invoices i JOIN quota_requests r ON r.id = i.request_id JOIN developers d ON d.id = r.developer_id";

fn invoice_from_row(row: &AnyRow) -> sqlx::Result<InvoiceRow> {
    Ok(InvoiceRow {
        number: row.try_get(0)?,
        delivery_order_number: row.try_get(1)?,
        request: row.try_get(2)?,
        developer: row.try_get(3)?,
        total: Sen::new(row.try_get(4)?).unwrap_or_default(),
        payment_status: super::decode_status(&row.try_get::<String, _>(5)?)?,
        issued_on: row.try_get(6)?,
        paid_on: row.try_get(7)?,
        settlement_reference: row.try_get(8)?,
        developer_id: row.try_get(9)?,
        id: row.try_get(10)?,
        request_id: row.try_get(11)?,
    })
}

/// The invoice of a request, if issued.
///
/// # Errors
/// A database fault.
pub async fn invoice_of_request(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<Option<InvoiceRow>> {
    let sql = format!("{INVOICE_COLUMNS} WHERE i.request_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(request_id).fetch_optional(connection).await?;
    row.as_ref().map(invoice_from_row).transpose()
}

/// The invoice with this number.
///
/// # Errors
/// A database fault.
pub async fn find(connection: &mut AnyConnection, number: &str) -> sqlx::Result<Option<InvoiceRow>> {
    let sql = format!("{INVOICE_COLUMNS} WHERE i.number = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(number).fetch_optional(connection).await?;
    row.as_ref().map(invoice_from_row).transpose()
}

/// Which invoices to list: a page, oldest first, after a cursor.
#[derive(Debug, Clone, Copy)]
pub struct InvoiceFilter {
    /// Only this payment status.
    pub status: Option<super::InvoiceStatus>,
    /// Only this developer's.
    pub developer_id: Option<i64>,
    /// Only invoices after this id (the `next` cursor of a previous page).
    pub after_id: i64,
    /// At most this many.
    pub limit: i64,
}

/// A page of invoices, filtered in SQL (so a company's invoices are never
/// cut off by other companies' rows), oldest first.
///
/// # Errors
/// A database fault.
pub async fn list(pool: &AnyPool, filter: &InvoiceFilter) -> sqlx::Result<Vec<InvoiceRow>> {
    let sql = format!(
        "{INVOICE_COLUMNS} WHERE ($1 = '' OR i.payment_status = $1) AND ($2 = 0 OR d.id = $2) AND i.id > $3
         ORDER BY i.id LIMIT $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(filter.status.map_or("", super::InvoiceStatus::as_str))
        .bind(filter.developer_id.unwrap_or(0))
        .bind(filter.after_id)
        .bind(filter.limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(invoice_from_row).collect()
}

/// Marks an unpaid invoice paid; false when it was not unpaid.
///
/// # Errors
/// A database fault.
pub async fn settle(
    connection: &mut AnyConnection,
    number: &str,
    paid_on: &str,
    reference: &str,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE invoices SET payment_status = 'paid', paid_on = $1, settlement_reference = $2 WHERE number = $3 AND payment_status = 'unpaid'",
    )
    .bind(paid_on)
    .bind(reference)
    .bind(number)
    .execute(connection)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Units and amount of one product invoiced in one month.
#[derive(Debug, Clone)]
pub struct MonthlySales {
    /// `YYYY-MM`.
    pub month: String,
    /// Product code.
    pub product: String,
    /// Units.
    pub units: i64,
    /// Amount in sen.
    pub amount_sen: i64,
}

/// Invoiced purchases by month and product, newest month first.
///
/// # Errors
/// A database fault.
pub async fn monthly_sales(pool: &AnyPool) -> sqlx::Result<Vec<MonthlySales>> {
    let rows = sqlx::query(
        "SELECT substr(i.issued_on, 1, 7), l.product_code, CAST(SUM(l.units) AS BIGINT), CAST(SUM(l.amount_sen) AS BIGINT)
         FROM invoices i JOIN quotations q ON q.request_id = i.request_id AND q.superseded = 0
         JOIN quotation_lines l ON l.quotation_id = q.id
         GROUP BY substr(i.issued_on, 1, 7), l.product_code ORDER BY 1 DESC, 2",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MonthlySales {
                month: r.try_get(0)?,
                product: r.try_get(1)?,
                units: r.try_get(2)?,
                amount_sen: r.try_get(3)?,
            })
        })
        .collect()
}

/// A credit or refund note to store.
pub struct NewNote<'a> {
    /// `CN-2026-000001` or `RN-2026-000001`.
    pub number: &'a str,
    /// Which note.
    pub kind: super::NoteKind,
    /// The invoice it corrects.
    pub invoice_number: &'a str,
    /// Why.
    pub reason: &'a str,
    /// Its figures, priced at the invoice's quotation.
    pub pricing: &'a crate::request::quotation::Pricing,
    /// `YYYY-MM-DD`.
    pub issued_on: &'a str,
    /// Who issued it (`user:3`).
    pub issued_by: &'a str,
    /// Now, Unix ms.
    pub now_ms: i64,
}

/// Stores a note and its lines.
///
/// # Errors
/// A database fault (a used number violates the unique key).
pub async fn insert_note(connection: &mut AnyConnection, note: &NewNote<'_>) -> sqlx::Result<()> {
    let pricing = note.pricing;
    let id: i64 = sqlx::query(
        "INSERT INTO invoice_notes (number, kind, invoice_number, reason, subtotal_sen, discount_sen, tax_rate_bp,
                                    tax_sen, total_sen, issued_on, issued_by, created_at, discount_rate_bp)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(note.number)
    .bind(note.kind.as_str())
    .bind(note.invoice_number)
    .bind(note.reason)
    .bind(pricing.subtotal.get())
    .bind(pricing.discount.get())
    .bind(pricing.tax_rate.get())
    .bind(pricing.tax.get())
    .bind(pricing.total.get())
    .bind(note.issued_on)
    .bind(note.issued_by)
    .bind(note.now_ms)
    .bind(pricing.discount_rate.get())
    .fetch_one(&mut *connection)
    .await?
    .try_get(0)?;
    for line in &pricing.lines {
        sqlx::query(
            "INSERT INTO invoice_note_lines (note_id, product_code, units, unit_price_sen, amount_sen)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(&line.product)
        .bind(line.units)
        .bind(line.unit_price.get())
        .bind(line.amount.get())
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// A credit or refund note as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NoteRow {
    /// `CN-2026-000001`.
    pub number: String,
    /// `credit_note` or `refund_note`.
    pub kind: super::NoteKind,
    /// The invoice it corrects.
    pub invoice: String,
    /// Why.
    pub reason: String,
    /// Sum of the line amounts.
    pub subtotal: Sen,
    /// The quotation's discount rate.
    #[serde(skip)]
    pub discount_rate: crate::money::BasisPoints,
    /// The quotation's discount on it.
    pub discount: Sen,
    /// The invoice's SST rate, basis points.
    #[serde(skip)]
    pub tax_rate: crate::money::BasisPoints,
    /// SST on it.
    pub tax: Sen,
    /// What it takes off the invoice.
    pub total: Sen,
    /// `YYYY-MM-DD`.
    pub issued_on: String,
    /// Who issued it.
    #[serde(skip)]
    pub issued_by: String,
    /// Its lines.
    pub lines: Vec<crate::request::store::QuotationLine>,
    /// The request the invoice bills.
    #[serde(skip)]
    pub request_id: i64,
    /// The owning developer's id.
    #[serde(skip)]
    pub developer_id: i64,
}

const NOTE_COLUMNS: &str = "SELECT n.id, n.number, n.kind, n.invoice_number, n.reason, n.subtotal_sen, n.discount_sen,
            n.tax_rate_bp, n.tax_sen, n.total_sen, n.issued_on, n.issued_by, i.request_id, r.developer_id, n.discount_rate_bp
     FROM invoice_notes n JOIN invoices i ON i.number = n.invoice_number JOIN quota_requests r ON r.id = i.request_id";

async fn notes_where(connection: &mut AnyConnection, filter: &str, value: &str) -> sqlx::Result<Vec<NoteRow>> {
    let sql = format!("{NOTE_COLUMNS} WHERE {filter} = $1 ORDER BY n.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_all(&mut *connection).await?;
    let money = |value: i64| Sen::new(value).map_err(|e| sqlx::Error::Decode(e.into()));
    let mut notes = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let kind: String = row.try_get(2)?;
        let lines = sqlx::query(
            "SELECT product_code, units, unit_price_sen, amount_sen FROM invoice_note_lines WHERE note_id = $1 ORDER BY product_code",
        )
        .bind(id)
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(|line| {
            Ok(crate::request::store::QuotationLine {
                product: line.try_get(0)?,
                units: line.try_get(1)?,
                unit_price: money(line.try_get(2)?)?,
                amount: money(line.try_get(3)?)?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
        notes.push(NoteRow {
            number: row.try_get(1)?,
            kind: super::NoteKind::parse(&kind)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown note kind {kind:?}").into()))?,
            invoice: row.try_get(3)?,
            reason: row.try_get(4)?,
            subtotal: money(row.try_get(5)?)?,
            discount_rate: crate::money::BasisPoints::new(row.try_get(14)?)
                .map_err(|e| sqlx::Error::Decode(e.into()))?,
            discount: money(row.try_get(6)?)?,
            tax_rate: crate::money::BasisPoints::new(row.try_get(7)?).map_err(|e| sqlx::Error::Decode(e.into()))?,
            tax: money(row.try_get(8)?)?,
            total: money(row.try_get(9)?)?,
            issued_on: row.try_get(10)?,
            issued_by: row.try_get(11)?,
            lines,
            request_id: row.try_get(12)?,
            developer_id: row.try_get(13)?,
        });
    }
    Ok(notes)
}

/// The note with this number.
///
/// # Errors
/// A database fault.
pub async fn find_note(connection: &mut AnyConnection, number: &str) -> sqlx::Result<Option<NoteRow>> {
    Ok(notes_where(connection, "n.number", number).await?.into_iter().next())
}

/// An invoice's notes, oldest first.
///
/// # Errors
/// A database fault.
pub async fn notes_of_invoice(connection: &mut AnyConnection, invoice_number: &str) -> sqlx::Result<Vec<NoteRow>> {
    notes_where(connection, "n.invoice_number", invoice_number).await
}
