//! `cargo xtask sync` (maintainers): rewrites every file derived from another, so that none is
//! kept by hand.
//!
//! - the pristine copies of every stub and exercise test file (`xtask/pristine/`, see
//!   `pristine`);
//! - the book's curriculum at a glance (`docs/src/curriculum.md`), its table of contents' topic
//!   chapters (`docs/src/SUMMARY.md`) and the README's curriculum table, from curriculum.toml;
//! - the book's diagnosis tree (`docs/src/diagnosis.md`), from `docs/diagnosis.toml` (see
//!   `explain`);
//! - the known mistakes in each topic chapter's pitfalls, from `crates/DIR/mistakes/` (see
//!   `mistakes`);
//! - the book's translations (`docs/po/LANG.po`), merged with the messages of today's English
//!   book (see `po`; skipped with a note when mdbook-xgettext or msgmerge is missing).
//! - the course's PO template for translators (`docs/po/course/messages.pot`), from
//!   curriculum.toml and `docs/diagnosis.toml` (see `i18n`), which `sync` then merges into each
//!   translation (`docs/po/course/LANG.po`) with `msgmerge` when it is installed.
//!
//! A generated part of a Markdown file sits between two HTML comments, invisible in the rendered
//! page; the text around them is written by hand:
//!
//! ```text
//! <!-- generated: NAME (cargo xtask sync writes this part from SOURCE) -->
//! ...
//! <!-- end generated: NAME -->
//! ```
//!
//! Tidy calls [`stale`] and fails while any generated file differs from what `sync` would write.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::manifest::{Curriculum, Topic};
use crate::term;

/// One file that `sync` writes: its path relative to the root, and its wanted contents (or why
/// they cannot be made).
struct Output {
    rel: PathBuf,
    wanted: Result<String, String>,
}

/// Every generated Markdown file with what it should contain now.
fn outputs(root: &Path, curriculum: &Curriculum) -> Vec<Output> {
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).map_err(|e| e.to_string());
    let from_curriculum = |rel: &str, part: &str, body: String| Output {
        rel: rel.into(),
        wanted: read(rel).and_then(|text| splice(&text, part, "curriculum.toml", &body)),
    };
    let mut out = vec![
        from_curriculum(
            "docs/src/curriculum.md",
            "curriculum",
            glance_page(curriculum),
        ),
        from_curriculum("README.md", "curriculum", readme_table(curriculum)),
    ];
    if root.join(SUMMARY).is_file() {
        out.push(from_curriculum(
            SUMMARY,
            "chapters",
            summary_part(curriculum),
        ));
    }
    if root.join(crate::explain::DATA).is_file() {
        let (data, chapter) = (crate::explain::DATA, crate::explain::CHAPTER);
        let wanted = crate::explain::Tree::load(root)
            .map_err(|e| format!("{e:#}"))
            .and_then(|tree| {
                let text = splice(&read(chapter)?, "tree", data, &tree.render_overview())?;
                splice(&text, "entries", data, &tree.render_chapter())
            });
        out.push(Output {
            rel: chapter.into(),
            wanted,
        });
    }
    if root.join(BENCH_GROUPS).is_file() && root.join(MEASURING).is_file() {
        let wanted = read(BENCH_GROUPS).and_then(|source| {
            let body = bench_groups_table(&source)?;
            splice(&read(MEASURING)?, "bench-groups", BENCH_GROUPS, &body)
        });
        out.push(Output {
            rel: MEASURING.into(),
            wanted,
        });
    }
    if root.join(crate::i18n::COURSE_PO_DIR).is_dir() {
        out.push(Output {
            rel: crate::i18n::COURSE_TEMPLATE.into(),
            wanted: crate::i18n::course_template(root),
        });
    }
    for topic in &curriculum.topics {
        let rel = format!("docs/src/{}.md", topic.dir);
        if !root.join(&rel).is_file() {
            continue; // tidy names a missing chapter already
        }
        let source = format!("crates/{}/mistakes/", topic.dir);
        let text = read(&rel).unwrap_or_default();
        if !text.contains("<!-- generated: mistakes ") {
            continue; // `missing_parts` names it; sync still writes everything else
        }
        let wanted = mistakes_part(root, curriculum, topic)
            .and_then(|body| splice(&text, "mistakes", &source, &body));
        out.push(Output {
            rel: rel.into(),
            wanted,
        });
    }
    out
}

