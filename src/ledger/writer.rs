//! The ledger writer: one task per process that owns a dedicated connection
//! and applies writes in batches (group commit). Requests that arrive while a
//! batch commits wait in the queue and form the next batch, so one fsync
//! serves many requests, and every caller gets its own answer only after that
//! COMMIT has returned.
//!
//! Consecutive consumptions in a batch are applied as a group: their
//! idempotency records are looked up in one query, all their accounts are
//! locked with one query, each consumption is decided in order against the
//! locked balance, and the balance updates, the entries, the idempotency
//! records and the audit records are each written with one statement: a
//! batch costs the same number of round trips however many accounts it
//! touches. If anything in the grouped batch fails, the
//! batch is rolled back and replayed one command at a time, each in its own
//! savepoint, so one bad command never costs the others their answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use sqlx::{AnyConnection, Connection};
use tokio::sync::{mpsc, oneshot};

use super::domain::{Ask, Decision, EntryKind, HoldSettlement, HoldStatus, plan_consumptions};
use super::outcome::{HoldView, Outcome, Rejection};
use super::store::{self, IdempotencyRecord, NewEntry, NewHold};
use super::{Command, Idempotency, LedgerError, Operation, Reference, SignedUnits, Written};
use crate::audit::Key;
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

/// A command's own answer: written, or refused because its key was reused.
type Answer = Result<Written, LedgerError>;

/// A command and where its answer goes.
pub(super) struct Job {
    pub(super) command: Command,
    pub(super) reply: oneshot::Sender<Answer>,
}

/// Starts the writer task; it stops when every sender is dropped.
pub(super) fn spawn(
    db: Db,
    clock: Arc<dyn Clock>,
    audit_key: Arc<Key>,
    metrics: crate::metrics::Metrics,
) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel(QUEUE_MAX);
    if db.backend() == crate::db::Backend::Sqlite {
        tokio::spawn(checkpoint_beside(db.clone(), sender.downgrade()));
    }
    tokio::spawn(run(db, (clock, audit_key, metrics), receiver));
    sender
}

/// How often the WAL is checkpointed beside the writer (SQLite).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Checkpoints the SQLite WAL every [`CHECKPOINT_EVERY`] on a pool
/// connection while the writer lives, so no batch's commit runs one.
async fn checkpoint_beside(db: Db, writer: mpsc::WeakSender<Job>) {
    let mut ticker = tokio::time::interval(CHECKPOINT_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if writer.upgrade().is_none() {
            break;
        }
        if let Err(error) = db.checkpoint().await {
            tracing::warn!(error = %error, "WAL checkpoint");
        }
    }
}

async fn run(
    db: Db,
    (clock, audit_key, metrics): (Arc<dyn Clock>, Arc<Key>, crate::metrics::Metrics),
    mut receiver: mpsc::Receiver<Job>,
) {
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
            let (size, started) = (batch.len(), crate::clock::monotonic_now());
            match execute_batch(&db, open, (clock.as_ref(), &audit_key), &mut batch).await {
                Ok(()) => metrics.observe_batch(size, started.elapsed().as_secs_f64(), receiver.len()),
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "ledger batch failed; reconnecting");
                    connection = None;
                }
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
    (clock, key): (&dyn Clock, &Key),
    batch: &mut Vec<Job>,
) -> sqlx::Result<()> {
    let now_ms = clock.now_ms();
    let lock = db.row_lock_clause();
    let commands: Vec<&Command> = batch.iter().map(|job| &job.command).collect();
    let mut transaction = connection.begin_with(db.begin_write_statement()).await?;
    lock_audit_head(&mut transaction).await?;
    let answers = match execute_grouped(&mut transaction, lock, key, &commands, now_ms).await {
        Ok(answers) => answers,
        Err(error) => {
            tracing::debug!(error = %error, size = commands.len(), "grouped batch failed; applying it one command at a time");
            transaction.rollback().await?;
            transaction = connection.begin_with(db.begin_write_statement()).await?;
            lock_audit_head(&mut transaction).await?;
            let mut answers = Vec::with_capacity(commands.len());
            for command in &commands {
                answers.push(execute_isolated(&mut transaction, lock, key, command, now_ms).await);
            }
            answers
        }
    };
    transaction.commit().await?;
    for (job, answer) in batch.drain(..).zip(answers) {
        let _ = job.reply.send(answer);
    }
    Ok(())
}

