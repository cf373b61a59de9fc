//! `cargo xtask explain [TOPIC|ERRNO|SYMPTOM]`: the course's diagnosis tree as a command.
//!
//! Each entry answers one "why does my process do this?" question: what a learner sees, how to
//! confirm it, the fix, and the chapters that teach it. Entries are found by id (`zombie`), by
//! errno name or number (`EPIPE`, `32`), or by words of the message a learner sees (`broken
//! pipe`, `Permission denied`). `check` calls [`suggestions`] on a failing run's output to point
//! at the entries that match.
//!
//! The tree is data, `docs/diagnosis.toml` (its header documents the fields), read at run time;
//! `cargo xtask sync` writes the book's chapter `docs/src/diagnosis.md` from the same file with
//! [`Tree::render_overview`] and [`Tree::render_chapter`], so the command and the book cannot
//! disagree and adding an entry is one edit.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::i18n::{self, course, tr};

/// The data file, relative to the root.
pub const DATA: &str = "docs/diagnosis.toml";
/// The chapter written from it, relative to the root.
pub const CHAPTER: &str = "docs/src/diagnosis.md";

/// One branch of the diagnosis tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Stable id, also the anchor of its section in the chapter.
    pub id: String,
    /// The branch of the tree it belongs to.
    pub branch: String,
    /// One line: what goes wrong.
    pub title: String,
    /// Its heading in the book.
    pub heading: String,
    /// errno names that point here.
    #[serde(default)]
    pub errnos: Vec<String>,
    /// Lower-case words or phrases of messages that point here.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// The chapters (file names under docs/src) that teach it, best first.
    #[serde(default)]
    pub chapters: Vec<String>,
    /// Markdown: what the learner sees.
    pub see: String,
    /// Markdown: how to confirm it.
    pub confirm: String,
    /// Shell commands that confirm it.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Markdown: what to do about it.
    pub fix: String,
}

/// The whole tree, in order.
#[derive(Debug, Deserialize)]
pub struct Tree {
    /// Every entry.
    #[serde(rename = "entry", default)]
    pub entries: Vec<Entry>,
    /// The chapter titles by file name (`03-pipes.md` -> `Pipes`), from curriculum.toml.
    #[serde(skip)]
    titles: Vec<(String, String)>,
    /// The chapters that exist under docs/src.
    #[serde(skip)]
    written: Vec<String>,
}

impl Tree {
    /// Reads and checks `docs/diagnosis.toml` under `root`.
    pub fn load(root: &Path) -> anyhow::Result<Self> {
        let path = root.join(DATA);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut tree: Tree =
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        let mut seen = std::collections::HashSet::new();
        for e in &tree.entries {
            if !seen.insert(e.id.as_str()) {
                bail!("{}: entry `{}` appears twice", path.display(), e.id);
            }
            if let Some(name) = e.errnos.iter().find(|n| errno_number(n).is_none()) {
                bail!(
                    "{}: entry `{}`: `{name}` is not an errno name the runner knows",
                    path.display(),
                    e.id
                );
            }
        }
        if let Ok(curriculum) = crate::manifest::Curriculum::load(root) {
            tree.titles = curriculum
                .topics
                .iter()
                .map(|t| (format!("{}.md", t.dir), t.title.clone()))
                .collect();
        }
        tree.written = tree
            .entries
            .iter()
            .flat_map(|e| &e.chapters)
            .filter(|c| root.join("docs/src").join(c).is_file())
            .cloned()
            .collect();
        Ok(tree)
    }

    /// The chapters of `e` that exist.
    fn chapters_of<'t>(&'t self, e: &'t Entry) -> impl Iterator<Item = &'t String> {
        e.chapters.iter().filter(|c| self.written.contains(c))
    }

    /// The tree in one picture: each branch and its entries' ids (the chapter's overview).
    pub fn render_overview(&self) -> String {
        let branches = self.branches();
        let mut s = String::from("```text\nsomething is wrong with a process?\n");
        for (i, (branch, ids)) in branches.iter().enumerate() {
            let fork = if i + 1 == branches.len() {
                "└─"
            } else {
                "├─"
            };
            let dots = ".".repeat(30usize.saturating_sub(branch.chars().count()).max(3));
            let _ = writeln!(s, "{fork} {branch} {dots} {}", ids.join(", "));
        }
        s.push_str("```\n");
        s
    }

