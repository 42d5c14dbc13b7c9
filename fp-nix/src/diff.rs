//! The package diff between two generations, as data: a generation's packages are the direct
//! references of its store path, named the way `builtins.parseDrvName` splits them, and two
//! generations compare by name. A name whose versions stay but whose store paths change was
//! rebuilt. Closure sizes come from the closures' path-info (narSize and references of every
//! path), each package's closure summed here, so one query covers both sides. Showing it to
//! people is the tools' business.

use crate::env_marker;
use crate::error::Result;
use crate::path_info::PathInfo;
use crate::store_path::{parse_drv_name, store_dir, StorePath};
use crate::store_query;
use crate::Log;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A package of a generation: its name and version (`""` when it has none), and, when sizes
/// were asked for, how much the package's closure grows (negative: shrinks) in bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    /// Name, as `parseDrvName` gives it.
    pub name: String,
    /// Version, or `""`.
    pub version: String,
    /// Change of the package's closure size in bytes, when sizes were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_change: Option<i64>,
}

impl Package {
    /// A package from its name and version (`""` for none).
    pub fn new(name: &str, version: &str) -> Package {
        Package {
            name: name.to_string(),
            version: version.to_string(),
            size_change: None,
        }
    }
}

/// A package of a generation with the store path it comes from: what tells a rebuild (same
/// version, other path) and whose closure is measured.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Installed {
    /// The package, named from its store path.
    pub package: Package,
    /// Its store path.
    pub path: String,
}

/// A package present on both sides with other versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Name.
    pub name: String,
    /// Version before.
    pub from: String,
    /// Version after.
    pub to: String,
    /// Change of the package's closure size in bytes, when sizes were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_change: Option<i64>,
}

/// The closure sizes of both sides of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClosureSize {
    /// Bytes of the old side's closure.
    pub from: u64,
    /// Bytes of the new side's closure.
    pub to: u64,
    /// `to - from`.
    pub change: i64,
}

impl ClosureSize {
    /// The sizes of both sides, and the change between them.
    pub fn new(from: u64, to: u64) -> ClosureSize {
        ClosureSize {
            from,
            to,
            change: to as i64 - from as i64,
        }
    }
}

/// What changes from one generation to another, each list sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDiff {
    /// In the new generation only.
    pub added: Vec<Package>,
    /// In the old generation only.
    pub removed: Vec<Package>,
    /// In both, with another version.
    pub changed: Vec<Change>,
    /// In both at the same version, from another store path (new dependencies, a new build):
    /// what a diff by version alone hides.
    pub rebuilt: Vec<Package>,
    /// The whole closures' sizes, when sizes were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closure_size: Option<ClosureSize>,
}

/// The packages of a store path: its direct references without itself.
pub fn packages_of(log: &dyn Log, path: &str) -> Result<Vec<Package>> {
    let mut all = installed_of_many(log, &[path])?;
    Ok(packages(&all.remove(path).unwrap_or_default()))
}

/// The packages of several store paths, with their store paths. An env made by
/// `lib.mkProfile` lists its direct references in its marker, so it costs one file read; the
/// others are asked of the store in one query ([`store_query::path_infos`]).
pub fn installed_of_many(
    log: &dyn Log,
    paths: &[&str],
) -> Result<BTreeMap<String, Vec<Installed>>> {
    let mut result = BTreeMap::new();
    let mut ask = Vec::new();
    for &path in paths {
        match env_marker::read(Path::new(path)) {
            Some(marker) => {
                let refs = marker.store_paths.iter().map(String::as_str);
                result.insert(path.to_string(), installed_from_references(path, refs));
            }
            None => ask.push(path),
        }
    }
    for (path, info) in store_query::path_infos(log, &ask)? {
        let installed = installed_from_info(&path, &info);
        result.insert(path, installed);
    }
    Ok(result)
}

