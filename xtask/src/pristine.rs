//! The pristine copies of every exercise's stub and test file, and `cargo xtask pristine`.
//!
//! `reset` must restore a stub and `check` must grade against the original tests even after a
//! learner has edited those files and committed the edits, so the originals cannot come from git
//! (`git checkout` would give back the learner's commit, and a tarball download has no history at
//! all). They live in a mirror committed with the course:
//!
//! ```text
//! xtask/pristine/exercises/DIR/NAME.rs.pristine        the stub as shipped
//! xtask/pristine/crates/DIR/tests/NAME.rs.pristine     its tests as shipped
//! ```
//!
//! Why this design:
//! - the mirror is plain files at mirrored paths, readable by anyone and by the runner without
//!   any tool, whatever the state of git;
//! - learners have no reason to touch it, and the `.pristine` suffix keeps it out of the way:
//!   an editor's file finder, rust-analyzer, rustfmt and the tidy `.rs` rules never take a copy
//!   for the file to edit;
//! - it cannot drift silently: the tidy check (part of `cargo xtask verify`) reports every copy
//!   that differs from the maintainers' exercises/ and crates/*/tests/ files, and
//!   `cargo xtask sync` rewrites the mirror from them in one step.
//!
//! Rejected: taking a snapshot on the learner's first run (wrong as soon as they edit before
//! running anything), and keeping only hashes (enough to detect an edit, not to undo it).
//!
//! Line endings are compared without their `\r`, so a checkout with CRLF conversion does not
//! make every file look edited.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::manifest::{Curriculum, ExercisePaths};
use crate::term;

/// The mirror's directory, relative to the workspace root.
pub const MIRROR: &str = "xtask/pristine";
/// The suffix every copy carries after its file name.
pub const SUFFIX: &str = ".pristine";
/// Where a learner's edited test file waits while the original is built (see [`TestSwap`]).
const SWAP_DIR: &str = ".proclings/edited-tests";

/// The pristine copy of `rel` (a path relative to the root, such as `exercises/01-x/a.rs`).
pub fn copy_of(root: &Path, rel: &Path) -> PathBuf {
    let mut name = rel.as_os_str().to_owned();
    name.push(SUFFIX);
    root.join(MIRROR).join(name)
}

/// The contents of the pristine copy of `rel`, if there is one.
pub fn original(root: &Path, rel: &Path) -> Option<Vec<u8>> {
    std::fs::read(copy_of(root, rel)).ok()
}

/// Whether two versions of a file are the same text, `\r` before a newline ignored.
pub fn same_text(a: &[u8], b: &[u8]) -> bool {
    fn normal(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        for (i, &byte) in bytes.iter().enumerate() {
            if byte == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                continue;
            }
            out.push(byte);
        }
        out
    }
    a == b || normal(a) == normal(b)
}

/// How a learner's file compares with its original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// It is the original.
    Pristine,
    /// It differs from the original.
    Edited,
    /// The file is gone.
    Missing,
    /// There is no pristine copy to compare with.
    NoCopy,
}

/// How the file `rel` under `root` compares with its pristine copy.
pub fn state(root: &Path, rel: &Path) -> State {
    let Some(original) = original(root, rel) else {
        return State::NoCopy;
    };
    match std::fs::read(root.join(rel)) {
        Ok(current) if same_text(&current, &original) => State::Pristine,
        Ok(_) => State::Edited,
        Err(_) => State::Missing,
    }
}

/// Every file the mirror keeps: each exercise's stub and test file, with its exercise id.
pub fn tracked(curriculum: &Curriculum) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for ex in &curriculum.exercises {
        let paths = curriculum.paths(ex);
        files.push((ex.id.clone(), paths.stub));
        files.push((ex.id.clone(), paths.test));
    }
    files
}

/// How the mirror differs from the files it copies: the copies to write (exercise id, file, its
/// text, whether there is no copy at all) and the mirror's files that copy nothing.
struct Drift {
    stale: Vec<(String, PathBuf, Vec<u8>, bool)>,
    orphans: Vec<PathBuf>,
}

fn drift(root: &Path, curriculum: &Curriculum) -> Drift {
    let tracked = tracked(curriculum);
    let mut stale = Vec::new();
    for (id, rel) in &tracked {
        // A missing stub or test file is reported by the curriculum rules.
        let Ok(current) = std::fs::read(root.join(rel)) else {
            continue;
        };
        match std::fs::read(copy_of(root, rel)) {
            Ok(original) if same_text(&current, &original) => {}
            old => stale.push((id.clone(), rel.clone(), current, old.is_err())),
        }
    }
    let wanted: Vec<PathBuf> = tracked.iter().map(|(_, rel)| copy_of(root, rel)).collect();
    let orphans = crate::tidy::files_under(&root.join(MIRROR))
        .into_iter()
        .filter(|f| !wanted.contains(f))
        .map(|f| f.strip_prefix(root).map(Path::to_path_buf).unwrap_or(f))
        .collect();
    Drift { stale, orphans }
}

