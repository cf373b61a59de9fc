//! Tests for `command-basics/spawn_errors`: real spawn failures (a missing program, a file
//! without execute permission, a directory, a missing or bogus working directory, an argument
//! list that is too long) must be diagnosed, and a good command must start.
//!
//! None of these depends on being root: root may read and write any file, but execve(2) still
//! refuses a file that has no execute bit at all, and a missing directory is missing for
//! everyone.
//!
//! Run them with `cargo xtask check command-basics/spawn_errors`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use command_basics::spawn_errors::{SpawnError, spawn_checked};
use testkit::{ChildGuard, DEFAULT_DEADLINE};

/// Runs `spawn_checked` on a command that must fail; kills and reaps the child if it started.
#[track_caller]
fn spawn_err(cmd: &mut Command) -> SpawnError {
    match spawn_checked(cmd) {
        Ok(child) => {
            let mut guard = ChildGuard::new(child);
            let status = guard.wait(DEFAULT_DEADLINE);
            panic!("{cmd:?} was expected not to start, but it ran and {status}")
        }
        Err(e) => e,
    }
}

#[test]
fn a_program_that_can_start_is_spawned() {
    let dir = testkit::temp_dir("spawn-ok");
    let mut cmd = testkit::sh("exit 7");
    cmd.current_dir(dir.path());
    let child = spawn_checked(&mut cmd)
        .unwrap_or_else(|e| panic!("{cmd:?} in an existing directory must start, got: {e}"));
    let status = ChildGuard::new(child).wait(DEFAULT_DEADLINE);
    assert_eq!(
        status.code(),
        Some(7),
        "the spawned child is the real one: `exit 7`"
    );
}

#[test]
fn a_name_not_on_path_is_not_found() {
    let name = testkit::unique_name("no-such-program");
    let err = spawn_err(&mut Command::new(&name));
    assert!(
        matches!(&err, SpawnError::NotFound { program } if *program == name),
        "ENOENT for a bare name: expected NotFound {{ program: {name:?} }}, got {err:?}"
    );
    assert!(
        err.to_string().contains(&name),
        "the message names the program: {err}"
    );
}

#[test]
fn a_path_that_does_not_exist_is_not_found() {
    let dir = testkit::temp_dir("spawn-missing");
    let path = dir.path().join("missing-program");
    let err = spawn_err(&mut Command::new(&path));
    assert!(
        matches!(err, SpawnError::NotFound { .. }),
        "ENOENT for {}: expected NotFound, got {err:?}",
        path.display()
    );
}

#[test]
fn a_file_without_execute_permission_is_not_executable() {
    let dir = testkit::temp_dir("spawn-noexec");
    let path = dir.path().join("script.sh");
    fs::write(&path, "#!/bin/sh\nexit 0\n").expect("write the script");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod 644");
    let err = spawn_err(&mut Command::new(&path));
    assert!(
        matches!(&err, SpawnError::NotExecutable { program } if program.ends_with("script.sh")),
        "EACCES for a mode 644 file: expected NotExecutable, got {err:?}"
    );
    assert!(
        err.to_string().contains("script.sh"),
        "the message names the program: {err}"
    );
}

#[test]
fn a_directory_is_not_executable() {
    let dir = testkit::temp_dir("spawn-dir");
    let err = spawn_err(&mut Command::new(dir.path()));
    assert!(
        matches!(err, SpawnError::NotExecutable { .. }),
        "execve of a directory fails with EACCES: expected NotExecutable, got {err:?}"
    );
}

#[test]
fn a_missing_working_directory_is_blamed_not_the_program() {
    let dir = testkit::temp_dir("spawn-nocwd");
    let gone = dir.path().join("does-not-exist");
    let err = spawn_err(Command::new("/bin/true").current_dir(&gone));
    match &err {
        SpawnError::BadWorkingDir { dir, .. } => assert_eq!(dir, &gone, "the bad directory"),
        other => panic!(
            "/bin/true exists; the working directory {} does not. Both give ENOENT, so look at \
             the directory: expected BadWorkingDir, got {other:?}",
            gone.display()
        ),
    }
    assert!(
        err.to_string().contains("does-not-exist"),
        "the message names the directory: {err}"
    );
}

#[test]
fn a_file_as_working_directory_is_a_bad_working_directory() {
    let dir = testkit::temp_dir("spawn-filecwd");
    let file = dir.path().join("plain-file");
    fs::write(&file, "not a directory\n").expect("write the file");
    let err = spawn_err(Command::new("/bin/true").current_dir(&file));
    assert!(
        matches!(err, SpawnError::BadWorkingDir { .. }),
        "chdir into a plain file fails (ENOTDIR): expected BadWorkingDir, got {err:?}"
    );
}

#[test]
fn an_executable_file_is_not_a_working_directory_either() {
    // Execute permission on a FILE is not search permission on a directory: only a directory
    // can be entered, whatever its mode bits say.
    let dir = testkit::temp_dir("spawn-execcwd");
    let file = dir.path().join("a-script");
    fs::write(&file, "#!/bin/sh\n").expect("write the file");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).expect("chmod 755");
    let err = spawn_err(Command::new("/bin/true").current_dir(&file));
    assert!(
        matches!(err, SpawnError::BadWorkingDir { .. }),
        "chdir into an executable file fails too (ENOTDIR): expected BadWorkingDir, got {err:?}"
    );
}

#[test]
fn a_missing_program_in_a_good_working_directory_is_not_found() {
    // Setting a working directory must not make every failure its fault: here the directory is
    // fine and the program is what is missing.
    let dir = testkit::temp_dir("spawn-goodcwd");
    let err = spawn_err(Command::new("proclings-no-such-program").current_dir(dir.path()));
    assert!(
        matches!(err, SpawnError::NotFound { .. }),
        "the working directory {} exists, the program does not: expected NotFound, got {err:?}",
        dir.path().display()
    );
}

#[test]
fn other_errors_keep_their_errno() {
    // One argument longer than the kernel accepts (MAX_ARG_STRLEN, 128 KiB): execve says E2BIG.
    let huge = "x".repeat(200_000);
    let err = spawn_err(Command::new("/bin/true").arg(&huge));
    match &err {
        SpawnError::Other { source, .. } => assert_eq!(
            source.raw_os_error(),
            Some(libc::E2BIG),
            "expected errno E2BIG (Argument list too long), got {source}"
        ),
        other => panic!("E2BIG is neither ENOENT nor EACCES: expected Other, got {other:?}"),
    }
}
