//! Users: people with a role and their personal API tokens (signing in is
//! `auth::service`).

use sqlx::{AnyConnection, AnyPool};

use super::{Role, token};
use crate::db::is_unique_violation;
use crate::developer::{DisplayName, EmailAddress};
use crate::error::{AppError, AppResult};

/// The language a user reads kuota in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Bahasa Melayu (the default).
    Ms,
    /// English.
    En,
}

impl Language {
    /// The stored code.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ms => "ms",
            Self::En => "en",
        }
    }
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ms" => Ok(Self::Ms),
            "en" => Ok(Self::En),
            other => Err(format!("unknown language {other:?}; expected ms or en")),
        }
    }
}

/// A user to create, validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in address.
    pub email: EmailAddress,
    /// Full name.
    pub name: DisplayName,
    /// Language of pages and mail.
    pub language: Language,
    /// Role.
    pub role: Role,
    /// Company, for developer roles (required for them, refused for others).
    pub developer_id: Option<i64>,
}

/// Inserts a user with an already hashed password; a taken e-mail is a 409.
///
/// # Errors
/// Conflict, a role/company mismatch (400), or a database fault.
pub async fn insert(
    connection: &mut AnyConnection,
    user: &NewUser,
    password_hash: &str,
    now_ms: i64,
) -> AppResult<i64> {
    if user.role.is_developer() != user.developer_id.is_some() {
        return Err(AppError::invalid_field(
            "developer",
            "developer roles need a developer company, and only they may have one",
        ));
    }
    let result = super::store::insert_user(&mut *connection, user, password_hash, now_ms).await;
    match result {
        Ok(id) => {
            let subject = format!("user:{id}");
            let after = serde_json::json!({"email": user.email.as_str(), "role": user.role.as_str(), "developer_id": user.developer_id});
            let audit = crate::audit::Record {
                actor: "admin",
                action: "user.create",
                subject: &subject,
                before: None,
                after: Some(after),
                at_ms: now_ms,
            };
            crate::audit::record(connection, &audit).await?;
            Ok(id)
        }
        Err(error) if is_unique_violation(&error) => {
            Err(AppError::conflict("user-exists", format!("a user with e-mail {} already exists", user.email.as_str())))
        }
        Err(error) => Err(error.into()),
    }
}

/// Creates a personal token for a user; returns it (shown once).
///
/// # Errors
/// A database fault, or no randomness.
pub async fn create_token(pool: &AnyPool, user_id: i64, now_ms: i64) -> anyhow::Result<String> {
    let secret = token::generate()?;
    super::store::insert_user_token(pool, user_id, &token::hash(&secret), now_ms).await?;
    let subject = format!("user:{user_id}");
    let audit = crate::audit::Record {
        actor: &subject,
        action: "user_token.create",
        subject: &subject,
        before: None,
        after: None,
        at_ms: now_ms,
    };
    crate::audit::record_alone(pool, &audit).await?;
    Ok(secret)
}
