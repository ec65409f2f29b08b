//! SQL for e-invoices (migration 22).

use sqlx::{AnyConnection, AnyPool, Row};

/// An e-invoice as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EInvoiceRow {
    /// Id.
    #[serde(skip)]
    pub id: i64,
    /// The invoice or note (`INV-…`, `CN-…`, `RN-…`).
    pub document_number: String,
    /// 1, then 2… after a correction.
    pub version: i64,
    /// `queued`, `blocked`, `submitted`, `valid`, `invalid`, `cancelled`.
    pub status: String,
    /// The exact signed bytes, once built.
    #[serde(skip)]
    pub document: Option<String>,
    /// Their SHA-256.
    pub document_sha256: Option<String>,
    /// MyInvois's submission.
    pub submission_uid: Option<String>,
    /// MyInvois's document uuid.
    pub uuid: Option<String>,
    /// Its long id, once valid.
    pub long_id: Option<String>,
    /// Its validation link (the QR code's text), once valid.
    pub validation_url: Option<String>,
    /// Why it is blocked or invalid, in English.
    pub errors_en: Option<String>,
    /// The same in Malay.
    pub errors_ms: Option<String>,
    /// Submission attempts.
    pub attempts: i64,
}

const COLUMNS: &str =
    "SELECT id, document_number, version, status, document, document_sha256, submission_uid, uuid, long_id,
     errors_en, errors_ms, attempts, validation_url FROM e_invoices";

fn row_of(row: &sqlx::any::AnyRow) -> sqlx::Result<EInvoiceRow> {
    Ok(EInvoiceRow {
        id: row.try_get(0)?,
        document_number: row.try_get(1)?,
        version: row.try_get(2)?,
        status: row.try_get(3)?,
        document: row.try_get(4)?,
        document_sha256: row.try_get(5)?,
        submission_uid: row.try_get(6)?,
        uuid: row.try_get(7)?,
        long_id: row.try_get(8)?,
        errors_en: row.try_get(9)?,
        errors_ms: row.try_get(10)?,
        attempts: row.try_get(11)?,
        validation_url: row.try_get(12)?,
    })
}

/// Queues the first e-invoice of an invoice or note, in the issuing transaction.
///
/// # Errors
/// A database fault.
pub async fn enqueue(connection: &mut AnyConnection, document_number: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO e_invoices (document_number, version, status, attempts, next_attempt_at, created_at, updated_at)
         VALUES ($1, 1, 'queued', 0, $2, $2, $2)",
    )
    .bind(document_number)
    .bind(now_ms)
    .execute(connection)
    .await?;
    Ok(())
}

/// Queues a new version of an invoice's e-invoice (after an invalid one).
///
/// # Errors
/// A unique violation when that version exists; a database fault.
pub async fn insert_version(
    connection: &mut AnyConnection,
    document_number: &str,
    version: i64,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO e_invoices (document_number, version, status, attempts, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, 'queued', 0, $3, $3, $3)",
    )
    .bind(document_number)
    .bind(version)
    .bind(now_ms)
    .execute(connection)
    .await?;
    Ok(())
}

/// When an e-invoice became valid (its last change while valid), Unix ms.
///
/// # Errors
/// A database fault.
pub async fn validated_at(connection: &mut AnyConnection, id: i64) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query("SELECT updated_at FROM e_invoices WHERE id = $1 AND status = 'valid'")
        .bind(id)
        .fetch_optional(connection)
        .await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// Marks a valid e-invoice cancelled.
///
/// # Errors
/// A database fault.
pub async fn mark_cancelled(connection: &mut AnyConnection, id: i64, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE e_invoices SET status = 'cancelled', updated_at = $1 WHERE id = $2 AND status = 'valid'")
        .bind(now_ms)
        .bind(id)
        .execute(connection)
        .await?;
    Ok(())
}

/// The latest version of an invoice's e-invoice.
///
/// # Errors
/// A database fault.
pub async fn latest(connection: &mut AnyConnection, document_number: &str) -> sqlx::Result<Option<EInvoiceRow>> {
    let sql = format!("{COLUMNS} WHERE document_number = $1 ORDER BY version DESC LIMIT 1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(document_number).fetch_optional(connection).await?;
    row.as_ref().map(row_of).transpose()
}

/// E-invoices due for work (queued, blocked or submitted, their time come,
/// no live lease), oldest first.
///
/// # Errors
/// A database fault.
pub async fn due(pool: &AnyPool, now_ms: i64, limit: i64) -> sqlx::Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT id FROM e_invoices WHERE status IN ('queued', 'blocked', 'submitted') AND next_attempt_at <= $1
           AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}

/// Takes an e-invoice's lease until `until_ms` if no one holds it; the row
/// when taken.
///
/// # Errors
/// A database fault.
pub async fn claim(
    pool: &AnyPool,
    id: i64,
    owner: &str,
    now_ms: i64,
    until_ms: i64,
) -> sqlx::Result<Option<EInvoiceRow>> {
    let taken = sqlx::query(
        "UPDATE e_invoices SET lease_owner = $1, lease_until = $2 WHERE id = $3 AND (lease_until IS NULL OR lease_until < $4)",
    )
    .bind(owner)
    .bind(until_ms)
    .bind(id)
    .bind(now_ms)
    .execute(pool)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(None);
    }
    let sql = format!("{COLUMNS} WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(row_of).transpose()
}

