//! The one rule for whether a file or directory is "writable only by you", so that what is in
//! it (a setting, a cache entry, the entries of a directory the tools write in) can be trusted
//! by the effective user.
//!
//! It is when it is owned by the effective user (or, where the caller allows it, root), is not
//! writable by others (unless it is a directory with the sticky bit, as `/tmp`, where nobody
//! can replace another's entries), and, when it is writable by its group, that group is a
//! private group of the effective user's: its gid is the user's primary gid, it lists no
//! member but the user (`getgrgid`), and its name is the user's name. Systems that give every
//! user such a group and a umask of 002 (Fedora, RHEL, Debian with USERGROUPS, Arch with umask
//! 002) make `~/.cache` and `~/.local/state` mode 0775, and nobody else can write them there.

use crate::locations;

/// The effective user, as far as the rule needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    /// The effective user id.
    pub uid: u32,
    /// The primary group id in the password database (the effective group id without an entry).
    pub gid: u32,
    /// The name in the password database, if any.
    pub name: Option<String>,
}

impl Me {
    /// The effective user, from the password database.
    pub fn current() -> Me {
        let uid = locations::effective_uid();
        match locations::passwd_entry(uid) {
            Some(entry) => Me {
                uid,
                gid: entry.gid,
                name: Some(entry.name),
            },
            None => Me {
                uid,
                // SAFETY: getegid has no preconditions and cannot fail.
                gid: unsafe { libc::getegid() },
                name: None,
            },
        }
    }
}

/// A group of the group database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group id.
    pub gid: u32,
    /// The group's name.
    pub name: String,
    /// The members it lists (not the users whose primary group it is).
    pub members: Vec<String>,
}

/// Whose a file or directory may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owners {
    /// Only the effective user's (state and cache the tools write themselves).
    You,
    /// The effective user's or root's (settings, directories on the way).
    YouOrRoot,
}

/// Why something is not writable only by the effective user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untrusted {
    /// Owned by someone else; the words say whom.
    Owner(String),
    /// Writable by others or a group that is not the user's own; the words say who, `remove`
    /// is what `chmod` removes (`g`, `o` or `go`).
    Mode {
        /// Why, after the path: `is writable by ...`.
        why: String,
        /// The `chmod` who-letters that make it right: `g`, `o` or `go`.
        remove: &'static str,
    },
}

impl Untrusted {
    /// The words that follow the path in an error: `is owned by ...`, `is writable by ...`.
    pub fn why(&self) -> &str {
        match self {
            Untrusted::Owner(why) | Untrusted::Mode { why, .. } => why,
        }
    }

    /// What to run for the path `shown`: `chmod g-w PATH` for a mode problem, `None` for an
    /// owner problem (which the caller's hint explains).
    pub fn chmod(&self, shown: &std::path::Path) -> Option<String> {
        match self {
            Untrusted::Owner(_) => None,
            Untrusted::Mode { remove, .. } => Some(format!("chmod {remove}-w {}", shown.display())),
        }
    }
}

/// Decides whether an entry owned by `uid` and group `gid`, with `st_mode` `mode` (type bits
/// included), is writable only by `me` (see the module); `None` when it is. `group` looks a
/// group up by gid and is asked only for a group-writable entry in the user's primary group.
pub fn untrusted(
    uid: u32,
    gid: u32,
    mode: u32,
    owners: Owners,
    me: &Me,
    group: impl FnOnce(u32) -> Option<Group>,
) -> Option<Untrusted> {
    let owner_ok = uid == me.uid || (uid == 0 && owners == Owners::YouOrRoot);
    if !owner_ok {
        return Some(Untrusted::Owner(format!(
            "is owned by {}, not by you ({})",
            crate::safe_dir::who(uid),
            crate::safe_dir::who(me.uid)
        )));
    }
    let is_dir = mode & libc::S_IFMT == libc::S_IFDIR;
    let sticky_dir = is_dir && mode & libc::S_ISVTX != 0;
    let others = mode & 0o002 != 0 && !sticky_dir;
    let group_problem = if mode & 0o020 != 0 && !sticky_dir {
        not_private(gid, me, group)
    } else {
        None
    };
    let perms = mode & 0o7777;
    match (others, group_problem) {
        (false, None) => None,
        (true, None) => Some(Untrusted::Mode {
            why: format!("is writable by others (mode {perms:o})"),
            remove: "o",
        }),
        (others, Some(why)) => Some(Untrusted::Mode {
            why: format!(
                "is writable by {}its group {why} (mode {perms:o})",
                if others { "others and " } else { "" }
            ),
            remove: if others { "go" } else { "g" },
        }),
    }
}

