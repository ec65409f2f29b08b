//! Pricing a quotation, free of I/O: lines × unit price, an optional
//! discount, then SST on the discounted subtotal, each rounded half-up to the
//! sen once per document.

use crate::money::{BasisPoints, Sen};

/// One priced line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PricedLine {
    /// Product code.
    pub product: String,
    /// Units.
    pub units: i64,
    /// Unit price in force on the quotation's date.
    pub unit_price: Sen,
    /// units × unit price.
    pub amount: Sen,
}

/// The figures of a quotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    /// Lines.
    pub lines: Vec<PricedLine>,
    /// Sum of line amounts.
    pub subtotal: Sen,
    /// Discount rate.
    pub discount_rate: BasisPoints,
    /// Discount amount.
    pub discount: Sen,
    /// SST rate.
    pub tax_rate: BasisPoints,
    /// SST on the discounted subtotal.
    pub tax: Sen,
    /// What the developer pays.
    pub total: Sen,
}

/// A price too large to represent (beyond RM 10 billion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the quotation total is too large")]
pub struct TooLarge;

/// Prices `(product, units, unit price)` lines.
///
/// # Errors
/// When an amount would pass the largest representable sum.
pub fn price(
    lines: &[(String, i64, Sen)],
    discount_rate: BasisPoints,
    tax_rate: BasisPoints,
) -> Result<Pricing, TooLarge> {
    let mut priced = Vec::with_capacity(lines.len());
    let mut subtotal = Sen::ZERO;
    for (product, units, unit_price) in lines {
        let amount = unit_price.times(*units).ok_or(TooLarge)?;
        subtotal = subtotal.plus(amount).ok_or(TooLarge)?;
        priced.push(PricedLine { product: product.clone(), units: *units, unit_price: *unit_price, amount });
    }
    let discount = subtotal.apply_rate(discount_rate);
    let taxable = subtotal.minus(discount);
    let tax = taxable.apply_rate(tax_rate);
    let total = taxable.plus(tax).ok_or(TooLarge)?;
    Ok(Pricing { lines: priced, subtotal, discount_rate, discount, tax_rate, tax, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sen(text: &str) -> Sen {
        text.parse().unwrap_or_default()
    }

    fn rate(text: &str) -> BasisPoints {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn a_plain_quotation_adds_eight_percent_sst() {
        let pricing = price(&[("CERT-1Y".into(), 100, sen("50.00"))], rate("0"), rate("8"));
        let pricing = pricing.unwrap_or_else(|_| unreachable!());
        assert_eq!(pricing.subtotal, sen("5000.00"));
        assert_eq!(pricing.tax, sen("400.00"));
        assert_eq!(pricing.total, sen("5400.00"));
    }

    #[test]
    fn tax_is_on_the_discounted_subtotal_rounded_once() {
        // 3 × 33.33 = 99.99; 10% discount = 9.999 → 10.00; taxable 89.99;
        // 8% = 7.1992 → 7.20; total 97.19.
        let pricing =
            price(&[("CERT-1M".into(), 3, sen("33.33"))], rate("10"), rate("8")).unwrap_or_else(|_| unreachable!());
        assert_eq!(
            (pricing.subtotal, pricing.discount, pricing.tax, pricing.total),
            (sen("99.99"), sen("10.00"), sen("7.20"), sen("97.19"))
        );
    }

    #[test]
    fn a_full_discount_is_free_and_absurd_totals_are_refused() {
        let free =
            price(&[("CERT-1M".into(), 5, sen("10.00"))], rate("100"), rate("8")).unwrap_or_else(|_| unreachable!());
        assert_eq!(free.total, Sen::ZERO);
        assert_eq!(price(&[("X".into(), 100_000, sen("9999999999.00"))], rate("0"), rate("8")), Err(TooLarge));
    }
}
