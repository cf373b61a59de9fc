//! The tidy check: the repository's conventions, enforced by code rather than by memory.
//!
//! Run by `cargo xtask tidy` and `cargo xtask verify` (and a runner test on this repository):
//! - every curriculum exercise has its stub, solution, test file, at least two hints, its module
//!   declared in its topic's lib.rs, and a `{#NAME}` anchor in its chapter;
//! - no orphan files in exercises/, solutions/ or crates/*/tests/ (tests/demo.rs is allowed)
//!   that no curriculum entry names;
//! - every topic crate exists, is named after its topic, has a `solution` feature, a demo
//!   (src/bin/demo.rs) with its test (tests/demo.rs), a chapter, and inherits the workspace's
//!   lints (`[lints] workspace = true`);
//! - every generated file is up to date (`sync`): the pristine copies, the curriculum tables,
//!   the diagnosis chapter, the course's PO template; every topic has a summary;
//! - the runner's tables of words (see `i18n`) have every key in every language, with the same
//!   placeholders, and no key that no code uses;
//! - each course translation (`docs/po/course/LANG.po`) can be read; how many of its messages
//!   are untranslated or fuzzy is reported, and is a miss only for a language that
//!   `docs/po/course/COMPLETE` lists as complete;
//! - no `SCAFFOLD:` place that `cargo xtask new` or `new-topic` left to write remains;
//! - every `.rs` file opens with a `//!` doc comment;
//! - every translation of the book (docs/po/) is up to date with the English sources once it is
//!   marked complete (`crate::po::tidy`; while in progress its counts are noted, not missed).
//!
//! That every `unsafe` block or impl has a `// SAFETY:` comment is clippy's
//! `undocumented_unsafe_blocks`, a workspace lint every crate inherits, which verify's clippy
//! steps deny.
//!
//! target/ directories, hidden directories and the runner's test fixtures are not looked at.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::manifest::Curriculum;

/// Runs `tidy`: prints every miss; exit status 1 when there is one.
pub fn run(args: &[String]) -> anyhow::Result<std::process::ExitCode> {
    if let Some(extra) = args.first() {
        return Ok(crate::usage_error(&format!(
            "`tidy` takes no arguments (got `{extra}`)"
        )));
    }
    let root = crate::manifest::root();
    let (misses, mut notes) = check_with_notes(&root);
    notes.extend(crate::i18n::course_report(&root).1);
    for note in &notes {
        println!("  {} {note}", crate::term::dim("note:"));
    }
    for miss in &misses {
        println!("  {} {miss}", crate::term::red("miss:"));
    }
    if misses.is_empty() {
        println!(
            "{} the repository follows its conventions",
            crate::term::green("ok")
        );
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        println!("{} tidy miss(es)", misses.len());
        Ok(std::process::ExitCode::FAILURE)
    }
}

/// Every miss of the conventions under `root`, each a sentence naming the file.
pub fn check(root: &Path) -> Vec<String> {
    check_with_notes(root).0
}

