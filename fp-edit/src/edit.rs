//! Editing the `paths` of a profile in flake.nix as a person would: the file is parsed into a
//! lossless syntax tree (every byte, comments and whitespace included, is in the tree), the
//! `lib.mkProfile` call of the attribute is found, and an entry is inserted into or removed from
//! one of the lists its `paths` is made of, by text range. Every byte outside the edit stays as
//! it was; the new text is parsed again and must declare exactly what was asked for.
//!
//! Everything here is pure: text in, text (or a refusal) out.

use crate::name::Name;
use rnix::{Root, SyntaxKind, SyntaxKind::*, SyntaxNode, TextRange};
use std::collections::BTreeSet;

/// Why a flake cannot be edited; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The 1-based line the problem is on; 0 when it is about the file as a whole.
    pub line: usize,
    /// What is wrong.
    pub message: String,
    /// What to do instead (often: what to write by hand).
    pub hint: String,
}

impl Refusal {
    /// A refusal about the file as a whole (line 0).
    fn whole(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Refusal {
            line: 0,
            message: message.into(),
            hint: hint.into(),
        }
    }

    fn at(
        source: &str,
        offset: usize,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Refusal {
            line: line_of(source, offset),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// The 1-based line of byte `offset` of `source`.
pub fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].matches('\n').count() + 1
}

/// One entry of `paths`, as the file has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's text as written: `ripgrep`, `pkgs.jq`, `(nix-direnv.override { ... })`.
    pub text: String,
    /// The package it names, when it is a plain attribute (`ripgrep` for `pkgs.ripgrep` too;
    /// `mytool#default` for `mytool.packages.${system}.default`).
    pub key: Option<String>,
    /// Whether it is in a list that only applies sometimes (`lib.optionals ...`) or is made
    /// by a function (`map ...`).
    pub conditional: bool,
    /// Its 1-based line.
    pub line: usize,
}

/// How a list writes its packages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Style {
    /// Under `with NS;`: bare names.
    With(String),
    /// Each entry is a prefix and the attribute: `pkgs.` or `nixpkgs.legacyPackages.${system}.`.
    Prefix(String),
}

/// One list literal `paths` is made of.
#[derive(Debug, Clone)]
struct ListInfo {
    node: SyntaxNode,
    style: Style,
    /// Inside `lib.optionals`, `map` or another function application.
    conditional: bool,
    /// Inside `map` (or another function whose result is not the list itself).
    mapped: bool,
}

/// The lists of the profile's `paths`.
struct Paths {
    lists: Vec<ListInfo>,
}

/// What `add` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The new text of the file.
    pub text: String,
    /// The names that were added or removed.
    pub changed: Vec<Name>,
    /// The names that were already as asked (declared for add; never happens for remove).
    pub unchanged: Vec<Name>,
}

/// Which lists an edit is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The `paths` of the `lib.mkProfile` call bound to this attribute, in a flake.nix.
    Profile(&'a str),
    /// The whole file is the list (after its arguments: `{ pkgs }: with pkgs; [ ... ]`), as a
    /// file `paths` imports is.
    ListFile,
}

/// Parses `source`, refusing text that is not Nix.
fn parse(source: &str) -> Result<SyntaxNode, Refusal> {
    let parse = Root::parse(source);
    if let Some(err) = parse.errors().first() {
        let offset = error_offset(err).unwrap_or(source.len());
        return Err(Refusal::at(
            source,
            offset,
            format!("the file does not parse as Nix: {err}"),
            "fix the syntax error first (nix flake check shows it too)",
        ));
    }
    Ok(parse.syntax())
}

/// Where a parse error is, when it says.
fn error_offset(err: &rnix::ParseError) -> Option<usize> {
    use rnix::ParseError::*;
    let range = match err {
        Unexpected(r) | UnexpectedExtra(r) | UnexpectedDoubleBind(r) => *r,
        UnexpectedWanted(_, r, _) | DuplicatedArgs(r, _) => *r,
        _ => return None,
    };
    Some(usize::from(range.start()))
}

/// The text of `node` without whitespace and comments.
fn compact(node: &SyntaxNode) -> String {
    node.descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !matches!(t.kind(), TOKEN_WHITESPACE | TOKEN_COMMENT))
        .map(|t| t.text().to_string())
        .collect()
}

