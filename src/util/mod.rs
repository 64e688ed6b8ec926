//! Small building blocks with no knowledge of plans: hashing, a parallel map, counting
//! words, the clock and random ids, the OS identity, and file primitives (leases, opens
//! that refuse anything but a regular file).

pub mod clock;
pub mod hash;
pub mod identity;
pub mod ids;
pub mod inode;
pub mod par;
pub mod text;
