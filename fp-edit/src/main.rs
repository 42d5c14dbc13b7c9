//! The `fp-edit` binary; everything it does is in the library (`fp_edit::run`).
fn main() -> std::process::ExitCode {
    fp_common::app::main(fp_edit::run)
}
