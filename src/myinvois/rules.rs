//! The local rule checker for MyInvois v1.1 documents (invoice, credit,
//! debit and refund notes share one structure): every mandatory field of
//! LHDN's v1.1 field tables, their lengths, and their codes against LHDN's
//! published code tables (`data/myinvois/codes/`). Each problem names its
//! field and says what is wrong in Malay and English. Run before submission;
//! what only LHDN can check (the TIN against its register, duplicates, the
//! certificate's CA) is left to MyInvois. Pure.
//!
//! [`check_totals`] adds the arithmetic kuota's own documents satisfy (the
//! tax total is the sum of the lines' tax). LHDN's published samples carry
//! placeholder amounts that do not add up, so it is kept apart from [`check`].

use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::json::Node;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Mandatory and absent (or empty).
    Missing,
    /// Longer than LHDN allows.
    TooLong(usize),
    /// Not in LHDN's code table of this name.
    UnknownCode(&'static str),
    /// Not the value LHDN requires there.
    Expected(&'static str),
    /// Not an amount (a JSON number), or an amount without its currency.
    NotAnAmount,
    /// The total is not the sum of its parts (the sum, in sen).
    NotTheSum(String),
}

/// One problem: the field (a path such as
/// `AccountingCustomerParty.Party.PartyIdentification[TIN]`) and its fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub field: String,
    /// What.
    pub fault: Fault,
}

impl Problem {
    /// The problem in English.
    #[must_use]
    pub fn english(&self) -> String {
        let what = match &self.fault {
            Fault::Missing => "is missing".to_owned(),
            Fault::TooLong(max) => format!("is longer than {max} characters"),
            Fault::UnknownCode(table) => format!("is not a code in LHDN's {table} table"),
            Fault::Expected(value) => format!("must be {value}"),
            Fault::NotAnAmount => "must be an amount with its currency".to_owned(),
            Fault::NotTheSum(sum) => format!("is not the sum of its parts ({sum})"),
        };
        format!("{} {what}", self.field)
    }

    /// The problem in Malay.
    #[must_use]
    pub fn malay(&self) -> String {
        let what = match &self.fault {
            Fault::Missing => "tiada".to_owned(),
            Fault::TooLong(max) => format!("melebihi {max} aksara"),
            Fault::UnknownCode(table) => format!("bukan kod dalam jadual {table} LHDN"),
            Fault::Expected(value) => format!("mestilah {value}"),
            Fault::NotAnAmount => "mestilah amaun dengan mata wangnya".to_owned(),
            Fault::NotTheSum(sum) => format!("bukan jumlah bahagian-bahagiannya ({sum})"),
        };
        format!("{} {what}", self.field)
    }
}

/// LHDN's code tables, by name: the set of codes.
fn table(name: &'static str) -> &'static BTreeSet<String> {
    static TABLES: OnceLock<Vec<(&'static str, BTreeSet<String>)>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        let sources: [(&'static str, &str); 8] = [
            ("EInvoiceTypes", include_str!("../../data/myinvois/codes/EInvoiceTypes.json")),
            ("CurrencyCodes", include_str!("../../data/myinvois/codes/CurrencyCodes.json")),
            ("StateCodes", include_str!("../../data/myinvois/codes/StateCodes.json")),
            ("CountryCodes", include_str!("../../data/myinvois/codes/CountryCodes.json")),
            ("MSICSubCategoryCodes", include_str!("../../data/myinvois/codes/MSICSubCategoryCodes.json")),
            ("TaxTypes", include_str!("../../data/myinvois/codes/TaxTypes.json")),
            ("ClassificationCodes", include_str!("../../data/myinvois/codes/ClassificationCodes.json")),
            ("PaymentMethods", include_str!("../../data/myinvois/codes/PaymentMethods.json")),
        ];
        sources
            .into_iter()
            .map(|(name, text)| {
                let rows: Vec<serde_json::Value> = serde_json::from_str(text).unwrap_or_default();
                (name, rows.iter().filter_map(|row| row["Code"].as_str().map(str::to_owned)).collect())
            })
            .collect()
    });
    static EMPTY: BTreeSet<String> = BTreeSet::new();
    tables.iter().find(|(known, _)| *known == name).map_or(&EMPTY, |(_, codes)| codes)
}

