//! What may happen: the rules file, risk levels, and approvals (statements, signatures,
//! allowed signers, k-of-n counting).

pub mod approval;
pub mod risk;
pub mod rules;
