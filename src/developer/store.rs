//! SQL for developers.

use sqlx::{AnyConnection, AnyPool, Row};

use super::domain::DeveloperStatus;
use super::{DeveloperCode, NewDeveloper};
use crate::db::is_unique_violation;
use crate::error::{AppError, AppResult};

/// A developer as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Developer {
    /// Internal id.
    #[serde(skip)]
    pub id: i64,
    /// Developer code.
    pub code: String,
    /// Company name.
    pub name: String,
    /// SSM registration number.
    pub registration_no: String,
    /// Contact e-mail.
    pub email: String,
    /// `pending_verification`, `verified`, `rejected`, `withdrawn` or `expired`.
    pub status: DeveloperStatus,
}

/// Inserts a verified developer (created by an administrator). A duplicate
/// code or registration number is a 409, decided by the database's unique
/// constraints rather than a racy look-up first.
///
/// # Errors
/// Conflict on a duplicate, or a database fault.
pub async fn insert_verified(
    pool: &AnyPool,
    (audit_key, actor): (&crate::audit::Key, &str),
    developer: &NewDeveloper,
    now_ms: i64,
) -> AppResult<Developer> {
    let mut transaction = pool.begin().await?;
    let result = sqlx::query(
        "INSERT INTO developers (code, name, registration_no, email, status, created_at)
         VALUES ($1, $2, $3, $4, 'verified', $5) RETURNING id",
    )
    .bind(developer.code.as_str())
    .bind(developer.name.as_str())
    .bind(developer.registration_no.as_str())
    .bind(developer.email.as_str())
    .bind(now_ms)
    .fetch_one(&mut *transaction)
    .await;
    match result {
        Ok(row) => {
            let subject = format!("developer:{}", developer.code);
            let after = serde_json::json!({"code": developer.code.as_str(), "registration_no": developer.registration_no.as_str(), "status": "verified"});
            let audit = crate::audit::Record {
                actor,
                action: "developer.create",
                subject: &subject,
                before: None,
                after: Some(after),
                at_ms: now_ms,
            };
            crate::audit::record(&mut transaction, audit_key, &audit).await?;
            transaction.commit().await?;
            Ok(Developer {
                id: row.try_get(0)?,
                code: developer.code.to_string(),
                name: developer.name.as_str().to_owned(),
                registration_no: developer.registration_no.as_str().to_owned(),
                email: developer.email.as_str().to_owned(),
                status: DeveloperStatus::Verified,
            })
        }
        Err(error) if is_unique_violation(&error) => {
            // Roll back before looking: the failed INSERT ended the transaction.
            drop(transaction);
            Err(duplicate_conflict(pool, developer).await)
        }
        Err(error) => Err(error.into()),
    }
}

/// The 409 for a developer whose code or SSM number is taken.
pub async fn duplicate_conflict(pool: &AnyPool, developer: &NewDeveloper) -> AppError {
    let code_taken = find_by_code(pool, &developer.code).await.ok().flatten().is_some();
    if code_taken {
        AppError::conflict("developer-exists", format!("developer code {} is already registered", developer.code))
    } else {
        AppError::conflict(
            "registration-no-exists",
            format!("SSM registration number {} is already registered", developer.registration_no.as_str()),
        )
    }
}

/// The developer with this code, if any: the one holding it (verified or a
/// pending claim), else the latest released claim that named it.
///
/// # Errors
/// A database fault.
pub async fn find_by_code(pool: &AnyPool, code: &DeveloperCode) -> sqlx::Result<Option<Developer>> {
    let row = sqlx::query(
        "SELECT id, code, name, registration_no, email, status FROM developers WHERE code = $1
         ORDER BY CASE WHEN status IN ('pending_verification', 'verified') THEN 0 ELSE 1 END, id DESC LIMIT 1",
    )
    .bind(code.as_str())
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Developer {
            id: row.try_get(0)?,
            code: row.try_get(1)?,
            name: row.try_get(2)?,
            registration_no: row.try_get(3)?,
            email: row.try_get(4)?,
            status: status_of(&row.try_get::<String, _>(5)?)?,
        })
    })
    .transpose()
}

/// The developer with this code, or a 404 that names it.
///
/// # Errors
/// Not found, or a database fault.
pub async fn require_by_code(pool: &AnyPool, code: &DeveloperCode) -> AppResult<Developer> {
    find_by_code(pool, code).await?.ok_or_else(|| AppError::NotFound(format!("developer {code} does not exist")))
}