/// True when `code` is in LHDN's table `name` (tables are read once).
#[must_use]
pub fn is_code(name: &'static str, code: &str) -> bool {
    table(name).contains(code)
}

/// The node at `path` from `node`, taking the first item of every array.
fn at<'a>(node: &'a Node, path: &[&str]) -> Option<&'a Node> {
    path.iter().try_fold(node, |here, key| here.get(key)?.first())
}

/// A field's value (`"_"`) as text: a string, or a literal as written.
fn value(node: &Node) -> Option<&str> {
    match node.get("_")? {
        Node::Text(text) | Node::Literal(text) => Some(text),
        _ => None,
    }
}

fn attribute<'a>(node: &'a Node, name: &str) -> Option<&'a str> {
    match node.get(name)? {
        Node::Text(text) => Some(text),
        _ => None,
    }
}

fn items<'a>(node: &'a Node, key: &str) -> &'a [Node] {
    match node.get(key) {
        Some(Node::Array(items)) => items,
        _ => &[],
    }
}

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn report(&mut self, field: &str, fault: Fault) {
        self.problems.push(Problem { field: field.to_owned(), fault });
    }

    /// A mandatory text field of at most `max` characters; its value.
    fn text<'a>(&mut self, node: &'a Node, path: &[&str], field: &str, max: usize) -> Option<&'a str> {
        match at(node, path).and_then(value).filter(|text| !text.trim().is_empty()) {
            None => {
                self.report(field, Fault::Missing);
                None
            }
            Some(text) if text.chars().count() > max => {
                self.report(field, Fault::TooLong(max));
                Some(text)
            }
            Some(text) => Some(text),
        }
    }

    /// A mandatory code from table `name`.
    fn code(&mut self, node: &Node, path: &[&str], field: &str, name: &'static str) {
        if let Some(code) = self.text(node, path, field, 64) {
            if !is_code(name, code) {
                self.report(field, Fault::UnknownCode(name));
            }
        }
    }

    /// A mandatory amount (a number with `currencyID`); in millionths.
    fn amount(&mut self, node: &Node, path: &[&str], field: &str) -> Option<i128> {
        let Some(element) = at(node, path) else {
            self.report(field, Fault::Missing);
            return None;
        };
        let parsed = match element.get("_") {
            Some(Node::Literal(text)) => millionths(text),
            _ => None,
        };
        if parsed.is_none() || attribute(element, "currencyID").is_none() {
            self.report(field, Fault::NotAnAmount);
        }
        parsed
    }

    fn party(&mut self, party: &Node, role: &str, supplier: bool) {
        let field = |name: &str| format!("{role}.Party.{name}");
        self.text(party, &["PartyLegalEntity", "RegistrationName"], &field("PartyLegalEntity.RegistrationName"), 300);
        let ids: Vec<(&str, &str)> = items(party, "PartyIdentification")
            .iter()
            .filter_map(|id| at(id, &[]).and_then(|n| n.get("ID")).and_then(Node::first))
            .filter_map(|id| Some((attribute(id, "schemeID")?, value(id)?)))
            .collect();
        let id_of = |scheme: &str| ids.iter().find(|(s, _)| *s == scheme).map(|(_, v)| *v);
        let mut required = vec![("TIN", 14), ("SST", 35)];
        if supplier {
            required.push(("TTX", 17));
        }
        for (scheme, max) in required {
            let name = field(&format!("PartyIdentification[{scheme}]"));
            match id_of(scheme) {
                None => self.report(&name, Fault::Missing),
                Some(v) if v.trim().is_empty() => self.report(&name, Fault::Missing),
                Some(v) if v.chars().count() > max => self.report(&name, Fault::TooLong(max)),
                Some(_) => {}
            }
        }
        if !["BRN", "NRIC", "PASSPORT", "ARMY"].iter().any(|scheme| id_of(scheme).is_some()) {
            self.report(&field("PartyIdentification[BRN|NRIC|PASSPORT|ARMY]"), Fault::Missing);
        }
        if supplier {
            let name = field("IndustryClassificationCode");
            self.code(party, &["IndustryClassificationCode"], &name, "MSICSubCategoryCodes");
            let description = at(party, &["IndustryClassificationCode"]).and_then(|n| attribute(n, "name"));
            match description {
                None => self.report(&format!("{name}@name"), Fault::Missing),
                Some(text) if text.chars().count() > 300 => self.report(&format!("{name}@name"), Fault::TooLong(300)),
                Some(_) => {}
            }
        }
        self.address(party, &field("PostalAddress"));
        self.text(party, &["Contact", "Telephone"], &field("Contact.Telephone"), 20);
    }

    fn address(&mut self, party: &Node, field: &str) {
        let Some(address) = at(party, &["PostalAddress"]) else {
            self.report(field, Fault::Missing);
            return;
        };
        self.text(address, &["AddressLine", "Line"], &format!("{field}.AddressLine.Line"), 150);
        self.text(address, &["CityName"], &format!("{field}.CityName"), 50);
        self.code(address, &["CountrySubentityCode"], &format!("{field}.CountrySubentityCode"), "StateCodes");
        self.code(
            address,
            &["Country", "IdentificationCode"],
            &format!("{field}.Country.IdentificationCode"),
            "CountryCodes",
        );
    }

    /// A `TaxCategory`: a tax type, the `OTH` scheme, a reason when exempt.
    fn tax_category(&mut self, subtotal: &Node, field: &str) {
        self.code(subtotal, &["TaxCategory", "ID"], &format!("{field}.TaxCategory.ID"), "TaxTypes");
        let scheme = at(subtotal, &["TaxCategory", "TaxScheme", "ID"]);
        let oth = scheme.is_some_and(|s| {
            value(s) == Some("OTH")
                && attribute(s, "schemeID") == Some("UN/ECE 5153")
                && attribute(s, "schemeAgencyID") == Some("6")
        });
        if !oth {
            self.report(&format!("{field}.TaxCategory.TaxScheme.ID"), Fault::Expected("OTH (UN/ECE 5153, agency 6)"));
        }
        if at(subtotal, &["TaxCategory", "ID"]).and_then(value) == Some("E") {
            self.text(
                subtotal,
                &["TaxCategory", "TaxExemptionReason"],
                &format!("{field}.TaxCategory.TaxExemptionReason"),
                300,
            );
        }
    }

    fn line(&mut self, line: &Node, index: usize) {
        let field = |name: &str| format!("InvoiceLine[{index}].{name}");
        self.text(line, &["ID"], &field("ID"), 50);
        let classes = at(line, &["Item"]).map(|item| items(item, "CommodityClassification")).unwrap_or_default();
        let class = classes
            .iter()
            .filter_map(|c| c.get("ItemClassificationCode").and_then(Node::first))
            .find(|c| attribute(c, "listID") == Some("CLASS"));
        match class.and_then(value) {
            None => self.report(&field("Item.CommodityClassification[CLASS]"), Fault::Missing),
            Some(code) if !is_code("ClassificationCodes", code) => {
                self.report(&field("Item.CommodityClassification[CLASS]"), Fault::UnknownCode("ClassificationCodes"));
            }
            Some(_) => {}
        }
        self.text(line, &["Item", "Description"], &field("Item.Description"), 300);
        self.amount(line, &["Price", "PriceAmount"], &field("Price.PriceAmount"));
        self.amount(line, &["ItemPriceExtension", "Amount"], &field("ItemPriceExtension.Amount"));
        self.amount(line, &["LineExtensionAmount"], &field("LineExtensionAmount"));
        self.amount(line, &["TaxTotal", "TaxAmount"], &field("TaxTotal.TaxAmount"));
        let subtotals = at(line, &["TaxTotal"]).map(|t| items(t, "TaxSubtotal")).unwrap_or_default();
        if subtotals.is_empty() {
            self.report(&field("TaxTotal.TaxSubtotal"), Fault::Missing);
        }
        for (n, subtotal) in subtotals.iter().enumerate() {
            let name = field(&format!("TaxTotal.TaxSubtotal[{n}]"));
            self.tax_category(subtotal, &name);
            if subtotal.get("Percent").is_none()
                && subtotal.get("TaxCategory").and_then(Node::first).and_then(|c| c.get("Percent")).is_none()
                && subtotal.get("PerUnitAmount").is_none()
            {
                self.report(&format!("{name}.TaxCategory.Percent|PerUnitAmount"), Fault::Missing);
            }
        }
    }
}

