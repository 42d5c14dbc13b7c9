//! The `fp-generations` binary; everything it does is in the library (`fp_generations::run`).
fn main() -> std::process::ExitCode {
    fp_common::app::main(fp_generations::run)
}