/// Why the group `gid` is not a private group of `me`, naming it: `None` when it is.
fn not_private(gid: u32, me: &Me, group: impl FnOnce(u32) -> Option<Group>) -> Option<String> {
    if gid != me.gid {
        let name = group(gid).map_or_else(|| format!("id {gid}"), |g| g.name);
        return Some(format!("{name}, which is not your primary group"));
    }
    let Some(found) = group(gid) else {
        return Some(format!("id {gid}, which is not in the group database"));
    };
    let others: Vec<&str> = found
        .members
        .iter()
        .map(String::as_str)
        .filter(|m| Some(*m) != me.name.as_deref())
        .collect();
    if !others.is_empty() {
        return Some(format!(
            "{}, which also has {} in it",
            found.name,
            others.join(", ")
        ));
    }
    if me.name.as_deref() != Some(found.name.as_str()) {
        return Some(format!(
            "{}, which is not named after you, so it is not your private group",
            found.name
        ));
    }
    None
}

/// The group `gid` in the group database (`getgrgid_r`), `None` when it has no entry.
pub fn group(gid: u32) -> Option<Group> {
    let mut buf = vec![0 as libc::c_char; 64 * 1024];
    // SAFETY: an all-zero group is a valid value for getgrgid_r to fill in.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: gr and buf outlive the call and buf's length is passed; the strings read below
    // point into buf, which is still alive; gr_mem is a NULL-terminated array.
    unsafe {
        let rc = libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr(), buf.len(), &mut found);
        if rc != 0 || found.is_null() || gr.gr_name.is_null() {
            return None;
        }
        let text =
            |p: *const libc::c_char| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned();
        let mut members = Vec::new();
        let mut at = gr.gr_mem;
        while !at.is_null() && !(*at).is_null() {
            members.push(text(*at));
            at = at.add(1);
        }
        Some(Group {
            gid,
            name: text(gr.gr_name),
            members,
        })
    }
}

