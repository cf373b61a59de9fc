//! The runner's languages: English, and Simplified Chinese (zh-CN).
//!
//! **Which language.** `PROCLINGS_LANG` (`zh-CN` or `en`) decides when it is set and not empty;
//! otherwise the locale does, in POSIX precedence: the first of `LC_ALL`, `LC_MESSAGES` and
//! `LANG` that is set and not empty. `zh_CN.UTF-8`, `zh_CN`, `zh-CN`, `zh_SG` and a bare `zh`
//! choose Chinese; `zh_TW`, `zh_HK` and `zh_MO` choose English for now, since there is no
//! Traditional Chinese table yet; `C`, `POSIX`, no locale at all and every other language choose
//! English. ([`choose`] is that rule as a pure function.)
//!
//! **The runner's own words** come from one keyed table per language in this file, [`EN`] and
//! [`ZH_CN`]. Code asks for a text with `tr!("key")` (a `&'static str`), or `tr!("key", name =
//! value, ...)` (a `String` with each `{name}` of the text replaced; `tr!("key", name)` is
//! short for `name = name`). A key missing from the Chinese table falls back to English. A
//! crate such as fluent or gettext-rs would do the same with more: the runner must build
//! offline, on a fresh clone, before anything else, and it needs a few hundred plain strings with
//! named placeholders, no plurals engine and no dependency. The unit tests and tidy
//! ([`table_problems`]) check that every key is in every table, that no key is unused, that a
//! key's placeholders are the same in every language, and that each `tr!` call gives exactly the
//! placeholders its text has.
//!
//! What is translated is what a learner reads in the normal loop: `status`, `list`, `check`'s
//! verdicts and footers, `watch`, `hint`, `explain`, `reset` and `solution` (prompts included),
//! `doctor`, and the usage text. What the sandbox crate says of its containment (why a
//! namespace is on or off, how the task cap is enforced) stays English: it is composed there
//! from probes and error messages. The verbs for authors and maintainers (`verify`, `mistakes`,
//! `sync`, `tidy`, `bench`, `new`, `new-topic`, `classroom`, `pristine`) stay English, as do
//! error messages from deep inside the runner (`error: cannot read ...`) and everything the
//! exercises' tests print themselves.
//!
//! **The course's words** — each topic's and exercise's `title` and each exercise's `hints` in
//! curriculum.toml, the `what` of each known mistake in `crates/*/mistakes/*.toml` (which `hint`
//! shows), and each diagnosis branch name and entry's `title`, `heading`, `see`, `confirm` and
//! `fix` in docs/diagnosis.toml — are translated in a gettext PO file, `docs/po/course/zh-CN.po`, which
//! translators fill with the usual tools. `cargo xtask sync` writes its template
//! `docs/po/course/messages.pot` from the two TOML files ([`course_template`]) and merges it
//! into each PO with `msgmerge`; the runner reads the PO at run time ([`course`], with the one PO
//! parser, `crate::po`) and shows the English text of any message it has no translation for
//! (untranslated or fuzzy). A diagnosis
//! entry's `commands` are shell lines and stay as they are, except a trailing comment (the text
//! after `  # `, two spaces then `#`), which is a message of its own: the learner copies the
//! command and reads the comment. Errno names, exercise ids and paths are never translated.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::Path;
use std::sync::OnceLock;

/// A language the runner speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English, the language the course is written in.
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Lang {
    /// Its code, as in `PROCLINGS_LANG` and the PO file's name.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }
}

/// The language for these environment values (each `None` when unset): `PROCLINGS_LANG` when
/// it is not empty, otherwise the first of `LC_ALL`, `LC_MESSAGES` and `LANG` that is not empty.
pub fn choose(
    proclings_lang: Option<&str>,
    lc_all: Option<&str>,
    lc_messages: Option<&str>,
    lang: Option<&str>,
) -> Lang {
    [proclings_lang, lc_all, lc_messages, lang]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
        .map_or(Lang::En, of_locale)
}

/// The language of a locale name or language tag: `zh_CN.UTF-8`, `zh-CN`, `zh_SG`, `zh` (and
/// `zh-Hans`) are Chinese; everything else, `zh_TW` and `zh_HK` included, is English.
fn of_locale(locale: &str) -> Lang {
    let name = locale.split(['.', '@']).next().unwrap_or("").to_lowercase();
    let mut parts = name.split(['_', '-']);
    let language = parts.next().unwrap_or("");
    let region = parts.next().unwrap_or("");
    match (language, region) {
        ("zh", "" | "cn" | "sg" | "hans") => Lang::ZhCn,
        _ => Lang::En,
    }
}

/// The language of this run, from the environment (see the module doc).
pub fn lang() -> Lang {
    static LANG: OnceLock<Lang> = OnceLock::new();
    *LANG.get_or_init(|| {
        let var = |name: &str| std::env::var(name).ok();
        choose(
            var("PROCLINGS_LANG").as_deref(),
            var("LC_ALL").as_deref(),
            var("LC_MESSAGES").as_deref(),
            var("LANG").as_deref(),
        )
    })
}