/// An amount as written (`1436.5`, `-3`, `1e2`) in millionths, exactly.
fn millionths(text: &str) -> Option<i128> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let negative = mantissa.starts_with('-');
    let digits = mantissa.trim_start_matches('-');
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let scale = i32::try_from(fraction.len()).ok()? - exponent;
    let mut value: i128 = format!("{whole}{fraction}").parse().ok()?;
    let shift = 6 - scale;
    if !(0..=30).contains(&shift) {
        return None;
    }
    value = value.checked_mul(10_i128.checked_pow(u32::try_from(shift).ok()?)?)?;
    Some(if negative { -value } else { value })
}

/// Checks a document against the v1.1 field tables; empty when it passes.
#[must_use]
pub fn check(document: &Node) -> Vec<Problem> {
    let mut checker = Checker { problems: Vec::new() };
    let Some(invoice) = at(document, &["Invoice"]) else {
        return vec![Problem { field: "Invoice".into(), fault: Fault::Missing }];
    };
    let checker_ref = &mut checker;
    checker_ref.code(invoice, &["InvoiceTypeCode"], "InvoiceTypeCode", "EInvoiceTypes");
    if at(invoice, &["InvoiceTypeCode"]).and_then(|t| attribute(t, "listVersionID")) != Some("1.1") {
        checker_ref.report("InvoiceTypeCode@listVersionID", Fault::Expected("1.1"));
    }
    checker_ref.text(invoice, &["ID"], "ID", 50);
    let date = checker_ref.text(invoice, &["IssueDate"], "IssueDate", 10);
    if date.is_some_and(|d| d.parse::<jiff::civil::Date>().is_err()) {
        checker_ref.report("IssueDate", Fault::Expected("a date YYYY-MM-DD"));
    }
    let time = checker_ref.text(invoice, &["IssueTime"], "IssueTime", 9);
    if time.is_some_and(|t| !t.ends_with('Z') || t.trim_end_matches('Z').parse::<jiff::civil::Time>().is_err()) {
        checker_ref.report("IssueTime", Fault::Expected("a UTC time HH:MM:SSZ"));
    }
    checker_ref.code(invoice, &["DocumentCurrencyCode"], "DocumentCurrencyCode", "CurrencyCodes");
    let currency = at(invoice, &["DocumentCurrencyCode"]).and_then(value);
    if currency.is_some_and(|c| c != "MYR") && at(invoice, &["TaxExchangeRate", "CalculationRate"]).is_none() {
        checker_ref.report("TaxExchangeRate.CalculationRate", Fault::Missing);
    }
    if matches!(at(invoice, &["InvoiceTypeCode"]).and_then(value), Some("02" | "03" | "04" | "12" | "13" | "14")) {
        let referenced = items(invoice, "BillingReference").iter().any(|r| r.get("InvoiceDocumentReference").is_some());
        if !referenced {
            checker_ref.report("BillingReference.InvoiceDocumentReference", Fault::Missing);
        }
    }
    match at(invoice, &["AccountingSupplierParty", "Party"]) {
        Some(party) => checker_ref.party(party, "AccountingSupplierParty", true),
        None => checker_ref.report("AccountingSupplierParty.Party", Fault::Missing),
    }
    match at(invoice, &["AccountingCustomerParty", "Party"]) {
        Some(party) => checker_ref.party(party, "AccountingCustomerParty", false),
        None => checker_ref.report("AccountingCustomerParty.Party", Fault::Missing),
    }
    if let Some(means) = at(invoice, &["PaymentMeans", "PaymentMeansCode"]).and_then(value) {
        if !is_code("PaymentMethods", means) {
            checker_ref.report("PaymentMeans.PaymentMeansCode", Fault::UnknownCode("PaymentMethods"));
        }
    }
    check_tax_and_totals(checker_ref, invoice);
    let lines = items(invoice, "InvoiceLine");
    if lines.is_empty() {
        checker.report("InvoiceLine", Fault::Missing);
    }
    for (index, line) in lines.iter().enumerate() {
        checker.line(line, index);
    }
    checker.problems
}

