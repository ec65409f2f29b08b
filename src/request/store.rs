//! SQL for quota requests, their lines, timeline, quotations and payments.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::domain::Status;
use super::quotation::Pricing;
use jiff::civil::Date;

use crate::money::{BasisPoints, Sen};

/// A request as stored.
#[derive(Debug, Clone)]
pub struct RequestRow {
    /// Id.
    pub id: i64,
    /// `REQ-2026-000001`.
    pub number: String,
    /// Owning developer.
    pub developer_id: i64,
    /// Its code.
    pub developer_code: String,
    /// Status.
    pub status: Status,
    /// The developer's note.
    pub note: String,
    /// Current due date, `YYYY-MM-DD`.
    pub due_on: Option<String>,
    /// Created, Unix ms.
    pub created_at_ms: i64,
}

const REQUEST_COLUMNS: &str = "SELECT r.id, r.number, r.developer_id, d.code, r.status, r.note, r.due_on, r.created_at
     FROM quota_requests r JOIN developers d ON d.id = r.developer_id";

fn request_from_row(row: &AnyRow) -> sqlx::Result<RequestRow> {
    let status: String = row.try_get(4)?;
    Ok(RequestRow {
        id: row.try_get(0)?,
        number: row.try_get(1)?,
        developer_id: row.try_get(2)?,
        developer_code: row.try_get(3)?,
        status: Status::parse(&status).ok_or_else(|| sqlx::Error::Decode(format!("unknown status {status}").into()))?,
        note: row.try_get(5)?,
        due_on: row.try_get(6)?,
        created_at_ms: row.try_get(7)?,
    })
}

/// The request with this id.
///
/// # Errors
/// A database fault.
pub async fn find(connection: &mut AnyConnection, id: i64) -> sqlx::Result<Option<RequestRow>> {
    let sql = format!("{REQUEST_COLUMNS} WHERE r.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(connection).await?;
    row.as_ref().map(request_from_row).transpose()
}

/// The request with this id, locked for the rest of the transaction on
/// PostgreSQL (`lock_clause` from `Db::row_lock_clause`; SQLite's write
/// transaction already holds the file), so two actions on one request — a
/// payment and a quotation revision, say — run one after the other.
///
/// # Errors
/// A database fault.
pub async fn find_for_update(
    connection: &mut AnyConnection,
    id: i64,
    lock_clause: &str,
) -> sqlx::Result<Option<RequestRow>> {
    // `FOR UPDATE` may not lock the nullable side of the join: lock the request row alone first.
    let locked = format!("SELECT id FROM quota_requests WHERE id = $1 {lock_clause}");
    if sqlx::query(sqlx::AssertSqlSafe(locked)).bind(id).fetch_optional(&mut *connection).await?.is_none() {
        return Ok(None);
    }
    find(connection, id).await
}

/// Filters of the request list.
#[derive(Debug, Default)]
pub struct ListFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this developer.
    pub developer_id: Option<i64>,
    /// Only requests past their due date on this day.
    pub overdue_on: Option<String>,
    /// Only requests whose number or developer code is this text (any case).
    pub search: Option<String>,
    /// Ids below this (keyset pagination, newest first).
    pub before_id: i64,
    /// Page size.
    pub limit: i64,
}

/// Requests matching the filter, newest first.
///
/// # Errors
/// A database fault.
pub async fn list(pool: &AnyPool, filter: &ListFilter) -> sqlx::Result<Vec<RequestRow>> {
    let mut sql = format!("{REQUEST_COLUMNS} WHERE r.id < $1");
    let mut next = 2;
    if filter.status.is_some() {
        sql.push_str(&format!(" AND r.status = ${next}"));
        next += 1;
    }
    if filter.developer_id.is_some() {
        sql.push_str(&format!(" AND r.developer_id = ${next}"));
        next += 1;
    }
    if filter.overdue_on.is_some() {
        sql.push_str(&format!(" AND r.due_on IS NOT NULL AND r.due_on < ${next}"));
        next += 1;
    }
    if filter.search.is_some() {
        sql.push_str(&format!(" AND (r.number = ${next} OR d.code = ${next})"));
        next += 1;
    }
    sql.push_str(&format!(" ORDER BY r.id DESC LIMIT ${next}"));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(filter.before_id);
    if let Some(status) = &filter.status {
        query = query.bind(status.clone());
    }
    if let Some(developer_id) = filter.developer_id {
        query = query.bind(developer_id);
    }
    if let Some(day) = &filter.overdue_on {
        query = query.bind(day.clone());
    }
    if let Some(text) = &filter.search {
        query = query.bind(text.trim().to_uppercase());
    }
    let rows = query.bind(filter.limit).fetch_all(pool).await?;
    rows.iter().map(request_from_row).collect()
}

