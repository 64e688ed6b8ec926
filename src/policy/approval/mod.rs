//! Approvals: who approved a plan and how (at a terminal, or with an SSH-signed approval
//! file), the statement and file formats, the allowed-signers file, and whether what is
//! held meets what the rules require.

pub mod allowed_signers;
pub mod check;
pub mod file;
pub mod gate;
pub mod outlook;
pub mod refusal;
pub mod signers_edit;
pub mod sshsig;
pub mod statement;
pub mod verify;

pub use gate::{Held, evaluate};
