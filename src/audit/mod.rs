//! The audit trail: who did what to what, when, with the state before and
//! after. Records form a keyed hash chain (each stores the HMAC-SHA-256,
//! under the [`Key`], of its text and the previous record's hash) with
//! gapless sequence ids, so `kuota audit verify` can prove nothing was
//! edited, deleted or inserted afterwards — even by someone who can write the
//! database, as long as they cannot read the key file.
//!
//! Trails written before the key existed are chained with plain SHA-256;
//! [`seal`] checks such a trail once and re-seals it with the key.

mod key;
pub mod store;

pub use key::{KEY_BYTES, Key, KeyError};

use serde_json::Value;
use sqlx::{AnyConnection, AnyPool};

use crate::db::Db;
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

/// How the links of a chain are computed.
#[derive(Clone, Copy)]
enum Hashing<'a> {
    /// Plain SHA-256: trails written before the key existed.
    Plain,
    /// HMAC-SHA-256 under the audit key.
    Keyed(&'a Key),
}

fn chain_hash(hashing: Hashing<'_>, seq: i64, prev_hash: &str, record: &StoredFields<'_>) -> String {
    let text = format!(
        "{seq}\u{1f}{prev_hash}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        record.at_ms,
        record.actor,
        record.action,
        record.subject,
        record.before.unwrap_or(""),
        record.after.unwrap_or("")
    );
    match hashing {
        Hashing::Plain => sha256_hex(text.as_bytes()),
        Hashing::Keyed(key) => key.seal(text.as_bytes()),
    }
}

struct StoredFields<'a> {
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    before: Option<&'a str>,
    after: Option<&'a str>,
    at_ms: i64,
}

impl store::StoredRecord {
    fn fields(&self) -> StoredFields<'_> {
        StoredFields {
            actor: &self.actor,
            action: &self.action,
            subject: &self.subject,
            before: self.before.as_deref(),
            after: self.after.as_deref(),
            at_ms: self.at_ms,
        }
    }
}

/// Appends a record inside the caller's transaction.
///
/// # Errors
/// A database fault.
pub async fn record(connection: &mut AnyConnection, key: &Key, record: &Record<'_>) -> sqlx::Result<()> {
    record_many(connection, key, std::slice::from_ref(record)).await
}