/// The tidy rule: every stub and test file has a pristine copy identical to it, and the mirror
/// holds nothing else. Each miss is a sentence naming the file and the command that fixes it.
pub fn tidy_misses(root: &Path, curriculum: &Curriculum) -> Vec<String> {
    let drift = drift(root, curriculum);
    let stale = drift.stale.iter().map(|(id, rel, _, missing)| {
        let (rel, copy) = (rel.display(), copy_of(Path::new(""), rel));
        match missing {
            true => format!("{id}: no pristine copy of {rel} ({})", copy.display()),
            false => format!("{id}: {} differs from {rel}", copy.display()),
        }
    });
    let orphans = (drift.orphans.iter())
        .map(|f| format!("{}: a pristine copy of no curriculum file", f.display()));
    stale
        .chain(orphans)
        .map(|miss| format!("{miss}; run `cargo xtask sync`"))
        .collect()
}

/// Rewrites the mirror from the current stubs and test files (maintainers only: run it in a tree
/// whose exercises are the shipped ones). Returns the files written and removed.
pub fn refresh(
    root: &Path,
    curriculum: &Curriculum,
) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let drift = drift(root, curriculum);
    let mut written = Vec::new();
    for (_, rel, current, _) in drift.stale {
        let copy = copy_of(root, &rel);
        if let Some(dir) = copy.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&copy, current)
            .with_context(|| format!("cannot write {}", copy.display()))?;
        written.push(rel);
    }
    for rel in &drift.orphans {
        let file = root.join(rel);
        std::fs::remove_file(&file).with_context(|| format!("cannot remove {}", file.display()))?;
    }
    Ok((written, drift.orphans))
}

/// Runs `pristine`: lists the exercise files that differ from their originals. `--refresh`,
/// its former maintainers' option, is kept as another name for `cargo xtask sync`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    match args {
        [] => {}
        [flag] if flag == "--refresh" => return crate::sync::run(&[]),
        _ => {
            return Ok(crate::usage_error(
                "`pristine` takes no argument (maintainers: `cargo xtask sync` rewrites the copies)",
            ));
        }
    }
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let mut edited = 0;
    for (id, rel) in tracked(&curriculum) {
        let what = match state(&root, &rel) {
            State::Pristine => continue,
            State::Edited => "edited ",
            State::Missing => "missing",
            State::NoCopy => "no copy",
        };
        edited += 1;
        println!("  {what}  {}  {}", term::link(&root, &rel), term::dim(&id));
    }
    if edited == 0 {
        println!("Every exercise and test file is as shipped.");
    } else {
        println!(
            "{edited} file(s) differ from the originals; `cargo xtask reset ID` restores an exercise"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// While alive, the exercise's test file holds the original tests; dropping it puts the
/// learner's version back.
///
/// The tests are the spec: a learner who edits a test file sees it said plainly, and the check
/// still grades against the original tests. The original is written over the test file only for
/// the build (the test binary, once built, no longer needs its source), and the learner's
/// version waits in `.proclings/edited-tests/` meanwhile, so that even a runner killed during
/// the build loses nothing: the next check or watch puts it back first.
#[derive(Debug)]
pub struct TestSwap {
    file: PathBuf,
    parked: PathBuf,
}

impl TestSwap {
    /// When the test file of `paths` differs from its pristine copy, says so and swaps the
    /// original in; otherwise (or without a pristine copy) does nothing.
    pub fn begin(root: &Path, paths: &ExercisePaths) -> anyhow::Result<Option<Self>> {
        restore_parked(root);
        let rel = &paths.test;
        let Some(original) = original(root, rel) else {
            return Ok(None);
        };
        let file = root.join(rel);
        let learners = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(_) => {
                std::fs::write(&file, &original)
                    .with_context(|| format!("cannot restore {}", file.display()))?;
                println!(
                    "{} {} was missing: the original tests were put back",
                    term::yellow("note:"),
                    term::link(root, rel)
                );
                return Ok(None);
            }
        };
        if same_text(&learners, &original) {
            return Ok(None);
        }
        let parked = root.join(SWAP_DIR).join(rel);
        if let Some(dir) = parked.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&parked, &learners)
            .with_context(|| format!("cannot keep a copy of {}", file.display()))?;
        std::fs::write(&file, &original)
            .with_context(|| format!("cannot write the original tests to {}", file.display()))?;
        println!(
            "{} {} has been edited. The tests are the spec: this check grades your exercise \
             against the original tests; your version of the test file is left as it is.",
            term::yellow("note:"),
            term::link(root, rel)
        );
        Ok(Some(Self { file, parked }))
    }
}