fn check_tax_and_totals(checker: &mut Checker, invoice: &Node) {
    let total = checker.amount(invoice, &["TaxTotal", "TaxAmount"], "TaxTotal.TaxAmount");
    let subtotals = at(invoice, &["TaxTotal"]).map(|t| items(t, "TaxSubtotal")).unwrap_or_default();
    if subtotals.is_empty() {
        checker.report("TaxTotal.TaxSubtotal", Fault::Missing);
    }
    let mut sum = Some(0_i128);
    for (n, subtotal) in subtotals.iter().enumerate() {
        let name = format!("TaxTotal.TaxSubtotal[{n}]");
        let amount = checker.amount(subtotal, &["TaxAmount"], &format!("{name}.TaxAmount"));
        sum = sum.zip(amount).map(|(a, b)| a + b);
        checker.tax_category(subtotal, &name);
    }
    if let (Some(total), Some(sum)) = (total, sum) {
        if total != sum && !subtotals.is_empty() {
            checker.report("TaxTotal.TaxAmount", Fault::NotTheSum(format_millionths(sum)));
        }
    }
    for name in ["TaxExclusiveAmount", "TaxInclusiveAmount", "PayableAmount"] {
        checker.amount(invoice, &["LegalMonetaryTotal", name], &format!("LegalMonetaryTotal.{name}"));
    }
}

