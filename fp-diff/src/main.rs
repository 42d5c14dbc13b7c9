//! The `fp-diff` binary; everything it does is in the library (`fp_diff::run`).
fn main() -> std::process::ExitCode {
    fp_common::app::main(fp_diff::run)
}
