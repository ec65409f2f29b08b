//! The words of every message, in Malay and English. The words themselves
//! live beside the portal's in `locales/*.ftl` (keys `mail-<kind>-subject`,
//! `-body` and `-next`) and go through the same Fluent bundles
//! ([`Words`]); this module only picks the keys and names the values, so a
//! translator sees `{ $reason }`, not `{ $detail }`. Values that come from
//! people (names, reasons) are plain text here; the HTML page escapes them.

use crate::auth::users::Language;
use crate::i18n::Words;
use crate::request::domain::Status;

/// Which message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A developer registered (to retail).
    RegistrationReceived,
    /// Registration verified (to the developer).
    RegistrationVerified,
    /// Registration rejected, with the reason (to the developer).
    RegistrationRejected,
    /// A request was submitted (to retail).
    RequestSubmitted,
    /// Retail asks for details (to the developer).
    InfoRequested,
    /// The developer answered (to retail).
    InfoResponded,
    /// A quotation was issued (to the developer).
    QuotationIssued,
    /// A payment was submitted (to retail).
    PaymentSubmitted,
    /// A payment was rejected, with the reason (to the developer).
    PaymentRejected,
    /// Quota was credited (to the developer).
    QuotaCredited,
    /// Quota was credited; invoice and DO to issue (to finance).
    InvoiceDue,
    /// Invoice and DO issued (to the developer).
    InvoiceIssued,
    /// The request was cancelled (to the developer and retail).
    RequestCancelled,
    /// The quotation runs out within 3 working days (to the developer).
    QuotationExpiring,
    /// Steps past their due date (daily, to retail and to finance).
    OverdueDigest,
    /// A product's available balance fell to the threshold (to the developer).
    LowBalance,
    /// A product's available balance reached zero (to the developer).
    ZeroBalance,
    /// A link to set a new password (to the user who asked).
    PasswordReset,
    /// An invitation to a company's account, with a link to set a password.
    Invitation,
    /// An online payment arrived that cannot be credited by itself (to retail).
    OnlinePaymentNeedsDecision,
    /// Reconciliation with the payment gateway found differences (to retail
    /// and finance), one per line.
    PaymentReconciliation,
}

impl MessageKind {
    /// Every kind, in the order above.
    pub const ALL: [Self; 21] = [
        Self::RegistrationReceived,
        Self::RegistrationVerified,
        Self::RegistrationRejected,
        Self::RequestSubmitted,
        Self::InfoRequested,
        Self::InfoResponded,
        Self::QuotationIssued,
        Self::PaymentSubmitted,
        Self::PaymentRejected,
        Self::QuotaCredited,
        Self::InvoiceDue,
        Self::InvoiceIssued,
        Self::RequestCancelled,
        Self::QuotationExpiring,
        Self::OverdueDigest,
        Self::LowBalance,
        Self::ZeroBalance,
        Self::PasswordReset,
        Self::Invitation,
        Self::OnlinePaymentNeedsDecision,
        Self::PaymentReconciliation,
    ];

    /// The stored name, also the middle of its locale keys (`mail-<name>-subject`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegistrationReceived => "registration_received",
            Self::RegistrationVerified => "registration_verified",
            Self::RegistrationRejected => "registration_rejected",
            Self::RequestSubmitted => "request_submitted",
            Self::InfoRequested => "info_requested",
            Self::InfoResponded => "info_responded",
            Self::QuotationIssued => "quotation_issued",
            Self::PaymentSubmitted => "payment_submitted",
            Self::PaymentRejected => "payment_rejected",
            Self::QuotaCredited => "quota_credited",
            Self::InvoiceDue => "invoice_due",
            Self::InvoiceIssued => "invoice_issued",
            Self::RequestCancelled => "request_cancelled",
            Self::QuotationExpiring => "quotation_expiring",
            Self::OverdueDigest => "overdue_digest",
            Self::LowBalance => "low_balance",
            Self::ZeroBalance => "zero_balance",
            Self::PasswordReset => "password_reset",
            Self::Invitation => "invitation",
            Self::OnlinePaymentNeedsDecision => "online_payment_needs_decision",
            Self::PaymentReconciliation => "payment_reconciliation",
        }
    }
}

/// What the message is about.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Request number, e.g. `REQ-2026-000001`.
    pub request_number: String,
    /// Developer code and name.
    pub developer: String,
    /// A reason or message from a person.
    pub detail: Option<String>,
    /// A document number or amount worth naming.
    pub reference: Option<String>,
    /// Items listed one per line (the overdue digest).
    pub lines: Vec<String>,
}

