//! Hostile code under test, run through the sandbox the way the runner runs a check: a sentinel
//! process beside the sandbox must survive every mode, the verdict must name the cause, and
//! nothing may be left. Each run happens inside an outer PID namespace (and, as root, an outer
//! pids cgroup) that the test makes, so that a containment bug cannot take down the machine that
//! runs the tests: a `kill(-1)` as root would otherwise end the test run, CI included.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DRIVE: &str = env!("CARGO_BIN_EXE_sandbox-drive");
const HOSTILE: &str = env!("CARGO_BIN_EXE_sandbox-hostile");

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An outer pids cgroup for one run, removed on drop.
struct OuterCgroup(PathBuf);

impl OuterCgroup {
    fn new(tag: &str) -> Option<Self> {
        let base = Path::new("/sys/fs/cgroup/pids");
        if !is_root() || !base.join("cgroup.procs").is_file() {
            return None;
        }
        let dir = base.join(format!("proclings-hostile-{}-{tag}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        std::fs::write(dir.join("pids.max"), "8192").ok()?;
        Some(OuterCgroup(dir))
    }
}

impl Drop for OuterCgroup {
    fn drop(&mut self) {
        for _ in 0..400 {
            if std::fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Runs `mode` through the sandbox inside an outer PID namespace, as root or as `nobody`;
/// `None` (having said why) where this machine cannot make the outer namespace.
fn drive(mode: &str, as_nobody: bool) -> Option<String> {
    if !have("unshare") || (as_nobody && !have("setpriv")) {
        eprintln!("skipped: unshare or setpriv (util-linux) is not installed");
        return None;
    }
    if as_nobody && !is_root() {
        eprintln!("skipped: only root can drop to nobody for the unprivileged run");
        return None;
    }
    if as_nobody {
        // nobody must reach this build's programs: a checkout under a directory only root may
        // enter (mktemp -d makes 0700 ones) keeps them from it.
        let reachable = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args([
                "sh",
                "-c",
                "test -x \"$1\" && test -x \"$2\"",
                "sh",
                DRIVE,
                HOSTILE,
            ])
            .status()
            .is_ok_and(|s| s.success());
        if !reachable {
            eprintln!(
                "skipped: nobody cannot reach this build's programs (a directory on the way is closed to it)"
            );
            return None;
        }
    }
    let cgroup = OuterCgroup::new(&format!("{mode}-{as_nobody}"));
    let join = cgroup
        .as_ref()
        .map(|c| format!("echo $$ > '{}/cgroup.procs' && ", c.0.display()))
        .unwrap_or_default();
    let outer = if is_root() {
        "unshare --pid --fork --mount-proc"
    } else {
        "unshare --user --map-root-user --pid --fork --mount-proc"
    };
    let drop_to_nobody = if as_nobody {
        "setpriv --reuid=65534 --regid=65534 --clear-groups"
    } else {
        ""
    };
    let script = format!("{join}exec {outer} {drop_to_nobody} '{DRIVE}' '{HOSTILE}' {mode} 5");
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .env_remove("PROCLINGS_CONTAIN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the sandboxed run of `{mode}` did not end within 90 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if text.contains("unshare failed") || text.contains("unshare: ") {
        eprintln!("skipped: this machine does not allow the outer namespace:\n{text}");
        return None;
    }
    if text.contains("protection pid namespace: off") {
        eprintln!("skipped: containment is off here:\n{text}");
        return None;
    }
    Some(text)
}

fn assert_contained_and_clean(mode: &str, text: &str) {
    assert!(
        text.contains("sentinel alive"),
        "`{mode}` reached a process outside the sandbox\n{text}"
    );
    assert!(text.contains("contained true"), "not contained\n{text}");
    assert!(
        text.contains("left after the run 0"),
        "something of the run was left\n{text}"
    );
}

#[test]
fn kill_minus_one_reaches_only_the_checks_processes() {
    let Some(text) = drive("kill-all", false) else {
        return;
    };
    assert_contained_and_clean("kill-all", &text);
}

#[test]
fn killing_the_runners_group_or_its_pid_reaches_nothing_outside() {
    for mode in ["killpg-runner", "kill-parent"] {
        let Some(text) = drive(mode, false) else {
            return;
        };
        assert_contained_and_clean(mode, &text);
    }
}

#[test]
fn a_spawn_loop_is_stopped_at_the_cap_and_named() {
    for mode in ["spawn-loop", "fork-loop"] {
        let Some(text) = drive(mode, false) else {
            return;
        };
        assert_contained_and_clean(mode, &text);
        assert!(text.contains("timed out true"), "{text}");
        if is_root() {
            assert!(
                text.contains("task cap Some(1024) hit true"),
                "the cgroup did not report the cap\n{text}"
            );
        }
    }
}

#[test]
fn a_daemon_holding_a_segment_is_reported_and_nothing_is_left() {
    let Some(text) = drive("daemon-shm", false) else {
        return;
    };
    assert_contained_and_clean("daemon-shm", &text);
    assert!(
        text.contains("leak process still running:"),
        "the daemon was not reported\n{text}"
    );
    assert!(
        text.contains("leak /dev/shm/proclings-hostile-"),
        "the segment in the private /dev/shm was not reported\n{text}"
    );
    let left: Vec<_> = std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("proclings-hostile-"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "segments on the machine's /dev/shm: {left:?}"
    );
}

#[test]
fn as_an_ordinary_user_the_same_holds_inside_a_user_namespace() {
    for mode in ["kill-all", "spawn-loop", "daemon-shm"] {
        let Some(text) = drive(mode, true) else {
            return;
        };
        assert_contained_and_clean(mode, &text);
        assert!(
            text.contains("inside a user namespace that maps your uid and gid to themselves"),
            "{text}"
        );
        if mode == "spawn-loop" {
            assert!(text.contains("timed out true"), "{text}");
        }
    }
}