fn start(node: &SyntaxNode) -> usize {
    usize::from(node.text_range().start())
}

fn end(node: &SyntaxNode) -> usize {
    usize::from(node.text_range().end())
}

/// The expression children of `node` (not tokens).
fn children(node: &SyntaxNode) -> Vec<SyntaxNode> {
    node.children().collect()
}

/// The attribute-path text of an `a.b = value;` node, and its value.
fn binding(node: &SyntaxNode) -> Option<(String, SyntaxNode)> {
    if node.kind() != NODE_ATTRPATH_VALUE {
        return None;
    }
    let mut kids = node.children();
    let path = kids.next().filter(|n| n.kind() == NODE_ATTRPATH)?;
    let value = kids.next()?;
    Some((compact(&path), value))
}

/// The last component of an attribute path text (`packages.${system}.profile` → `profile`).
fn last_component(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// The `lib.mkProfile { ... }` calls of the file: (the attribute set argument, the name of
/// the attribute it is bound to, if any).
fn mk_profile_calls(root: &SyntaxNode) -> Vec<(SyntaxNode, Option<String>)> {
    let mut calls = Vec::new();
    for node in root.descendants().filter(|n| n.kind() == NODE_APPLY) {
        let kids = children(&node);
        let [function, argument] = kids.as_slice() else {
            continue;
        };
        let name = compact(function);
        if !(name == "mkProfile" || name.ends_with(".mkProfile")) {
            continue;
        }
        let Some(set) = unparen(argument).filter(|n| n.kind() == NODE_ATTR_SET) else {
            continue;
        };
        let bound = node
            .ancestors()
            .find_map(|a| binding(&a))
            .map(|(path, _)| last_component(&path).to_string());
        calls.push((set, bound));
    }
    calls
}

/// `node` without the parentheses around it.
fn unparen(node: &SyntaxNode) -> Option<SyntaxNode> {
    let mut node = node.clone();
    while node.kind() == NODE_PAREN {
        node = node.children().next()?;
    }
    Some(node)
}

/// Finds the profile `attr` and the value of its `paths`.
fn paths_value(source: &str, root: &SyntaxNode, attr: &str) -> Result<SyntaxNode, Refusal> {
    let calls = mk_profile_calls(root);
    let matching: Vec<&SyntaxNode> = calls
        .iter()
        .filter(|(_, bound)| bound.as_deref() == Some(attr))
        .map(|(set, _)| set)
        .collect();
    let set = match (matching.as_slice(), calls.as_slice()) {
        ([one], _) => (*one).clone(),
        ([], [(only, None)]) => only.clone(),
        ([], []) => {
            return Err(Refusal::whole(
                "there is no lib.mkProfile call in the file",
                "fp-edit edits the paths of a flakey-profile flake: profile = flakey-profile.lib.mkProfile { inherit pkgs; paths = [ ... ]; }",
            ))
        }
        ([], _) => {
            return Err(Refusal::whole(
                format!("none of the lib.mkProfile calls in the file is bound to the attribute {attr:?}"),
                "name the profile's attribute with --attr",
            ))
        }
        (several, _) => {
            return Err(Refusal::at(
                source,
                start(several[1]),
                format!("the profile {attr:?} is defined in several places (lines {})", lines(source, several)),
                "edit the paths of each by hand, or build one of them with --attr",
            ))
        }
    };
    let paths: Vec<SyntaxNode> = set
        .children()
        .filter_map(|n| binding(&n).filter(|(p, _)| p == "paths").map(|(_, v)| v))
        .collect();
    let value = match paths.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(Refusal::at(
                source,
                start(&set),
                "the lib.mkProfile call has no `paths`",
                "add `paths = [ ];` to it",
            ))
        }
        several => {
            return Err(Refusal::at(
                source,
                start(&several[1]),
                format!(
                    "`paths` is defined in several places (lines {})",
                    lines(source, several)
                ),
                "keep one `paths = [ ... ];`",
            ))
        }
    };
    Ok(value)
}

