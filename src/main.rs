//! The `kuota` binary: parses the command line and hands over to [`kuota::cli`].

fn main() -> std::process::ExitCode {
    kuota::cli::main()
}
