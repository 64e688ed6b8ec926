//! One use case per file: what every front door (the CLI, hooks, review, sessions, MCP)
//! calls. The only layer that writes the journal and drives the engine; it knows nothing
//! of clap or terminals.

pub mod agent_session;
pub mod apply;
pub mod approvals;
pub mod approve;
pub mod decision;
pub mod export;
pub mod gc;
pub mod log;
pub mod mcp;
pub mod preview;
pub mod propose;
pub mod recover;
pub mod reject;
pub mod renames;
pub mod review;
pub mod rollback;
pub mod sandbox;
pub mod session;
pub mod shell_call;
pub mod signers;
pub mod stats;
pub mod suggest;
pub mod verify;
