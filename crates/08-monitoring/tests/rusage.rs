//! Tests for `monitoring/rusage`: children with known behaviour (64 MiB touched, 300 ms of CPU,
//! 50 naps, two threads fighting over one CPU) measured with the learner's `wait4`, compared
//! with what each child's own `getrusage(RUSAGE_SELF)` said just before it exited, and with GNU
//! `time -v` where it is installed.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

use monitoring::rusage::{Usage, report, run_measured};
use nix::sys::signal::{SigHandler, Signal, signal};
use testkit::{assert_reaped, temp_dir};

const CHILD: &str = env!("CARGO_BIN_EXE_monitoring-child");

/// Runs the helper in `mode` through the learner's code, its stdout in a file, stdin at EOF
/// (so a mode that sleeps on stdin exits at once). Returns the usage and what the child said.
fn measure(mode: &[&str]) -> (Usage, String) {
    let dir = temp_dir("rusage");
    let out_path = dir.path().join("out");
    let out = File::create(&out_path).expect("create the output file");
    let usage = run_measured(
        Command::new(CHILD)
            .args(mode)
            .stdin(Stdio::null())
            .stdout(out),
    )
    .unwrap_or_else(|e| panic!("run_measured({mode:?}) failed: {e}"));
    assert_reaped(usage.pid);
    let said = std::fs::read_to_string(&out_path).expect("read the output");
    (usage, said)
}

fn said_number(said: &str, key: &str) -> u64 {
    said.lines()
        .find_map(|l| l.strip_prefix(key)?.trim().split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("the child never said `{key} N`; it said {said:?}"))
}

#[test]
fn the_exit_status_comes_back_and_the_child_is_reaped() {
    let (usage, _) = measure(&["exit", "3"]);
    assert_eq!(
        usage.status.code(),
        Some(3),
        "the status wait4 returned, as an ExitStatus"
    );
}

#[test]
fn max_rss_of_a_child_that_touched_64_mib() {
    let (usage, _) = measure(&["touch", "64"]);
    let kib = usage.max_rss_kib;
    assert!(
        (64 * 1024..=96 * 1024).contains(&kib),
        "the child touched 64 MiB: max RSS {kib} KiB (Linux gives ru_maxrss in KiB already)"
    );
}

#[test]
fn cpu_time_agrees_with_the_childs_own_accounting() {
    let (usage, said) = measure(&["work", "300"]);
    let mut words = said
        .lines()
        .find_map(|l| l.strip_prefix("used "))
        .unwrap_or_else(|| panic!("the child said {said:?}"))
        .split(' ')
        .map(|w| w.parse::<u64>().expect("a number"));
    let own_user = Duration::from_micros(words.next().unwrap_or(0));
    let own_system = Duration::from_micros(words.next().unwrap_or(0));
    let own = own_user + own_system;
    let yours = usage.user + usage.system;
    assert!(
        yours + Duration::from_millis(10) >= own && yours <= own + Duration::from_millis(100),
        "the child measured {own:?} of its own CPU time just before exiting; wait4 says user \
         {:?} + system {:?}",
        usage.user,
        usage.system
    );
    // The work is two thirds a loop in user mode, one third reads of /dev/zero in the kernel.
    for (what, yours, own) in [
        ("user", usage.user, own_user),
        ("system", usage.system, own_system),
    ] {
        assert!(
            yours + Duration::from_millis(10) >= own && yours <= own + Duration::from_millis(60),
            "{what} time: wait4 says {yours:?}, the child measured {own:?} of its own"
        );
    }
    assert!(
        usage.wall >= own,
        "one thread cannot use more CPU than wall time: wall {:?}",
        usage.wall
    );
}

#[test]
fn each_nap_is_a_voluntary_context_switch() {
    let (usage, said) = measure(&["naps", "50"]);
    let own = said_number(&said, "nvcsw");
    assert!(
        usage.voluntary_switches >= own && own >= 50,
        "the child slept 50 times and counted {own} voluntary switches itself; wait4 says {}",
        usage.voluntary_switches
    );
}

#[test]
fn two_threads_on_one_cpu_are_preempted() {
    let (usage, said) = measure(&["contend", "300"]);
    let own = said_number(&said, "nivcsw");
    assert!(
        own >= 1,
        "two threads pinned to one CPU for 300 ms must be preempted at least once"
    );
    assert!(
        usage.involuntary_switches >= own,
        "the child counted {own} involuntary switches itself; wait4 says {} (ru_nivcsw)",
        usage.involuntary_switches
    );
}