impl Drop for TestSwap {
    fn drop(&mut self) {
        if let Err(e) = put_back(&self.parked, &self.file) {
            eprintln!(
                "warning: cannot put your version of {} back ({e}); it is kept at {}",
                self.file.display(),
                self.parked.display()
            );
        }
    }
}

/// Moves a parked learner's test file back over `file`.
fn put_back(parked: &Path, file: &Path) -> std::io::Result<()> {
    let learners = std::fs::read(parked)?;
    std::fs::write(file, learners)?;
    std::fs::remove_file(parked)
}

/// Puts back every learner's test file a killed run left parked.
fn restore_parked(root: &Path) {
    let dir = root.join(SWAP_DIR);
    let mut stack = vec![dir.clone()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|k| k.is_dir()) {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(&dir) {
                let file = root.join(rel);
                match put_back(&path, &file) {
                    Ok(()) => eprintln!(
                        "note: your edited {} was put back (an earlier check was stopped while \
                         it built the original tests)",
                        rel.display()
                    ),
                    Err(e) => eprintln!(
                        "warning: cannot put your version of {} back ({e}); it is kept at {}",
                        file.display(),
                        path.display()
                    ),
                }
            }
        }
    }
}

/// Keeps a copy of the learner's `rel` under `.proclings/backup/` before it is overwritten, and
/// returns where (relative to the root).
pub fn back_up(root: &Path, rel: &Path) -> anyhow::Result<PathBuf> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = rel.as_os_str().to_owned();
    name.push(format!(".{secs}"));
    let backup = Path::new(".proclings/backup").join(name);
    let target = root.join(&backup);
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::copy(root.join(rel), &target)
        .with_context(|| format!("cannot back up {} to {}", rel.display(), target.display()))?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_line_endings_do_not_count_as_an_edit() {
        assert!(same_text(b"a\r\nb\r\n", b"a\nb\n"));
        assert!(!same_text(b"a\nb\n", b"a\nc\n"));
        assert!(!same_text(b"a\rb", b"ab"));
    }

    #[test]
    fn tidy_finds_a_stale_a_missing_and_an_orphan_copy() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write(
            "curriculum.toml",
            "[[topic]]\nname = \"t\"\ndir = \"01-t\"\ntitle = \"T\"\nweek = 1\ndays = \"1\"\n\n\
             [[exercise]]\nid = \"t/a\"\nweek = 1\nday = 1\ntitle = \"A\"\n",
        );
        write("exercises/01-t/a.rs", "//! stub\n");
        write("crates/01-t/tests/a.rs", "//! tests\n");
        let curriculum = Curriculum::load(root).expect("the curriculum loads");
        assert_eq!(tidy_misses(root, &curriculum).len(), 2, "no copies yet");
        refresh(root, &curriculum).expect("refresh");
        assert!(tidy_misses(root, &curriculum).is_empty());

        write("exercises/01-t/a.rs", "//! stub, changed by a maintainer\n");
        write(
            "xtask/pristine/exercises/01-t/gone.rs.pristine",
            "//! old\n",
        );
        let misses = tidy_misses(root, &curriculum);
        assert_eq!(misses.len(), 2, "got {misses:?}");
        assert!(
            misses[0].contains("differs from exercises/01-t/a.rs"),
            "got {misses:?}"
        );
        assert!(misses[1].contains("gone.rs.pristine"), "got {misses:?}");

        let (written, removed) = refresh(root, &curriculum).expect("refresh");
        assert_eq!(written, [Path::new("exercises/01-t/a.rs")]);
        assert_eq!(removed.len(), 1);
        assert!(tidy_misses(root, &curriculum).is_empty());
    }

    #[test]
    fn a_copy_sits_at_the_mirrored_path_with_the_suffix() {
        let copy = copy_of(Path::new("/r"), Path::new("exercises/01-a/x.rs"));
        assert_eq!(
            copy,
            Path::new("/r/xtask/pristine/exercises/01-a/x.rs.pristine")
        );
    }
}