/// The misses of [`check`], and the notes that are no miss: a translation in progress, or its
/// check skipped for want of a tool.
pub fn check_with_notes(root: &Path) -> (Vec<String>, Vec<String>) {
    let mut misses = Vec::new();
    match Curriculum::load(root) {
        Ok(curriculum) => {
            check_curriculum(root, &curriculum, &mut misses);
            check_binary_names(root, &curriculum, &mut misses);
            check_unused_dependencies(root, &curriculum, &mut misses);
            check_requirements(root, &curriculum, &mut misses);
            check_errnos_explained(root, &curriculum, &mut misses);
            check_doc_links(root, &mut misses);
            misses.extend(crate::mistakes::problems(root, &curriculum));
            misses.extend(crate::sync::stale(root, &curriculum));
            misses.extend(crate::i18n::course_report(root).0);
        }
        Err(e) => misses.push(format!("curriculum.toml: {e:#}")),
    }
    misses.extend(crate::i18n::table_problems(root));
    // CI installs the mdbook release that verify names.
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap_or_default();
    let pinned = format!("MDBOOK_VERSION={}", crate::MDBOOK_VERSION);
    if ci.contains("MDBOOK_VERSION=") && !ci.contains(&pinned) {
        misses.push(format!(
            ".ci/run: pin mdbook as {pinned}, as xtask/src/main.rs does"
        ));
    }
    let pinned = format!(
        "MDBOOK_I18N_HELPERS_VERSION={}",
        crate::MDBOOK_I18N_HELPERS_VERSION
    );
    if ci.contains("MDBOOK_I18N_HELPERS_VERSION=") && !ci.contains(&pinned) {
        misses.push(format!(
            ".ci/run: pin mdbook-i18n-helpers as {pinned}, as xtask/src/main.rs does"
        ));
    }
    let translations = crate::po::tidy(root);
    misses.extend(translations.misses);
    let text_files: Vec<PathBuf> = files_under(root)
        .into_iter()
        .filter(|f| {
            f.extension()
                .is_some_and(|e| e == "rs" || e == "md" || e == "toml")
        })
        .collect();
    misses.extend(crate::scaffold::tidy_misses(root, &text_files));
    for file in rust_files(root) {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        match std::fs::read_to_string(&file) {
            Ok(text) => check_source(&rel, &text, &mut misses),
            Err(e) => misses.push(format!("{rel}: cannot be read ({e})")),
        }
    }
    (misses, translations.notes)
}

/// Binary names must be unique across the topic crates: every member's binaries are written to
/// the same `target/debug/`, so two `kvd`s would overwrite each other and a test could run the
/// other topic's.
fn check_binary_names(root: &Path, curriculum: &Curriculum, misses: &mut Vec<String>) {
    let mut seen: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for topic in &curriculum.topics {
        let crate_dir = root.join("crates").join(&topic.dir);
        let declared = crate_manifest(&crate_dir)
            .map(|m| m.bin)
            .unwrap_or_default();
        let mut names: Vec<String> = declared.iter().map(|b| b.name.clone()).collect();
        // A file directly in src/bin/ that no [[bin]] names is a binary named after it.
        for file in files_under(&crate_dir.join("src/bin")) {
            let rel = file.strip_prefix(&crate_dir).unwrap_or(&file);
            if rel.parent() == Some(Path::new("src/bin"))
                && file.extension().is_some_and(|e| e == "rs")
                && !declared.iter().any(|b| Path::new(&b.path) == rel)
                && let Some(stem) = file.file_stem().and_then(|s| s.to_str())
            {
                names.push(stem.to_owned());
            }
        }
        for name in names {
            if let Some(other) = seen.insert(name.clone(), topic.dir.clone()) {
                misses.push(format!(
                    "binary `{name}` is built by both crates/{other} and crates/{}: binaries share \
                     target/debug/, give one of them a topic-specific name",
                    topic.dir
                ));
            }
        }
    }
}

/// What tidy reads of a topic crate's Cargo.toml.
#[derive(serde::Deserialize)]
struct CrateManifest {
    package: Option<toml::Table>,
    #[serde(default)]
    features: toml::Table,
    #[serde(default)]
    bin: Vec<Bin>,
    lints: Option<toml::Table>,
}

#[derive(serde::Deserialize)]
struct Bin {
    name: String,
    #[serde(default)]
    path: String,
}