/// Takes the audit head's lock before any account's, as workflow
/// transactions do (every entry the writer appends is audited), so the two
/// never wait on each other in opposite orders.
async fn lock_audit_head(connection: &mut AnyConnection) -> sqlx::Result<()> {
    crate::audit::store::lock_head(connection).await
}

/// The fast path: runs of consumptions as groups, other commands one by one.
/// Any error fails the whole batch (the caller then takes the slow path).
async fn execute_grouped(
    connection: &mut AnyConnection,
    lock: &str,
    key: &Key,
    commands: &[&Command],
    now_ms: i64,
) -> Result<Vec<Answer>, LedgerError> {
    let mut answers = Vec::with_capacity(commands.len());
    let mut start = 0;
    while start < commands.len() {
        let run = commands[start..].iter().take_while(|c| matches!(c.operation, Operation::Consume { .. })).count();
        if run > 0 {
            answers.extend(consume_group(connection, lock, key, &commands[start..start + run], now_ms).await?);
            start += run;
        } else {
            answers.push(execute_single(connection, lock, key, commands[start], now_ms).await?);
            start += 1;
        }
    }
    Ok(answers)
}

/// The slow path for one command: inside a savepoint, retrying when a
/// concurrent process stored the same idempotency key first (the retry then
/// replays that process's answer).
async fn execute_isolated(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    lock: &str,
    key: &Key,
    command: &Command,
    now_ms: i64,
) -> Answer {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut savepoint = transaction.begin().await?;
        match execute_single(&mut savepoint, lock, key, command, now_ms).await {
            Ok(answer) => {
                savepoint.commit().await?;
                return answer;
            }
            Err(error) => {
                savepoint.rollback().await?;
                let raced = match &error {
                    LedgerError::IdempotencyRace => true,
                    LedgerError::Database(cause) => is_unique_violation(cause),
                    _ => false,
                };
                if !(raced && attempt < IDEMPOTENCY_RACE_ATTEMPTS) {
                    return Err(error);
                }
            }
        }
    }
}

/// The stored answer for a repeated key: a replay, or a refusal when the
/// request differs.
fn replay_or_refuse(record: &IdempotencyRecord, idempotency: &Idempotency) -> Answer {
    if record.request_sha256 == idempotency.request_sha256 {
        Ok(Written::Replayed(record.response.clone()))
    } else {
        Err(LedgerError::KeyReused)
    }
}

/// One command with its idempotency handled around it.
async fn execute_single(
    connection: &mut AnyConnection,
    lock: &str,
    key: &Key,
    command: &Command,
    now_ms: i64,
) -> Result<Answer, LedgerError> {
    if matches!(command.operation, Operation::Consume { .. }) {
        let mut answers = consume_group(connection, lock, key, &[command], now_ms).await?;
        return answers.pop().ok_or_else(|| LedgerError::Unconfirmed("no answer for a consumption".into()));
    }
    if let Some(idempotency) = &command.idempotency {
        let keys = [(idempotency.client_id, idempotency.key.as_str())];
        if let Some(record) = store::find_idempotency_records(connection, &keys).await?.first() {
            return Ok(replay_or_refuse(record, idempotency));
        }
    }
    let outcome = apply(connection, key, &command.operation, &command.actor, now_ms).await?;
    if let Some(Idempotency { client_id, key, request_sha256 }) = &command.idempotency {
        let record = IdempotencyRecord {
            client_id: *client_id,
            key: key.as_str().to_owned(),
            request_sha256: request_sha256.clone(),
            response: outcome.response(),
        };
        if store::insert_idempotency_records(connection, &[record], now_ms).await? != 1 {
            return Err(LedgerError::IdempotencyRace);
        }
    }
    Ok(Ok(Written::Fresh(outcome)))
}

/// Where one consumption of a group stands while the group is planned.
enum Planned {
    /// Answered without writing (replay or refused key).
    Answered(Answer),
    /// Same key and request as an earlier command of this group: its answer.
    SameAs(usize),
    /// Not enough units.
    Refused(Outcome),
    /// Consumed; its entry is `entries[entry]`.
    Consumed { entry: usize, available: i64 },
}

