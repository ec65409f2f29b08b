//! The outbox worker: claims one due message at a time with a guarded UPDATE
//! (so two nodes never take the same row), sends it over SMTP with its fixed
//! Message-ID, and on failure schedules a retry with exponential backoff
//! until the message is two days old, then marks it failed.

use std::time::Duration;

use super::store::ClaimedMessage;
use crate::blob::BlobStore;
use crate::clock::Clock;
use crate::db::Db;
use crate::notify::Attachment;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long a claimed row is reserved for its sender: well beyond the
/// longest send (every SMTP command times out after [`SMTP_TIMEOUT`]).
pub const CLAIM_MS: i64 = 10 * 60_000;
/// Longest wait for one SMTP command.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait between two tries of one message.
pub const RETRY_MAX_MS: i64 = 3_600_000;
/// How long a message is retried before it is marked failed.
pub const GIVE_UP_AFTER_MS: i64 = 48 * 3_600_000;
/// Pause when nothing is due.
const IDLE: Duration = Duration::from_millis(500);

/// How the worker sends.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:port`, `smtps://user:pass@host`, …
    pub smtp_url: String,
    /// The From address.
    pub from: String,
    /// First retry delay; doubles with every failure.
    pub retry_base_ms: i64,
    /// The portal's address, for password links.
    pub public_url: String,
}

/// The wait after the `attempts`-th failure: base × 2^(attempts−1), at most an hour.
#[must_use]
pub fn backoff_ms(retry_base_ms: i64, attempts: i64) -> i64 {
    let exponent = u32::try_from(attempts.clamp(1, 30) - 1).unwrap_or(0);
    retry_base_ms.saturating_mul(2_i64.saturating_pow(exponent)).min(RETRY_MAX_MS)
}

/// Sends due messages until the node stops.
///
/// # Errors
/// The SMTP URL is not usable (checked at start).
pub fn spawn(
    db: Db,
    (clock, blobs, jobs): (std::sync::Arc<dyn Clock>, BlobStore, crate::jobs::Jobs),
    settings: MailSettings,
) -> anyhow::Result<()> {
    let transport =
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)?.timeout(Some(SMTP_TIMEOUT)).build();
    let from: Mailbox = settings.from.parse().map_err(|e| anyhow::anyhow!("KUOTA_MAIL_FROM: {e}"))?;
    tokio::spawn(async move {
        loop {
            // A message being sent when the node stops is sent and recorded first.
            let Some(busy) = jobs.start_item() else { break };
            let sender = Sender {
                db: &db,
                clock: clock.as_ref(),
                blobs: &blobs,
                transport: &transport,
                from: &from,
                public_url: &settings.public_url,
            };
            let sent = sender.send_next(settings.retry_base_ms).await;
            drop(busy);
            match sent {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(IDLE).await,
                Err(error) => {
                    tracing::warn!(error = %error, "outbox worker");
                    tokio::time::sleep(IDLE).await;
                }
            }
        }
    });
    Ok(())
}

/// What sending needs.
struct Sender<'a> {
    db: &'a Db,
    clock: &'a dyn Clock,
    blobs: &'a BlobStore,
    transport: &'a AsyncSmtpTransport<Tokio1Executor>,
    from: &'a Mailbox,
    public_url: &'a str,
}