/// Appends records, in order, with three statements whatever their number:
/// reserve the sequence numbers, insert the chained rows, move the head.
///
/// # Errors
/// A database fault.
pub async fn record_many(connection: &mut AnyConnection, key: &Key, records: &[Record<'_>]) -> sqlx::Result<()> {
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
        let hash = chain_hash(Hashing::Keyed(key), seq, &prev_hash, &fields);
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
pub async fn record_alone(pool: &AnyPool, key: &Key, entry: &Record<'_>) -> sqlx::Result<()> {
    let mut transaction = pool.begin().await?;
    record(&mut transaction, key, entry).await?;
    transaction.commit().await
}

/// The first bad record of a trail: its id and what is wrong with it.
pub type Problem = (i64, String);

/// Checks the whole chain under `key`; returns the number of intact records
/// and the first bad one (its id and what is wrong), if any.
///
/// # Errors
/// A database fault.
pub async fn verify(pool: &AnyPool, key: &Key) -> sqlx::Result<(i64, Option<Problem>)> {
    let mut connection = pool.acquire().await?;
    let head = store::head(&mut connection).await?;
    if head.key_id.as_deref() != Some(key.fingerprint().as_str()) {
        let problem = match head.key_id {
            Some(_) => "the trail was sealed with another key; use the key file of the nodes that wrote it",
            None => "the trail is not sealed with a key yet; start `kuota serve` once to seal it",
        };
        return Ok((0, Some((1, problem.into()))));
    }
    let rows = store::all_records(&mut connection).await?;
    Ok(check_chain(Hashing::Keyed(key), &rows, &head))
}

/// Checks `rows` (every record, in order) against each other and the head.
fn check_chain(hashing: Hashing<'_>, rows: &[store::StoredRecord], head: &store::Head) -> (i64, Option<Problem>) {
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut expected_id = 1;
    for row in rows {
        let id = row.id;
        if id != expected_id {
            return (expected_id - 1, Some((expected_id, "record is missing (deleted)".into())));
        }
        if row.prev_hash != expected_prev {
            return (id - 1, Some((id, "does not link to the record before it".into())));
        }
        if chain_hash(hashing, id, &row.prev_hash, &row.fields()) != row.hash {
            return (id - 1, Some((id, "was edited after it was written".into())));
        }
        expected_prev.clone_from(&row.hash);
        expected_id += 1;
    }
    if head.last_seq != expected_id - 1 || head.last_hash != expected_prev {
        return (expected_id - 1, Some((expected_id, "records at the end of the trail are missing (deleted)".into())));
    }
    (expected_id - 1, None)
}

/// Why a trail cannot be sealed with this node's key.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The trail names another key: this node would write links the others
    /// cannot check (and could not check theirs).
    #[error("the audit trail was sealed with another key; set KUOTA_AUDIT_KEY_FILE to the key file of the other nodes")]
    OtherKey,
    /// The trail has records but names no key, and this key is not new: the
    /// first start after an operator provisioned the key (seal it with
    /// `kuota audit seal`), or someone who can write the database cleared the
    /// head and rewrote the trail with plain links (which a re-seal would hide).
    #[error(
        "the audit trail has {records} records but names no key, while the audit key file already existed; if this is the first start with a key you provisioned, run `kuota audit seal` once; otherwise the trail's key was cleared in the database — compare it with a backup"
    )]
    Unsealed {
        /// Records in the trail.
        records: usize,
    },
    /// The plain (unkeyed) trail is already broken: sealing it would hide that.
    #[error("the audit trail is broken at record {id}: {problem}; nothing was sealed (see `kuota audit verify`)")]
    Broken {
        /// The first bad record.
        id: i64,
        /// What is wrong with it.
        problem: String,
    },
    /// A database fault.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Makes sure the trail is sealed with `key`; call it at every start, before
/// anything is recorded. A trail already sealed with `key` is left alone; one
/// sealed with another key is refused. A trail from before the key (plain
/// SHA-256 links, no key named in the head) is checked, then — only when
/// `may_reseal` (the key was made just now, or an operator asked) or the trail
/// is empty — every record is re-linked with the key and the head names the
/// key's fingerprint, in one write transaction, so nodes starting together
/// seal it once. Returns how many records were re-sealed.
///
/// # Errors
/// [`SealError`].
pub async fn seal(db: &Db, key: &Key, may_reseal: bool) -> Result<usize, SealError> {
    let mut transaction = db.begin_write().await?;
    store::lock_head(&mut transaction).await?;
    let head = store::head(&mut transaction).await?;
    let fingerprint = key.fingerprint();
    match head.key_id.as_deref() {
        Some(named) if named == fingerprint => return Ok(0),
        Some(_) => return Err(SealError::OtherKey),
        None => {}
    }
    let rows = store::all_records(&mut transaction).await?;
    if let (_, Some((id, problem))) = check_chain(Hashing::Plain, &rows, &head) {
        return Err(SealError::Broken { id, problem });
    }
    if !may_reseal && !rows.is_empty() {
        return Err(SealError::Unsealed { records: rows.len() });
    }
    let mut prev_hash = GENESIS_HASH.to_owned();
    for row in &rows {
        let hash = chain_hash(Hashing::Keyed(key), row.id, &prev_hash, &row.fields());
        store::relink(&mut transaction, row.id, &prev_hash, &hash).await?;
        prev_hash = hash;
    }
    store::seal_head(&mut transaction, &prev_hash, &fingerprint).await?;
    transaction.commit().await?;
    if !rows.is_empty() {
        tracing::warn!(records = rows.len(), "the audit trail was checked and sealed with the audit key");
    }
    Ok(rows.len())
}