/// One consumption of a group: its command and what it asks for.
struct Consumption<'a> {
    command: &'a Command,
    developer_id: i64,
    product: &'a str,
    units: i64,
    reference: &'a str,
}

/// Applies consecutive consumptions with a fixed number of statements:
/// read the stored answers, lock the accounts, decide (the pure
/// [`super::domain::plan_consumptions`]), then one UPDATE for every account
/// and one INSERT each for entries, idempotency records and audit records.
async fn consume_group(
    connection: &mut AnyConnection,
    lock: &str,
    key: &Key,
    commands: &[&Command],
    now_ms: i64,
) -> Result<Vec<Answer>, LedgerError> {
    let consumptions = consumptions_of(commands)?;
    let keys: Vec<(i64, &str)> =
        commands.iter().filter_map(|c| c.idempotency.as_ref()).map(|i| (i.client_id, i.key.as_str())).collect();
    let stored: HashMap<(i64, String), IdempotencyRecord> = store::find_idempotency_records(connection, &keys)
        .await?
        .into_iter()
        .map(|record| ((record.client_id, record.key.clone()), record))
        .collect();
    let mut balances = lock_accounts(connection, lock, &consumptions).await?;
    let asks: Vec<Ask<'_>> = consumptions
        .iter()
        .map(|c| Ask {
            key: c.command.idempotency.as_ref().map(|i| (i.client_id, i.key.as_str(), i.request_sha256.as_str())),
            answered_before: c
                .command
                .idempotency
                .as_ref()
                .is_some_and(|i| stored.contains_key(&(i.client_id, i.key.as_str().to_owned()))),
            account: (c.developer_id, c.product),
            units: c.units,
        })
        .collect();
    let decisions = plan_consumptions(&asks, &mut balances);
    let (plan, entries, totals) = planned(&consumptions, &decisions, &stored, now_ms);
    let takes: Vec<(i64, i64)> = totals.into_iter().collect();
    if !store::consume_from_accounts(connection, &takes).await? {
        return Err(LedgerError::Unconfirmed("a locked balance changed under the writer".into()));
    }
    let entry_ids = store::insert_entries(connection, &entries).await?;
    let (answers, records) = answers_of(plan, &consumptions, &entry_ids);
    if store::insert_idempotency_records(connection, &records, now_ms).await? != records.len() {
        return Err(LedgerError::IdempotencyRace);
    }
    audit_consumptions(connection, key, &entries, &entry_ids, now_ms).await?;
    Ok(answers)
}

fn consumptions_of<'a>(commands: &[&'a Command]) -> Result<Vec<Consumption<'a>>, LedgerError> {
    commands
        .iter()
        .map(|command| match &command.operation {
            Operation::Consume { developer_id, product, units, reference } => Ok(Consumption {
                command,
                developer_id: *developer_id,
                product: product.as_str(),
                units: units.get(),
                reference: reference.as_str(),
            }),
            _ => Err(LedgerError::Unconfirmed("a non-consumption reached the consumption group".into())),
        })
        .collect()
}

/// Locks every account of the group with one statement, in a fixed order
/// (no deadlock between nodes); `(account id, available)` per existing account.
async fn lock_accounts<'a>(
    connection: &mut AnyConnection,
    lock: &str,
    consumptions: &[Consumption<'a>],
) -> Result<HashMap<(i64, &'a str), (i64, i64)>, LedgerError> {
    let pairs: Vec<(i64, &str)> =
        consumptions.iter().map(|c| (c.developer_id, c.product)).collect::<BTreeSet<_>>().into_iter().collect();
    let mut balances = HashMap::new();
    for (developer_id, product, account_id, available) in store::lock_accounts(connection, &pairs, lock).await? {
        // `pairs` is sorted: find the caller's borrowed product name.
        if let Ok(index) = pairs.binary_search(&(developer_id, product.as_str())) {
            balances.insert(pairs[index], (account_id, available));
        }
    }
    Ok(balances)
}

