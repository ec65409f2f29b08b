//! SQL for issued documents and procedure attachments, and the facts a
//! document is composed from.

use sqlx::{AnyConnection, AnyPool, Row};

use super::procedures::Procedure;

/// A request's number and its developer's particulars, as a document's
/// buyer block needs them (missing address parts are empty).
#[derive(Debug, Clone)]
pub struct RequestBuyer {
    /// `REQ-2026-000001`.
    pub request_number: String,
    /// The developer's name.
    pub name: String,
    /// Its registration number.
    pub registration_no: String,
    /// Its code.
    pub code: String,
    /// Street address.
    pub address: String,
    /// Postcode.
    pub postcode: String,
    /// State code.
    pub state_code: String,
}

/// The number of request `request_id` and its developer's particulars.
///
/// # Errors
/// A database fault, or no such request.
pub async fn request_buyer(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<RequestBuyer> {
    let row = sqlx::query(
        "SELECT r.number, d.name, d.registration_no, d.code, COALESCE(d.address, ''), COALESCE(d.postcode, ''), COALESCE(d.state_code, '')
         FROM quota_requests r JOIN developers d ON d.id = r.developer_id WHERE r.id = $1",
    )
    .bind(request_id)
    .fetch_one(connection)
    .await?;
    Ok(RequestBuyer {
        request_number: row.try_get(0)?,
        name: row.try_get(1)?,
        registration_no: row.try_get(2)?,
        code: row.try_get(3)?,
        address: row.try_get(4)?,
        postcode: row.try_get(5)?,
        state_code: row.try_get(6)?,
    })
}

/// A product's names and validity, as a document line shows them.
#[derive(Debug, Clone)]
pub struct ProductLabel {
    /// Malay name.
    pub name_ms: String,
    /// English name.
    pub name_en: String,
    /// Certificate validity.
    pub validity_months: i64,
}

/// The names and validity of product `code`.
///
/// # Errors
/// A database fault, or no such product.
pub async fn product_label(connection: &mut AnyConnection, code: &str) -> sqlx::Result<ProductLabel> {
    let row = sqlx::query("SELECT name_ms, name_en, validity_months FROM products WHERE code = $1")
        .bind(code)
        .fetch_one(connection)
        .await?;
    Ok(ProductLabel { name_ms: row.try_get(0)?, name_en: row.try_get(1)?, validity_months: row.try_get(2)? })
}

/// The request of the quotation with this number, if any.
///
/// # Errors
/// A database fault.
pub async fn quotation_request_id(connection: &mut AnyConnection, number: &str) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query("SELECT request_id FROM quotations WHERE number = $1")
        .bind(number)
        .fetch_optional(connection)
        .await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// The request a quotation, invoice, delivery order or note number belongs to.
///
/// # Errors
/// A database fault.
pub async fn request_of_document(connection: &mut AnyConnection, number: &str) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT request_id FROM quotations WHERE number = $1
         UNION ALL SELECT request_id FROM invoices WHERE number = $1 OR delivery_order_number = $1
         UNION ALL SELECT i.request_id FROM invoice_notes n JOIN invoices i ON i.number = n.invoice_number WHERE n.number = $1",
    )
    .bind(number)
    .fetch_optional(connection)
    .await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// An invoice with its delivery order, as their documents need it.
#[derive(Debug, Clone)]
pub struct InvoiceFacts {
    /// The request it bills.
    pub request_id: i64,
    /// Invoice number.
    pub number: String,
    /// Delivery order number.
    pub delivery_order_number: String,
    /// Issued, `YYYY-MM-DD`.
    pub issued_on: String,
    /// Stored payment status.
    pub payment_status: crate::finance::InvoiceStatus,
    /// Paid, `YYYY-MM-DD`.
    pub paid_on: Option<String>,
}

/// The invoice whose number or delivery order number is `number`, if any.
///
/// # Errors
/// A database fault.
pub async fn invoice_by_document_number(
    connection: &mut AnyConnection,
    number: &str,
) -> sqlx::Result<Option<InvoiceFacts>> {
    let row = sqlx::query(
        "SELECT request_id, number, delivery_order_number, issued_on, payment_status, paid_on FROM invoices WHERE number = $1 OR delivery_order_number = $1",
    )
    .bind(number)
    .fetch_optional(connection)
    .await?;
    row.map(|row| {
        Ok(InvoiceFacts {
            request_id: row.try_get(0)?,
            number: row.try_get(1)?,
            delivery_order_number: row.try_get(2)?,
            issued_on: row.try_get(3)?,
            payment_status: crate::finance::decode_status(&row.try_get::<String, _>(4)?)?,
            paid_on: row.try_get(5)?,
        })
    })
    .transpose()
}

/// When (Unix ms) the request's payment was last approved, if ever.
///
/// # Errors
/// A database fault.
pub async fn payment_approved_at(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query("SELECT created_at FROM quota_request_events WHERE request_id = $1 AND action = 'approve_payment' ORDER BY id DESC LIMIT 1")
        .bind(request_id)
        .fetch_optional(connection)
        .await?
        .map(|row| row.try_get::<i64, _>(0))
        .transpose()
}

