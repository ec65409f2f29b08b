//! Seed step 1 as services: a company registers itself with its first user
//! and waits; retail verifies or rejects it. Each decides and writes in one
//! transaction with its audit record and its mail.

use serde_json::json;

use super::domain::{DeveloperStatus, Phone, Postcode, StateCode};
use super::{DeveloperCode, DisplayName, EmailAddress, NewDeveloper, RegistrationNo};
use crate::auth::users::{Language, NewUser};
use crate::auth::{ApiCaller, Role, password};
use crate::db::is_unique_violation;
use crate::error::{AppError, FieldError};
use crate::ledger::Reference;
use crate::state::AppState;

pub use super::store::TaxIdentity;

/// The actor of what a self-registration writes (nobody is signed in yet).
pub const REGISTRATION_ACTOR: &str = "registration";

/// A registration as typed, field by field (the API's JSON and the portal's
/// form carry the same fields).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationForm {
    /// Company name.
    pub company_name: String,
    /// SSM registration number.
    pub registration_no: String,
    /// Developer code (kod pemaju).
    pub developer_code: String,
    /// Address.
    pub address: String,
    /// Postcode.
    pub postcode: String,
    /// State code.
    pub state: String,
    /// Contact person.
    pub contact_person: String,
    /// Company e-mail.
    pub email: String,
    /// Company phone.
    pub phone: String,
    /// First user's name.
    pub user_name: String,
    /// First user's e-mail.
    pub user_email: String,
    /// First user's password.
    pub user_password: String,
    /// First user's language (`ms` when left out).
    #[serde(default)]
    pub user_language: Option<String>,
    /// The company's LHDN tax identification number, for e-invoices (may be
    /// given later).
    #[serde(default)]
    pub tin: Option<String>,
    /// Its SST registration number, or `NA` (may be given later).
    #[serde(default)]
    pub sst_registration_no: Option<String>,
    /// The first user has read the personal-data notice (`/privacy`); must
    /// be true (PDPA 2010).
    #[serde(default)]
    pub privacy_notice_acknowledged: bool,
}

/// A registration whose every field follows its rules.
#[derive(Debug, Clone)]
pub struct Registration {
    developer: NewDeveloper,
    address: DisplayName,
    postcode: Postcode,
    state: StateCode,
    contact_person: DisplayName,
    phone: Phone,
    user_name: DisplayName,
    user_email: EmailAddress,
    user_language: Language,
    user_password: String,
    tin: Option<super::domain::TaxId>,
    sst_registration_no: Option<super::domain::SstRegistration>,
}

/// Keeps a parsed value, or records its error under `field`.
fn check<T, E: std::fmt::Display>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, E>) -> Option<T> {
    result.map_err(|error| errors.push(FieldError { field: field.to_owned(), message: error.to_string() })).ok()
}

impl RegistrationForm {
    /// Parses every field, naming each wrong one.
    ///
    /// # Errors
    /// Every field that breaks its rule, in the form's order.
    pub fn parse(&self) -> Result<Registration, Vec<FieldError>> {
        let mut errors = Vec::new();
        let e = &mut errors;
        let name = check(e, "company_name", self.company_name.parse::<DisplayName>());
        let registration_no = check(e, "registration_no", self.registration_no.parse::<RegistrationNo>());
        let code = check(e, "developer_code", self.developer_code.parse::<DeveloperCode>());
        let address = check(e, "address", self.address.parse::<DisplayName>());
        let postcode = check(e, "postcode", self.postcode.parse::<Postcode>());
        let state = check(e, "state", self.state.parse::<StateCode>());
        let contact_person = check(e, "contact_person", self.contact_person.parse::<DisplayName>());
        let email = check(e, "email", self.email.parse::<EmailAddress>());
        let phone = check(e, "phone", self.phone.parse::<Phone>());
        let user_name = check(e, "user_name", self.user_name.parse::<DisplayName>());
        let user_email = check(e, "user_email", self.user_email.parse::<EmailAddress>());
        let language = self.user_language.as_deref().unwrap_or("ms").parse::<Language>();
        let user_language = check(e, "user_language", language);
        check(e, "user_password", password::check(&self.user_password));
        let given =
            |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let tin = given(&self.tin).map(|tin| check(e, "tin", tin.parse::<super::domain::TaxId>()));
        let sst = given(&self.sst_registration_no)
            .map(|sst| check(e, "sst_registration_no", sst.parse::<super::domain::SstRegistration>()));
        if !self.privacy_notice_acknowledged {
            let message = "must be true: the first user reads the personal-data notice at /privacy first";
            e.push(FieldError { field: "privacy_notice_acknowledged".to_owned(), message: message.to_owned() });
        }
        let parsed = (|| {
            Some(Registration {
                developer: NewDeveloper { code: code?, name: name?, registration_no: registration_no?, email: email? },
                address: address?,
                postcode: postcode?,
                state: state?,
                contact_person: contact_person?,
                phone: phone?,
                user_name: user_name?,
                user_email: user_email?,
                user_language: user_language?,
                user_password: self.user_password.clone(),
                tin: tin.flatten(),
                sst_registration_no: sst.flatten(),
            })
        })();
        match parsed {
            Some(registration) if errors.is_empty() => Ok(registration),
            _ => Err(errors),
        }
    }
}