/// Every dependency a member crate declares is used by its code: a crate's `.rs` files (for a
/// topic crate also its stubs and solutions, which it compiles through `#[path]`) name it as a
/// path (`name::`), a macro (`name!`), in a `use` or an `extern crate`. A declared dependency
/// nothing uses costs every learner a download and a build.
fn check_unused_dependencies(root: &Path, curriculum: &Curriculum, misses: &mut Vec<String>) {
    let mut members: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    let mut topic_dirs = std::collections::BTreeSet::new();
    for topic in &curriculum.topics {
        topic_dirs.insert(topic.dir.clone());
        members.push((
            root.join("crates").join(&topic.dir),
            vec![
                root.join("exercises").join(&topic.dir),
                root.join("solutions").join(&topic.dir),
            ],
        ));
    }
    let others = std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.join("Cargo.toml").is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| topic_dirs.contains(n.to_string_lossy().as_ref()))
        });
    for dir in others.chain([root.join("xtask")]) {
        members.push((dir, Vec::new()));
    }
    for (crate_dir, extra) in members {
        let Ok(text) = std::fs::read_to_string(crate_dir.join("Cargo.toml")) else {
            continue;
        };
        let Ok(manifest) = text.parse::<toml::Table>() else {
            continue;
        };
        let mut code = String::new();
        let mut pending: Vec<PathBuf> = std::iter::once(&crate_dir)
            .chain(&extra)
            .flat_map(|dir| files_under(dir))
            .filter(|f| f.extension().is_some_and(|e| e == "rs"))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        // Modules included with `#[path = "..."]` (the bench compiles solutions so) count too.
        while let Some(file) = pending.pop() {
            let file = file.canonicalize().unwrap_or(file);
            if !seen.insert(file.clone()) {
                continue;
            }
            let Ok(source) = std::fs::read_to_string(&file) else {
                continue;
            };
            for rest in source.split("#[path = \"").skip(1) {
                if let Some(rel) = rest.split('"').next() {
                    pending.push(file.parent().unwrap_or(root).join(rel));
                }
            }
            code.push_str(&source);
            code.push('\n');
        }
        let rel = crate_dir.strip_prefix(root).unwrap_or(&crate_dir);
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(deps) = manifest.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for name in deps.keys() {
                let ident = name.replace('-', "_");
                if !names_crate(&code, &ident) {
                    misses.push(format!(
                        "{}/Cargo.toml: [{section}] declares `{name}`, which no code of the crate uses; remove it",
                        rel.display()
                    ));
                }
            }
        }
    }
}

/// Every exercise's `requires` in curriculum.toml says exactly which exercises of its topic its
/// tests, stub or solution call (`topic::other::`, `crate::other::`, `super::other::`, or a
/// `use` of them), each one earlier in the course.
fn check_requirements(root: &Path, curriculum: &Curriculum, misses: &mut Vec<String>) {
    for (at, ex) in curriculum.exercises.iter().enumerate() {
        let paths = curriculum.paths(ex);
        for need in &ex.requires {
            match curriculum.exercises.iter().position(|e| e.id == *need) {
                None => misses.push(format!(
                    "curriculum.toml: {} requires `{need}`, which is not an exercise",
                    ex.id
                )),
                Some(n) if n >= at => misses.push(format!(
                    "curriculum.toml: {} requires {need}, which comes after it in the course",
                    ex.id
                )),
                Some(_) => {}
            }
        }
        let code: String = [&paths.test, &paths.stub, &paths.solution]
            .iter()
            .filter_map(|rel| std::fs::read_to_string(root.join(rel)).ok())
            .collect::<Vec<_>>()
            .join("\n");
        let krate = ex.topic().replace('-', "_");
        for other in curriculum
            .exercises
            .iter()
            .filter(|o| o.topic() == ex.topic() && o.id != ex.id)
        {
            let uses = calls_module(&code, &krate, other.name());
            let listed = ex.requires.contains(&other.id);
            if uses && !listed {
                misses.push(format!(
                    "curriculum.toml: {} uses {}'s code (its tests, stub or solution call it): \
                     add `requires = [\"{}\"]` to its entry",
                    ex.id, other.id, other.id
                ));
            } else if listed && !uses {
                misses.push(format!(
                    "curriculum.toml: {} requires {}, but neither its tests nor its stub nor its \
                     solution call it",
                    ex.id, other.id
                ));
            }
        }
    }
}