/// The diff from the store path `old` (none: an empty profile) to `new`. With `sizes`, every
/// entry carries its closure-size change, from the closures of just the packages the diff
/// names ([`store_query::closures`]), and the whole closures' sizes from one query of the two
/// roots ([`store_query::closure_sizes`]): two store queries, whatever the profile's size.
pub fn between(log: &dyn Log, old: Option<&str>, new: &str, sizes: bool) -> Result<PackageDiff> {
    let mut roots = vec![new];
    roots.extend(old);
    let mut installed = installed_of_many(log, &roots)?;
    // Moved out, not copied: thousands of packages.
    let after = installed.remove(new).unwrap_or_default();
    let before = match old {
        Some(old) if old == new => after.clone(),
        Some(old) => installed.remove(old).unwrap_or_default(),
        None => Vec::new(),
    };
    let mut d = diff_installed(&before, &after);
    if !sizes {
        return Ok(d);
    }
    let paths = entry_paths(&d, &before, &after);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let graph = store_query::closures(log, &paths)?;
    add_entry_sizes(&mut d, &graph, &before, &after);
    let totals = store_query::closure_sizes(log, &roots)?;
    let total = |p: Option<&str>| p.and_then(|p| totals.get(p)).copied().unwrap_or(0);
    d.closure_size = Some(ClosureSize::new(total(old), total(Some(new))));
    Ok(d)
}

/// The packages of the store path `own`, from what the store says of it.
pub fn packages_from_info(own: &str, info: &PathInfo) -> Vec<Package> {
    packages(&installed_from_info(own, info))
}

/// The packages of the store path `own` with their paths, from what `nix path-info` says of it.
pub fn installed_from_info(own: &str, info: &PathInfo) -> Vec<Installed> {
    installed_from_references(own, info.references.iter().map(String::as_str))
}

/// The packages alone, each name and version once.
pub fn packages(installed: &[Installed]) -> Vec<Package> {
    let mut packages: Vec<Package> = installed.iter().map(|i| i.package.clone()).collect();
    packages.sort();
    packages.dedup();
    packages
}

/// Turns reference store paths into packages, leaving out `own` (a path refers to itself when
/// it contains its own path) and anything that is not a store path.
pub fn packages_from_references<'a>(
    own: &str,
    references: impl IntoIterator<Item = &'a str>,
) -> Vec<Package> {
    packages(&installed_from_references(own, references))
}

/// The name of the file nix-env writes into each env it builds (its record of what it
/// installed); a reference of an env, not a package.
pub const NIX_ENV_MANIFEST: &str = "env-manifest.nix";

/// Like [`packages_from_references`], keeping each package's store path. nix-env's
/// `env-manifest.nix` is not a package, and an output of a package (`hello-1.0-man` beside
/// `hello-1.0`) counts as that package, under that package's store path: one package,
/// whatever outputs of it are installed.
pub fn installed_from_references<'a>(
    own: &str,
    references: impl IntoIterator<Item = &'a str>,
) -> Vec<Installed> {
    let store = store_dir();
    let paths: Vec<StorePath> = references
        .into_iter()
        .map(str::trim)
        .filter(|r| !r.is_empty() && *r != own)
        .filter_map(|r| StorePath::parse_in(r, &store).ok())
        .filter(|p| p.name() != NIX_ENV_MANIFEST)
        .collect();
    let by_name: BTreeMap<&str, &str> = paths.iter().map(|p| (p.name(), p.as_str())).collect();
    let mut installed: Vec<Installed> = paths
        .iter()
        .map(|p| {
            let base = package_of_output(p.name(), &by_name);
            let (name, version) = parse_drv_name(base);
            Installed {
                package: Package::new(name, version),
                path: by_name.get(base).copied().unwrap_or(p.as_str()).to_string(),
            }
        })
        .collect();
    installed.sort_unstable();
    installed.dedup();
    installed
}

/// The name of the package a store path name is an output of: `hello-1.0` for `hello-1.0-man`
/// when `names` (the env's references, by name) has `hello-1.0`, Nix naming an output other
/// than `out` `<name>-<output>`; else the name itself.
fn package_of_output<'a>(name: &'a str, names: &BTreeMap<&str, &str>) -> &'a str {
    match name.rsplit_once('-') {
        Some((base, output))
            if output.starts_with(|c: char| c.is_ascii_alphabetic())
                && output
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                && names.contains_key(base) =>
        {
            base
        }
        _ => name,
    }
}