/// Records a rendered document, unless one with its number is recorded.
///
/// # Errors
/// A database fault.
pub async fn insert_document(
    pool: &AnyPool,
    number: &str,
    kind: &str,
    request_id: i64,
    sha256: &str,
    size_bytes: i64,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO documents (number, kind, request_id, sha256, size_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (number) DO NOTHING",
    )
    .bind(number)
    .bind(kind)
    .bind(request_id)
    .bind(sha256)
    .bind(size_bytes)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// Moves the current version of a document to `superseded_documents` (its
/// bytes stay in the blob store), so that the next fetch produces it again.
///
/// # Errors
/// A database fault.
pub async fn supersede(connection: &mut AnyConnection, number: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO superseded_documents (number, sha256, size_bytes, created_at, superseded_at)
         SELECT number, sha256, size_bytes, created_at, $2 FROM documents WHERE number = $1",
    )
    .bind(number)
    .bind(now_ms)
    .execute(&mut *connection)
    .await?;
    sqlx::query("DELETE FROM documents WHERE number = $1").bind(number).execute(connection).await?;
    Ok(())
}

/// The request and blob key of the recorded document with this number.
///
/// # Errors
/// A database fault.
pub async fn find_document(pool: &AnyPool, number: &str) -> sqlx::Result<Option<(i64, String)>> {
    let row = sqlx::query("SELECT request_id, sha256 FROM documents WHERE number = $1")
        .bind(number)
        .fetch_optional(pool)
        .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).transpose()
}

/// Every current procedure file, by name.
///
/// # Errors
/// A database fault.
pub async fn current_procedures(connection: &mut AnyConnection) -> sqlx::Result<Vec<Procedure>> {
    let rows = sqlx::query("SELECT name, filename, sha256, size_bytes FROM procedure_attachments ORDER BY name")
        .fetch_all(connection)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Procedure {
                name: row.try_get(0)?,
                filename: row.try_get(1)?,
                sha256: row.try_get(2)?,
                size_bytes: row.try_get(3)?,
            })
        })
        .collect()
}

/// Stores a procedure file, replacing the one with its name.
///
/// # Errors
/// A database fault.
pub async fn upsert_procedure(
    connection: &mut AnyConnection,
    procedure: &Procedure,
    now_ms: i64,
    actor: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO procedure_attachments (name, filename, sha256, size_bytes, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name) DO UPDATE SET filename = $2, sha256 = $3, size_bytes = $4, updated_at = $5, updated_by = $6",
    )
    .bind(&procedure.name)
    .bind(&procedure.filename)
    .bind(&procedure.sha256)
    .bind(procedure.size_bytes)
    .bind(now_ms)
    .bind(actor)
    .execute(connection)
    .await?;
    Ok(())
}

/// Deletes the procedure file with this name.
///
/// # Errors
/// A database fault.
pub async fn delete_procedure(connection: &mut AnyConnection, name: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM procedure_attachments WHERE name = $1").bind(name).execute(connection).await?;
    Ok(())
}

/// An issued document in a company's list.
#[derive(Debug, Clone)]
pub struct DocumentListItem {
    /// Document number.
    pub number: String,
    /// `quotation`, `invoice`, `delivery_order`, `credit_note` or `refund_note`.
    pub kind: String,
    /// The request's number.
    pub request_number: String,
    /// The request's id.
    pub request_id: i64,
    /// Issued, `YYYY-MM-DD`.
    pub issued_on: String,
    /// An invoice's e-invoice status (its latest version), if it has one.
    pub e_invoice: Option<String>,
}

/// Every quotation, invoice, delivery order and note of a developer, newest
/// first, at most 500.
///
/// # Errors
/// A database fault.
pub async fn developer_documents(pool: &AnyPool, developer_id: i64) -> sqlx::Result<Vec<DocumentListItem>> {
    let rows = sqlx::query(
        "SELECT q.number, 'quotation', r.number, r.id, q.issued_on, CAST(NULL AS TEXT) FROM quotations q
         JOIN quota_requests r ON r.id = q.request_id WHERE r.developer_id = $1
         UNION ALL
         SELECT i.number, 'invoice', r.number, r.id, i.issued_on,
                (SELECT e.status FROM e_invoices e WHERE e.document_number = i.number ORDER BY e.version DESC LIMIT 1)
         FROM invoices i JOIN quota_requests r ON r.id = i.request_id WHERE r.developer_id = $1
         UNION ALL
         SELECT i.delivery_order_number, 'delivery_order', r.number, r.id, i.issued_on, CAST(NULL AS TEXT) FROM invoices i
         JOIN quota_requests r ON r.id = i.request_id WHERE r.developer_id = $1
         UNION ALL
         SELECT n.number, n.kind, r.number, r.id, n.issued_on,
                (SELECT e.status FROM e_invoices e WHERE e.document_number = n.number ORDER BY e.version DESC LIMIT 1)
         FROM invoice_notes n JOIN invoices i ON i.number = n.invoice_number
         JOIN quota_requests r ON r.id = i.request_id WHERE r.developer_id = $1
         ORDER BY 5 DESC, 1 DESC LIMIT 500",
    )
    .bind(developer_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DocumentListItem {
                number: row.try_get(0)?,
                kind: row.try_get(1)?,
                request_number: row.try_get(2)?,
                request_id: row.try_get(3)?,
                issued_on: row.try_get(4)?,
                e_invoice: row.try_get(5)?,
            })
        })
        .collect()
}