#[test]
fn the_usage_is_of_this_child_only() {
    // A busy child first, then an idle one: the idle one's figures must not include the busy
    // one's (getrusage(RUSAGE_CHILDREN) sums every child ever waited for).
    let (busy, _) = measure(&["work", "200"]);
    let (idle, _) = measure(&["exit", "0"]);
    assert!(
        idle.user + idle.system < busy.user + busy.system
            && idle.user + idle.system < Duration::from_millis(100),
        "a child that exits at once used {:?} of CPU: that is someone else's time",
        idle.user + idle.system
    );
}

#[test]
fn a_parent_that_ignores_sigchld_still_gets_the_usage() {
    // A disposition is per process: this test runs alone in a fresh copy of the test binary.
    testkit::isolated!();
    // With SIGCHLD ignored the kernel reaps an ordinary child itself, and wait4 fails with
    // ECHILD. A traced child is never reaped that way: it is kept for its tracer to wait for.
    // SAFETY: SIG_IGN installs no handler; this process runs this one test alone.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) }.expect("ignore SIGCHLD");
    let r = run_measured(Command::new(CHILD).args(["exit", "4"]).stdin(Stdio::null()));
    let usage = r.unwrap_or_else(|e| {
        panic!(
            "run_measured failed with SIGCHLD ignored: {e}; an untraced child is reaped by the              kernel before wait4 sees it (ECHILD), a child traced for its exit stop is not"
        )
    });
    assert_eq!(usage.status.code(), Some(4), "the child's own exit status");
    assert_reaped(usage.pid);
}

#[test]
fn a_program_that_cannot_start_is_an_error() {
    let r = run_measured(&mut Command::new("/nonexistent/program"));
    assert!(r.is_err(), "spawning a missing program must fail: {r:?}");
}

#[test]
fn the_report_reads_like_gnu_time() {
    let (usage, _) = measure(&["touch", "64"]);
    let text = report(&usage);
    for want in [
        format!(
            "\tMaximum resident set size (kbytes): {}\n",
            usage.max_rss_kib
        ),
        format!(
            "\tVoluntary context switches: {}\n",
            usage.voluntary_switches
        ),
        format!(
            "\tInvoluntary context switches: {}\n",
            usage.involuntary_switches
        ),
        format!("\tUser time (seconds): {:.2}\n", usage.user.as_secs_f64()),
        format!(
            "\tSystem time (seconds): {:.2}\n",
            usage.system.as_secs_f64()
        ),
        "\tExit status: 0\n".to_string(),
        "\tElapsed (wall clock) time (h:mm:ss or m:ss): 0:".to_string(),
    ] {
        assert!(
            text.contains(&want),
            "the report lacks {want:?}; it is:\n{text}"
        );
    }
    let killed = Usage {
        status: std::os::unix::process::ExitStatusExt::from_raw(9),
        wall: Duration::from_millis(125_500),
        ..usage
    };
    let text = report(&killed);
    assert!(
        text.starts_with("Command terminated by signal 9\n") && text.contains("\tExit status: 0\n"),
        "a child killed by SIGKILL, as GNU time reports it; got:\n{text}"
    );
    assert!(
        text.contains("(h:mm:ss or m:ss): 2:05.50\n"),
        "125.5 s is 2:05.50; got:\n{text}"
    );

    // The same child under GNU time, where it is installed: the same maximum RSS within 8 MiB.
    if !std::path::Path::new("/usr/bin/time").exists() {
        eprintln!("GNU time is not installed (apt-get install time): skipped the comparison");
        return;
    }
    let out = Command::new("/usr/bin/time")
        .args(["-v", CHILD, "touch", "64"])
        .stdin(Stdio::null())
        .output()
        .expect("run /usr/bin/time");
    let gnu = String::from_utf8_lossy(&out.stderr);
    let gnu_rss: u64 = gnu
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("GNU time said:\n{gnu}"));
    assert!(
        gnu_rss.abs_diff(usage.max_rss_kib) <= 8 * 1024,
        "GNU time says {gnu_rss} KiB for the same child, you say {}",
        usage.max_rss_kib
    );
}

