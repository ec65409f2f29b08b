//! SQL for online bills, the gateway's events and reconciliation runs.

use sqlx::{AnyConnection, Row};

use crate::money::Sen;

/// Where an online bill stands (see migration 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillStatus {
    /// Due at the gateway.
    Pending,
    /// Paid and credited here.
    Credited,
    /// Paid, but for a quotation no longer in force or another amount.
    NeedsDecision,
    /// Paid, and retail decided the money goes back.
    Refund,
    /// Withdrawn when its request or quotation ended (may still be paid).
    Deleted,
}

impl BillStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Credited => "credited",
            Self::NeedsDecision => "needs_decision",
            Self::Refund => "refund",
            Self::Deleted => "deleted",
        }
    }

    /// The status with this stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Credited, Self::NeedsDecision, Self::Refund, Self::Deleted]
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// True while a payment at the gateway would still change something here.
    #[must_use]
    pub fn awaits_payment(self) -> bool {
        matches!(self, Self::Pending | Self::Deleted)
    }
}

/// A stored online bill.
#[derive(Debug, Clone)]
pub struct BillRow {
    /// Our id.
    pub id: i64,
    /// The gateway's bill id.
    pub bill_id: String,
    /// The request it pays for.
    pub request_id: i64,
    /// Its number.
    pub request_number: String,
    /// The quotation it pays.
    pub quotation_id: i64,
    /// That quotation's number.
    pub quotation_number: String,
    /// The company.
    pub developer_id: i64,
    /// Its code.
    pub developer_code: String,
    /// Amount asked.
    pub amount: Sen,
    /// The payment page.
    pub url: String,
    /// Where it stands.
    pub status: BillStatus,
    /// Amount paid, once paid.
    pub paid_amount: Option<Sen>,
    /// When paid, as the gateway wrote it.
    pub paid_at: Option<String>,
    /// Why a paid bill waits for a decision.
    pub problem: Option<String>,
    /// The payment recorded for it, once credited.
    pub payment_id: Option<i64>,
    /// Who decided a late payment, and why (a refund's reason).
    pub decided_by: Option<String>,
    /// The refund's reason.
    pub decision_reason: Option<String>,
}

const BILL_COLUMNS: &str = "SELECT b.id, b.bill_id, b.request_id, r.number, b.quotation_id, q.number, b.developer_id,
     d.code, b.amount_sen, b.url, b.status, b.paid_amount_sen, b.paid_at, b.problem, b.payment_id, b.decided_by,
     b.decision_reason
     FROM online_bills b JOIN quota_requests r ON r.id = b.request_id JOIN quotations q ON q.id = b.quotation_id
     JOIN developers d ON d.id = b.developer_id";

fn bill_of(row: &sqlx::any::AnyRow) -> sqlx::Result<BillRow> {
    let status: String = row.try_get(10)?;
    let paid: Option<i64> = row.try_get(11)?;
    Ok(BillRow {
        id: row.try_get(0)?,
        bill_id: row.try_get(1)?,
        request_id: row.try_get(2)?,
        request_number: row.try_get(3)?,
        quotation_id: row.try_get(4)?,
        quotation_number: row.try_get(5)?,
        developer_id: row.try_get(6)?,
        developer_code: row.try_get(7)?,
        amount: Sen::new(row.try_get(8)?).unwrap_or_default(),
        url: row.try_get(9)?,
        status: BillStatus::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown bill status {status:?}").into()))?,
        paid_amount: paid.and_then(|sen| Sen::new(sen).ok()),
        paid_at: row.try_get(12)?,
        problem: row.try_get(13)?,
        payment_id: row.try_get(14)?,
        decided_by: row.try_get(15)?,
        decision_reason: row.try_get(16)?,
    })
}

