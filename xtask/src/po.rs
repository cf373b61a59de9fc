//! Gettext PO files: the one reader and writer of the course's PO files, and the book's
//! translations, counted, refreshed from the English sources and checked.
//!
//! **The format.** [`parse`] reads a PO file into its entries: `msgctxt`, `msgid`,
//! `msgid_plural`, `msgstr` and `msgstr[N]`, strings continued over several lines, C escapes,
//! `#,` flags (`fuzzy`), and obsolete entries (`#~`), which are kept and marked. Two kinds of
//! reader use it: the runner, which shows a message's [`Entry::translation`] (none when it is
//! empty, fuzzy or obsolete), and tidy, which counts the messages by state ([`status_of`],
//! [`po_status`]). [`template`] writes a PO template, as `sync` does for the course's text
//! (`docs/po/course/messages.pot`, see `crate::i18n`).
//!
//! **The book's translations** are listed in `docs/po/translations.toml`, one table per
//! language:
//!
//! ```toml
//! [zh-CN]
//! complete = false
//! ```
//!
//! Each language's messages are in `docs/po/LANG.po`. The template (every message of today's
//! English book) is never committed: `mdbook-xgettext` writes it into a temporary directory
//! whenever it is needed, and `msgmerge` merges it into each PO file.
//!
//! - `cargo xtask sync` refreshes each PO file from the template ([`sync`]);
//! - `cargo xtask tidy` checks each PO file against the template ([`tidy`]): while a language is
//!   not `complete` it only reports how many messages are untranslated or fuzzy; once it is,
//!   any untranslated, fuzzy or obsolete message is a miss;
//! - `cargo xtask book --lang LANG` and verify build the translated book with the
//!   `mdbook-gettext` preprocessor, enabled from the environment ([`mdbook_command`]) so that
//!   docs/book.toml does not need it and the English book builds with mdbook alone.
//!
//! [`po_status`] takes any PO file, so other translations (the course's text) can be counted
//! with it too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the translations live, relative to the repository's root.
pub const PO_DIR: &str = "docs/po";

/// The list of translations, relative to the repository's root.
pub const LANGUAGES: &str = "docs/po/translations.toml";

/// The configuration that enables the `mdbook-gettext` preprocessor (`MDBOOK_PREPROCESSOR__GETTEXT`):
/// it translates the chapters after `{{#include}}` and the like have been expanded.
pub const GETTEXT_CONFIG: &str = r#"{"after": ["links"]}"#;

/// One entry of a PO file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Entry {
    pub msgctxt: Option<String>,
    pub msgid: String,
    pub msgid_plural: Option<String>,
    /// `msgstr`, or `msgstr[0]`, `msgstr[1]`... of a plural entry.
    pub msgstr: Vec<String>,
    /// Flagged `#, fuzzy`: a guess by msgmerge that a translator has to review.
    pub fuzzy: bool,
    /// Commented out with `#~`: a message that the sources no longer have.
    pub obsolete: bool,
}

impl Entry {
    /// The header entry (an empty msgid without a context) carries metadata, not a message.
    pub fn is_header(&self) -> bool {
        self.msgid.is_empty() && self.msgctxt.is_none()
    }

    /// What identifies the message: its context and its msgid.
    pub fn key(&self) -> (Option<String>, String) {
        (self.msgctxt.clone(), self.msgid.clone())
    }

    fn is_translated(&self) -> bool {
        !self.msgstr.is_empty() && self.msgstr.iter().all(|s| !s.is_empty())
    }

    /// The translation (`msgstr`, or `msgstr[0]` of a plural entry), empty when there is none.
    pub fn text(&self) -> &str {
        self.msgstr.first().map_or("", String::as_str)
    }

    /// The translation a reader may show: `None` when it is empty, fuzzy or obsolete.
    pub fn translation(&self) -> Option<&str> {
        Some(self.text()).filter(|t| !t.is_empty() && !self.fuzzy && !self.obsolete)
    }
}

