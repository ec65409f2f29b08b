//! Who receives what: a developer's users (each in their language, or the
//! company's contact address in Malay when it has no users yet), and the
//! retail and finance mailboxes from the settings.

use sqlx::AnyConnection;

use super::Recipient;
use crate::auth::users::Language;

/// The users of a developer company, or its contact address.
///
/// # Errors
/// A database fault.
pub async fn developer(connection: &mut AnyConnection, developer_id: i64) -> sqlx::Result<Vec<Recipient>> {
    let rows = super::store::developer_user_addresses(&mut *connection, developer_id).await?;
    let mut recipients = rows
        .into_iter()
        .map(|(email, language)| Recipient { email, language: language.parse().unwrap_or(Language::Ms) })
        .collect::<Vec<_>>();
    if recipients.is_empty() {
        if let Some(email) = super::store::developer_contact_email(connection, developer_id).await? {
            recipients.push(Recipient { email, language: Language::Ms });
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
    let settings = crate::settings::load_in(connection).await?;
    let email = match team {
        Team::Retail => settings.retail_email,
        Team::Finance => settings.finance_email,
    };
    Ok(vec![Recipient { email, language: Language::Ms }])
}
