//! Contents of a path as a preview or a bundle shows them: the bytes, or only the size of
//! what is too large to diff.

/// Contents larger than this are summarised rather than diffed.
pub const MAX_DIFF_BYTES: usize = 1 << 20;

/// What looking up a content hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Bytes(Vec<u8>),
    /// Larger than `MAX_DIFF_BYTES`: never loaded, reported by size.
    TooLarge(u64),
}
