//! `cargo xtask new TOPIC/NAME` and `cargo xtask new-topic NN-NAME` (course authors): write the
//! files of a new exercise or topic the way CONTRIBUTING.md describes them, each place still to
//! write marked `SCAFFOLD:`, so that `cargo xtask tidy` lists exactly what is left.
//!
//! `new` writes the stub (header, a function with a `// TODO:` and `todo!()`), the solution (a
//! copy to finish), the test file (one test to replace, failing on the stub), the module pair in
//! the topic's lib.rs, an `[[exercise]]` entry after the topic's last one in curriculum.toml
//! with three hint placeholders, a section with the `{#NAME}` anchor in the chapter after its
//! last exercise section, then runs `sync` (the pristine copies and the curriculum tables).
//!
//! `new-topic` writes the crate (Cargo.toml with the `solution` feature and the `TOPIC-demo`
//! binary, lib.rs, the demo and its test), the chapter and a `[[topic]]` entry in
//! curriculum.toml, then runs `sync` (which lists the chapter in docs/src/SUMMARY.md).
//!
//! Neither overwrites a file that exists: a name already taken is a usage error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::manifest::Curriculum;
use crate::term;

/// What marks a place a scaffold left to write; tidy reports every line that holds it.
pub const MARK: &str = "SCAFFOLD:";

/// Options shared by both verbs: `--title T`, `--week W`, `--day D` / `--days D`.
#[derive(Default)]
struct Options {
    title: Option<String>,
    week: Option<u32>,
    day: Option<String>,
}

/// Splits `args` into the one positional argument and the options; `Err` is a usage message.
fn parse(verb: &str, args: &[String], day_flag: &str) -> Result<(String, Options), String> {
    let mut target = None;
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .filter(|v| !v.starts_with("--"))
                .cloned()
                .ok_or(format!("`{flag}` needs a value"))
        };
        match arg.as_str() {
            "--title" => options.title = Some(value("--title")?),
            "--week" => {
                let week = value("--week")?;
                options.week = Some(
                    week.parse()
                        .map_err(|_| format!("`--week` needs a number, not `{week}`"))?,
                );
            }
            flag if flag == day_flag => options.day = Some(value(day_flag)?),
            flag if flag.starts_with('-') => {
                return Err(format!("unknown option for `{verb}`: `{flag}`"));
            }
            name if target.is_none() => target = Some(name.to_owned()),
            extra => return Err(format!("`{verb}` takes one name (got `{extra}` too)")),
        }
    }
    target
        .map(|t| (t, options))
        .ok_or(format!("`{verb}` needs a name"))
}

/// Whether `name` is a Rust module name: lower-case ASCII letters, digits and `_`, not first a
/// digit.
fn is_module_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Fills the `{key}` holes of a template.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}

/// Writes new files; refuses (before writing anything) when one exists.
fn create_all(root: &Path, files: &[(PathBuf, String)]) -> anyhow::Result<Result<(), String>> {
    if let Some((rel, _)) = files.iter().find(|(rel, _)| root.join(rel).exists()) {
        return Ok(Err(format!("{} exists already", rel.display())));
    }
    for (rel, text) in files {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("  created  {}", rel.display());
    }
    Ok(Ok(()))
}

/// Rewrites the file `rel` with `edit` applied to its text.
fn edit(root: &Path, rel: &str, edit: impl FnOnce(&str) -> String) -> anyhow::Result<()> {
    let path = root.join(rel);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    std::fs::write(&path, edit(&text))
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("  edited   {rel}");
    Ok(())
}

/// `text` with `insert` placed after the last of its blocks that starts with a line equal to
/// `header` and contains a line `wanted` (the block ends before the next line that starts with
/// `[[` or `# ----`, trailing blank lines left after it); at the end when no block matches.
/// `first` goes before `insert` in that case (such as a `# ---- DIR ----` comment).
fn insert_after_block(
    text: &str,
    header: &str,
    wanted: &dyn Fn(&str) -> bool,
    insert: &str,
    first: &str,
) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let ends_block = |l: &str| l.starts_with("[[") || l.starts_with("# ----");
    let last_wanted = (0..lines.len())
        .filter(|&i| lines[i] == header)
        .filter_map(|i| {
            let end = (i + 1..lines.len())
                .find(|&j| ends_block(lines[j]))
                .unwrap_or(lines.len());
            lines[i..end].iter().any(|l| wanted(l)).then_some(end)
        })
        .last();
    match last_wanted {
        Some(end) => insert_lines(&lines, end, insert),
        None => format!("{}\n\n{first}{}\n", text.trim_end(), insert.trim_end()),
    }
}