/// How many messages of a PO file are translated, untranslated, fuzzy and obsolete (the header
/// is not counted; a fuzzy message counts as fuzzy only, an obsolete one as obsolete only).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub translated: usize,
    pub untranslated: usize,
    pub fuzzy: usize,
    pub obsolete: usize,
}

/// The field a string continuation line (`"..."`) appends to.
#[derive(Clone, Copy)]
enum Field {
    Ctxt,
    Id,
    Plural,
    Str(usize),
}

/// Parses the text of a PO file into its entries (the header included), or says which line
/// cannot be read.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut current = Entry::default();
    let mut started = false; // the current entry has a keyword
    let mut field: Option<Field> = None;
    let mut finish = |current: &mut Entry, started: &mut bool, field: &mut Option<Field>| {
        if *started {
            entries.push(std::mem::take(current));
        } else {
            // Comments without a message (a file's leading comment): nothing to keep.
            *current = Entry::default();
        }
        *started = false;
        *field = None;
    };
    for (n, raw) in text.lines().enumerate() {
        let at = |why: &str| format!("line {}: {why}: `{raw}`", n + 1);
        let mut line = raw.trim();
        let mut obsolete = false;
        if let Some(rest) = line.strip_prefix("#~") {
            obsolete = true;
            line = rest.trim_start();
            if line.starts_with('|') {
                continue; // the previous msgid of an obsolete fuzzy entry
            }
        }
        if line.is_empty() {
            if !obsolete {
                finish(&mut current, &mut started, &mut field);
            }
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            // A comment after a message's strings belongs to the next entry.
            if started && !current.msgstr.is_empty() {
                finish(&mut current, &mut started, &mut field);
            }
            if let Some(flags) = comment.strip_prefix(',')
                && flags.split(',').any(|f| f.trim() == "fuzzy")
            {
                current.fuzzy = true;
            }
            continue;
        }
        if line.starts_with('"') {
            let value = unquote(line).map_err(|e| at(&e))?;
            let target = match field {
                Some(Field::Ctxt) => current.msgctxt.get_or_insert_with(String::new),
                Some(Field::Id) => &mut current.msgid,
                Some(Field::Plural) => current.msgid_plural.get_or_insert_with(String::new),
                Some(Field::Str(i)) => &mut current.msgstr[i],
                None => return Err(at("a string outside a message")),
            };
            target.push_str(&value);
            continue;
        }
        let (keyword, rest) = line
            .split_once(|c: char| c.is_whitespace())
            .ok_or_else(|| at("a keyword without a string"))?;
        let value = unquote(rest.trim()).map_err(|e| at(&e))?;
        // A msgctxt or msgid after a message's strings starts the next entry.
        if matches!(keyword, "msgctxt" | "msgid") && !current.msgstr.is_empty() {
            finish(&mut current, &mut started, &mut field);
        }
        started = true;
        current.obsolete |= obsolete;
        match keyword {
            "msgctxt" => {
                current.msgctxt = Some(value);
                field = Some(Field::Ctxt);
            }
            "msgid" => {
                current.msgid = value;
                field = Some(Field::Id);
            }
            "msgid_plural" => {
                current.msgid_plural = Some(value);
                field = Some(Field::Plural);
            }
            "msgstr" => {
                current.msgstr.push(value);
                field = Some(Field::Str(current.msgstr.len() - 1));
            }
            other => {
                let index = other
                    .strip_prefix("msgstr[")
                    .and_then(|i| i.strip_suffix(']'))
                    .and_then(|i| i.parse::<usize>().ok())
                    .ok_or_else(|| at("an unknown keyword"))?;
                if index != current.msgstr.len() {
                    return Err(at("plural forms out of order"));
                }
                current.msgstr.push(value);
                field = Some(Field::Str(index));
            }
        }
    }
    finish(&mut current, &mut started, &mut field);
    Ok(entries)
}