/// Every errno a topic chapter names leads to a diagnosis entry (`cargo xtask explain ERRNO`):
/// a learner who meets it in a chapter or in a failing check can look it up.
fn check_errnos_explained(root: &Path, curriculum: &Curriculum, misses: &mut Vec<String>) {
    let Ok(tree) = crate::explain::Tree::load(root) else {
        return; // sync's rule names an unreadable tree
    };
    for topic in &curriculum.topics {
        let rel = format!("docs/src/{}.md", topic.dir);
        let Ok(text) = std::fs::read_to_string(root.join(&rel)) else {
            continue;
        };
        let mut named: Vec<&str> = crate::explain::errno_names()
            .filter(|name| {
                text.match_indices(name).any(|(at, _)| {
                    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
                    !text[..at].chars().next_back().is_some_and(is_word)
                        && !text[at + name.len()..].chars().next().is_some_and(is_word)
                })
            })
            .collect();
        named.sort_unstable();
        for name in named {
            if !tree
                .lookup(name)
                .iter()
                .any(|e| e.errnos.iter().any(|n| n == name))
            {
                misses.push(format!(
                    "{rel} names {name}, which no entry of docs/diagnosis.toml lists in its \
                     `errnos`: `cargo xtask explain {name}` would find nothing"
                ));
            }
        }
    }
}

/// Whether `code` names module `name` of crate `krate` (as `krate::name`, `crate::name` or
/// `super::name`, alone or in a `{...}` group of a `use`).
fn calls_module(code: &str, krate: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for prefix in [krate, "crate", "super"] {
        let needle = format!("{prefix}::");
        for (at, _) in code.match_indices(&needle) {
            if code[..at].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let rest = &code[at + needle.len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(|n| n.trim().split("::").next().unwrap_or("").trim())
                    .collect(),
                None => vec![rest.split(|c: char| !is_ident(c)).next().unwrap_or("")],
            };
            if names.contains(&name) {
                return true;
            }
        }
    }
    false
}

/// Whether `code` uses the crate `ident`: `ident::`, `ident!`, `use ident` or `extern crate ident`.
fn names_crate(code: &str, ident: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(ident).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        if before.is_some_and(is_ident) || before == Some(':') {
            return false;
        }
        let after = code[at + ident.len()..].trim_start();
        if after.starts_with(is_ident) {
            return false;
        }
        let preceding = code[..at].trim_end();
        after.starts_with("::")
            || after.starts_with('!')
            || preceding.ends_with("use")
            || preceding.ends_with("extern crate")
    })
}

/// The Cargo.toml of the crate in `crate_dir`, if it can be read.
fn crate_manifest(crate_dir: &Path) -> Option<CrateManifest> {
    let text = std::fs::read_to_string(crate_dir.join("Cargo.toml")).ok()?;
    toml::from_str(&text).ok()
}

/// Every relative link in the book and the top-level documents points at a file that exists,
/// and every `FILE.md#ANCHOR` at a heading of that file (an explicit `{#ANCHOR}` or the slug
/// mdBook derives from the heading's text).
///
/// A link into a translation of the book (`LANG/PAGE.html`, LANG a language of
/// docs/po/translations.toml; the translations are built into target/book/LANG beside the
/// English book) points at a page whose chapter exists.
fn check_doc_links(root: &Path, misses: &mut Vec<String>) {
    let languages = crate::po::languages(root).unwrap_or_default();
    let mut docs: Vec<PathBuf> = files_under(&root.join("docs/src"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
        .collect();
    for top in ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md"] {
        docs.push(root.join(top));
    }
    for doc in docs {
        let Ok(text) = std::fs::read_to_string(&doc) else {
            continue;
        };
        let rel = doc.strip_prefix(root).unwrap_or(&doc).display().to_string();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            if let Some((lang, page)) = path.split_once('/')
                && languages.contains_key(lang)
                && doc.starts_with(root.join("docs/src"))
            {
                let chapter = page.strip_suffix(".html").unwrap_or(page);
                if !root
                    .join("docs/src")
                    .join(format!("{chapter}.md"))
                    .is_file()
                {
                    misses.push(format!(
                        "{rel}: the link `{target}` points at no chapter of the {lang} book"
                    ));
                }
                continue;
            }
            let file = if path.is_empty() {
                doc.clone()
            } else {
                doc.parent().unwrap_or(root).join(path)
            };
            if !file.exists() {
                misses.push(format!("{rel}: the link `{target}` points at no file"));
                continue;
            }
            if !anchor.is_empty()
                && file.extension().is_some_and(|e| e == "md")
                && let Ok(linked) = std::fs::read_to_string(&file)
                && !heading_anchors(&linked).iter().any(|a| a == anchor)
            {
                misses.push(format!(
                    "{rel}: the link `{target}` names no heading of that file"
                ));
            }
        }
    }
}

