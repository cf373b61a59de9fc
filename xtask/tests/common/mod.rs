//! What the runner's integration tests share: a private copy of the fixture course
//! (tests/fixtures/course) per test, the `xtask` binary run on it with `PROCLINGS_ROOT` and
//! `CARGO_TARGET_DIR` inside the copy, assertions on a run that print the whole run when they
//! fail, and a search of /proc for anything the fixture left alive.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A private copy of the fixture course.
pub struct Course {
    dir: tempfile::TempDir,
    /// Names every process the fixture's stubs start (they read it from `FIXTURE_MARKER`).
    pub marker: String,
}

impl Course {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = tempfile::Builder::new()
            .prefix(&format!("proclings-xtask-{tag}-"))
            .tempdir()
            .expect("a temporary directory");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course");
        copy_tree(&fixture, dir.path());
        let marker = format!(
            "pxfix-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        Course { dir, marker }
    }

    /// A copy of `built` at a new path, its build and progress included: the course as a
    /// learner has it after `mv proclings proclings2`.
    pub fn moved(built: &Course, tag: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("proclings-xtask-{tag}-"))
            .tempdir()
            .expect("a temporary directory");
        copy_tree_with(built.root(), dir.path(), true);
        Course {
            dir,
            marker: built.marker.clone(),
        }
    }

    /// A copy whose pristine mirror is written, as the maintainers' tree has it.
    pub fn with_pristine(tag: &str) -> Self {
        let course = Course::new(tag);
        course
            .xtask(&["sync"])
            .assert_code(0)
            .assert_stdout_has("pristine copies of 8 file(s)");
        course
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel))
            .unwrap_or_else(|e| panic!("cannot read {rel} in the course: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text)
            .unwrap_or_else(|e| panic!("cannot write {rel} in the course: {e}"));
    }

    /// Copies the fixture's solution of `name` over its stub, as a learner who solved it.
    pub fn solve(&self, name: &str) {
        let solution = self.read(&format!("solutions/01-basics/{name}.rs"));
        self.write(&format!("exercises/01-basics/{name}.rs"), &solution);
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.command_found_from(self.root(), args);
        cmd.env("PROCLINGS_ROOT", self.root());
        cmd
    }

    /// `xtask ARGS` started in `dir` without `PROCLINGS_ROOT` (nor the `CARGO_MANIFEST_DIR` that
    /// `cargo test` sets), so the runner must find its course from where it runs, as it does
    /// for a learner; the target directory is the course's own.
    pub fn command_found_from(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.args(args)
            .current_dir(dir)
            .env_remove("PROCLINGS_ROOT")
            .env_remove("CARGO_MANIFEST_DIR")
            .env("CARGO_TARGET_DIR", self.root().join("target"))
            .env("FIXTURE_MARKER", &self.marker)
            .env("NO_COLOR", "1")
            // The runner's words are matched in English, whatever the machine's locale.
            .env("PROCLINGS_LANG", "en")
            .env_remove("FORCE_HYPERLINK")
            .env_remove("PROCLINGS_WATCH_POLL");
        cmd
    }

    /// Runs `xtask ARGS` to its end, stdin closed.
    pub fn xtask(&self, args: &[&str]) -> Run {
        self.run(self.command(args), args)
    }

    pub fn run(&self, mut cmd: Command, args: &[&str]) -> Run {
        let output = cmd
            .stdin(Stdio::null())
            .output()
            .expect("the xtask binary starts");
        Run {
            args: args.join(" "),
            output,
        }
    }

    /// Processes still alive that the fixture started (its marker, or a cwd in the course).
    pub fn survivors(&self) -> Vec<String> {
        let mut found = Vec::new();
        let root = self.root().canonicalize().expect("the course exists");
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() {
                continue;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline"))
                .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
                .unwrap_or_default();
            let cwd_inside = std::fs::read_link(entry.path().join("cwd"))
                .is_ok_and(|cwd| cwd.starts_with(&root));
            if cmdline.contains(&self.marker) || cwd_inside {
                found.push(format!("pid {pid}: {cmdline}"));
            }
        }
        found
    }

    /// Asserts that no process the fixture started is still alive.
    pub fn assert_nothing_left(&self) {
        let survivors = self.survivors();
        assert!(
            survivors.is_empty(),
            "processes of the fixture still alive after xtask ended:\n{}",
            survivors.join("\n")
        );
    }

    /// The course's progress file.
    pub fn progress_file(&self) -> PathBuf {
        self.path(".proclings/progress.toml")
    }

    /// The course's progress file's text, empty when there is none.
    pub fn progress(&self) -> String {
        std::fs::read_to_string(self.path(".proclings/progress.toml")).unwrap_or_default()
    }
}

/// One finished xtask run.
pub struct Run {
    args: String,
    /// The run's status and output.
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn describe(&self) -> String {
        format!(
            "command: xtask {}\nstatus: {}\n--- stdout\n{}--- stderr\n{}",
            self.args,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.output.status.code(),
            Some(code),
            "expected exit code {code}\n{}",
            self.describe()
        );
        self
    }

    pub fn assert_stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout().contains(text),
            "expected stdout to contain {text:?}\n{}",
            self.describe()
        );
        self
    }

    pub fn assert_stdout_lacks(&self, text: &str) -> &Self {
        assert!(
            !self.stdout().contains(text),
            "expected stdout NOT to contain {text:?}\n{}",
            self.describe()
        );
        self
    }

    pub fn assert_stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr().contains(text),
            "expected stderr to contain {text:?}\n{}",
            self.describe()
        );
        self
    }
}

/// Copies a course without its build (`target/`).
pub fn copy_tree(from: &Path, to: &Path) {
    copy_tree_with(from, to, false);
}

/// Copies a course, its build (`target/`) included when `with_target`.
pub fn copy_tree_with(from: &Path, to: &Path, with_target: bool) {
    std::fs::create_dir_all(to).expect("create a directory");
    for entry in std::fs::read_dir(from).expect("read the fixture").flatten() {
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            if with_target || entry.file_name() != "target" {
                copy_tree_with(&entry.path(), &target, with_target);
            }
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("read a symlink");
            std::os::unix::fs::symlink(link, &target).expect("copy a symlink");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a fixture file");
        }
    }
}

/// The lines of a `tidy` run's misses on `course`.
pub fn tidy_misses(course: &Course) -> Vec<String> {
    let run = course.xtask(&["tidy"]);
    run.stdout()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("miss: ").map(str::to_owned))
        .collect()
}
