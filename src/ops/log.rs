//! Reading the journal's events for `log` (and the review console): the event rows, the
//! filter over them, and the agent scope (`--agent`, `--session`).

use crate::error::Result;
use crate::ops::session::Session;
pub use crate::store::journal::{AgentScope, Event, EventFilter, Events};

/// The events `filter` selects, oldest first, read as they are iterated.
pub fn events<'a>(s: &'a Session, filter: &EventFilter) -> Result<Events<'a>> {
    s.journal.events(filter)
}
