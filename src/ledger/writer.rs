//! The ledger writer: one task per process that owns a dedicated connection
//! and applies writes in batches (group commit). Every request that arrives
//! while a batch is committing waits in the queue and goes into the next
//! batch, so one fsync serves many requests. Each command runs inside its own
//! savepoint, so a fault in one never undoes another; every caller gets its
//! own result, and only after the batch's COMMIT has returned.

use std::sync::Arc;

use sqlx::{AnyConnection, Connection};
use tokio::sync::{mpsc, oneshot};

use super::domain::{EntryKind, HoldSettlement, HoldStatus};
use super::outcome::{HoldView, Outcome, Rejection};
use super::store::{self, NewEntry, NewHold};
use super::{Command, Idempotency, LedgerError, Operation, Written};
use crate::clock::Clock;
use crate::db::{Db, is_unique_violation};

/// Most commands in one transaction.
pub const BATCH_MAX: usize = 256;
/// Queue length before callers wait for room.
pub const QUEUE_MAX: usize = 4096;
/// Tries of one command when a concurrent process took its idempotency key.
const IDEMPOTENCY_RACE_ATTEMPTS: usize = 3;
/// Most holds expired by one sweep command.
pub const EXPIRE_BATCH_MAX: i64 = 500;

/// A command and where its result goes.
pub(super) struct Job {
    pub(super) command: Command,
    pub(super) reply: oneshot::Sender<Result<Written, LedgerError>>,
}

/// Starts the writer task; it stops when every sender is dropped.
pub(super) fn spawn(db: Db, clock: Arc<dyn Clock>) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel(QUEUE_MAX);
    tokio::spawn(run(db, clock, receiver));
    sender
}

async fn run(db: Db, clock: Arc<dyn Clock>, mut receiver: mpsc::Receiver<Job>) {
    let mut connection: Option<AnyConnection> = None;
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while receiver.recv_many(&mut batch, BATCH_MAX).await > 0 {
        if connection.is_none() {
            match db.dedicated_connection().await {
                Ok(opened) => connection = Some(opened),
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "ledger writer cannot connect");
                    fail_all(&mut batch, "the database is unreachable; nothing was written");
                    continue;
                }
            }
        }
        if let Some(open) = connection.as_mut() {
            if let Err(error) = execute_batch(&db, open, clock.as_ref(), &mut batch).await {
                tracing::error!(error = format!("{error:#}"), "ledger batch failed; reconnecting");
                connection = None;
            }
        }
        fail_all(&mut batch, "the write could not be confirmed; retry with the same Idempotency-Key");
    }
    if let Some(open) = connection {
        let _ = open.close().await;
    }
}

/// Answers every job still in `batch` with an error and empties it.
fn fail_all(batch: &mut Vec<Job>, detail: &str) {
    for job in batch.drain(..) {
        let _ = job.reply.send(Err(LedgerError::Unconfirmed(detail.to_owned())));
    }
}

/// Runs one batch in one transaction; on success answers and drains `batch`.
async fn execute_batch(
    db: &Db,
    connection: &mut AnyConnection,
    clock: &dyn Clock,
    batch: &mut Vec<Job>,
) -> sqlx::Result<()> {
    let mut transaction = connection.begin_with(db.begin_write_statement()).await?;
    let now_ms = clock.now_ms();
    let mut results = Vec::with_capacity(batch.len());
    for job in batch.iter() {
        results.push(execute_isolated(&mut transaction, &job.command, now_ms).await);
    }
    transaction.commit().await?;
    for (job, result) in batch.drain(..).zip(results) {
        let _ = job.reply.send(result);
    }
    Ok(())
}

/// Runs one command inside a savepoint, retrying when a concurrent process
/// stored the same idempotency key first (the retry then replays its answer).
async fn execute_isolated(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    command: &Command,
    now_ms: i64,
) -> Result<Written, LedgerError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut savepoint = transaction.begin().await.map_err(LedgerError::database)?;
        match execute(&mut savepoint, command, now_ms).await {
            Ok(written) => {
                savepoint.commit().await.map_err(LedgerError::database)?;
                return Ok(written);
            }
            Err(error) => {
                savepoint.rollback().await.map_err(LedgerError::database)?;
                let raced = matches!(&error, LedgerError::Database(cause) if is_unique_violation(cause));
                if !(raced && attempt < IDEMPOTENCY_RACE_ATTEMPTS) {
                    return Err(error);
                }
            }
        }
    }
}

async fn execute(connection: &mut AnyConnection, command: &Command, now_ms: i64) -> Result<Written, LedgerError> {
    if let Some(idempotency) = &command.idempotency {
        let stored =
            store::find_idempotency_record(connection, idempotency.client_id, idempotency.key.as_str()).await?;
        if let Some((request_sha256, response)) = stored {
            if request_sha256 != idempotency.request_sha256 {
                return Err(LedgerError::KeyReused);
            }
            return Ok(Written::Replayed(response));
        }
    }
    let outcome = apply(connection, &command.operation, &command.actor, now_ms).await?;
    if let Some(Idempotency { client_id, key, request_sha256 }) = &command.idempotency {
        let response = outcome.response();
        store::insert_idempotency_record(connection, *client_id, key.as_str(), request_sha256, &response, now_ms)
            .await?;
    }
    Ok(Written::Fresh(outcome))
}