/// A self-registered company to store, waiting for verification.
pub struct NewRegistration<'a> {
    /// Code, name, SSM number and e-mail.
    pub developer: &'a NewDeveloper,
    /// Address.
    pub address: &'a str,
    /// State code (`01` … `16`).
    pub state_code: &'a str,
    /// Postcode.
    pub postcode: &'a str,
    /// Contact person.
    pub contact_person: &'a str,
    /// Phone, E.164.
    pub phone: &'a str,
    /// LHDN tax identification number, when given.
    pub tin: Option<&'a str>,
    /// SST registration number or `NA`, when given.
    pub sst_registration_no: Option<&'a str>,
    /// The client address it came from.
    pub client_address: &'a str,
    /// Now, Unix ms.
    pub now_ms: i64,
}

/// Stores a registration as `pending_verification`; returns its id.
///
/// # Errors
/// A unique violation when the code or SSM number is taken; a database fault.
pub async fn insert_pending(connection: &mut AnyConnection, registration: &NewRegistration<'_>) -> sqlx::Result<i64> {
    let developer = registration.developer;
    sqlx::query(
        "INSERT INTO developers (code, name, registration_no, email, status, created_at, address, state_code, postcode, contact_person, phone, registered_from, tin, sst_registration_no)
         VALUES ($1, $2, $3, $4, 'pending_verification', $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(developer.code.as_str())
    .bind(developer.name.as_str())
    .bind(developer.registration_no.as_str())
    .bind(developer.email.as_str())
    .bind(registration.now_ms)
    .bind(registration.address)
    .bind(registration.state_code)
    .bind(registration.postcode)
    .bind(registration.contact_person)
    .bind(registration.phone)
    .bind(registration.client_address)
    .bind(registration.tin)
    .bind(registration.sst_registration_no)
    .fetch_one(connection)
    .await?
    .try_get(0)
}

/// A company's e-invoice identity: TIN and SST registration number (each
/// `None` until given).
///
/// # Errors
/// A database fault.
pub async fn tax_identity(connection: &mut AnyConnection, developer_id: i64) -> sqlx::Result<TaxIdentity> {
    let row = sqlx::query(
        "SELECT tin, sst_registration_no, address, postcode, state_code, phone FROM developers WHERE id = $1",
    )
    .bind(developer_id)
    .fetch_one(connection)
    .await?;
    Ok(TaxIdentity {
        tin: row.try_get(0)?,
        sst_registration_no: row.try_get(1)?,
        address: row.try_get(2)?,
        postcode: row.try_get(3)?,
        state_code: row.try_get(4)?,
        phone: row.try_get(5)?,
    })
}

/// A company's e-invoice particulars as stored: TIN, SST registration
/// number, address, postcode, state code and phone, each `None` until given.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TaxIdentity {
    /// LHDN tax identification number.
    pub tin: Option<String>,
    /// SST registration number, or `NA`.
    pub sst_registration_no: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// LHDN state code (`01`–`16`).
    pub state_code: Option<String>,
    /// Phone, E.164.
    pub phone: Option<String>,
}

impl TaxIdentity {
    /// True when an e-invoice can name the company as its buyer.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        [&self.tin, &self.sst_registration_no, &self.address, &self.postcode, &self.state_code, &self.phone]
            .iter()
            .all(|part| part.as_deref().is_some_and(|text| !text.trim().is_empty()))
    }
}

/// What an e-invoice says of a company as its buyer (empty text for what
/// it has not given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicedParty {
    /// Registered name.
    pub name: String,
    /// SSM registration number.
    pub registration_no: String,
    /// E-mail.
    pub email: String,
    /// Phone, E.164.
    pub phone: String,
    /// Street address.
    pub address: String,
    /// Postcode.
    pub postcode: String,
    /// State code.
    pub state_code: String,
    /// LHDN TIN.
    pub tin: String,
    /// SST registration number or `NA`.
    pub sst_registration_no: String,
}

/// The company as an e-invoice's buyer.
///
/// # Errors
/// A database fault, or no such company.
pub async fn invoiced_party(connection: &mut AnyConnection, developer_id: i64) -> sqlx::Result<InvoicedParty> {
    let row = sqlx::query(
        "SELECT name, registration_no, email, COALESCE(phone, ''), COALESCE(address, ''), COALESCE(postcode, ''),
                COALESCE(state_code, ''), COALESCE(tin, ''), COALESCE(sst_registration_no, '')
         FROM developers WHERE id = $1",
    )
    .bind(developer_id)
    .fetch_one(connection)
    .await?;
    Ok(InvoicedParty {
        name: row.try_get(0)?,
        registration_no: row.try_get(1)?,
        email: row.try_get(2)?,
        phone: row.try_get(3)?,
        address: row.try_get(4)?,
        postcode: row.try_get(5)?,
        state_code: row.try_get(6)?,
        tin: row.try_get(7)?,
        sst_registration_no: row.try_get(8)?,
    })
}

