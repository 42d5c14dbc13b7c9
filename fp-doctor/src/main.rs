//! The `fp-doctor` binary; everything it does is in the library (`fp_doctor::run`).
fn main() -> std::process::ExitCode {
    fp_common::app::main(fp_doctor::run)
}
