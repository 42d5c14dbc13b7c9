//! The `fp` binary; everything it does is in the library (`fp::main`).
fn main() -> std::process::ExitCode {
    fp::main()
}