/// Replaces a company's TIN and SST registration number, and each of its
/// address, postcode, state code and phone that is given.
///
/// # Errors
/// A database fault.
pub async fn set_tax_identity(
    connection: &mut AnyConnection,
    developer_id: i64,
    identity: &TaxIdentity,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE developers SET tin = $1, sst_registration_no = $2, address = COALESCE($3, address),
                postcode = COALESCE($4, postcode), state_code = COALESCE($5, state_code), phone = COALESCE($6, phone)
         WHERE id = $7",
    )
    .bind(identity.tin.as_deref())
    .bind(identity.sst_registration_no.as_deref())
    .bind(identity.address.as_deref())
    .bind(identity.postcode.as_deref())
    .bind(identity.state_code.as_deref())
    .bind(identity.phone.as_deref())
    .bind(developer_id)
    .execute(connection)
    .await?;
    Ok(())
}

/// Moves a company waiting for verification to `to`; its id, or `None` when
/// it was not waiting (unknown, or decided already).
///
/// # Errors
/// A database fault.
pub async fn decide(
    connection: &mut AnyConnection,
    code: &DeveloperCode,
    to: &str,
    reason: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query(
        "UPDATE developers SET status = $1, decided_at = $2, decision_reason = $3 WHERE code = $4 AND status = 'pending_verification' RETURNING id",
    )
    .bind(to)
    .bind(now_ms)
    .bind(reason)
    .bind(code.as_str())
    .fetch_optional(connection)
    .await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// A developer's own low-balance threshold, `None` when it uses the
/// setting's.
///
/// # Errors
/// A database fault, or no such developer.
pub async fn low_balance_threshold<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    developer_id: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query("SELECT low_balance_threshold FROM developers WHERE id = $1")
        .bind(developer_id)
        .fetch_one(executor)
        .await?
        .try_get(0)
}

/// Sets (or with `None` clears) a developer's own low-balance threshold.
///
/// # Errors
/// A database fault.
pub async fn set_low_balance_threshold(
    connection: &mut AnyConnection,
    developer_id: i64,
    threshold: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE developers SET low_balance_threshold = $1 WHERE id = $2")
        .bind(threshold)
        .bind(developer_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// The code and name of every verified developer, by code.
///
/// # Errors
/// A database fault.
pub async fn verified_names(pool: &AnyPool) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT code, name FROM developers WHERE status = 'verified' ORDER BY code")
        .fetch_all(pool)
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// A self-registration waiting for the retail team (missing contact person
/// and phone are empty).
#[derive(Debug, Clone)]
pub struct PendingRegistration {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Registration number.
    pub registration_no: String,
    /// Contact person.
    pub contact_person: String,
    /// E-mail.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Registered, Unix ms.
    pub created_at_ms: i64,
    /// Claims (this one included) that name the same SSM number and hold or
    /// wait: more than 1 means retail must compare them.
    pub claims: i64,
}

/// Registrations pending verification, oldest first.
///
/// # Errors
/// A database fault.
pub async fn pending_registrations(pool: &AnyPool) -> sqlx::Result<Vec<PendingRegistration>> {
    let rows = sqlx::query(
        "SELECT code, name, registration_no, COALESCE(contact_person, ''), email, COALESCE(phone, ''), created_at,
                (SELECT COUNT(*) FROM developers o WHERE o.registration_no = d.registration_no
                   AND o.status IN ('pending_verification', 'verified'))
         FROM developers d WHERE status = 'pending_verification' ORDER BY registration_no, id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingRegistration {
                code: row.try_get(0)?,
                name: row.try_get(1)?,
                registration_no: row.try_get(2)?,
                contact_person: row.try_get(3)?,
                email: row.try_get(4)?,
                phone: row.try_get(5)?,
                created_at_ms: row.try_get(6)?,
                claims: row.try_get(7)?,
            })
        })
        .collect()
}

/// A developer's own low-balance threshold and its status.
///
/// # Errors
/// A database fault, or no such developer.
pub async fn threshold_and_status(pool: &AnyPool, developer_id: i64) -> sqlx::Result<(Option<i64>, DeveloperStatus)> {
    let row = sqlx::query("SELECT low_balance_threshold, status FROM developers WHERE id = $1")
        .bind(developer_id)
        .fetch_one(pool)
        .await?;
    Ok((row.try_get(0)?, status_of(&row.try_get::<String, _>(1)?)?))
}

/// A developer's status.
///
/// # Errors
/// A database fault, or no such developer.
pub async fn status(pool: &AnyPool, developer_id: i64) -> sqlx::Result<DeveloperStatus> {
    let row = sqlx::query("SELECT status FROM developers WHERE id = $1").bind(developer_id).fetch_one(pool).await?;
    status_of(&row.try_get::<String, _>(0)?)
}

