//! The learner's progress: `.proclings/progress.toml` (gitignored), keyed by exercise id.
//!
//! ```toml
//! version = 2
//!
//! ["command-basics/spawn_and_wait"]
//! done = true
//! hint = 2
//! ```
//!
//! Keying by id means reordering or adding exercises never loses anyone's work, and an entry
//! whose exercise left the curriculum is kept and ignored. A file that cannot be read or parsed
//! is reported, kept as a timestamped backup, and recovered line by line as far as possible: the
//! runner never crashes on it and never drops progress silently.
//!
//! `version` is the file's format: 1 (no `version` key) is migrated when read; a version newer
//! than [`FORMAT`] comes from a newer course and is refused with a clear message, the file left
//! as it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The format of the progress file this runner writes.
pub const FORMAT: i64 = 2;

/// What is known about one exercise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its check has passed once.
    #[serde(default)]
    pub done: bool,
    /// How many of its hints have been shown.
    #[serde(default)]
    pub hint: u32,
    /// The learner chose it (`check ID`, `watch ID`): it is the current exercise until it
    /// passes. At most one entry has it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub chosen: bool,
}

/// The progress file and its entries.
#[derive(Debug)]
pub struct Progress {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl Progress {
    /// The progress file under `root`.
    pub fn path_under(root: &Path) -> PathBuf {
        root.join(".proclings").join("progress.toml")
    }

    /// Loads the progress under `root`; a missing file is an empty progress, a corrupt one is
    /// reported on stderr, backed up and recovered, an older format is migrated; `Err` for a
    /// file from a newer course, which is left as it is.
    pub fn load(root: &Path) -> anyhow::Result<Self> {
        let path = Self::path_under(root);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    path,
                    entries: BTreeMap::new(),
                });
            }
            Err(e) => {
                let reason = format!("cannot be read ({e})");
                return Ok(Self::recover(path, &[], &reason));
            }
        };
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| format!("is not UTF-8 text ({e})"))
            .and_then(|text| {
                toml::from_str::<toml::Table>(text)
                    .map_err(|e| format!("is not valid ({})", e.message()))
            });
        let mut table = match parsed {
            Ok(table) => table,
            Err(reason) => return Ok(Self::recover(path, &bytes, &reason)),
        };
        let version = match table.remove("version") {
            None => 1,
            Some(toml::Value::Integer(v)) => v,
            Some(other) => {
                let reason = format!("has a `version` that is not a number ({other})");
                return Ok(Self::recover(path, &bytes, &reason));
            }
        };
        if version > FORMAT {
            anyhow::bail!(
                "the progress file {} has format version {version}, written by a newer version \
                 of the course; this runner reads up to version {FORMAT}. Update the course \
                 (`git pull`) to use it; the file is left as it is",
                path.display()
            );
        }
        let entries = match table.try_into::<BTreeMap<String, Entry>>() {
            Ok(entries) => entries,
            Err(e) => {
                let reason = format!("is not valid ({})", e.message());
                return Ok(Self::recover(path, &bytes, &reason));
            }
        };
        let progress = Self { path, entries };
        if version < FORMAT {
            // Format 1 differs only in lacking the version: writing the file migrates it.
            progress.save()?;
        }
        Ok(progress)
    }

    /// Reports a bad file, moves it to a backup, salvages what it can and writes the result.
    fn recover(path: PathBuf, bytes: &[u8], reason: &str) -> Self {
        let entries = salvage(&String::from_utf8_lossy(bytes));
        let backup = backup_path(&path);
        let kept = match std::fs::rename(&path, &backup) {
            Ok(()) => format!("the file was kept as {}", backup.display()),
            Err(e) => format!("it could not be moved aside ({e})"),
        };
        eprintln!(
            "warning: the progress file {} {reason}; {kept}; recovered {} exercise(s) from it",
            path.display(),
            entries.len()
        );
        let progress = Self { path, entries };
        if let Err(e) = progress.save() {
            eprintln!("warning: {e:#}");
        }
        progress
    }

    /// The entry of `id` (default when unknown).
    pub fn get(&self, id: &str) -> Entry {
        self.entries.get(id).cloned().unwrap_or_default()
    }

    /// Whether `id` is done.
    pub fn is_done(&self, id: &str) -> bool {
        self.entries.get(id).is_some_and(|e| e.done)
    }

    /// Marks `id` done (and no longer chosen: a chosen exercise is current until it passes).
    pub fn mark_done(&mut self, id: &str) {
        let entry = self.entries.entry(id.to_owned()).or_default();
        entry.done = true;
        entry.chosen = false;
    }

    /// Makes `id` the learner's chosen exercise (the only one), while it is not done.
    pub fn choose(&mut self, id: &str) {
        for entry in self.entries.values_mut() {
            entry.chosen = false;
        }
        if !self.is_done(id) {
            self.entries.entry(id.to_owned()).or_default().chosen = true;
        }
    }

    /// The exercise the learner chose, if any.
    pub fn chosen(&self) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, e)| e.chosen && !e.done)
            .map(|(id, _)| id.as_str())
    }

    /// Marks `id` pending again (its hint level is kept).
    pub fn mark_pending(&mut self, id: &str) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.done = false;
        }
    }

    /// Records that `level` hints of `id` have been shown.
    pub fn set_hint_level(&mut self, id: &str, level: u32) {
        self.entries.entry(id.to_owned()).or_default().hint = level;
    }

    /// Writes the file (through a temporary file and a rename, so it is never half written).
    pub fn save(&self) -> anyhow::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let text = format!(
            "# proclings progress, keyed by exercise id (written by `cargo xtask`).\n\
             version = {FORMAT}\n\n{}",
            toml::to_string(&self.entries).context("cannot serialize the progress")?
        );
        let tmp = self
            .path
            .with_extension(format!("toml.tmp{}", std::process::id()));
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// A free name next to `path` carrying the current time: `progress.toml.corrupt-SECONDS[-N]`.
fn backup_path(path: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{}.corrupt-{secs}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

/// Reads what it can from a damaged progress file: `[id]` headers followed by `done = ...` and
/// `hint = ...` lines; every other line is skipped.
fn salvage(text: &str) -> BTreeMap<String, Entry> {
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let id = header.trim().trim_matches(['"', '\'']).trim();
            current =
                (id.contains('/') && !id.contains(['"', '[', ']', '='])).then(|| id.to_owned());
            continue;
        }
        let (Some(id), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "done" if value == "true" || value == "false" => {
                entries.entry(id.clone()).or_default().done = value == "true";
            }
            "hint" => {
                if let Ok(level) = value.parse::<u32>() {
                    entries.entry(id.clone()).or_default().hint = level;
                }
            }
            _ => {}
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salvage_keeps_the_readable_entries_of_a_damaged_file() {
        let text = "[\"a/one\"]\ndone = true\nhint = 2\n[\"b/two\"\ngarbage ===\n[\"c/three\"]\nhint = 1\ndone = maybe\n";
        let entries = salvage(text);
        assert_eq!(
            entries.get("a/one"),
            Some(&Entry {
                done: true,
                hint: 2,
                chosen: false
            })
        );
        assert_eq!(
            entries.get("c/three"),
            Some(&Entry {
                done: false,
                hint: 1,
                chosen: false
            })
        );
        assert!(!entries.contains_key("b/two"), "got {entries:?}");
    }
}