/// A page of the staff queue.
#[derive(Debug, Clone, Copy)]
pub struct DueQueue<'a> {
    /// Only this status.
    pub status: Option<&'a str>,
    /// Only this request number or developer code.
    pub search: Option<&'a str>,
    /// Only requests due before this day (overdue on it).
    pub due_before: Option<&'a str>,
    /// After this `(due_on, id)` (keyset pagination).
    pub after: Option<(&'a str, i64)>,
    /// Page size.
    pub limit: i64,
}

/// Open requests that have a due date, soonest (most overdue) first, after
/// the `(due_on, id)` cursor. Closed requests have no due date; neither has a
/// request waiting for the developer's information ([`undated_open`]).
///
/// # Errors
/// A database fault.
pub async fn due_queue(pool: &AnyPool, queue: &DueQueue<'_>) -> sqlx::Result<Vec<RequestRow>> {
    let DueQueue { status, search, due_before, after, limit } = *queue;
    let mut sql = format!("{REQUEST_COLUMNS} WHERE r.due_on IS NOT NULL");
    let mut next = 1;
    if due_before.is_some() {
        sql.push_str(&format!(" AND r.due_on < ${next}"));
        next += 1;
    }
    if status.is_some() {
        sql.push_str(&format!(" AND r.status = ${next}"));
        next += 1;
    }
    if search.is_some() {
        sql.push_str(&format!(" AND (r.number = ${next} OR d.code = ${next})"));
        next += 1;
    }
    if after.is_some() {
        sql.push_str(&format!(" AND (r.due_on > ${next} OR (r.due_on = ${next} AND r.id > ${}))", next + 1));
        next += 2;
    }
    sql.push_str(&format!(" ORDER BY r.due_on, r.id LIMIT ${next}"));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(day) = due_before {
        query = query.bind(day.to_owned());
    }
    if let Some(status) = status {
        query = query.bind(status.to_owned());
    }
    if let Some(text) = search {
        query = query.bind(text.trim().to_uppercase());
    }
    if let Some((due, id)) = after {
        query = query.bind(due.to_owned()).bind(id);
    }
    let rows = query.bind(limit).fetch_all(pool).await?;
    rows.iter().map(request_from_row).collect()
}

/// Open requests without a due date (waiting for the developer's
/// information), oldest first, after `after_id`; the end of the staff queue.
///
/// # Errors
/// A database fault.
pub async fn undated_open(
    pool: &AnyPool,
    status: Option<&str>,
    search: Option<&str>,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<RequestRow>> {
    let open: Vec<String> =
        Status::ALL.iter().filter(|s| s.owner().is_some()).map(|s| format!("'{}'", s.as_str())).collect();
    let mut sql =
        format!("{REQUEST_COLUMNS} WHERE r.due_on IS NULL AND r.status IN ({}) AND r.id > $1", open.join(", "));
    let mut next = 2;
    if status.is_some() {
        sql.push_str(&format!(" AND r.status = ${next}"));
        next += 1;
    }
    if search.is_some() {
        sql.push_str(&format!(" AND (r.number = ${next} OR d.code = ${next})"));
        next += 1;
    }
    sql.push_str(&format!(" ORDER BY r.id LIMIT ${next}"));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after_id);
    if let Some(status) = status {
        query = query.bind(status.to_owned());
    }
    if let Some(text) = search {
        query = query.bind(text.trim().to_uppercase());
    }
    let rows = query.bind(limit).fetch_all(pool).await?;
    rows.iter().map(request_from_row).collect()
}

/// Ids of quoted requests whose current quotation's valid-until is before `today`.
///
/// # Errors
/// A database fault.
pub async fn quoted_past(pool: &AnyPool, today: &str, limit: i64) -> sqlx::Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT r.id FROM quota_requests r JOIN quotations q ON q.request_id = r.id AND q.superseded = 0
         WHERE r.status = 'quoted' AND q.valid_until < $1 ORDER BY r.id LIMIT $2",
    )
    .bind(today)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}

