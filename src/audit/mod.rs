//! The audit trail: who did what to what, when, with the state before and
//! after. Records form a hash chain (each stores the hash of the previous
//! one) with gapless sequence ids, so `kuota audit verify` can prove nothing
//! was edited, deleted or inserted afterwards.

pub mod store;

use serde_json::Value;
use sqlx::{AnyConnection, AnyPool};

use crate::digest::sha256_hex;

/// The hash before the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One thing to record.
pub struct Record<'a> {
    /// Who (`user:3`, `api_client:1`, `system:…`, `cli`).
    pub actor: &'a str,
    /// What (`request.approve_payment`, `price.add`, `user.sign_in_failed`, …).
    pub action: &'a str,
    /// To what (`quota_request:12`, `product:CERT-1Y`, …).
    pub subject: &'a str,
    /// State before, if any.
    pub before: Option<Value>,
    /// State after, if any.
    pub after: Option<Value>,
    /// When, Unix ms.
    pub at_ms: i64,
}

fn chain_hash(seq: i64, prev_hash: &str, record: &StoredFields<'_>) -> String {
    let text = format!(
        "{seq}\u{1f}{prev_hash}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        record.at_ms,
        record.actor,
        record.action,
        record.subject,
        record.before.unwrap_or(""),
        record.after.unwrap_or("")
    );
    sha256_hex(text.as_bytes())
}

struct StoredFields<'a> {
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    before: Option<&'a str>,
    after: Option<&'a str>,
    at_ms: i64,
}

/// Appends a record inside the caller's transaction.
///
/// # Errors
/// A database fault.
pub async fn record(connection: &mut AnyConnection, record: &Record<'_>) -> sqlx::Result<()> {
    record_many(connection, std::slice::from_ref(record)).await
}

/// Appends records, in order, with three statements whatever their number:
/// reserve the sequence numbers, insert the chained rows, move the head.
///
/// # Errors
/// A database fault.
pub async fn record_many(connection: &mut AnyConnection, records: &[Record<'_>]) -> sqlx::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(records.len()).unwrap_or(i64::MAX);
    let (last_seq, mut prev_hash) = store::reserve_seq(&mut *connection, count).await?;
    let mut rows = Vec::with_capacity(records.len());
    for (offset, record) in (0_i64..).zip(records) {
        let seq = last_seq - count + 1 + offset;
        let before = record.before.as_ref().map(Value::to_string);
        let after = record.after.as_ref().map(Value::to_string);
        let fields = StoredFields {
            actor: record.actor,
            action: record.action,
            subject: record.subject,
            before: before.as_deref(),
            after: after.as_deref(),
            at_ms: record.at_ms,
        };
        let hash = chain_hash(seq, &prev_hash, &fields);
        rows.push((seq, record, before, after, std::mem::replace(&mut prev_hash, hash.clone()), hash));
    }
    let stored: Vec<store::AuditRow<'_>> = rows
        .iter()
        .map(|(seq, record, before, after, prev, hash)| store::AuditRow {
            id: *seq,
            actor: record.actor,
            action: record.action,
            subject: record.subject,
            before: before.as_deref(),
            after: after.as_deref(),
            at_ms: record.at_ms,
            prev_hash: prev.as_str(),
            hash: hash.as_str(),
        })
        .collect();
    store::insert_records(&mut *connection, &stored).await?;
    store::set_head_hash(connection, &prev_hash).await?;
    Ok(())
}

/// Appends a record in its own transaction, for changes made outside one.
/// (The three statements of [`record`] must share a transaction: the head
/// row's lock is what keeps two writers from forking the chain.)
///
/// # Errors
/// A database fault.
pub async fn record_alone(pool: &AnyPool, entry: &Record<'_>) -> sqlx::Result<()> {
    let mut transaction = pool.begin().await?;
    record(&mut transaction, entry).await?;
    transaction.commit().await
}

/// Checks the whole chain; returns the number of records and the first bad
/// one (its id and what is wrong), if any.
///
/// # Errors
/// A database fault.
pub async fn verify(pool: &AnyPool) -> sqlx::Result<(i64, Option<(i64, String)>)> {
    let rows = store::all_records(pool).await?;
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut expected_id = 1;
    for row in &rows {
        let id = row.id;
        if id != expected_id {
            return Ok((expected_id - 1, Some((expected_id, "record is missing (deleted)".into()))));
        }
        if row.prev_hash != expected_prev {
            return Ok((id - 1, Some((id, "does not link to the record before it".into()))));
        }
        let fields = StoredFields {
            actor: &row.actor,
            action: &row.action,
            subject: &row.subject,
            before: row.before.as_deref(),
            after: row.after.as_deref(),
            at_ms: row.at_ms,
        };
        if chain_hash(id, &row.prev_hash, &fields) != row.hash {
            return Ok((id - 1, Some((id, "was edited after it was written".into()))));
        }
        expected_prev.clone_from(&row.hash);
        expected_id += 1;
    }
    let (last_seq, last_hash) = store::head(pool).await?;
    if last_seq != expected_id - 1 || last_hash != expected_prev {
        return Ok((
            expected_id - 1,
            Some((expected_id, "records at the end of the trail are missing (deleted)".into())),
        ));
    }
    Ok((expected_id - 1, None))
}
