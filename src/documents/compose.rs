//! Composing a document's contents from the database: seller particulars
//! from the settings, buyer from the developer, lines and figures from the
//! quotation in force. Amounts print as `RM 5,400.00`, dates as dd/mm/yyyy.

use kuota_documents::{Buyer, Document, Labelled, Line, Section, Seller};
use sqlx::AnyConnection;

use crate::db::Db;
use crate::developer::domain::STATES;
use crate::error::AppResult;
use crate::format;
use crate::money::Sen;
use crate::request::store::{QuotationLine, QuotationRow};

struct RequestParty {
    request_number: String,
    buyer: Buyer,
}

async fn request_party(connection: &mut AnyConnection, request_id: i64) -> sqlx::Result<RequestParty> {
    let row = super::store::request_buyer(connection, request_id).await?;
    let (address, postcode, state) = (row.address, row.postcode, row.state_code);
    let state_name = STATES.iter().find(|(code, _)| *code == state).map_or("", |(_, name)| name);
    let full_address = [address, format!("{postcode} {state_name}").trim().to_owned()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(RequestParty {
        request_number: row.request_number,
        buyer: Buyer {
            name: row.name,
            registration_no: row.registration_no,
            developer_code: row.code,
            address: full_address,
        },
    })
}

async fn lines(connection: &mut AnyConnection, billed: &[QuotationLine], priced: bool) -> sqlx::Result<Vec<Line>> {
    let mut lines = Vec::new();
    for line in billed {
        let label = super::store::product_label(&mut *connection, &line.product).await?;
        let months = label.validity_months;
        let (validity_ms, validity_en) = if months % 12 == 0 {
            (format!("{} tahun", months / 12), format!("{} year{}", months / 12, if months == 12 { "" } else { "s" }))
        } else {
            (format!("{months} bulan"), format!("{months} month{}", if months == 1 { "" } else { "s" }))
        };
        lines.push(Line {
            product: line.product.clone(),
            name_ms: label.name_ms,
            name_en: label.name_en,
            validity_ms,
            validity_en,
            units: line.units.to_string(),
            unit_price: if priced { format::rm(line.unit_price) } else { String::new() },
            amount: if priced { format::rm(line.amount) } else { String::new() },
        });
    }
    Ok(lines)
}

/// The figures under a priced document's lines.
struct Figures {
    subtotal: Sen,
    discount_rate: crate::money::BasisPoints,
    discount: Sen,
    tax_rate: crate::money::BasisPoints,
    tax: Sen,
    total: Sen,
}

impl From<&QuotationRow> for Figures {
    fn from(q: &QuotationRow) -> Self {
        Self {
            subtotal: q.subtotal,
            discount_rate: q.discount_rate,
            discount: q.discount,
            tax_rate: q.tax_rate,
            tax: q.tax,
            total: q.total,
        }
    }
}

fn totals(figures: &Figures) -> Vec<Labelled> {
    let mut totals = vec![Labelled::new("Jumlah kecil", "Subtotal", format::rm(figures.subtotal))];
    if figures.discount > Sen::ZERO {
        totals.push(Labelled::new(
            &format!("Diskaun {}", format::percent(figures.discount_rate)),
            &format!("Discount {}", format::percent(figures.discount_rate)),
            format!("− {}", format::rm(figures.discount)),
        ));
    }
    totals.push(Labelled::new(
        &format!("Cukai Perkhidmatan (SST) {}", format::percent(figures.tax_rate)),
        &format!("Service Tax (SST) {}", format::percent(figures.tax_rate)),
        format::rm(figures.tax),
    ));
    totals.push(Labelled { strong: true, ..Labelled::new("Jumlah keseluruhan", "Total", format::rm(figures.total)) });
    totals
}

/// What `number` is and the document to print for it, or `None`.
///
/// # Errors
/// A database fault.
pub async fn compose(db: &Db, number: &str) -> AppResult<Option<(&'static str, i64, Document)>> {
    let settings = crate::settings::load(db.pool()).await?;
    let mut connection = db.pool().acquire().await?;
    if number.starts_with("QT-") {
        let Some(request_id) = super::store::quotation_request_id(&mut connection, number).await? else {
            return Ok(None);
        };
        let all = crate::request::store::quotations(&mut connection, request_id).await?;
        let Some(quotation) = all.into_iter().find(|q| q.number == number) else { return Ok(None) };
        let document = quotation_document(&mut connection, &settings, request_id, &quotation).await?;
        return Ok(Some(("quotation", request_id, document)));
    }
    if crate::finance::NoteKind::of_number(number).is_some() {
        let Some(note) = crate::finance::store::find_note(&mut connection, number).await? else { return Ok(None) };
        let document = note_document(&mut connection, &settings, &note).await?;
        return Ok(Some((note.kind.as_str(), note.request_id, document)));
    }
    let Some(invoice) = super::store::invoice_by_document_number(&mut connection, number).await? else {
        return Ok(None);
    };
    let request_id = invoice.request_id;
    let Some(quotation) = crate::request::store::invoiced_quotation(&mut connection, request_id).await? else {
        return Ok(None);
    };
    if number == invoice.number {
        let document = invoice_document(&mut connection, &settings, &invoice, &quotation).await?;
        return Ok(Some(("invoice", request_id, document)));
    }
    let document = delivery_order_document(&mut connection, &settings, &invoice, &quotation).await?;
    Ok(Some(("delivery_order", request_id, document)))
}

fn seller_of(settings: &crate::settings::Settings) -> Seller {
    Seller {
        name: settings.seller.name.clone(),
        registration_no: settings.seller.registration_no.clone(),
        sst_no: settings.seller.sst_no.clone(),
        address: settings.seller.address.clone(),
        phone: settings.seller.phone.clone(),
        email: settings.seller.email.clone(),
    }
}

async fn quotation_document(
    connection: &mut AnyConnection,
    settings: &crate::settings::Settings,
    request_id: i64,
    quotation: &QuotationRow,
) -> AppResult<Document> {
    let number = quotation.number.as_str();
    let party = request_party(connection, request_id).await?;
    let valid_until = format::date(quotation.valid_until);
    Ok(Document {
        title_ms: "SEBUT HARGA".into(),
        title_en: "Quotation".into(),
        number: number.to_owned(),
        seller: seller_of(settings),
        buyer: party.buyer,
        references: vec![
            Labelled::new(
                "No. sebut harga",
                "Quotation no.",
                format!("{number} (semakan / revision {})", quotation.revision),
            ),
            Labelled::new("Tarikh", "Date", format::date(quotation.issued_on)),
            Labelled::new("Sah sehingga", "Valid until", valid_until.clone()),
            Labelled::new("No. permohonan", "Request no.", party.request_number),
        ],
        lines: lines(connection, &quotation.lines, true).await?,
        totals: Some(totals(&quotation.into())),
        sections: vec![
            Section {
                heading_ms: "Kaedah pembayaran".into(),
                heading_en: "Payment methods".into(),
                paragraphs: vec![
                    "1. Pesanan Belian (PO) / Purchase order (PO).".into(),
                    format!(
                        "2. Pindahan bank dalam talian / Online bank transfer: {} — {}, atas nama / in the name of {}.",
                        settings.seller.bank_name, settings.seller.bank_account, settings.seller.name
                    ),
                    "3. Kad kredit di kaunter Pos Digicert / Credit card at the Pos Digicert counter.".into(),
                ],
            },
            Section {
                heading_ms: "Langkah seterusnya".into(),
                heading_en: "Next step".into(),
                paragraphs: vec![format!(
                    "Muat naik PO atau bukti pembayaran di portal kuota sebelum {valid_until}, dengan menyebut {number}. / Upload the PO or proof of payment in the kuota portal before {valid_until}, quoting {number}.",
                )],
            },
        ],
        e_invoice: None,
    })
}

/// The invoice's e-invoice as printed, once MyInvois has validated it.
async fn e_invoice_mark(
    connection: &mut AnyConnection,
    number: &str,
) -> AppResult<Option<kuota_documents::EInvoiceMark>> {
    let Some(row) = crate::myinvois::store::latest(connection, number).await? else { return Ok(None) };
    let (Some(uuid), Some(validation_url)) = (row.uuid, row.validation_url) else { return Ok(None) };
    if row.status != "valid" {
        return Ok(None);
    }
    let qr_svg = crate::qr::svg(&validation_url).unwrap_or_default();
    Ok(Some(kuota_documents::EInvoiceMark { uuid, validation_url, qr_svg }))
}

async fn invoice_document(
    connection: &mut AnyConnection,
    settings: &crate::settings::Settings,
    invoice: &super::store::InvoiceFacts,
    quotation: &QuotationRow,
) -> AppResult<Document> {
    let party = request_party(connection, invoice.request_id).await?;
    let status_text = if invoice.payment_status == crate::finance::InvoiceStatus::Paid {
        format!("Telah dibayar / Paid ({})", invoice.paid_on.as_deref().map(format::stored_date).unwrap_or_default())
    } else {
        "Belum dibayar / Unpaid".to_owned()
    };
    let taxed = format::rm(quotation.subtotal.minus(quotation.discount));
    let rate = format::percent(quotation.tax_rate);
    Ok(Document {
        title_ms: "INVOIS CUKAI".into(),
        title_en: "Tax invoice".into(),
        number: invoice.number.clone(),
        seller: seller_of(settings),
        buyer: party.buyer,
        references: vec![
            Labelled::new("No. invois", "Invoice no.", invoice.number.clone()),
            Labelled::new("Tarikh invois", "Invoice date", format::stored_date(&invoice.issued_on)),
            Labelled::new("Mata wang", "Currency", "MYR"),
            Labelled::new("No. permohonan", "Request no.", party.request_number),
            Labelled::new("Sebut harga", "Quotation", quotation.number.clone()),
            Labelled::new("Status bayaran", "Payment status", status_text),
        ],
        lines: lines(connection, &quotation.lines, true).await?,
        totals: Some(totals(&quotation.into())),
        sections: vec![Section {
            heading_ms: "Cukai".into(),
            heading_en: "Tax".into(),
            paragraphs: vec![format!(
                "Cukai Perkhidmatan dikenakan pada kadar {rate} ke atas {taxed}. / Service tax charged at {rate} on {taxed}."
            )],
        }],
        e_invoice: e_invoice_mark(connection, &invoice.number).await?,
    })
}

async fn delivery_order_document(
    connection: &mut AnyConnection,
    settings: &crate::settings::Settings,
    invoice: &super::store::InvoiceFacts,
    quotation: &QuotationRow,
) -> AppResult<Document> {
    let party = request_party(connection, invoice.request_id).await?;
    let credited = super::store::payment_approved_at(connection, invoice.request_id)
        .await?
        .map(format::day_of)
        .unwrap_or_default();
    Ok(Document {
        title_ms: "PESANAN PENGHANTARAN".into(),
        title_en: "Delivery order".into(),
        number: invoice.delivery_order_number.clone(),
        seller: seller_of(settings),
        buyer: party.buyer,
        references: vec![
            Labelled::new("No. DO", "DO no.", invoice.delivery_order_number.clone()),
            Labelled::new("Tarikh", "Date", format::stored_date(&invoice.issued_on)),
            Labelled::new("No. permohonan", "Request no.", party.request_number),
            Labelled::new("Invois", "Invoice", invoice.number.clone()),
            Labelled::new("Tarikh kuota dimasukkan", "Date credited", credited),
        ],
        lines: lines(connection, &quotation.lines, false).await?,
        totals: None,
        sections: vec![Section {
            heading_ms: "Penghantaran".into(),
            heading_en: "Delivery".into(),
            paragraphs: vec!["Unit di atas telah dimasukkan ke dalam kuota sijil digital pemaju dalam sistem kuota. / The units above have been delivered into the developer's digital certificate quota in the kuota system.".into()],
        }],
        e_invoice: None,
    })
}

async fn note_document(
    connection: &mut AnyConnection,
    settings: &crate::settings::Settings,
    note: &crate::finance::store::NoteRow,
) -> AppResult<Document> {
    let party = request_party(connection, note.request_id).await?;
    let (title_ms, title_en, number_ms, number_en, effect) = match note.kind {
        crate::finance::NoteKind::Credit => (
            "NOTA KREDIT",
            "Credit note",
            "No. nota kredit",
            "Credit note no.",
            "Unit di atas telah dikeluarkan daripada kuota pemaju dan nilai invois dikurangkan sebanyak jumlah ini. / The units above have been taken out of the developer's quota and the invoice's value is reduced by this total.",
        ),
        crate::finance::NoteKind::Refund => (
            "NOTA BAYARAN BALIK",
            "Refund note",
            "No. nota bayaran balik",
            "Refund note no.",
            "Unit di atas telah dikeluarkan daripada kuota pemaju dan jumlah ini dikembalikan kepada pemaju. / The units above have been taken out of the developer's quota and this total is returned to the developer.",
        ),
    };
    let original_uuid = crate::myinvois::store::latest(connection, &note.invoice)
        .await?
        .filter(|row| row.status == "valid")
        .and_then(|row| row.uuid);
    let mut references = vec![
        Labelled::new(number_ms, number_en, note.number.clone()),
        Labelled::new("Tarikh", "Date", format::stored_date(&note.issued_on)),
        Labelled::new("Mata wang", "Currency", "MYR"),
        Labelled::new("Invois asal", "Original invoice", note.invoice.clone()),
    ];
    if let Some(uuid) = original_uuid {
        references.push(Labelled::new("UUID e-invois asal", "Original e-invoice UUID", uuid));
    }
    references.push(Labelled::new("No. permohonan", "Request no.", party.request_number));
    let figures = Figures {
        subtotal: note.subtotal,
        discount_rate: note.discount_rate,
        discount: note.discount,
        tax_rate: note.tax_rate,
        tax: note.tax,
        total: note.total,
    };
    Ok(Document {
        title_ms: title_ms.into(),
        title_en: title_en.into(),
        number: note.number.clone(),
        seller: seller_of(settings),
        buyer: party.buyer,
        references,
        lines: lines(connection, &note.lines, true).await?,
        totals: Some(totals(&figures)),
        sections: vec![Section {
            heading_ms: "Sebab".into(),
            heading_en: "Reason".into(),
            paragraphs: vec![note.reason.clone(), effect.to_owned()],
        }],
        e_invoice: e_invoice_mark(connection, &note.number).await?,
    })
}
