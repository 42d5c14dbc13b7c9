//! The store database, read directly, against what the running Nix says of the same paths:
//! references, NAR sizes, closure sizes and validity must be the same on every Nix version.

use fp_nix::path_info;
use fp_nix::store_db::StoreDb;
use fp_nix::store_path::{self, StorePath};
use fp_nix::store_query::{self, database_location, Settings};
use fp_nix::Silent;
use fp_testkit::Bed;

/// Two envs of the offline package set and everything in their closures.
fn built_paths(bed: &Bed) -> (Vec<String>, Vec<String>) {
    let a = bed.build(&bed.profile_flake("a", 1, &["hello", "cowsay", "tree", "motd"]));
    let b = bed.build(&bed.profile_flake("b", 2, &["hello", "jq", "tree", "motd"]));
    let closure = bed
        .command("nix-store")
        .args(["--query", "--requisites", a.as_str(), b.as_str()])
        .run()
        .success();
    let all = closure.stdout.lines().map(str::to_string).collect();
    (vec![a, b], all)
}

/// This machine's store database, where Nix keeps it by default.
fn database() -> StoreDb {
    let db = database_location(&Settings::default()).expect("the default store is local");
    StoreDb::open(&db).unwrap_or_else(|e| panic!("{}: {e}", db.display()))
}

#[test]
fn database_and_nix_path_info_agree() {
    let bed = Bed::new();
    let (envs, all) = built_paths(&bed);
    assert!(all.len() > envs.len(), "{all:?}");
    let paths: Vec<&str> = all.iter().map(String::as_str).collect();
    let from_nix = path_info::query(&Silent, &paths, false).expect("nix path-info");
    let from_db: std::collections::BTreeMap<_, _> = database()
        .path_infos(&paths)
        .expect("the database reads")
        .into_iter()
        .map(|(path, info)| (path.clone(), info.unwrap_or_else(|| panic!("{path}"))))
        .collect();
    assert_eq!(from_db, from_nix);
    // Closure sizes, as `nix path-info --closure-size` sums them.
    let sizes_from_nix: std::collections::BTreeMap<_, _> = path_info::query(&Silent, &paths, true)
        .expect("nix path-info --closure-size")
        .into_iter()
        .map(|(path, info)| (path, info.closure_size.expect("asked for")))
        .collect();
    let sizes_from_db = store_query::closure_sizes(&Silent, &paths).unwrap();
    assert_eq!(sizes_from_db, sizes_from_nix);
    // The env refers to its packages, and its closure is more than itself: the comparisons
    // are not between empty lists or zeros.
    let infos = store_query::path_infos(&Silent, &[envs[0].as_str()]).unwrap();
    assert!(infos[&envs[0]].references.len() >= 4, "{infos:?}");
    assert!(
        sizes_from_db[&envs[0]] > infos[&envs[0]].nar_size,
        "{sizes_from_db:?}"
    );
}

/// The whole closures, as `fp-diff --closure` and `--sizes` read them: every path with its
/// references and NAR size, the same from the database as from `nix path-info --recursive`.
#[test]
fn database_and_nix_agree_on_whole_closures() {
    let bed = Bed::new();
    let (envs, all) = built_paths(&bed);
    let roots: Vec<&str> = envs.iter().map(String::as_str).collect();
    let from_nix = path_info::query_closures(&Silent, &roots).expect("nix path-info --recursive");
    let from_db = database()
        .closures(&roots)
        .expect("the database reads")
        .expect("the roots are valid");
    assert_eq!(from_db, from_nix);
    assert_eq!(from_db.len(), all.len(), "{:?}", from_db.keys());
    let never = format!(
        "{}/00000000000000000000000000000000-never",
        store_path::store_dir().display()
    );
    assert_eq!(
        database().closures(&[never.as_str()]).unwrap(),
        Err(never.clone())
    );
}

#[test]
fn database_and_nix_agree_on_validity() {
    let bed = Bed::new();
    let (envs, _) = built_paths(&bed);
    let valid = StorePath::parse(&envs[0]).unwrap();
    assert!(database().is_valid(valid.as_str()).unwrap());
    assert!(store_path::check_validity(&Silent, &valid).unwrap());
    assert!(store_query::is_valid(&Silent, &valid).unwrap());
    // A store path nix never registered: the database, nix and the query all say so.
    let never = format!(
        "{}/0123456789abcdfghijklmnpqrsvwxyz-never-registered",
        store_path::store_dir().display()
    );
    let never = StorePath::parse(&never).unwrap();
    assert!(!database().is_valid(never.as_str()).unwrap());
    assert!(!store_path::check_validity(&Silent, &never).unwrap());
    assert!(!store_query::is_valid(&Silent, &never).unwrap());
    let err = store_query::path_infos(&Silent, &[never.as_str()]).unwrap_err();
    assert_eq!(err.code(), 2, "{}", err.message());
}