/// The runner's text for `key` in this run's language (English when the key has no
/// translation; the key itself when it has no English either, which tidy rules out).
pub fn text(key: &'static str) -> &'static str {
    let find = |table: &[(&'static str, &'static str)]| {
        table.iter().find(|(k, _)| *k == key).map(|&(_, t)| t)
    };
    let table = match lang() {
        Lang::En => EN,
        Lang::ZhCn => ZH_CN,
    };
    find(table).or_else(|| find(EN)).unwrap_or(key)
}

/// `template` with each `{name}` replaced by its value in `values`; a `{name}` without a value
/// is left as it is.
pub fn fill(template: &str, values: &[(&str, &dyn Display)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name = after.split('}').next().filter(|n| after.len() > n.len());
        match name.and_then(|n| values.iter().find(|(k, _)| *k == n)) {
            Some((name, value)) => {
                out.push_str(&value.to_string());
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// How many terminal columns `text` takes: two for a CJK character or a full-width form, one
/// for anything else (close enough for the runner's own words).
pub fn width(text: &str) -> usize {
    text.chars()
        .map(|c| if u32::from(c) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// The spaces that pad `text` to `columns` terminal columns (at least `min`).
pub fn pad(text: &str, columns: usize, min: usize) -> String {
    " ".repeat(columns.saturating_sub(width(text)).max(min))
}

/// The placeholders (`{name}`, a name of lower-case letters, digits and `_`) of a text.
pub fn placeholders(text: &str) -> BTreeSet<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|piece| piece.split_once('}').map(|(name, _)| name))
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// The runner's text for a key: `tr!("key")` is a `&'static str`; `tr!("key", name = value,
/// other)` a `String` with `{name}` and `{other}` filled in (`other` is short for `other =
/// other`).
macro_rules! tr {
    (@value $name:ident) => {
        $name
    };
    (@value $name:ident $value:expr) => {
        $value
    };
    ($key:literal) => {
        $crate::i18n::text($key)
    };
    ($key:literal, $($name:ident $(= $value:expr)?),+ $(,)?) => {
        $crate::i18n::fill(
            $crate::i18n::text($key),
            &[$((
                stringify!($name),
                &$crate::i18n::tr!(@value $name $($value)?) as &dyn ::std::fmt::Display,
            )),+],
        )
    };
}
pub(crate) use tr;

/// Where the course's translations live, relative to the root.
pub const COURSE_PO_DIR: &str = "docs/po/course";
/// The course's PO template, relative to the root.
pub const COURSE_TEMPLATE: &str = "docs/po/course/messages.pot";
/// The file listing the languages whose course translation is complete (one code a line, `#`
/// comments): tidy fails when one of them has an untranslated or fuzzy message.
pub const COURSE_COMPLETE: &str = "docs/po/course/COMPLETE";
/// The languages the course can be translated into, each with `docs/po/course/CODE.po`.
pub const COURSE_LANGS: &[Lang] = &[Lang::ZhCn];

/// The course's translations for this run's language: English text to translated text.
fn catalog() -> &'static BTreeMap<String, String> {
    static CATALOG: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    CATALOG.get_or_init(|| match lang() {
        Lang::En => BTreeMap::new(),
        lang => load_catalog(&crate::manifest::root(), lang),
    })
}

/// The translated messages of a language's course PO (none when it cannot be read: the
/// course is then shown in English).
fn load_catalog(root: &Path, lang: Lang) -> BTreeMap<String, String> {
    let path = root.join(COURSE_PO_DIR).join(format!("{}.po", lang.code()));
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    crate::po::parse(&text)
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.msgctxt.is_none() && !m.msgid.is_empty())
        .filter_map(|m| Some((m.msgid.clone(), m.translation()?.to_owned())))
        .collect()
}

/// A text of the course (a title, a hint, a diagnosis field) in this run's language: its
/// translation from the course PO, or the English text itself when there is none.
pub fn course(english: &str) -> &str {
    catalog().get(english).map_or(english, String::as_str)
}

/// A diagnosis command split into the shell line and its trailing comment (the text after the
/// first `  # `), which is translated; `(command, None)` when it has none.
pub fn split_comment(command: &str) -> (&str, Option<&str>) {
    let Some(at) = command.find("  # ") else {
        return (command, None);
    };
    let hash = at + 2;
    match command[hash + 1..].trim() {
        "" => (command, None),
        comment => (&command[..hash], Some(comment)),
    }
}

/// A diagnosis command as the learner sees it: the shell line unchanged, its comment translated.
pub fn course_command(command: &str) -> String {
    match split_comment(command) {
        (code, Some(comment)) => format!("{code}# {}", course(comment)),
        (code, None) => code.to_owned(),
    }
}

/// Every message of the course, in file order, each with its `#:` references: topic and
/// exercise titles and hints from curriculum.toml (each exercise's known mistakes after its
/// hints), then the diagnosis tree's branch names and entries' fields.
fn course_messages(root: &Path) -> Result<Vec<(String, Vec<String>)>, String> {
    let curriculum = crate::manifest::Curriculum::load(root).map_err(|e| format!("{e:#}"))?;
    let tree = crate::explain::Tree::load(root).map_err(|e| format!("{e:#}"))?;
    let mut messages: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |text: &str, reference: String| {
        if text.trim().is_empty() {
            return;
        }
        match messages.iter_mut().find(|(id, _)| id == text) {
            Some((_, refs)) => refs.push(reference),
            None => messages.push((text.to_owned(), vec![reference])),
        }
    };
    for t in &curriculum.topics {
        add(&t.title, format!("curriculum.toml:{}:title", t.name));
    }
    for e in &curriculum.exercises {
        add(&e.title, format!("curriculum.toml:{}:title", e.id));
        for (i, hint) in e.hints.iter().enumerate() {
            add(hint, format!("curriculum.toml:{}:hint{}", e.id, i + 1));
        }
        // The known mistakes `hint` shows from the second hint on, beside the exercise's hints.
        let mistakes =
            crate::mistakes::load(root, &curriculum.paths(e)).map_err(|e| format!("{e:#}"))?;
        for m in &mistakes {
            add(m.what.trim(), format!("mistakes:{}:{}", e.id, m.slug));
        }
    }
    let mut branches: Vec<&str> = Vec::new();
    for e in &tree.entries {
        // Each branch name once, before its first entry (a PO reference has no spaces).
        if !branches.contains(&e.branch.as_str()) {
            branches.push(&e.branch);
            add(
                &e.branch,
                format!("diagnosis.toml:branch:{}", e.branch.replace(' ', "-")),
            );
        }
        let at = |field: &str| format!("diagnosis.toml:{}:{field}", e.id);
        add(&e.title, at("title"));
        add(&e.heading, at("heading"));
        add(&e.see, at("see"));
        add(&e.confirm, at("confirm"));
        for (i, command) in e.commands.iter().enumerate() {
            if let (_, Some(comment)) = split_comment(command) {
                add(comment, at(&format!("command{}", i + 1)));
            }
        }
        add(&e.fix, at("fix"));
    }
    Ok(messages)
}

/// The course's PO template as `sync` writes it.
pub fn course_template(root: &Path) -> Result<String, String> {
    let header = "The course's text for translators: topic and exercise titles and hints from \
                  curriculum.toml,\nthe known mistakes' `what` from crates/*/mistakes/*.toml, \
                  and the diagnosis tree from docs/diagnosis.toml.\n\
                  `cargo xtask sync` writes this file; do not edit it.\n\
                  Translations: docs/po/course/LANG.po (CONTRIBUTING.md says how).";
    Ok(crate::po::template(header, &course_messages(root)?))
}

/// Merges the template into each language's PO with `msgmerge --update`; returns the POs it
/// merged, or `Err` with why not (msgmerge not installed).
pub fn merge_course_po(root: &Path) -> Result<Vec<String>, String> {
    let template = root.join(COURSE_TEMPLATE);
    let mut merged = Vec::new();
    for lang in COURSE_LANGS {
        let rel = format!("{COURSE_PO_DIR}/{}.po", lang.code());
        if !root.join(&rel).is_file() {
            continue;
        }
        let status = std::process::Command::new("msgmerge")
            .args(["--quiet", "--update", "--backup=none"])
            .arg(root.join(&rel))
            .arg(&template)
            .status();
        match status {
            Ok(s) if s.success() => merged.push(rel),
            Ok(s) => return Err(format!("msgmerge failed on {rel} ({s})")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("msgmerge is not installed (the gettext package)".to_owned());
            }
            Err(e) => return Err(format!("cannot run msgmerge: {e}")),
        }
    }
    Ok(merged)
}

/// The state of each course translation: misses (a PO that is missing or cannot be read, or is
/// incomplete while COMPLETE lists its language) and notes (how much is left to translate).
pub fn course_report(root: &Path) -> (Vec<String>, Vec<String>) {
    let (mut misses, mut notes) = (Vec::new(), Vec::new());
    if !root.join(COURSE_PO_DIR).is_dir() {
        return (misses, notes);
    }
    let Ok(messages) = course_messages(root) else {
        return (misses, notes); // tidy names an unreadable curriculum or tree already
    };
    let complete: Vec<String> = std::fs::read_to_string(root.join(COURSE_COMPLETE))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    for lang in COURSE_LANGS {
        let code = lang.code();
        let rel = format!("{COURSE_PO_DIR}/{code}.po");
        let entries = match std::fs::read_to_string(root.join(&rel)) {
            Err(_) => {
                misses.push(format!(
                    "{rel}: missing; create it with `msginit --no-translator -l {} -i \
                     messages.pot -o {code}.po` in {COURSE_PO_DIR}",
                    code.replace('-', "_")
                ));
                continue;
            }
            Ok(text) => match crate::po::parse(&text) {
                Ok(entries) => entries,
                Err(e) => {
                    misses.push(format!("{rel}: not a valid PO file: {e}"));
                    continue;
                }
            },
        };
        let found = |id: &str| {
            entries
                .iter()
                .find(|m| !m.obsolete && m.msgctxt.is_none() && m.msgid == id)
        };
        let fuzzy = messages
            .iter()
            .filter(|(id, _)| found(id).is_some_and(|m| m.fuzzy && !m.text().is_empty()))
            .count();
        let untranslated = messages
            .iter()
            .filter(|(id, _)| found(id).is_none_or(|m| m.text().is_empty()))
            .count();
        let left = match fuzzy {
            0 => format!("{untranslated} untranslated"),
            _ => format!("{untranslated} untranslated, {fuzzy} fuzzy"),
        };
        if untranslated + fuzzy == 0 {
            notes.push(format!("course {code}: complete"));
        } else if complete.iter().any(|c| c == code) {
            misses.push(format!(
                "{rel}: {left}, but {COURSE_COMPLETE} says {code} is complete: translate them \
                 (or take {code} out of it)"
            ));
        } else {
            notes.push(format!("course {code}: {left} (translation in progress)"));
        }
    }
    (misses, notes)
}

/// What is wrong with the runner's tables: a key missing from a language, a key listed twice,
/// placeholders that differ between languages, a key no code uses, and a `tr!` call (in the
/// runner's sources under `root/xtask/src`) naming an unknown key or giving other placeholders
/// than its text has. Nothing when the sources are not there (a course without the runner).
pub fn table_problems(root: &Path) -> Vec<String> {
    let src = root.join("xtask/src");
    if !src.join("i18n.rs").is_file() {
        return Vec::new();
    }
    let mut problems = Vec::new();
    let tables = [(Lang::En, EN), (Lang::ZhCn, ZH_CN)];
    for (lang, table) in tables {
        let mut seen = BTreeSet::new();
        for (key, _) in table {
            if !seen.insert(*key) {
                problems.push(format!(
                    "xtask/src/i18n.rs: key `{key}` twice in {}",
                    lang.code()
                ));
            }
        }
        for (other_lang, other) in tables {
            for (key, text) in other {
                match table.iter().find(|(k, _)| k == key) {
                    None => problems.push(format!(
                        "xtask/src/i18n.rs: key `{key}` of {} is not in {}",
                        other_lang.code(),
                        lang.code()
                    )),
                    Some((_, mine))
                        if lang == Lang::En && placeholders(mine) != placeholders(text) =>
                    {
                        problems.push(format!(
                            "xtask/src/i18n.rs: key `{key}` has placeholders {:?} in en but {:?} in {}",
                            placeholders(mine),
                            placeholders(text),
                            other_lang.code()
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let mut used = BTreeSet::new();
    for file in crate::tidy::files_under(&src) {
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let Ok(source) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (key, names) in tr_calls(&source) {
            used.insert(key.clone());
            match EN.iter().find(|(k, _)| *k == key) {
                None => problems.push(format!("{rel}: `tr!` names `{key}`, which no table has")),
                Some((_, text)) => {
                    let wanted: BTreeSet<&str> = placeholders(text);
                    let given: BTreeSet<&str> = names.iter().map(String::as_str).collect();
                    if wanted != given {
                        problems.push(format!(
                            "{rel}: `tr!(\"{key}\")` gives {given:?}, its text has {wanted:?}"
                        ));
                    }
                }
            }
        }
    }
    for (key, _) in EN {
        if !used.contains(*key) {
            problems.push(format!(
                "xtask/src/i18n.rs: key `{key}` is used by no `tr!`"
            ));
        }
    }
    problems
}

/// The `tr!` calls of a source file outside comments: each key with its placeholder names.
fn tr_calls(source: &str) -> Vec<(String, Vec<String>)> {
    let mut calls = Vec::new();
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for (at, _) in code.match_indices("tr!(") {
        if code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let args = top_level_args(&code[at + 4..]);
        let Some(key) = args
            .first()
            .and_then(|k| k.strip_prefix('"')?.strip_suffix('"'))
        else {
            continue; // the macro's own rules
        };
        let names = args[1..]
            .iter()
            .map(|a| a.split('=').next().unwrap_or("").trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        calls.push((key.to_owned(), names));
    }
    calls
}

/// The comma-separated arguments of a macro call, `text` starting just after its `(`: split at
/// commas outside brackets and string literals, up to the matching `)`.
fn top_level_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                current.push(c);
                while let Some(s) = chars.next() {
                    current.push(s);
                    match s {
                        '\\' => current.extend(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                current.push(c);
            }
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => args.push(std::mem::take(&mut current).trim().to_owned()),
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        args.push(current.trim().to_owned());
    }
    args
}

/// The English table: every key the runner uses, with its text.
#[rustfmt::skip]
pub const EN: &[(&str, &str)] = &[
    ("main.usage", "usage: cargo xtask [VERB] [ARGS]\n\nverbs:\n  status            where you are and the exact next command (the default)\n  list [FILTER]     the curriculum with done/pending (--pending, --done, --topic T, --week N)\n  check [ID]        build and run an exercise's tests (default: the current exercise)\n  watch [ID]        check the current exercise (or ID) again on every save, moving on when it\n                    passes (--poll: for network and WSL drives)\n  hint [ID]         the next hint for an exercise (default: the current exercise)\n  reset ID          restore an exercise's original stub and mark it pending (--yes: no question)\n  solution ID       the reference solution (--diff: compared with yours; --yes: no question)\n  pristine          which exercise files differ from the originals\n  new TOPIC/NAME    authors: scaffold an exercise (--title T, --week W, --day D)\n  new-topic NN-NAME authors: scaffold a topic crate and chapter (--title T --week W, --days D)\n  tidy              maintainers: the repository's conventions, and what is left to write\n  sync              maintainers: rewrite every generated file (pristine copies, tables, diagnosis)\n  explain TOPIC     what an error or a symptom means and what to do about it\n  doctor            checks this machine for what the course needs\n  classroom         teachers: write a GitHub Classroom autograding workflow (--stdout, --force)\n  mistakes [ID]     maintainers: prove the tests reject every known mistake (--topic T, --list)\n  book              builds the book into target/book and says where (--lang zh-CN: the Chinese\n                    translation; --open: opens it in the browser)\n  verify            maintainers and CI: tidy, fmt, clippy, solutions pass, stubs fail, demos, book,\n                    known mistakes\n  bench             runs the benchmarks and prints the comparison table\n\nAn ID looks like `command-basics/spawn_and_wait`; `cargo xtask list` shows them all."),
    ("main.unknown_verb", "error: unknown verb `{verb}`\n\n{usage}"),
    ("main.usage_error", "error: {message}\n\n{usage}"),
    ("hint.usage", "`hint` takes at most one exercise id"),
    ("hint.none", "{id} has no hints; its chapter section is {section}"),
    ("hint.level", "hint {level} of {total}"),
    ("hint.for", "for {id}"),
    ("hint.mistake", "a common mistake here:"),
    ("hint.last_again", "(that was the last hint, shown again; the chapter section {section} goes further)"),
    ("hint.again", "(run `cargo xtask hint {id}` again for the next one)"),
    ("solution.unknown_option", "unknown option for `solution`: `{option}`"),
    ("solution.one_id", "`solution` takes one exercise id"),
    ("solution.needs_id", "`solution` needs an exercise id, such as `cargo xtask solution ID`"),
    ("solution.ask", "{id} is not done yet. Trying first is how it sticks (`cargo xtask hint {id}` helps). Show the solution anyway?"),
    ("solution.not_shown", "not shown"),
    ("solution.no_terminal", "error: {id} is not done yet, and there is no terminal to ask whether to show its solution anyway; run `cargo xtask solution {id}{diff} --yes` to see it"),
    ("solution.of", "solution of"),
    ("solution.same", "{stub} is the same as the reference solution {solution}"),
    ("solution.diff_yours", "--- yours      {path}"),
    ("solution.diff_reference", "+++ reference  {path}"),
    ("solution.done", "{id} is done:"),
    ("solution.every_hint", "every hint, and the reference solution to compare with"),
    ("solution.hint_level", "hint {level} of {total}:"),
    ("solution.path", "solution  {path}"),
    ("solution.compare", "(cargo xtask solution {id} --diff compares it with yours)"),
    ("reset.yes_no", "[y/N]"),
    ("reset.unknown_option", "unknown option for `reset`: `{option}`"),
    ("reset.one_id", "`reset` takes one exercise id"),
    ("reset.needs_id", "`reset` needs the id of the exercise to restore, such as `cargo xtask reset ID`"),
    ("reset.no_original", "error: there is no original of {path} to restore ({copy} is missing); maintainers create it with `cargo xtask sync`"),
    ("reset.ok", "ok"),
    ("reset.as_shipped", "{path} is already as shipped"),
    ("reset.and", " and "),
    ("reset.ask", "Reset {files} to the original? Your changes will be replaced (a copy is kept)."),
    ("reset.unchanged", "nothing was changed"),
    ("reset.no_terminal", "error: `reset` would overwrite {files} and there is no terminal to ask on; run `cargo xtask reset {id} --yes` to reset without asking"),
    ("reset.restored", "restored"),
    ("reset.kept", "(your version is kept at {path})"),
    ("reset.pending_again", "{id} is pending again"),
    ("status.note", "note:"),
    ("status.needs", "{name} needs {need}: do that first, {command}"),
    ("status.current", "current:"),
    ("status.week_day", "(week {week}, day {day})"),
    ("status.edit", "edit"),
    ("status.read", "read"),
    ("status.next", "next"),
    ("status.stuck", "(stuck? cargo xtask hint {id})"),
    ("status.no_arguments", "`status` takes no arguments (got `{extra}`)"),
    ("status.empty", "proclings: the curriculum has no exercises yet."),
    ("status.done_of", "{done} of {total} exercises done"),
    ("status.week", "week {week}"),
    ("status.all_done", "Every exercise is done. Well done! `cargo xtask list` shows them all."),
    ("list.topic_needs_name", "`--topic` needs a topic name"),
    ("list.week_needs_number", "`--week` needs a number"),
    ("list.unknown_option", "unknown option for `list`: `{option}`"),
    ("list.no_topic", "error: no topic named `{topic}`; the topics are: {topics}"),
    ("list.topic", "{title} ({name}): week {week}, days {days}"),
    ("list.no_exercises", "(no exercises yet)"),
    ("list.done", "[done]"),
    ("list.next", "[next]"),
    ("list.pending", "[    ]"),
    ("list.needs_first", "(needs {needs} first)"),
    ("check.unknown_option", "unknown option `{option}`"),
    ("check.no_exercise", "error: there is no exercise `{id}`"),
    ("check.or", " or "),
    ("check.no_exercise_did_you_mean", "error: there is no exercise `{id}`; did you mean {close}?"),
    ("check.list_shows_ids", "`cargo xtask list` shows every exercise id"),
    ("check.all_done_name_one", "Every exercise is done. Name one to check it again: cargo xtask check ID"),
    ("check.explain_covers", "  the output mentions something `explain` covers:"),
    ("check.topic_needs_topic", "`--topic` needs a topic"),
    ("check.one_id", "`check` takes at most one exercise id"),
    ("check.id_and_all", "an exercise id and `--all` (or a selection) exclude each other"),
    ("check.no_topic", "error: no topic named `{topic}`; `cargo xtask list` shows them"),
    ("check.nothing_pending", "Nothing to check: no exercise is pending here (`--pending`: the others)."),
    ("check.nothing_done", "Nothing to check: no exercise is done here (`--pending`: the others)."),
    ("check.interrupted", "interrupted: the tests and every process they started were stopped"),
    ("check.last_exercise", "That was the last exercise of the course: every one is done."),
    ("check.head_id", "id"),
    ("check.head_verdict", "verdict"),
    ("check.head_time", "time"),
    ("check.head_details", "details"),
    ("check.verdict_pass", "pass"),
    ("check.verdict_fail", "fail"),
    ("check.verdict_timeout", "timeout"),
    ("check.verdict_leak", "leak"),
    ("check.verdict_compile_error", "compile-error"),
    ("check.was_done", "{summary} (was done: it stays done; check it for the details)"),
    ("check.pass", "PASS"),
    ("check.fail", "FAIL"),
    ("check.all_passed", "all {n} passed"),
    ("check.some_failed", "{failed} of {n} did not pass; `cargo xtask check ID` shows why"),
    ("check.checking", "checking"),
    ("check.does_not_compile", "does not compile yet"),
    ("check.fix_errors_above", "{id} does not compile yet: fix the errors above ({stub})"),
    ("check.running", "running {n} test(s), time limit {secs} s"),
    ("check.every_test_passed", "every test passed ({secs} s)"),
    ("check.timed_out", "timed out after {secs} s"),
    ("check.left_behind", "the tests passed but left things behind: {leaks}"),
    ("check.tests_failed", "{failed} of {of} test(s) failed"),
    ("check.binary_ended", "the test binary ended with {status}"),
    ("check.marked_done", "{id}: {summary}; marked done"),
    ("check.stuck", "stuck? {hint}   read {section}"),
    ("check.test_ok", "ok"),
    ("check.test_failed", "FAILED"),
    ("check.test_ignored", "ignored"),
    ("check.test_timeout", "TIMEOUT"),
    ("check.still_running", "(still running at the limit)"),
    ("check.test_no_result", "no result"),
    ("check.same_way", "---- {n} tests failed the same way: {names} ----"),
    ("check.spawn_loop_help", "Every process and thread it started counts; at the cap, fork, spawn and thread creation fail with EAGAIN. Look for a loop that starts children without waiting for them, or a retry that spawns again on every error. `cargo xtask explain EAGAIN`."),
    ("check.timed_out_killed", "{id}: timed out after {secs} s; the test binary's process group got SIGTERM, then SIGKILL"),
    ("check.running_at_limit", "processes still running at the limit:"),
    ("check.and_more", "... and {n} more"),
    ("check.output_so_far", "output so far:"),
    ("check.binary_output", "the test binary ended with {status}; its output:"),
    ("check.spawn_loop", "your code started more than {cap} processes (a spawn loop?); the check stopped it"),
    ("check.leak", "leak:"),
    ("check.leaked_processes", "Processes were still running after the tests ended. Every child must be waited for (or killed and then waited for) before the code that started it returns; a child that outlives its parent becomes an orphan, one never waited for stays a zombie. See {chapter}, or run `cargo xtask explain leftover-process`."),
    ("check.leaked_ipc", "Named IPC objects outlive the processes that create them: unlink every shared memory segment, semaphore and message queue when done. See {chapter}, or run `cargo xtask explain shm-leak`."),
    ("check.earlier_lines", "({n} earlier lines not shown)"),
    ("check.topic", "{title} ({name})"),
    ("check.leak_separator", "; "),
    ("check.leak_process", "process still running: {process} (killed)"),
    ("check.leak_shm", "/dev/shm/{name} was not removed (removed now)"),
    ("check.leak_mqueue", "/dev/mqueue/{name} was not removed (removed now)"),
    ("check.status_exited", "exit code {code}"),
    ("check.status_signaled", "killed by signal {signal} ({name})"),
    ("check.status_unknown", "unknown status"),
    ("watch.usage", "`watch` takes an exercise id and `--poll` (got `{other}`)"),
    ("watch.one_id", "`watch` takes one exercise id (got `{other}` too)"),
    ("watch.nothing", "Every exercise is done: there is nothing to watch. `cargo xtask list` shows them all."),
    ("watch.watching_for_saves", "watching for saves ({how})"),
    ("watch.interrupted", "interrupted: the watch stops"),
    ("watch.moving_on", "moving on to"),
    ("watch.all_done", "Every exercise is done. Well done! The watch stops."),
    ("watch.stops", "the watch stops"),
    ("watch.unknown_key", "`{key}` does nothing here: h hint, l list, r re-run, q quit"),
    ("watch.end_of_input", "end of input: the watch stops"),
    ("watch.watcher_error", "warning: the file watcher: {error}"),
    ("watch.keys", "h hint, l list, r re-run, q quit"),
    ("watch.lines", "type h, l, r or q and Enter: hint, list, re-run, quit"),
    ("watch.controls", "({controls})"),
    ("watch.watching", "watching"),
    ("watch.save_to_check", "{file}: save it to check again"),
    ("watch.file_events", "file events"),
    ("watch.no_file_events", "note: file events are not available here ({error}); polling {dir} instead"),
    ("watch.remote", "note: {dir} is on {kind}, which may not deliver file events; polling it instead"),
    ("watch.polling", "polling"),
    ("watch.fs_9p", "a 9p file system (WSL's Windows drives)"),
    ("watch.fs_fuse", "a FUSE file system"),
    ("explain.errno", "errno:"),
    ("explain.see", "you see:"),
    ("explain.confirm", "confirm:"),
    ("explain.fix", "fix:"),
    ("explain.read", "read:"),
    ("explain.read_both", "{chapter} (and {section})"),
    ("explain.branch", "({branch})"),
    ("explain.usage", "usage: cargo xtask explain [ID | ERRNO | NUMBER | SYMPTOM WORDS]\n\nWith no argument, lists every entry of the diagnosis tree.\nExamples: cargo xtask explain EPIPE; cargo xtask explain 13; cargo xtask explain broken pipe; cargo xtask explain zombie"),
    ("explain.tree", "The diagnosis tree: `cargo xtask explain ID` shows one entry."),
    ("explain.no_match", "error: nothing in the diagnosis tree matches `{query}`\ntry an errno name (EPIPE), its number (32), words of the message (broken pipe), or `cargo xtask explain` for the list"),
    ("fetch.fetching", "fetching every crate the course needs, once, so that it works offline from now on (cargo fetch):"),
    ("fetch.failed", "warning: `cargo fetch` ended with {status}: the course works while online, and the next run tries again (`cargo xtask doctor` says what is missing)"),
    ("fetch.cannot_run", "warning: cannot run cargo fetch ({error})"),
    ("fetch.offline_ok", "every crate the course needs is on disk: it works offline"),
    ("fetch.offline_missing", "not every crate is on disk ({first}): run `cargo fetch` once while online, then the course works offline"),
    ("fetch.some_missing", "some crates are missing"),
    ("doctor.windows", "Windows has no fork, signals or Unix sockets as this course teaches them: install WSL 2 (wsl --install), clone the course inside it, and run it there"),
    ("doctor.wsl", "Linux under WSL: everything works; keep the course inside the Linux file system (not under /mnt/c), where file watching and permissions behave"),
    ("doctor.linux", "Linux: every exercise can run"),
    ("doctor.other_unix", "a Unix other than Linux: the POSIX exercises work; Linux-only parts (subreaper, /proc, abstract sockets, pidfd, futex) are skipped or fail, as their chapters say"),
    ("doctor.rust_old", "{text} is older than the course's rust-version {version}: run `rustup update`"),
    ("doctor.rust_version_unreadable", "cannot read the version in `{text}`"),
    ("doctor.no_rust", "cannot run `{rustc} --version`: install Rust with rustup"),
    ("doctor.shm_ok", "present and writable (POSIX shared memory works)"),
    ("doctor.shm_fail", "cannot create a file in /dev/shm ({error}): shm_open will fail; on Linux mount it with `mount -t tmpfs tmpfs /dev/shm` (as root)"),
    ("doctor.mqueue_ok", "mounted: message queues work and the runner can list leftover queues"),
    ("doctor.mqueue_not_mounted", "not mounted: message queues still work (mq_open), but the runner cannot list leftover queues after a check; as root: `mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue`"),
    ("doctor.mqueue_not_linux", "not a Linux system: queues are not listed"),
    ("doctor.limit_unreadable", "cannot read the limit"),
    ("doctor.unlimited", "unlimited"),
    ("doctor.soft_hard", "soft {soft} / hard {hard}"),
    ("doctor.limit_low", "{text}: below {want}; {advice}"),
    ("doctor.subreaper_ok", "available: the runner sees and kills orphaned and daemonized leftovers of a check"),
    ("doctor.subreaper_fail", "prctl(PR_SET_CHILD_SUBREAPER) failed ({error}): leftovers that daemonize escape the runner's leak check"),
    ("doctor.subreaper_not_linux", "Linux only: here the runner only sees leftovers still in the run's process group"),
    ("doctor.root", "running as root: root bypasses file permission checks, so permission exercises may behave differently than for a normal user; the tests are written to hold for both"),
    ("doctor.not_root", "uid {euid} (not root)"),
    ("doctor.installed", "installed"),
    ("doctor.on", "on: {how}"),
    ("doctor.turn_on", "; to turn it on: {fix}"),
    ("doctor.off", "off ({how}): checks still run, but a mistake such as kill(-1) or a spawn loop can reach your other processes{fix}"),
    ("doctor.nofile_advice", "some exercises open many pipes and sockets: `ulimit -n 4096`"),
    ("doctor.nproc_advice", "spawning exercises start hundreds of short processes: `ulimit -u 4096`"),
    ("doctor.nextest", "optional, not installed: `cargo install cargo-nextest` runs each test in its own process; `cargo test` works without it"),
    ("doctor.socat", "optional, not installed: one Unix-socket test talks to your server through socat and says it skipped without it (`apt-get install socat`)"),
    ("doctor.nats", "optional, not installed: the work-queue tests (week 9) run a real NATS server and say they skipped without it (`apt-get install nats-server`)"),
    ("doctor.usage", "usage: cargo xtask doctor\n\nChecks that this machine can run the course."),
    ("doctor.no_arguments", "doctor takes no arguments (got `{arg}`)"),
    ("doctor.ok", "ok"),
    ("doctor.note", "note"),
    ("doctor.fail", "FAIL"),
    ("doctor.all_ok", "This machine can run the course."),
    ("doctor.failed", "{failed} check(s) failed: see above."),
    ("doctor.item_platform", "platform"),
    ("doctor.item_rust", "rust"),
    ("doctor.item_user", "user"),
    ("doctor.item_open_files", "open files"),
    ("doctor.item_processes", "processes"),
    ("doctor.item_subreaper", "subreaper"),
    ("doctor.item_offline", "offline"),
    ("doctor.item_pid_namespace", "containment: pid namespace"),
    ("doctor.item_mount_namespace", "containment: mount namespace"),
    ("doctor.item_ipc_namespace", "containment: ipc namespace"),
    ("doctor.item_task_cap", "containment: task cap"),
];

/// The Simplified Chinese table: the same keys, translated.
#[rustfmt::skip]
pub const ZH_CN: &[(&str, &str)] = &[
    ("main.usage", "用法：cargo xtask [子命令] [参数]\n\n子命令：\n  status            你的进度，以及下一步该运行的命令（默认）\n  list [FILTER]     课程的全部练习及完成情况（--pending、--done、--topic T、--week N）\n  check [ID]        构建并运行某个练习的测试（默认：当前练习）\n  watch [ID]        每次保存后重新检查当前练习（或 ID），通过后自动进入下一个\n                    （--poll：用于网络盘和 WSL 的 Windows 盘）\n  hint [ID]         某个练习的下一条提示（默认：当前练习）\n  reset ID          恢复练习原始的桩代码并标记为未完成（--yes：不再询问）\n  solution ID       参考答案（--diff：与你的代码对比；--yes：不再询问）\n  pristine          哪些练习文件与原始版本不同\n  new TOPIC/NAME    作者用：生成一个新练习的骨架（--title T、--week W、--day D）\n  new-topic NN-NAME 作者用：生成一个新主题的 crate 和章节（--title T --week W、--days D）\n  tidy              维护者用：检查仓库约定，以及还有哪些内容待写\n  sync              维护者用：重新生成所有生成文件（原始副本、表格、诊断树）\n  explain TOPIC     某个错误或现象是什么意思，该怎么办\n  doctor            检查本机是否具备本课程所需的环境\n  classroom         教师用：生成 GitHub Classroom 自动评分工作流（--stdout、--force）\n  mistakes [ID]     维护者用：证明测试能拒绝每个已知错误（--topic T、--list）\n  book              把课程书构建到 target/book 并给出位置（--lang zh-CN：中文版；\n                    --open：在浏览器中打开）\n  verify            维护者和 CI 用：tidy、fmt、clippy、参考答案通过、桩代码未通过、演示、\n                    书、已知错误\n  bench             运行基准测试并打印对比表\n\nID 形如 `command-basics/spawn_and_wait`；`cargo xtask list` 会列出全部 ID。"),
    ("main.unknown_verb", "错误：未知的子命令 `{verb}`\n\n{usage}"),
    ("main.usage_error", "错误：{message}\n\n{usage}"),
    ("hint.usage", "`hint` 最多接受一个练习 ID"),
    ("hint.none", "{id} 没有提示；它在章节中的位置是 {section}"),
    ("hint.level", "提示 {level}/{total}"),
    ("hint.for", "（{id}）"),
    ("hint.mistake", "这里常见的错误："),
    ("hint.last_again", "（这是最后一条提示，再次显示；章节 {section} 讲得更深入）"),
    ("hint.again", "（再次运行 `cargo xtask hint {id}` 查看下一条）"),
    ("solution.unknown_option", "`solution` 没有这个选项：`{option}`"),
    ("solution.one_id", "`solution` 只接受一个练习 ID"),
    ("solution.needs_id", "`solution` 需要一个练习 ID，例如 `cargo xtask solution ID`"),
    ("solution.ask", "{id} 还没有完成。自己先试一试才记得牢（`cargo xtask hint {id}` 可以帮你）。仍然要看参考答案吗？"),
    ("solution.not_shown", "没有显示"),
    ("solution.no_terminal", "错误：{id} 还没有完成，而且没有终端可以询问是否仍要显示参考答案；要查看，请运行 `cargo xtask solution {id}{diff} --yes`"),
    ("solution.of", "参考答案："),
    ("solution.same", "{stub} 与参考答案 {solution} 完全相同"),
    ("solution.diff_yours", "--- 你的代码   {path}"),
    ("solution.diff_reference", "+++ 参考答案   {path}"),
    ("solution.done", "{id} 已完成："),
    ("solution.every_hint", "全部提示，以及可供对照的参考答案"),
    ("solution.hint_level", "提示 {level}/{total}："),
    ("solution.path", "参考答案  {path}"),
    ("solution.compare", "（cargo xtask solution {id} --diff 会把它与你的代码对比）"),
    ("reset.yes_no", "[y/N]"),
    ("reset.unknown_option", "`reset` 没有这个选项：`{option}`"),
    ("reset.one_id", "`reset` 只接受一个练习 ID"),
    ("reset.needs_id", "`reset` 需要要恢复的练习 ID，例如 `cargo xtask reset ID`"),
    ("reset.no_original", "错误：{path} 没有可供恢复的原始版本（缺少 {copy}）；维护者可以用 `cargo xtask sync` 生成它"),
    ("reset.ok", "ok"),
    ("reset.as_shipped", "{path} 已经是原始版本"),
    ("reset.and", " 和 "),
    ("reset.ask", "把 {files} 恢复为原始版本吗？你的修改会被替换（会保留一份副本）。"),
    ("reset.unchanged", "没有做任何修改"),
    ("reset.no_terminal", "错误：`reset` 会覆盖 {files}，但没有终端可以询问；运行 `cargo xtask reset {id} --yes` 可不经询问直接恢复"),
    ("reset.restored", "已恢复"),
    ("reset.kept", "（你的版本保存在 {path}）"),
    ("reset.pending_again", "{id} 重新标记为未完成"),
    ("status.note", "注意："),
    ("status.needs", "{name} 依赖 {need}：请先完成它，{command}"),
    ("status.current", "当前练习："),
    ("status.week_day", "（第 {week} 周，第 {day} 天）"),
    ("status.edit", "编辑"),
    ("status.read", "阅读"),
    ("status.next", "下一步"),
    ("status.stuck", "（卡住了？cargo xtask hint {id}）"),
    ("status.no_arguments", "`status` 不接受参数（收到了 `{extra}`）"),
    ("status.empty", "proclings：课程里还没有练习。"),
    ("status.done_of", "已完成 {done}/{total} 个练习"),
    ("status.week", "第 {week} 周"),
    ("status.all_done", "所有练习都已完成，干得好！`cargo xtask list` 会列出全部练习。"),
    ("list.topic_needs_name", "`--topic` 需要一个主题名"),
    ("list.week_needs_number", "`--week` 需要一个数字"),
    ("list.unknown_option", "`list` 没有这个选项：`{option}`"),
    ("list.no_topic", "错误：没有名为 `{topic}` 的主题；现有主题：{topics}"),
    ("list.topic", "{title}（{name}）：第 {week} 周，第 {days} 天"),
    ("list.no_exercises", "（还没有练习）"),
    ("list.done", "[ 完成 ]"),
    ("list.next", "[下一个]"),
    ("list.pending", "[      ]"),
    ("list.needs_first", "（需要先完成 {needs}）"),
    ("check.unknown_option", "未知选项 `{option}`"),
    ("check.no_exercise", "错误：没有练习 `{id}`"),
    ("check.or", " 或 "),
    ("check.no_exercise_did_you_mean", "错误：没有练习 `{id}`；你是想找 {close} 吗？"),
    ("check.list_shows_ids", "`cargo xtask list` 会列出所有练习 ID"),
    ("check.all_done_name_one", "所有练习都已完成。要重新检查某个练习，请指定它：cargo xtask check ID"),
    ("check.explain_covers", "  输出中提到了 `explain` 能解释的问题："),
    ("check.topic_needs_topic", "`--topic` 需要一个主题"),
    ("check.one_id", "`check` 最多接受一个练习 ID"),
    ("check.id_and_all", "练习 ID 与 `--all`（或筛选选项）不能同时使用"),
    ("check.no_topic", "错误：没有名为 `{topic}` 的主题；`cargo xtask list` 会列出所有主题"),
    ("check.nothing_pending", "没有可检查的练习：这里没有未完成的练习（`--pending`：其余的练习）。"),
    ("check.nothing_done", "没有可检查的练习：这里没有已完成的练习（`--pending`：其余的练习）。"),
    ("check.interrupted", "已中断：测试及其启动的所有进程都已停止"),
    ("check.last_exercise", "这是课程的最后一个练习：全部练习都已完成。"),
    ("check.head_id", "ID"),
    ("check.head_verdict", "结果"),
    ("check.head_time", "耗时"),
    ("check.head_details", "详情"),
    ("check.verdict_pass", "通过"),
    ("check.verdict_fail", "未通过"),
    ("check.verdict_timeout", "超时"),
    ("check.verdict_leak", "泄漏"),
    ("check.verdict_compile_error", "编译错误"),
    ("check.was_done", "{summary}（之前已完成：仍保持完成状态；单独检查它可查看详情）"),
    ("check.pass", "通过"),
    ("check.fail", "未通过"),
    ("check.all_passed", "全部 {n} 个都通过了"),
    ("check.some_failed", "{n} 个中有 {failed} 个未通过；`cargo xtask check ID` 会显示原因"),
    ("check.checking", "正在检查"),
    ("check.does_not_compile", "还无法编译"),
    ("check.fix_errors_above", "{id} 还无法编译：请修正上面的错误（{stub}）"),
    ("check.running", "运行 {n} 个测试，时间限制 {secs} 秒"),
    ("check.every_test_passed", "所有测试都通过了（{secs} 秒）"),
    ("check.timed_out", "{secs} 秒后超时"),
    ("check.left_behind", "测试通过了，但留下了残留：{leaks}"),
    ("check.tests_failed", "{of} 个测试中有 {failed} 个未通过"),
    ("check.binary_ended", "测试程序以 {status} 结束"),
    ("check.marked_done", "{id}：{summary}；已标记为完成"),
    ("check.stuck", "卡住了？{hint}   阅读 {section}"),
    ("check.test_ok", "通过"),
    ("check.test_failed", "未通过"),
    ("check.test_ignored", "已忽略"),
    ("check.test_timeout", "超时"),
    ("check.still_running", "（到达时间限制时仍在运行）"),
    ("check.test_no_result", "无结果"),
    ("check.same_way", "---- {n} 个测试以相同方式未通过：{names} ----"),
    ("check.spawn_loop_help", "它启动的每个进程和线程都计入上限；达到上限后，fork、spawn 和创建线程都会以 EAGAIN 失败。检查是否有循环不断启动子进程却不等待它们，或者每次出错都重新 spawn 的重试逻辑。参见 `cargo xtask explain EAGAIN`。"),
    ("check.timed_out_killed", "{id}：{secs} 秒后超时；测试程序的进程组先收到 SIGTERM，然后是 SIGKILL"),
    ("check.running_at_limit", "到达时间限制时仍在运行的进程："),
    ("check.and_more", "……还有 {n} 个"),
    ("check.output_so_far", "目前为止的输出："),
    ("check.binary_output", "测试程序以 {status} 结束；它的输出："),
    ("check.spawn_loop", "你的代码启动了超过 {cap} 个进程（spawn 死循环？）；检查已将其停止"),
    ("check.leak", "泄漏："),
    ("check.leaked_processes", "测试结束后仍有进程在运行。启动子进程的代码在返回之前，必须等待（wait）每个子进程（或先 kill 再等待）；比父进程活得更久的子进程会成为孤儿进程，从未被等待的子进程会一直是僵尸进程。参见 {chapter}，或运行 `cargo xtask explain leftover-process`。"),
    ("check.leaked_ipc", "具名 IPC 对象的生命周期比创建它们的进程更长：用完后要 unlink 每个共享内存段、信号量和消息队列。参见 {chapter}，或运行 `cargo xtask explain shm-leak`。"),
    ("check.earlier_lines", "（前面还有 {n} 行未显示）"),
    ("check.topic", "{title}（{name}）"),
    ("check.leak_separator", "；"),
    ("check.leak_process", "进程仍在运行：{process}（已杀掉）"),
    ("check.leak_shm", "/dev/shm/{name} 没有被删除（现已删除）"),
    ("check.leak_mqueue", "/dev/mqueue/{name} 没有被删除（现已删除）"),
    ("check.status_exited", "退出码 {code}"),
    ("check.status_signaled", "被信号 {signal}（{name}）杀死"),
    ("check.status_unknown", "未知状态"),
    ("watch.usage", "`watch` 接受一个练习 ID 和 `--poll`（收到了 `{other}`）"),
    ("watch.one_id", "`watch` 只接受一个练习 ID（还收到了 `{other}`）"),
    ("watch.nothing", "所有练习都已完成，没有需要监视的了。`cargo xtask list` 会列出全部练习。"),
    ("watch.watching_for_saves", "正在监视文件保存（{how}）"),
    ("watch.interrupted", "已中断：监视停止"),
    ("watch.moving_on", "进入下一个练习："),
    ("watch.all_done", "所有练习都已完成，干得好！监视停止。"),
    ("watch.stops", "监视停止"),
    ("watch.unknown_key", "`{key}` 在这里没有作用：h 提示，l 列表，r 重新运行，q 退出"),
    ("watch.end_of_input", "输入结束：监视停止"),
    ("watch.watcher_error", "警告：文件监视器：{error}"),
    ("watch.keys", "h 提示，l 列表，r 重新运行，q 退出"),
    ("watch.lines", "输入 h、l、r 或 q 后回车：提示、列表、重新运行、退出"),
    ("watch.controls", "（{controls}）"),
    ("watch.watching", "正在监视"),
    ("watch.save_to_check", "{file}：保存后会重新检查"),
    ("watch.file_events", "文件事件"),
    ("watch.no_file_events", "注意：这里无法使用文件事件（{error}）；改为轮询 {dir}"),
    ("watch.remote", "注意：{dir} 位于 {kind} 上，可能收不到文件事件；改为轮询"),
    ("watch.polling", "轮询"),
    ("watch.fs_9p", "9p 文件系统（WSL 中的 Windows 盘）"),
    ("watch.fs_fuse", "FUSE 文件系统"),
    ("explain.errno", "errno："),
    ("explain.see", "现象："),
    ("explain.confirm", "确认："),
    ("explain.fix", "解决："),
    ("explain.read", "阅读："),
    ("explain.read_both", "{chapter}（以及 {section}）"),
    ("explain.branch", "（{branch}）"),
    ("explain.usage", "用法：cargo xtask explain [ID | ERRNO | 错误码数字 | 现象中的词]\n\n不带参数时，列出诊断树中的所有条目。\n示例：cargo xtask explain EPIPE；cargo xtask explain 13；cargo xtask explain broken pipe；cargo xtask explain zombie"),
    ("explain.tree", "诊断树：`cargo xtask explain ID` 显示单个条目。"),
    ("explain.no_match", "错误：诊断树中没有与 `{query}` 匹配的条目\n可以试试 errno 名称（EPIPE）、它的数字（32）、错误信息中的词（broken pipe），或者用 `cargo xtask explain` 查看列表"),
    ("fetch.fetching", "正在下载课程所需的全部 crate（只需一次，之后离线也能使用）（cargo fetch）："),
    ("fetch.failed", "警告：`cargo fetch` 以 {status} 结束：联网时课程仍可使用，下次运行会再试一次（`cargo xtask doctor` 会说明缺少什么）"),
    ("fetch.cannot_run", "警告：无法运行 cargo fetch（{error}）"),
    ("fetch.offline_ok", "课程所需的全部 crate 都已在本地：可以离线使用"),
    ("fetch.offline_missing", "并非所有 crate 都已在本地（{first}）：联网时运行一次 `cargo fetch`，之后课程就能离线使用"),
    ("fetch.some_missing", "缺少一些 crate"),
    ("doctor.windows", "Windows 没有本课程所讲的 fork、信号和 Unix 套接字：请安装 WSL 2（wsl --install），在其中克隆课程并运行"),
    ("doctor.wsl", "WSL 中的 Linux：一切正常；请把课程放在 Linux 文件系统中（不要放在 /mnt/c 下），文件监视和权限在那里才表现正常"),
    ("doctor.linux", "Linux：所有练习都能运行"),
    ("doctor.other_unix", "非 Linux 的 Unix：POSIX 练习可以运行；仅限 Linux 的部分（subreaper、/proc、抽象套接字、pidfd、futex）会被跳过或失败，相应章节中有说明"),
    ("doctor.rust_old", "{text} 比课程要求的 rust-version {version} 旧：请运行 `rustup update`"),
    ("doctor.rust_version_unreadable", "无法从 `{text}` 中读出版本"),
    ("doctor.no_rust", "无法运行 `{rustc} --version`：请用 rustup 安装 Rust"),
    ("doctor.shm_ok", "存在且可写（POSIX 共享内存可用）"),
    ("doctor.shm_fail", "无法在 /dev/shm 中创建文件（{error}）：shm_open 会失败；在 Linux 上请（以 root 身份）用 `mount -t tmpfs tmpfs /dev/shm` 挂载"),
    ("doctor.mqueue_ok", "已挂载：消息队列可用，运行器能列出残留的队列"),
    ("doctor.mqueue_not_mounted", "未挂载：消息队列仍可使用（mq_open），但检查结束后运行器无法列出残留的队列；以 root 身份运行：`mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue`"),
    ("doctor.mqueue_not_linux", "不是 Linux 系统：不会列出队列"),
    ("doctor.limit_unreadable", "无法读取该限制"),
    ("doctor.unlimited", "无限制"),
    ("doctor.soft_hard", "软限制 {soft} / 硬限制 {hard}"),
    ("doctor.limit_low", "{text}：低于 {want}；{advice}"),
    ("doctor.subreaper_ok", "可用：运行器能发现并杀掉检查留下的孤儿进程和守护进程"),
    ("doctor.subreaper_fail", "prctl(PR_SET_CHILD_SUBREAPER) 失败（{error}）：变成守护进程的残留进程会逃过运行器的泄漏检查"),
    ("doctor.subreaper_not_linux", "仅限 Linux：在这里运行器只能发现仍在本次运行的进程组中的残留进程"),
    ("doctor.root", "正以 root 身份运行：root 会绕过文件权限检查，因此权限相关的练习可能与普通用户下表现不同；测试对两种情况都适用"),
    ("doctor.not_root", "uid {euid}（不是 root）"),
    ("doctor.installed", "已安装"),
    ("doctor.on", "已开启：{how}"),
    ("doctor.turn_on", "；开启方法：{fix}"),
    ("doctor.off", "未开启（{how}）：检查照常运行，但 kill(-1) 或 spawn 死循环这类错误可能波及你的其他进程{fix}"),
    ("doctor.nofile_advice", "有些练习会打开很多管道和套接字：`ulimit -n 4096`"),
    ("doctor.nproc_advice", "创建进程的练习会启动数百个短命进程：`ulimit -u 4096`"),
    ("doctor.nextest", "可选，未安装：`cargo install cargo-nextest` 会让每个测试在独立的进程中运行；没有它 `cargo test` 也能用"),
    ("doctor.socat", "可选，未安装：有一个 Unix 套接字测试通过 socat 与你的服务器通信，没有 socat 时会说明已跳过（`apt-get install socat`）"),
    ("doctor.nats", "可选，未安装：工作队列的测试（第 9 周）会运行真实的 NATS 服务器，没有它时会说明已跳过（`apt-get install nats-server`）"),
    ("doctor.usage", "用法：cargo xtask doctor\n\n检查本机能否运行本课程。"),
    ("doctor.no_arguments", "doctor 不接受参数（收到了 `{arg}`）"),
    ("doctor.ok", "正常"),
    ("doctor.note", "注意"),
    ("doctor.fail", "失败"),
    ("doctor.all_ok", "本机可以运行本课程。"),
    ("doctor.failed", "{failed} 项检查未通过：见上文。"),
    ("doctor.item_platform", "平台"),
    ("doctor.item_rust", "Rust 工具链"),
    ("doctor.item_user", "用户"),
    ("doctor.item_open_files", "打开文件数"),
    ("doctor.item_processes", "进程数"),
    ("doctor.item_subreaper", "subreaper"),
    ("doctor.item_offline", "离线使用"),
    ("doctor.item_pid_namespace", "隔离：pid 命名空间"),
    ("doctor.item_mount_namespace", "隔离：mount 命名空间"),
    ("doctor.item_ipc_namespace", "隔离：ipc 命名空间"),
    ("doctor.item_task_cap", "隔离：任务数上限"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_chooses_the_language_in_posix_precedence() {
        use Lang::{En, ZhCn};
        for zh in [
            "zh_CN.UTF-8",
            "zh_CN",
            "zh-CN",
            "zh_SG",
            "zh",
            "zh_CN.GB18030",
            "zh-Hans",
        ] {
            assert_eq!(choose(None, None, None, Some(zh)), ZhCn, "{zh}");
        }
        for en in [
            "zh_TW.UTF-8",
            "zh_HK",
            "C",
            "POSIX",
            "C.UTF-8",
            "en_US.UTF-8",
            "de_DE",
            "x",
        ] {
            assert_eq!(choose(None, None, None, Some(en)), En, "{en}");
        }
        assert_eq!(choose(None, None, None, None), En);
        // LC_ALL, then LC_MESSAGES, then LANG; an empty value counts as unset.
        assert_eq!(choose(None, Some("C"), Some("zh_CN"), Some("zh_CN")), En);
        assert_eq!(choose(None, Some(""), Some("zh_CN.UTF-8"), Some("C")), ZhCn);
        assert_eq!(choose(None, None, Some(""), Some("zh_CN.UTF-8")), ZhCn);
        // PROCLINGS_LANG overrides the locale either way.
        assert_eq!(choose(Some("zh-CN"), Some("C"), None, None), ZhCn);
        assert_eq!(choose(Some("en"), None, None, Some("zh_CN.UTF-8")), En);
        assert_eq!(choose(Some(""), None, None, Some("zh_CN.UTF-8")), ZhCn);
    }

    #[test]
    fn placeholders_are_filled_by_name() {
        let n = 3;
        assert_eq!(
            fill(
                "hint {level} of {total} for {id}",
                &[("level", &1), ("total", &n), ("id", &"a/b")]
            ),
            "hint 1 of 3 for a/b"
        );
        assert_eq!(fill("第 {level} 条", &[("level", &2)]), "第 2 条");
        // Braces that are no placeholder, and placeholders without a value, stay.
        assert_eq!(
            fill("{#x} {a} {missing} {", &[("a", &"A")]),
            "{#x} A {missing} {"
        );
        assert_eq!(
            placeholders("{a} {#b} {c_1} {D} {a}")
                .into_iter()
                .collect::<Vec<_>>(),
            ["a", "c_1"]
        );
    }

    #[test]
    fn every_key_is_in_every_table_used_and_with_the_same_placeholders() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let problems = table_problems(&root);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn tr_calls_are_read_with_their_placeholder_names() {
        let source = "let a = tr!(\"x.one\");\n// tr!(\"x.commented\")\n\
                      let b = tr!(\n  \"x.two\", id = f(a, \"),\"), total,\n    n = [1, 2].len());";
        assert_eq!(
            tr_calls(source),
            [
                ("x.one".to_owned(), vec![]),
                (
                    "x.two".to_owned(),
                    vec!["id".to_owned(), "total".to_owned(), "n".to_owned()]
                ),
            ]
        );
    }

    #[test]
    fn a_command_keeps_its_shell_line_and_splits_off_its_comment() {
        assert_eq!(
            split_comment("command -v NAME            # is it on PATH at all?"),
            ("command -v NAME            ", Some("is it on PATH at all?"))
        );
        assert_eq!(
            split_comment("head -1 script | cat -A    # a script's #! line"),
            ("head -1 script | cat -A    ", Some("a script's #! line"))
        );
        assert_eq!(split_comment("ls -d /proc/PID"), ("ls -d /proc/PID", None));
        assert_eq!(course_command("ps  # x"), "ps  # x");
    }

    #[test]
    fn the_course_po_is_read_without_fuzzy_or_empty_translations() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let po_dir = dir.path().join(COURSE_PO_DIR);
        std::fs::create_dir_all(&po_dir).expect("create the PO directory");
        std::fs::write(
            po_dir.join("zh-CN.po"),
            "msgid \"\"\nmsgstr \"Language: zh_CN\\n\"\n\n\
             msgid \"Pipes\"\nmsgstr \"管道\"\n\n\
             #, fuzzy\nmsgid \"Signals\"\nmsgstr \"信号\"\n\n\
             msgid \"Zombies\"\nmsgstr \"\"\n",
        )
        .expect("write the PO");
        let catalog = load_catalog(dir.path(), Lang::ZhCn);
        assert_eq!(catalog.len(), 1, "{catalog:?}");
        assert_eq!(catalog.get("Pipes").map(String::as_str), Some("管道"));
        assert!(load_catalog(Path::new("/nonexistent"), Lang::ZhCn).is_empty());
    }
}