/// The targets of the Markdown links `[text](target)` outside fenced code blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else {
                break;
            };
            let target = &after[..end];
            if !target.is_empty() && !target.contains(char::is_whitespace) {
                out.push(target.to_owned());
            }
            rest = &after[end..];
        }
    }
    out
}

/// The anchors of a Markdown file's headings: explicit `{#id}`s and mdBook's slugs (lower
/// case, spaces to `-`, only letters, digits, `-` and `_` kept).
fn heading_anchors(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('#')) {
        let heading = line.trim_start_matches('#').trim();
        let (title, explicit) = match heading.rfind("{#") {
            Some(i) => (&heading[..i], heading[i + 2..].strip_suffix('}')),
            None => (heading, None),
        };
        if let Some(id) = explicit {
            out.push(id.to_owned());
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        out.push(slug);
    }
    out
}

fn check_curriculum(root: &Path, curriculum: &Curriculum, misses: &mut Vec<String>) {
    for topic in &curriculum.topics {
        let crate_dir = root.join("crates").join(&topic.dir);
        let where_ = format!("crates/{}/Cargo.toml", topic.dir);
        let Some(manifest) = crate_manifest(&crate_dir) else {
            misses.push(format!("topic `{}`: {where_} is missing", topic.name));
            continue;
        };
        let name = manifest
            .package
            .as_ref()
            .and_then(|p| p.get("name")?.as_str());
        if name != Some(topic.name.as_str()) {
            let wanted = &topic.name;
            misses.push(format!(
                "{where_}: the package must be named `{wanted}` (found {name:?})"
            ));
        }
        let lints = manifest
            .lints
            .as_ref()
            .and_then(|l| l.get("workspace")?.as_bool());
        if lints != Some(true) {
            misses.push(format!("{where_}: no `[lints] workspace = true`"));
        }
        if !manifest.features.contains_key("solution") {
            misses.push(format!("{where_}: no `solution` feature"));
        }
        // Binaries of every member land in one target/debug/: a demo named plainly `demo`
        // would overwrite another topic's.
        let demo = format!("{}-demo", topic.name);
        if !manifest
            .bin
            .iter()
            .any(|b| b.name == demo && b.path == "src/bin/demo.rs")
        {
            misses.push(format!(
                "{where_}: declare the demo as [[bin]] name = \"{demo}\", path = \
                 \"src/bin/demo.rs\" (all members' binaries share target/debug/)"
            ));
        }
        for (file, what) in [
            ("src/bin/demo.rs", "no demo"),
            ("tests/demo.rs", "no test of its demo"),
        ] {
            if !crate_dir.join(file).is_file() {
                misses.push(format!(
                    "topic `{}`: {what} (crates/{}/{file})",
                    topic.name, topic.dir
                ));
            }
        }
        if !root
            .join("docs/src")
            .join(format!("{}.md", topic.dir))
            .is_file()
        {
            misses.push(format!(
                "topic `{}`: no chapter (docs/src/{}.md)",
                topic.name, topic.dir
            ));
        }
    }

    let mut named: BTreeSet<PathBuf> = BTreeSet::new();
    for ex in &curriculum.exercises {
        let paths = curriculum.paths(ex);
        for (file, what) in [
            (&paths.stub, "stub"),
            (&paths.solution, "solution"),
            (&paths.test, "test file"),
        ] {
            named.insert(file.clone());
            if !root.join(file).is_file() {
                misses.push(format!("{}: no {what} ({})", ex.id, file.display()));
            }
        }
        if ex.hints.len() < 2 {
            misses.push(format!(
                "{}: {} hint(s) in curriculum.toml, at least 2 needed",
                ex.id,
                ex.hints.len()
            ));
        }
        let lib = paths.crate_dir.join("src/lib.rs");
        let lib_text = std::fs::read_to_string(root.join(&lib)).unwrap_or_default();
        for file in [&paths.stub, &paths.solution] {
            if !lib_text.contains(&file.display().to_string()) {
                misses.push(format!(
                    "{}: {} does not declare the module at {}",
                    ex.id,
                    lib.display(),
                    file.display()
                ));
            }
        }
        let chapter = std::fs::read_to_string(root.join(&paths.chapter)).unwrap_or_default();
        let anchor = format!("{{#{}}}", ex.name());
        if !chapter
            .lines()
            .any(|l| l.starts_with('#') && l.contains(&anchor))
        {
            misses.push(format!(
                "{}: no section with the anchor `{anchor}` in {}",
                ex.id,
                paths.chapter.display()
            ));
        }
    }

    // Orphans: files in the mirrored folders that no curriculum entry names.
    let topic_dirs: Vec<&str> = curriculum.topics.iter().map(|t| t.dir.as_str()).collect();
    for top in ["exercises", "solutions"] {
        for file in files_under(&root.join(top)) {
            let rel = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
            if !named.contains(&rel) {
                misses.push(format!(
                    "{}: an orphan file that no curriculum.toml entry names",
                    rel.display()
                ));
            }
        }
    }
    if let Ok(crates) = std::fs::read_dir(root.join("crates")) {
        for entry in crates.flatten() {
            let dir_name = entry.file_name().to_string_lossy().into_owned();
            if !topic_dirs.contains(&dir_name.as_str()) {
                continue;
            }
            for file in files_under(&entry.path().join("tests")) {
                let rel = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
                let is_demo_test = rel == Path::new("crates").join(&dir_name).join("tests/demo.rs");
                if !is_demo_test && !named.contains(&rel) {
                    misses.push(format!(
                        "{}: an orphan test file that no curriculum.toml entry names",
                        rel.display()
                    ));
                }
            }
        }
    }
}

