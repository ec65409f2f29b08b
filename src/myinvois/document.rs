//! A kuota tax invoice (or credit or refund note) as a MyInvois v1.1 UBL 2.1
//! JSON document: a typed model and the one serializer that writes it, in
//! LHDN's element order, with amounts from integer sen (never floats). The
//! quotation's document-level discount and SST are shared out over the lines
//! so that every line carries its own tax and the lines add up to the
//! document's totals to the sen. Pure.

use super::json::Node;
use crate::money::{BasisPoints, Sen};

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `01`.
    Invoice,
    /// `02`: value reduced, no money returned.
    CreditNote,
    /// `04`: money returned.
    RefundNote,
}

impl Kind {
    /// LHDN's e-invoice type code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Invoice => "01",
            Self::CreditNote => "02",
            Self::RefundNote => "04",
        }
    }
}

/// A postal address with LHDN's state code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Lines (the first mandatory, each ≤ 150).
    pub lines: Vec<String>,
    /// City (≤ 50).
    pub city: String,
    /// Postcode.
    pub postcode: String,
    /// `01`–`16`, `17` not applicable.
    pub state: String,
}

/// Supplier or buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Registered name.
    pub name: String,
    /// Tax identification number.
    pub tin: String,
    /// SSM registration number.
    pub brn: String,
    /// SST registration number, or `NA`.
    pub sst: String,
    /// MSIC code and business activity (the supplier's).
    pub activity: Option<(String, String)>,
    /// Where.
    pub address: Address,
    /// Telephone (E.164, e.g. `+60312345678`).
    pub phone: String,
    /// E-mail.
    pub email: String,
}

/// One line as invoiced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Description (≤ 300).
    pub description: String,
    /// Units.
    pub units: i64,
    /// Price of one unit.
    pub unit_price: Sen,
    /// Units × unit price, before the discount.
    pub amount: Sen,
}

/// A prepayment recorded on the document (a paid invoice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepaid {
    /// Our reference (the payment's).
    pub reference: String,
    /// Amount.
    pub amount: Sen,
    /// When, UTC: `YYYY-MM-DD`, `HH:MM:SSZ`.
    pub paid_at: (String, String),
}

/// Everything the document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Invoice, credit note or refund note.
    pub kind: Kind,
    /// `INV-2026-000001`.
    pub number: String,
    /// Issue date and time, UTC: `YYYY-MM-DD`, `HH:MM:SSZ`.
    pub issued_at: (String, String),
    /// Pos Digicert.
    pub supplier: Party,
    /// The developer.
    pub buyer: Party,
    /// The lines.
    pub lines: Vec<Line>,
    /// The quotation's discount (whole document).
    pub discount: Sen,
    /// The SST rate.
    pub tax_rate: BasisPoints,
    /// The SST (whole document, as quoted).
    pub tax: Sen,
    /// LHDN's classification for the lines (`022`, others).
    pub classification: String,
    /// LHDN payment means (`03` bank transfer, …), when known.
    pub payment_means: Option<String>,
    /// What was paid before the invoice (online, transfer, counter).
    pub prepaid: Option<Prepaid>,
    /// The original invoice of a note: LHDN UUID and our number.
    pub original: Option<(String, String)>,
}

/// `amount` shared over `weights` in proportion, each share rounded down and
/// the remainder given to the largest weights first, so the shares add up
/// to `amount` exactly.
#[must_use]
pub fn shares(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if total == 0 {
        let mut out = vec![0; weights.len()];
        if let Some(first) = out.first_mut() {
            *first = amount;
        }
        return out;
    }
    let mut out: Vec<i64> = weights
        .iter()
        .map(|w| i64::try_from(i128::from(amount) * i128::from(*w) / total).unwrap_or_default())
        .collect();
    let mut left = amount - out.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(weights[*i]));
    for index in order.into_iter().cycle().take(weights.len() * 2) {
        if left == 0 {
            break;
        }
        out[index] += left.signum();
        left -= left.signum();
    }
    out
}

