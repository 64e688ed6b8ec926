//! The primitive operations every source of a plan (plan file, patch, capture, agent tool
//! call) is turned into before it is folded over the workspace (`overlay`).

use crate::model::plan::ExecStep;
use crate::paths::RelPath;

/// How a chmod or write sets permission bits.
#[derive(Debug, Clone, Copy)]
pub enum ModeSpec {
    Exact(u32),
    Executable(bool),
}

/// One primitive operation, after the plan file's convenience has been resolved.
#[derive(Debug)]
pub enum Op {
    Write {
        path: RelPath,
        bytes: Vec<u8>,
        mode: Option<ModeSpec>,
    },
    /// A write whose content was streamed into the plan's blob batch (a `content_file`).
    WriteStaged {
        path: RelPath,
        hash: String,
        mode: Option<ModeSpec>,
    },
    Edit {
        path: RelPath,
        find: Vec<u8>,
        replace: Vec<u8>,
        count: usize,
    },
    Delete {
        path: RelPath,
    },
    Move {
        from: RelPath,
        to: RelPath,
    },
    Mkdir {
        path: RelPath,
    },
    Chmod {
        path: RelPath,
        mode: ModeSpec,
    },
    /// Create or retarget a symbolic link (its target recorded verbatim, never followed).
    Symlink {
        path: RelPath,
        target: String,
    },
    /// A command step (runs after every file change of the plan).
    Exec(ExecStep),
}