#[test]
fn a_small_child_of_a_big_parent_has_a_small_peak() {
    // This process grows to 300 MiB first. At execve the kernel carries the replaced image's
    // peak into the process's ru_maxrss, and a spawned child's image before execve is this
    // parent's: ru_maxrss then says 300 MiB for a program that never had more than a few MiB of
    // its own. (The peak of this process stays 300 MiB for the other tests too; a right answer
    // does not depend on it.)
    let mut big = vec![0u8; 300 << 20];
    for page in big.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&big);
    let (usage, _) = measure(&["exit", "0"]);
    drop(big);
    assert!(
        usage.max_rss_kib < 32 * 1024,
        "a child that exits at once, spawned by a 300 MiB parent, had a peak of {} KiB: that is \
         the parent's peak, which ru_maxrss inherits at execve; read the child's own VmHWM \
         (/proc/PID/status) at its exit instead",
        usage.max_rss_kib
    );
}

#[test]
fn the_elapsed_time_reads_like_gnu_time_past_an_hour() {
    let (usage, _) = measure(&["exit", "0"]);
    // GNU time prints m:ss.cc under an hour (centiseconds cut, not rounded) and h:mm:ss from
    // one hour on.
    for (wall, want) in [
        (Duration::from_micros(59_999_000), "0:59.99"),
        (Duration::from_millis(3_599_990), "59:59.99"),
        (Duration::from_millis(3_725_500), "1:02:05"),
        (Duration::from_secs(36_000 + 59), "10:00:59"),
    ] {
        let text = report(&Usage { wall, ..usage });
        let line = format!("(h:mm:ss or m:ss): {want}\n");
        assert!(
            text.contains(&line),
            "{wall:?} of wall time is {want} in GNU time's words (h:mm:ss from one hour on, \
             m:ss.cc below, cut to centiseconds); got:\n{text}"
        );
    }
}

#[test]
fn a_signal_sent_to_the_child_still_reaches_it() {
    // A traced child stops at every signal sent to it (a signal-delivery stop), and the tracer
    // decides whether it is delivered: PTRACE_CONT with the signal passes it on, with 0 drops
    // it. Only ptrace's own stops are the tracer's to swallow: the SIGTRAP of the execve and
    // the exit event. A SIGTRAP the program sends itself is a signal like any other (its
    // default action dumps core: `ulimit -c 0` keeps the core file away).
    for signal in [libc::SIGTERM, libc::SIGTRAP] {
        let script = format!("ulimit -c 0; kill -{signal} $$; exit 0");
        let usage = run_measured(
            Command::new("sh")
                .args(["-c", &script])
                .stdin(Stdio::null()),
        )
        .unwrap_or_else(|e| panic!("run_measured(sh) failed: {e}"));
        assert_reaped(usage.pid);
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&usage.status),
            Some(signal),
            "the child sent itself signal {signal} and should have died of it, but {:?} came \
             back: a stop that is neither the execve's SIGTRAP nor the exit event \
             (PTRACE_EVENT_EXIT in status >> 16) is that signal on its way to the child; \
             continue it with that signal (PTRACE_CONT's last argument), not 0",
            usage.status
        );
    }
}

#[test]
fn a_wait_interrupted_by_a_signal_handler_is_tried_again() {
    testkit::isolated!();
    testkit::handle_sigusr1_without_restart();
    // The child waits on a pipe this test holds, so it is still running when the waiting
    // thread is interrupted, and exits only when the pipe is closed after that.
    let (reader, writer) = std::io::pipe().expect("pipe");
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let waiting = std::thread::spawn(move || {
        let _ = tid_tx.send(nix::unistd::gettid().as_raw());
        run_measured(
            Command::new("sh")
                .args(["-c", "read line; exit 3"])
                .stdin(reader),
        )
    });
    let tid = tid_rx.recv().expect("the waiting thread's id");
    testkit::wait_until(
        testkit::DEFAULT_DEADLINE,
        "run_measured to block in wait4",
        || waiting.is_finished() || testkit::thread_sleeps_in(tid, &[libc::SYS_wait4]),
    );
    assert!(
        !waiting.is_finished(),
        "run_measured returned while the child was still running: it must wait for it"
    );
    // The handler runs as the interrupted wait4 returns: EINTR, the child still running.
    testkit::interrupt_thread(&waiting);
    drop(writer);
    testkit::wait_until(testkit::DEFAULT_DEADLINE, "run_measured to return", || {
        waiting.is_finished()
    });
    let usage = match waiting.join() {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(r) => r.unwrap_or_else(|e| {
            panic!(
                "run_measured failed after a signal handler interrupted its wait4 ({e}): EINTR \
                 is no answer about the child, which still runs; call wait4 again"
            )
        }),
    };
    assert_eq!(usage.status.code(), Some(3), "the child's own exit status");
    assert_reaped(usage.pid);
}
