//! Helpers shared by fp-migrate's integration tests.
#![allow(dead_code)]

use fp_testkit::{Bed, Run};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_MIGRATE: &str = env!("CARGO_BIN_EXE_fp-migrate");

/// A fixture file of `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Asserts that real Nix parses the flake text (`nix-instantiate --parse`).
pub fn assert_parses(bed: &Bed, flake: &str) {
    let file = bed.path().join("parse-check.nix");
    std::fs::write(&file, flake).expect("write flake");
    bed.command("nix-instantiate")
        .arg("--parse")
        .arg(&file)
        .run()
        .success();
}

/// One package the flake installs, as evaluation with stub inputs reports it: the input's url,
/// the attribute path under the input and the priority set on it (null for none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Installed {
    pub url: String,
    pub path: Vec<String>,
    pub priority: Option<i64>,
}

/// Evaluates a generated flake with real Nix, with every input replaced by a stub built from
/// `tree` (attribute paths to stub packages, see [`stub_tree`]) and `mkProfile` returning its
/// arguments. Returns the evaluation (`urls`, `follows`, `description`, `attrs`: the flake's
/// top-level attribute names) and what `paths` holds.
pub fn evaluate(bed: &Bed, flake: &str, tree: &Value) -> (Value, Vec<Installed>) {
    let file = bed.path().join("eval-check.nix");
    std::fs::write(&file, flake).expect("write flake");
    let tree_file = bed.path().join("eval-tree.json");
    std::fs::write(&tree_file, tree.to_string()).expect("write tree");
    let expr = r#"{ flakeFile, treeFile }:
let
  flake = import flakeFile;
  tree = builtins.fromJSON (builtins.readFile treeFile);
  # The stub of input n: the tree with n in front of every leaf's path.
  mark = n: t:
    if builtins.isAttrs t
    then builtins.mapAttrs (k: v: if k == "__leaf" then [ n ] ++ v else mark n v) t
    else t;
  args = builtins.functionArgs flake.outputs;
  inputs = builtins.mapAttrs (n: _: mark n tree) args // {
    self = { };
    flakey-profile = { lib.mkProfile = a: a; };
  };
  outputs = flake.outputs inputs;
  system = builtins.head (builtins.attrNames outputs.packages);
in
{
  urls = builtins.mapAttrs (n: v: v.url or null) flake.inputs;
  follows = flake.inputs.flakey-profile.inputs.nixpkgs.follows;
  description = flake.description;
  attrs = builtins.attrNames flake;
  paths = builtins.map
    (p: { leaf = p.__leaf; priority = (p.meta or { }).priority or null; })
    outputs.packages.${system}.profile.paths;
}"#;
    let run = bed
        .command("nix-instantiate")
        .args(["--eval", "--strict", "--json", "--argstr", "flakeFile"])
        .arg(&file)
        .arg("--argstr")
        .arg("treeFile")
        .arg(&tree_file)
        .args(["--expr", expr])
        .run()
        .success();
    let value: Value = serde_json::from_str(&run.stdout).expect("eval JSON");
    let urls: Map<String, Value> = value["urls"].as_object().expect("urls").clone();
    let installed = value["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .map(|p| {
            let leaf: Vec<String> = p["leaf"]
                .as_array()
                .expect("leaf")
                .iter()
                .map(|c| c.as_str().expect("leaf part").to_string())
                .collect();
            let input = &leaf[0];
            Installed {
                url: urls[input].as_str().expect("input url").to_string(),
                path: leaf[1..].to_vec(),
                priority: p["priority"].as_i64(),
            }
        })
        .collect();
    (value, installed)
}

/// A stub input tree in which each of `paths` leads to a stub package: an attribute set with
/// `__leaf` (its path), the outputs `out` and `man` (and any in `outputs`), and `outputs`.
pub fn stub_tree(paths: impl IntoIterator<Item = (Vec<String>, Vec<String>)>) -> Value {
    let mut root = json!({});
    for (path, outputs) in paths {
        let mut node = &mut root;
        for part in &path {
            node = node
                .as_object_mut()
                .expect("object")
                .entry(part.clone())
                .or_insert_with(|| json!({}));
        }
        let obj = node.as_object_mut().expect("object");
        obj.insert("__leaf".into(), json!(path));
        let mut names = vec!["out".to_string(), "man".to_string()];
        names.extend(outputs);
        names.dedup();
        for o in &names {
            let mut full = path.clone();
            full.push(o.clone());
            let child = obj.entry(o.clone()).or_insert_with(|| json!({}));
            child
                .as_object_mut()
                .expect("object")
                .insert("__leaf".into(), json!(full));
        }
        obj.insert("outputs".into(), json!(["out", "man"]));
    }
    root
}

/// fp-migrate with these arguments and stdin.
pub fn migrate(bed: &Bed, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = bed.tool(FP_MIGRATE).args(args);
    if let Some(input) = stdin {
        cmd = cmd.stdin(input);
    }
    cmd.run()
}
