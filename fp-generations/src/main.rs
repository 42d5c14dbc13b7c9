//! The `fp-generations` binary; everything it does is in the library (`fp_generations::Cli`).
fn main() -> std::process::ExitCode {
    fp_common::app::main::<fp_generations::Cli>()
}
