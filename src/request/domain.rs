//! The quota request's life, as pure rules: states, actions, who may take
//! each action, where it leads, who must act next and by when.
//!
//! ```text
//! submitted ⇄ info_requested
//! submitted → quoted (→ quoted: a revision) → payment_submitted → credited → completed
//! quoted → credited (paid online: the gateway's confirmation, no one else)
//! quoted → info_requested (retail asks after an instant quotation)
//! payment_submitted → quoted (payment rejected)
//! submitted | info_requested | quoted | cancelled | expired → credited
//!     (retail credits an online payment that arrived late)
//! submitted | info_requested | quoted → cancelled (developer or retail)
//! payment_submitted → cancelled (retail)
//! quoted → expired (the quotation ran out without a payment)
//! ```

use std::fmt;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Sent by the developer; retail to quote.
    Submitted,
    /// Retail asked for details; developer to answer.
    InfoRequested,
    /// Quotation issued; developer to pay or send a PO.
    Quoted,
    /// Proof of payment or PO sent; retail to verify.
    PaymentSubmitted,
    /// Payment verified and quota credited; finance to invoice.
    Credited,
    /// Invoice and delivery order issued.
    Completed,
    /// Withdrawn.
    Cancelled,
    /// The quotation ran out without a payment.
    Expired,
}

impl Status {
    /// Every status.
    pub const ALL: [Self; 8] = [
        Self::Submitted,
        Self::InfoRequested,
        Self::Quoted,
        Self::PaymentSubmitted,
        Self::Credited,
        Self::Completed,
        Self::Cancelled,
        Self::Expired,
    ];

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::InfoRequested => "info_requested",
            Self::Quoted => "quoted",
            Self::PaymentSubmitted => "payment_submitted",
            Self::Credited => "credited",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// The status with this stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Who must act next, if anyone.
    #[must_use]
    pub fn owner(self) -> Option<Party> {
        match self {
            Self::Submitted | Self::PaymentSubmitted => Some(Party::Retail),
            Self::InfoRequested | Self::Quoted => Some(Party::Developer),
            Self::Credited => Some(Party::Finance),
            Self::Completed | Self::Cancelled | Self::Expired => None,
        }
    }

    /// How long the owner has, from the seed's table.
    #[must_use]
    pub fn deadline(self) -> Deadline {
        match self {
            Self::Submitted | Self::PaymentSubmitted | Self::Credited => Deadline::WorkingDays(2),
            Self::Quoted => Deadline::QuotationValidUntil,
            Self::InfoRequested | Self::Completed | Self::Cancelled | Self::Expired => Deadline::None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When the owner of a status must have acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// This many working days after entering the status.
    WorkingDays(i64),
    /// The valid-until date of the quotation.
    QuotationValidUntil,
    /// No deadline.
    None,
}

/// Who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// A user of the developer company that owns the request.
    Developer,
    /// Retail officer.
    Retail,
    /// Finance officer.
    Finance,
    /// Administrator (may act for any party).
    Admin,
    /// kuota itself (expiry).
    System,
}

impl Party {
    /// Every party.
    pub const ALL: [Self; 5] = [Self::Developer, Self::Retail, Self::Finance, Self::Admin, Self::System];
}

/// Something done to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The developer sends a new request (the transition from no state).
    Submit,
    /// Retail asks for missing details.
    RequestInfo,
    /// The developer answers.
    RespondInfo,
    /// Retail issues (or revises) the quotation.
    IssueQuotation,
    /// The developer sends proof of payment or a PO.
    SubmitPayment,
    /// Retail verifies the payment; quota is credited.
    ApprovePayment,
    /// Retail refuses the proof, with a reason.
    RejectPayment,
    /// Finance issues the invoice and delivery order.
    IssueInvoice,
    /// Withdraws the request.
    Cancel,
    /// The quotation ran out.
    Expire,
    /// The gateway confirmed an online payment of the quotation in force;
    /// quota is credited with no one's touch.
    PayOnline,
    /// Retail credits an online payment that arrived after its quotation
    /// stopped being in force (superseded, cancelled, expired).
    CreditLatePayment,
}

impl Action {
    /// Every action.
    pub const ALL: [Self; 12] = [
        Self::Submit,
        Self::RequestInfo,
        Self::RespondInfo,
        Self::IssueQuotation,
        Self::SubmitPayment,
        Self::ApprovePayment,
        Self::RejectPayment,
        Self::IssueInvoice,
        Self::Cancel,
        Self::Expire,
        Self::PayOnline,
        Self::CreditLatePayment,
    ];

