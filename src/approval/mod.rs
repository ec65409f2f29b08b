//! Two people for large credits (maker–checker): a payment approval that
//! credits more units than the setting `approval_second_person_above_units`,
//! or a quota adjustment of more than `adjustment_second_person_above_units`,
//! is recorded here as *awaiting second approval* and credits nothing until a
//! different retail officer or administrator confirms it; either may cancel
//! it with a reason. The payment's own service (`request::service`) and the
//! ledger's (`ledger::service`) ask for it; `service` confirms and cancels.

pub mod http;
pub mod service;
pub mod store;

/// What waits for a second person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A payment approval (credits every line of the request).
    Payment,
    /// A quota adjustment.
    Adjustment,
}

impl Kind {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Adjustment => "adjustment",
        }
    }

    /// The kind with this stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Payment, Self::Adjustment].into_iter().find(|kind| kind.as_str() == text)
    }
}