/// The plan of each consumption, the entries to write and the units to take
/// off each account.
fn planned<'a>(
    consumptions: &[Consumption<'a>],
    decisions: &[Decision],
    stored: &HashMap<(i64, String), IdempotencyRecord>,
    now_ms: i64,
) -> (Vec<Planned>, Vec<NewEntry<'a>>, BTreeMap<i64, i64>) {
    let mut plan = Vec::with_capacity(decisions.len());
    let mut entries = Vec::new();
    let mut totals: BTreeMap<i64, i64> = BTreeMap::new();
    for (consumption, decision) in consumptions.iter().zip(decisions) {
        let idempotency = consumption.command.idempotency.as_ref();
        plan.push(match *decision {
            Decision::AnsweredBefore => match idempotency
                .and_then(|i| stored.get(&(i.client_id, i.key.as_str().to_owned())).map(|record| (record, i)))
            {
                Some((record, idempotency)) => Planned::Answered(replay_or_refuse(record, idempotency)),
                None => Planned::Answered(Err(LedgerError::Unconfirmed("a stored answer vanished".into()))),
            },
            Decision::SameAs(first) => Planned::SameAs(first),
            Decision::KeyReused => Planned::Answered(Err(LedgerError::KeyReused)),
            Decision::Refused { available } => Planned::Refused(Outcome::Rejected(Rejection::InsufficientQuota {
                product: consumption.product.to_owned(),
                requested: consumption.units,
                available,
            })),
            Decision::Consumed { account_id, available } => {
                *totals.entry(account_id).or_default() += consumption.units;
                entries.push(NewEntry {
                    account_id,
                    developer_id: consumption.developer_id,
                    kind: EntryKind::Consume,
                    units: consumption.units,
                    reference: consumption.reference,
                    actor: &consumption.command.actor,
                    hold_id: None,
                    at_ms: now_ms,
                });
                Planned::Consumed { entry: entries.len() - 1, available }
            }
        });
    }
    (plan, entries, totals)
}