/// Keeps the signed bytes of an e-invoice that has none yet (never replaced:
/// the same bytes are sent however often it is sent); false when it had some.
///
/// # Errors
/// A database fault.
pub async fn keep_document(pool: &AnyPool, id: i64, owner: &str, document: &str, sha256: &str) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE e_invoices SET document = $1, document_sha256 = $2, errors_en = NULL, errors_ms = NULL
         WHERE id = $3 AND document IS NULL AND lease_owner = $4",
    )
    .bind(document)
    .bind(sha256)
    .bind(id)
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// What one piece of work did to an e-invoice.
#[derive(Debug, Clone, Default)]
pub struct Progress<'a> {
    /// The new status.
    pub status: &'a str,
    /// MyInvois's submission and document uuid, once accepted.
    pub submitted: Option<(&'a str, &'a str)>,
    /// The long id and validation link, once valid.
    pub long_id: Option<(&'a str, &'a str)>,
    /// Why it is blocked or invalid (English, Malay).
    pub errors: Option<(&'a str, &'a str)>,
    /// Count this as a submission attempt.
    pub attempted: bool,
    /// When to look at it again.
    pub next_attempt_at: i64,
}

/// Records progress and gives the lease back, if `owner` still holds it.
///
/// # Errors
/// A database fault.
pub async fn progress(
    pool: &AnyPool,
    id: i64,
    owner: &str,
    progress: &Progress<'_>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE e_invoices SET status = $1,
            submission_uid = COALESCE($2, submission_uid), uuid = COALESCE($3, uuid), long_id = COALESCE($4, long_id),
            validation_url = COALESCE($12, validation_url),
            errors_en = COALESCE($5, errors_en), errors_ms = COALESCE($6, errors_ms),
            attempts = attempts + $7, next_attempt_at = $8, lease_owner = NULL, lease_until = NULL, updated_at = $9
         WHERE id = $10 AND lease_owner = $11
           AND NOT (status IN ('submitted', 'valid', 'invalid', 'cancelled') AND $1 IN ('queued', 'blocked'))",
    )
    .bind(progress.status)
    .bind(progress.submitted.map(|(uid, _)| uid))
    .bind(progress.submitted.map(|(_, uuid)| uuid))
    .bind(progress.long_id.map(|(long_id, _)| long_id))
    .bind(progress.errors.map(|(en, _)| en))
    .bind(progress.errors.map(|(_, ms)| ms))
    .bind(i64::from(progress.attempted))
    .bind(progress.next_attempt_at)
    .bind(now_ms)
    .bind(id)
    .bind(owner)
    .bind(progress.long_id.map(|(_, url)| url))
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records MyInvois's acceptance of an e-invoice whose lease its worker lost
/// meanwhile (a 202 is the truth whoever holds the row): only if no uuid is
/// recorded yet.
///
/// # Errors
/// A database fault.
pub async fn record_accepted(pool: &AnyPool, id: i64, accepted: (&str, &str), now_ms: i64) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE e_invoices SET status = 'submitted', submission_uid = $1, uuid = $2, attempts = attempts + 1, updated_at = $3
         WHERE id = $4 AND uuid IS NULL",
    )
    .bind(accepted.0)
    .bind(accepted.1)
    .bind(now_ms)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// E-invoices by status for the finance queue, newest first.
///
/// # Errors
/// A database fault.
pub async fn with_status(pool: &AnyPool, status: &str, limit: i64) -> sqlx::Result<Vec<EInvoiceRow>> {
    let sql = format!("{COLUMNS} WHERE status = $1 ORDER BY id DESC LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(status).bind(limit).fetch_all(pool).await?;
    rows.iter().map(row_of).collect()
}

/// Makes the blocked e-invoices of an invoice's notes due now: they wait
/// for the invoice's own e-invoice to be valid, which it just became.
///
/// # Errors
/// A database fault.
pub async fn wake_notes_of(pool: &AnyPool, invoice_number: &str, now_ms: i64) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "UPDATE e_invoices SET next_attempt_at = $1
         WHERE status = 'blocked' AND document_number IN (SELECT number FROM invoice_notes WHERE invoice_number = $2)",
    )
    .bind(now_ms)
    .bind(invoice_number)
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Invoices and notes whose latest e-invoice has `status`, and when the
/// oldest of those versions was queued (Unix ms).
///
/// # Errors
/// A database fault.
pub async fn backlog(connection: &mut AnyConnection, status: &str) -> sqlx::Result<(i64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT COUNT(*), MIN(e.created_at) FROM e_invoices e WHERE e.status = $1
         AND NOT EXISTS (SELECT 1 FROM e_invoices l WHERE l.document_number = e.document_number AND l.version > e.version)",
    )
    .bind(status)
    .fetch_one(connection)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}