fn format_millionths(value: i128) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let value = value.abs();
    format!("{sign}{}.{:02}", value / 1_000_000, (value % 1_000_000) / 10_000)
}

/// The arithmetic kuota's own documents satisfy on top of [`check`]: the
/// document's tax is the sum of the lines' tax, and the tax-exclusive total
/// the sum of the lines' amounts.
#[must_use]
pub fn check_totals(document: &Node) -> Vec<Problem> {
    let mut checker = Checker { problems: Vec::new() };
    let Some(invoice) = at(document, &["Invoice"]) else { return check(document) };
    let lines = items(invoice, "InvoiceLine");
    let sum = |checker: &mut Checker, path: &[&str], name: &str| {
        lines.iter().enumerate().try_fold(0_i128, |total, (i, line)| {
            Some(total + checker.amount(line, path, &format!("InvoiceLine[{i}].{name}"))?)
        })
    };
    let line_tax = sum(&mut checker, &["TaxTotal", "TaxAmount"], "TaxTotal.TaxAmount");
    let line_amounts = sum(&mut checker, &["LineExtensionAmount"], "LineExtensionAmount");
    let tax = checker.amount(invoice, &["TaxTotal", "TaxAmount"], "TaxTotal.TaxAmount");
    let exclusive =
        checker.amount(invoice, &["LegalMonetaryTotal", "TaxExclusiveAmount"], "LegalMonetaryTotal.TaxExclusiveAmount");
    for (field, total, parts) in
        [("TaxTotal.TaxAmount", tax, line_tax), ("LegalMonetaryTotal.TaxExclusiveAmount", exclusive, line_amounts)]
    {
        if let (Some(total), Some(parts)) = (total, parts) {
            if total != parts {
                checker.report(field, Fault::NotTheSum(format_millionths(parts)));
            }
        }
    }
    checker.problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::myinvois::json::parse;

    const SAMPLES: [&str; 3] = [
        include_str!("../../data/myinvois/samples/1.1-Invoice-Sample.json"),
        include_str!("../../data/myinvois/samples/1.1-Credit-Note-Sample.json"),
        include_str!("../../data/myinvois/samples/1.1-Refund-Note-Sample.json"),
    ];

    fn problems_of(text: &str) -> Vec<Problem> {
        check(&parse(text).unwrap_or(Node::Array(Vec::new())))
    }

    #[test]
    fn every_official_v1_1_sample_passes() {
        for sample in SAMPLES {
            assert_eq!(problems_of(sample), Vec::new());
        }
        let signed = include_str!("../../data/myinvois/signed/sample-ul-invoice-2.1-signed.min.json");
        assert_eq!(problems_of(signed), Vec::new());
    }

    #[test]
    fn the_code_tables_are_read() {
        assert!(is_code("StateCodes", "14") && is_code("StateCodes", "17") && !is_code("StateCodes", "18"));
        assert!(is_code("TaxTypes", "02") && is_code("TaxTypes", "E"));
        assert!(is_code("ClassificationCodes", "022") && is_code("MSICSubCategoryCodes", "62010"));
        assert!(is_code("PaymentMethods", "03") && !is_code("PaymentMethods", "09"));
    }

    /// The sample with one change, and the one problem that change makes.
    fn mutated(from: &str, to: &str) -> Vec<Problem> {
        let sample = SAMPLES[0];
        assert!(sample.contains(from), "{from}");
        problems_of(&sample.replacen(from, to, 1))
    }

    #[test]
    fn mutated_samples_fail_with_the_field_and_the_fault() {
        let cases: Vec<(Vec<Problem>, &str, Fault)> = vec![
            (
                mutated("\"_\": \"Buyer's TIN\"", "\"_\": \" \""),
                "AccountingCustomerParty.Party.PartyIdentification[TIN]",
                Fault::Missing,
            ),
            (
                mutated("\"_\": \"10\"", "\"_\": \"99\""),
                "AccountingSupplierParty.Party.PostalAddress.CountrySubentityCode",
                Fault::UnknownCode("StateCodes"),
            ),
            (mutated("\"_\": 87.63,", "\"_\": 87.64,"), "TaxTotal.TaxAmount", Fault::NotTheSum("87.63".into())),
            (
                mutated("\"listVersionID\": \"1.1\"", "\"listVersionID\": \"1.0\""),
                "InvoiceTypeCode@listVersionID",
                Fault::Expected("1.1"),
            ),
            (
                mutated("\"_\": \"46510\"", "\"_\": \"4651\""),
                "AccountingSupplierParty.Party.IndustryClassificationCode",
                Fault::UnknownCode("MSICSubCategoryCodes"),
            ),
        ];
        for (problems, field, fault) in cases {
            assert!(problems.iter().any(|p| p.field == field && p.fault == fault), "{field}: {problems:?}");
            assert!(problems.iter().all(|p| !p.english().is_empty() && p.malay() != p.english()));
        }
    }

    #[test]
    fn the_published_samples_do_not_add_up_and_totals_say_so() {
        let problems = check_totals(&parse(SAMPLES[0]).unwrap_or(Node::Array(Vec::new())));
        assert_eq!(problems[0].field, "TaxTotal.TaxAmount");
        assert_eq!(problems[0].english(), "TaxTotal.TaxAmount is not the sum of its parts (1460.50)");
        assert_eq!(problems[0].malay(), "TaxTotal.TaxAmount bukan jumlah bahagian-bahagiannya (1460.50)");
    }

    #[test]
    fn amounts_are_exact() {
        assert_eq!(millionths("1436.5"), Some(1_436_500_000));
        assert_eq!(millionths("-0.03"), Some(-30_000));
        assert_eq!(millionths("1e2"), Some(100_000_000));
        assert_eq!(millionths("0.1234567"), None, "finer than a millionth");
        assert_eq!(millionths("abc"), None);
    }
}