    /// The name recorded in the timeline.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::RequestInfo => "request_info",
            Self::RespondInfo => "respond_info",
            Self::IssueQuotation => "issue_quotation",
            Self::SubmitPayment => "submit_payment",
            Self::ApprovePayment => "approve_payment",
            Self::RejectPayment => "reject_payment",
            Self::IssueInvoice => "issue_invoice",
            Self::Cancel => "cancel",
            Self::Expire => "expire",
            Self::PayOnline => "pay_online",
            Self::CreditLatePayment => "credit_late_payment",
        }
    }

    /// The parties that may take this action (admin may take any but the
    /// system's own). The system quotes at list price (instant quotation),
    /// invoices on credit, expires and records online payments.
    fn parties(self) -> &'static [Party] {
        match self {
            Self::Submit | Self::RespondInfo | Self::SubmitPayment => &[Party::Developer, Party::Admin],
            Self::RequestInfo | Self::ApprovePayment | Self::RejectPayment | Self::CreditLatePayment => {
                &[Party::Retail, Party::Admin]
            }
            Self::IssueQuotation => &[Party::Retail, Party::Admin, Party::System],
            Self::IssueInvoice => &[Party::Finance, Party::Admin, Party::System],
            Self::Cancel => &[Party::Developer, Party::Retail, Party::Admin],
            Self::Expire | Self::PayOnline => &[Party::System],
        }
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// This party may not take this action at all (403).
    #[error("{party:?} may not {action} a request", action = action.as_str())]
    WrongParty {
        /// Who tried.
        party: Party,
        /// What.
        action: Action,
    },
    /// Not in this state (409).
    #[error("a request that is {status} cannot {action}", action = action.as_str())]
    WrongStatus {
        /// Where the request stands.
        status: Status,
        /// What was tried.
        action: Action,
    },
    /// Only submission starts a request; nothing else can be done to none.
    #[error("there is no request to {action}", action = action.as_str())]
    NoRequest {
        /// What was tried.
        action: Action,
    },
}

/// The status after `party` takes `action` on a request in `from` (`None`:
/// no request yet, which only submission starts).
///
/// # Errors
/// `WrongParty` when the party may never take the action; `WrongStatus` when
/// it may, but not now; `NoRequest` for anything but submission on none.
pub fn transition(from: Option<Status>, action: Action, party: Party) -> Result<Status, TransitionError> {
    if !action.parties().contains(&party) {
        return Err(TransitionError::WrongParty { party, action });
    }
    let Some(status) = from else {
        return if action == Action::Submit {
            Ok(Status::Submitted)
        } else {
            Err(TransitionError::NoRequest { action })
        };
    };
    let developer = matches!(party, Party::Developer);
    let next = match (status, action) {
        (Status::Submitted | Status::Quoted, Action::RequestInfo) => Status::InfoRequested,
        (Status::InfoRequested, Action::RespondInfo) => Status::Submitted,
        (Status::Submitted | Status::Quoted, Action::IssueQuotation) => Status::Quoted,
        (Status::Quoted, Action::SubmitPayment) => Status::PaymentSubmitted,
        (Status::PaymentSubmitted, Action::ApprovePayment) => Status::Credited,
        (Status::PaymentSubmitted, Action::RejectPayment) => Status::Quoted,
        (Status::Credited, Action::IssueInvoice) => Status::Completed,
        (Status::Submitted | Status::InfoRequested | Status::Quoted, Action::Cancel) => Status::Cancelled,
        (Status::PaymentSubmitted, Action::Cancel) if !developer => Status::Cancelled,
        (Status::Quoted, Action::Expire) => Status::Expired,
        (Status::Quoted, Action::PayOnline) => Status::Credited,
        (
            Status::Submitted | Status::InfoRequested | Status::Quoted | Status::Cancelled | Status::Expired,
            Action::CreditLatePayment,
        ) => Status::Credited,
        _ => return Err(TransitionError::WrongStatus { status, action }),
    };
    Ok(next)
}

/// Longest message, note or reason.
pub const MESSAGE_MAX_CHARS: usize = 2_000;