/// Which identifier of a registration someone else holds already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The developer code.
    DeveloperCode,
    /// The SSM registration number.
    RegistrationNo,
    /// The first user's e-mail.
    UserEmail,
}

/// What the developer services refuse, and their faults.
#[derive(Debug, thiserror::Error)]
pub enum DeveloperError {
    /// An identifier is registered already (409).
    #[error("{}", match .0 {
        Taken::DeveloperCode => "the developer code is already registered",
        Taken::RegistrationNo => "the SSM registration number is already registered",
        Taken::UserEmail => "this e-mail cannot be used; choose another or sign in",
    })]
    Taken(Taken),
    /// The caller's role may not do this (403).
    #[error("only {0} may do this")]
    Forbidden(&'static str),
    /// No such developer (404).
    #[error("developer {0} does not exist")]
    NotFound(String),
    /// The registration was decided already (409).
    #[error("developer {code} is already {status}")]
    NotPending {
        /// The company.
        code: String,
        /// Its status now.
        status: super::domain::DeveloperStatus,
    },
    /// The password checker is full (429).
    #[error("too many passwords are being checked right now; try again in a moment")]
    Busy,
    /// Too many registrations from this client address (429).
    #[error("too many registrations from this address; try again in an hour")]
    TooManyRegistrations,
    /// The code names a pending and a rejected claim (409).
    #[error(
        "developer code {0} names more than one claim (a pending and a rejected one); verify or reject the pending one first"
    )]
    AmbiguousClaim(String),
    /// No claim under this code that may be withdrawn (409).
    #[error("developer {0} has no pending or rejected registration to withdraw")]
    NotWithdrawable(String),
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for DeveloperError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<DeveloperError> for AppError {
    fn from(error: DeveloperError) -> Self {
        let detail = error.to_string();
        match error {
            DeveloperError::Taken(Taken::DeveloperCode) => Self::conflict("developer-exists", detail),
            DeveloperError::Taken(Taken::RegistrationNo) => Self::conflict("registration-no-exists", detail),
            DeveloperError::Taken(Taken::UserEmail) => Self::conflict("user-exists", detail),
            DeveloperError::Forbidden(_) => Self::Forbidden(detail),
            DeveloperError::NotFound(_) => Self::NotFound(detail),
            DeveloperError::NotPending { .. } => Self::conflict("developer-not-pending", detail),
            DeveloperError::Busy | DeveloperError::TooManyRegistrations => Self::TooManyRequests(detail),
            DeveloperError::NotWithdrawable(_) | DeveloperError::AmbiguousClaim(_) => {
                Self::conflict("developer-not-pending", detail)
            }
            DeveloperError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// Self-registrations one client address may make in an hour.
pub const REGISTRATIONS_PER_ADDRESS_PER_HOUR: i64 = 5;
/// Registrations in an hour after which retail is not mailed about each one
/// (they wait in the retail queue all the same).
pub const REGISTRATION_MAILS_PER_HOUR: i64 = 20;
const HOUR_MS: i64 = 3_600_000;

/// A company registers itself and its first user (a developer administrator)
/// from `client_address`: a claim, waiting for retail's verification. The
/// code must not be held (by a verified company or a pending claim); the SSM
/// number must not be a verified company's, but other pending claims may name
/// it (retail sees them side by side). Retail is told, up to
/// [`REGISTRATION_MAILS_PER_HOUR`].
///
/// # Errors
/// Too many from this address, a code, SSM number or user e-mail already
/// taken, or a fault.
pub async fn register(
    state: &AppState,
    registration: Registration,
    client_address: &str,
) -> Result<(), DeveloperError> {
    // The cheap refusals before the expensive hash.
    let now_ms = state.clock.now_ms();
    let (from_address, from_anywhere) =
        super::store::count_registrations(state.db.pool(), client_address, now_ms - HOUR_MS).await?;
    if from_address >= REGISTRATIONS_PER_ADDRESS_PER_HOUR {
        return Err(DeveloperError::TooManyRegistrations);
    }
    let mut connection = state.db.pool().acquire().await?;
    let verified_elsewhere =
        super::store::registration_no_verified(&mut connection, registration.developer.registration_no.as_str())
            .await?;
    drop(connection);
    if verified_elsewhere {
        return Err(DeveloperError::Taken(Taken::RegistrationNo));
    }
    let password_hash = state.hasher.hash(&registration.user_password).await.map_err(|error| match error {
        password::HashError::Busy => DeveloperError::Busy,
        password::HashError::Failed(cause) => DeveloperError::Internal(cause),
    })?;
    let developer = &registration.developer;
    let mut transaction = state.db.begin_write().await?;
    let new = super::store::NewRegistration {
        developer,
        address: registration.address.as_str(),
        state_code: registration.state.code(),
        postcode: registration.postcode.as_str(),
        contact_person: registration.contact_person.as_str(),
        phone: registration.phone.as_str(),
        tin: registration.tin.as_ref().map(super::domain::TaxId::as_str),
        sst_registration_no: registration.sst_registration_no.as_ref().map(super::domain::SstRegistration::as_str),
        client_address,
        now_ms,
    };
    let developer_id = match super::store::insert_pending(&mut transaction, &new).await {
        Ok(id) => id,
        // Only the code is unique among claims.
        Err(error) if is_unique_violation(&error) => return Err(DeveloperError::Taken(Taken::DeveloperCode)),
        Err(error) => return Err(error.into()),
    };
    let user = NewUser {
        email: registration.user_email.clone(),
        name: registration.user_name.clone(),
        language: registration.user_language,
        role: Role::DeveloperAdmin,
        developer_id: Some(developer_id),
    };
    match crate::auth::users::insert(
        &mut transaction,
        (&state.audit_key, REGISTRATION_ACTOR),
        &user,
        &password_hash,
        now_ms,
    )
    .await
    {
        // The notice was acknowledged with the registration (PDPA 2010).
        Ok(user_id) => crate::auth::store::set_privacy_acknowledged(&mut transaction, user_id, now_ms).await?,
        Err(AppError::Conflict { .. }) => return Err(DeveloperError::Taken(Taken::UserEmail)),
        Err(error) => return Err(anyhow::anyhow!("adding the first user: {error}").into()),
    }
    let subject = format!("developer:{}", developer.code);
    let after = json!({"code": developer.code.as_str(), "registration_no": developer.registration_no.as_str(), "status": "pending_verification"});
    let audit = crate::audit::Record {
        actor: REGISTRATION_ACTOR,
        action: "developer.register",
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    if from_anywhere >= REGISTRATION_MAILS_PER_HOUR {
        // A flood: retail finds these in the queue rather than in its mail.
        tracing::warn!(from_anywhere, "many registrations in the last hour; retail is not mailed about each");
    } else {
        tell_retail(&mut transaction, state, developer, now_ms).await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// Mails the retail team that a registration waits for them.
async fn tell_retail(
    connection: &mut sqlx::AnyConnection,
    state: &AppState,
    developer: &NewDeveloper,
    now_ms: i64,
) -> Result<(), DeveloperError> {
    let retail = crate::notify::recipients::team(&mut *connection, crate::notify::recipients::Team::Retail).await?;
    let facts = crate::notify::Facts {
        developer: format!("{} ({})", developer.code, developer.name.as_str()),
        ..Default::default()
    };
    let kind = crate::notify::MessageKind::RegistrationReceived;
    let message = crate::notify::Outgoing::new(kind, &facts, None, &state.public_url);
    crate::notify::enqueue(connection, &message, &retail, now_ms).await?;
    Ok(())
}

/// Retail's decision on a registration.
#[derive(Debug, Clone)]
pub enum Decision {
    /// The company may request quota.
    Verify,
    /// Refused, with the reason the company is told.
    Reject(Reference),
}

/// Retail verifies or rejects a company waiting for verification; the
/// company is told.
///
/// # Errors
/// Not retail, an unknown developer, one decided already, or a fault.
pub async fn decide(
    state: &AppState,
    caller: &ApiCaller,
    code: &DeveloperCode,
    decision: &Decision,
) -> Result<(), DeveloperError> {
    if !matches!(caller.role, Role::Retail | Role::Admin) {
        return Err(DeveloperError::Forbidden("the retail team"));
    }
    let (to, reason) = match decision {
        Decision::Verify => ("verified", None),
        Decision::Reject(reason) => ("rejected", Some(reason.as_str())),
    };
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let decided = match super::store::decide(&mut transaction, code, to, reason, now_ms).await {
        // A verified company holds this SSM number already.
        Err(error) if is_unique_violation(&error) => return Err(DeveloperError::Taken(Taken::RegistrationNo)),
        decided => decided?,
    };
    let Some(developer_id) = decided else {
        drop(transaction);
        let developer = super::store::find_by_code(state.db.pool(), code)
            .await?
            .ok_or_else(|| DeveloperError::NotFound(code.to_string()))?;
        return Err(DeveloperError::NotPending { code: code.to_string(), status: developer.status });
    };
    let (actor, subject) = (caller.actor(), format!("developer:{code}"));
    let verified = matches!(decision, Decision::Verify);
    let audit = crate::audit::Record {
        actor: &actor,
        action: if verified { "developer.verify" } else { "developer.reject" },
        subject: &subject,
        before: Some(json!({"status": "pending_verification"})),
        after: Some(json!({"status": to, "reason": reason})),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    let recipients = crate::notify::recipients::developer(&mut transaction, developer_id).await?;
    let facts =
        crate::notify::Facts { developer: code.to_string(), detail: reason.map(str::to_owned), ..Default::default() };
    let kind = if verified {
        crate::notify::MessageKind::RegistrationVerified
    } else {
        crate::notify::MessageKind::RegistrationRejected
    };
    let message = crate::notify::Outgoing::new(kind, &facts, None, &state.public_url);
    crate::notify::enqueue(&mut transaction, &message, &recipients, now_ms).await?;
    transaction.commit().await?;
    Ok(())
}

/// Retail withdraws a pending or rejected registration under `code`, with a
/// reason: the claim is released at once (its code and SSM number are free to
/// register again) and so are its users' e-mail addresses (the users are
/// deactivated, their sessions and tokens end on every node). Audited with
/// the addresses released.
///
/// # Errors
/// Not retail, no such claim, or a fault.
pub async fn withdraw(
    state: &AppState,
    caller: &ApiCaller,
    code: &DeveloperCode,
    reason: &Reference,
) -> Result<(), DeveloperError> {
    if !matches!(caller.role, Role::Retail | Role::Admin) {
        return Err(DeveloperError::Forbidden("the retail team"));
    }
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let mut claims = super::store::withdrawable_claims(&mut transaction, code).await?;
    // A rejected claim frees its code, so a new one may name it too: then the
    // code alone does not say which to withdraw, and nothing is.
    if claims.len() > 1 {
        return Err(DeveloperError::AmbiguousClaim(code.to_string()));
    }
    let claim = claims.pop().ok_or_else(|| DeveloperError::NotWithdrawable(code.to_string()))?;
    let actor = caller.actor();
    let key = &state.audit_key;
    release(&mut transaction, key, &claim, DeveloperStatus::Withdrawn, reason.as_str(), &actor, now_ms).await?;
    transaction.commit().await?;
    state.token_cache.clear();
    Ok(())
}

/// Releases a claim (withdrawn or expired) and its users, with its audit
/// record, in the caller's transaction; announces the access change.
async fn release(
    connection: &mut sqlx::AnyConnection,
    key: &crate::audit::Key,
    claim: &super::store::Claim,
    to: DeveloperStatus,
    reason: &str,
    actor: &str,
    now_ms: i64,
) -> Result<bool, DeveloperError> {
    if !super::store::release_claim(&mut *connection, claim, to, reason, now_ms).await? {
        return Ok(false);
    }
    let released = crate::auth::store::release_company_users(&mut *connection, claim.id, now_ms).await?;
    let audit = crate::audit::Record {
        actor,
        action: if to == DeveloperStatus::Withdrawn { "developer.withdraw" } else { "developer.expire" },
        subject: &format!("developer:{}", claim.code),
        before: Some(
            json!({"id": claim.id, "status": claim.status.as_str(), "registration_no": claim.registration_no, "users": released}),
        ),
        after: Some(json!({"status": to.as_str(), "reason": reason})),
        at_ms: now_ms,
    };
    crate::audit::record(&mut *connection, key, &audit).await?;
    crate::db::announce_access_change(connection).await?;
    Ok(true)
}

/// Expires every claim left unverified for the setting
/// `registration_expiry_days`; returns how many. Run by a background sweep on every node (a claim released by one is
/// skipped by the others).
///
/// # Errors
/// A fault.
pub async fn expire_claims(state: &AppState) -> Result<usize, DeveloperError> {
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let days = crate::settings::load_in(&mut transaction).await?.registration_expiry_days;
    let stale = super::store::stale_claims(&mut transaction, now_ms - days * 24 * HOUR_MS).await?;
    let mut expired = 0;
    for claim in &stale {
        let reason = format!("not verified within {days} days");
        let (key, actor) = (&state.audit_key, "system:registration-expiry");
        if release(&mut transaction, key, claim, DeveloperStatus::Expired, &reason, actor, now_ms).await? {
            expired += 1;
        }
    }
    transaction.commit().await?;
    if expired > 0 {
        state.token_cache.clear();
    }
    Ok(expired)
}

/// Where a company is, for its e-invoices; each part given replaces what is
/// stored, each left out stays.
#[derive(Debug, Clone, Default)]
pub struct Whereabouts {
    /// Street address.
    pub address: Option<DisplayName>,
    /// Postcode.
    pub postcode: Option<Postcode>,
    /// State or federal territory.
    pub state: Option<StateCode>,
    /// Phone.
    pub phone: Option<Phone>,
}

/// The e-invoice particulars of a company.
///
/// # Errors
/// A fault.
pub async fn tax_identity(state: &AppState, developer_id: i64) -> Result<TaxIdentity, DeveloperError> {
    Ok(super::store::tax_identity(&mut *state.db.pool().acquire().await?, developer_id).await?)
}

/// The company's administrator, retail or an administrator records the
/// company's e-invoice particulars: TIN and SST registration number, and
/// any of its address, postcode, state and phone; audited with what they
/// were.
///
/// # Errors
/// Another role, or a fault.
pub async fn set_tax_identity(
    state: &AppState,
    caller: &ApiCaller,
    developer_id: i64,
    (tin, sst): (&super::domain::TaxId, &super::domain::SstRegistration),
    whereabouts: &Whereabouts,
) -> Result<TaxIdentity, DeveloperError> {
    if !matches!(caller.role, Role::DeveloperAdmin | Role::Retail | Role::Admin)
        || !caller.may_see_developer(developer_id)
    {
        return Err(DeveloperError::Forbidden("the company's administrator, the retail team or an administrator"));
    }
    let mut transaction = state.db.begin_write().await?;
    let before = super::store::tax_identity(&mut transaction, developer_id).await?;
    let given = TaxIdentity {
        tin: Some(tin.as_str().to_owned()),
        sst_registration_no: Some(sst.as_str().to_owned()),
        address: whereabouts.address.as_ref().map(|a| a.as_str().to_owned()),
        postcode: whereabouts.postcode.as_ref().map(|p| p.as_str().to_owned()),
        state_code: whereabouts.state.map(|s| s.code().to_owned()),
        phone: whereabouts.phone.as_ref().map(|p| p.as_str().to_owned()),
    };
    super::store::set_tax_identity(&mut transaction, developer_id, &given).await?;
    let after = super::store::tax_identity(&mut transaction, developer_id).await?;
    let actor = caller.actor();
    let record = crate::audit::Record {
        actor: &actor,
        action: "developer.tax_identity",
        subject: &format!("developer_id:{developer_id}"),
        before: Some(serde_json::json!(before)),
        after: Some(serde_json::json!(after)),
        at_ms: state.clock.now_ms(),
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    transaction.commit().await?;
    Ok(after)
}