fn status_of(text: &str) -> sqlx::Result<DeveloperStatus> {
    DeveloperStatus::parse(text).ok_or_else(|| sqlx::Error::Decode(format!("unknown developer status {text:?}").into()))
}

/// True when a verified company holds this SSM number.
///
/// # Errors
/// A database fault.
pub async fn registration_no_verified(connection: &mut AnyConnection, registration_no: &str) -> sqlx::Result<bool> {
    let row = sqlx::query("SELECT 1 FROM developers WHERE registration_no = $1 AND status = 'verified'")
        .bind(registration_no)
        .fetch_optional(connection)
        .await?;
    Ok(row.is_some())
}

/// Self-registrations from this client address since `after_ms`, and from
/// anywhere.
///
/// # Errors
/// A database fault.
pub async fn count_registrations(pool: &AnyPool, client_address: &str, after_ms: i64) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM developers WHERE registered_from = $1 AND created_at > $2),
                (SELECT COUNT(*) FROM developers WHERE registered_from IS NOT NULL AND created_at > $2)",
    )
    .bind(client_address)
    .bind(after_ms)
    .fetch_one(pool)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// A claim that can be released: its id, code and status.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Id.
    pub id: i64,
    /// Developer code it named.
    pub code: String,
    /// SSM number it named.
    pub registration_no: String,
    /// Its status before release.
    pub status: DeveloperStatus,
}

fn claim_of(row: &sqlx::any::AnyRow) -> sqlx::Result<Claim> {
    Ok(Claim {
        id: row.try_get(0)?,
        code: row.try_get(1)?,
        registration_no: row.try_get(2)?,
        status: status_of(&row.try_get::<String, _>(3)?)?,
    })
}

/// The claims retail may withdraw under this code (pending or rejected),
/// newest first.
///
/// # Errors
/// A database fault.
pub async fn withdrawable_claims(connection: &mut AnyConnection, code: &DeveloperCode) -> sqlx::Result<Vec<Claim>> {
    let rows = sqlx::query(
        "SELECT id, code, registration_no, status FROM developers
         WHERE code = $1 AND status IN ('pending_verification', 'rejected') ORDER BY id DESC",
    )
    .bind(code.as_str())
    .fetch_all(connection)
    .await?;
    rows.iter().map(claim_of).collect()
}

/// Pending claims registered before `before_ms`, oldest first.
///
/// # Errors
/// A database fault.
pub async fn stale_claims(connection: &mut AnyConnection, before_ms: i64) -> sqlx::Result<Vec<Claim>> {
    let rows = sqlx::query(
        "SELECT id, code, registration_no, status FROM developers
         WHERE status = 'pending_verification' AND created_at < $1 ORDER BY id",
    )
    .bind(before_ms)
    .fetch_all(connection)
    .await?;
    rows.iter().map(claim_of).collect()
}

/// Releases a claim (`withdrawn` or `expired`) if it is still in the status
/// it was read in; false when it changed meanwhile.
///
/// # Errors
/// A database fault.
pub async fn release_claim(
    connection: &mut AnyConnection,
    claim: &Claim,
    to: DeveloperStatus,
    reason: &str,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE developers SET status = $1, decided_at = $2, decision_reason = $3 WHERE id = $4 AND status = $5",
    )
    .bind(to.as_str())
    .bind(now_ms)
    .bind(reason)
    .bind(claim.id)
    .bind(claim.status.as_str())
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The company's particulars that are personal data (its contact person,
/// phone, e-mail, address), as exported to its administrator.
///
/// # Errors
/// A database fault.
pub async fn contact_particulars(pool: &AnyPool, developer_id: i64) -> sqlx::Result<serde_json::Value> {
    let row = sqlx::query(
        "SELECT code, name, email, COALESCE(contact_person, ''), COALESCE(phone, ''), COALESCE(address, ''),
                COALESCE(postcode, ''), COALESCE(state_code, ''), created_at
         FROM developers WHERE id = $1",
    )
    .bind(developer_id)
    .fetch_one(pool)
    .await?;
    Ok(serde_json::json!({
        "code": row.try_get::<String, _>(0)?,
        "name": row.try_get::<String, _>(1)?,
        "email": row.try_get::<String, _>(2)?,
        "contact_person": row.try_get::<String, _>(3)?,
        "phone": row.try_get::<String, _>(4)?,
        "address": row.try_get::<String, _>(5)?,
        "postcode": row.try_get::<String, _>(6)?,
        "state": row.try_get::<String, _>(7)?,
        "registered_at_ms": row.try_get::<i64, _>(8)?,
    }))
}