    /// The branches in order, each with its entries' ids.
    fn branches(&self) -> Vec<(&str, Vec<&str>)> {
        let mut branches: Vec<(&str, Vec<&str>)> = Vec::new();
        for e in &self.entries {
            match branches.iter_mut().find(|(b, _)| *b == e.branch) {
                Some((_, ids)) => ids.push(&e.id),
                None => branches.push((&e.branch, vec![&e.id])),
            }
        }
        branches
    }

    /// Every entry as a section of the book, under a heading per branch.
    pub fn render_chapter(&self) -> String {
        let mut s = String::new();
        for (branch, ids) in self.branches() {
            let mut heading = branch.to_owned();
            if let Some(first) = heading.get(..1) {
                heading.replace_range(..1, &first.to_uppercase());
            }
            let _ = writeln!(s, "\n## {heading}");
            for e in self.entries.iter().filter(|e| ids.contains(&e.id.as_str())) {
                let _ = write!(s, "\n### {} {{#{}}}\n\n", e.heading, e.id);
                s.push_str(&wrap("**You see** ", &e.see, 96, ""));
                s.push('\n');
                s.push_str(&wrap("**Confirm.** ", &e.confirm, 96, ""));
                if !e.commands.is_empty() {
                    s.push_str("\n```sh\n");
                    for c in &e.commands {
                        let _ = writeln!(s, "{c}");
                    }
                    s.push_str("```\n");
                }
                let links: Vec<String> = self
                    .chapters_of(e)
                    .map(|c| format!("[{}]({c})", self.title_of(c)))
                    .collect();
                let see_also = match links.as_slice() {
                    [] => String::new(),
                    [one] => format!(" See {one}."),
                    [most @ .., last] => format!(" See {} and {last}.", most.join(", ")),
                };
                s.push('\n');
                s.push_str(&wrap("**Fix.** ", &format!("{}{see_also}", e.fix), 96, ""));
            }
        }
        s
    }

    fn title_of<'t>(&'t self, chapter: &'t str) -> &'t str {
        self.titles
            .iter()
            .find(|(c, _)| c == chapter)
            .map_or(chapter, |(_, t)| t.as_str())
    }

