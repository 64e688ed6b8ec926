use std::process::ExitCode;

fn main() -> ExitCode {
    // Shell completion first: `COMPLETE=bash autonomy` prints the script, and the shell
    // calls back here for candidates.
    clap_complete::CompleteEnv::with_factory(autonomy::cli::command)
        .shells(autonomy::cli::complete::SHELLS)
        .complete();
    autonomy::cli::main()
}