/// Diffs `old` against `new` by name. A name present several times (several outputs or
/// versions) compares as the sorted list of its versions, joined with `, `. Without store
/// paths nothing counts as rebuilt; see [`diff_installed`].
pub fn diff(old: &[Package], new: &[Package]) -> PackageDiff {
    let bare = |pkgs: &[Package]| -> Vec<Installed> {
        pkgs.iter()
            .map(|p| Installed {
                package: p.clone(),
                path: String::new(),
            })
            .collect()
    };
    diff_installed(&bare(old), &bare(new))
}

/// One name's packages on one side: a run of the side's list sorted by name, version and path,
/// borrowed, so grouping thousands of packages copies and allocates nothing per name.
#[derive(Debug, Clone, Copy)]
struct Named<'a> {
    name: &'a str,
    run: &'a [&'a Installed],
}

impl<'a> Named<'a> {
    /// The distinct versions, sorted.
    fn versions(&self) -> impl Iterator<Item = &'a str> + 'a {
        let run = self.run;
        run.iter()
            .enumerate()
            .filter(move |&(i, p)| i == 0 || run[i - 1].package.version != p.package.version)
            .map(|(_, p)| p.package.version.as_str())
    }

    /// The versions as one shows them: sorted, joined with `, `.
    fn version(&self) -> String {
        self.versions().collect::<Vec<_>>().join(", ")
    }

    /// The distinct store paths, sorted; none for packages without paths.
    fn paths(&self) -> Vec<&'a str> {
        let mut paths: Vec<&str> = self
            .run
            .iter()
            .map(|p| p.path.as_str())
            .filter(|p| !p.is_empty())
            .collect();
        paths.sort_unstable();
        paths.dedup();
        paths
    }

    /// Whether both have the same versions.
    fn same_versions(&self, other: &Named) -> bool {
        self.versions().eq(other.versions())
    }

    /// Whether both come from the same store paths.
    fn same_paths(&self, other: &Named) -> bool {
        match (self.run, other.run) {
            ([one], [other]) => one.path == other.path,
            _ => self.paths() == other.paths(),
        }
    }
}

/// One side's packages sorted by name, version and path (a list of references already is, and
/// sorting it again is one pass), for [`group_by_name`].
fn sorted(side: &[Installed]) -> Vec<&Installed> {
    let mut sorted: Vec<&Installed> = side.iter().collect();
    sorted.sort_unstable();
    sorted
}

/// Groups a side's sorted packages ([`sorted`]) by name, in order of name.
fn group_by_name<'a>(sorted: &'a [&'a Installed]) -> Vec<Named<'a>> {
    sorted
        .chunk_by(|a, b| a.package.name == b.package.name)
        .map(|run| Named {
            name: &run[0].package.name,
            run,
        })
        .collect()
}

/// The group of `name` in groups made by [`group_by_name`].
fn named<'a>(groups: &[Named<'a>], name: &str) -> Option<Named<'a>> {
    groups
        .binary_search_by(|n| n.name.cmp(name))
        .ok()
        .map(|i| groups[i])
}

/// Diffs `old` against `new` by name, as [`diff`] does; a name whose versions are the same on
/// both sides but whose store paths differ is `rebuilt`.
pub fn diff_installed(old: &[Installed], new: &[Installed]) -> PackageDiff {
    let (old, new) = (sorted(old), sorted(new));
    let (old, new) = (group_by_name(&old), group_by_name(&new));
    let mut result = PackageDiff::default();
    let (mut before, mut after) = (old.iter().peekable(), new.iter().peekable());
    loop {
        let order = match (before.peek(), after.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(b), Some(a)) => b.name.cmp(a.name),
        };
        match order {
            std::cmp::Ordering::Less => {
                let b = before.next().expect("peeked");
                result.removed.push(Package::new(b.name, &b.version()));
            }
            std::cmp::Ordering::Greater => {
                let a = after.next().expect("peeked");
                result.added.push(Package::new(a.name, &a.version()));
            }
            std::cmp::Ordering::Equal => {
                let (b, a) = (
                    before.next().expect("peeked"),
                    after.next().expect("peeked"),
                );
                if !b.same_versions(a) {
                    result.changed.push(Change {
                        name: a.name.to_string(),
                        from: b.version(),
                        to: a.version(),
                        size_change: None,
                    });
                } else if !b.same_paths(a) {
                    result.rebuilt.push(Package::new(a.name, &a.version()));
                }
            }
        }
    }
    result
}

