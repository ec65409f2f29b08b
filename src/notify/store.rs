//! SQL for e-mail: the outbox, the marks that a reminder was announced, and
//! the addresses of recipients.

use sqlx::{AnyConnection, AnyPool, Row};

/// One message for one recipient, to write to the outbox.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage<'a> {
    /// The message kind's name.
    pub kind: &'a str,
    /// Recipient address.
    pub recipient: &'a str,
    /// Language code.
    pub language: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// Plain-text body.
    pub body_text: &'a str,
    /// HTML body.
    pub body_html: &'a str,
    /// The fixed Message-ID.
    pub message_id: &'a str,
    /// The request it is about.
    pub request_id: Option<i64>,
    /// Attachment references, JSON.
    pub attachments: &'a str,
    /// The password link to make at send time, JSON.
    pub password_link: Option<&'a str>,
}

/// Writes one message to the outbox, due at once.
///
/// # Errors
/// A database fault.
pub async fn insert_outbox(
    connection: &mut AnyConnection,
    message: &NewOutboxMessage<'_>,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO outbox (kind, recipient, language, subject, body_text, body_html, message_id, request_id,
                             attachments, created_at, next_attempt_at, password_link)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
    )
    .bind(message.kind)
    .bind(message.recipient)
    .bind(message.language)
    .bind(message.subject)
    .bind(message.body_text)
    .bind(message.body_html)
    .bind(message.message_id)
    .bind(message.request_id)
    .bind(message.attachments)
    .bind(now_ms)
    .bind(message.password_link)
    .execute(connection)
    .await?;
    Ok(())
}

/// An outbox message claimed for sending.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    /// Id.
    pub id: i64,
    /// Recipient address.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: String,
    /// The fixed Message-ID.
    pub message_id: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// Written, Unix ms.
    pub created_at_ms: i64,
    /// Attachment references, JSON.
    pub attachments: String,
    /// The password link to make at send time, JSON.
    pub password_link: Option<String>,
}

/// Claims the oldest due message until `claimed_until_ms` and counts the
/// attempt; `None` when no message is due (or another node took it).
///
/// # Errors
/// A database fault.
pub async fn claim_next_outbox(
    pool: &AnyPool,
    claimed_until_ms: i64,
    now_ms: i64,
) -> sqlx::Result<Option<ClaimedMessage>> {
    let row = sqlx::query(
        "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1
         WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2
                     AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY id LIMIT 1)
           AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < $2)
         RETURNING id, recipient, subject, body_text, body_html, message_id, attempts, created_at, attachments, password_link",
    )
    .bind(claimed_until_ms)
    .bind(now_ms)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(ClaimedMessage {
            id: row.try_get(0)?,
            recipient: row.try_get(1)?,
            subject: row.try_get(2)?,
            body_text: row.try_get(3)?,
            body_html: row.try_get(4)?,
            message_id: row.try_get(5)?,
            attempts: row.try_get(6)?,
            created_at_ms: row.try_get(7)?,
            attachments: row.try_get(8)?,
            password_link: row.try_get(9)?,
        })
    })
    .transpose()
}

