//! Completions and man pages of every tool (the tools of `nix/tools.nix`), generated from its
//! clap `Cli`.

use fp_testkit::{bin, repo_root, tools, Bed};

#[test]
fn the_tool_list_names_every_binary_crate() {
    let mut crates: Vec<String> = std::fs::read_dir(repo_root())
        .expect("repository")
        .flatten()
        .filter(|e| e.path().join("src/main.rs").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    assert_eq!(
        tools(),
        crates,
        "nix/tools.nix and the crates with a main.rs"
    );
}

#[test]
fn bash_completions_load() {
    let bed = Bed::new();
    for tool in &tools() {
        let script = format!(
            "source <({} --generate-completions bash) && complete -p {tool}",
            bin(tool).display()
        );
        let run = bed.command("bash").args(["-c", &script]).run().success();
        assert!(
            run.stdout.contains(&format!(" {tool}\n")),
            "{tool}: {}",
            run.stdout
        );
    }
}

#[test]
fn zsh_and_fish_completions_are_generated() {
    let bed = Bed::new();
    for tool in &tools() {
        let zsh = bed
            .tool(tool)
            .args(["--generate-completions", "zsh"])
            .run()
            .success();
        assert!(
            zsh.stdout.starts_with(&format!("#compdef {tool}")),
            "{tool}: {}",
            &zsh.stdout[..40.min(zsh.stdout.len())]
        );
        let fish = bed
            .tool(tool)
            .args(["--generate-completions", "fish"])
            .run()
            .success();
        assert!(
            fish.stdout.contains(&format!("complete -c {tool}")),
            "{tool}"
        );
        bed.tool(tool)
            .args(["--generate-completions", "tcsh"])
            .run()
            .code(2);
    }
}

#[test]
fn man_pages_render() {
    let bed = Bed::new();
    for tool in &tools() {
        let page = bed.path().join(format!("{tool}.1"));
        let roff = bed.tool(tool).arg("--generate-man").run().success().stdout;
        std::fs::write(&page, roff).expect("page");
        let rendered = bed
            .command("man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .run()
            .success()
            .stdout;
        assert!(
            rendered.contains("NAME") && rendered.contains(tool),
            "{tool}:\n{rendered}"
        );
    }
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let bed = Bed::new();
    for tool in &tools() {
        for args in [
            "--help",
            "--version",
            "--generate-man",
            "--generate-completions bash",
        ] {
            // `true` has exited before the tool writes: every write meets a closed pipe.
            let script = format!(
                "{{ sleep 0.05; {} {args}; }} | true; echo ${{PIPESTATUS[0]}}",
                bin(tool).display()
            );
            let run = bed.command("bash").args(["-c", &script]).run().success();
            assert!(
                !run.stderr.contains("panicked"),
                "{tool} {args}: {}",
                run.stderr
            );
            // Help and version end 0; a product that could not be written ends 1. Never 101.
            let code = run.stdout.trim();
            assert!(
                code == "0" || code == "1",
                "{tool} {args}: exit {code}: {}",
                run.stderr
            );
        }
    }
}

/// What bash completes for `fp WORDS...` (the last word being completed), through the real
/// completion function `fp --generate-completions bash` defines.
fn bash_completes(bed: &Bed, words: &[&str]) -> String {
    let script = format!(
        "source <({} --generate-completions bash) && COMP_WORDS=({}) && COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)) \
         && _fp fp \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\" && echo \"${{COMPREPLY[*]}}\"",
        bin("fp").display(),
        words.join(" ")
    );
    bed.command("bash")
        .args(["-c", &script])
        .run()
        .success()
        .stdout
}

/// `fp`'s completion script for `shell`.
fn completion(bed: &Bed, shell: &str) -> String {
    bed.tool("fp")
        .args(["--generate-completions", shell])
        .run()
        .success()
        .stdout
}

#[test]
fn fp_completes_the_options_of_the_tool_it_runs() {
    let bed = Bed::new();
    for (words, expected) in [
        (&["fp", "switch", "--dr"][..], "--dry-run"),
        (&["fp", "build", "--over"], "--override-input"),
        (&["fp", "-q", "build", "--over"], "--override-input"),
        (&["fp", "generations", "delete", "--ke"], "--keep"),
        (&["fp", "add", "--dr"], "--dry-run"),
        (&["fp", "rollback", "--t"], "--to"),
        (&["fp", "--col"], "--color"),
    ] {
        let got = bash_completes(&bed, words);
        assert!(
            got.split_whitespace().any(|w| w == expected),
            "{words:?}: {got}"
        );
    }
    // zsh and fish: the option is offered in the tool's own section.
    let zsh = completion(&bed, "zsh");
    let section = |script: &str, start: &str| -> String {
        let from = script
            .find(start)
            .unwrap_or_else(|| panic!("{start} in {script}"));
        script[from..]
            .split(";;")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        section(&zsh, "(switch)").contains("'--dry-run["),
        "zsh switch"
    );
    assert!(
        section(&zsh, "(build)").contains("--override-input="),
        "zsh build"
    );
    let fish = completion(&bed, "fish");
    let offers = |sub: &str, option: &str| {
        fish.lines().any(|l| {
            l.contains(&format!("__fish_fp_using_subcommand {sub}\""))
                && l.contains(&format!(" -l {option}"))
        })
    };
    assert!(offers("switch", "dry-run"), "fish switch");
    assert!(offers("build", "override-input"), "fish build");
}

/// The `NAME(1)` pages a roff page refers to, `\-` read as `-`.
fn page_references(roff: &str) -> Vec<String> {
    let text = roff.replace("\\-", "-").replace("\\%", "");
    let mut found = Vec::new();
    for (at, _) in text.match_indices("(1)") {
        let name: String = text[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

#[test]
fn man_pages_refer_only_to_generated_pages_and_hold_every_subcommands_options() {
    let bed = Bed::new();
    let tools = tools();
    let page = |tool: &str| bed.tool(tool).arg("--generate-man").run().success().stdout;
    let mut referred = std::collections::BTreeSet::new();
    for tool in &tools {
        for name in page_references(&page(tool)) {
            assert!(
                tools.contains(&name),
                "{tool}(1) refers to {name}(1), which is not generated"
            );
            referred.insert(name);
        }
    }
    // fp(1) points at each tool's page; fp add at fp-edit(1).
    assert!(
        referred.contains("fp-build") && referred.contains("fp-edit"),
        "{referred:?}"
    );
    let generations = page("fp-generations").replace("\\-", "-");
    for option in ["--keep", "--older-than", "--gc", "--dry-run"] {
        assert!(
            generations.contains(&format!("\\fB{option}\\fR")),
            "fp-generations(1) lacks delete's {option}"
        );
    }
    let edit = page("fp-edit").replace("\\-", "-");
    for section in ["fp-edit add", "fp-edit remove", "fp-edit list"] {
        assert!(
            edit.contains(&format!(".SH \"{section}\"")),
            "fp-edit(1): {section}"
        );
    }
    for option in ["--no-build", "--commit", "--flake"] {
        assert!(
            edit.contains(&format!("\\fB{option}\\fR")),
            "fp-edit(1) lacks {option}"
        );
    }
}
