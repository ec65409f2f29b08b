//! Seed step 1 as services: a company registers itself with its first user
//! and waits; retail verifies or rejects it. Each decides and writes in one
//! transaction with its audit record and its mail.

use serde_json::json;

use super::domain::{Phone, Postcode, StateCode};
use super::{DeveloperCode, DisplayName, EmailAddress, NewDeveloper, RegistrationNo};
use crate::auth::users::{Language, NewUser};
use crate::auth::{ApiCaller, Role, password};
use crate::db::is_unique_violation;
use crate::error::{AppError, FieldError};
use crate::ledger::Reference;
use crate::state::AppState;

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
            DeveloperError::Busy => Self::TooManyRequests(detail),
            DeveloperError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// A company registers itself and its first user (a developer administrator);
/// it waits for retail's verification, and retail is told.
///
/// # Errors
/// A code, SSM number or user e-mail already taken, or a fault.
pub async fn register(state: &AppState, registration: Registration) -> Result<(), DeveloperError> {
    let password_hash = state.hasher.hash(&registration.user_password).await.map_err(|error| match error {
        password::HashError::Busy => DeveloperError::Busy,
        password::HashError::Failed(cause) => DeveloperError::Internal(cause),
    })?;
    let developer = &registration.developer;
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let new = super::store::NewRegistration {
        developer,
        address: registration.address.as_str(),
        state_code: registration.state.code(),
        postcode: registration.postcode.as_str(),
        contact_person: registration.contact_person.as_str(),
        phone: registration.phone.as_str(),
        now_ms,
    };
    let developer_id = match super::store::insert_pending(&mut transaction, &new).await {
        Ok(id) => id,
        Err(error) if is_unique_violation(&error) => {
            drop(transaction);
            let code_taken = super::store::find_by_code(state.db.pool(), &developer.code).await?.is_some();
            return Err(DeveloperError::Taken(if code_taken { Taken::DeveloperCode } else { Taken::RegistrationNo }));
        }
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
        Ok(_) => {}
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
    let retail = crate::notify::recipients::team(&mut transaction, crate::notify::recipients::Team::Retail).await?;
    let facts = crate::notify::Facts {
        developer: format!("{} ({})", developer.code, developer.name.as_str()),
        ..Default::default()
    };
    let kind = crate::notify::MessageKind::RegistrationReceived;
    let message = crate::notify::Outgoing::new(kind, &facts, None, &state.public_url);
    crate::notify::enqueue(&mut transaction, &message, &retail, now_ms).await?;
    transaction.commit().await?;
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
    let Some(developer_id) = super::store::decide(&mut transaction, code, to, reason, now_ms).await? else {
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
