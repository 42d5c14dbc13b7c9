//! The examples of a Markdown file (README.md and each tool's README), read so that tests can
//! run them: a README line that shows a command or its output is then checked against the
//! tools, and cannot drift from them.
//!
//! What counts as an example:
//! - a fenced block: `console` (lines `$ COMMAND`, each followed by the output it prints, and
//!   first by `? N` when it exits with N, not 0),
//!   `sh` (a script: every line runs), a block with no language (output shown without its
//!   command), `nix`, `toml`, `json`;
//! - each command in backticks in the `run` column of a table (`| you want to | run |`).
//!
//! Comments mark what an example needs, for the block or table right after them:
//! `<!-- example: world NAME -->` (the world it runs in), `<!-- example: file PATH -->` (the
//! block is that file of the repository, verbatim), `<!-- example: skip: REASON -->` (not run,
//! and why), and, before a table, ``<!-- example: skip `COMMAND`: REASON -->`` for one of its
//! commands.

/// What an example is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A `console` block: each command with the output shown under it.
    Console(Vec<Step>),
    /// An `sh` block, run as one script.
    Script(String),
    /// A command from a table's `run` column.
    Command(String),
    /// A fenced block of another kind (`nix`, `toml`, `json`, or none: output without its
    /// command), with its language.
    Block {
        /// The info string (`nix`), empty for none.
        language: String,
        /// The block's text.
        text: String,
    },
}

/// One `$ COMMAND` of a console block and the lines under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The command, without `$ `.
    pub command: String,
    /// The exit status it must end with: 0, or what a line `? N` right under it says.
    pub code: i32,
    /// What it prints (stderr and stdout as a terminal shows them), one line each.
    pub output: Vec<String>,
}

/// One example of a Markdown file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Its first line in the file (1-based).
    pub line: usize,
    /// What it is.
    pub kind: Kind,
    /// The world it runs in (`<!-- example: world NAME -->`), if named.
    pub world: Option<String>,
    /// The repository file it is a copy of (`<!-- example: file PATH -->`).
    pub file: Option<String>,
    /// Why it is not run (`<!-- example: skip ... -->`).
    pub skip: Option<String>,
    /// The table or block it belongs to: examples with the same group run in one world, in
    /// order (the commands of one table).
    pub group: usize,
}

/// The marks of the comments above a block or table.
#[derive(Debug, Default)]
struct Marks {
    world: Option<String>,
    file: Option<String>,
    skip: Option<String>,
    /// `(command, reason)` of commands skipped in the next table.
    skip_commands: Vec<(String, String)>,
}

/// Reads the examples of `markdown`; an error names the line of a mark that cannot be read or
/// a `skip` of a command the table after it does not have.
pub fn extract(markdown: &str) -> Result<Vec<Example>, String> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut examples = Vec::new();
    let mut marks = Marks::default();
    let mut group = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if let Some(mark) = trimmed
            .strip_prefix("<!-- example:")
            .and_then(|m| m.trim_end().strip_suffix("-->"))
        {
            read_mark(mark.trim(), &mut marks).map_err(|e| format!("line {}: {e}", i + 1))?;
            i += 1;
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            let indent = line.len() - trimmed.len();
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim_start().starts_with("```"))
                .ok_or_else(|| format!("line {}: a fenced block without its end", i + 1))?;
            let body: Vec<String> = lines[i + 1..end]
                .iter()
                .map(|l| strip_indent(l, indent).to_string())
                .collect();
            group += 1;
            let marks_now = std::mem::take(&mut marks);
            if !marks_now.skip_commands.is_empty() {
                return Err(format!(
                    "line {}: a skip of a command is for a table, not a block",
                    i + 1
                ));
            }
            examples.push(Example {
                line: i + 1,
                kind: block_kind(info.trim(), &body),
                world: marks_now.world,
                file: marks_now.file,
                skip: marks_now.skip,
                group,
            });
            i = end + 1;
            continue;
        }
        if trimmed.starts_with('|') {
            let end = (i..lines.len())
                .find(|&j| !lines[j].trim_start().starts_with('|'))
                .unwrap_or(lines.len());
            group += 1;
            let marks_now = std::mem::take(&mut marks);
            let commands = table_commands(&lines[i..end], i + 1);
            for (command, _) in &marks_now.skip_commands {
                if !commands.iter().any(|(_, c)| c == command) {
                    return Err(format!(
                        "line {}: the table has no command `{command}` to skip",
                        i + 1
                    ));
                }
            }
            for (line, command) in commands {
                let skip = marks_now
                    .skip_commands
                    .iter()
                    .find(|(c, _)| *c == command)
                    .map(|(_, reason)| reason.clone())
                    .or_else(|| marks_now.skip.clone());
                examples.push(Example {
                    line,
                    kind: Kind::Command(command),
                    world: marks_now.world.clone(),
                    file: None,
                    skip,
                    group,
                });
            }
            i = end;
            continue;
        }
        i += 1;
    }
    if marks.world.is_some() || marks.skip.is_some() || marks.file.is_some() {
        return Err("a mark at the end of the file, with no block or table after it".into());
    }
    Ok(examples)
}