/// Subject, paragraphs, the call to action and the frame of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Subject line.
    pub subject: String,
    /// Paragraphs of plain text.
    pub paragraphs: Vec<String>,
    /// The next action, as a sentence.
    pub next_action: String,
    /// The words on the link to the portal.
    pub link_label: String,
    /// The closing line under every message.
    pub footer: String,
}

/// The words of `kind` in `language` about `facts`.
#[must_use]
pub fn copy(kind: MessageKind, language: Language, facts: &Facts) -> Copy {
    let words = Words::new(language);
    // A late payment's problem is stored as a code; its words are the reader's.
    let translated;
    let facts = match (kind, &facts.detail) {
        (MessageKind::OnlinePaymentNeedsDecision, Some(code)) if words.has(&format!("online-problem-{code}")) => {
            translated = Facts { detail: Some(words.t(&format!("online-problem-{code}"))), ..facts.clone() };
            &translated
        }
        _ => facts,
    };
    let values = values(kind, facts);
    let text = |part: &str| words.f(&format!("mail-{}-{part}", kind.as_str()), values);
    let mut paragraphs = vec![text("body")];
    paragraphs.extend(facts.lines.iter().cloned());
    Copy {
        subject: text("subject"),
        paragraphs,
        next_action: text("next"),
        link_label: words.t("mail-link"),
        footer: words.t("mail-footer"),
    }
}

/// What `kind`'s words call [`Facts::detail`] and [`Facts::reference`].
/// A count (`units`, `steps`) is passed as an integer string, which
/// [`Words::f`] hands to Fluent as a number for its plurals.
fn value_names(kind: MessageKind) -> (&'static str, &'static str) {
    match kind {
        MessageKind::RegistrationRejected | MessageKind::PaymentRejected | MessageKind::RequestCancelled => {
            ("reason", "reference")
        }
        MessageKind::InfoRequested | MessageKind::InfoResponded => ("message", "reference"),
        MessageKind::QuotationIssued => ("summary", "quotation"),
        MessageKind::PaymentSubmitted => ("detail", "payment"),
        MessageKind::InvoiceIssued => ("delivery", "invoice"),
        MessageKind::QuotationExpiring => ("date", "quotation"),
        MessageKind::OverdueDigest => ("date", "steps"),
        MessageKind::LowBalance => ("units", "product"),
        MessageKind::ZeroBalance => ("detail", "product"),
        MessageKind::Invitation => ("inviter", "reference"),
        MessageKind::OnlinePaymentNeedsDecision => ("problem", "bill"),
        MessageKind::PaymentReconciliation => ("date", "findings"),
        MessageKind::RegistrationReceived
        | MessageKind::RegistrationVerified
        | MessageKind::RequestSubmitted
        | MessageKind::QuotaCredited
        | MessageKind::InvoiceDue
        | MessageKind::PasswordReset => ("detail", "reference"),
    }
}

/// Every value `kind`'s words may use; an absent one is empty text.
fn values(kind: MessageKind, facts: &Facts) -> [(&'static str, &str); 4] {
    let (detail, reference) = value_names(kind);
    [
        ("number", facts.request_number.as_str()),
        ("developer", facts.developer.as_str()),
        (detail, facts.detail.as_deref().unwrap_or_default()),
        (reference, facts.reference.as_deref().unwrap_or_default()),
    ]
}

/// One step past its due date, as the overdue digest lists it.
#[derive(Debug, Clone, Copy)]
pub struct OverdueStep<'a> {
    /// Request number.
    pub number: &'a str,
    /// Developer code.
    pub developer: &'a str,
    /// The request's status, which says what its owner has to do.
    pub status: Status,
    /// The due date as people read it (`03/12/2026`).
    pub due: &'a str,
    /// Working days past the due date.
    pub working_days_late: i64,
}