async fn bills_where(connection: &mut AnyConnection, condition: &str, bind: i64) -> sqlx::Result<Vec<BillRow>> {
    let sql = format!("{BILL_COLUMNS} WHERE {condition} ORDER BY b.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(bind).fetch_all(connection).await?;
    rows.iter().map(bill_of).collect()
}

/// The bill with this gateway id.
///
/// # Errors
/// A database fault.
pub async fn find_by_bill_id(connection: &mut AnyConnection, bill_id: &str) -> sqlx::Result<Option<BillRow>> {
    let sql = format!("{BILL_COLUMNS} WHERE b.bill_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(bill_id).fetch_optional(connection).await?;
    row.as_ref().map(bill_of).transpose()
}

/// The bill with this id.
///
/// # Errors
/// A database fault.
pub async fn find(connection: &mut AnyConnection, id: i64) -> sqlx::Result<Option<BillRow>> {
    Ok(bills_where(connection, "b.id = $1", id).await?.pop())
}

/// The bills of a request, oldest first.
///
/// # Errors
/// A database fault.
pub async fn for_request(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<Vec<BillRow>> {
    bills_where(connection, "b.request_id = $1", request_id).await
}

/// The bills with this status, oldest first (at most 500).
///
/// # Errors
/// A database fault.
pub async fn with_status(connection: &mut AnyConnection, status: BillStatus) -> sqlx::Result<Vec<BillRow>> {
    let sql = format!("{BILL_COLUMNS} WHERE b.status = $1 ORDER BY b.id LIMIT 500");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(status.as_str()).fetch_all(connection).await?;
    rows.iter().map(bill_of).collect()
}

/// Bills reconciliation asks the gateway about: every pending one, every
/// one changed since `since_ms`, and every withdrawn one changed since
/// `withdrawn_since_ms` (still payable at the gateway until it expires).
///
/// # Errors
/// A database fault.
pub async fn to_reconcile(
    connection: &mut AnyConnection,
    since_ms: i64,
    withdrawn_since_ms: i64,
) -> sqlx::Result<Vec<BillRow>> {
    let sql = format!(
        "{BILL_COLUMNS} WHERE b.status = 'pending' OR b.updated_at >= $1 OR (b.status = 'deleted' AND b.updated_at >= $2)
         ORDER BY b.id"
    );
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since_ms).bind(withdrawn_since_ms).fetch_all(connection).await?;
    rows.iter().map(bill_of).collect()
}

/// A bill to store.
pub struct NewBill<'a> {
    /// The gateway's id.
    pub bill_id: &'a str,
    /// Request, quotation and company.
    pub request_id: i64,
    /// The quotation paid.
    pub quotation_id: i64,
    /// The company.
    pub developer_id: i64,
    /// Amount asked.
    pub amount: Sen,
    /// The payment page.
    pub url: &'a str,
    /// Who asked for it.
    pub created_by: &'a str,
    /// Now, Unix ms.
    pub now_ms: i64,
}

/// Stores a new pending bill; returns its id.
///
/// # Errors
/// A unique violation when the quotation has a pending bill already; a
/// database fault.
pub async fn insert(connection: &mut AnyConnection, bill: &NewBill<'_>) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO online_bills (provider, bill_id, request_id, quotation_id, developer_id, amount_sen, url, status, created_by, created_at, updated_at)
         VALUES ('billplz', $1, $2, $3, $4, $5, $6, 'pending', $7, $8, $8) RETURNING id",
    )
    .bind(bill.bill_id)
    .bind(bill.request_id)
    .bind(bill.quotation_id)
    .bind(bill.developer_id)
    .bind(bill.amount.get())
    .bind(bill.url)
    .bind(bill.created_by)
    .bind(bill.now_ms)
    .fetch_one(connection)
    .await?
    .try_get(0)
}

/// What a paid bill became.
pub struct Paid<'a> {
    /// `credited` or `needs_decision`.
    pub status: BillStatus,
    /// Amount paid.
    pub paid_amount: Sen,
    /// When paid.
    pub paid_at: Option<&'a str>,
    /// Why it waits for a decision.
    pub problem: Option<&'a str>,
    /// The payment recorded, when credited.
    pub payment_id: Option<i64>,
}