/// The registry of benchmark groups, and the chapter that lists them.
const BENCH_GROUPS: &str = "crates/bench/src/groups.rs";
const MEASURING: &str = "docs/src/measuring.md";

/// The table of benchmark groups, read from the `GROUPS` registry of `crates/bench`: each
/// entry's first three string literals are its criterion group id, its bench target and its
/// table's title.
fn bench_groups_table(source: &str) -> Result<String, String> {
    let start = source
        .find("pub const GROUPS")
        .ok_or("no `pub const GROUPS` in it")?;
    let body = &source[start..];
    let end = body.find("\n];").ok_or("its `GROUPS` has no end `];`")?;
    let mut table =
        String::from("| group | bench target | what its table shows |\n| --- | --- | --- |\n");
    let mut rows = 0;
    for entry in body[..end].split("\n    (").skip(1) {
        let literals = string_literals(entry, 3);
        let [id, target, title] = literals.as_slice() else {
            return Err(format!(
                "an entry of `GROUPS` without three strings: {entry:.60}"
            ));
        };
        let _ = writeln!(table, "| `{id}` | `{target}` | {} |", cell(title));
        rows += 1;
    }
    if rows == 0 {
        return Err("its `GROUPS` lists no group".into());
    }
    Ok(table)
}

/// The first `n` Rust string literals of `text`, unescaped (`\\`, `\"`, `\n` and a line
/// continuation).
fn string_literals(text: &str, n: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut chars = text.chars().peekable();
    while found.len() < n {
        // Skip to the next opening quote.
        if !chars.by_ref().any(|c| c == '"') {
            break;
        }
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => literal.push('\n'),
                    Some('\n') => {
                        while chars.peek().is_some_and(|c| c.is_whitespace()) {
                            chars.next();
                        }
                    }
                    Some(other) => literal.push(other),
                    None => {}
                },
                other => literal.push(other),
            }
        }
        found.push(literal);
    }
    found
}

/// The known mistakes of a topic's exercises, for its chapter's pitfalls.
fn mistakes_part(root: &Path, curriculum: &Curriculum, topic: &Topic) -> Result<String, String> {
    let mut body = format!(
        "Known mistakes: programs learners write for these exercises that look right and are not.\n\
         The tests reject each one with a message that names it (`cargo xtask mistakes --topic {}`\n\
         proves it).\n\n",
        topic.name
    );
    let mut any = false;
    for ex in curriculum
        .exercises
        .iter()
        .filter(|e| e.topic() == topic.name)
    {
        let paths = curriculum.paths(ex);
        let mistakes = crate::mistakes::load(root, &paths).map_err(|e| format!("{e:#}"))?;
        if mistakes.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(body, "- [`{}`](#{}):", ex.name(), ex.name());
        for m in &mistakes {
            let _ = writeln!(body, "  - {}", m.what.trim());
        }
    }
    if !any {
        body = "No known mistakes are recorded for this topic's exercises yet.\n".to_owned();
    }
    Ok(body)
}

