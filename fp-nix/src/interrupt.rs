//! Ctrl-C: a tool stops at its next step and says `interrupted` once, exit 130 (128 + SIGINT,
//! what a shell reports for a program SIGINT ended), instead of reporting the nix command that
//! Ctrl-C stopped as a failure of its own.
//!
//! The terminal sends SIGINT to every process of the foreground job: the tools and the nix
//! they run. The handler only records it; nix stops by itself, the tool sees the failed or
//! interrupted call, and [`interrupted`] tells the two apart. No new nix command is started
//! after it. Waits (a lock, a read) return instead of restarting (no `SA_RESTART`).

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the SIGINT handler (once, at start). A program run afterwards gets SIGINT's
/// default back at `exec`, as usual.
pub fn catch_interrupts() {
    // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which is
    // async-signal-safe; sigemptyset and sigaction have no other preconditions.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

/// Whether SIGINT arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
