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
