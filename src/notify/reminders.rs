//! Messages kuota sends on its own, not in answer to a person: the warning
//! that a quotation runs out within 3 working days, the daily digest of
//! overdue steps for retail and finance, and low / zero balance alerts.
//!
//! Each is announced once however many nodes run the sweep: the mark that it
//! was announced (a column, a row) is written by a guarded statement in the
//! same transaction as the outbox row, and only the transaction whose
//! statement changed a row writes the message.

use super::recipients::{self, Team};
use super::store;
use super::{Facts, MessageKind, Outgoing, Recipient};
use crate::clock::Clock;
use crate::db::Db;
use crate::error::AppResult;
use crate::request::domain::{Party, Status};
use jiff::civil::Date;

/// A quotation is announced as expiring this many working days before its valid-until date.
pub const EXPIRY_WARNING_WORKING_DAYS: i64 = 3;
/// The daily digest goes out at or after this hour, Kuala Lumpur time, on working days.
pub const DIGEST_HOUR: i8 = 8;
/// Most items in one sweep or one digest.
const BATCH_MAX: i64 = 500;

/// Runs every reminder once; returns how many messages were written.
///
/// # Errors
/// A database fault.
pub async fn run(db: &Db, clock: &dyn Clock, portal_url: &str) -> AppResult<usize> {
    Ok(warn_expiring_quotations(db, clock, portal_url).await?
        + send_overdue_digest(db, clock, portal_url).await?
        + alert_balances(db, clock, portal_url).await?)
}

/// Warns the developer of each current quotation whose valid-until date is
/// within [`EXPIRY_WARNING_WORKING_DAYS`] working days, once per quotation.
///
/// # Errors
/// A database fault.
pub async fn warn_expiring_quotations(db: &Db, clock: &dyn Clock, portal_url: &str) -> AppResult<usize> {
    let today = crate::clock::today_local(clock.now());
    let calendar = crate::settings::working_calendar(db.pool()).await?;
    let horizon = calendar.add_working_days(today, EXPIRY_WARNING_WORKING_DAYS);
    let rows = store::expiring_quotations(db.pool(), &today.to_string(), &horizon.to_string(), BATCH_MAX).await?;
    let mut written = 0;
    for row in rows {
        let mut transaction = db.begin_write().await?;
        let now_ms = clock.now_ms();
        if !store::mark_quotation_warned(&mut transaction, row.quotation_id, now_ms).await? {
            continue;
        }
        let to = recipients::developer(&mut transaction, row.developer_id).await?;
        let facts = Facts {
            request_number: row.request_number,
            developer: row.developer_code,
            detail: Some(crate::format::stored_date(&row.valid_until)),
            reference: Some(row.quotation_number),
            lines: Vec::new(),
        };
        let message = Outgoing::new(MessageKind::QuotationExpiring, &facts, Some(row.request_id), portal_url);
        super::enqueue(&mut transaction, &message, &to, now_ms).await?;
        transaction.commit().await?;
        written += to.len();
    }
    Ok(written)
}