/// One line of the overdue digest in `language`.
#[must_use]
pub fn overdue_line(language: Language, step: &OverdueStep<'_>) -> String {
    let words = Words::new(language);
    let awaiting = match step.status {
        Status::Submitted | Status::PaymentSubmitted | Status::Credited => step.status.as_str(),
        _ => "other",
    };
    let awaiting = words.t(&format!("mail-awaiting-{awaiting}"));
    let days = step.working_days_late.to_string();
    let values = [
        ("number", step.number),
        ("developer", step.developer),
        ("awaiting", awaiting.as_str()),
        ("due", step.due),
        ("days", days.as_str()),
    ];
    words.f("mail-overdue_digest-line", values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LANGUAGES: [Language; 2] = [Language::Ms, Language::En];

    fn full_facts() -> Facts {
        Facts {
            request_number: "REQ-2026-000009".into(),
            developer: "PMJ-1".into(),
            detail: Some("2".into()),
            reference: Some("QT-2026-000001".into()),
            lines: vec!["REQ-2026-000009 · PMJ-1".into()],
        }
    }

    #[test]
    fn every_mail_key_exists_in_both_languages() {
        let mut keys = vec!["mail-link".to_owned(), "mail-footer".to_owned(), "mail-overdue_digest-line".to_owned()];
        for kind in MessageKind::ALL {
            keys.extend(["subject", "body", "next"].map(|part| format!("mail-{}-{part}", kind.as_str())));
        }
        keys.extend(["submitted", "payment_submitted", "credited", "other"].map(|s| format!("mail-awaiting-{s}")));
        for language in LANGUAGES {
            let missing: Vec<&String> = keys.iter().filter(|key| !Words::new(language).has(key)).collect();
            assert!(missing.is_empty(), "{language:?} lacks {missing:?}");
        }
    }

    #[test]
    fn no_kind_in_either_language_renders_a_missing_key_or_value() {
        for facts in [full_facts(), Facts::default()] {
            for kind in MessageKind::ALL {
                for language in LANGUAGES {
                    let copy = copy(kind, language, &facts);
                    let all = [&copy.subject, &copy.next_action, &copy.link_label, &copy.footer]
                        .into_iter()
                        .chain(&copy.paragraphs);
                    for text in all {
                        assert!(!text.contains('⟦') && !text.contains('{'), "{kind:?} {language:?}: {text}");
                        assert!(!text.trim().is_empty(), "{kind:?} {language:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn english_mail_counts_units_and_steps_in_the_singular_and_plural() {
        let subject = |kind, detail: &str, reference: &str, language| {
            let facts = Facts {
                developer: "PMJ-1".into(),
                detail: Some(detail.into()),
                reference: Some(reference.into()),
                ..Facts::default()
            };
            copy(kind, language, &facts).subject
        };
        let low = |units| subject(MessageKind::LowBalance, units, "CERT-1Y", Language::En);
        assert_eq!(low("1"), "Low CERT-1Y quota balance: 1 unit");
        assert_eq!(low("2"), "Low CERT-1Y quota balance: 2 units");
        assert_eq!(subject(MessageKind::LowBalance, "1", "CERT-1Y", Language::Ms), "Baki kuota CERT-1Y rendah: 1 unit");
        let digest = |steps| subject(MessageKind::OverdueDigest, "04/12/2026", steps, Language::En);
        assert_eq!(digest("1"), "Daily digest: 1 step past its due date");
        assert_eq!(digest("3"), "Daily digest: 3 steps past their due date");
    }

    #[test]
    fn messages_name_their_facts_in_each_language() {
        let facts = Facts { detail: Some("DO-2026-000001".into()), ..full_facts() };
        let en = copy(MessageKind::InvoiceIssued, Language::En, &facts);
        assert_eq!(en.subject, "Invoice QT-2026-000001 for REQ-2026-000009");
        assert_eq!(
            en.paragraphs[0],
            "Invoice QT-2026-000001 and delivery order DO-2026-000001 for REQ-2026-000009 have been issued."
        );
        assert_eq!(en.paragraphs[1], "REQ-2026-000009 · PMJ-1", "the facts' lines follow the body");
        let ms = copy(MessageKind::RequestSubmitted, Language::Ms, &facts);
        assert_eq!(ms.subject, "Permohonan kuota REQ-2026-000009 daripada PMJ-1");
        assert_eq!(ms.footer, "E-mel ini dihantar secara automatik oleh sistem kuota Pos Digicert.");
    }

    #[test]
    fn overdue_lines_say_what_is_awaited_and_how_late() {
        let step = OverdueStep {
            number: "REQ-2026-000001",
            developer: "PMJ-1",
            status: Status::Submitted,
            due: "03/12/2026",
            working_days_late: 1,
        };
        assert_eq!(
            overdue_line(Language::Ms, &step),
            "REQ-2026-000001 · PMJ-1 · menunggu sebut harga · tarikh akhir 03/12/2026 (lewat 1 hari bekerja)"
        );
        assert_eq!(
            overdue_line(Language::En, &step),
            "REQ-2026-000001 · PMJ-1 · awaiting a quotation · due 03/12/2026 (1 working day late)"
        );
        let later = OverdueStep { status: Status::Quoted, working_days_late: 2, ..step };
        assert!(overdue_line(Language::En, &later).ends_with("awaiting action · due 03/12/2026 (2 working days late)"));
    }
}