/// The content of a C-quoted string `"..."`, escapes resolved.
fn unquote(quoted: &str) -> Result<String, String> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|_| quoted.len() >= 2)
        .ok_or("not a quoted string")?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next() {
                Some('n') => '\n',
                Some('t') => '\t',
                Some('r') => '\r',
                Some('a') => '\u{7}',
                Some('b') => '\u{8}',
                Some('f') => '\u{c}',
                Some('v') => '\u{b}',
                Some(c @ ('"' | '\\' | '\'' | '?')) => c,
                Some(c) => return Err(format!("an unknown escape `\\{c}`")),
                None => return Err("a backslash at the end of the string".to_owned()),
            }),
            '"' => return Err("an unescaped quote inside the string".to_owned()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `text` as a PO string: one quoted line, or (when it holds newlines) `""` followed by one
/// quoted line per line of text, as gettext's tools write it.
fn quote(keyword: &str, text: &str) -> String {
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
    };
    if !text.contains('\n') || text == "\n" {
        return format!("{keyword} \"{}\"\n", escape(text));
    }
    let mut out = format!("{keyword} \"\"\n");
    for piece in text.split_inclusive('\n') {
        let _ = writeln!(out, "\"{}\"", escape(piece));
    }
    out
}

/// A PO template: `header` (each line a `#` comment), the header entry, then one entry per
/// message with its `#:` references, in the order given.
pub fn template(header: &str, messages: &[(String, Vec<String>)]) -> String {
    let mut out = String::new();
    for line in header.lines() {
        match line {
            "" => out.push_str("#\n"),
            _ => {
                let _ = writeln!(out, "# {line}");
            }
        }
    }
    out.push_str(
        "msgid \"\"\nmsgstr \"\"\n\"Project-Id-Version: proclings\\n\"\n\
         \"MIME-Version: 1.0\\n\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\
         \"Content-Transfer-Encoding: 8bit\\n\"\n",
    );
    for (id, references) in messages {
        out.push('\n');
        for r in references {
            let _ = writeln!(out, "#: {r}");
        }
        out.push_str(&quote("msgid", id));
        out.push_str("msgstr \"\"\n");
    }
    out
}

/// The counts of `entries`.
pub fn status_of(entries: &[Entry]) -> Status {
    let mut status = Status::default();
    for entry in entries.iter().filter(|e| !e.is_header()) {
        if entry.obsolete {
            status.obsolete += 1;
        } else if entry.fuzzy {
            status.fuzzy += 1;
        } else if entry.is_translated() {
            status.translated += 1;
        } else {
            status.untranslated += 1;
        }
    }
    status
}

/// The counts of the PO file at `path`.
pub fn po_status(path: &Path) -> anyhow::Result<Status> {
    Ok(status_of(&read(path)?))
}

/// The entries of the PO file at `path`.
pub fn read(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{} cannot be read: {e}", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The keys of the live (not obsolete, not header) messages of `entries`.
fn live_keys(entries: &[Entry]) -> BTreeSet<(Option<String>, String)> {
    entries
        .iter()
        .filter(|e| !e.is_header() && !e.obsolete)
        .map(Entry::key)
        .collect()
}

/// One translation of the book, from docs/po/translations.toml.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    /// Every message is translated: from now on an untranslated, fuzzy or obsolete message is
    /// a tidy miss.
    #[serde(default)]
    pub complete: bool,
}

/// The book's translations by language code, or none when there is no docs/po/translations.toml.
pub fn languages(root: &Path) -> anyhow::Result<BTreeMap<String, Language>> {
    let path = root.join(LANGUAGES);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(BTreeMap::new());
    };
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{LANGUAGES}: {e}"))
}

/// The PO file of `lang`, relative to the repository's root.
pub fn po_file(lang: &str) -> String {
    format!("{PO_DIR}/{lang}.po")
}

