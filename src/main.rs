use std::process::ExitCode;

fn main() -> ExitCode {
    // The confinement helper (`autonomy` re-executed by the exec runner to set up private
    // namespaces) never returns from here; see src/exec/isolate.rs.
    autonomy::exec::init_from_main();
    // Shell completion first: `COMPLETE=bash autonomy` prints the script, and the shell
    // calls back here for candidates.
    clap_complete::CompleteEnv::with_factory(autonomy::cli::command)
        .shells(autonomy::cli::complete::SHELLS)
        .complete();
    autonomy::cli::main()
}