async fn apply(
    connection: &mut AnyConnection,
    operation: &Operation,
    actor: &str,
    now_ms: i64,
) -> sqlx::Result<Outcome> {
    match operation {
        Operation::Consume { developer_id, product, units, reference } => {
            let Some((account_id, available)) =
                store::take_available(connection, *developer_id, product, units.get(), false).await?
            else {
                return insufficient(connection, *developer_id, product, units.get()).await;
            };
            let entry = NewEntry {
                account_id,
                developer_id: *developer_id,
                kind: EntryKind::Consume,
                units: units.get(),
                reference: reference.as_str(),
                actor,
                hold_id: None,
                at_ms: now_ms,
            };
            let entry_id = store::insert_entry(connection, &entry).await?;
            Ok(Outcome::Consumed {
                entry_id,
                product: product.clone(),
                units: units.get(),
                reference: reference.as_str().to_owned(),
                available,
            })
        }
        Operation::PlaceHold { developer_id, developer_code, product, units, reference, expiry } => {
            let Some((account_id, _)) =
                store::take_available(connection, *developer_id, product, units.get(), true).await?
            else {
                return insufficient(connection, *developer_id, product, units.get()).await;
            };
            let expires_at_ms = now_ms.saturating_add(expiry.as_millis());
            let hold = NewHold {
                account_id,
                developer_id: *developer_id,
                units: units.get(),
                reference: reference.as_str(),
                created_at_ms: now_ms,
                expires_at_ms,
            };
            let hold_id = store::insert_hold(connection, &hold).await?;
            let entry = NewEntry {
                account_id,
                developer_id: *developer_id,
                kind: EntryKind::Hold,
                units: units.get(),
                reference: reference.as_str(),
                actor,
                hold_id: Some(hold_id),
                at_ms: now_ms,
            };
            store::insert_entry(connection, &entry).await?;
            Ok(Outcome::HoldPlaced(HoldView {
                id: hold_id,
                developer: developer_code.clone(),
                product: product.clone(),
                units: units.get(),
                reference: reference.as_str().to_owned(),
                status: HoldStatus::Pending,
                expires_at_ms,
            }))
        }
        Operation::SettleHold { hold_id, settlement } => {
            settle_hold(connection, *hold_id, *settlement, actor, now_ms).await
        }
        Operation::Adjust { developer_id, product, units, reason } => {
            let Some((account_id, available)) =
                store::add_credited(connection, *developer_id, product, units.get()).await?
            else {
                return insufficient(connection, *developer_id, product, -units.get()).await;
            };
            let entry = NewEntry {
                account_id,
                developer_id: *developer_id,
                kind: EntryKind::Adjust,
                units: units.get(),
                reference: reason.as_str(),
                actor,
                hold_id: None,
                at_ms: now_ms,
            };
            let entry_id = store::insert_entry(connection, &entry).await?;
            Ok(Outcome::Adjusted {
                entry_id,
                product: product.clone(),
                units: units.get(),
                reason: reason.as_str().to_owned(),
                available,
            })
        }
        Operation::ExpireDueHolds { developer_id } => {
            let due = store::due_holds(connection, now_ms, *developer_id, EXPIRE_BATCH_MAX).await?;
            let mut expired = 0;
            for hold_id in due {
                if let Outcome::HoldSettled(_) =
                    settle_hold(connection, hold_id, HoldSettlement::Expire, actor, now_ms).await?
                {
                    expired += 1;
                }
            }
            Ok(Outcome::HoldsExpired(expired))
        }
    }
}

async fn insufficient(
    connection: &mut AnyConnection,
    developer_id: i64,
    product: &str,
    requested: i64,
) -> sqlx::Result<Outcome> {
    let available = store::available(connection, developer_id, product).await?;
    Ok(Outcome::Rejected(Rejection::InsufficientQuota { product: product.to_owned(), requested, available }))
}

/// Ends a pending hold. A hold found past its expiry is expired first, so a
/// late commit or release is refused with the hold's true status.
async fn settle_hold(
    connection: &mut AnyConnection,
    hold_id: i64,
    settlement: HoldSettlement,
    actor: &str,
    now_ms: i64,
) -> sqlx::Result<Outcome> {
    let Some(hold) = store::find_hold(connection, hold_id).await? else {
        return Ok(Outcome::Rejected(Rejection::HoldNotFound(hold_id)));
    };
    if hold.view.status != HoldStatus::Pending {
        return Ok(Outcome::Rejected(Rejection::HoldNotPending(hold.view)));
    }
    let late = settlement != HoldSettlement::Expire && hold.view.expires_at_ms <= now_ms;
    let effective = if late { HoldSettlement::Expire } else { settlement };
    if !store::mark_hold(connection, hold_id, effective.final_status(), now_ms).await? {
        let current = store::find_hold(connection, hold_id).await?.map_or(hold.view, |h| h.view);
        return Ok(Outcome::Rejected(Rejection::HoldNotPending(current)));
    }
    store::settle_held(connection, hold.account_id, hold.view.units, effective == HoldSettlement::Commit).await?;
    let actor = if effective == HoldSettlement::Expire { super::EXPIRY_ACTOR } else { actor };
    let entry = NewEntry {
        account_id: hold.account_id,
        developer_id: hold.developer_id,
        kind: effective.entry_kind(),
        units: hold.view.units,
        reference: &hold.view.reference,
        actor,
        hold_id: Some(hold_id),
        at_ms: now_ms,
    };
    store::insert_entry(connection, &entry).await?;
    let view = HoldView { status: effective.final_status(), ..hold.view };
    if late {
        return Ok(Outcome::Rejected(Rejection::HoldNotPending(view)));
    }
    Ok(Outcome::HoldSettled(view))
}
