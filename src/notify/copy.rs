//! The words of every message, in Malay and English. Values that come from
//! people (names, reasons) are plain text here; the HTML page escapes them.

use crate::auth::users::Language;

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
}

impl MessageKind {
    /// The stored name.
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

/// Subject, paragraphs and the call to action of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Subject line.
    pub subject: String,
    /// Paragraphs of plain text.
    pub paragraphs: Vec<String>,
    /// The next action, as a sentence.
    pub next_action: String,
}

/// The words of `kind` in `language` about `facts`.
#[must_use]
pub fn copy(kind: MessageKind, language: Language, facts: &Facts) -> Copy {
    let ms = language == Language::Ms;
    let number = &facts.request_number;
    let developer = &facts.developer;
    let detail = facts.detail.clone().unwrap_or_default();
    let reference = facts.reference.clone().unwrap_or_default();
    let (subject, body, next) = match kind {
        MessageKind::RegistrationReceived => (
            if ms {
                format!("Pendaftaran pemaju baharu: {developer}")
            } else {
                format!("New developer registration: {developer}")
            },
            if ms {
                format!("Pemaju {developer} telah mendaftar dan menunggu pengesahan.")
            } else {
                format!("Developer {developer} has registered and awaits verification.")
            },
            if ms {
                "Sahkan atau tolak pendaftaran ini di portal."
            } else {
                "Verify or reject this registration in the portal."
            },
        ),
        MessageKind::RegistrationVerified => (
            if ms {
                format!("Pendaftaran disahkan: {developer}")
            } else {
                format!("Registration verified: {developer}")
            },
            if ms {
                format!("Pendaftaran {developer} telah disahkan oleh Pos Digicert.")
            } else {
                format!("The registration of {developer} has been verified by Pos Digicert.")
            },
            if ms {
                "Anda kini boleh memohon kuota sijil digital."
            } else {
                "You can now request digital certificate quota."
            },
        ),
        MessageKind::RegistrationRejected => (
            if ms {
                format!("Pendaftaran ditolak: {developer}")
            } else {
                format!("Registration rejected: {developer}")
            },
            if ms {
                format!("Pendaftaran {developer} ditolak. Sebab: {detail}")
            } else {
                format!("The registration of {developer} was rejected. Reason: {detail}")
            },
            if ms {
                "Hubungi pasukan retail Pos Digicert jika ada pertanyaan."
            } else {
                "Contact the Pos Digicert retail team with any questions."
            },
        ),
        MessageKind::RequestSubmitted => (
            if ms {
                format!("Permohonan kuota {number} daripada {developer}")
            } else {
                format!("Quota request {number} from {developer}")
            },
            if ms {
                format!("{developer} telah menghantar permohonan kuota {number}.")
            } else {
                format!("{developer} has submitted quota request {number}.")
            },
            if ms {
                "Semak permohonan dan sediakan sebut harga dalam 2 hari bekerja."
            } else {
                "Review the request and issue a quotation within 2 working days."
            },
        ),
        MessageKind::InfoRequested => (
            if ms { format!("Maklumat diperlukan untuk {number}") } else { format!("Information needed for {number}") },
            if ms {
                format!("Pasukan retail memerlukan maklumat lanjut untuk permohonan {number}: {detail}")
            } else {
                format!("The retail team needs more information for request {number}: {detail}")
            },
            if ms { "Jawab permintaan ini di portal." } else { "Answer this request in the portal." },
        ),
        MessageKind::InfoResponded => (
            if ms { format!("Maklumat diterima untuk {number}") } else { format!("Information received for {number}") },
            if ms {
                format!("{developer} telah menjawab: {detail}")
            } else {
                format!("{developer} has answered: {detail}")
            },
            if ms {
                "Sediakan sebut harga dalam 2 hari bekerja."
            } else {
                "Issue the quotation within 2 working days."
            },
        ),
        MessageKind::QuotationIssued => (
            if ms {
                format!("Sebut harga {reference} untuk {number}")
            } else {
                format!("Quotation {reference} for {number}")
            },
            if ms {
                format!("Sebut harga {reference} untuk permohonan {number} telah dikeluarkan. {detail}")
            } else {
                format!("Quotation {reference} for request {number} has been issued. {detail}")
            },
            if ms {
                "Hantar pesanan pembelian (PO) atau bukti pembayaran sebelum tarikh sah sebut harga."
            } else {
                "Send a purchase order (PO) or proof of payment before the quotation's valid-until date."
            },
        ),
        MessageKind::PaymentSubmitted => (
            if ms { format!("Pembayaran dihantar untuk {number}") } else { format!("Payment submitted for {number}") },
            if ms {
                format!("{developer} telah menghantar pembayaran untuk {number} ({reference}).")
            } else {
                format!("{developer} has submitted a payment for {number} ({reference}).")
            },
            if ms {
                "Sahkan pembayaran dan kemas kini kuota dalam 2 hari bekerja."
            } else {
                "Verify the payment and credit the quota within 2 working days."
            },
        ),
        MessageKind::PaymentRejected => (
            if ms { format!("Pembayaran ditolak untuk {number}") } else { format!("Payment rejected for {number}") },
            if ms {
                format!("Pembayaran untuk {number} tidak dapat disahkan. Sebab: {detail}")
            } else {
                format!("The payment for {number} could not be verified. Reason: {detail}")
            },
            if ms { "Hantar semula bukti pembayaran yang betul." } else { "Send a correct proof of payment again." },
        ),
        MessageKind::QuotaCredited => (
            if ms { format!("Kuota dikemas kini untuk {number}") } else { format!("Quota credited for {number}") },
            if ms {
                format!("Kuota untuk permohonan {number} telah dimasukkan: {detail}.")
            } else {
                format!("The quota of request {number} has been credited: {detail}.")
            },
            if ms {
                "Semak baki kuota anda. Invois dan surat penghantaran (DO) akan menyusul."
            } else {
                "Check your quota balance. The invoice and delivery order (DO) will follow."
            },
        ),
        MessageKind::InvoiceDue => (
            if ms {
                format!("Invois dan DO diperlukan untuk {number}")
            } else {
                format!("Invoice and DO needed for {number}")
            },
            if ms {
                format!("Kuota untuk {number} ({developer}) telah dimasukkan.")
            } else {
                format!("The quota of {number} ({developer}) has been credited.")
            },
            if ms {
                "Keluarkan invois dan surat penghantaran (DO) dalam 2 hari bekerja."
            } else {
                "Issue the invoice and delivery order (DO) within 2 working days."
            },
        ),
        MessageKind::InvoiceIssued => (
            if ms { format!("Invois {reference} untuk {number}") } else { format!("Invoice {reference} for {number}") },
            if ms {
                format!("Invois {reference} dan surat penghantaran {detail} untuk {number} telah dikeluarkan.")
            } else {
                format!("Invoice {reference} and delivery order {detail} for {number} have been issued.")
            },
            if ms { "Muat turun dokumen di portal." } else { "Download the documents in the portal." },
        ),
        MessageKind::RequestCancelled => (
            if ms { format!("Permohonan {number} dibatalkan") } else { format!("Request {number} cancelled") },
            if ms {
                format!("Permohonan {number} ({developer}) telah dibatalkan. Sebab: {detail}")
            } else {
                format!("Request {number} ({developer}) has been cancelled. Reason: {detail}")
            },
            if ms { "Tiada tindakan lanjut diperlukan." } else { "No further action is needed." },
        ),
        MessageKind::QuotationExpiring => (
            if ms {
                format!("Sebut harga {reference} untuk {number} tamat pada {detail}")
            } else {
                format!("Quotation {reference} for {number} expires on {detail}")
            },
            if ms {
                format!(
                    "Sebut harga {reference} untuk permohonan {number} sah sehingga {detail}. Selepas tarikh itu permohonan akan tamat tempoh."
                )
            } else {
                format!(
                    "Quotation {reference} for request {number} is valid until {detail}. After that date the request expires."
                )
            },
            if ms {
                "Hantar pesanan pembelian (PO) atau bukti pembayaran sebelum tarikh tersebut."
            } else {
                "Send a purchase order (PO) or proof of payment before that date."
            },
        ),
        MessageKind::OverdueDigest => (
            if ms {
                format!("Ringkasan harian: {reference} langkah melepasi tarikh akhir")
            } else {
                format!("Daily digest: {reference} steps past their due date")
            },
            if ms {
                format!("Langkah berikut melepasi tarikh akhir pada {detail}:")
            } else {
                format!("These steps are past their due date on {detail}:")
            },
            if ms { "Selesaikan langkah-langkah ini hari ini." } else { "Complete these steps today." },
        ),
        MessageKind::LowBalance => (
            if ms {
                format!("Baki kuota {reference} rendah: {detail} unit")
            } else {
                format!("Low {reference} quota balance: {detail} units")
            },
            if ms {
                format!("Baki tersedia {developer} bagi {reference} kini {detail} unit.")
            } else {
                format!("The available {reference} balance of {developer} is now {detail} units.")
            },
            if ms {
                "Mohon kuota tambahan di portal supaya permohonan HIMS tidak terhenti."
            } else {
                "Request more quota in the portal so that HIMS applications do not stop."
            },
        ),
        MessageKind::ZeroBalance => (
            if ms { format!("Kuota {reference} telah habis") } else { format!("{reference} quota used up") },
            if ms {
                format!(
                    "Baki tersedia {developer} bagi {reference} adalah 0 unit. HIMS tidak dapat menggunakan kuota ini sehingga ditambah."
                )
            } else {
                format!(
                    "The available {reference} balance of {developer} is 0 units. HIMS cannot use this quota until more is credited."
                )
            },
            if ms { "Mohon kuota tambahan di portal sekarang." } else { "Request more quota in the portal now." },
        ),
        MessageKind::PasswordReset => (
            if ms { "Tetapkan kata laluan baharu kuota".to_owned() } else { "Set a new kuota password".to_owned() },
            if ms {
                "Kami menerima permintaan untuk menetapkan semula kata laluan akaun kuota anda. Pautan di bawah sah selama 1 jam dan boleh digunakan sekali sahaja. Jika anda tidak membuat permintaan ini, abaikan e-mel ini.".to_owned()
            } else {
                "We received a request to reset the password of your kuota account. The link below is valid for 1 hour and works once. If you did not ask for this, ignore this e-mail.".to_owned()
            },
            if ms {
                "Buka pautan untuk menetapkan kata laluan baharu."
            } else {
                "Open the link to set a new password."
            },
        ),
        MessageKind::Invitation => (
            if ms {
                format!("Jemputan ke akaun kuota {developer}")
            } else {
                format!("Invitation to the kuota account of {developer}")
            },
            if ms {
                format!(
                    "{detail} menjemput anda ke akaun kuota {developer} untuk melihat baki dan permohonan kuota sijil digital. Pautan di bawah sah selama 7 hari."
                )
            } else {
                format!(
                    "{detail} invites you to the kuota account of {developer} to see its digital certificate quota and requests. The link below is valid for 7 days."
                )
            },
            if ms { "Buka pautan untuk menetapkan kata laluan anda." } else { "Open the link to set your password." },
        ),
    };
    let mut paragraphs = vec![body];
    paragraphs.extend(facts.lines.iter().cloned());
    Copy { subject, paragraphs, next_action: next.to_owned() }
}
