use std::process::ExitCode;

fn main() -> ExitCode {
    runlake::cli::main()
}