/// Records a payment on a bill that still awaited one; false when another
/// caller recorded it first (the single-credit guard).
///
/// # Errors
/// A database fault.
pub async fn mark_paid(connection: &mut AnyConnection, id: i64, paid: &Paid<'_>, now_ms: i64) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE online_bills SET status = $1, paid_amount_sen = $2, paid_at = $3, problem = $4, payment_id = $5, updated_at = $6
         WHERE id = $7 AND status IN ('pending', 'deleted')",
    )
    .bind(paid.status.as_str())
    .bind(paid.paid_amount.get())
    .bind(paid.paid_at)
    .bind(paid.problem)
    .bind(paid.payment_id)
    .bind(now_ms)
    .bind(id)
    .execute(connection)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Retail's decision on a paid bill that waited for one: credited (with its
/// payment) or refund (with a reason); false when it no longer waited.
///
/// # Errors
/// A database fault.
pub async fn decide(
    connection: &mut AnyConnection,
    id: i64,
    decision: (BillStatus, Option<i64>, Option<&str>),
    decided_by: &str,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let (status, payment_id, reason) = decision;
    let result = sqlx::query(
        "UPDATE online_bills SET status = $1, payment_id = $2, decision_reason = $3, decided_by = $4, updated_at = $5
         WHERE id = $6 AND status = 'needs_decision'",
    )
    .bind(status.as_str())
    .bind(payment_id)
    .bind(reason)
    .bind(decided_by)
    .bind(now_ms)
    .bind(id)
    .execute(connection)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks a request's pending bills deleted; returns their gateway ids (to
/// delete at the gateway after COMMIT).
///
/// # Errors
/// A database fault.
pub async fn withdraw_pending(
    connection: &mut AnyConnection,
    request_id: i64,
    now_ms: i64,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query(
        "UPDATE online_bills SET status = 'deleted', updated_at = $1 WHERE request_id = $2 AND status = 'pending' RETURNING bill_id",
    )
    .bind(now_ms)
    .bind(request_id)
    .fetch_all(connection)
    .await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}

/// Stores one event the gateway sent (or a bill read back), as received.
///
/// # Errors
/// A database fault.
pub async fn insert_event(
    connection: &mut AnyConnection,
    bill_id: &str,
    kind: &str,
    body: &str,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO gateway_events (provider, bill_id, kind, body, received_at) VALUES ('billplz', $1, $2, $3, $4)",
    )
    .bind(bill_id)
    .bind(kind)
    .bind(body)
    .bind(now_ms)
    .execute(connection)
    .await?;
    Ok(())
}

/// Stores a reconciliation run.
///
/// # Errors
/// A database fault.
pub async fn insert_reconciliation(
    connection: &mut AnyConnection,
    ran_at_ms: i64,
    checked: i64,
    findings: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO gateway_reconciliations (ran_at, checked, findings) VALUES ($1, $2, $3)")
        .bind(ran_at_ms)
        .bind(checked)
        .bind(findings)
        .execute(connection)
        .await?;
    Ok(())
}

/// The latest reconciliation run: when, how many bills, its findings (JSON).
///
/// # Errors
/// A database fault.
pub async fn latest_reconciliation(connection: &mut AnyConnection) -> sqlx::Result<Option<(i64, i64, String)>> {
    let row = sqlx::query("SELECT ran_at, checked, findings FROM gateway_reconciliations ORDER BY id DESC LIMIT 1")
        .fetch_optional(connection)
        .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))).transpose()
}

/// How many bills have `status`, and when the oldest was made (metrics).
///
/// # Errors
/// A database fault.
pub async fn backlog(connection: &mut AnyConnection, status: &str) -> sqlx::Result<(i64, Option<i64>)> {
    let row = sqlx::query("SELECT COUNT(*), MIN(created_at) FROM online_bills WHERE status = $1")
        .bind(status)
        .fetch_one(connection)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}