/// The tidy rule: each generated file is what `sync` would write.
pub fn stale(root: &Path, curriculum: &Curriculum) -> Vec<String> {
    let mut misses = Vec::new();
    for output in outputs(root, curriculum) {
        let current = std::fs::read_to_string(root.join(&output.rel)).unwrap_or_default();
        match output.wanted {
            Ok(wanted) if wanted == current => {}
            Ok(_) => misses.push(format!(
                "{}: out of date with what it is generated from; run `cargo xtask sync`",
                output.rel.display()
            )),
            Err(why) => misses.push(format!("{}: {why}", output.rel.display())),
        }
    }
    for topic in &curriculum.topics {
        if topic.summary.as_deref().is_none_or(|s| s.trim().is_empty()) {
            misses.push(format!(
                "topic `{}`: no `summary` in curriculum.toml (what the learner builds, shown in \
                 the README's curriculum table)",
                topic.name
            ));
        }
    }
    misses.extend(crate::pristine::tidy_misses(root, curriculum));
    for topic in &curriculum.topics {
        let rel = format!("docs/src/{}.md", topic.dir);
        if std::fs::read_to_string(root.join(&rel))
            .is_ok_and(|text| !text.contains("<!-- generated: mistakes "))
        {
            misses.push(format!(
                "{rel}: no generated part `mistakes` for the topic's known mistakes: put the lines \
                 `<!-- generated: mistakes (cargo xtask sync writes this part from crates/{}/mistakes/) -->` \
                 and `<!-- end generated: mistakes -->` at the end of its Pitfalls section, then run \
                 `cargo xtask sync`",
                topic.dir
            ));
        }
    }
    misses
}

/// Writes every generated file and the pristine copies; returns the files it changed.
pub fn write_all(root: &Path, curriculum: &Curriculum) -> anyhow::Result<Vec<PathBuf>> {
    let (written, removed) = crate::pristine::refresh(root, curriculum)?;
    let mut changed: Vec<PathBuf> = written
        .iter()
        .map(|rel| crate::pristine::copy_of(Path::new(""), rel))
        .chain(removed)
        .collect();
    for output in outputs(root, curriculum) {
        let wanted = output
            .wanted
            .map_err(|why| anyhow::anyhow!("{}: {why}", output.rel.display()))?;
        let path = root.join(&output.rel);
        if std::fs::read_to_string(&path).is_ok_and(|current| current == wanted) {
            continue;
        }
        std::fs::write(&path, wanted)
            .with_context(|| format!("cannot write {}", path.display()))?;
        changed.push(output.rel);
    }
    Ok(changed)
}

