//! Fixed demo documents, for `docs/samples/` and the rendering benchmark.
//! The seller particulars are examples, not Pos Digicert's real ones.

use crate::{Buyer, Document, Labelled, Line, Section, Seller};

fn seller() -> Seller {
    Seller {
        name: "Pos Digicert Sdn. Bhd.".into(),
        registration_no: "200001012345 (CONTOH / EXAMPLE)".into(),
        sst_no: "W10-1808-32000000 (CONTOH / EXAMPLE)".into(),
        address: "Aras 8, Bangunan Contoh, Jalan Contoh, 50450 Kuala Lumpur".into(),
        phone: "03-0000 0000".into(),
        email: "kpkt.retail@posdigicert.com.my".into(),
    }
}

fn buyer() -> Buyer {
    Buyer {
        name: "Maju Jaya Hartanah Sdn. Bhd.".into(),
        registration_no: "201901000005".into(),
        developer_code: "PMJ-0001".into(),
        address: "No. 12, Jalan Ampang, 50450 W.P. Kuala Lumpur".into(),
    }
}

fn lines(priced: bool) -> Vec<Line> {
    let price = |text: &str| if priced { text.to_owned() } else { String::new() };
    vec![
        Line {
            product: "CERT-1Y".into(),
            name_ms: "Sijil digital sahlaku 1 tahun".into(),
            name_en: "1-year digital certificate".into(),
            validity_ms: "1 tahun".into(),
            validity_en: "1 year".into(),
            units: "100".into(),
            unit_price: price("RM 50.00"),
            amount: price("RM 5,000.00"),
        },
        Line {
            product: "CERT-1M".into(),
            name_ms: "Sijil digital sahlaku 1 bulan".into(),
            name_en: "1-month digital certificate".into(),
            validity_ms: "1 bulan".into(),
            validity_en: "1 month".into(),
            units: "40".into(),
            unit_price: price("RM 8.50"),
            amount: price("RM 340.00"),
        },
    ]
}

fn totals() -> Vec<Labelled> {
    vec![
        Labelled::new("Jumlah kecil", "Subtotal", "RM 5,340.00"),
        Labelled::new("Cukai Perkhidmatan (SST) 8%", "Service Tax (SST) 8%", "RM 427.20"),
        Labelled { strong: true, ..Labelled::new("Jumlah keseluruhan", "Total", "RM 5,767.20") },
    ]
}

/// A quotation as kuota issues it.
#[must_use]
pub fn quotation() -> Document {
    Document {
        title_ms: "SEBUT HARGA".into(),
        title_en: "Quotation".into(),
        number: "QT-2026-000001".into(),
        seller: seller(),
        buyer: buyer(),
        references: vec![
            Labelled::new("No. sebut harga", "Quotation no.", "QT-2026-000001 (semakan / revision 1)"),
            Labelled::new("Tarikh", "Date", "28/11/2026"),
            Labelled::new("Sah sehingga", "Valid until", "18/12/2026"),
            Labelled::new("No. permohonan", "Request no.", "REQ-2026-000001"),
        ],
        lines: lines(true),
        totals: Some(totals()),
        e_invoice: None,
        sections: vec![
            Section {
                heading_ms: "Kaedah pembayaran".into(),
                heading_en: "Payment methods".into(),
                paragraphs: vec![
                    "1. Pesanan Belian (PO) / Purchase order (PO).".into(),
                    "2. Pindahan bank dalam talian / Online bank transfer: Bank Contoh Berhad — 0000 0000 0000, atas nama / in the name of Pos Digicert Sdn. Bhd.".into(),
                    "3. Kad kredit di kaunter Pos Digicert / Credit card at the Pos Digicert counter.".into(),
                ],
            },
            Section {
                heading_ms: "Langkah seterusnya".into(),
                heading_en: "Next step".into(),
                paragraphs: vec!["Muat naik PO atau bukti pembayaran di portal kuota sebelum 18/12/2026, dengan menyebut QT-2026-000001. / Upload the PO or proof of payment in the kuota portal before 18/12/2026, quoting QT-2026-000001.".into()],
            },
        ],
    }
}

/// A tax invoice.
#[must_use]
pub fn invoice() -> Document {
    Document {
        title_ms: "INVOIS CUKAI".into(),
        title_en: "Tax invoice".into(),
        number: "INV-2026-000001".into(),
        seller: seller(),
        buyer: buyer(),
        references: vec![
            Labelled::new("No. invois", "Invoice no.", "INV-2026-000001"),
            Labelled::new("Tarikh invois", "Invoice date", "02/12/2026"),
            Labelled::new("Mata wang", "Currency", "MYR"),
            Labelled::new("No. permohonan", "Request no.", "REQ-2026-000001"),
            Labelled::new("Sebut harga", "Quotation", "QT-2026-000001"),
            Labelled::new("Status bayaran", "Payment status", "Telah dibayar / Paid (01/12/2026)"),
        ],
        lines: lines(true),
        totals: Some(totals()),
        e_invoice: None,
        sections: vec![Section {
            heading_ms: "Cukai".into(),
            heading_en: "Tax".into(),
            paragraphs: vec!["Cukai Perkhidmatan dikenakan pada kadar 8% ke atas RM 5,340.00. / Service tax charged at 8% on RM 5,340.00.".into()],
        }],
    }
}

/// A delivery order.
#[must_use]
pub fn delivery_order() -> Document {
    Document {
        title_ms: "PESANAN PENGHANTARAN".into(),
        title_en: "Delivery order".into(),
        number: "DO-2026-000001".into(),
        seller: seller(),
        buyer: buyer(),
        references: vec![
            Labelled::new("No. DO", "DO no.", "DO-2026-000001"),
            Labelled::new("Tarikh", "Date", "02/12/2026"),
            Labelled::new("No. permohonan", "Request no.", "REQ-2026-000001"),
            Labelled::new("Invois", "Invoice", "INV-2026-000001"),
            Labelled::new("Tarikh kuota dimasukkan", "Date credited", "01/12/2026"),
        ],
        lines: lines(false),
        totals: None,
        e_invoice: None,
        sections: vec![Section {
            heading_ms: "Penghantaran".into(),
            heading_en: "Delivery".into(),
            paragraphs: vec!["Unit di atas telah dimasukkan ke dalam kuota sijil digital pemaju dalam sistem kuota. / The units above have been delivered into the developer's digital certificate quota in the kuota system.".into()],
        }],
    }
}