/// `lines` with `block` inserted at `at`, one blank line before it and, when text follows, one
/// after it.
fn insert_lines(lines: &[&str], at: usize, block: &str) -> String {
    let before = lines[..at].join("\n");
    let rest: Vec<&str> = lines[at..]
        .iter()
        .copied()
        .skip_while(|l| l.trim().is_empty())
        .collect();
    let mut out = format!("{}\n\n{}\n", before.trim_end(), block.trim_end());
    if !rest.is_empty() {
        out = format!("{out}\n{}\n", rest.join("\n"));
    }
    out
}

/// A TOML string literal.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// Runs `new TOPIC/NAME [--title T] [--week W] [--day D]`.
pub fn run_new(args: &[String]) -> anyhow::Result<ExitCode> {
    let (id, options) = match parse("new", args, "--day") {
        Ok(parsed) => parsed,
        Err(message) => return Ok(crate::usage_error(&message)),
    };
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let Some((topic_name, name)) = id.split_once('/') else {
        return Ok(crate::usage_error(&format!(
            "`{id}` is not TOPIC/NAME (such as `pipes/two_stage`)"
        )));
    };
    let Some(topic) = curriculum.topic(topic_name) else {
        let names: Vec<&str> = curriculum.topics.iter().map(|t| t.name.as_str()).collect();
        eprintln!(
            "error: no topic named `{topic_name}` (the topics are: {}); `cargo xtask new-topic` \
             makes one",
            names.join(", ")
        );
        return Ok(ExitCode::from(2));
    };
    if !is_module_name(name) {
        return Ok(crate::usage_error(&format!(
            "`{name}` is not a module name: lower-case letters, digits and `_`, starting with a letter"
        )));
    }
    if curriculum.find(&id).is_some() {
        eprintln!("error: `{id}` is in curriculum.toml already");
        return Ok(ExitCode::from(2));
    }
    let week = options.week.unwrap_or(topic.week);
    let day = match options.day.as_deref().map(str::parse::<u32>) {
        None => topic
            .days
            .split(['-', ','])
            .next()
            .and_then(|d| d.trim().parse().ok())
            .unwrap_or(1),
        Some(Ok(day)) => day,
        Some(Err(_)) => return Ok(crate::usage_error("`--day` needs a number")),
    };
    let title = options
        .title
        .unwrap_or_else(|| format!("{MARK} the exercise's title"));
    let dir = topic.dir.clone();
    let krate = topic.name.replace('-', "_");
    let week_text = week.to_string();
    let day_text = day.to_string();
    let values = [
        ("id", id.as_str()),
        ("name", name),
        ("dir", dir.as_str()),
        ("crate", krate.as_str()),
        ("title", title.as_str()),
        ("week", week_text.as_str()),
        ("day", day_text.as_str()),
    ];
    let stub = fill(STUB, &values);
    let solution = stub.replace(
        "    // TODO: ",
        &format!("    // {MARK} finish the solution; the stub's TODO was: "),
    );
    let file = |top: &str, under: &str| Path::new(top).join(&dir).join(under).join(name);
    let files = [
        (file("exercises", "").with_extension("rs"), stub),
        (file("solutions", "").with_extension("rs"), solution),
        (
            file("crates", "tests").with_extension("rs"),
            fill(TEST, &values),
        ),
        (
            file("crates", "mistakes").with_extension("toml"),
            fill(MISTAKES, &values),
        ),
    ];
    if let Err(message) = create_all(&root, &files)? {
        eprintln!("error: {message}: `new` never overwrites a file");
        return Ok(ExitCode::from(2));
    }
    edit(&root, &format!("crates/{dir}/src/lib.rs"), |text| {
        format!("{}\n\n{}", text.trim_end(), fill(MODULE, &values))
    })?;
    let entry = fill(EXERCISE, &values).replace("{title_toml}", &toml_string(&title));
    edit(&root, "curriculum.toml", |text| {
        let prefix = format!("id = \"{topic_name}/");
        insert_after_block(
            text,
            "[[exercise]]",
            &|l: &str| l.starts_with(&prefix),
            &entry,
            &format!("# ---- {dir} ----\n\n"),
        )
    })?;
    edit(&root, &format!("docs/src/{dir}.md"), |text| {
        insert_section(text, name, &title)
    })?;
    finish(&root, &format!("cargo xtask check {id}"))
}