/// The `//!` header rule for one source file.
fn check_source(rel: &str, text: &str, misses: &mut Vec<String>) {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if !first.trim_start().starts_with("//!") {
        misses.push(format!("{rel}: does not open with a `//!` doc comment"));
    }
}

/// Every `.rs` file under `root`, skipping target/, hidden directories and the runner's fixtures.
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let fixtures = root.join("xtask/tests/fixtures");
    files_under(root)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs") && !f.starts_with(&fixtures))
        .collect()
}

/// Every file under `dir`, recursively, skipping target/ and hidden directories.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(entry.path());
                }
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_module_of_the_topic_is_found_by_path_or_in_a_use_group() {
        use super::calls_module;
        assert!(calls_module(
            "shared_memory::segment::create()",
            "shared_memory",
            "segment"
        ));
        assert!(calls_module(
            "use crate::segment;",
            "shared_memory",
            "segment"
        ));
        assert!(calls_module("super::segment::Segment", "x", "segment"));
        assert!(calls_module(
            "use crate::{config, reaper::group};",
            "x",
            "reaper"
        ));
        assert!(!calls_module(
            "shared_memory::segments::x",
            "shared_memory",
            "segment"
        ));
        assert!(!calls_module("my_crate::segment::x", "crate", "segment"));
        assert!(!calls_module(
            "// a segment of memory",
            "shared_memory",
            "segment"
        ));
    }

    #[test]
    fn a_crate_is_named_by_a_path_a_macro_or_a_use() {
        use super::names_crate;
        assert!(names_crate("let x = nix::unistd::getpid();", "nix"));
        assert!(names_crate("use tempfile;", "tempfile"));
        assert!(names_crate("use assert_cmd::Command;", "assert_cmd"));
        assert!(names_crate(
            "let c = assert_cmd::cargo::cargo_bin!(\"x\");",
            "assert_cmd"
        ));
        assert!(names_crate("    anyhow!(\"bad\")", "anyhow"));
        assert!(!names_crate("let onix = 1; // nix", "nix"));
        assert!(!names_crate("std::nix::x", "nix"));
        assert!(!names_crate("predicates_core::x", "predicates"));
    }

    use super::*;

    #[test]
    fn a_binary_name_used_by_two_topics_is_found() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        std::fs::write(
            root.join("curriculum.toml"),
            "[[topic]]\nname = \"a\"\ndir = \"01-a\"\ntitle = \"A\"\nweek = 1\ndays = \"1\"\n\n\
             [[topic]]\nname = \"b\"\ndir = \"02-b\"\ntitle = \"B\"\nweek = 1\ndays = \"2\"\n",
        )
        .expect("write curriculum.toml");
        for (dir, manifest) in [
            ("01-a", "[package]\nname = \"a\"\n"),
            (
                "02-b",
                "[package]\nname = \"b\"\n[[bin]]\nname = \"b-demo\"\npath = \"src/bin/demo.rs\"\n",
            ),
        ] {
            let bin = root.join("crates").join(dir).join("src/bin");
            std::fs::create_dir_all(&bin).expect("create src/bin");
            std::fs::write(root.join("crates").join(dir).join("Cargo.toml"), manifest)
                .expect("write Cargo.toml");
            std::fs::write(bin.join("server.rs"), "//! x\nfn main() {}\n").expect("write bin");
            std::fs::write(bin.join("demo.rs"), "//! x\nfn main() {}\n").expect("write bin");
        }
        let curriculum = Curriculum::load(root).expect("the curriculum loads");
        let mut misses = Vec::new();
        check_binary_names(root, &curriculum, &mut misses);
        // `server` twice; `demo` only once, since crate b renames its demo to `b-demo`.
        assert_eq!(misses.len(), 1, "got {misses:?}");
        assert!(misses[0].contains("`server`"), "got {misses:?}");
    }

    #[test]
    fn links_and_their_anchors_are_read_from_markdown() {
        let text = "See [a](x.md#one) and [b](https://e.org).\n```\n[no](code.md)\n```\n";
        assert_eq!(link_targets(text), ["x.md#one", "https://e.org"]);
        let anchors = heading_anchors("# Top\n## Exercise: pipes! {#two_stage}\n### `2>&1` here\n");
        assert!(anchors.contains(&"top".to_owned()), "{anchors:?}");
        assert!(anchors.contains(&"two_stage".to_owned()), "{anchors:?}");
        assert!(anchors.contains(&"21-here".to_owned()), "{anchors:?}");
    }

    #[test]
    fn a_link_into_a_translation_must_name_a_chapter() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("docs/src")).expect("create docs/src");
        std::fs::create_dir_all(root.join("docs/po")).expect("create docs/po");
        std::fs::write(
            root.join("docs/po/translations.toml"),
            "[zh-CN]\ncomplete = false\n",
        )
        .expect("write translations.toml");
        std::fs::write(
            root.join("docs/src/introduction.md"),
            "# Introduction\n\n[中文](zh-CN/introduction.html), [x](zh-CN/gone.html), \
             [y](fr/introduction.html)\n",
        )
        .expect("write introduction.md");
        let mut misses = Vec::new();
        check_doc_links(root, &mut misses);
        assert_eq!(misses.len(), 2, "got {misses:?}");
        assert!(misses[0].contains("zh-CN/gone.html"), "got {misses:?}");
        assert!(misses[1].contains("points at no file"), "got {misses:?}");
    }

    #[test]
    fn a_file_without_a_module_doc_is_found() {
        let mut misses = Vec::new();
        check_source("c.rs", "\n// a plain comment\nfn main() {}\n", &mut misses);
        assert_eq!(misses.len(), 1, "got {misses:?}");
    }
}