/// The closure of `roots` in `graph` (path-info of every path of the closure, as `nix
/// path-info --recursive` gives it): every path reachable through references, each once.
/// Paths missing from the graph are left out.
pub fn closure<'a>(
    graph: &'a BTreeMap<String, PathInfo>,
    roots: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<&'a str> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut todo: Vec<&str> = roots.into_iter().collect();
    while let Some(path) = todo.pop() {
        let Some((key, info)) = graph.get_key_value(path) else {
            continue;
        };
        if seen.insert(key.as_str()) {
            todo.extend(info.references.iter().map(String::as_str));
        }
    }
    seen
}

/// The size in bytes of the closure of `roots` in `graph`: the sum of each path's NAR size,
/// each path counted once.
pub fn closure_bytes<'a>(
    graph: &'a BTreeMap<String, PathInfo>,
    roots: impl IntoIterator<Item = &'a str>,
) -> u64 {
    closure(graph, roots)
        .into_iter()
        .map(|p| graph[p].nar_size)
        .sum()
}

/// Adds sizes to `d`, the diff of `old` against `new`: each entry's closure-size change
/// ([`add_entry_sizes`]) and both whole closures, rooted at `old_root` and `new_root`. `graph`
/// holds the path-info of both closures.
pub fn add_sizes(
    d: &mut PackageDiff,
    graph: &BTreeMap<String, PathInfo>,
    (old_root, old): (&str, &[Installed]),
    (new_root, new): (&str, &[Installed]),
) {
    add_entry_sizes(d, graph, old, new);
    d.closure_size = Some(ClosureSize::new(
        closure_bytes(graph, [old_root]),
        closure_bytes(graph, [new_root]),
    ));
}

/// Adds each entry's closure-size change to `d`, the diff of `old` against `new`: the closure
/// of the name's store paths on the new side minus on the old side (an added package grows by
/// its whole closure, a removed one shrinks by it). `graph` holds at least the closures of the
/// store paths of the names `d` lists ([`entry_paths`]).
pub fn add_entry_sizes(
    d: &mut PackageDiff,
    graph: &BTreeMap<String, PathInfo>,
    old: &[Installed],
    new: &[Installed],
) {
    let (old, new) = (sorted(old), sorted(new));
    let (old_named, new_named) = (group_by_name(&old), group_by_name(&new));
    let size = |side: &[Named], name: &str| -> i64 {
        named(side, name).map_or(0, |n| closure_bytes(graph, n.paths()) as i64)
    };
    let change = |name: &str| Some(size(&new_named, name) - size(&old_named, name));
    for p in d
        .added
        .iter_mut()
        .chain(&mut d.removed)
        .chain(&mut d.rebuilt)
    {
        p.size_change = change(&p.name);
    }
    for c in &mut d.changed {
        c.size_change = change(&c.name);
    }
}