/// `chapter` with a section for exercise `name` after its last exercise section (or before
/// its Pitfalls or Going further, or at its end).
fn insert_section(chapter: &str, name: &str, title: &str) -> String {
    let lines: Vec<&str> = chapter.lines().collect();
    let last_exercise = lines
        .iter()
        .rposition(|l| l.starts_with('#') && l.contains("{#"));
    let level = last_exercise.map_or("##", |i| {
        let hashes = lines[i].len() - lines[i].trim_start_matches('#').len();
        &lines[i][..hashes]
    });
    let at = match last_exercise {
        Some(i) => lines[i + 1..]
            .iter()
            .position(|l| {
                let hashes = l.len() - l.trim_start_matches('#').len();
                hashes > 0 && hashes <= level.len() && l[hashes..].starts_with(' ')
            })
            .map_or(lines.len(), |p| p + i + 1),
        None => lines
            .iter()
            .position(|l| *l == "## Pitfalls" || *l == "## Going further")
            .unwrap_or(lines.len()),
    };
    let section = format!("{level} Exercise: {title} {{#{name}}}\n\n{}", SECTION);
    insert_lines(&lines, at, &section)
}

/// Runs `new-topic NN-NAME --title T --week W [--days D]`.
pub fn run_new_topic(args: &[String]) -> anyhow::Result<ExitCode> {
    let (dir, options) = match parse("new-topic", args, "--days") {
        Ok(parsed) => parsed,
        Err(message) => return Ok(crate::usage_error(&message)),
    };
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let name = match dir.split_once('-') {
        Some((number, name))
            if number.len() == 2
                && number.chars().all(|c| c.is_ascii_digit())
                && name.split('-').all(is_module_name) =>
        {
            name.to_owned()
        }
        _ => {
            return Ok(crate::usage_error(&format!(
                "`{dir}` is not NN-NAME (two digits, a dash, lower-case words joined by dashes, \
                 such as `06-async-processes`)"
            )));
        }
    };
    let (Some(title), Some(week)) = (options.title, options.week) else {
        return Ok(crate::usage_error(
            "`new-topic` needs `--title T` and `--week W`",
        ));
    };
    if curriculum.topic(&name).is_some() || curriculum.topics.iter().any(|t| t.dir == dir) {
        eprintln!("error: a topic `{name}` or directory `{dir}` is in curriculum.toml already");
        return Ok(ExitCode::from(2));
    }
    let days = options.day.unwrap_or_else(|| "1".to_owned());
    let krate = name.replace('-', "_");
    let week_text = week.to_string();
    let with_testkit = root.join("crates/testkit/Cargo.toml").is_file();
    let values = [
        ("name", name.as_str()),
        ("dir", dir.as_str()),
        ("crate", krate.as_str()),
        ("title", title.as_str()),
        ("lower_title", &title.to_lowercase()),
        ("week", week_text.as_str()),
        ("days", days.as_str()),
        (
            "dev_dependencies",
            if with_testkit {
                "\n[dev-dependencies]\ntestkit.workspace = true\n"
            } else {
                ""
            },
        ),
    ];
    let crate_dir = Path::new("crates").join(&dir);
    let demo_test = if with_testkit {
        DEMO_TEST
    } else {
        DEMO_TEST_STD
    };
    let files = [
        (crate_dir.join("Cargo.toml"), fill(CARGO_TOML, &values)),
        (crate_dir.join("src/lib.rs"), fill(LIB, &values)),
        (crate_dir.join("src/bin/demo.rs"), fill(DEMO, &values)),
        (crate_dir.join("tests/demo.rs"), fill(demo_test, &values)),
        (
            Path::new("docs/src").join(format!("{dir}.md")),
            fill(CHAPTER, &values),
        ),
    ];
    if let Err(message) = create_all(&root, &files)? {
        eprintln!("error: {message}: `new-topic` never overwrites a file");
        return Ok(ExitCode::from(2));
    }
    let entry = fill(TOPIC, &values)
        .replace("{title_toml}", &toml_string(&title))
        .replace("{days_toml}", &toml_string(&days));
    edit(&root, "curriculum.toml", |text| {
        insert_after_block(text, "[[topic]]", &|_: &str| true, &entry, "")
    })?;
    finish(&root, &format!("cargo xtask new {name}/NAME"))
}

