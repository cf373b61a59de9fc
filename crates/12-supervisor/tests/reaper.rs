//! Tests for `supervisor::reaper`: a service leads a process group of its own, a stop reaches
//! every member (a daemon that left the group too), waits on events, SIGKILLs at the timeout,
//! and leaves no process and no zombie; orphans come back to the subreaper and are reaped.
//!
//! Every test runs alone in a fresh process (`testkit::isolated!`): a subreaper and
//! `waitpid(-1)` act on the whole process, and so must not meet another test's children.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::resource::{Resource, getrlimit};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use supervisor::reaper::{
    SERVICE_ENV, become_subreaper, group_members, reap_children, set_rlimits, spawn_in_group,
    stop_group,
};
use testkit::daemon::{DaemonGuard, pidfd_exited, stat_field};
use testkit::{DEFAULT_DEADLINE as DEADLINE, LineReader, proc_state, wait_until};

/// A service started by the test; on drop (also when the test fails) every process of its
/// group or carrying its tag is SIGKILLed and, when it is our child, reaped.
struct Service {
    child: Child,
    pidfd: OwnedFd,
    tag: String,
    out: LineReader,
}

impl Service {
    /// `sh -c SCRIPT` started with the learner's `spawn_in_group`, stdout read line by line.
    fn start(script: &str) -> Service {
        let tag = testkit::unique_name("svc");
        let mut cmd = testkit::sh(script);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        let (mut child, pidfd) = spawn_in_group(&mut cmd, &tag)
            .unwrap_or_else(|e| panic!("spawn_in_group(sh -c {script:?}) failed: {e}"));
        let out = LineReader::new(child.stdout.take().expect("stdout piped"), "the service");
        Service {
            child,
            pidfd,
            tag,
            out,
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// The next line of the service's stdout, parsed as a pid.
    fn read_pid(&mut self) -> Pid {
        let line = self
            .out
            .next_line(DEADLINE)
            .expect("the service printed a pid");
        Pid::from_raw(line.trim().parse().expect("a pid"))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = killpg(self.pid(), Signal::SIGKILL);
        for pid in tagged(&self.tag) {
            let _ = kill(pid, Signal::SIGKILL);
            if testkit::proc_ppid(pid.as_raw() as u32) == Some(std::process::id()) {
                let _ = waitpid(pid, None);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every process whose environment holds `SVD_SERVICE=tag`, found by the test itself.
fn tagged(tag: &str) -> Vec<Pid> {
    let marker = format!("{SERVICE_ENV}={tag}");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == marker.as_bytes()))
        {
            out.push(Pid::from_raw(pid));
        }
    }
    out
}

fn pgid_of(pid: Pid) -> i32 {
    stat_field(pid.as_raw() as u32, 5)
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("no /proc/{pid}/stat"))
}

#[track_caller]
fn assert_gone(pid: Pid, what: &str) {
    assert_eq!(
        proc_state(pid.as_raw() as u32),
        None,
        "{what} (pid {pid}) should be gone from /proc, neither running nor a zombie; it is {:?}",
        proc_state(pid.as_raw() as u32)
    );
}

#[test]
fn a_service_leads_its_own_group_and_its_pidfd_tells_its_exit() {
    testkit::isolated!();
    let mut svc = Service::start("sleep 60 & echo $!; wait");
    let helper = svc.read_pid();
    // While the helper is in the middle of exec'ing sleep, its /proc/PID/environ can read
    // empty: wait for the exec before looking for the tag.
    wait_until(DEADLINE, "the helper to exec sleep", || {
        testkit::proc_cmdline(helper.as_raw() as u32).starts_with("sleep")
    });
    let pid = svc.pid();
    assert_eq!(
        pgid_of(pid),
        pid.as_raw(),
        "the service should lead a process group of its own (pgid = its pid)"
    );
    assert_ne!(
        pgid_of(pid),
        nix::unistd::getpgrp().as_raw(),
        "not the supervisor's group: a ^C at the supervisor's terminal must not reach it"
    );
    assert_eq!(pgid_of(helper), pid.as_raw(), "its helper is in its group");
    assert!(
        tagged(&svc.tag).contains(&helper),
        "the helper inherited {SERVICE_ENV}={} from the service",
        svc.tag
    );
    assert_eq!(
        group_members(pid, &svc.tag),
        vec![pid.min(helper), pid.max(helper)],
        "group_members lists the service and its helper, sorted"
    );
    assert!(
        !pidfd_exited(&svc.pidfd, Duration::ZERO),
        "the pidfd must not be readable while the service runs"
    );
    kill(pid, Signal::SIGKILL).expect("kill the service");
    assert!(
        pidfd_exited(&svc.pidfd, DEADLINE),
        "the pidfd returned by spawn_in_group should become readable when the service exits: is it \
         a pidfd of the service's pid (pidfd_open)?"
    );
}

#[test]
fn a_polite_service_stops_at_its_stop_signal_and_everything_is_reaped() {
    testkit::isolated!();
    testkit::daemon::become_subreaper();
    let mut svc = Service::start("trap 'echo got USR1; exit 3' USR1; sleep 60 & echo $!; wait");
    let helper = svc.read_pid();
    // Until the helper has exec'd sleep it still runs the shell's USR1 handler, which only
    // notes the signal: wait for the exec, or the stop signal may be lost in between.
    wait_until(DEADLINE, "the helper to exec sleep", || {
        testkit::proc_cmdline(helper.as_raw() as u32).starts_with("sleep")
    });
    let pid = svc.pid();
    let tag = svc.tag.clone();
    let stopped = testkit::call_with_deadline(DEADLINE * 2, move || {
        stop_group(pid, &tag, Signal::SIGUSR1, DEADLINE)
    })
    .expect("stop_group did not return although the service exits at its stop signal")
    .expect("stop_group");
    svc.out.expect("got USR1", DEADLINE);
    assert!(
        !stopped.killed,
        "the service exited at its stop signal: no SIGKILL was needed ({stopped:?})"
    );
    assert!(
        stopped.reaped.contains(&(pid, WaitStatus::Exited(pid, 3))),
        "stop_group should reap the service and report `exit 3`; reaped: {:?}",
        stopped.reaped
    );
    // The helper died of the group's SIGUSR1: reaped by the shell, or re-parented to us when
    // the shell exited first and then reaped by stop_group. Either way nothing may be left.
    assert_gone(pid, "the service");
    assert_gone(helper, "its helper");
}

#[test]
fn a_service_ignoring_its_stop_signal_is_killed_at_the_timeout_without_spinning() {
    testkit::isolated!();
    testkit::daemon::become_subreaper();
    // The helper dies at SIGTERM at once; the slow helper 300 ms after it, so after
    // stop_group has found it and while it waits: its pidfd becomes readable and must not be
    // polled again. The service ignores SIGTERM, and outlives both.
    let mut svc = Service::start(
        "trap '' TERM; (trap - TERM; exec sleep 60) & echo $!; \
         (trap 'exec sleep 0.3' TERM; sleep 60 & wait) & echo $!; wait; exec sleep 60",
    );
    let helper = svc.read_pid();
    let slow = svc.read_pid();
    // Until the helper has exec'd sleep its SIGTERM may still be ignored: wait for the exec.
    wait_until(DEADLINE, "the helper to exec sleep", || {
        testkit::proc_cmdline(helper.as_raw() as u32).starts_with("sleep")
    });
    // The slow helper has its trap once it has started its own sleep.
    wait_until(DEADLINE, "the slow helper to start its sleep", || {
        std::fs::read_to_string(format!("/proc/{slow}/task/{slow}/children"))
            .is_ok_and(|c| !c.trim().is_empty())
    });
    let pid = svc.pid();
    let tag = svc.tag.clone();
    let got = testkit::call_with_deadline(DEADLINE * 2, move || {
        let before = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
        let r = stop_group(pid, &tag, Signal::SIGTERM, Duration::from_millis(1500));
        let after = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
        let cpu =
            (after.user_time() + after.system_time()) - (before.user_time() + before.system_time());
        (r, cpu.tv_sec() * 1_000_000 + cpu.tv_usec())
    });
    let Some((stopped, micros)) = got else {
        panic!(
            "stop_group with a 1.5 s timeout did not return within {:?}",
            DEADLINE * 2
        );
    };
    let stopped = stopped.expect("stop_group");
    assert!(
        stopped.killed,
        "the service ignores SIGTERM: stop_group should SIGKILL it at the timeout ({stopped:?})"
    );
    assert!(
        stopped
            .reaped
            .contains(&(pid, WaitStatus::Signaled(pid, Signal::SIGKILL, false))),
        "the service should be reaped, killed by SIGKILL; reaped: {:?}",
        stopped.reaped
    );
    assert!(
        micros < 600_000,
        "stop_group used {micros} µs of CPU while waiting 1.5 s for the service: it should sleep \
         in the kernel (poll on pidfds) until the processes exit or the timeout passes, not check \
         them in a loop, nor poll again the pidfd of a member that has already exited"
    );
    assert_gone(pid, "the service");
    assert_gone(helper, "its helper");
    assert_gone(slow, "its slow helper");
}

#[test]
fn a_service_that_daemonizes_is_still_stopped_and_reaped() {
    testkit::isolated!();
    become_subreaper().expect("become_subreaper");
    // `setsid` moves the background job into a session and group of its own, and the service's
    // main process exits at once: the classic daemon, gone from the group and orphaned.
    let mut svc = Service::start("setsid sleep 60 & echo $!; exit 0");
    let daemon = svc.read_pid();
    let _guard = DaemonGuard::new(daemon.as_raw() as u32);
    let pid = svc.pid();
    wait_until(DEADLINE, "the daemon to lead its own session", || {
        stat_field(daemon.as_raw() as u32, 6).as_deref() == Some(&daemon.to_string())
    });
    // setsid(1) calls setsid(2) and then execs sleep: while the exec replaces its memory, its
    // environment (where the tag is) cannot be read. Wait for the sleep.
    wait_until(DEADLINE, "the daemon to exec sleep", || {
        testkit::proc_cmdline(daemon.as_raw() as u32).starts_with("sleep")
    });
    assert!(
        pidfd_exited(&svc.pidfd, DEADLINE),
        "the service's main process exits at once"
    );
    assert_eq!(
        testkit::proc_ppid(daemon.as_raw() as u32),
        Some(std::process::id()),
        "the orphaned daemon should be re-parented to us, the subreaper, not to init: \
         become_subreaper sets PR_SET_CHILD_SUBREAPER"
    );
    assert_ne!(
        pgid_of(daemon),
        pid.as_raw(),
        "the daemon left the service's group"
    );
    assert_eq!(
        group_members(pid, &svc.tag),
        vec![daemon],
        "group_members still finds the daemon by its tag (the main process is a zombie)"
    );
    let tag = svc.tag.clone();
    let stopped = testkit::call_with_deadline(DEADLINE * 2, move || {
        stop_group(pid, &tag, Signal::SIGTERM, DEADLINE)
    })
    .expect("stop_group did not return")
    .expect("stop_group");
    assert!(!stopped.killed, "sleep dies of SIGTERM: {stopped:?}");
    assert!(
        stopped
            .reaped
            .contains(&(daemon, WaitStatus::Signaled(daemon, Signal::SIGTERM, false))),
        "the daemon is not in the service's process group any more, but it carries the \
         service's tag: stop_group should signal it, wait for it and reap it; reaped: {:?}",
        stopped.reaped
    );
    assert!(
        stopped.reaped.contains(&(pid, WaitStatus::Exited(pid, 0))),
        "the service's own zombie is reaped too; reaped: {:?}",
        stopped.reaped
    );
    assert_gone(daemon, "the daemon");
    assert_gone(pid, "the service");
}

#[test]
fn orphans_come_back_to_the_subreaper_and_are_reaped_with_their_status() {
    testkit::isolated!();
    become_subreaper().expect("become_subreaper");
    // The grandchild keeps our pipe as fd 3 and exits 7 once it reads a line from it; its
    // parent exits at once, orphaning it.
    let mut parent = Command::new("/bin/sh")
        .args(["-c", "exec 3<&0; sh -c 'read x <&3; exit 7' & echo $!"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let mut stdin = parent.stdin.take().expect("stdin");
    let mut out = LineReader::new(parent.stdout.take().expect("stdout"), "sh");
    let orphan: u32 = out
        .next_line(DEADLINE)
        .expect("the orphan's pid")
        .trim()
        .parse()
        .expect("a pid");
    let _guard = DaemonGuard::new(orphan);
    let parent_pid = Pid::from_raw(parent.id() as i32);
    wait_until(DEADLINE, "the orphan to be re-parented", || {
        testkit::proc_ppid(orphan) != Some(parent.id())
    });
    assert_eq!(
        testkit::proc_ppid(orphan),
        Some(std::process::id()),
        "an orphan should be re-parented to the subreaper"
    );
    let sleeper = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let sleeper = testkit::ChildGuard::new(sleeper);
    // Within the runner's limit: a reap that blocks fails here, with its diagnosis.
    let early = testkit::call_with_deadline(Duration::from_secs(5), reap_children)
        .expect("reap_children blocked: it must use WNOHANG and return what has exited");
    assert!(
        !early.iter().any(|(p, _)| p.as_raw() as u32 == orphan),
        "the orphan still runs and must not be reported: {early:?}"
    );
    let orphan_fd = testkit::daemon::pidfd_open(orphan).expect("pidfd of the orphan");
    stdin.write_all(b"go\n").expect("release the orphan");
    drop(stdin);
    assert!(pidfd_exited(&orphan_fd, DEADLINE), "the orphan exits");
    let mut reaped = early;
    reaped.extend(reap_children());
    let opid = Pid::from_raw(orphan as i32);
    assert!(
        reaped.contains(&(opid, WaitStatus::Exited(opid, 7))),
        "reap_children should reap the orphan and report `exit 7`; got {reaped:?}"
    );
    assert!(
        reaped.contains(&(parent_pid, WaitStatus::Exited(parent_pid, 0))),
        "and the orphan's parent, our own child, with `exit 0`; got {reaped:?}"
    );
    assert!(
        !reaped
            .iter()
            .any(|(p, _)| p.as_raw() as u32 == sleeper.id()),
        "a child still running is not reaped: {reaped:?}"
    );
    assert_gone(opid, "the orphan");
    assert_eq!(reap_children(), vec![], "nothing else has exited");
    // `parent` was reaped by reap_children; dropping a Child neither waits nor kills.
    drop(parent);
}

#[test]
fn resource_limits_are_set_in_the_service_and_not_in_the_supervisor() {
    testkit::isolated!();
    let (own_soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let tag = testkit::unique_name("rlimits");
    let mut cmd = Command::new("sleep");
    cmd.arg("60");
    set_rlimits(
        &mut cmd,
        &[(Resource::RLIMIT_NOFILE, 37), (Resource::RLIMIT_CORE, 0)],
    );
    let (child, _pidfd) = spawn_in_group(&mut cmd, &tag).expect("spawn_in_group");
    let child = testkit::ChildGuard::new(child);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).expect("limits");
    let line = |name: &str| {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    assert!(
        line("Max open files").starts_with("Max open files 37 37"),
        "the service should run with RLIMIT_NOFILE 37 (soft and hard); /proc says `{}`",
        line("Max open files")
    );
    assert!(
        line("Max core file size").starts_with("Max core file size 0 0"),
        "the service should run with RLIMIT_CORE 0; /proc says `{}`",
        line("Max core file size")
    );
    let (after, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    assert_eq!(
        after, own_soft,
        "the limits apply to the service only (set between fork and exec), not to the supervisor"
    );
}

#[test]
fn group_members_are_our_processes_of_the_group_or_the_tag_and_no_others() {
    testkit::isolated!();
    // Not a subreaper here: an orphan goes to an ancestor of ours, out of our tree.
    // The helper clears its environment: it is a member by its process group alone.
    let mut svc = Service::start("env -i sleep 60 & echo $!; wait");
    let untagged = svc.read_pid();
    wait_until(DEADLINE, "the helper to exec sleep", || {
        testkit::proc_cmdline(untagged.as_raw() as u32).starts_with("sleep")
    });
    // A child of ours in neither the group nor the tag.
    let unrelated = testkit::ChildGuard::new(
        Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("spawn sleep"),
    );
    // A process with the service's tag that is not our descendant (another supervisor's
    // service of the same name, say): orphaned, it is re-parented out of our tree.
    let out = Command::new("/bin/sh")
        .args(["-c", "setsid sleep 60 >/dev/null 2>&1 & echo $!"])
        .env(SERVICE_ENV, &svc.tag)
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    let foreign: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the foreign process's pid");
    let _foreign = DaemonGuard::new(foreign);
    wait_until(DEADLINE, "the foreign process to exec sleep", || {
        testkit::proc_cmdline(foreign).starts_with("sleep")
    });
    assert_ne!(
        testkit::proc_ppid(foreign),
        Some(std::process::id()),
        "the foreign process left our tree"
    );
    let pid = svc.pid();
    assert_eq!(
        group_members(pid, &svc.tag),
        vec![pid.min(untagged), pid.max(untagged)],
        "the members are our descendants in the group (tagged or not) or carrying the tag; not \
         our child {} of another group without the tag, nor the tagged process {foreign} outside \
         our tree",
        unrelated.id()
    );
}

#[test]
fn a_daemon_ignoring_its_stop_signal_is_killed_at_the_timeout_too() {
    testkit::isolated!();
    become_subreaper().expect("become_subreaper");
    // The daemon leaves the group and ignores SIGTERM: only a SIGKILL of its own, after the
    // timeout, stops it (killpg no longer reaches it).
    let mut svc = Service::start(r#"setsid sh -c 'trap "" TERM; exec sleep 60' & echo $!; exit 0"#);
    let daemon = svc.read_pid();
    let _guard = DaemonGuard::new(daemon.as_raw() as u32);
    wait_until(DEADLINE, "the daemon to exec sleep", || {
        testkit::proc_cmdline(daemon.as_raw() as u32).starts_with("sleep")
    });
    assert!(
        pidfd_exited(&svc.pidfd, DEADLINE),
        "the service's main process exits at once"
    );
    let (pid, tag) = (svc.pid(), svc.tag.clone());
    let stopped = testkit::call_with_deadline(DEADLINE * 2, move || {
        stop_group(pid, &tag, Signal::SIGTERM, Duration::from_millis(300))
    })
    .expect("stop_group did not return")
    .unwrap_or_else(|e| {
        panic!("stop_group should SIGKILL the daemon and wait for it to die, not give up: {e}")
    });
    assert!(stopped.killed, "the daemon ignores SIGTERM: {stopped:?}");
    assert!(
        stopped
            .reaped
            .contains(&(daemon, WaitStatus::Signaled(daemon, Signal::SIGKILL, false))),
        "the daemon is killed, waited for and reaped; reaped: {:?}",
        stopped.reaped
    );
    assert_gone(daemon, "the daemon");
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn a_member_whose_pid_goes_to_a_stranger_during_the_stop_is_not_signalled() {
    use testkit::seccomp::{Action, install, next_paused, resume};
    testkit::isolated!();
    // Choosing the next pid takes CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) over the pid
    // namespace: root, or a check run by root.
    if !testkit::can_choose_pids() {
        eprintln!(
            "a_member_whose_pid_goes_to_a_stranger_during_the_stop_is_not_signalled: skipped: \
             /proc/sys/kernel/ns_last_pid is not writable here (it needs root)"
        );
        return;
    }
    become_subreaper().expect("become_subreaper");
    let mut svc = Service::start("setsid sleep 60 & echo $!; exit 0");
    let daemon = svc.read_pid();
    let guard = DaemonGuard::new(daemon.as_raw() as u32);
    wait_until(DEADLINE, "the daemon to lead its own session", || {
        stat_field(daemon.as_raw() as u32, 6).as_deref() == Some(&daemon.to_string())
    });
    assert!(
        pidfd_exited(&svc.pidfd, DEADLINE),
        "the service's main process exits at once"
    );
    let (pid, tag) = (svc.pid(), svc.tag.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let stopping = std::thread::spawn(move || {
        // Each pidfd_open of this thread waits for the test's answer: the test decides what
        // happens in the world between the scan of /proc and the pidfd.
        match install(&[libc::SYS_pidfd_open], Action::Notify) {
            Ok(listener) => {
                let _ = tx.send(Ok(listener.expect("a listener")));
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return None;
            }
        }
        Some(stop_group(
            pid,
            &tag,
            Signal::SIGTERM,
            Duration::from_secs(1),
        ))
    });
    let listener = match rx.recv().expect("the stopping thread's listener") {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "a_member_whose_pid_goes_to_a_stranger_during_the_stop_is_not_signalled: \
                 skipped: seccomp user notifications are not available here ({e})"
            );
            return;
        }
    };
    // Between stop_group's scan and its pidfd_open of the daemon, the daemon dies, is reaped
    // (by us, its subreaper), and its pid goes to a stranger: a process of ours, outside the
    // service's group, without its tag.
    let mut stranger = None;
    while let Some(call) = next_paused(&listener, DEADLINE) {
        if call.args[0] as i32 == daemon.as_raw() && stranger.is_none() {
            kill(daemon, Signal::SIGKILL).expect("kill the daemon");
            waitpid(daemon, None).expect("reap the daemon");
            stranger = Some(
                testkit::spawn_with_pid(daemon.as_raw() as u32)
                    .unwrap_or_else(|| panic!("no process could be given pid {daemon}")),
            );
        }
        resume(&listener, call.id);
    }
    drop(guard);
    let stopped = stopping.join().expect("stop_group panicked");
    let mut stranger = stranger.unwrap_or_else(|| {
        panic!(
            "stop_group never opened a pidfd for the daemon (pid {daemon}), a member by its \
             tag; it returned {stopped:?}"
        )
    });
    // Still running, or ended (and perhaps reaped by stop_group, as a child of ours).
    let ended = match stranger.try_wait() {
        Ok(None) => None,
        Ok(Some(status)) => Some(testkit::describe_status(status)),
        Err(e) => Some(format!("reaped by someone else: {e}")),
    };
    let _ = stranger.kill();
    let _ = stranger.wait();
    if let Some(how) = ended {
        panic!(
            "stop_group signalled pid {daemon} after its member had died and the pid had gone to \
             an unrelated process (which ended: {how}): open the pidfd first, then check again \
             that the process it names is a member (group or tag, and ours), and only then \
             signal it through the pidfd"
        );
    }
    stopped
        .expect("the filter was installed")
        .expect("stop_group");
}

#[test]
fn a_member_still_in_the_group_gets_the_stop_signal_once() {
    testkit::isolated!();
    // Signals of one kind coalesce while pending, so the service cannot count them itself;
    // the system calls that send them can be counted: strace, attached to this process.
    become_subreaper().expect("become_subreaper");
    // The service ignores SIGTERM, so that it is still there when stop_group looks for the
    // group's members, and it never leaves its group: the killpg reached it already.
    let mut svc = Service::start("trap '' TERM; echo started; exec sleep 60");
    svc.out.expect("started", DEADLINE);
    let dir = testkit::temp_dir("reaper-once");
    let trace = dir.path().join("trace");
    // Every thread of this process, and (-f) the one stop_group runs on.
    let Some(mut strace) = testkit::trace_signals(
        std::process::id(),
        true,
        &trace,
        "a_member_still_in_the_group_gets_the_stop_signal_once",
    ) else {
        return;
    };
    let (pid, tag) = (svc.pid(), svc.tag.clone());
    let stopped = testkit::call_with_deadline(DEADLINE * 2, move || {
        stop_group(pid, &tag, Signal::SIGTERM, Duration::from_millis(300))
    })
    .expect("stop_group did not return")
    .expect("stop_group");
    kill(Pid::from_raw(strace.id() as i32), Signal::SIGINT).expect("detach strace");
    strace.wait(DEADLINE);
    assert!(stopped.killed, "the service ignores SIGTERM: {stopped:?}");
    let calls = std::fs::read_to_string(&trace).expect("the trace");
    let sent: Vec<&str> = calls.lines().filter(|l| l.contains("SIGTERM")).collect();
    assert_eq!(
        sent.len(),
        1,
        "stopping a service of one process, its group's leader, stop_group sent SIGTERM {} \
         times: {sent:?}. The killpg reaches every member still in the group; signal \
         individually only the members that left it (a second SIGTERM often means \"now, not \
         gracefully\")",
        sent.len()
    );
    assert_gone(pid, "the service");
}

#[test]
fn a_daemon_whose_parent_is_still_alive_gets_the_stop_signal() {
    testkit::isolated!();
    become_subreaper().expect("become_subreaper");
    // The service ignores SIGTERM and keeps running; its child leaves the group (setsid) and
    // dies at SIGTERM. The daemon is our grandchild, not our child: its parent, the service,
    // is alive all along, so the walk up its ancestors must go past the service to reach us.
    let mut svc = Service::start(
        "trap '' TERM; (trap - TERM; exec setsid sleep 60) & echo $!; wait $!; \
         echo \"daemon ended $?\"; exec sleep 60",
    );
    let daemon = svc.read_pid();
    let _guard = DaemonGuard::new(daemon.as_raw() as u32);
    wait_until(DEADLINE, "the daemon to lead its own session", || {
        stat_field(daemon.as_raw() as u32, 6).as_deref() == Some(&daemon.to_string())
    });
    let (pid, tag) = (svc.pid(), svc.tag.clone());
    let stopped = testkit::call_with_deadline(DEADLINE * 2, move || {
        stop_group(pid, &tag, Signal::SIGTERM, Duration::from_secs(1))
    })
    .expect("stop_group did not return")
    .expect("stop_group");
    assert!(stopped.killed, "the service ignores SIGTERM: {stopped:?}");
    // The service reaped the daemon and said how it ended, unless it was killed first.
    let said = svc.out.rest(DEADLINE);
    assert!(
        said.iter().any(|l| l == "daemon ended 143"),
        "the daemon (pid {daemon}, out of the group, tagged, child of the service's pid {pid}) \
         should have died of the SIGTERM, which its parent reports as 143; the service said \
         {said:?}. A member's ancestry goes up through its parents until this process: a parent \
         that is itself a member (or any other process) is not the end of the walk"
    );
    assert_gone(daemon, "the daemon");
    assert_gone(pid, "the service");
}
