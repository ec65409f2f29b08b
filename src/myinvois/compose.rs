//! The facts of an issued invoice, read from the database, as a MyInvois
//! [`Document`]: the seller from the settings, the developer as buyer, the
//! lines and totals of the quotation the invoice is for, the payment. What a
//! party has not given is left empty, and the rule checker names it (the
//! finance page shows why an e-invoice cannot be submitted yet).

use jiff::Timestamp;
use sqlx::AnyConnection;

use super::document::{Address, Document, Kind, Line, Party, Prepaid};
use crate::developer::domain::STATES;
use crate::request::payment::{Method, PaymentStatus};

/// LHDN's payment means for how the invoice was paid (none for a PO).
fn payment_means(method: Method) -> Option<&'static str> {
    match method {
        // FPX online banking and transfers are bank transfers; a card at the counter is a card.
        Method::BankTransfer | Method::Online => Some("03"),
        Method::CardAtCounter => Some("04"),
        Method::PurchaseOrder => None,
    }
}

/// A free-text Malaysian address as up to three lines and a city: the last
/// part after a comma, less its postcode (`81100 Johor Bahru`), else the state.
fn address(text: &str, postcode: &str, state: &str) -> Address {
    let parts: Vec<&str> = text.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let last =
        parts.last().map(|part| part.trim_start_matches(|c: char| c.is_ascii_digit()).trim()).unwrap_or_default();
    let state_name = STATES.iter().find(|(code, _)| *code == state).map_or("", |(_, name)| name);
    let (lines, city) =
        if parts.len() > 1 && !last.is_empty() && last.chars().all(|c| c.is_alphabetic() || c == ' ' || c == '.') {
            (parts[..parts.len() - 1].to_vec(), last.to_owned())
        } else {
            (parts, state_name.to_owned())
        };
    let mut lines: Vec<String> = lines.into_iter().map(|line| line.chars().take(150).collect()).collect();
    if lines.len() > 3 {
        let rest = lines.split_off(2).join(", ");
        lines.push(rest.chars().take(150).collect());
    }
    Address { lines, city: city.chars().take(50).collect(), postcode: postcode.to_owned(), state: state.to_owned() }
}

/// Billed lines as document lines, each described in both languages.
async fn document_lines(
    connection: &mut AnyConnection,
    billed: &[crate::request::store::QuotationLine],
) -> sqlx::Result<Vec<Line>> {
    let mut lines = Vec::with_capacity(billed.len());
    for line in billed {
        let label = crate::documents::store::product_label(&mut *connection, &line.product).await?;
        lines.push(Line {
            description: format!("{} / {} ({})", label.name_ms, label.name_en, line.product),
            units: line.units,
            unit_price: line.unit_price,
            amount: line.amount,
        });
    }
    Ok(lines)
}

/// UTC date and time as MyInvois writes them.
fn utc(at: Timestamp) -> (String, String) {
    let zoned = at.to_zoned(jiff::tz::TimeZone::UTC);
    (zoned.strftime("%Y-%m-%d").to_string(), zoned.strftime("%H:%M:%SZ").to_string())
}

