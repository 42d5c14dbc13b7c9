//! The `fp-rollback` binary; everything it does is in the library (`fp_rollback::run`).
fn main() -> std::process::ExitCode {
    fp_common::app::main(fp_rollback::run)
}
