//! The course on disk: every crate the workspace needs is fetched once, on the first run (and
//! again after `Cargo.lock` changes), so that a learner who goes offline after setting up can
//! still build every topic.
//!
//! `cargo fetch --target HOST` downloads the sources of every package of `Cargo.lock` that this
//! platform builds (dev-dependencies included), with cargo's own progress; a marker in
//! `.proclings/` remembers which `Cargo.lock` was fetched. `doctor` asks cargo, offline, whether
//! everything is there.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cargo::cargo_program;
use crate::i18n::tr;
use crate::term;

/// The marker: the fingerprint of the `Cargo.lock` whose crates are on disk.
fn marker(root: &Path) -> PathBuf {
    root.join(".proclings").join("fetched")
}

/// A fingerprint of `Cargo.lock` and the host, as the marker keeps it.
fn fingerprint(root: &Path, host: &str) -> Option<String> {
    let lock = std::fs::read(root.join("Cargo.lock")).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    lock.hash(&mut hasher);
    host.hash(&mut hasher);
    Some(format!("{:016x}", hasher.finish()))
}

/// The host's target triple, from `rustc -vV`.
pub fn host_triple() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .arg("-vV")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
}

/// Fetches every crate the course needs when this has not been done for today's `Cargo.lock`
/// (a warning, not an error, when it fails: the course still works while online).
pub fn ensure(root: &Path) {
    if std::env::var_os("PROCLINGS_NO_FETCH").is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    let Some(host) = host_triple() else {
        return;
    };
    let Some(wanted) = fingerprint(root, &host) else {
        return;
    };
    if std::fs::read_to_string(marker(root)).is_ok_and(|m| m.trim() == wanted) {
        return;
    }
    eprintln!("{}", term::bold(tr!("fetch.fetching")));
    let status = Command::new(cargo_program())
        .args(["fetch", "--target", &host])
        .current_dir(root)
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {
            let path = marker(root);
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(&path, format!("{wanted}\n")) {
                eprintln!("warning: cannot write {} ({e})", path.display());
            }
        }
        Ok(s) => eprintln!("{}", tr!("fetch.failed", status = s)),
        Err(e) => eprintln!("{}", tr!("fetch.cannot_run", error = e)),
    }
}

/// Whether every crate the course needs is on disk: `Ok` with a sentence, or `Err` with what
/// to do.
pub fn offline_ready(root: &Path) -> Result<String, String> {
    let host = host_triple().ok_or("cannot ask rustc for this machine's target")?;
    let output = Command::new(cargo_program())
        .args(["fetch", "--offline", "--target", &host])
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo ({e})"))?;
    if output.status.success() {
        Ok(tr!("fetch.offline_ok").to_owned())
    } else {
        let why = String::from_utf8_lossy(&output.stderr);
        let first = why
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or(tr!("fetch.some_missing"))
            .trim();
        Err(tr!("fetch.offline_missing", first))
    }
}