/// The invoice `number` as a MyInvois document issued at `issued_at`; `None`
/// for no such invoice.
///
/// # Errors
/// A database fault.
pub async fn invoice(
    connection: &mut AnyConnection,
    number: &str,
    issued_at: Timestamp,
) -> sqlx::Result<Option<Document>> {
    let Some(facts) = crate::documents::store::invoice_by_document_number(&mut *connection, number).await? else {
        return Ok(None);
    };
    if facts.number != number {
        return Ok(None);
    }
    let settings = crate::settings::load_in(&mut *connection).await?;
    let request = crate::request::store::find(&mut *connection, facts.request_id).await?;
    let Some(request) = request else { return Ok(None) };
    let Some(quotation) = crate::request::store::invoiced_quotation(&mut *connection, facts.request_id).await? else {
        return Ok(None);
    };
    let buyer = crate::developer::store::invoiced_party(&mut *connection, request.developer_id).await?;
    let payments = crate::request::store::payments(&mut *connection, facts.request_id).await?;
    let paid = payments.into_iter().rfind(|p| p.status == PaymentStatus::Approved);
    let lines = document_lines(&mut *connection, &quotation.lines).await?;
    let seller = &settings.seller;
    let supplier = Party {
        name: seller.name.clone(),
        tin: seller.tin.clone(),
        brn: seller.registration_no.clone(),
        sst: seller.sst_no.clone(),
        activity: Some((seller.msic_code.clone(), seller.msic_activity.clone())),
        address: Address {
            city: seller.city.clone(),
            ..address(&seller.address, &seller.postcode, &seller.state_code)
        },
        phone: seller
            .phone
            .parse::<crate::developer::domain::Phone>()
            .map_or_else(|_| seller.phone.clone(), |p| p.as_str().to_owned()),
        email: seller.email.clone(),
    };
    let buyer = Party {
        name: buyer.name,
        tin: buyer.tin,
        brn: buyer.registration_no,
        sst: buyer.sst_registration_no,
        activity: None,
        address: address(&buyer.address, &buyer.postcode, &buyer.state_code),
        phone: buyer.phone,
        email: buyer.email,
    };
    let prepaid = paid.as_ref().filter(|p| p.method.is_paid()).map(|p| Prepaid {
        reference: p.reference.clone(),
        amount: p.amount,
        paid_at: (p.paid_on.clone(), "00:00:00Z".to_owned()),
    });
    Ok(Some(Document {
        kind: Kind::Invoice,
        number: number.to_owned(),
        issued_at: utc(issued_at),
        supplier,
        buyer,
        lines,
        discount: quotation.discount,
        tax_rate: quotation.tax_rate,
        tax: quotation.tax,
        classification: settings.einvoice_classification.clone(),
        payment_means: paid.as_ref().and_then(|p| payment_means(p.method)).map(str::to_owned),
        prepaid,
        original: None,
    }))
}

/// The invoice or note `number` as a MyInvois document issued at
/// `issued_at`; `None` for no such document.
///
/// # Errors
/// A database fault.
pub async fn document(
    connection: &mut AnyConnection,
    number: &str,
    issued_at: Timestamp,
) -> sqlx::Result<Option<Document>> {
    if crate::finance::NoteKind::of_number(number).is_some() {
        note(connection, number, issued_at).await
    } else {
        invoice(connection, number, issued_at).await
    }
}

/// A credit or refund note: the parties of its invoice, its own lines and
/// figures, and a reference to the invoice's e-invoice — only once that is
/// valid (without it the rule checker holds the note back).
async fn note(connection: &mut AnyConnection, number: &str, issued_at: Timestamp) -> sqlx::Result<Option<Document>> {
    let Some(note) = crate::finance::store::find_note(&mut *connection, number).await? else { return Ok(None) };
    let Some(original) = invoice(&mut *connection, &note.invoice, issued_at).await? else { return Ok(None) };
    let validated = super::store::latest(&mut *connection, &note.invoice).await?.filter(|row| row.status == "valid");
    let lines = document_lines(&mut *connection, &note.lines).await?;
    Ok(Some(Document {
        kind: note.kind.e_invoice_kind(),
        number: note.number,
        lines,
        discount: note.discount,
        tax_rate: note.tax_rate,
        tax: note.tax,
        prepaid: None,
        original: validated.and_then(|row| row.uuid).map(|uuid| (uuid, note.invoice)),
        ..original
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_lines_and_a_city() {
        let split = address("No. 3, Jalan Bayu, 81100 Johor Bahru", "81100", "01");
        assert_eq!(
            (split.lines, split.city.as_str()),
            (vec!["No. 3".to_owned(), "Jalan Bayu".to_owned()], "Johor Bahru")
        );
        let plain = address("Lot 5 Jalan Ampang", "50450", "14");
        assert_eq!((plain.lines, plain.city.as_str()), (vec!["Lot 5 Jalan Ampang".to_owned()], "W.P. Kuala Lumpur"));
        let long = address("A, B, C, D, E, Shah Alam", "40000", "10");
        assert_eq!(long.lines, ["A", "B", "C, D, E"]);
    }
}