    /// Entries matching one query: an id, an errno name or number, or words of a message.
    pub fn lookup(&self, query: &str) -> Vec<&Entry> {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return Vec::new();
        }
        if let Some(e) = self.entries.iter().find(|e| e.id == q) {
            return vec![e];
        }
        let by_errno: Vec<_> = self
            .entries
            .iter()
            .filter(|e| {
                e.errnos.iter().any(|name| {
                    name.eq_ignore_ascii_case(&q) || q.parse::<i32>().ok() == errno_number(name)
                })
            })
            .collect();
        if !by_errno.is_empty() {
            return by_errno;
        }
        self.entries
            .iter()
            .filter(|e| {
                e.phrases
                    .iter()
                    .any(|p| q.contains(p.as_str()) || p.contains(q.as_str()))
                    || e.title.contains(q.as_str())
            })
            .collect()
    }

    /// The entries whose errno names, `os error N` codes or phrases appear in a run's output,
    /// in tree order, at most three.
    pub fn suggestions(&self, output: &str) -> Vec<&Entry> {
        let lower = output.to_lowercase();
        let words: Vec<&str> = output
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| w.len() > 1)
            .collect();
        let os_errors: Vec<i32> = lower
            .match_indices("os error ")
            .filter_map(|(i, m)| {
                let rest = &lower[i + m.len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect();
        self.entries
            .iter()
            .filter(|e| {
                e.errnos.iter().any(|name| {
                    words.contains(&name.as_str())
                        || errno_number(name).is_some_and(|n| os_errors.contains(&n))
                })
                // Only the distinctive phrases: a bare "timed out" in a failing run points at
                // a hang, but generic words like "blocked" would match too much.
                || e.phrases
                    .iter()
                    .filter(|p| p.len() >= 9)
                    .any(|p| lower.contains(p.as_str()))
            })
            .take(3)
            .collect()
    }

    /// Renders one entry for the terminal, in the run's language.
    pub fn render(&self, e: &Entry) -> String {
        let branch = tr!("explain.branch", branch = course(&e.branch));
        let mut s = format!("{}: {}\n  {branch}\n\n", e.id, course(&e.title));
        let indent = " ".repeat(10);
        let label = |text: &str| format!("{text}{}", i18n::pad(text, 10, 1));
        if !e.errnos.is_empty() {
            let names: Vec<String> = e
                .errnos
                .iter()
                .filter_map(|n| {
                    let v = errno_number(n)?;
                    let msg = std::io::Error::from_raw_os_error(v).to_string();
                    let msg = msg.split(" (os error").next().unwrap_or(&msg).to_owned();
                    Some(format!("{n} ({v}, \"{msg}\")"))
                })
                .collect();
            let errno = label(tr!("explain.errno"));
            s.push_str(&wrap(&errno, &names.join(", "), 96, &indent));
        }
        let see = label(tr!("explain.see"));
        s.push_str(&wrap(&see, &plain(course(&e.see)), 96, &indent));
        let confirm = label(tr!("explain.confirm"));
        s.push_str(&wrap(&confirm, &plain(course(&e.confirm)), 96, &indent));
        for c in &e.commands {
            let _ = writeln!(s, "  $ {}", i18n::course_command(c));
        }
        let fix = label(tr!("explain.fix"));
        s.push_str(&wrap(&fix, &plain(course(&e.fix)), 96, &indent));
        let read = label(tr!("explain.read"));
        let section = format!("{CHAPTER}#{}", e.id);
        match self.chapters_of(e).next() {
            Some(chapter) => {
                let chapter = format!("docs/src/{chapter}");
                let _ = writeln!(s, "{read}{}", tr!("explain.read_both", chapter, section));
            }
            None => {
                let _ = writeln!(s, "{read}{section}");
            }
        }
        s
    }
}

/// The entries that match a failing run's output (none when the tree cannot be read: a
/// suggestion is a courtesy, never a reason for `check` to fail).
pub fn suggestions(output: &str) -> Vec<Entry> {
    Tree::load(&crate::manifest::root())
        .map(|tree| tree.suggestions(output).into_iter().cloned().collect())
        .unwrap_or_default()
}

/// Markdown as plain text for the terminal: no backticks, bold marks or link targets.
fn plain(markdown: &str) -> String {
    let mut out = String::new();
    let mut rest = markdown;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match (after.find("]("), after.find(')')) {
            (Some(close), Some(end)) if close < end => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..close]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("**", "").replace('`', "")
}

/// `prefix` then `text`, its whitespace folded, wrapped at `width` columns; every line but the
/// first starts with `indent`; ends with a newline. Chinese text, which has no spaces between
/// words, may break between any two of its characters, but never before a closing punctuation
/// mark; a CJK character counts two columns.
fn wrap(prefix: &str, text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = prefix.to_owned();
    let mut fresh = true; // nothing but the prefix or indent on the line yet
    for (piece, spaced) in pieces(text) {
        let gap = usize::from(spaced);
        if !fresh && i18n::width(&line) + gap + i18n::width(piece) > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_owned();
            fresh = true;
        }
        if !fresh && spaced {
            line.push(' ');
        }
        line.push_str(piece);
        fresh = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The pieces a line may break between, each with whether a space comes before it: the words
/// of `text`, and within a word each CJK character apart (a closing punctuation mark stays with
/// what it follows).
fn pieces(text: &str) -> Vec<(&str, bool)> {
    let wide = |c: char| u32::from(c) >= 0x2E80;
    let closing = |c: char| "，。、；：？！）」』》】".contains(c);
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let mut start = 0;
        let mut first = true;
        let mut chars = word.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            // A piece ends after a wide character, or before one, unless what follows closes.
            let next = chars.peek().map(|&(_, n)| n);
            let end = match next {
                None => true,
                Some(n) if closing(n) => false,
                Some(n) => wide(c) || wide(n),
            };
            if end {
                let stop = at + c.len_utf8();
                out.push((&word[start..stop], first));
                first = false;
                start = stop;
            }
        }
    }
    out
}