/// Inserts a request and returns its id.
///
/// # Errors
/// A database fault.
pub async fn insert_request(
    connection: &mut AnyConnection,
    number: &str,
    developer_id: i64,
    note: &str,
    actor: &str,
    due_on: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO quota_requests (number, developer_id, status, note, created_by, created_at, updated_at, due_on)
         VALUES ($1, $2, 'submitted', $3, $4, $5, $5, $6) RETURNING id",
    )
    .bind(number)
    .bind(developer_id)
    .bind(note)
    .bind(actor)
    .bind(now_ms)
    .bind(due_on)
    .fetch_one(connection)
    .await?
    .try_get(0)
}

/// Replaces the lines of a request.
///
/// # Errors
/// A database fault.
pub async fn replace_lines(
    connection: &mut AnyConnection,
    request_id: i64,
    lines: &[(String, i64)],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM quota_request_lines WHERE request_id = $1")
        .bind(request_id)
        .execute(&mut *connection)
        .await?;
    for (product, units) in lines {
        sqlx::query("INSERT INTO quota_request_lines (request_id, product_code, units) VALUES ($1, $2, $3)")
            .bind(request_id)
            .bind(product)
            .bind(*units)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// The lines of a request, by product.
///
/// # Errors
/// A database fault.
pub async fn lines(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<Vec<(String, i64)>> {
    let rows =
        sqlx::query("SELECT product_code, units FROM quota_request_lines WHERE request_id = $1 ORDER BY product_code")
            .bind(request_id)
            .fetch_all(connection)
            .await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// Moves a request from `from` to `to`; false when it was no longer in `from`.
///
/// # Errors
/// A database fault.
pub async fn set_status(
    connection: &mut AnyConnection,
    id: i64,
    from: Status,
    to: Status,
    due_on: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE quota_requests SET status = $1, due_on = $2, updated_at = $3 WHERE id = $4 AND status = $5",
    )
    .bind(to.as_str())
    .bind(due_on)
    .bind(now_ms)
    .bind(id)
    .bind(from.as_str())
    .execute(connection)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A timeline event.
pub struct NewEvent<'a> {
    /// Request.
    pub request_id: i64,
    /// What happened.
    pub action: &'a str,
    /// Status before (none at submission).
    pub from: Option<&'a str>,
    /// Status after.
    pub to: &'a str,
    /// Who.
    pub actor: &'a str,
    /// A message or reason.
    pub message: Option<&'a str>,
    /// Due date of the status entered.
    pub due_on: Option<&'a str>,
    /// When.
    pub at_ms: i64,
}

/// Records a timeline event.
///
/// # Errors
/// A database fault.
pub async fn insert_event(connection: &mut AnyConnection, event: &NewEvent<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO quota_request_events (request_id, action, from_status, to_status, actor, message, due_on, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(event.request_id)
    .bind(event.action)
    .bind(event.from)
    .bind(event.to)
    .bind(event.actor)
    .bind(event.message)
    .bind(event.due_on)
    .bind(event.at_ms)
    .execute(connection)
    .await?;
    Ok(())
}

/// One stored timeline event.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// What happened.
    pub action: String,
    /// Status before.
    pub from: Option<String>,
    /// Status after.
    pub to: String,
    /// Who.
    pub actor: String,
    /// Message or reason.
    pub message: Option<String>,
    /// Due date of the status entered.
    pub due_on: Option<String>,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// The timeline of a request, oldest first.
///
/// # Errors
/// A database fault.
pub async fn events(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<Vec<EventRow>> {
    let rows = sqlx::query(
        "SELECT action, from_status, to_status, actor, message, due_on, created_at FROM quota_request_events WHERE request_id = $1 ORDER BY id",
    )
    .bind(request_id)
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(EventRow {
                action: row.try_get(0)?,
                from: row.try_get(1)?,
                to: row.try_get(2)?,
                actor: row.try_get(3)?,
                message: row.try_get(4)?,
                due_on: row.try_get(5)?,
                at_ms: row.try_get(6)?,
            })
        })
        .collect()
}

/// Stores a quotation revision (superseding earlier ones) and its lines.
///
/// # Errors
/// A database fault.
pub async fn insert_quotation(
    connection: &mut AnyConnection,
    request_id: i64,
    number: &str,
    pricing: &Pricing,
    issued_on: &str,
    valid_until: &str,
    now_ms: i64,
) -> sqlx::Result<i64> {
    sqlx::query("UPDATE quotations SET superseded = 1 WHERE request_id = $1")
        .bind(request_id)
        .execute(&mut *connection)
        .await?;
    let revision: i64 = sqlx::query("SELECT COUNT(*) FROM quotations WHERE request_id = $1")
        .bind(request_id)
        .fetch_one(&mut *connection)
        .await?
        .try_get::<i64, _>(0)?
        + 1;
    let id: i64 = sqlx::query(
        "INSERT INTO quotations (request_id, number, revision, subtotal_sen, discount_bp, discount_sen, tax_bp, tax_sen, total_sen, issued_on, valid_until, superseded, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12) RETURNING id",
    )
    .bind(request_id)
    .bind(number)
    .bind(revision)
    .bind(pricing.subtotal.get())
    .bind(pricing.discount_rate.get())
    .bind(pricing.discount.get())
    .bind(pricing.tax_rate.get())
    .bind(pricing.tax.get())
    .bind(pricing.total.get())
    .bind(issued_on)
    .bind(valid_until)
    .bind(now_ms)
    .fetch_one(&mut *connection)
    .await?
    .try_get(0)?;
    for line in &pricing.lines {
        sqlx::query("INSERT INTO quotation_lines (quotation_id, product_code, units, unit_price_sen, amount_sen) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(&line.product)
            .bind(line.units)
            .bind(line.unit_price.get())
            .bind(line.amount.get())
            .execute(&mut *connection)
            .await?;
    }
    Ok(id)
}

/// A stored quotation.
#[derive(Debug, Clone)]
pub struct QuotationRow {
    /// Id.
    pub id: i64,
    /// `QT-2026-000001`.
    pub number: String,
    /// 1, 2, …
    pub revision: i64,
    /// Sum of the line amounts.
    pub subtotal: Sen,
    /// Discount rate.
    pub discount_rate: BasisPoints,
    /// Discount amount.
    pub discount: Sen,
    /// SST rate.
    pub tax_rate: BasisPoints,
    /// SST amount.
    pub tax: Sen,
    /// What the developer pays.
    pub total: Sen,
    /// Issued on.
    pub issued_on: Date,
    /// Valid until (inclusive).
    pub valid_until: Date,
    /// Replaced by a later revision.
    pub superseded: bool,
    /// Its lines, by product code.
    pub lines: Vec<QuotationLine>,
}

/// One line of a stored quotation (or of a note priced at it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuotationLine {
    /// Product code.
    pub product: String,
    /// Units.
    pub units: i64,
    /// Unit price on the quotation's date.
    pub unit_price: Sen,
    /// units × unit price.
    pub amount: Sen,
}

/// A stored amount in sen, read back; out of range is a decoding fault.
fn sen(value: i64) -> sqlx::Result<Sen> {
    Sen::new(value).map_err(|e| sqlx::Error::Decode(format!("stored amount {value}: {e}").into()))
}

/// A stored rate in basis points, read back.
fn rate(value: i64) -> sqlx::Result<BasisPoints> {
    BasisPoints::new(value).map_err(|e| sqlx::Error::Decode(format!("stored rate {value}: {e}").into()))
}

/// A stored `YYYY-MM-DD`, read back.
fn date(text: &str) -> sqlx::Result<Date> {
    text.parse().map_err(|e| sqlx::Error::Decode(format!("stored date {text:?}: {e}").into()))
}

/// The quotations of a request, oldest first.
///
/// # Errors
/// A database fault.
pub async fn quotations(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<Vec<QuotationRow>> {
    let rows = sqlx::query(
        "SELECT id, number, revision, subtotal_sen, discount_bp, discount_sen, tax_bp, tax_sen, total_sen, issued_on, valid_until, superseded
         FROM quotations WHERE request_id = $1 ORDER BY revision",
    )
    .bind(request_id)
    .fetch_all(&mut *connection)
    .await?;
    // Every quotation's lines in one more query, whatever the number of revisions.
    let line_rows = sqlx::query(
        "SELECT l.quotation_id, l.product_code, l.units, l.unit_price_sen, l.amount_sen
         FROM quotation_lines l JOIN quotations q ON q.id = l.quotation_id
         WHERE q.request_id = $1 ORDER BY l.quotation_id, l.product_code",
    )
    .bind(request_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut lines_of: std::collections::HashMap<i64, Vec<QuotationLine>> = std::collections::HashMap::new();
    for line in &line_rows {
        let entry = QuotationLine {
            product: line.try_get(1)?,
            units: line.try_get(2)?,
            unit_price: sen(line.try_get(3)?)?,
            amount: sen(line.try_get(4)?)?,
        };
        lines_of.entry(line.try_get(0)?).or_default().push(entry);
    }
    let mut quotations = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        quotations.push(QuotationRow {
            id,
            number: row.try_get(1)?,
            revision: row.try_get(2)?,
            subtotal: sen(row.try_get(3)?)?,
            discount_rate: rate(row.try_get(4)?)?,
            discount: sen(row.try_get(5)?)?,
            tax_rate: rate(row.try_get(6)?)?,
            tax: sen(row.try_get(7)?)?,
            total: sen(row.try_get(8)?)?,
            issued_on: date(&row.try_get::<String, _>(9)?)?,
            valid_until: date(&row.try_get::<String, _>(10)?)?,
            superseded: row.try_get::<i64, _>(11)? == 1,
            lines: lines_of.remove(&id).unwrap_or_default(),
        });
    }
    Ok(quotations)
}

/// The quotation an invoice is for: the one its approved payment paid (an
/// online payment credited late may have paid an earlier revision), else the
/// one in force.
///
/// # Errors
/// A database fault.
pub async fn invoiced_quotation(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<Option<QuotationRow>> {
    let approved = super::payment::PaymentStatus::Approved;
    let paid = payments(connection, request_id).await?.into_iter().rfind(|p| p.status == approved);
    let all = quotations(connection, request_id).await?;
    Ok(match paid {
        Some(payment) => all.into_iter().find(|q| q.id == payment.quotation_id),
        None => all.into_iter().rfind(|q| !q.superseded),
    })
}

/// The request's quotation in force (the latest revision).
///
/// # Errors
/// A database fault.
pub async fn current_quotation(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<Option<QuotationRow>> {
    Ok(quotations(connection, request_id).await?.into_iter().rfind(|q| !q.superseded))
}

/// A stored payment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PaymentRow {
    /// Id.
    pub id: i64,
    /// Request.
    #[serde(skip)]
    pub request_id: i64,
    /// How it was paid.
    pub method: super::payment::Method,
    /// PO number or transfer reference.
    pub reference: String,
    /// Amount.
    pub amount: Sen,
    /// `YYYY-MM-DD`.
    pub paid_on: String,
    /// Where it stands.
    pub status: super::payment::PaymentStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// SHA-256 of the uploaded document (its blob key).
    pub document_sha256: String,
    /// `application/pdf`, `image/png` or `image/jpeg` (`application/json`:
    /// the gateway's record of an online payment).
    pub document_type: String,
    /// The quotation paid.
    #[serde(skip)]
    pub quotation_id: i64,
}

/// A stored name read back as its enum; an unknown one is a decoding fault.
fn decoded<T>(text: String, parse: impl Fn(&str) -> Option<T>) -> sqlx::Result<T> {
    parse(&text).ok_or_else(|| sqlx::Error::Decode(format!("unknown stored value {text:?}").into()))
}

fn payment_from_row(row: &AnyRow) -> sqlx::Result<PaymentRow> {
    Ok(PaymentRow {
        id: row.try_get(0)?,
        request_id: row.try_get(1)?,
        method: decoded(row.try_get::<String, _>(2)?, super::payment::Method::parse_stored)?,
        reference: row.try_get(3)?,
        amount: Sen::new(row.try_get(4)?).unwrap_or_default(),
        paid_on: row.try_get(5)?,
        status: decoded(row.try_get::<String, _>(6)?, super::payment::PaymentStatus::parse)?,
        reason: row.try_get(7)?,
        document_sha256: row.try_get(8)?,
        document_type: row.try_get(9)?,
        quotation_id: row.try_get(10)?,
    })
}

const PAYMENT_COLUMNS: &str = "SELECT id, request_id, method, reference, amount_sen, paid_on, status, reason, document_sha256, document_type, quotation_id FROM payments";

/// The payments of a request, oldest first.
///
/// # Errors
/// A database fault.
pub async fn payments(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<Vec<PaymentRow>> {
    let sql = format!("{PAYMENT_COLUMNS} WHERE request_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(request_id).fetch_all(connection).await?;
    rows.iter().map(payment_from_row).collect()
}

/// The payment with this id.
///
/// # Errors
/// A database fault.
pub async fn find_payment(connection: &mut AnyConnection, id: i64) -> sqlx::Result<Option<PaymentRow>> {
    let sql = format!("{PAYMENT_COLUMNS} WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(connection).await?;
    row.as_ref().map(payment_from_row).transpose()
}

/// Ends a submitted payment; false when it was no longer submitted.
///
/// # Errors
/// A database fault.
pub async fn decide_payment(
    connection: &mut AnyConnection,
    id: i64,
    status: super::payment::PaymentStatus,
    reason: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE payments SET status = $1, reason = $2, decided_at = $3 WHERE id = $4 AND status = 'submitted'",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(now_ms)
    .bind(id)
    .execute(connection)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A payment to store.
pub struct NewPayment<'a> {
    /// The request paid for.
    pub request_id: i64,
    /// Its developer (references and documents are unique per developer).
    pub developer_id: i64,
    /// The quotation paid.
    pub quotation_id: i64,
    /// How.
    pub method: super::payment::Method,
    /// PO number or transfer reference.
    pub reference: &'a str,
    /// Amount.
    pub amount: Sen,
    /// When paid.
    pub paid_on: jiff::civil::Date,
    /// SHA-256 of the proof (its blob key).
    pub document_sha256: &'a str,
    /// Its media type.
    pub document_type: &'static str,
    /// Who submitted it.
    pub submitted_by: &'a str,
    /// Now, Unix ms.
    pub now_ms: i64,
}

/// Stores a submitted payment; returns its id.
///
/// # Errors
/// A unique violation when the document, or method and reference, was
/// submitted before; a database fault.
pub async fn insert_payment(connection: &mut AnyConnection, payment: &NewPayment<'_>) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO payments (request_id, quotation_id, method, reference, amount_sen, paid_on, document_sha256, document_type, status, submitted_by, created_at, developer_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'submitted', $9, $10, $11) RETURNING id",
    )
    .bind(payment.request_id)
    .bind(payment.quotation_id)
    .bind(payment.method.as_str())
    .bind(payment.reference)
    .bind(payment.amount.get())
    .bind(payment.paid_on.to_string())
    .bind(payment.document_sha256)
    .bind(payment.document_type)
    .bind(payment.submitted_by)
    .bind(payment.now_ms)
    .bind(payment.developer_id)
    .fetch_one(connection)
    .await?
    .try_get(0)
}

/// Bumps the counter of document numbers with this prefix in `year`
/// (starting it at 1) and returns the new value.
///
/// # Errors
/// A database fault.
pub async fn bump_document_sequence(connection: &mut AnyConnection, prefix: &str, year: i64) -> sqlx::Result<i64> {
    let row = sqlx::query(
        "INSERT INTO document_sequences (kind, year, last_value) VALUES ($1, $2, 1)
         ON CONFLICT (kind, year) DO UPDATE SET last_value = document_sequences.last_value + 1
         RETURNING last_value",
    )
    .bind(prefix)
    .bind(year)
    .fetch_one(connection)
    .await?;
    row.try_get(0)
}

/// Open quota requests past their step's due date (before `today`,
/// `YYYY-MM-DD`), counted by status.
///
/// # Errors
/// A database fault.
pub async fn overdue_by_status(connection: &mut AnyConnection, today: &str) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT status, COUNT(*) FROM quota_requests WHERE due_on IS NOT NULL AND due_on < $1 GROUP BY status ORDER BY status",
    )
    .bind(today)
    .fetch_all(connection)
    .await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// How many payments wait for retail's review, and when the oldest came (metrics).
///
/// # Errors
/// A database fault.
pub async fn payments_awaiting_review(connection: &mut AnyConnection) -> sqlx::Result<(i64, Option<i64>)> {
    let row = sqlx::query("SELECT COUNT(*), MIN(created_at) FROM payments WHERE status = 'submitted'")
        .fetch_one(connection)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}
