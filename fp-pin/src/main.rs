//! The `fp-pin` binary; everything it does is in the library (`fp_pin::run`).
fn main() -> std::process::ExitCode {
    fp_common::app::main(fp_pin::run)
}