/// The errno names the diagnosis tree may use, with their numbers.
#[rustfmt::skip]
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM), ("ENOENT", libc::ENOENT), ("ESRCH", libc::ESRCH),
    ("EINTR", libc::EINTR), ("EIO", libc::EIO), ("ENXIO", libc::ENXIO), ("E2BIG", libc::E2BIG),
    ("ENOEXEC", libc::ENOEXEC), ("EBADF", libc::EBADF), ("ECHILD", libc::ECHILD),
    ("EAGAIN", libc::EAGAIN), ("ENOMEM", libc::ENOMEM), ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT), ("EBUSY", libc::EBUSY), ("EEXIST", libc::EEXIST),
    ("ENOTDIR", libc::ENOTDIR), ("EISDIR", libc::EISDIR), ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE), ("EMFILE", libc::EMFILE), ("ENOTTY", libc::ENOTTY),
    ("ETXTBSY", libc::ETXTBSY), ("EFBIG", libc::EFBIG), ("ENOSPC", libc::ENOSPC),
    ("ESPIPE", libc::ESPIPE), ("EROFS", libc::EROFS), ("EPIPE", libc::EPIPE),
    ("ERANGE", libc::ERANGE), ("EDEADLK", libc::EDEADLK), ("ENAMETOOLONG", libc::ENAMETOOLONG),
    ("ENOSYS", libc::ENOSYS), ("ELOOP", libc::ELOOP), ("EOWNERDEAD", libc::EOWNERDEAD),
    ("ENOTRECOVERABLE", libc::ENOTRECOVERABLE), ("ETIMEDOUT", libc::ETIMEDOUT),
    ("EMSGSIZE", libc::EMSGSIZE), ("ENOTSOCK", libc::ENOTSOCK), ("ENOTCONN", libc::ENOTCONN),
    ("EADDRINUSE", libc::EADDRINUSE), ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("ECONNABORTED", libc::ECONNABORTED), ("ECONNRESET", libc::ECONNRESET),
    ("ECONNREFUSED", libc::ECONNREFUSED), ("EINPROGRESS", libc::EINPROGRESS),
    ("EALREADY", libc::EALREADY), ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ECANCELED", libc::ECANCELED), ("EPROTOTYPE", libc::EPROTOTYPE),
    ("EWOULDBLOCK", libc::EWOULDBLOCK), ("ENOBUFS", libc::ENOBUFS),
    ("ENOTEMPTY", libc::ENOTEMPTY), ("EXDEV", libc::EXDEV), ("ENOLCK", libc::ENOLCK),
    ("EOVERFLOW", libc::EOVERFLOW), ("ENODEV", libc::ENODEV), ("EIDRM", libc::EIDRM),
    ("ENOMSG", libc::ENOMSG), ("EDQUOT", libc::EDQUOT), ("EMLINK", libc::EMLINK),
    ("ENOTSUP", libc::ENOTSUP), ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("EPROTONOSUPPORT", libc::EPROTONOSUPPORT), ("ENOPROTOOPT", libc::ENOPROTOOPT),
    ("EDESTADDRREQ", libc::EDESTADDRREQ), ("ESHUTDOWN", libc::ESHUTDOWN),
    ("ENETUNREACH", libc::ENETUNREACH), ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("ESTALE", libc::ESTALE), ("EDOM", libc::EDOM), ("ETOOMANYREFS", libc::ETOOMANYREFS),
];

/// Every errno name the runner knows.
pub fn errno_names() -> impl Iterator<Item = &'static str> {
    ERRNOS.iter().map(|(name, _)| *name)
}

/// The number of an errno name the diagnosis tree may use.
pub fn errno_number(name: &str) -> Option<i32> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

/// Runs `cargo xtask explain [QUERY...]`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{}", tr!("explain.usage"));
        return Ok(ExitCode::SUCCESS);
    }
    let tree = Tree::load(&crate::manifest::root())?;
    if args.is_empty() {
        println!("{}\n", tr!("explain.tree"));
        for (branch, ids) in tree.branches() {
            println!("{}", course(branch));
            for e in tree.entries.iter().filter(|e| ids.contains(&e.id.as_str())) {
                let errnos = if e.errnos.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", e.errnos.join(", "))
                };
                println!("  {:<18} {}{}", e.id, course(&e.title), errnos);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let query = args.join(" ");
    let found = tree.lookup(&query);
    if found.is_empty() {
        eprintln!("{}", tr!("explain.no_match", query));
        return Ok(ExitCode::from(2));
    }
    for (i, e) in found.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", tree.render(e));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn markdown_is_shown_as_plain_text() {
        assert_eq!(
            super::plain("**Fix.** See [Pipes](03-pipes.md) and `wait()` [x]."),
            "Fix. See Pipes and wait() [x]."
        );
    }

    #[test]
    fn text_wraps_under_its_label() {
        let got = super::wrap("fix:  ", "one two three four", 14, "      ");
        assert_eq!(got, "fix:  one two\n      three\n      four\n");
    }

    #[test]
    fn chinese_wraps_between_characters_but_not_before_a_closing_mark() {
        // Width 20: `回` still fits on the first line (CJK characters count two columns), and `，`
        // stays with the character before it.
        let got = super::wrap("解决：", "用 `wait()` 回收子进程，然后退出。", 20, "      ");
        assert_eq!(
            got,
            "解决：用 `wait()` 回\n      收子进程，然后\n      退出。\n"
        );
    }
}