/// [`untrusted`] for the effective user, looking groups up in the group database. The user is
/// looked up once per process (the tools never change their effective user), so a walk of many
/// directories costs one password database lookup.
pub fn check(uid: u32, gid: u32, mode: u32, owners: Owners) -> Option<Untrusted> {
    static ME: std::sync::OnceLock<Me> = std::sync::OnceLock::new();
    untrusted(uid, gid, mode, owners, ME.get_or_init(Me::current), group)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: u32 = libc::S_IFDIR;
    const FILE: u32 = libc::S_IFREG;

    fn ann() -> Me {
        Me {
            uid: 1000,
            gid: 1000,
            name: Some("ann".into()),
        }
    }

    fn groups(gid: u32) -> Option<Group> {
        let (name, members): (&str, &[&str]) = match gid {
            1000 => ("ann", &[]),
            1001 => ("ann", &["ann"]),
            100 => ("users", &["ann", "bob", "carol"]),
            0 => ("root", &[]),
            _ => return None,
        };
        Some(Group {
            gid,
            name: name.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
        })
    }

    fn judge(uid: u32, gid: u32, mode: u32, owners: Owners, me: &Me) -> Option<Untrusted> {
        untrusted(uid, gid, mode, owners, me, groups)
    }

    #[test]
    fn owned_and_not_writable_by_others_is_trusted() {
        let ann = ann();
        assert_eq!(judge(1000, 100, DIR | 0o755, Owners::You, &ann), None);
        assert_eq!(judge(0, 0, DIR | 0o755, Owners::YouOrRoot, &ann), None);
        assert_eq!(judge(0, 0, DIR | 0o1777, Owners::YouOrRoot, &ann), None);
        assert_eq!(judge(1000, 1000, FILE | 0o600, Owners::You, &ann), None);
    }

    #[test]
    fn another_owner_is_refused_and_root_only_where_allowed() {
        let ann = ann();
        let refused = judge(0, 0, DIR | 0o700, Owners::You, &ann).unwrap();
        assert!(matches!(refused, Untrusted::Owner(_)), "{refused:?}");
        assert!(refused.why().starts_with("is owned by"), "{refused:?}");
        assert_eq!(refused.chmod(std::path::Path::new("/d")), None);
        assert!(judge(1001, 1000, DIR | 0o700, Owners::YouOrRoot, &ann).is_some());
    }

    #[test]
    fn a_private_group_may_write() {
        let ann = ann();
        assert_eq!(judge(1000, 1000, DIR | 0o775, Owners::You, &ann), None);
        assert_eq!(
            judge(1000, 1000, FILE | 0o664, Owners::YouOrRoot, &ann),
            None
        );
        let root = Me {
            uid: 0,
            gid: 0,
            name: Some("root".into()),
        };
        assert_eq!(judge(0, 0, DIR | 0o775, Owners::You, &root), None);
    }

    #[test]
    fn a_group_with_other_members_or_not_the_users_own_is_refused() {
        let ann = ann();
        let shared = Me {
            gid: 100,
            ..ann.clone()
        };
        let refused = judge(1000, 100, DIR | 0o775, Owners::You, &shared).unwrap();
        assert_eq!(
            refused.why(),
            "is writable by its group users, which also has bob, carol in it (mode 775)"
        );
        assert_eq!(
            refused.chmod(std::path::Path::new("/home/ann/.cache")),
            Some("chmod g-w /home/ann/.cache".into())
        );
        assert_eq!(
            judge(1000, 100, DIR | 0o775, Owners::You, &ann)
                .unwrap()
                .why(),
            "is writable by its group users, which is not your primary group (mode 775)"
        );
        let renamed = Me {
            name: Some("anne".into()),
            ..ann.clone()
        };
        assert!(judge(1000, 1000, DIR | 0o770, Owners::You, &renamed)
            .unwrap()
            .why()
            .contains("not named after you"));
        let listed = Me {
            gid: 1001,
            ..ann.clone()
        };
        assert_eq!(judge(1000, 1001, DIR | 0o775, Owners::You, &listed), None);
        let unknown = Me { gid: 7, ..ann };
        assert!(judge(1000, 7, FILE | 0o664, Owners::You, &unknown)
            .unwrap()
            .why()
            .contains("not in the group database"));
    }

    #[test]
    fn others_may_write_only_a_sticky_directory() {
        let ann = ann();
        let refused = judge(1000, 1000, DIR | 0o777, Owners::You, &ann).unwrap();
        assert_eq!(refused.why(), "is writable by others (mode 777)");
        assert_eq!(
            refused.chmod(std::path::Path::new("/d")),
            Some("chmod o-w /d".into())
        );
        assert!(judge(1000, 1000, FILE | 0o1666, Owners::You, &ann).is_some());
        let both = judge(1000, 100, DIR | 0o777, Owners::You, &ann).unwrap();
        assert_eq!(
            both.why(),
            "is writable by others and its group users, which is not your primary group (mode 777)"
        );
        assert_eq!(
            both.chmod(std::path::Path::new("/d")),
            Some("chmod go-w /d".into())
        );
    }
}