/// Runs `sync`, then tidy, and says what is left.
fn finish(root: &Path, next: &str) -> anyhow::Result<ExitCode> {
    let curriculum = Curriculum::load(root)?;
    for rel in crate::sync::write_all(root, &curriculum)? {
        println!("  synced   {}", rel.display());
    }
    let left: Vec<String> = crate::tidy::check(root)
        .into_iter()
        .filter(|m| m.contains(MARK) || m.contains("summary"))
        .collect();
    println!();
    println!(
        "{} Left to write ({} place(s); `cargo xtask tidy` lists them again):",
        term::bold("Scaffolded."),
        left.len()
    );
    let mut text = String::new();
    for miss in &left {
        let _ = writeln!(text, "  {miss}");
    }
    print!("{text}");
    println!("Then: {}", term::bold(next));
    Ok(ExitCode::SUCCESS)
}

/// The `SCAFFOLD:` lines of the files under `root` (the runner's own sources, which hold the
/// templates, excepted), as tidy misses.
pub fn tidy_misses(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut misses = Vec::new();
    let runner = root.join("xtask");
    for file in files.iter().filter(|f| !f.starts_with(&runner)) {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if !text.contains(MARK) {
            continue;
        }
        let rel = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let mut generated = false; // lines `sync` writes repeat their source's places
        for (i, line) in text.lines().enumerate() {
            if line.starts_with("<!-- generated: ") {
                generated = true;
            } else if line.starts_with("<!-- end generated: ") {
                generated = false;
            }
            if generated {
                continue;
            }
            if let Some(at) = line.find(MARK) {
                let what = line[at + MARK.len()..].trim().trim_end_matches(['"', ',']);
                misses.push(format!("{rel}:{}: left to write ({MARK} {what})", i + 1));
            }
        }
    }
    misses
}

// The templates, files with `{key}` holes (`.in`, so no tool takes them for sources).
const STUB: &str = include_str!("../templates/exercise/stub.rs.in");
const TEST: &str = include_str!("../templates/exercise/test.rs.in");
const MISTAKES: &str = include_str!("../templates/exercise/mistakes.toml.in");
const MODULE: &str = include_str!("../templates/exercise/module.rs.in");
const EXERCISE: &str = include_str!("../templates/exercise/entry.toml.in");
const TOPIC: &str = include_str!("../templates/topic/entry.toml.in");
const CARGO_TOML: &str = include_str!("../templates/topic/Cargo.toml.in");
const LIB: &str = include_str!("../templates/topic/lib.rs.in");
const DEMO: &str = include_str!("../templates/topic/demo.rs.in");
const DEMO_TEST: &str = include_str!("../templates/topic/demo_test.rs.in");
const DEMO_TEST_STD: &str = include_str!("../templates/topic/demo_test_std.rs.in");
const SECTION: &str = include_str!("../templates/exercise/section.md.in");
const CHAPTER: &str = include_str!("../templates/topic/chapter.md.in");
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_goes_after_the_last_block_of_its_topic() {
        let text =
            "[[exercise]]\nid = \"a/one\"\n\n[[exercise]]\nid = \"b/two\"\n\n# ---- c ----\n";
        let got = insert_after_block(
            text,
            "[[exercise]]",
            &|l: &str| l.starts_with("id = \"a/"),
            "[[exercise]]\nid = \"a/new\"\n",
            "# ---- a ----\n\n",
        );
        assert_eq!(
            got,
            "[[exercise]]\nid = \"a/one\"\n\n[[exercise]]\nid = \"a/new\"\n\n[[exercise]]\nid = \"b/two\"\n\n# ---- c ----\n"
        );
        let none = insert_after_block(
            "x = 1\n",
            "[[exercise]]",
            &|_: &str| true,
            "[[exercise]]\n",
            "# c\n",
        );
        assert_eq!(none, "x = 1\n\n# c\n[[exercise]]\n");
    }

    #[test]
    fn a_section_goes_after_the_last_exercise_section() {
        let chapter = "# T\n\n## Exercise: a {#a}\n\ntext\n\n## Pitfalls\n\np\n";
        assert_eq!(
            insert_section(chapter, "b", "B"),
            format!(
                "# T\n\n## Exercise: a {{#a}}\n\ntext\n\n## Exercise: B {{#b}}\n\n{SECTION}\n\
                 ## Pitfalls\n\np\n"
            )
        );
    }
}
