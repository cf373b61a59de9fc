//! The curriculum manifest, `curriculum.toml`: topics and exercises in learning order.
//!
//! Every path of an exercise is derived from its id `TOPIC/NAME` and its topic's `dir`, so the
//! manifest never repeats them: the stub `exercises/DIR/NAME.rs`, the solution
//! `solutions/DIR/NAME.rs`, the tests `crates/DIR/tests/NAME.rs` (test target `NAME` of package
//! `TOPIC`) and the chapter section `docs/src/DIR.md#NAME`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// The run-time limit of an exercise's tests when the manifest gives none.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// The workspace root, found at run time (never baked in at build time, so a course that is
/// moved, renamed or cloned twice beside one shared target directory still finds its own
/// files), in this order:
/// 1. `PROCLINGS_ROOT`, when set (the runner's own tests point it at a fixture course);
/// 2. the parent of `CARGO_MANIFEST_DIR`, which `cargo run` (and so `cargo xtask`) sets for the
///    process it starts, when a `curriculum.toml` is there;
/// 3. the nearest directory holding a `curriculum.toml`, from the current directory up;
/// 4. the same, from the runner's executable up (`target/debug/xtask` run by hand).
///
/// When none applies, the current directory (loading the curriculum then says what is missing).
pub fn root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(find_root).clone()
}