/// Marks a message sent (unless it already is) and releases its claim.
///
/// # Errors
/// A database fault.
pub async fn mark_outbox_sent(pool: &AnyPool, id: i64, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET sent_at = $1, claimed_until = NULL, last_error = NULL WHERE id = $2 AND sent_at IS NULL",
    )
    .bind(now_ms)
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a message failed for good, only while the claim `claim_ms` is
/// still its own.
///
/// # Errors
/// A database fault.
pub async fn mark_outbox_failed(pool: &AnyPool, id: i64, claim_ms: i64, error: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET failed_at = $1, claimed_until = NULL, last_error = $2 WHERE id = $3 AND claimed_until = $4",
    )
    .bind(now_ms)
    .bind(error)
    .bind(id)
    .bind(claim_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// Schedules another attempt at a message, only while the claim `claim_ms`
/// is still its own.
///
/// # Errors
/// A database fault.
pub async fn reschedule_outbox(
    pool: &AnyPool,
    id: i64,
    claim_ms: i64,
    error: &str,
    next_attempt_at_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, claimed_until = NULL, last_error = $2 WHERE id = $3 AND claimed_until = $4",
    )
    .bind(next_attempt_at_ms)
    .bind(error)
    .bind(id)
    .bind(claim_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// The e-mail and language code of each user of a developer company, oldest
/// first.
///
/// # Errors
/// A database fault.
pub async fn developer_user_addresses(
    connection: &mut AnyConnection,
    developer_id: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT email, language FROM users WHERE developer_id = $1 ORDER BY id")
        .bind(developer_id)
        .fetch_all(connection)
        .await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// A developer company's contact e-mail, `None` when there is no such
/// developer.
///
/// # Errors
/// A database fault.
pub async fn developer_contact_email(
    connection: &mut AnyConnection,
    developer_id: i64,
) -> sqlx::Result<Option<String>> {
    let row =
        sqlx::query("SELECT email FROM developers WHERE id = $1").bind(developer_id).fetch_optional(connection).await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// A current quotation close to its valid-until date, not yet warned of.
#[derive(Debug, Clone)]
pub struct ExpiringQuotation {
    /// The quotation's id.
    pub quotation_id: i64,
    /// Its number.
    pub quotation_number: String,
    /// Valid until, `YYYY-MM-DD`.
    pub valid_until: String,
    /// The request's id.
    pub request_id: i64,
    /// The request's number.
    pub request_number: String,
    /// The developer's id.
    pub developer_id: i64,
    /// The developer's code.
    pub developer_code: String,
}

/// Current quotations of quoted requests, not yet warned of, valid until a
/// day from `from` to `to` (`YYYY-MM-DD`), oldest first, at most `limit`.
///
/// # Errors
/// A database fault.
pub async fn expiring_quotations(
    pool: &AnyPool,
    from: &str,
    to: &str,
    limit: i64,
) -> sqlx::Result<Vec<ExpiringQuotation>> {
    let rows = sqlx::query(
        "SELECT q.id, q.number, q.valid_until, r.id, r.number, r.developer_id, d.code
         FROM quotations q JOIN quota_requests r ON r.id = q.request_id JOIN developers d ON d.id = r.developer_id
         WHERE r.status = 'quoted' AND q.superseded = 0 AND q.expiry_warned_at IS NULL
           AND q.valid_until >= $1 AND q.valid_until <= $2
         ORDER BY q.id LIMIT $3",
    )
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ExpiringQuotation {
                quotation_id: row.try_get(0)?,
                quotation_number: row.try_get(1)?,
                valid_until: row.try_get(2)?,
                request_id: row.try_get(3)?,
                request_number: row.try_get(4)?,
                developer_id: row.try_get(5)?,
                developer_code: row.try_get(6)?,
            })
        })
        .collect()
}

/// Marks a quotation warned of, if it is still current, unwarned and its
/// request still quoted; true when this call marked it.
///
/// # Errors
/// A database fault.
pub async fn mark_quotation_warned(
    connection: &mut AnyConnection,
    quotation_id: i64,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let marked = sqlx::query(
        "UPDATE quotations SET expiry_warned_at = $1
         WHERE id = $2 AND expiry_warned_at IS NULL AND superseded = 0
           AND request_id IN (SELECT id FROM quota_requests WHERE status = 'quoted')",
    )
    .bind(now_ms)
    .bind(quotation_id)
    .execute(connection)
    .await?;
    Ok(marked.rows_affected() == 1)
}

/// Claims the digest of a day (`YYYY-MM-DD`); true when this call claimed it.
///
/// # Errors
/// A database fault.
pub async fn claim_digest(connection: &mut AnyConnection, day: &str, now_ms: i64) -> sqlx::Result<bool> {
    let claimed = sqlx::query("INSERT INTO digests (day, created_at) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING")
        .bind(day)
        .bind(now_ms)
        .execute(connection)
        .await?;
    Ok(claimed.rows_affected() == 1)
}

/// An open request past its due date.
#[derive(Debug, Clone)]
pub struct OverdueRequest {
    /// The request's number.
    pub number: String,
    /// The developer's code.
    pub developer_code: String,
    /// Stored status name.
    pub status: String,
    /// Due date, `YYYY-MM-DD`.
    pub due_on: String,
}

/// Requests waiting on retail or finance whose due date is before `today`
/// (`YYYY-MM-DD`), earliest due first, at most `limit`.
///
/// # Errors
/// A database fault.
pub async fn overdue_requests(
    connection: &mut AnyConnection,
    today: &str,
    limit: i64,
) -> sqlx::Result<Vec<OverdueRequest>> {
    let rows = sqlx::query(
        "SELECT r.number, d.code, r.status, r.due_on FROM quota_requests r JOIN developers d ON d.id = r.developer_id
         WHERE r.due_on IS NOT NULL AND r.due_on < $1 AND r.status IN ('submitted', 'payment_submitted', 'credited')
         ORDER BY r.due_on, r.id LIMIT $2",
    )
    .bind(today)
    .bind(limit)
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(OverdueRequest {
                number: row.try_get(0)?,
                developer_code: row.try_get(1)?,
                status: row.try_get(2)?,
                due_on: row.try_get(3)?,
            })
        })
        .collect()
}