/// Runs `sync`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(extra) = args.first() {
        return Ok(crate::usage_error(&format!(
            "`sync` takes no arguments (got `{extra}`)"
        )));
    }
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let mut changed = write_all(&root, &curriculum)?;
    // The translations last: the template is extracted from the book just written.
    match crate::po::sync(&root)? {
        Ok(written) => changed.extend(written.into_iter().map(PathBuf::from)),
        Err(skipped) => println!("  {} {skipped}", term::yellow("skipped:")),
    }
    for rel in &changed {
        println!("  wrote  {}", rel.display());
    }
    if root.join(crate::i18n::COURSE_TEMPLATE).is_file() {
        match crate::i18n::merge_course_po(&root) {
            Ok(merged) => {
                for rel in merged {
                    println!("  merged {rel} with msgmerge");
                }
            }
            Err(why) => println!(
                "  {} skipped merging the course template into its translations: {why}",
                term::yellow("note:")
            ),
        }
    }
    println!(
        "{} every generated file is up to date ({} file(s) written; pristine copies of {} file(s))",
        term::green("ok"),
        changed.len(),
        crate::pristine::tracked(&curriculum).len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `text` with the part between the markers named `name` replaced by `body`.
fn splice(text: &str, name: &str, source: &str, body: &str) -> Result<String, String> {
    let begin = format!("<!-- generated: {name} ");
    let end = format!("<!-- end generated: {name} -->");
    let missing = || {
        format!(
            "no generated part `{name}`: put the lines `<!-- generated: {name} (cargo xtask sync \
             writes this part from {source}) -->` and `{end}` where it goes"
        )
    };
    let start = text.find(&begin).ok_or_else(missing)?;
    let after_begin = start + text[start..].find('\n').ok_or_else(missing)? + 1;
    let stop = text[after_begin..].find(&end).ok_or_else(missing)? + after_begin;
    Ok(format!(
        "{}<!-- generated: {name} (cargo xtask sync writes this part from {source}) -->\n{body}{}",
        &text[..start],
        &text[stop..]
    ))
}

/// The book's table of contents, whose topic chapters are generated (grouped by week).
const SUMMARY: &str = "docs/src/SUMMARY.md";

/// The topic chapters of the table of contents: a part per week.
fn summary_part(curriculum: &Curriculum) -> String {
    let mut s = String::new();
    let mut week = None;
    for t in &curriculum.topics {
        if week != Some(t.week) {
            week = Some(t.week);
            let _ = write!(s, "\n# Week {}\n\n", t.week);
        }
        let _ = writeln!(s, "- [{}]({}.md)", t.title, t.dir);
    }
    s.push('\n');
    s
}

/// A table cell: no line breaks, `|` escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// The README's table: one row per topic.
fn readme_table(curriculum: &Curriculum) -> String {
    let mut s = String::from("| week | days | topic | you build |\n| --- | --- | --- | --- |\n");
    for t in &curriculum.topics {
        let _ = writeln!(
            s,
            "| {} | {} | [{}](docs/src/{}.md) | {} |",
            t.week,
            t.days,
            cell(&t.title),
            t.dir,
            cell(t.summary.as_deref().unwrap_or("(to be described)"))
        );
    }
    s
}

/// The book's curriculum at a glance: per topic, a table of its exercises.
fn glance_page(curriculum: &Curriculum) -> String {
    let mut s = String::new();
    for t in &curriculum.topics {
        let _ = write!(s, "\n{}", glance_topic(curriculum, t));
    }
    s.push('\n');
    s
}

fn glance_topic(curriculum: &Curriculum, t: &Topic) -> String {
    let mut s = format!(
        "## Week {}, days {}: {}\n\nChapter: [{}]({}.md).\n\n",
        t.week, t.days, t.title, t.title, t.dir
    );
    let exercises: Vec<_> = curriculum
        .exercises
        .iter()
        .filter(|e| e.topic() == t.name)
        .collect();
    if exercises.is_empty() {
        s.push_str("No exercises yet.\n");
        return s;
    }
    s.push_str("| day | id | exercise |\n| --- | --- | --- |\n");
    for e in exercises {
        let _ = writeln!(
            s,
            "| {} | `{}` | [{}]({}.md#{}) |",
            e.day,
            e.id,
            cell(&e.title),
            t.dir,
            e.name()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bench_groups_table_reads_the_registry_literals() {
        let source = "pub const GROUPS: &[(&str, &str, &str, &str)] = &[\n    (\n        \"a_b\",\n        \"a\",\n        \"One \\\"quoted\\\" line, \\\n         continued\",\n        \"note\",\n    ),\n    (\"c\", \"c\", \"Two | three\", \"n\"),\n];\n";
        assert_eq!(
            super::bench_groups_table(source).unwrap(),
            "| group | bench target | what its table shows |\n| --- | --- | --- |\n\
             | `a_b` | `a` | One \"quoted\" line, continued |\n\
             | `c` | `c` | Two \\| three |\n"
        );
        assert!(super::bench_groups_table("nothing").is_err());
    }

    use super::*;

    #[test]
    fn a_generated_part_is_replaced_and_the_text_around_it_kept() {
        let text = "intro\n<!-- generated: x (old words) -->\nold\nrows\n<!-- end generated: x -->\nafter\n";
        let got = splice(text, "x", "src.toml", "new\n").expect("markers found");
        assert_eq!(
            got,
            "intro\n<!-- generated: x (cargo xtask sync writes this part from src.toml) -->\nnew\n<!-- end generated: x -->\nafter\n"
        );
        let err = splice("no markers\n", "x", "src.toml", "new\n").expect_err("no markers");
        assert!(err.contains("<!-- end generated: x -->"), "{err}");
    }

    #[test]
    fn table_cells_stay_on_one_line_and_escape_bars() {
        assert_eq!(cell("a |  b\n c"), "a \\| b c");
    }
}
