//! `par` (the week-3 practice project) against `xargs -P` and GNU parallel: each runs the same
//! number of `/bin/true`, with the same number at once.
//!
//! The benchmark needs the `par` binary built from the reference solution in release mode.
//! [`par_binary`] finds it: `PROCLINGS_PAR` names a binary to use as it is; otherwise it runs
//! `cargo build --release -p async-processes --features solution --bin par` into a target
//! directory of its own (`<target>/par-bench`), because the `cargo bench` that runs this code
//! holds the lock of the workspace's target directory until the benchmarks end. The first run
//! compiles par's dependencies once; later runs find it up to date in a fraction of a second.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The environment variable naming a `par` binary to benchmark instead of building one.
pub const PAR_ENV: &str = "PROCLINGS_PAR";

/// The `par` binary to benchmark: `$PROCLINGS_PAR`, or the release build of the reference
/// solution, built now if needed (see the module's documentation).
pub fn par_binary() -> io::Result<PathBuf> {
    solution_binary("async-processes", "par", PAR_ENV)
}

/// A binary of the workspace built from the reference solutions in release mode: `$env` names
/// one to use as it is; otherwise `cargo build --release -p PACKAGE --features solution --bin
/// BIN` into `<target>/BIN-bench` (see the module's documentation for why a target of its own).
pub fn solution_binary(package: &str, bin: &str, env: &str) -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(io::Error::other(format!(
                "{env}={} is not a file",
                path.display()
            )))
        };
    }
    let dir = build_solutions(&[package], &[bin], &format!("{bin}-bench"))?;
    Ok(dir.join(bin))
}

/// Several binaries of the workspace, built from the reference solutions in release mode in one
/// `cargo build --release -p P... --features solution --bin B...` into `<target>/NAME` (a target
/// of its own, as for [`solution_binary`]); returns the directory that holds them, where a
/// program that looks for a sibling next to its own executable finds it.
pub fn build_solutions(packages: &[&str], bins: &[&str], name: &str) -> io::Result<PathBuf> {
    // Cargo sets CARGO_MANIFEST_DIR (this crate's directory) and CARGO for the benches it runs.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| {
        io::Error::other(
            "CARGO_MANIFEST_DIR is not set: run through `cargo bench`, or name the binaries to use",
        )
    })?;
    let root = Path::new(&manifest)
        .ancestors()
        .nth(2)
        .ok_or_else(|| io::Error::other("crates/bench has no workspace root above it"))?
        .to_owned();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join(name);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    eprintln!(
        "building {} (release, reference solution) into {}",
        bins.join(", "),
        target.display()
    );
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args(["build", "--quiet", "--release"]);
    for package in packages {
        command.args(["-p", package]);
    }
    command.args(["--features", "solution"]);
    for bin in bins {
        command.args(["--bin", bin]);
    }
    let status = command
        .arg("--target-dir")
        .arg(&target)
        .stdin(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "building {} failed: {status}",
            bins.join(", ")
        )));
    }
    Ok(target.join("release"))
}

/// Whether `program` is found on `PATH` (GNU parallel is optional).
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Whether `program` (a name looked up on `PATH`, or a path) is GNU parallel: its `--version`
/// names it. Another `parallel` exists: moreutils ships one with other options, which given
/// GNU's runs nothing and still exits 0, so "on PATH" is not enough to measure it.
pub fn is_gnu_parallel(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| {
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("GNU parallel")
        })
}

/// Runs `program args`, feeding `input` on stdin, discarding its output; fails unless it
/// exits 0.
pub fn run_fed(program: &Path, args: &[&str], input: &[u8]) -> io::Result<()> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // All of it before waiting: the tool reads its input while it runs the commands.
    let fed = stdin.write_all(input);
    drop(stdin);
    let status = child.wait()?;
    fed?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{} {args:?} failed: {status}",
            program.display()
        )))
    }
}

/// `count` lines of `line`.
pub fn lines(line: &str, count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..count {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}