/// Whether `program` is an executable file in a directory of PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The command that installs `program`, for the messages that say it is missing.
pub fn install_command(program: &str) -> String {
    match program {
        "mdbook" => format!(
            "cargo install --locked mdbook --version {}",
            crate::MDBOOK_VERSION
        ),
        "mdbook-xgettext" | "mdbook-gettext" => {
            format!(
                "cargo install --locked mdbook-i18n-helpers --version {}",
                crate::MDBOOK_I18N_HELPERS_VERSION
            )
        }
        "msgmerge" => "sudo apt-get install gettext".to_owned(),
        other => other.to_owned(),
    }
}

/// The tools that refreshing and checking the translations need, which are not on PATH.
fn missing_tools() -> Vec<&'static str> {
    ["mdbook", "mdbook-xgettext", "msgmerge"]
        .into_iter()
        .filter(|p| !on_path(p))
        .collect()
}

/// `mdbook build docs --dest-dir DEST` for the book in `lang` (`None`: English), run from the
/// repository's root. A translation enables the gettext preprocessor from the environment.
pub fn mdbook_command(root: &Path, lang: Option<&str>, dest: &Path) -> Command {
    let mut cmd = Command::new("mdbook");
    cmd.args(["build", "docs", "--dest-dir"])
        .arg(dest)
        .current_dir(root)
        .env_remove("MDBOOK_OUTPUT");
    match lang {
        Some(lang) => cmd
            .env("MDBOOK_BOOK__LANGUAGE", lang)
            .env("MDBOOK_PREPROCESSOR__GETTEXT", GETTEXT_CONFIG),
        None => cmd
            .env_remove("MDBOOK_BOOK__LANGUAGE")
            .env_remove("MDBOOK_PREPROCESSOR__GETTEXT"),
    };
    cmd
}