/// A message, note or reason on a request: trimmed, 1 to 2,000 characters,
/// no control characters but line breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message(String);

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Nothing but spaces.
    #[error("must not be empty")]
    Empty,
    /// Over the limit.
    #[error("must be at most {MESSAGE_MAX_CHARS} characters")]
    TooLong,
    /// A control character other than a line break.
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl Message {
    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Message {
    type Err = MessageError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            Err(MessageError::Empty)
        } else if text.chars().count() > MESSAGE_MAX_CHARS {
            Err(MessageError::TooLong)
        } else if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
            Err(MessageError::ControlCharacter)
        } else {
            Ok(Self(text.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use Party as P;
    use Status as S;

    /// The allowed moves, written out by hand from the issue, independent of
    /// `transition`'s match: (from, action, parties, to).
    fn allowed() -> Vec<(Option<Status>, Action, Vec<Party>, Status)> {
        vec![
            (None, A::Submit, vec![P::Developer, P::Admin], S::Submitted),
            (Some(S::Submitted), A::RequestInfo, vec![P::Retail, P::Admin], S::InfoRequested),
            (Some(S::Quoted), A::RequestInfo, vec![P::Retail, P::Admin], S::InfoRequested),
            (Some(S::InfoRequested), A::RespondInfo, vec![P::Developer, P::Admin], S::Submitted),
            (Some(S::Submitted), A::IssueQuotation, vec![P::Retail, P::Admin, P::System], S::Quoted),
            (Some(S::Quoted), A::IssueQuotation, vec![P::Retail, P::Admin, P::System], S::Quoted),
            (Some(S::Quoted), A::SubmitPayment, vec![P::Developer, P::Admin], S::PaymentSubmitted),
            (Some(S::PaymentSubmitted), A::ApprovePayment, vec![P::Retail, P::Admin], S::Credited),
            (Some(S::PaymentSubmitted), A::RejectPayment, vec![P::Retail, P::Admin], S::Quoted),
            (Some(S::Credited), A::IssueInvoice, vec![P::Finance, P::Admin, P::System], S::Completed),
            (Some(S::Submitted), A::Cancel, vec![P::Developer, P::Retail, P::Admin], S::Cancelled),
            (Some(S::InfoRequested), A::Cancel, vec![P::Developer, P::Retail, P::Admin], S::Cancelled),
            (Some(S::Quoted), A::Cancel, vec![P::Developer, P::Retail, P::Admin], S::Cancelled),
            (Some(S::PaymentSubmitted), A::Cancel, vec![P::Retail, P::Admin], S::Cancelled),
            (Some(S::Quoted), A::Expire, vec![P::System], S::Expired),
            (Some(S::Quoted), A::PayOnline, vec![P::System], S::Credited),
            (Some(S::Submitted), A::CreditLatePayment, vec![P::Retail, P::Admin], S::Credited),
            (Some(S::InfoRequested), A::CreditLatePayment, vec![P::Retail, P::Admin], S::Credited),
            (Some(S::Quoted), A::CreditLatePayment, vec![P::Retail, P::Admin], S::Credited),
            (Some(S::Cancelled), A::CreditLatePayment, vec![P::Retail, P::Admin], S::Credited),
            (Some(S::Expired), A::CreditLatePayment, vec![P::Retail, P::Admin], S::Credited),
        ]
    }

    #[test]
    fn every_state_action_and_party_gives_the_right_answer() {
        let table = allowed();
        for from in std::iter::once(None).chain(S::ALL.map(Some)) {
            for action in A::ALL {
                for party in P::ALL {
                    let result = transition(from, action, party);
                    let row = table.iter().find(|(start, act, _, _)| *start == from && *act == action);
                    let may_ever = action.parties().contains(&party);
                    match row {
                        Some((_, _, parties, to)) if parties.contains(&party) => {
                            assert_eq!(result, Ok(*to), "{from:?} {action:?} by {party:?}");
                        }
                        _ if !may_ever => {
                            assert_eq!(
                                result,
                                Err(TransitionError::WrongParty { party, action }),
                                "{from:?} {action:?} by {party:?}"
                            );
                        }
                        _ => {
                            let refused = match from {
                                Some(status) => TransitionError::WrongStatus { status, action },
                                None => TransitionError::NoRequest { action },
                            };
                            assert_eq!(result, Err(refused), "{from:?} {action:?} by {party:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn messages_are_trimmed_and_bounded() {
        assert_eq!(" Sila sahkan. ".parse::<Message>().map(|m| m.as_str().to_owned()), Ok("Sila sahkan.".to_owned()));
        assert_eq!("Baris 1\nBaris 2".parse::<Message>().map(|m| m.as_str().len()), Ok(15));
        assert_eq!("  ".parse::<Message>(), Err(MessageError::Empty));
        assert_eq!("a\u{7}b".parse::<Message>(), Err(MessageError::ControlCharacter));
        assert_eq!("x".repeat(MESSAGE_MAX_CHARS + 1).parse::<Message>(), Err(MessageError::TooLong));
        assert!("x".repeat(MESSAGE_MAX_CHARS).parse::<Message>().is_ok());
    }

    #[test]
    fn ended_states_have_no_owner_and_no_way_out_but_a_late_payment() {
        for status in [S::Completed, S::Cancelled, S::Expired] {
            assert_eq!(status.owner(), None);
            for action in A::ALL {
                for party in P::ALL {
                    let late_credit = action == A::CreditLatePayment && status != S::Completed;
                    assert_eq!(
                        transition(Some(status), action, party).is_ok(),
                        late_credit && matches!(party, P::Retail | P::Admin)
                    );
                }
            }
        }
    }

    #[test]
    fn deadlines_follow_the_seed() {
        assert_eq!(S::Submitted.deadline(), Deadline::WorkingDays(2));
        assert_eq!(S::Quoted.deadline(), Deadline::QuotationValidUntil);
        assert_eq!(S::PaymentSubmitted.deadline(), Deadline::WorkingDays(2));
        assert_eq!(S::Credited.deadline(), Deadline::WorkingDays(2));
        assert_eq!(S::Credited.owner(), Some(P::Finance));
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in S::ALL {
            assert_eq!(S::parse(status.as_str()), Some(status));
        }
    }
}
