//! Tests for `monitoring/limits`: children started under limits hit them for real (EMFILE, a
//! failed allocation, SIGXCPU then SIGKILL), and limits changed from outside with `prlimit(2)`
//! are read back from `/proc/PID/limits` and with util-linux `prlimit`.
//!
//! RLIMIT_NPROC is only checked as set: whether `fork` then fails with EAGAIN depends on who
//! runs the test (root and CAP_SYS_RESOURCE are exempt) and on how many processes that user
//! already has, so its effect is shown in the chapter, not asserted here.

use std::process::{Command, Stdio};

use monitoring::limits::{Limit, Setting, get_limit, set_limit, spawn_limited};
use testkit::monitoring::Helper;
use testkit::{ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status};

const CHILD: &str = env!("CARGO_BIN_EXE_monitoring-child");

fn setting(limit: Limit, soft: u64, hard: u64) -> Setting {
    Setting { limit, soft, hard }
}

/// The soft and hard values of the line of `/proc/PID/limits` that starts with `name`.
fn proc_limits(pid: u32, name: &str) -> (String, String) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let line = text
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name:?} in /proc/{pid}/limits"));
    let mut words = line[name.len()..].split_whitespace();
    (
        words.next().unwrap_or_default().to_owned(),
        words.next().unwrap_or_default().to_owned(),
    )
}

/// Spawns the helper in `mode` under `settings` through the learner's code.
fn spawn(mode: &[&str], settings: &[Setting]) -> (ChildGuard, LineReader) {
    let mut cmd = Command::new(CHILD);
    cmd.args(mode).stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = spawn_limited(&mut cmd, settings)
        .unwrap_or_else(|e| panic!("spawn_limited({mode:?}) failed: {e}"));
    let out = LineReader::new(child.stdout.take().expect("piped"), "the limited child");
    (ChildGuard::new(child), out)
}

#[test]
fn an_open_files_limit_gives_emfile() {
    let before = get_limit(std::process::id(), Limit::OpenFiles).ok();
    let (mut child, mut out) = spawn(&["open-until-fail"], &[setting(Limit::OpenFiles, 20, 20)]);
    out.expect("ready", DEFAULT_DEADLINE);
    assert_eq!(
        proc_limits(child.id(), "Max open files"),
        ("20".into(), "20".into()),
        "the child must start with the limit (soft and hard) in force"
    );
    drop(child.child().stdin.take()); // EOF: the child starts opening files
    let line = out.expect("opened", DEFAULT_DEADLINE);
    let n: u64 = line
        .split(' ')
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or(0);
    assert!(
        line.ends_with("then EMFILE") && (10..=17).contains(&n),
        "with 20 fds allowed and stdin/out/err taken, about 17 opens succeed and the next fails \
         with EMFILE; the child said {line:?}"
    );
    child.wait(DEFAULT_DEADLINE);
    assert_eq!(
        get_limit(std::process::id(), Limit::OpenFiles).ok(),
        before,
        "this process's own limit changed: set limits in the child (between fork and exec), \
         not in the parent"
    );
}

#[test]
fn an_address_space_limit_makes_allocation_fail() {
    let (mut child, mut out) = spawn(
        &["alloc", "512"],
        &[setting(Limit::AddressSpace, 256 << 20, 256 << 20)],
    );
    let line = out
        .next_line(DEFAULT_DEADLINE)
        .unwrap_or_else(|| panic!("the child said nothing; did it start?"));
    assert!(
        line.starts_with("allocation failed"),
        "512 MiB cannot fit in 256 MiB of address space: the allocation must fail, the child \
         said {line:?}"
    );
    let st = child.wait(DEFAULT_DEADLINE);
    assert!(
        st.success(),
        "the child reports and exits: {}",
        describe_status(st)
    );
}

#[test]
fn a_cpu_limit_sends_sigxcpu_then_sigkill() {
    // The child reports SIGXCPU instead of dying of it and keeps spinning: at the soft limit
    // (1 s of CPU) it gets SIGXCPU, at the hard limit (2 s) SIGKILL, which nothing can catch.
    let (mut child, mut out) = spawn(&["xcpu"], &[setting(Limit::CpuSeconds, 1, 2)]);
    out.expect("ready", DEFAULT_DEADLINE);
    out.expect("got SIGXCPU", DEFAULT_DEADLINE * 6);
    let st = child.wait(DEFAULT_DEADLINE * 6);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&st),
        Some(libc::SIGKILL),
        "past the hard CPU limit the kernel sends SIGKILL; the child ended: {}",
        describe_status(st)
    );
}

#[test]
fn prlimit_changes_a_running_process() {
    let mut h = Helper::start(CHILD, &["open-until-fail"]);
    let pid = h.guard.id();
    set_limit(pid, setting(Limit::OpenFiles, 16, 32))
        .unwrap_or_else(|e| panic!("set_limit on our own child failed: {e}"));
    assert_eq!(
        get_limit(pid, Limit::OpenFiles).expect("get_limit"),
        (16, 32)
    );
    assert_eq!(
        proc_limits(pid, "Max open files"),
        ("16".into(), "32".into()),
        "/proc/PID/limits must show the new limit"
    );
    let tool = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            "--nofile",
            "--output",
            "SOFT,HARD",
            "--noheadings",
        ])
        .output();
    if let Ok(tool) = tool {
        let words: Vec<String> = String::from_utf8_lossy(&tool.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(words, ["16", "32"], "util-linux prlimit reads the same");
    }
    h.send("go");
    let line = h.out.expect("opened", DEFAULT_DEADLINE);
    assert!(
        line.ends_with("then EMFILE"),
        "the child hits the new soft limit: {line:?}"
    );
}