fn find_root() -> PathBuf {
    let is_root = |dir: &Path| dir.join("curriculum.toml").is_file();
    if let Some(dir) = std::env::var_os("PROCLINGS_ROOT").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(parent) = std::env::var_os("CARGO_MANIFEST_DIR")
        .as_deref()
        .map(Path::new)
        .and_then(Path::parent)
        .filter(|dir| is_root(dir))
    {
        return parent.to_path_buf();
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let exe = std::env::current_exe().ok();
    [Some(cwd.as_path()), exe.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|start| start.ancestors().find(|dir| is_root(dir)))
        .map_or(cwd.clone(), Path::to_path_buf)
}

/// The whole manifest.
#[derive(Debug, Deserialize)]
pub struct Curriculum {
    /// The topics, in learning order.
    #[serde(rename = "topic", default)]
    pub topics: Vec<Topic>,
    /// The exercises, in learning order.
    #[serde(rename = "exercise", default)]
    pub exercises: Vec<Exercise>,
}

/// One topic: one crate, one chapter.
#[derive(Debug, Clone, Deserialize)]
pub struct Topic {
    /// The topic's name: the first part of its exercises' ids and its package's name.
    pub name: String,
    /// Its directory under crates/, exercises/, solutions/ and its chapter's file name.
    pub dir: String,
    /// Its title.
    pub title: String,
    /// The week it belongs to.
    pub week: u32,
    /// The days of that week, such as `1-3`.
    pub days: String,
    /// What the learner builds, for the README's curriculum table (tidy asks for it).
    pub summary: Option<String>,
}

/// One exercise.
#[derive(Debug, Clone, Deserialize)]
pub struct Exercise {
    /// `TOPIC/NAME`.
    pub id: String,
    /// The week it belongs to.
    pub week: u32,
    /// The day of that week.
    pub day: u32,
    /// Its title.
    pub title: String,
    /// Graded hints: a nudge, then the API, then the approach.
    #[serde(default)]
    pub hints: Vec<String>,
    /// Seconds its tests may run (build time not counted).
    pub timeout: Option<u64>,
    /// Exercises this one builds on (its tests or its code call theirs), by id: they come
    /// first, and `check`, `list` and `status` name one that is not done yet.
    #[serde(default)]
    pub requires: Vec<String>,
    /// The cap on the processes and threads its tests may run at once (default 1,024), for an
    /// exercise whose tests legitimately start more.
    pub tasks: Option<u32>,
}

impl Exercise {
    /// The topic part of the id.
    pub fn topic(&self) -> &str {
        self.id.split_once('/').map_or("", |(topic, _)| topic)
    }

    /// The name part of the id: the module, test target and chapter anchor.
    pub fn name(&self) -> &str {
        self.id.split_once('/').map_or(&self.id, |(_, name)| name)
    }

    /// The cap on its tests' tasks (processes and threads).
    pub fn task_cap(&self) -> u32 {
        self.tasks.unwrap_or(sandbox::contain::DEFAULT_TASKS)
    }

    /// The run-time limit of its tests.
    pub fn time_limit(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }
}

/// The files of one exercise, relative to the workspace root.
#[derive(Debug, Clone)]
pub struct ExercisePaths {
    /// The package that holds its tests.
    pub package: String,
    /// The test target (= the exercise name).
    pub test_target: String,
    /// `exercises/DIR/NAME.rs`.
    pub stub: PathBuf,
    /// `solutions/DIR/NAME.rs`.
    pub solution: PathBuf,
    /// `crates/DIR/tests/NAME.rs`.
    pub test: PathBuf,
    /// `crates/DIR`.
    pub crate_dir: PathBuf,
    /// `docs/src/DIR.md`.
    pub chapter: PathBuf,
    /// `docs/src/DIR.md#NAME`, as shown to the learner.
    pub section: String,
}

impl Curriculum {
    /// Reads and checks `curriculum.toml` under `root`.
    pub fn load(root: &Path) -> anyhow::Result<Self> {
        let path = root.join("curriculum.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let curriculum: Curriculum =
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        let mut seen = std::collections::HashSet::new();
        for ex in &curriculum.exercises {
            if !seen.insert(ex.id.as_str()) {
                bail!("{}: exercise id `{}` appears twice", path.display(), ex.id);
            }
            if curriculum.topic(ex.topic()).is_none() || ex.name().is_empty() {
                bail!(
                    "{}: exercise id `{}` is not TOPIC/NAME with a [[topic]] named TOPIC",
                    path.display(),
                    ex.id
                );
            }
        }
        Ok(curriculum)
    }

    /// The topic called `name`.
    pub fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// The exercise with this id.
    pub fn find(&self, id: &str) -> Option<&Exercise> {
        self.exercises.iter().find(|e| e.id == id)
    }

    /// The prerequisites of `ex` that `is_done` says are not done, in course order.
    pub fn undone_requirements<'c>(
        &'c self,
        ex: &Exercise,
        is_done: impl Fn(&str) -> bool,
    ) -> Vec<&'c Exercise> {
        self.exercises
            .iter()
            .filter(|e| ex.requires.contains(&e.id) && !is_done(&e.id))
            .collect()
    }

    /// The files of `ex` (whose topic `load` has checked exists).
    pub fn paths(&self, ex: &Exercise) -> ExercisePaths {
        let dir = self
            .topic(ex.topic())
            .map_or(ex.topic(), |t| t.dir.as_str());
        let name = ex.name();
        ExercisePaths {
            package: ex.topic().to_owned(),
            test_target: name.to_owned(),
            stub: Path::new("exercises").join(dir).join(format!("{name}.rs")),
            solution: Path::new("solutions").join(dir).join(format!("{name}.rs")),
            test: Path::new("crates")
                .join(dir)
                .join("tests")
                .join(format!("{name}.rs")),
            crate_dir: Path::new("crates").join(dir),
            chapter: Path::new("docs/src").join(format!("{dir}.md")),
            section: format!("docs/src/{dir}.md#{name}"),
        }
    }

    /// Up to three ids close to `wanted` (by edit distance or as a substring), best first.
    pub fn suggest(&self, wanted: &str) -> Vec<&str> {
        let wanted_lower = wanted.to_lowercase();
        let mut scored: Vec<(usize, &str)> = self
            .exercises
            .iter()
            .filter_map(|e| {
                let id = e.id.as_str();
                let by_id = edit_distance(&wanted_lower, &id.to_lowercase());
                let by_name = edit_distance(&wanted_lower, &e.name().to_lowercase());
                let mut score = by_id.min(by_name);
                if !wanted_lower.is_empty() && id.to_lowercase().contains(&wanted_lower) {
                    score = 0;
                }
                let allowed = (wanted.chars().count() / 3).max(2);
                (score <= allowed).then_some((score, id))
            })
            .collect();
        scored.sort();
        scored.into_iter().take(3).map(|(_, id)| id).collect()
    }
}

/// The Levenshtein distance between `a` and `b`, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
