//! The `fp-migrate` binary; everything it does is in the library (`fp_migrate::run`).
fn main() -> std::process::ExitCode {
    fp_common::app::main(fp_migrate::run)
}