/// Reads one mark (the text between `<!-- example:` and `-->`) into `marks`.
fn read_mark(mark: &str, marks: &mut Marks) -> Result<(), String> {
    if let Some(world) = mark.strip_prefix("world ") {
        marks.world = Some(world.trim().to_string());
    } else if let Some(file) = mark.strip_prefix("file ") {
        marks.file = Some(file.trim().to_string());
    } else if let Some(rest) = mark.strip_prefix("skip") {
        let rest = rest.trim_start();
        if let Some(reason) = rest.strip_prefix(':') {
            marks.skip = Some(non_empty(reason)?);
        } else if let Some(quoted) = rest.strip_prefix('`') {
            let (command, after) = quoted
                .split_once('`')
                .ok_or("a skipped command without its closing backtick")?;
            let reason = after
                .trim_start()
                .strip_prefix(':')
                .ok_or("a skipped command must be followed by `: REASON`")?;
            marks
                .skip_commands
                .push((command.to_string(), non_empty(reason)?));
        } else {
            return Err("skip needs `: REASON` or `` `COMMAND`: REASON ``".into());
        }
    } else {
        return Err(format!(
            "unknown mark {mark:?} (world NAME, file PATH, skip: REASON)"
        ));
    }
    Ok(())
}

/// A reason, trimmed, which must say something.
fn non_empty(reason: &str) -> Result<String, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        Err("a skip must say why".into())
    } else {
        Ok(reason.to_string())
    }
}

/// `line` without the `indent` spaces of its fence (a block inside a list item).
fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    &line[spaces.min(indent)..]
}

/// What a fenced block with info string `info` and lines `body` is.
fn block_kind(info: &str, body: &[String]) -> Kind {
    match info {
        "console" => {
            let mut steps: Vec<Step> = Vec::new();
            for line in body {
                if let Some(command) = line.strip_prefix("$ ") {
                    steps.push(Step {
                        command: command.to_string(),
                        code: 0,
                        output: Vec::new(),
                    });
                } else if let Some(step) = steps.last_mut() {
                    let code = line.strip_prefix("? ").and_then(|c| c.parse().ok());
                    if let (Some(code), true) = (code, step.output.is_empty()) {
                        step.code = code;
                        continue;
                    }
                    step.output.push(line.clone());
                }
            }
            Kind::Console(steps)
        }
        "sh" => Kind::Script(body.join("\n")),
        _ => Kind::Block {
            language: info.to_string(),
            text: body.join("\n"),
        },
    }
}

/// The commands in backticks in the `run` column of a table (its lines `rows`, the first at
/// line `first`), each with its line; an escaped `\|` is a `|`.
fn table_commands(rows: &[&str], first: usize) -> Vec<(usize, String)> {
    let cells = |row: &str| -> Vec<String> {
        let row = row.trim().trim_start_matches('|').trim_end_matches('|');
        let mut cells = vec![String::new()];
        let mut chars = row.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&'|') => {
                    cells.last_mut().expect("a cell").push('|');
                    chars.next();
                }
                '|' => cells.push(String::new()),
                _ => cells.last_mut().expect("a cell").push(c),
            }
        }
        cells.into_iter().map(|c| c.trim().to_string()).collect()
    };
    let Some(header) = rows.first() else {
        return Vec::new();
    };
    let Some(column) = cells(header).iter().position(|c| c == "run") else {
        return Vec::new();
    };
    let mut commands = Vec::new();
    for (n, row) in rows.iter().enumerate().skip(2) {
        let Some(cell) = cells(row).get(column).cloned() else {
            continue;
        };
        for (k, part) in cell.split('`').enumerate() {
            if k % 2 == 1 && is_command(part) {
                commands.push((first + n, part.to_string()));
            }
        }
    }
    commands
}

