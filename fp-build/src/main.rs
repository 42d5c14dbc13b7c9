//! The `fp-build` binary; everything it does is in the library (`fp_build::run`).
fn main() -> std::process::ExitCode {
    fp_common::app::main(fp_build::run)
}
