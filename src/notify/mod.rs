//! Telling each party what to do next, by e-mail, in their own language,
//! without ever losing a message: messages are written to the outbox in the
//! same transaction as the event that causes them ([`enqueue`]) and sent by
//! [`worker`], which claims rows in the database so several nodes never send
//! the same row, and retries with backoff for two days.

pub mod copy;
pub mod recipients;
pub mod reminders;
pub mod store;
pub mod worker;

use askama::Template;
use sqlx::AnyConnection;

use crate::auth::users::Language;
pub use copy::{Facts, MessageKind};

/// A rendered message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlMessage<'a> {
    lang: &'a str,
    subject: &'a str,
    paragraphs: &'a [String],
    next_action: &'a str,
    link: &'a str,
    link_label: &'a str,
    footer: &'a str,
}

/// Renders a message: the words from [`copy::copy`] (subject, paragraphs,
/// next action, link label and footer, all from the locale files), a link to the portal.
///
/// # Errors
/// The HTML template failed (it cannot for these inputs; reported, not hidden).
pub fn render(
    kind: MessageKind,
    language: Language,
    facts: &Facts,
    portal_url: &str,
) -> Result<Rendered, askama::Error> {
    let words = copy::copy(kind, language, facts);
    let html = HtmlMessage {
        lang: language.as_str(),
        subject: &words.subject,
        paragraphs: &words.paragraphs,
        next_action: &words.next_action,
        link: portal_url,
        link_label: &words.link_label,
        footer: &words.footer,
    }
    .render()?;
    let text = format!(
        "{}\n\n{}\n\n{}\n{portal_url}\n\n-- \n{}\n",
        words.subject,
        words.paragraphs.join("\n\n"),
        words.next_action,
        words.footer
    );
    Ok(Rendered { subject: words.subject, text, html })
}

/// One recipient with their language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Address.
    pub email: String,
    /// Language.
    pub language: Language,
}

/// A file that goes with a message, resolved when the message is sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attachment {
    /// An issued document (quotation, invoice, delivery order), by number;
    /// rendered on first need, the same bytes ever after.
    Document {
        /// Document number.
        number: String,
    },
    /// A procedure file, pinned to the version current when the message was written.
    Procedure {
        /// File name shown to the recipient.
        filename: String,
        /// Blob store key.
        sha256: String,
    },
}

/// A message to write to the outbox: what happened, about which request,
/// with which files.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// Which message.
    pub kind: MessageKind,
    /// What it is about.
    pub facts: &'a Facts,
    /// The request it concerns, if any.
    pub request_id: Option<i64>,
    /// The portal's address, for the link.
    pub portal_url: &'a str,
    /// Files that go with it.
    pub attachments: Vec<Attachment>,
    /// A single-use password link to make when the mail is sent.
    pub password_link: Option<PasswordLink>,
}

impl<'a> Outgoing<'a> {
    /// A message without attachments.
    #[must_use]
    pub fn new(kind: MessageKind, facts: &'a Facts, request_id: Option<i64>, portal_url: &'a str) -> Self {
        Self { kind, facts, request_id, portal_url, attachments: Vec::new(), password_link: None }
    }

    /// A message carrying a password link: its token is made by the worker
    /// when it sends the mail and exists in clear nowhere but in that mail.
    #[must_use]
    pub fn with_password_link(kind: MessageKind, facts: &'a Facts, link: PasswordLink) -> Self {
        Self { password_link: Some(link), ..Self::new(kind, facts, None, PASSWORD_LINK_PLACEHOLDER) }
    }
}

/// Stands for the password link in a stored message until it is sent.
pub const PASSWORD_LINK_PLACEHOLDER: &str = "kuota-password-link:pending";

/// The password link a message is to carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordLink {
    /// Whose password it sets.
    pub user_id: i64,
    /// `reset` or `invitation`.
    pub purpose: String,
    /// How long it works after it is sent.
    pub ttl_ms: i64,
}

/// Writes one message per recipient to the outbox, inside the caller's
/// transaction.
///
/// # Errors
/// A database fault.
pub async fn enqueue(
    connection: &mut AnyConnection,
    message: &Outgoing<'_>,
    recipients: &[Recipient],
    now_ms: i64,
) -> anyhow::Result<()> {
    let attachments = serde_json::to_string(&message.attachments).map_err(|e| anyhow::anyhow!("attachments: {e}"))?;
    let password_link = message.password_link.as_ref().map(serde_json::to_string).transpose()?;
    for recipient in recipients {
        let rendered = render(message.kind, recipient.language, message.facts, message.portal_url)
            .map_err(|e| anyhow::anyhow!("rendering mail: {e}"))?;
        let token = crate::auth::token::generate()?;
        let message_id = format!("<{}.{now_ms}@kuota.posdigicert.com.my>", &token[token.len() - 24..]);
        let row = store::NewOutboxMessage {
            kind: message.kind.as_str(),
            recipient: &recipient.email,
            language: recipient.language.as_str(),
            subject: &rendered.subject,
            body_text: &rendered.text,
            body_html: &rendered.html,
            message_id: &message_id,
            request_id: message.request_id,
            attachments: &attachments,
            password_link: password_link.as_deref(),
        };
        store::insert_outbox(&mut *connection, &row, now_ms).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped_in_html_and_kept_in_text() -> Result<(), askama::Error> {
        let facts = Facts {
            request_number: "REQ-2026-000001".into(),
            developer: "<script>alert(1)</script> \"Maju\" & Co".into(),
            detail: Some("天宇 ' reason".into()),
            reference: None,
            lines: Vec::new(),
        };
        let mail = render(MessageKind::RequestSubmitted, Language::Ms, &facts, "https://kuota.example")?;
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&#60;script&#62;"), "escaped, not dropped");
        assert!(mail.text.contains("<script>alert(1)</script>"));
        assert!(mail.subject.contains("REQ-2026-000001"));
        Ok(())
    }

    #[test]
    fn every_kind_has_words_in_both_languages_naming_the_request() {
        let facts = Facts {
            request_number: "REQ-2026-000009".into(),
            developer: "PMJ-1".into(),
            detail: Some("x".into()),
            reference: Some("QT-1".into()),
            lines: Vec::new(),
        };
        for kind in [
            MessageKind::RequestSubmitted,
            MessageKind::InfoRequested,
            MessageKind::QuotationIssued,
            MessageKind::PaymentSubmitted,
            MessageKind::PaymentRejected,
            MessageKind::QuotaCredited,
            MessageKind::InvoiceDue,
            MessageKind::InvoiceIssued,
            MessageKind::RequestCancelled,
            MessageKind::QuotationExpiring,
        ] {
            let ms = copy::copy(kind, Language::Ms, &facts);
            let en = copy::copy(kind, Language::En, &facts);
            assert_ne!(ms.subject, en.subject, "{kind:?}");
            assert!(ms.subject.contains("REQ-2026-000009") && en.subject.contains("REQ-2026-000009"), "{kind:?}");
        }
    }
}