/// Whether a span in backticks is a command of these tools or of Nix (`fp add jq`,
/// `nix build .#profile`), not a flag or a setting (`--no-build`, `ask = true`).
fn is_command(span: &str) -> bool {
    let program = span.split_whitespace().next().unwrap_or_default();
    program == "fp" || program.starts_with("fp-") || program == "nix" || program.starts_with("nix-")
}

/// Whether `actual` (lines) is what `expected` shows: line for line, where an expected line
/// `...` stands for any number of lines and `[..]` inside a line for any text.
pub fn output_matches(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=actual.len()).any(|skip| output_matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => match actual.split_first() {
            Some((line, more)) => line_matches(first, line) && output_matches(rest, more),
            None => false,
        },
    }
}

/// Whether `line` is `pattern`, where `[..]` stands for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split("[..]");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (k, part) in parts.iter().enumerate() {
        if k + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn reads_blocks_tables_and_marks() {
        let md = "# T\n\
<!-- example: world busy -->\n\
```console\n\
$ fp-build | fp-switch\n\
building .#profile\n\
$ fp-rollback\n\
? 1\n\
```\n\
\x20 ```\n  indented output\n  ```\n\
<!-- example: skip `fp-switch --target-host h`: another machine -->\n\
| you want to | run |\n\
| --- | --- |\n\
| switch | `fp-build \\| fp-switch`, or `nix run .#profile.switch` (`--ask`) |\n\
| elsewhere | `fp-switch --target-host h` |\n\
| flag | meaning |\n\
<!-- example: skip: a schema -->\n\
```json\n{}\n```\n";
        let examples = extract(md).expect("examples");
        assert_eq!(examples.len(), 6, "{examples:#?}");
        assert_eq!(examples[0].world.as_deref(), Some("busy"));
        assert_eq!(examples[0].line, 3);
        assert_eq!(
            examples[0].kind,
            Kind::Console(vec![
                Step {
                    command: "fp-build | fp-switch".into(),
                    code: 0,
                    output: vec!["building .#profile".into()]
                },
                Step {
                    command: "fp-rollback".into(),
                    code: 1,
                    output: vec![]
                },
            ])
        );
        assert_eq!(
            examples[1].kind,
            Kind::Block {
                language: String::new(),
                text: "indented output".into()
            }
        );
        assert_eq!(examples[1].world, None, "a mark is for the next block only");
        assert_eq!(
            examples[2].kind,
            Kind::Command("fp-build | fp-switch".into())
        );
        assert_eq!(examples[2].line, 15);
        assert_eq!(
            examples[3].kind,
            Kind::Command("nix run .#profile.switch".into())
        );
        assert_eq!(examples[2].group, examples[4].group);
        assert_eq!(examples[4].skip.as_deref(), Some("another machine"));
        assert_eq!(examples[2].skip, None);
        assert_eq!(examples[5].skip.as_deref(), Some("a schema"));
    }

    #[test]
    fn refuses_marks_that_say_nothing_or_name_nothing() {
        for md in [
            "<!-- example: skip: -->\n```\nx\n```\n",
            "<!-- example: skip `a`: x -->\n| a | run |\n| - | - |\n| b | `b` |\n",
            "<!-- example: word x -->\n",
            "<!-- example: world x -->\n",
            "```sh\nnever ends\n",
        ] {
            assert!(extract(md).is_err(), "{md}");
        }
    }

    #[test]
    fn matches_output_with_wildcards() {
        let expected = lines("a\n...\nd [..] f\n[..]end");
        assert!(output_matches(&expected, &lines("a\nb\nc\nd e f\nthe end")));
        assert!(output_matches(&expected, &lines("a\nd  f\nend")));
        assert!(!output_matches(
            &expected,
            &lines("a\nd e f\nthe end\nmore")
        ));
        assert!(!output_matches(&expected, &lines("x\nd e f\nend")));
        assert!(!output_matches(&lines("a"), &lines("a\nb")));
        assert!(output_matches(&lines("a[..]"), &lines("abc")));
        assert!(!output_matches(&lines("a[..]c[..]e"), &lines("ace!")));
    }
}
