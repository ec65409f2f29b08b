//! Who receives what: a developer's users (each in their language, or the
//! company's contact address in Malay when it has no users yet), and the
//! retail and finance mailboxes from the settings.

use sqlx::{AnyConnection, Row};

use super::Recipient;
use crate::auth::users::Language;

/// The users of a developer company, or its contact address.
///
/// # Errors
/// A database fault.
pub async fn developer(connection: &mut AnyConnection, developer_id: i64) -> sqlx::Result<Vec<Recipient>> {
    let rows = sqlx::query("SELECT email, language FROM users WHERE developer_id = $1 ORDER BY id")
        .bind(developer_id)
        .fetch_all(&mut *connection)
        .await?;
    let mut recipients = rows
        .iter()
        .map(|row| {
            let language: String = row.try_get(1)?;
            Ok(Recipient { email: row.try_get(0)?, language: language.parse().unwrap_or(Language::Ms) })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    if recipients.is_empty() {
        let row = sqlx::query("SELECT email FROM developers WHERE id = $1")
            .bind(developer_id)
            .fetch_optional(connection)
            .await?;
        if let Some(row) = row {
            recipients.push(Recipient { email: row.try_get(0)?, language: Language::Ms });
        }
    }
    Ok(recipients)
}

/// Which Pos Digicert team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Team {
    /// The retail team's shared mailbox.
    Retail,
    /// The finance department.
    Finance,
}

/// A team's mailbox from the settings (Malay).
///
/// # Errors
/// A database fault.
pub async fn team(connection: &mut AnyConnection, team: Team) -> sqlx::Result<Vec<Recipient>> {
    let row = sqlx::query("SELECT value FROM settings WHERE name = 'settings'").fetch_optional(connection).await?;
    let settings: crate::settings::Settings = match row {
        Some(row) => serde_json::from_str(&row.try_get::<String, _>(0)?).unwrap_or_default(),
        None => crate::settings::Settings::default(),
    };
    let email = match team {
        Team::Retail => settings.retail_email,
        Team::Finance => settings.finance_email,
    };
    Ok(vec![Recipient { email, language: Language::Ms }])
}