/// On a working day at or after [`DIGEST_HOUR`], sends retail and finance the
/// list of their steps past due, once per day (none when nothing is late).
/// Returns how many messages were written.
///
/// # Errors
/// A database fault.
pub async fn send_overdue_digest(db: &Db, clock: &dyn Clock, portal_url: &str) -> AppResult<usize> {
    let now = clock.now().to_zoned(crate::clock::user_time_zone());
    let today = now.date();
    let calendar = crate::settings::working_calendar(db.pool()).await?;
    if now.hour() < DIGEST_HOUR || !calendar.is_working_day(today) {
        return Ok(0);
    }
    let now_ms = clock.now_ms();
    let mut transaction = db.begin_write().await?;
    if !store::claim_digest(&mut transaction, &today.to_string(), now_ms).await? {
        return Ok(0);
    }
    let rows = store::overdue_requests(&mut transaction, &today.to_string(), BATCH_MAX).await?;
    let mut written = 0;
    for (team, party) in [(Team::Retail, Party::Retail), (Team::Finance, Party::Finance)] {
        let mut items = Vec::new();
        for row in &rows {
            let status = Status::parse(&row.status);
            if let Some(status) = status.filter(|s| s.owner() == Some(party)) {
                let due = row.due_on.clone();
                let late = due.parse::<Date>().map_or(0, |due| calendar.working_days_between(due, today));
                items.push((row.number.clone(), row.developer_code.clone(), status, due, late));
            }
        }
        if items.is_empty() {
            continue;
        }
        let to = recipients::team(&mut transaction, team).await?;
        for recipient in &to {
            let language = recipient.language;
            let lines = items
                .iter()
                .map(|(number, code, status, due, late)| {
                    let due = crate::format::stored_date(due);
                    let step = super::copy::OverdueStep {
                        number,
                        developer: code,
                        status: *status,
                        due: &due,
                        working_days_late: *late,
                    };
                    super::copy::overdue_line(language, &step)
                })
                .collect();
            let facts = Facts {
                request_number: String::new(),
                developer: String::new(),
                detail: Some(crate::format::date(today)),
                reference: Some(items.len().to_string()),
                lines,
            };
            let message = Outgoing::new(MessageKind::OverdueDigest, &facts, None, portal_url);
            super::enqueue(&mut transaction, &message, std::slice::from_ref(recipient), now_ms).await?;
            written += 1;
        }
    }
    transaction.commit().await?;
    Ok(written)
}

/// A balance level, in rising order of urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Ok,
    Low,
    Zero,
}

impl Level {
    fn parse(text: &str) -> Self {
        match text {
            "zero" => Self::Zero,
            "low" => Self::Low,
            _ => Self::Ok,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Low => "low",
            Self::Zero => "zero",
        }
    }
}

/// Tells a developer when a product's available balance falls to its
/// threshold (the developer's own, else the setting) and when it reaches
/// zero; each crossing once. A top-up above the threshold re-arms the alert.
///
/// # Errors
/// A database fault.
pub async fn alert_balances(db: &Db, clock: &dyn Clock, portal_url: &str) -> AppResult<usize> {
    let default_threshold = crate::settings::load(db.pool()).await?.low_balance_threshold;
    let rows = store::balance_level_changes(db.pool(), default_threshold, BATCH_MAX).await?;
    let mut written = 0;
    for row in rows {
        let account_id = row.account_id;
        let level = Level::parse(&row.level);
        let told = row.told;
        let now_ms = clock.now_ms();
        let mut transaction = db.begin_write().await?;
        let changed = match &told {
            Some(told) => {
                store::update_balance_alert(&mut transaction, account_id, told, level.as_str(), now_ms).await?
            }
            None => store::insert_balance_alert(&mut transaction, account_id, level.as_str(), now_ms).await?,
        };
        if !changed {
            continue;
        }
        let before = told.as_deref().map_or(Level::Ok, Level::parse);
        if level > before {
            let kind = if level == Level::Zero { MessageKind::ZeroBalance } else { MessageKind::LowBalance };
            let to: Vec<Recipient> = recipients::developer(&mut transaction, row.developer_id).await?;
            let facts = Facts {
                request_number: String::new(),
                developer: row.developer_code,
                detail: Some(row.available.to_string()),
                reference: Some(row.product_code),
                lines: Vec::new(),
            };
            super::enqueue(&mut transaction, &Outgoing::new(kind, &facts, None, portal_url), &to, now_ms).await?;
            written += to.len();
        }
        transaction.commit().await?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_rise_from_ok_to_zero() {
        assert!(Level::Ok < Level::Low && Level::Low < Level::Zero);
        for level in [Level::Ok, Level::Low, Level::Zero] {
            assert_eq!(Level::parse(level.as_str()), level);
        }
    }

    #[test]
    fn dates_read_day_first() {
        assert_eq!(crate::format::stored_date("2026-12-03"), "03/12/2026");
    }
}