/// A ledger account whose balance level differs from the one last told.
#[derive(Debug, Clone)]
pub struct BalanceLevelChange {
    /// The account's id.
    pub account_id: i64,
    /// The developer's id.
    pub developer_id: i64,
    /// The developer's code.
    pub developer_code: String,
    /// The product's code.
    pub product_code: String,
    /// Available units.
    pub available: i64,
    /// The level now: `ok`, `low` or `zero`.
    pub level: String,
    /// The level last told, if any.
    pub told: Option<String>,
}

/// Accounts whose balance level (against the developer's threshold, else
/// `default_threshold`) differs from the one last told, at most `limit`.
///
/// # Errors
/// A database fault.
pub async fn balance_level_changes(
    pool: &AnyPool,
    default_threshold: i64,
    limit: i64,
) -> sqlx::Result<Vec<BalanceLevelChange>> {
    let rows = sqlx::query(
        "SELECT id, developer_id, code, product_code, available, level, told FROM (
             SELECT a.id, a.developer_id, d.code, a.product_code, a.available,
                    CASE WHEN a.credited = 0 THEN 'ok' WHEN a.available = 0 THEN 'zero'
                         WHEN a.available <= COALESCE(d.low_balance_threshold, $1) THEN 'low' ELSE 'ok' END AS level,
                    b.level AS told
             FROM ledger_accounts a JOIN developers d ON d.id = a.developer_id
             LEFT JOIN balance_alerts b ON b.account_id = a.id
         ) x WHERE level <> COALESCE(told, 'ok') ORDER BY id LIMIT $2",
    )
    .bind(default_threshold)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(BalanceLevelChange {
                account_id: row.try_get(0)?,
                developer_id: row.try_get(1)?,
                developer_code: row.try_get(2)?,
                product_code: row.try_get(3)?,
                available: row.try_get(4)?,
                level: row.try_get(5)?,
                told: row.try_get(6)?,
            })
        })
        .collect()
}

/// Changes the level last told of an account from `told` to `level`; true
/// when this call changed it.
///
/// # Errors
/// A database fault.
pub async fn update_balance_alert(
    connection: &mut AnyConnection,
    account_id: i64,
    told: &str,
    level: &str,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let changed =
        sqlx::query("UPDATE balance_alerts SET level = $1, changed_at = $2 WHERE account_id = $3 AND level = $4")
            .bind(level)
            .bind(now_ms)
            .bind(account_id)
            .bind(told)
            .execute(connection)
            .await?;
    Ok(changed.rows_affected() == 1)
}

/// Records the first level told of an account; true when this call wrote it.
///
/// # Errors
/// A database fault.
pub async fn insert_balance_alert(
    connection: &mut AnyConnection,
    account_id: i64,
    level: &str,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "INSERT INTO balance_alerts (account_id, level, changed_at) VALUES ($1, $2, $3)
         ON CONFLICT (account_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(level)
    .bind(now_ms)
    .execute(connection)
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// Password-reset mails written to `recipient` since `after_ms`, sent or not.
///
/// # Errors
/// A database fault.
pub async fn count_reset_mails_since(
    connection: &mut AnyConnection,
    recipient: &str,
    after_ms: i64,
) -> sqlx::Result<i64> {
    sqlx::query("SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset' AND recipient = $1 AND created_at > $2")
        .bind(recipient)
        .bind(after_ms)
        .fetch_one(connection)
        .await?
        .try_get(0)
}

/// Messages not yet sent nor given up, and when the oldest was queued (Unix ms).
///
/// # Errors
/// A database fault.
pub async fn backlog(connection: &mut AnyConnection) -> sqlx::Result<(i64, Option<i64>)> {
    let row = sqlx::query("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")
        .fetch_one(connection)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}