/// Each consumption's answer, and the idempotency records of the fresh ones.
fn answers_of(
    plan: Vec<Planned>,
    consumptions: &[Consumption<'_>],
    entry_ids: &[i64],
) -> (Vec<Answer>, Vec<IdempotencyRecord>) {
    let mut answers: Vec<Answer> = Vec::with_capacity(plan.len());
    let mut records = Vec::new();
    for (planned, consumption) in plan.into_iter().zip(consumptions) {
        let answer = match planned {
            Planned::Answered(answer) => answer,
            Planned::SameAs(first) => match &answers[first] {
                Ok(written) => Ok(Written::Replayed(written.response())),
                Err(_) => Err(LedgerError::KeyReused),
            },
            Planned::Refused(outcome) => Ok(Written::Fresh(outcome)),
            Planned::Consumed { entry, available } => Ok(Written::Fresh(Outcome::Consumed {
                entry_id: entry_ids[entry],
                product: consumption.product.to_owned(),
                units: consumption.units,
                reference: consumption.reference.to_owned(),
                available,
            })),
        };
        if let (Some(idempotency), Ok(Written::Fresh(outcome))) = (&consumption.command.idempotency, &answer) {
            records.push(IdempotencyRecord {
                client_id: idempotency.client_id,
                key: idempotency.key.as_str().to_owned(),
                request_sha256: idempotency.request_sha256.clone(),
                response: outcome.response(),
            });
        }
        answers.push(answer);
    }
    (answers, records)
}

/// One audit record per consumption entry, written with one statement.
async fn audit_consumptions(
    connection: &mut AnyConnection,
    key: &Key,
    entries: &[NewEntry<'_>],
    ids: &[i64],
    now_ms: i64,
) -> sqlx::Result<()> {
    let subjects: Vec<String> = entries.iter().map(|entry| format!("ledger_account:{}", entry.account_id)).collect();
    let records: Vec<crate::audit::Record<'_>> = entries
        .iter()
        .zip(ids)
        .zip(&subjects)
        .map(|((entry, id), subject)| crate::audit::Record {
            actor: entry.actor,
            action: "ledger.consume",
            subject,
            before: None,
            after: Some(serde_json::json!({"entry": id, "units": entry.units, "reference": entry.reference})),
            at_ms: now_ms,
        })
        .collect();
    crate::audit::record_many(connection, key, &records).await
}

async fn apply(
    connection: &mut AnyConnection,
    key: &Key,
    operation: &Operation,
    actor: &str,
    now_ms: i64,
) -> Result<Outcome, LedgerError> {
    match operation {
        Operation::Consume { .. } => Err(LedgerError::Unconfirmed("consumptions are applied in groups".into())),
        Operation::PlaceHold { .. } => place_hold(connection, key, operation, actor, now_ms).await,
        Operation::SettleHold { hold_id, settlement } => {
            Ok(settle_hold(connection, key, *hold_id, *settlement, actor, now_ms).await?)
        }
        Operation::Adjust { developer_id, product, units, reason } => {
            adjust(connection, key, (*developer_id, product), *units, reason, actor, now_ms).await
        }
        Operation::ExpireDueHolds { developer_id } => {
            let due = store::due_holds(connection, now_ms, *developer_id, EXPIRE_BATCH_MAX).await?;
            let mut expired = 0;
            for hold_id in due {
                if let Outcome::HoldSettled(_) =
                    settle_hold(connection, key, hold_id, HoldSettlement::Expire, actor, now_ms).await?
                {
                    expired += 1;
                }
            }
            Ok(Outcome::HoldsExpired(expired))
        }
    }
}
/// Places a hold: the guarded move from available to held, the hold row, its entry and audit record.
async fn place_hold(
    connection: &mut AnyConnection,
    key: &Key,
    operation: &Operation,
    actor: &str,
    now_ms: i64,
) -> Result<Outcome, LedgerError> {
    let Operation::PlaceHold { developer_id, developer_code, product, units, reference, expiry } = operation else {
        return Err(LedgerError::Unconfirmed("not a hold".into()));
    };
    let Some((account_id, _)) = store::hold_available(connection, *developer_id, product, units.get()).await? else {
        return Ok(insufficient(connection, *developer_id, product, units.get()).await?);
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
    let entry_id = store::insert_entry(connection, &entry).await?;
    audit_entry(connection, key, &entry, entry_id, "ledger.hold").await?;
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

/// Books a signed adjustment with its reason and audit record.
pub(super) async fn adjust(
    connection: &mut AnyConnection,
    key: &Key,
    (developer_id, product): (i64, &str),
    units: SignedUnits,
    reason: &Reference,
    actor: &str,
    now_ms: i64,
) -> Result<Outcome, LedgerError> {
    let Some((account_id, available)) = store::add_credited(connection, developer_id, product, units.get()).await?
    else {
        return Ok(insufficient(connection, developer_id, product, -units.get()).await?);
    };
    let entry = NewEntry {
        account_id,
        developer_id,
        kind: EntryKind::Adjust,
        units: units.get(),
        reference: reason.as_str(),
        actor,
        hold_id: None,
        at_ms: now_ms,
    };
    let entry_id = store::insert_entry(connection, &entry).await?;
    let subject = format!("ledger_account:{account_id}");
    let after =
        serde_json::json!({"entry": entry_id, "units": units.get(), "reason": reason.as_str(), "available": available});
    let audit = crate::audit::Record {
        actor,
        action: "ledger.adjust",
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: now_ms,
    };
    crate::audit::record(connection, key, &audit).await?;
    Ok(Outcome::Adjusted {
        entry_id,
        product: product.to_owned(),
        units: units.get(),
        reason: reason.as_str().to_owned(),
        available,
    })
}

/// The audit record of one hold entry.
async fn audit_entry(
    connection: &mut AnyConnection,
    key: &Key,
    entry: &NewEntry<'_>,
    entry_id: i64,
    action: &str,
) -> sqlx::Result<()> {
    let subject = format!("ledger_account:{}", entry.account_id);
    let after = serde_json::json!({"entry": entry_id, "units": entry.units, "reference": entry.reference, "hold": entry.hold_id});
    let record = crate::audit::Record {
        actor: entry.actor,
        action,
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: entry.at_ms,
    };
    crate::audit::record(connection, key, &record).await
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
    key: &Key,
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
    let entry_id = store::insert_entry(connection, &entry).await?;
    let action = match effective {
        HoldSettlement::Commit => "ledger.hold_commit",
        HoldSettlement::Release => "ledger.hold_release",
        HoldSettlement::Expire => "ledger.hold_expire",
    };
    audit_entry(connection, key, &entry, entry_id, action).await?;
    let view = HoldView { status: effective.final_status(), ..hold.view };
    if late {
        return Ok(Outcome::Rejected(Rejection::HoldNotPending(view)));
    }
    Ok(Outcome::HoldSettled(view))
}
