//! A command on a machine where Nix never ran: it runs in a mount namespace of its own whose
//! `/nix` is an empty tmpfs, so the first Nix command makes the store from nothing, as on a
//! fresh install (no `nix-store --init` before it). The mounts vanish with the namespace.

use crate::Cmd;

/// Whether an empty `/nix` can be mounted in a new mount namespace without reaching the
/// caller's: either `/` is a mount point here (the namespace's mounts are then made private),
/// or this is a chroot whose mounts propagate nowhere (none is shared).
fn can_hide_nix() -> Result<(), String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let mut root_is_mount = false;
    let mut shared = false;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        root_is_mount |= fields.get(4) == Some(&"/");
        shared |= fields
            .iter()
            .skip(6)
            .take_while(|f| **f != "-")
            .any(|f| f.starts_with("shared:"));
    }
    if root_is_mount || !shared {
        Ok(())
    } else {
        Err("/ is no mount point and mounts here are shared: an empty /nix would reach other namespaces".into())
    }
}

impl Cmd {
    /// Runs the command with an empty `/nix` of its own (a tmpfs in a new mount namespace):
    /// Nix as on a machine where it never ran. Needs root; panics when the mount could reach
    /// other processes.
    pub fn with_empty_nix(mut self) -> Self {
        use std::os::unix::process::CommandExt;
        if let Err(why) = can_hide_nix() {
            panic!("cannot give the command an empty /nix: {why}");
        }
        // SAFETY: the closure runs in the forked child before exec and makes only system calls
        // on C string literals (no allocation, no locks).
        unsafe {
            self.cmd.pre_exec(|| {
                let none = std::ptr::null::<libc::c_char>();
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Fails only inside a chroot, whose mounts can_hide_nix found unshared.
                let _ = libc::mount(
                    none,
                    c"/".as_ptr(),
                    none,
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                );
                if libc::mount(
                    c"fp-empty-nix".as_ptr(),
                    c"/nix".as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    c"mode=0755".as_ptr().cast(),
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        self
    }
}