#[test]
fn a_process_limit_is_set_in_the_child() {
    let (child, mut out) = spawn(&["sleep"], &[setting(Limit::Processes, 5, 7)]);
    out.expect("ready", DEFAULT_DEADLINE);
    assert_eq!(
        proc_limits(child.id(), "Max processes"),
        ("5".into(), "7".into()),
        "RLIMIT_NPROC in /proc/PID/limits"
    );
    assert_eq!(
        get_limit(child.id(), Limit::Processes).expect("get"),
        (5, 7)
    );
}

#[test]
fn each_limit_is_its_own_resource() {
    let h = Helper::asleep(CHILD, &["sleep"]);
    let pid = h.guard.id();
    set_limit(pid, setting(Limit::AddressSpace, 1 << 40, 1 << 41)).expect("set AS");
    set_limit(pid, setting(Limit::CpuSeconds, 3600, 7200)).expect("set CPU");
    assert_eq!(
        proc_limits(pid, "Max address space"),
        ((1u64 << 40).to_string(), (1u64 << 41).to_string())
    );
    assert_eq!(
        proc_limits(pid, "Max cpu time"),
        ("3600".into(), "7200".into())
    );
    assert_eq!(
        get_limit(pid, Limit::CpuSeconds).expect("get"),
        (3600, 7200)
    );
    assert_eq!(
        get_limit(pid, Limit::AddressSpace).expect("get"),
        (1 << 40, 1 << 41)
    );
}

#[test]
fn a_soft_limit_above_the_hard_one_is_refused() {
    let h = Helper::asleep(CHILD, &["sleep"]);
    let err = set_limit(h.guard.id(), setting(Limit::OpenFiles, 64, 32))
        .expect_err("soft 64 > hard 32 must be refused");
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
}

#[test]
fn a_missing_pid_is_an_error() {
    let mut child = ChildGuard::spawn(Command::new(CHILD).args(["exit", "0"]));
    let pid = child.id();
    child.wait(DEFAULT_DEADLINE);
    let err = get_limit(pid, Limit::OpenFiles).expect_err("pid was reaped");
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "{err}");
    let err = set_limit(pid, setting(Limit::OpenFiles, 8, 8)).expect_err("pid was reaped");
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "{err}");
}

/// Makes `prlimit(2)` on any other process fail with EPERM in this thread and in the processes
/// it starts, through a seccomp filter; `setrlimit` (`prlimit64` with pid 0, as glibc and musl
/// implement it) stays allowed. A filter cannot be removed: call this only in an isolated test.
fn refuse_prlimit_on_other_processes() {
    use testkit::seccomp::{install_program, jump_if_equal, load, ret};
    const ARG0_LOW: u32 = 16; // offsetof(struct seccomp_data, args[0]), its low half (LE)
    let mut program = [
        load(0),                                         // 0: the system call's number
        jump_if_equal(libc::SYS_prlimit64 as u32, 0, 2), // 1: not prlimit64: to 4
        load(ARG0_LOW),                                  // 2: its pid argument
        jump_if_equal(0, 0, 1),                          // 3: pid 0 (this process): to 4, else to 5
        ret(libc::SECCOMP_RET_ALLOW),
        ret(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
    ];
    install_program(&mut program, false).expect("install the seccomp filter");
}

#[test]
fn the_limits_hold_from_the_childs_first_instruction() {
    // A limit applied with prlimit after spawn returns comes too late: the program already runs
    // (its loader opened files and mapped memory without the limit). Here prlimit on another
    // process is refused, so only limits set in the child before exec can work.
    let spawned = std::thread::spawn(|| {
        refuse_prlimit_on_other_processes();
        let mut cmd = Command::new(CHILD);
        cmd.args(["sleep"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        spawn_limited(&mut cmd, &[setting(Limit::OpenFiles, 20, 20)])
    })
    .join()
    .expect("the spawning thread panicked");
    let child = spawned.unwrap_or_else(|e| {
        panic!(
            "spawn_limited failed: {e}; in this test prlimit(2) on another process fails, so \
             this is a limit set on the child after spawn: by then the program has started \
             without it. Set the limits in the child, in pre_exec, before exec"
        )
    });
    let mut child = ChildGuard::new(child);
    let mut out = LineReader::new(child.child().stdout.take().expect("piped"), "the child");
    out.expect("ready", DEFAULT_DEADLINE);
    assert_eq!(
        proc_limits(child.id(), "Max open files"),
        ("20".into(), "20".into()),
        "the child must run under the limit from its start"
    );
}

#[test]
fn a_limit_that_cannot_be_set_stops_the_spawn() {
    // soft 64 above hard 32 is invalid: setrlimit fails with EINVAL in the child, and the
    // program must not run at all (it would run without the limit it was promised).
    let mut cmd = Command::new(CHILD);
    cmd.args(["exit", "0"]).stdin(Stdio::null());
    let r = spawn_limited(&mut cmd, &[setting(Limit::OpenFiles, 64, 32)]);
    match r {
        Err(e) => assert_eq!(
            e.raw_os_error(),
            Some(libc::EINVAL),
            "setrlimit's own error comes back from spawn: {e}"
        ),
        Ok(child) => {
            let mut child = ChildGuard::new(child);
            let st = child.wait(DEFAULT_DEADLINE);
            panic!(
                "soft 64 > hard 32 cannot be set, yet the program started (and {}): an error \
                 of setrlimit in pre_exec must be returned, which makes spawn fail",
                describe_status(st)
            );
        }
    }
}