/// Finds the lists an edit of `target` is made in.
fn find_lists(source: &str, root: &SyntaxNode, target: Target) -> Result<Paths, Refusal> {
    let value = match target {
        Target::Profile(attr) => paths_value(source, root, attr)?,
        Target::ListFile => {
            let mut body = root.children().next().ok_or_else(|| {
                Refusal::whole(
                    "the file is empty",
                    "write the list: { pkgs }: with pkgs; [ ]",
                )
            })?;
            while body.kind() == NODE_LAMBDA {
                match children(&body).last() {
                    Some(inner) => body = inner.clone(),
                    None => break,
                }
            }
            body
        }
    };
    let mut lists = Vec::new();
    collect_lists(source, &value, false, false, &mut lists, 0)?;
    Ok(Paths { lists })
}

/// The file `paths` of the profile `attr` is read from, when it is (or a name bound by `let`
/// to) `import ./FILE ...`: the path as written (`./packages.nix`). `None` when `paths` is
/// written in the flake.
pub fn imported(source: &str, attr: &str) -> Result<Option<String>, Refusal> {
    let root = parse(source)?;
    let mut node = paths_value(source, &root, attr)?;
    for _ in 0..32 {
        match node.kind() {
            NODE_PAREN => match node.children().next() {
                Some(inner) => node = inner,
                None => return Ok(None),
            },
            NODE_IDENT => {
                let name = compact(&node);
                match let_binding(source, &node, &name) {
                    Ok(value) => node = value,
                    Err(_) => return Ok(None),
                }
            }
            NODE_APPLY => {
                let (function, args) = apply_chain(&node);
                if compact(&function) != "import" {
                    return Ok(None);
                }
                return match args.first().and_then(unparen) {
                    Some(path) if path.kind() == NODE_PATH_REL => Ok(Some(compact(&path))),
                    _ => Err(computed(source, &node)),
                };
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// The lines of `nodes`, for messages.
fn lines(source: &str, nodes: &[impl std::borrow::Borrow<SyntaxNode>]) -> String {
    nodes
        .iter()
        .map(|n| line_of(source, start(n.borrow())).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The refusal for a `paths` fp-edit cannot see into; a list read from another file
/// (`import ./packages.nix ...`) is named as such, with the file to edit.
fn computed(source: &str, node: &SyntaxNode) -> Refusal {
    let (function, args) = apply_chain(node);
    if node.kind() == NODE_APPLY && compact(&function) == "import" {
        let file = args.first().map(compact).unwrap_or_default();
        return Refusal::at(
            source,
            start(node),
            format!(
                "`paths` uses a list read from another file ({}); fp-edit edits that file only when `paths` is the import alone",
                shorten(&file)
            ),
            format!("add the package to the list in {} by hand", shorten(&file)),
        );
    }
    Refusal::at(
        source,
        start(node),
        format!(
            "`paths` is computed ({}), not a list fp-edit can edit",
            shorten(&compact(node))
        ),
        "add the package to the list by hand, or make paths a list: paths = with pkgs; [ ... ] ++ ...;",
    )
}

/// `text`, cut to a readable length.
fn shorten(text: &str) -> String {
    if text.chars().count() > 50 {
        format!("{}...", text.chars().take(47).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Collects the list literals the expression `node` is made of: a list, `with NS; ...`, a
/// parenthesised expression, `A ++ B`, a name bound by `let`, and lists given to a function
/// (`lib.optionals cond [ ... ]`, conditional). Anything else is refused.
fn collect_lists(
    source: &str,
    node: &SyntaxNode,
    conditional: bool,
    mapped: bool,
    out: &mut Vec<ListInfo>,
    depth: usize,
) -> Result<(), Refusal> {
    if depth > 32 {
        return Err(computed(source, node));
    }
    match node.kind() {
        NODE_LIST => {
            out.push(ListInfo {
                node: node.clone(),
                style: style_of(node),
                conditional,
                mapped,
            });
            Ok(())
        }
        NODE_PAREN => match node.children().next() {
            Some(inner) => collect_lists(source, &inner, conditional, mapped, out, depth + 1),
            None => Err(computed(source, node)),
        },
        NODE_WITH => match children(node).last() {
            Some(body) => collect_lists(source, body, conditional, mapped, out, depth + 1),
            None => Err(computed(source, node)),
        },
        NODE_BIN_OP if has_token(node, TOKEN_CONCAT) => {
            for operand in children(node) {
                collect_lists(source, &operand, conditional, mapped, out, depth + 1)?;
            }
            Ok(())
        }
        NODE_IDENT => {
            let name = compact(node);
            let value = let_binding(source, node, &name)?;
            collect_lists(source, &value, conditional, mapped, out, depth + 1)
        }
        NODE_APPLY if depth > 0 => {
            // `lib.optionals cond [ ... ]`, `lib.optional cond x`, `map f [ ... ]`: the lists
            // given to it are listed (and an entry may be removed from them), never added to.
            let (function, args) = apply_chain(node);
            let is_map = matches!(
                compact(&function).as_str(),
                "map" | "builtins.map" | "lib.map"
            );
            let before = out.len();
            for arg in args {
                if let Some(arg) = unparen(&arg).filter(|a| a.kind() == NODE_LIST) {
                    collect_lists(source, &arg, true, mapped || is_map, out, depth + 1)?;
                }
            }
            if out.len() == before {
                return Err(computed(source, node));
            }
            Ok(())
        }
        _ => Err(computed(source, node)),
    }
}

/// The function and arguments of `f a b c`.
fn apply_chain(node: &SyntaxNode) -> (SyntaxNode, Vec<SyntaxNode>) {
    let mut args = Vec::new();
    let mut current = node.clone();
    while current.kind() == NODE_APPLY {
        let kids = children(&current);
        let (Some(f), Some(a)) = (kids.first(), kids.get(1)) else {
            break;
        };
        args.push(a.clone());
        current = f.clone();
    }
    args.reverse();
    (current, args)
}

/// Whether `node` has a direct token of `kind`.
fn has_token(node: &SyntaxNode, kind: SyntaxKind) -> bool {
    node.children_with_tokens()
        .any(|e| e.as_token().is_some_and(|t| t.kind() == kind))
}

/// The value `name` is bound to by the nearest `let` (or `rec { }`) around `node`. A name
/// bound by a function's argument, bound twice, or not found is refused.
fn let_binding(source: &str, node: &SyntaxNode, name: &str) -> Result<SyntaxNode, Refusal> {
    for scope in node.ancestors() {
        let binds_it = |n: &SyntaxNode| binding(n).filter(|(p, _)| p == name).map(|(_, v)| v);
        match scope.kind() {
            NODE_LET_IN => {
                let found: Vec<SyntaxNode> =
                    scope.children().filter_map(|n| binds_it(&n)).collect();
                match found.as_slice() {
                    [one] => return Ok(one.clone()),
                    [] => {}
                    several => {
                        return Err(Refusal::at(
                            source,
                            start(&several[1]),
                            format!(
                                "{name} is defined in several places (lines {})",
                                lines(source, several)
                            ),
                            format!("keep one definition of {name}, or edit the list by hand"),
                        ))
                    }
                }
            }
            NODE_LAMBDA => {
                let param = scope.children().next();
                let binds = param.is_some_and(|p| {
                    p.descendants()
                        .filter(|d| d.kind() == NODE_IDENT)
                        .any(|d| compact(&d) == name)
                });
                if binds {
                    return Err(Refusal::at(
                        source,
                        start(node),
                        format!("`paths` comes from {name}, an argument of a function"),
                        "add the package where the function is called, by hand",
                    ));
                }
            }
            _ => {}
        }
    }
    Err(Refusal::at(
        source,
        start(node),
        format!("`paths` comes from {name}, which is not bound by a let in this file"),
        "add the package where the list is written, by hand",
    ))
}

/// How the list `list` writes packages: bare names under a `with` around it, otherwise the
/// prefix its plain entries share (`pkgs.` when it has none).
fn style_of(list: &SyntaxNode) -> Style {
    for ancestor in list.ancestors().skip(1) {
        if ancestor.kind() == NODE_WITH {
            let kids = children(&ancestor);
            if let (Some(namespace), Some(body)) = (kids.first(), kids.last()) {
                if body.text_range().contains_range(list.text_range()) {
                    return Style::With(compact(namespace));
                }
            }
        }
    }
    for item in children(list) {
        if item.kind() == NODE_SELECT {
            let text = compact(&item);
            if let Some(prefix) = nixpkgs_prefix(&text) {
                return Style::Prefix(prefix);
            }
        }
    }
    Style::Prefix("pkgs.".to_string())
}

/// The prefix of a nixpkgs package reference: `pkgs.` of `pkgs.jq`,
/// `nixpkgs.legacyPackages.${system}.` of `nixpkgs.legacyPackages.${system}.jq` (or with a
/// system written out, `x86_64-linux`).
fn nixpkgs_prefix(text: &str) -> Option<String> {
    if let Some(at) = text.find(".legacyPackages.") {
        let after = at + ".legacyPackages.".len();
        return Some(text[..after + system_len(&text[after..])? + 1].to_string());
    }
    text.strip_prefix("pkgs.").map(|_| "pkgs.".to_string())
}

/// The length of the system component at the start of `rest` (`${system}` or
/// `x86_64-linux`), when an attribute follows it.
fn system_len(rest: &str) -> Option<usize> {
    let len = if rest.starts_with("${") {
        rest.find('}')? + 1
    } else {
        rest.find('.')?
    };
    (rest[len..].starts_with('.') && len > 0).then_some(len)
}

/// How the list names the system: the system component of its first entry with one
/// (`${system}` of `nixpkgs.legacyPackages.${system}.jq`, `x86_64-linux` of
/// `mytool.packages.x86_64-linux.default`), else `${pkgs.stdenv.hostPlatform.system}`.
fn system_of(list: &SyntaxNode) -> String {
    for item in children(list).iter().filter(|i| i.kind() == NODE_SELECT) {
        let text = compact(item);
        for marker in [".legacyPackages.", ".packages."] {
            if let Some(at) = text.find(marker) {
                let rest = &text[at + marker.len()..];
                if let Some(len) = system_len(rest) {
                    return rest[..len].to_string();
                }
            }
        }
    }
    "${pkgs.stdenv.hostPlatform.system}".to_string()
}

/// The package an entry names, as a key: `jq` for `jq` under `with`, `pkgs.jq` and
/// `nixpkgs.legacyPackages.${system}.jq`; `mytool#default` for
/// `mytool.packages.${system}.default`. `None` for anything else.
fn key_of(item: &SyntaxNode, style: &Style) -> Option<String> {
    if !matches!(item.kind(), NODE_IDENT | NODE_SELECT) {
        return None;
    }
    let text = compact(item);
    if let Some(at) = text.find(".packages.") {
        let input = &text[..at];
        let rest = &text[at + ".packages.".len()..];
        let attr = &rest[system_len(rest)? + 1..];
        // `mytool`, or `inputs.mytool` under `outputs = { ... }@inputs`.
        let input = input.rsplit('.').next().unwrap_or(input);
        return Some(format!("{input}#{attr}")).filter(|k| !k.contains('$'));
    }
    if let Some(prefix) = nixpkgs_prefix(&text) {
        return Some(text[prefix.len()..].to_string());
    }
    match style {
        Style::With(namespace) => Some(
            text.strip_prefix(&format!("{namespace}."))
                .unwrap_or(&text)
                .to_string(),
        ),
        Style::Prefix(_) => None,
    }
    .filter(|k| !k.contains('$'))
}

/// The key of a name, as [`key_of`] makes them.
fn key_of_name(name: &Name) -> String {
    match name {
        Name::Nixpkgs(attr) => attr.join("."),
        Name::Input { input, attr } => format!("{input}#{}", attr.join(".")),
    }
}

/// The text of an entry for `name` in a list of `style`.
fn entry_text(source: &str, name: &Name, list: &ListInfo) -> Result<String, Refusal> {
    Ok(match (name, &list.style) {
        (Name::Nixpkgs(attr), Style::With(_)) => attr.join("."),
        (Name::Nixpkgs(attr), Style::Prefix(prefix)) => format!("{prefix}{}", attr.join(".")),
        (Name::Input { input, attr }, _) => format!(
            "{}.packages.{}.{}",
            input_in_scope(source, &list.node, input)?,
            system_of(&list.node),
            attr.join(".")
        ),
    })
}

/// How the input `input` is reached from `node`: `mytool` when a function argument or a `let`
/// around it binds that name, `inputs.mytool` under `outputs = { ... }@inputs`. Refused when
/// neither: the outputs function does not take the input.
fn input_in_scope(source: &str, node: &SyntaxNode, input: &str) -> Result<String, Refusal> {
    let mut whole_set = None;
    for scope in node.ancestors() {
        match scope.kind() {
            NODE_LET_IN
                if scope
                    .children()
                    .any(|n| binding(&n).is_some_and(|(p, _)| p == input)) =>
            {
                return Ok(input.to_string())
            }
            NODE_LAMBDA => {
                let Some(param) = scope.children().next() else {
                    continue;
                };
                if param.kind() != NODE_PATTERN {
                    continue;
                }
                for part in param.children() {
                    let ident = part
                        .children()
                        .find(|c| c.kind() == NODE_IDENT)
                        .map(|i| compact(&i));
                    match (part.kind(), ident) {
                        (NODE_PAT_ENTRY, Some(name)) if name == input => {
                            return Ok(input.to_string())
                        }
                        (NODE_PAT_BIND, Some(name)) if whole_set.is_none() => {
                            whole_set = Some(name)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    match whole_set {
        Some(set) => Ok(format!("{set}.{input}")),
        None => Err(Refusal::at(
            source,
            start(node),
            format!("the flake's outputs function does not take the input {input}"),
            format!("add it to the arguments of outputs (outputs = {{ self, nixpkgs, {input}, ... }}:), then try again"),
        )),
    }
}

/// The entries `paths` declares, as written, in file order.
pub fn declared(source: &str, attr: &str) -> Result<Vec<Entry>, Refusal> {
    declared_in(source, Target::Profile(attr))
}

/// The entries of the lists of `target`, as written, in file order.
pub fn declared_in(source: &str, target: Target) -> Result<Vec<Entry>, Refusal> {
    let root = parse(source)?;
    let paths = find_lists(source, &root, target)?;
    Ok(entries(source, &paths))
}

fn entries(source: &str, paths: &Paths) -> Vec<Entry> {
    let mut out = Vec::new();
    for list in &paths.lists {
        for item in children(&list.node) {
            out.push(Entry {
                text: item.text().to_string(),
                key: key_of(&item, &list.style),
                conditional: list.conditional,
                line: line_of(source, start(&item)),
            });
        }
    }
    out
}

/// The keys of what `paths` declares (unconditionally or not).
fn keys(source: &str, target: Target) -> Result<BTreeSet<String>, Refusal> {
    Ok(declared_in(source, target)?
        .into_iter()
        .filter_map(|e| e.key)
        .collect())
}

/// Adds `names` to the profile `attr` of the flake `source`. A name already declared is left
/// as it is (listed in `unchanged`).
pub fn add(source: &str, attr: &str, names: &[Name]) -> Result<Edited, Refusal> {
    add_in(source, Target::Profile(attr), names)
}

/// Adds `names` to the lists of `target` in `source`, as [`add`] does.
pub fn add_in(source: &str, target: Target, names: &[Name]) -> Result<Edited, Refusal> {
    let mut text = source.to_string();
    let mut changed = Vec::new();
    let mut unchanged = Vec::new();
    for name in names {
        let root = parse(&text)?;
        let paths = find_lists(&text, &root, target)?;
        let key = key_of_name(name);
        if entries(&text, &paths)
            .iter()
            .any(|e| e.key.as_deref() == Some(&key))
        {
            unchanged.push(name.clone());
            continue;
        }
        let list = target_list(&text, &paths, matches!(name, Name::Input { .. }))?;
        let entry = entry_text(&text, name, &list)?;
        text = insert(&text, &list, &entry, &key);
        changed.push(name.clone());
    }
    check(source, &text, target, &changed, &[])?;
    Ok(Edited {
        text,
        changed,
        unchanged,
    })
}

/// Removes `names` from the profile `attr` of the flake `source`, from whichever list has
/// them. A name that is not declared is refused with what is.
pub fn remove(source: &str, attr: &str, names: &[Name]) -> Result<Edited, Refusal> {
    remove_in(source, Target::Profile(attr), names)
}

/// Removes `names` from the lists of `target` in `source`, as [`remove`] does.
pub fn remove_in(source: &str, target: Target, names: &[Name]) -> Result<Edited, Refusal> {
    let mut text = source.to_string();
    let mut changed = Vec::new();
    for name in names {
        let root = parse(&text)?;
        let paths = find_lists(&text, &root, target)?;
        let key = key_of_name(name);
        let Some((item, mapped)) = find_entry(&paths, &key) else {
            if let Some(list) = paths.lists.iter().find(|l| l.mapped) {
                return Err(Refusal::at(
                    &text,
                    start(&list.node),
                    format!("{name} is not an entry of the profile's paths, but some entries are made by a function (map) fp-edit cannot see into"),
                    "remove it from that list by hand",
                ));
            }
            let declared: Vec<String> =
                entries(&text, &paths).into_iter().map(|e| e.text).collect();
            return Err(Refusal::whole(
                format!("{name} is not declared in the profile's paths"),
                if declared.is_empty() {
                    "the profile declares no packages".to_string()
                } else {
                    format!("it declares: {}", declared.join(", "))
                },
            ));
        };
        // Every entry of the name goes (a package may be in two lists).
        let (mut item, mut mapped) = (item, mapped);
        loop {
            if mapped {
                return Err(Refusal::at(
                    &text,
                    start(&item),
                    format!("{name} is an argument of a function (map) that makes the entries"),
                    "remove it from that list by hand",
                ));
            }
            text = delete(&text, &item);
            let root = parse(&text)?;
            let paths = find_lists(&text, &root, target)?;
            match find_entry(&paths, &key) {
                Some(next) => (item, mapped) = next,
                None => break,
            }
        }
        changed.push(name.clone());
    }
    check(source, &text, target, &[], &changed)?;
    Ok(Edited {
        text,
        changed,
        unchanged: Vec::new(),
    })
}

/// The first entry of `paths` with `key`, and whether a function makes entries from its list.
fn find_entry(paths: &Paths, key: &str) -> Option<(SyntaxNode, bool)> {
    paths.lists.iter().find_map(|l| {
        children(&l.node)
            .into_iter()
            .find(|i| key_of(i, &l.style).as_deref() == Some(key))
            .map(|i| (i, l.mapped))
    })
}

/// The list a new entry goes into: the first unconditional list that holds packages of the
/// same kind (of nixpkgs, or of other inputs for `INPUT#ATTR`), else the first unconditional
/// list.
fn target_list(source: &str, paths: &Paths, input: bool) -> Result<ListInfo, Refusal> {
    let plain: Vec<&ListInfo> = paths.lists.iter().filter(|l| !l.conditional).collect();
    let holds_packages = |l: &&&ListInfo| {
        children(&l.node)
            .iter()
            .any(|i| key_of(i, &l.style).is_some_and(|k| k.contains('#') == input))
    };
    match plain.iter().find(holds_packages).or(plain.first()) {
        Some(list) => Ok((*list).clone()),
        None => Err(Refusal::at(
            source,
            paths.lists.first().map_or(0, |l| start(&l.node)),
            "every list of `paths` is conditional or made by a function",
            "add a plain list by hand: paths = [ ... ] ++ ...;",
        )),
    }
}

/// The new text with `entry` inserted into `list`: before the first entry that sorts after it
/// when the list is sorted, otherwise at the end; on a line of its own, indented like the
/// others, in a list written one entry a line.
fn insert(source: &str, list: &ListInfo, entry: &str, key: &str) -> String {
    let items = children(&list.node);
    let open = bracket(&list.node, TOKEN_L_BRACK);
    let close = bracket(&list.node, TOKEN_R_BRACK);
    let sort_keys: Vec<String> = items
        .iter()
        .filter_map(|i| key_of(i, &list.style))
        .map(|k| k.to_lowercase())
        .collect();
    let sorted = sort_keys.windows(2).all(|w| w[0] <= w[1]) && !sort_keys.is_empty();
    let before = if sorted {
        items.iter().position(|i| {
            key_of(i, &list.style).is_some_and(|k| k.to_lowercase() > key.to_lowercase())
        })
    } else {
        None
    };
    let splice = |at: usize, text: &str| format!("{}{}{}", &source[..at], text, &source[at..]);
    let Some(first) = items.first() else {
        // An empty list.
        let inside = &source[open..close - 1];
        if inside.contains('\n') {
            let indent = indent_at(source, open - 1);
            let replaced = format!("\n{indent}  {entry}\n{indent}");
            return format!("{}{}{}", &source[..open], replaced, &source[close - 1..]);
        }
        return format!("{} {entry} {}", &source[..open], &source[close - 1..]);
    };
    let multi_line = source[open..start(first)].contains('\n');
    let indent = indent_at(source, start(first));
    match before {
        Some(index) => {
            let item = &items[index];
            let previous_end = if index == 0 {
                open
            } else {
                end(&items[index - 1])
            };
            let gap = &source[previous_end..start(item)];
            match (multi_line, gap.find('\n')) {
                (true, Some(newline)) => {
                    splice(previous_end + newline + 1, &format!("{indent}{entry}\n"))
                }
                _ => splice(start(item), &format!("{entry} ")),
            }
        }
        None => {
            let last = items.last().unwrap_or(first);
            let after = &source[end(last)..close - 1];
            match (multi_line, after.find('\n')) {
                (true, Some(newline)) => splice(end(last) + newline, &format!("\n{indent}{entry}")),
                _ => splice(end(last), &format!(" {entry}")),
            }
        }
    }
}

/// The offset just after the `[` (or of just after the `]`) of a list.
fn bracket(list: &SyntaxNode, kind: SyntaxKind) -> usize {
    list.children_with_tokens()
        .filter_map(|e| e.into_token())
        .find(|t| t.kind() == kind)
        .map_or(start(list), |t| usize::from(t.text_range().end()))
}

/// The whitespace at the start of the line that `offset` is on.
fn indent_at(source: &str, offset: usize) -> String {
    let line_start = source[..offset].rfind('\n').map_or(0, |n| n + 1);
    source[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// The new text without `item`: its whole line when it is alone on it (a comment after it on
/// that line goes with it), otherwise the item and the space after it.
fn delete(source: &str, item: &SyntaxNode) -> String {
    let range: TextRange = item.text_range();
    let (from, to) = (usize::from(range.start()), usize::from(range.end()));
    let line_start = source[..from].rfind('\n').map_or(0, |n| n + 1);
    let line_end = source[to..].find('\n').map_or(source.len(), |n| to + n);
    let before = &source[line_start..from];
    let after = source[to..line_end].trim_start();
    let alone = before.trim().is_empty()
        && (after.is_empty() || (after.starts_with('#') && !after.contains(']')));
    if alone && line_end < source.len() {
        return format!("{}{}", &source[..line_start], &source[line_end + 1..]);
    }
    let spaces = source[to..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .count();
    if spaces > 0 {
        format!("{}{}", &source[..from], &source[to + spaces..])
    } else {
        let back = before.len() - before.trim_end_matches([' ', '\t']).len();
        format!("{}{}", &source[..from - back], &source[to..])
    }
}

/// Parses the new text again and checks it declares exactly what was asked: the old entries
/// with `added` and without `removed`.
fn check(
    old: &str,
    new: &str,
    target: Target,
    added: &[Name],
    removed: &[Name],
) -> Result<(), Refusal> {
    let mut expected = keys(old, target)?;
    for name in added {
        expected.insert(key_of_name(name));
    }
    for name in removed {
        expected.remove(&key_of_name(name));
    }
    let got = keys(new, target).map_err(|r| Refusal {
        message: format!(
            "the edit would break the file ({}); nothing was changed",
            r.message
        ),
        hint: "this is a bug in fp-edit: please report it with the flake.nix".to_string(),
        ..r
    })?;
    if got != expected {
        return Err(Refusal {
            line: 0,
            message: "the edited file would not declare what was asked; nothing was changed"
                .to_string(),
            hint: "this is a bug in fp-edit: please report it with the flake.nix".to_string(),
        });
    }
    Ok(())
}