fn rm(amount: i64) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", amount.abs() / 100, amount.abs() % 100)
}

fn text(value: &str) -> Node {
    with(Node::Text(value.to_owned()), &[])
}

fn with(value: Node, attributes: &[(&str, &str)]) -> Node {
    let mut members = vec![("_".to_owned(), value)];
    members.extend(attributes.iter().map(|(k, v)| ((*k).to_owned(), Node::Text((*v).to_owned()))));
    Node::Array(vec![Node::Object(members)])
}

fn money(sen: i64) -> Node {
    with(Node::Literal(rm(sen)), &[("currencyID", "MYR")])
}

fn object(members: Vec<(&str, Node)>) -> Node {
    Node::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn one(members: Vec<(&str, Node)>) -> Node {
    Node::Array(vec![object(members)])
}

fn party(party: &Party, supplier: bool) -> Node {
    let id =
        |value: &str, scheme: &str| object(vec![("ID", with(Node::Text(value.to_owned()), &[("schemeID", scheme)]))]);
    let mut ids = vec![id(&party.tin, "TIN"), id(&party.brn, "BRN"), id(&party.sst, "SST")];
    if supplier {
        ids.push(id("NA", "TTX"));
    }
    let mut lines: Vec<Node> = party.address.lines.iter().map(|line| object(vec![("Line", text(line))])).collect();
    lines.truncate(3);
    let address = one(vec![
        ("CityName", text(&party.address.city)),
        ("PostalZone", text(&party.address.postcode)),
        ("CountrySubentityCode", text(&party.address.state)),
        ("AddressLine", Node::Array(lines)),
        (
            "Country",
            one(vec![(
                "IdentificationCode",
                with(Node::Text("MYS".into()), &[("listID", "ISO3166-1"), ("listAgencyID", "6")]),
            )]),
        ),
    ]);
    let mut members = Vec::new();
    if let Some((code, activity)) = &party.activity {
        members.push(("IndustryClassificationCode", with(Node::Text(code.clone()), &[("name", activity)])));
    }
    members.push(("PartyIdentification", Node::Array(ids)));
    members.push(("PostalAddress", address));
    members.push(("PartyLegalEntity", one(vec![("RegistrationName", text(&party.name))])));
    members.push(("Contact", one(vec![("Telephone", text(&party.phone)), ("ElectronicMail", text(&party.email))])));
    one(vec![("Party", one(members))])
}

fn tax_subtotal(taxable: i64, tax: i64, rate: BasisPoints) -> Node {
    let percent = format!("{}.{:02}", rate.get() / 100, rate.get() % 100);
    one(vec![
        ("TaxableAmount", money(taxable)),
        ("TaxAmount", money(tax)),
        ("Percent", with(Node::Literal(percent), &[])),
        (
            "TaxCategory",
            one(vec![
                ("ID", text("02")),
                (
                    "TaxScheme",
                    one(vec![(
                        "ID",
                        with(Node::Text("OTH".into()), &[("schemeID", "UN/ECE 5153"), ("schemeAgencyID", "6")]),
                    )]),
                ),
            ]),
        ),
    ])
}

impl Document {
    /// The net amount and tax of every line: the discount and the tax shared
    /// out in proportion to the lines' amounts, to the sen.
    #[must_use]
    pub fn line_figures(&self) -> Vec<(i64, i64)> {
        let amounts: Vec<i64> = self.lines.iter().map(|line| line.amount.get()).collect();
        let discounts = shares(self.discount.get(), &amounts);
        let nets: Vec<i64> = amounts.iter().zip(&discounts).map(|(a, d)| a - d).collect();
        let taxes = shares(self.tax.get(), &nets);
        nets.into_iter().zip(taxes).collect()
    }

    fn line(&self, index: usize, line: &Line, (net, tax): (i64, i64)) -> Node {
        let discount = line.amount.get() - net;
        let mut members = vec![
            ("ID", text(&(index + 1).to_string())),
            ("InvoicedQuantity", with(Node::Literal(line.units.to_string()), &[("unitCode", "C62")])),
            ("LineExtensionAmount", money(net)),
        ];
        if discount != 0 {
            members.push((
                "AllowanceCharge",
                one(vec![
                    ("ChargeIndicator", with(Node::Literal("false".into()), &[])),
                    ("AllowanceChargeReason", text("Diskaun / Discount")),
                    ("Amount", money(discount)),
                ]),
            ));
        }
        members.push((
            "TaxTotal",
            one(vec![("TaxAmount", money(tax)), ("TaxSubtotal", tax_subtotal(net, tax, self.tax_rate))]),
        ));
        members.push((
            "Item",
            one(vec![
                (
                    "CommodityClassification",
                    one(vec![(
                        "ItemClassificationCode",
                        with(Node::Text(self.classification.clone()), &[("listID", "CLASS")]),
                    )]),
                ),
                ("Description", text(&line.description)),
            ]),
        ));
        members.push(("Price", one(vec![("PriceAmount", money(line.unit_price.get()))])));
        members.push(("ItemPriceExtension", one(vec![("Amount", money(line.amount.get()))])));
        object(members)
    }

    /// The document as MyInvois v1.1 JSON, unsigned and minified: the bytes
    /// that are signed, kept and submitted.
    #[must_use]
    pub fn to_json(&self) -> String {
        let figures = self.line_figures();
        let net: i64 = figures.iter().map(|(n, _)| n).sum();
        let gross: i64 = self.lines.iter().map(|line| line.amount.get()).sum();
        let including = net + self.tax.get();
        let mut invoice = vec![
            ("ID", text(&self.number)),
            ("IssueDate", text(&self.issued_at.0)),
            ("IssueTime", text(&self.issued_at.1)),
            ("InvoiceTypeCode", with(Node::Text(self.kind.code().into()), &[("listVersionID", "1.1")])),
            ("DocumentCurrencyCode", text("MYR")),
            ("TaxCurrencyCode", text("MYR")),
        ];
        if let Some((uuid, number)) = &self.original {
            invoice.push((
                "BillingReference",
                one(vec![("InvoiceDocumentReference", one(vec![("ID", text(number)), ("UUID", text(uuid))]))]),
            ));
        }
        invoice.push(("AccountingSupplierParty", party(&self.supplier, true)));
        invoice.push(("AccountingCustomerParty", party(&self.buyer, false)));
        if let Some(code) = &self.payment_means {
            invoice.push(("PaymentMeans", one(vec![("PaymentMeansCode", text(code))])));
        }
        if let Some(prepaid) = &self.prepaid {
            invoice.push((
                "PrepaidPayment",
                one(vec![
                    ("ID", text(&prepaid.reference)),
                    ("PaidAmount", money(prepaid.amount.get())),
                    ("PaidDate", text(&prepaid.paid_at.0)),
                    ("PaidTime", text(&prepaid.paid_at.1)),
                ]),
            ));
        }
        invoice.push((
            "TaxTotal",
            one(vec![
                ("TaxAmount", money(self.tax.get())),
                ("TaxSubtotal", tax_subtotal(net, self.tax.get(), self.tax_rate)),
            ]),
        ));
        invoice.push((
            "LegalMonetaryTotal",
            one(vec![
                ("LineExtensionAmount", money(net)),
                ("TaxExclusiveAmount", money(net)),
                ("TaxInclusiveAmount", money(including)),
                ("AllowanceTotalAmount", money(gross - net)),
                ("PayableAmount", money(including)),
            ]),
        ));
        let lines = self.lines.iter().zip(figures).enumerate().map(|(i, (line, f))| self.line(i, line, f)).collect();
        invoice.push(("InvoiceLine", Node::Array(lines)));
        object(vec![
            ("_D", Node::Text("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2".into())),
            ("_A", Node::Text("urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2".into())),
            ("_B", Node::Text("urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2".into())),
            ("Invoice", Node::Array(vec![object(invoice)])),
        ])
        .minified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::myinvois::{json, rules};

    fn party_named(name: &str, tin: &str, activity: Option<(String, String)>) -> Party {
        Party {
            name: name.into(),
            tin: tin.into(),
            brn: "201901000005".into(),
            sst: "NA".into(),
            activity,
            address: Address {
                lines: vec!["Aras 8, Jalan Contoh".into()],
                city: "Kuala Lumpur".into(),
                postcode: "50450".into(),
                state: "14".into(),
            },
            phone: "+60312345678".into(),
            email: "akaun@contoh.my".into(),
        }
    }

    /// 3 × CERT-1M at 33.33 with 10% off and 8% SST (the quotation test's
    /// figures: discount 10.00, tax 7.20) plus 1 × CERT-1Y at 50.00.
    pub(crate) fn sample() -> Document {
        let sen = |s: &str| s.parse::<Sen>().unwrap_or_default();
        Document {
            kind: Kind::Invoice,
            number: "INV-2026-000001".into(),
            issued_at: ("2026-12-02".into(), "02:03:04Z".into()),
            supplier: party_named(
                "Pos Digicert Sdn. Bhd.",
                "C10000000000",
                Some(("62010".into(), "Computer programming activities".into())),
            ),
            buyer: party_named("Maju Jaya Hartanah Sdn. Bhd.", "C20000000000", None),
            lines: vec![
                Line {
                    description: "Sijil digital 1 bulan".into(),
                    units: 3,
                    unit_price: sen("33.33"),
                    amount: sen("99.99"),
                },
                Line {
                    description: "Sijil digital 1 tahun".into(),
                    units: 1,
                    unit_price: sen("50.00"),
                    amount: sen("50.00"),
                },
            ],
            discount: sen("15.00"),
            tax_rate: "8".parse().unwrap_or_default(),
            tax: sen("10.80"),
            classification: "022".into(),
            payment_means: Some("03".into()),
            prepaid: Some(Prepaid {
                reference: "TRX-1".into(),
                amount: sen("145.79"),
                paid_at: ("2026-12-01".into(), "00:00:00Z".into()),
            }),
            original: None,
        }
    }

    #[test]
    fn a_kuota_invoice_passes_every_rule_and_adds_up() {
        let text = sample().to_json();
        let node = json::parse(&text).unwrap_or(json::Node::Array(Vec::new()));
        assert_eq!(rules::check(&node), Vec::new());
        assert_eq!(rules::check_totals(&node), Vec::new());
        assert!(text.contains(r#""PayableAmount":[{"_":145.79,"currencyID":"MYR"}]"#), "{text}");
        assert!(text.contains(r#""InvoiceTypeCode":[{"_":"01","listVersionID":"1.1"}]"#));
    }

    #[test]
    fn shares_add_up_exactly() {
        assert_eq!(shares(1500, &[9999, 5000]), vec![1000, 500]);
        assert_eq!(shares(1, &[1, 1, 1]), vec![1, 0, 0]);
        assert_eq!(shares(100, &[0, 0]), vec![100, 0]);
        let lines = sample().line_figures();
        assert_eq!(lines.iter().map(|(net, _)| net).sum::<i64>(), 14_999 - 1_500);
        assert_eq!(lines.iter().map(|(_, tax)| tax).sum::<i64>(), 1_080);
    }

    #[test]
    fn a_note_names_its_original() {
        let note = Document {
            kind: Kind::CreditNote,
            original: Some(("F9D425P6DS7D8IU".into(), "INV-2026-000001".into())),
            ..sample()
        };
        let node = json::parse(&note.to_json()).unwrap_or(json::Node::Array(Vec::new()));
        assert_eq!(rules::check(&node), Vec::new());
        let without = Document { kind: Kind::CreditNote, ..sample() };
        let problems = rules::check(&json::parse(&without.to_json()).unwrap_or(json::Node::Array(Vec::new())));
        assert_eq!(problems[0].field, "BillingReference.InvoiceDocumentReference");
    }
}
