//! The package diff between two generations, as data: a generation's packages are the direct
//! references of its store path, named the way `builtins.parseDrvName` splits them, and two
//! generations compare by name. Showing it to people is the tools' business.

use crate::env_marker;
use crate::error::Result;
use crate::path_info::PathInfo;
use crate::store_path::{parse_drv_name, StorePath};
use crate::store_query;
use crate::Log;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A package of a generation: its name and version (`""` when it has none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Package {
    /// Name, as `parseDrvName` gives it.
    pub name: String,
    /// Version, or `""`.
    pub version: String,
}

impl Package {
    /// A package from its name and version (`""` for none).
    pub fn new(name: &str, version: &str) -> Package {
        Package {
            name: name.to_string(),
            version: version.to_string(),
        }
    }
}

/// A package present on both sides with other versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Name.
    pub name: String,
    /// Version before.
    pub from: String,
    /// Version after.
    pub to: String,
}

/// What changes from one generation to another, each list sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PackageDiff {
    /// In the new generation only.
    pub added: Vec<Package>,
    /// In the old generation only.
    pub removed: Vec<Package>,
    /// In both, with another version.
    pub changed: Vec<Change>,
}

/// The packages of a store path: its direct references without itself.
pub fn packages_of(log: &dyn Log, path: &str) -> Result<Vec<Package>> {
    let mut all = packages_of_many(log, &[path])?;
    Ok(all.remove(path).unwrap_or_default())
}

/// The packages of several store paths. An env made by `lib.mkProfile` lists its direct
/// references in its marker, so it costs one file read; the others are asked of the store in
/// one query ([`store_query::path_infos`]).
pub fn packages_of_many(log: &dyn Log, paths: &[&str]) -> Result<BTreeMap<String, Vec<Package>>> {
    let mut result = BTreeMap::new();
    let mut ask = Vec::new();
    for &path in paths {
        match env_marker::read(Path::new(path)) {
            Some(marker) => {
                let refs = marker.store_paths.iter().map(String::as_str);
                result.insert(path.to_string(), packages_from_references(path, refs));
            }
            None => ask.push(path),
        }
    }
    for (path, info) in store_query::path_infos(log, &ask, false)? {
        let packages = packages_from_info(&path, &info);
        result.insert(path, packages);
    }
    Ok(result)
}

/// The packages of the store path `own`, from what the store says of it.
pub fn packages_from_info(own: &str, info: &PathInfo) -> Vec<Package> {
    packages_from_references(own, info.references.iter().map(String::as_str))
}

/// Turns reference store paths into packages, leaving out `own` (a path refers to itself when
/// it contains its own path) and anything that is not a store path.
pub fn packages_from_references<'a>(
    own: &str,
    references: impl IntoIterator<Item = &'a str>,
) -> Vec<Package> {
    let mut packages: Vec<Package> = references
        .into_iter()
        .map(str::trim)
        .filter(|r| !r.is_empty() && *r != own)
        .filter_map(|r| StorePath::parse(r).ok())
        .map(|p| {
            let (name, version) = parse_drv_name(p.name());
            Package::new(name, version)
        })
        .collect();
    packages.sort();
    packages.dedup();
    packages
}

/// Diffs `old` against `new` by name. A name present several times (several outputs or
/// versions) compares as the sorted list of its versions, joined with `, `.
pub fn diff(old: &[Package], new: &[Package]) -> PackageDiff {
    let group = |pkgs: &[Package]| {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in pkgs {
            map.entry(p.name.clone())
                .or_default()
                .insert(p.version.clone());
        }
        map.into_iter()
            .map(|(name, versions)| (name, versions.into_iter().collect::<Vec<_>>().join(", ")))
            .collect::<BTreeMap<String, String>>()
    };
    let (old, new) = (group(old), group(new));
    let mut result = PackageDiff::default();
    for (name, version) in &new {
        match old.get(name) {
            None => result.added.push(Package {
                name: name.clone(),
                version: version.clone(),
            }),
            Some(before) if before != version => result.changed.push(Change {
                name: name.clone(),
                from: before.clone(),
                to: version.clone(),
            }),
            Some(_) => {}
        }
    }
    for (name, version) in &old {
        if !new.contains_key(name) {
            result.removed.push(Package {
                name: name.clone(),
                version: version.clone(),
            });
        }
    }
    result
}

impl PackageDiff {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkgs(list: &[(&str, &str)]) -> Vec<Package> {
        list.iter().map(|(n, v)| Package::new(n, v)).collect()
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
                to: "2.12.2".into()
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
}
