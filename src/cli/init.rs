//! `autonomy init`

use super::{Ctx, ui};
use crate::error::Result;
use crate::ops::session::Session;

/// Create a workspace (.autonomy/) in this folder
///
/// Makes .autonomy/ (mode 0700) with the journal, the blob store and the lock, a new random
/// workspace id, and the first event of the hash chain. Refuses when the folder already holds
/// a workspace. Like .git/, .autonomy/ is found by walking up from the current folder.
///
/// Example:
///   cd my-project && autonomy init
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct InitArgs {}

pub fn run(_args: InitArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("init")?;
    let (s, id) = Session::init(&ctx.dir)?;
    let root =
        s.ws.root
            .canonicalize()
            .unwrap_or_else(|_| s.ws.root.clone());
    if ctx.json() {
        ui::json(
            &serde_json::json!({ "format_version": crate::model::FORMAT_VERSION, "workspace": id, "root": root }),
        );
    }
    ui::say(&format!(
        "Initialized autonomy workspace {} in {}",
        &id,
        root.join(".autonomy").display()
    ));
    ui::say("Next: write a plan file and run `autonomy plan FILE` (see `autonomy plan --help`).");
    Ok(())
}