/// A directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("proclings-{what}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cmd`; an error with its output when it cannot start or does not succeed.
fn run_quietly(mut cmd: Command, what: &str) -> anyhow::Result<()> {
    let output = cmd
        .output()
        .map_err(|e| anyhow::anyhow!("{what} could not start: {e}"))?;
    if !output.status.success() {
        anyhow::bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Writes the template of today's English book (`messages.pot`) into `dir` and returns its path.
fn extract_template(root: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let mut cmd = mdbook_command(root, None, dir);
    cmd.env(
        "MDBOOK_OUTPUT",
        r#"{"xgettext": {"pot-file": "messages.pot"}}"#,
    );
    run_quietly(cmd, "extracting the book's messages (mdbook-xgettext)")?;
    Ok(dir.join("messages.pot"))
}

/// Merges `template` into the PO file `po`, writing the result to `out` (`msgmerge`).
fn merge(po: &Path, template: &Path, out: &Path) -> anyhow::Result<()> {
    let mut cmd = Command::new("msgmerge");
    cmd.arg("--quiet")
        .arg("--output-file")
        .arg(out)
        .arg(po)
        .arg(template);
    run_quietly(cmd, &format!("msgmerge of {}", po.display()))
}

/// `text` without its `POT-Creation-Date` header line, which changes on every extraction.
fn without_creation_date(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("\"POT-Creation-Date:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `sync` does for the translations: every PO file merged with today's template, and
/// rewritten when its messages changed. Returns the files rewritten, or a note that the
/// refresh was skipped for want of a tool.
pub fn sync(root: &Path) -> anyhow::Result<Result<Vec<String>, String>> {
    let languages = languages(root)?;
    if languages.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    if let Some(tool) = missing_tools().first() {
        return Ok(Err(format!(
            "the book's translations were not refreshed: {tool} is not on PATH (`{}`)",
            install_command(tool)
        )));
    }
    let dir = TempDir::new("po-sync")?;
    let template = extract_template(root, &dir.0)?;
    let mut written = Vec::new();
    for lang in languages.keys() {
        let rel = po_file(lang);
        let po = root.join(&rel);
        if !po.is_file() {
            anyhow::bail!(
                "{rel} is missing; create it with `msginit --no-translator -l {} -i {} -o {rel}`",
                lang.replace('-', "_"),
                template.display()
            );
        }
        let merged = dir.0.join(format!("{lang}.po"));
        merge(&po, &template, &merged)?;
        let old = std::fs::read_to_string(&po)?;
        let new = std::fs::read_to_string(&merged)?;
        if without_creation_date(&old) != without_creation_date(&new) {
            std::fs::write(&po, new)?;
            written.push(rel);
        }
    }
    Ok(Ok(written))
}

/// The translations' part of tidy: misses, and notes printed without failing (a translation in
/// progress, a check skipped for want of a tool).
#[derive(Debug, Default)]
pub struct Report {
    pub misses: Vec<String>,
    pub notes: Vec<String>,
}

/// Checks every translation against today's English sources: its template is extracted and
/// merged into a copy of each PO file, whose counts decide. A language marked `complete` may
/// have no untranslated, fuzzy or obsolete message; one in progress only has its counts noted.
/// Without the tools (mdbook, mdbook-xgettext, msgmerge) the check is skipped, except under
/// `CI=true`, where a missing tool is a miss.
pub fn tidy(root: &Path) -> Report {
    let mut report = Report::default();
    let languages = match languages(root) {
        Ok(languages) => languages,
        Err(e) => {
            report.misses.push(format!("{e:#}"));
            return report;
        }
    };
    let mut committed = BTreeMap::new();
    for lang in languages.keys() {
        let rel = po_file(lang);
        match read(&root.join(&rel)) {
            Ok(entries) => {
                committed.insert(lang.clone(), entries);
            }
            Err(e) => report.misses.push(format!(
                "{LANGUAGES} lists `{lang}`, but {rel} cannot be read ({e:#})"
            )),
        }
    }
    if committed.is_empty() {
        return report;
    }
    let missing = missing_tools();
    if !missing.is_empty() {
        let needs: Vec<String> = missing
            .iter()
            .map(|t| format!("{t} (`{}`)", install_command(t)))
            .collect();
        let needs = needs.join(", ");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            report.misses.push(format!(
                "the book's translation check cannot run, not on PATH: {needs}"
            ));
        } else {
            report.notes.push(format!(
                "the book's translation check skipped, not on PATH: {needs}"
            ));
        }
        return report;
    }
    let checked = TempDir::new("po-check").and_then(|dir| {
        let template = extract_template(root, &dir.0)?;
        let today = live_keys(&read(&template)?);
        let mut results = Vec::new();
        for (lang, entries) in &committed {
            let merged = dir.0.join(format!("{lang}.po"));
            merge(&root.join(po_file(lang)), &template, &merged)?;
            let new = today.difference(&live_keys(entries)).count();
            results.push((lang.clone(), po_status(&merged)?, new));
        }
        Ok(results)
    });
    let results = match checked {
        Ok(results) => results,
        Err(e) => {
            report.misses.push(format!("{e:#}"));
            return report;
        }
    };
    for (lang, status, new) in results {
        let rel = po_file(&lang);
        let sync_note = if new > 0 {
            format!(", {new} of them new since the last `cargo xtask sync`")
        } else {
            String::new()
        };
        if languages[&lang].complete {
            if status.untranslated + status.fuzzy > 0 {
                report.misses.push(format!(
                    "{rel}: {} untranslated and {} fuzzy message(s) against today's English \
                     sources{sync_note}: run `cargo xtask sync`, translate them and remove the \
                     fuzzy flags ({LANGUAGES} marks {lang} complete)",
                    status.untranslated, status.fuzzy
                ));
            }
            if status.obsolete > 0 {
                report.misses.push(format!(
                    "{rel}: {} obsolete message(s) (`#~`, or gone from the English sources): run \
                     `cargo xtask sync`, then remove them (`msgattrib --no-obsolete -o {rel} {rel}`)",
                    status.obsolete
                ));
            }
        } else {
            report.notes.push(format!(
                "{lang}: {} untranslated, {} fuzzy (translation in progress{sync_note})",
                status.untranslated, status.fuzzy
            ));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"# A translator's comment.
msgid ""
msgstr ""
"Language: zh_CN\n"
"Plural-Forms: nplurals=1; plural=0;\n"

#: src/SUMMARY.md:3 src/introduction.md:1
msgid "Introduction"
msgstr "简介"

#: src/introduction.md:3
msgid ""
"This book is also available in Simplified Chinese: [简体中文版](zh-CN/"
"introduction.html)."
msgstr ""

#, fuzzy
#| msgid "Old text"
msgid "New \"quoted\" text\twith a tab\\"
msgstr "旧的"

#: src/x.md:1
#, rust-format, fuzzy
msgctxt "menu"
msgid "Open"
msgstr "打开"

msgid "one file"
msgid_plural "%d files"
msgstr[0] "%d 个文件"

msgid "one dir"
msgid_plural "%d dirs"
msgstr[0] ""

#~ msgid "Gone"
#~ msgstr "走了"

#, fuzzy
#~| msgid "Gone too"
#~ msgid ""
#~ "Gone "
#~ "again"
#~ msgstr "又走了"
"#;

    #[test]
    fn a_po_file_is_read_entry_by_entry() {
        let entries = parse(SAMPLE).expect("the sample parses");
        assert_eq!(entries.len(), 9, "{entries:#?}");
        assert!(entries[0].is_header());
        assert_eq!(
            entries[0].msgstr,
            ["Language: zh_CN\nPlural-Forms: nplurals=1; plural=0;\n"]
        );
        assert_eq!(entries[1].msgid, "Introduction");
        assert_eq!(entries[1].msgstr, ["简介"]);
        assert_eq!(
            entries[2].msgid,
            "This book is also available in Simplified Chinese: [简体中文版](zh-CN/introduction.html)."
        );
        assert_eq!(entries[3].msgid, "New \"quoted\" text\twith a tab\\");
        assert!(entries[3].fuzzy);
        assert_eq!(entries[4].msgctxt.as_deref(), Some("menu"));
        assert!(entries[4].fuzzy, "a fuzzy flag among others");
        assert_eq!(entries[5].msgid_plural.as_deref(), Some("%d files"));
        assert!(entries[7].obsolete && !entries[7].fuzzy);
        assert_eq!(entries[8].msgid, "Gone again");
        assert!(entries[8].obsolete && entries[8].fuzzy);
    }

    #[test]
    fn messages_are_counted_by_state() {
        let status = status_of(&parse(SAMPLE).expect("the sample parses"));
        assert_eq!(
            status,
            Status {
                translated: 2,
                untranslated: 2,
                fuzzy: 2,
                obsolete: 2
            }
        );
    }

    #[test]
    fn po_status_reads_a_file() {
        let dir = TempDir::new("po-test").expect("a temp dir");
        let path = dir.0.join("xx.po");
        std::fs::write(&path, SAMPLE).expect("write the sample");
        assert_eq!(po_status(&path).expect("it parses").translated, 2);
        assert!(po_status(&dir.0.join("none.po")).is_err());
    }

    #[test]
    fn broken_po_text_is_refused_with_its_line() {
        for (text, line) in [
            ("msgid \"a\nmsgstr \"\"\n", "line 1"),
            ("msgid \"a\"\nmsgstr \"\\q\"\n", "line 2"),
            ("\"orphan\"\n", "line 1"),
            ("msgid \"a\"\nmsgstr[1] \"b\"\n", "line 2"),
            ("msgid \"a\"\nmsgfoo \"b\"\n", "line 2"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.starts_with(line), "{text:?}: {err}");
        }
    }

    #[test]
    fn entries_without_blank_lines_between_them_are_still_apart() {
        let entries = parse("msgid \"a\"\nmsgstr \"A\"\n#, fuzzy\nmsgid \"b\"\nmsgstr \"B\"\n")
            .expect("it parses");
        assert_eq!(entries.len(), 2);
        assert!(!entries[0].fuzzy && entries[1].fuzzy);
    }

    #[test]
    fn the_creation_date_alone_is_no_change() {
        let a = "msgid \"\"\nmsgstr \"\"\n\"POT-Creation-Date: 1\\n\"\n";
        let b = "msgid \"\"\nmsgstr \"\"\n\"POT-Creation-Date: 2\\n\"\n";
        assert_eq!(without_creation_date(a), without_creation_date(b));
    }

    // The runner's side: what it reads of the course's PO, and the template sync writes.

    #[test]
    fn entries_escapes_and_continued_strings_are_read() {
        let po = "# header\nmsgid \"\"\nmsgstr \"\"\n\"Language: zh_CN\\n\"\n\n\
                  #: a:b\nmsgid \"one\"\nmsgstr \"一\"\n\n\
                  msgctxt \"menu\"\nmsgid \"\"\n\"two \\\"quoted\\\"\\n\"\n\"lines\\t\\\\\"\n\
                  msgstr \"\"\n\"二\\n\"\n\"行\"\n\n\
                  #, fuzzy, c-format\nmsgid \"three\"\nmsgstr \"三\"\n\n\
                  #~ msgid \"old\"\n#~ msgstr \"旧\"\n\n\
                  msgid \"four\"\nmsgstr \"\"\n";
        let all = parse(po).expect("a valid PO");
        // An obsolete entry is read, marked, and never a translation to show.
        let old = all
            .iter()
            .find(|m| m.msgid == "old")
            .expect("the obsolete entry");
        assert!(old.obsolete && old.text() == "旧" && old.translation().is_none());
        let got: Vec<&Entry> = all.iter().filter(|m| !m.obsolete).collect();
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[0].msgid, "");
        assert_eq!(got[0].text(), "Language: zh_CN\n");
        assert_eq!((got[1].msgid.as_str(), got[1].text()), ("one", "一"));
        assert_eq!(got[1].translation(), Some("一"));
        assert_eq!(got[2].msgctxt.as_deref(), Some("menu"));
        assert_eq!(got[2].msgid, "two \"quoted\"\nlines\t\\");
        assert_eq!(got[2].text(), "二\n行");
        assert!(got[3].fuzzy && got[3].translation().is_none());
        assert_eq!(got[4].msgid, "four");
        assert!(got[4].translation().is_none());
    }

    #[test]
    fn entries_without_blank_lines_between_them_are_told_apart() {
        let got = parse("msgid \"a\"\nmsgstr \"甲\"\n#, fuzzy\nmsgid \"b\"\nmsgstr \"乙\"\n")
            .expect("a valid PO");
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(!got[0].fuzzy && got[1].fuzzy, "{got:?}");
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_it() {
        let err = parse("msgid \"a\"\nmsgstr unquoted\n").expect_err("not a string");
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(parse("msgid \"\\q\"\nmsgstr \"\"\n").is_err());
    }

    #[test]
    fn a_written_template_reads_back() {
        let messages = vec![
            ("plain".to_owned(), vec!["x.toml:a:title".to_owned()]),
            (
                "two\nlines with \"quotes\"".to_owned(),
                vec!["x.toml:a:hint1".to_owned(), "x.toml:b:hint2".to_owned()],
            ),
        ];
        let text = template("Course text.\n\nSecond paragraph.", &messages);
        assert!(text.starts_with("# Course text.\n#\n# Second paragraph.\nmsgid \"\""));
        assert!(text.contains("#: x.toml:a:hint1\n#: x.toml:b:hint2\nmsgid \"\"\n\"two\\n\"\n"));
        let back = parse(&text).expect("the template parses");
        let ids: Vec<&str> = back.iter().map(|m| m.msgid.as_str()).collect();
        assert_eq!(ids, ["", "plain", "two\nlines with \"quotes\""]);
        assert_eq!(status_of(&back).untranslated, 2);
    }
}
