//! Building with cargo and reading its JSON messages: which executables it produced.
//!
//! With `--message-format=json-render-diagnostics` cargo writes one JSON object per line on
//! stdout and renders compiler diagnostics on stderr exactly as a plain build would, so the
//! user sees errors as usual while the runner reads `compiler-artifact` messages.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

/// One executable cargo built.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The directory of the package that owns it.
    pub package_dir: PathBuf,
    /// The target's name (the test file's or binary's name).
    pub target: String,
    /// The target's kinds (`test`, `bin`, `lib`, ...).
    pub kinds: Vec<String>,
    /// Built as a test harness.
    pub test: bool,
    /// The executable.
    pub executable: PathBuf,
}

impl Artifact {
    /// Whether this is the integration-test binary `target` of the package in `package_dir`.
    pub fn is_test(&self, package_dir: &Path, target: &str) -> bool {
        self.target == target && self.kinds.iter().any(|k| k == "test") && self.is_in(package_dir)
    }

    /// Whether this is the plain binary `target` of the package in `package_dir`.
    pub fn is_bin(&self, package_dir: &Path, target: &str) -> bool {
        self.target == target
            && !self.test
            && self.kinds.iter().any(|k| k == "bin")
            && self.is_in(package_dir)
    }

    fn is_in(&self, package_dir: &Path) -> bool {
        let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        canon(&self.package_dir) == canon(package_dir)
    }
}

/// The result of a build.
#[derive(Debug)]
pub struct Build {
    /// cargo exited with success.
    pub success: bool,
    /// The executables it produced (also when some other target failed).
    pub artifacts: Vec<Artifact>,
    /// What cargo wrote on stderr, when [`build_capturing`] was asked to keep it.
    pub diagnostics: String,
}

/// Runs `cargo ARGS --message-format=json-render-diagnostics` in `root`, stderr shown as is.
pub fn build(root: &Path, args: &[&str]) -> anyhow::Result<Build> {
    build_capturing(root, args, false)
}

/// [`build`], which with `keep` also keeps what cargo writes on stderr (still showing it).
pub fn build_capturing(root: &Path, args: &[&str], keep: bool) -> anyhow::Result<Build> {
    let mut child = Command::new(cargo_program())
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if keep {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .context("cannot run cargo")?;
    // stderr is read on a thread, so that neither pipe can fill up while the other is read.
    let diagnostics = child.stderr.take().map(|stderr| {
        std::thread::spawn(move || {
            let mut kept = String::new();
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                eprintln!("{line}");
                kept.push_str(&line);
                kept.push('\n');
            }
            kept
        })
    });
    let mut artifacts = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.context("cannot read cargo's output")?;
            if let Some(artifact) = parse_artifact(&line) {
                artifacts.push(artifact);
            }
        }
    }
    let status = child.wait().context("cannot wait for cargo")?;
    Ok(Build {
        success: status.success(),
        artifacts,
        diagnostics: diagnostics
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default(),
    })
}

/// The cargo that runs this runner (`CARGO` is set by `cargo run`), or `cargo` from PATH.
pub fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn parse_artifact(line: &str) -> Option<Artifact> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let executable = message["executable"].as_str()?;
    let manifest = Path::new(message["manifest_path"].as_str()?);
    Some(Artifact {
        package_dir: manifest.parent()?.to_path_buf(),
        target: message["target"]["name"].as_str()?.to_owned(),
        kinds: message["target"]["kind"]
            .as_array()?
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
        test: message["profile"]["test"].as_bool().unwrap_or(false),
        executable: PathBuf::from(executable),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_test_artifact_message_gives_its_executable() {
        let line = r#"{"reason":"compiler-artifact","package_id":"x","manifest_path":"/r/crates/01-a/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"spawn","src_path":"/r/crates/01-a/tests/spawn.rs"},"profile":{"test":true},"features":[],"filenames":["/t/debug/deps/spawn-1"],"executable":"/t/debug/deps/spawn-1","fresh":true}"#;
        let artifact = super::parse_artifact(line).expect("an artifact");
        assert_eq!(artifact.target, "spawn");
        assert_eq!(
            artifact.executable,
            std::path::Path::new("/t/debug/deps/spawn-1")
        );
        assert!(artifact.test);
        assert!(super::parse_artifact(r#"{"reason":"build-finished","success":true}"#).is_none());
    }
}
