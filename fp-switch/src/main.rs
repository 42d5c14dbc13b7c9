//! The `fp-switch` binary; everything it does is in the library (`fp_switch::run`).
fn main() -> std::process::ExitCode {
    fp_common::app::main(fp_switch::run)
}