impl Sender<'_> {
    /// Claims and sends one due message; false when none is due.
    async fn send_next(&self, retry_base_ms: i64) -> anyhow::Result<bool> {
        let db = self.db;
        let now_ms = self.clock.now_ms();
        let claimed = super::store::claim_next_outbox(db.pool(), now_ms + CLAIM_MS, now_ms).await?;
        // A failure is recorded only while the claim is still ours.
        let claim = now_ms + CLAIM_MS;
        let Some(row) = claimed else { return Ok(false) };
        let id = row.id;
        let (attempts, created_at) = (row.attempts, row.created_at_ms);
        let result = match self.build(&row).await {
            Ok(message) => {
                self.transport.send(message).await.map(|_| ()).map_err(|e| (e.to_string(), e.is_permanent()))
            }
            Err(error) => Err(error),
        };
        let now_ms = self.clock.now_ms();
        match result {
            Ok(()) => {
                // Sent is a fact whoever holds the claim now; a late sender says so.
                if self.clock.now_ms() > claim {
                    tracing::warn!(id, "a message was sent after its claim ran out; another node may have sent it too");
                }
                super::store::mark_outbox_sent(db.pool(), id, now_ms).await?;
            }
            Err((error, permanent)) if permanent || now_ms - created_at > GIVE_UP_AFTER_MS => {
                tracing::error!(id, error = %error, "giving up on a message");
                super::store::mark_outbox_failed(db.pool(), id, claim, &error, now_ms).await?;
            }
            Err((error, _)) => {
                super::store::reschedule_outbox(
                    db.pool(),
                    id,
                    claim,
                    &error,
                    now_ms + backoff_ms(retry_base_ms, attempts),
                )
                .await?;
            }
        }
        Ok(true)
    }

    /// The message of a claimed row; the error says whether retrying can help.
    async fn build(&self, row: &ClaimedMessage) -> Result<Message, (String, bool)> {
        let to: Mailbox = row.recipient.parse().map_err(|e| (format!("recipient: {e}"), true))?;
        let attachments: Vec<Attachment> =
            serde_json::from_str(&row.attachments).map_err(|e| (format!("attachments: {e}"), true))?;
        let link = self.password_link(row).await?;
        let with_link = |text: &str| match &link {
            Some(url) => text.replace(super::PASSWORD_LINK_PLACEHOLDER, url),
            None => text.to_owned(),
        };
        let body = MultiPart::alternative_plain_html(with_link(&row.body_text), with_link(&row.body_html));
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(with_link(&row.subject))
            .message_id(Some(row.message_id.clone()));
        if attachments.is_empty() {
            return builder.multipart(body).map_err(|e| (e.to_string(), true));
        }
        let mut mixed = MultiPart::mixed().multipart(body);
        for attachment in attachments {
            mixed = mixed.singlepart(self.file(attachment).await?);
        }
        builder.multipart(mixed).map_err(|e| (e.to_string(), true))
    }

    /// Makes the message's password link, if it carries one: a new token,
    /// stored only as its SHA-256, so the clear token exists in the sent mail
    /// alone. A retry makes another; an unsent one expires unused.
    async fn password_link(&self, row: &ClaimedMessage) -> Result<Option<String>, (String, bool)> {
        let Some(json) = &row.password_link else { return Ok(None) };
        let link: super::PasswordLink =
            serde_json::from_str(json).map_err(|e| (format!("password link: {e}"), true))?;
        let token = crate::auth::token::generate().map_err(|e| (e.to_string(), false))?;
        let now_ms = self.clock.now_ms();
        let mut connection = self.db.pool().acquire().await.map_err(|e| (e.to_string(), false))?;
        crate::auth::store::insert_password_link(
            &mut connection,
            &crate::auth::token::hash(&token),
            link.user_id,
            &link.purpose,
            now_ms,
            now_ms + link.ttl_ms,
        )
        .await
        .map_err(|e| (format!("password link: {e}"), false))?;
        Ok(Some(format!("{}/password/reset?token={token}", self.public_url.trim_end_matches('/'))))
    }

    /// One attached PDF. A missing document or blob is retried: it may be a
    /// fault of the moment (a full disk, a render that failed).
    async fn file(&self, attachment: Attachment) -> Result<SinglePart, (String, bool)> {
        let pdf = ContentType::parse("application/pdf").map_err(|e| (e.to_string(), true))?;
        let (filename, bytes) = match attachment {
            Attachment::Document { number } => {
                let document = crate::documents::fetch(self.db, self.blobs, &number, self.clock.now_ms())
                    .await
                    .map_err(|e| (format!("document {number}: {e}"), false))?
                    .ok_or_else(|| (format!("document {number} does not exist"), false))?;
                (format!("{number}.pdf"), document.bytes)
            }
            Attachment::Procedure { filename, sha256 } => {
                let bytes =
                    self.blobs.get(&sha256).await.map_err(|e| (format!("attachment {filename}: {e}"), false))?;
                (filename, bytes)
            }
        };
        Ok(lettre::message::Attachment::new(filename).body(bytes, pdf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(backoff_ms(5_000, 1), 5_000);
        assert_eq!(backoff_ms(5_000, 2), 10_000);
        assert_eq!(backoff_ms(5_000, 5), 80_000);
        assert_eq!(backoff_ms(5_000, 40), RETRY_MAX_MS);
    }
}