/// The store paths, on either side, of the names `d` lists: whose closures the entries' size
/// changes are summed from.
pub fn entry_paths(d: &PackageDiff, old: &[Installed], new: &[Installed]) -> Vec<String> {
    let names: BTreeSet<&str> = d
        .added
        .iter()
        .chain(&d.removed)
        .chain(&d.rebuilt)
        .map(|p| p.name.as_str())
        .chain(d.changed.iter().map(|c| c.name.as_str()))
        .collect();
    let mut paths: Vec<String> = old
        .iter()
        .chain(new)
        .filter(|i| !i.path.is_empty() && names.contains(i.package.name.as_str()))
        .map(|i| i.path.clone())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

impl PackageDiff {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.rebuilt.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkgs(list: &[(&str, &str)]) -> Vec<Package> {
        list.iter().map(|(n, v)| Package::new(n, v)).collect()
    }

    #[test]
    fn outputs_are_their_package_and_the_nix_env_manifest_is_none() {
        let refs = [
            "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-1.0",
            "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-hello-1.0-man",
            "/nix/store/cccccccccccccccccccccccccccccccc-env-manifest.nix",
            "/nix/store/dddddddddddddddddddddddddddddddd-cowsay-3.7",
            // No `foo-1.0` beside it: a version of its own, not an output.
            "/nix/store/ffffffffffffffffffffffffffffffff-foo-1.0-rc1",
        ];
        let installed = installed_from_references("/nix/store/x-env", refs);
        assert_eq!(installed.len(), 3, "{installed:?}");
        assert_eq!(
            packages(&installed),
            [
                Package::new("cowsay", "3.7"),
                Package::new("foo", "1.0-rc1"),
                Package::new("hello", "1.0")
            ]
        );
        // Installing the man output beside hello changes no package.
        let before = installed_from_references("/e", [refs[0], refs[3], refs[4]]);
        assert!(diff_installed(&before, &installed).is_empty());
    }

    #[test]
    fn references_become_packages() {
        let h = "0123456789abcdfghijklmnpqrsvwxyz";
        let own = format!("/nix/store/{h}-profile");
        let refs = [
            own.clone(),
            format!("/nix/store/{h}-hello-2.12.1"),
            format!("/nix/store/{h}-fortune"),
            "not a path".to_string(),
        ];
        let got = packages_from_references(&own, refs.iter().map(String::as_str));
        assert_eq!(got, pkgs(&[("fortune", ""), ("hello", "2.12.1")]));
    }

    #[test]
    fn added_removed_changed_unchanged_versionless() {
        let old = pkgs(&[
            ("cowsay", "3.7.0"),
            ("hello", "2.12.1"),
            ("tree", "2.1"),
            ("motd", ""),
        ]);
        let new = pkgs(&[
            ("hello", "2.12.2"),
            ("ripgrep", "14.1.0"),
            ("tree", "2.1"),
            ("motd", ""),
            ("notes", ""),
        ]);
        let d = diff(&old, &new);
        assert_eq!(d.added, pkgs(&[("notes", ""), ("ripgrep", "14.1.0")]));
        assert_eq!(d.removed, pkgs(&[("cowsay", "3.7.0")]));
        assert_eq!(
            d.changed,
            vec![Change {
                name: "hello".into(),
                from: "2.12.1".into(),
                to: "2.12.2".into(),
                size_change: None,
            }]
        );
    }

    #[test]
    fn several_outputs_of_one_name_compare_together() {
        let old = pkgs(&[("hello", "1.0"), ("hello", "1.0-man")]);
        let new = pkgs(&[("hello", "1.0")]);
        let d = diff(&old, &new);
        assert_eq!(d.changed[0].from, "1.0, 1.0-man");
        assert_eq!(d.changed[0].to, "1.0");
    }

    #[test]
    fn nothing_changes() {
        let p = pkgs(&[("a", "1")]);
        let d = diff(&p, &p);
        assert!(d.is_empty());
    }

    fn installed(list: &[(&str, &str, &str)]) -> Vec<Installed> {
        list.iter()
            .map(|(n, v, p)| Installed {
                package: Package::new(n, v),
                path: p.to_string(),
            })
            .collect()
    }

    #[test]
    fn same_version_from_another_path_is_rebuilt() {
        let old = installed(&[("openssl", "3.0.13", "/a"), ("tree", "2.1", "/t")]);
        let new = installed(&[("openssl", "3.0.13", "/b"), ("tree", "2.1", "/t")]);
        let d = diff_installed(&old, &new);
        assert_eq!(d.rebuilt, pkgs(&[("openssl", "3.0.13")]));
        assert!(d.changed.is_empty() && d.added.is_empty() && d.removed.is_empty());
        assert!(!d.is_empty());
        // The same paths: nothing; without paths (the bare diff): never rebuilt.
        assert!(diff_installed(&old, &old).is_empty());
        assert!(diff(&packages(&old), &packages(&new)).is_empty());
    }

    #[test]
    fn several_paths_of_one_name_compare_as_sets() {
        let two = installed(&[("gcc", "13", "/lib"), ("gcc", "13", "/bin")]);
        let reordered = installed(&[
            ("gcc", "13", "/bin"),
            ("gcc", "13", "/lib"),
            ("gcc", "13", "/bin"),
        ]);
        assert!(diff_installed(&two, &reordered).is_empty());
        let other = installed(&[("gcc", "13", "/bin"), ("gcc", "13", "/lib2")]);
        assert_eq!(diff_installed(&two, &other).rebuilt, pkgs(&[("gcc", "13")]));
    }

    /// The diff of random sides, in any order, against the rule written plainly: by name, the
    /// sets of versions, then the sets of paths.
    #[test]
    fn diffs_follow_the_rule_on_random_sides() {
        let mut seed: u64 = 0x5eed;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for _ in 0..500 {
            let mut side = || -> Vec<Installed> {
                (0..next(8))
                    .map(|_| Installed {
                        package: Package::new(&format!("p{}", next(5)), &format!("{}", next(3))),
                        path: if next(4) == 0 {
                            String::new()
                        } else {
                            format!("/s{}", next(4))
                        },
                    })
                    .collect()
            };
            let (old, new) = (side(), side());
            type Sets = (BTreeSet<String>, BTreeSet<String>);
            let model = |side: &[Installed]| -> BTreeMap<String, Sets> {
                let mut map: BTreeMap<String, Sets> = BTreeMap::new();
                for i in side {
                    let e = map.entry(i.package.name.clone()).or_default();
                    e.0.insert(i.package.version.clone());
                    if !i.path.is_empty() {
                        e.1.insert(i.path.clone());
                    }
                }
                map
            };
            let (before, after) = (model(&old), model(&new));
            let joined = |s: &Sets| s.0.iter().cloned().collect::<Vec<_>>().join(", ");
            let mut want = PackageDiff::default();
            for (name, a) in &after {
                match before.get(name) {
                    None => want.added.push(Package::new(name, &joined(a))),
                    Some(b) if b.0 != a.0 => want.changed.push(Change {
                        name: name.clone(),
                        from: joined(b),
                        to: joined(a),
                        size_change: None,
                    }),
                    Some(b) if b.1 != a.1 => want.rebuilt.push(Package::new(name, &joined(a))),
                    Some(_) => {}
                }
            }
            for (name, b) in &before {
                if !after.contains_key(name) {
                    want.removed.push(Package::new(name, &joined(b)));
                }
            }
            assert_eq!(diff_installed(&old, &new), want, "{old:?} -> {new:?}");
        }
    }

    fn info(nar_size: u64, references: &[&str]) -> PathInfo {
        PathInfo {
            references: references.iter().map(|r| r.to_string()).collect(),
            nar_size,
            closure_size: None,
        }
    }

    #[test]
    fn closures_count_each_path_once_and_follow_cycles() {
        let graph: BTreeMap<String, PathInfo> = [
            ("/env", info(1, &["/env", "/a", "/b"])),
            ("/a", info(10, &["/a", "/lib"])),
            ("/b", info(100, &["/lib"])),
            ("/lib", info(1000, &["/a"])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(closure_bytes(&graph, ["/env"]), 1111);
        assert_eq!(closure_bytes(&graph, ["/b"]), 1110);
        assert_eq!(closure_bytes(&graph, ["/a", "/b"]), 1110);
        assert_eq!(closure_bytes(&graph, ["/missing"]), 0);
    }

    #[test]
    fn sizes_per_entry_and_in_total() {
        let graph: BTreeMap<String, PathInfo> = [
            ("/old", info(1, &["/ssl1", "/gone"])),
            ("/new", info(2, &["/ssl2", "/jq"])),
            ("/ssl1", info(100, &[])),
            ("/ssl2", info(150, &["/dep"])),
            ("/dep", info(7, &[])),
            ("/gone", info(40, &[])),
            ("/jq", info(30, &["/dep"])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let old = installed(&[("openssl", "3", "/ssl1"), ("cowsay", "1", "/gone")]);
        let new = installed(&[("openssl", "3", "/ssl2"), ("jq", "1.7", "/jq")]);
        let mut d = diff_installed(&old, &new);
        add_sizes(&mut d, &graph, ("/old", &old), ("/new", &new));
        assert_eq!(d.rebuilt[0].size_change, Some(157 - 100));
        assert_eq!(d.added[0].size_change, Some(37));
        assert_eq!(d.removed[0].size_change, Some(-40));
        assert_eq!(d.closure_size, Some(ClosureSize::new(141, 189)));
        assert_eq!(d.closure_size.unwrap().change, 48);
    }
}
