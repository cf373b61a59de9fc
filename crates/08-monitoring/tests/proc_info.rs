//! Tests for `monitoring/proc_info`: real children in known states (sleeping, running, stopped,
//! zombie; one with 50 extra fds; one with 64 MiB touched; one that wrote 1 MiB), each compared
//! with the kernel's own files read here independently and with `ps -o ... -p PID`.
//!
//! Tolerances: figures of a sleeping process do not move, so they must be equal; RSS may differ
//! from `ps` by a few pages (the two reads are not at the same instant), so it gets 1 MiB.

use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use monitoring::proc_info::{ProcInfo, inspect};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::monitoring::{
    Helper, clk_tck, fd_count, proc_value, ps, ps_number, stat_field, wait_for_state,
};
use testkit::{ChildGuard, DEFAULT_DEADLINE};

const CHILD: &str = env!("CARGO_BIN_EXE_monitoring-child");

#[track_caller]
fn info(pid: i32) -> ProcInfo {
    inspect(pid).unwrap_or_else(|e| panic!("inspect({pid}) failed: {e}"))
}

#[test]
fn a_sleeping_child_agrees_with_ps() {
    let h = Helper::asleep(CHILD, &["sleep"]);
    let got = info(h.pid());
    let ps_says = ps(h.pid(), &["ppid", "stat", "nlwp", "vsz"]);
    assert_eq!(got.pid, h.pid());
    assert_eq!(
        got.ppid.to_string(),
        ps_says[0],
        "ppid: ps says {}, you said {} (field 4 of /proc/PID/stat)",
        ps_says[0],
        got.ppid
    );
    assert_eq!(
        got.ppid,
        std::process::id() as i32,
        "the test is the parent"
    );
    assert_eq!(
        got.state, 'S',
        "a child blocked in read(2) sleeps: state S; ps says {}",
        ps_says[1]
    );
    assert_eq!(got.threads.to_string(), ps_says[2], "threads vs ps nlwp");
    assert_eq!(
        got.vsz_kib.to_string(),
        ps_says[3],
        "VSZ in KiB vs `ps -o vsz`: /proc/PID/stat gives vsize in BYTES"
    );
    assert_eq!(
        got.cmd,
        format!("{CHILD} sleep"),
        "the command line, arguments joined by spaces"
    );
}

#[test]
fn a_spinning_child_is_running_and_its_cpu_ticks_grow() {
    let h = Helper::start(CHILD, &["spin"]);
    let first = info(h.pid());
    assert_eq!(
        first.state, 'R',
        "a process that never blocks is R (running or waiting for a CPU)"
    );
    // Its CPU time grows as long as it runs; wait for the kernel's own counter to move, then
    // check the learner's reading moved too.
    let kernel_before = stat_field(h.pid(), 14);
    testkit::wait_until(DEFAULT_DEADLINE, "the spinner's utime to grow", || {
        stat_field(h.pid(), 14) > kernel_before + 2
    });
    let second = info(h.pid());
    assert!(
        second.utime_ticks > first.utime_ticks,
        "utime must grow while the child spins: {} then {} (field 14 of /proc/PID/stat, in \
         clock ticks)",
        first.utime_ticks,
        second.utime_ticks
    );
    assert!(
        second.utime_ticks >= kernel_before,
        "utime {} is below what the kernel said earlier ({kernel_before})",
        second.utime_ticks
    );
}

#[test]
fn a_stopped_child_is_t() {
    let h = Helper::asleep(CHILD, &["sleep"]);
    kill(Pid::from_raw(h.pid()), Signal::SIGSTOP).expect("SIGSTOP our child");
    wait_for_state(h.pid(), 'T', DEFAULT_DEADLINE);
    let got = info(h.pid());
    assert_eq!(got.state, 'T', "after SIGSTOP the state is T (stopped)");
    assert_eq!(ps(h.pid(), &["stat"])[0].chars().next(), Some('T'));
}

#[test]
fn a_zombie_is_z_with_no_memory_and_no_fds() {
    let mut child = ChildGuard::spawn(
        Command::new(CHILD)
            .args(["exit", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    let pid = child.id() as i32;
    wait_for_state(pid, 'Z', DEFAULT_DEADLINE);
    let got = info(pid);
    assert_eq!(got.state, 'Z', "exited but not yet waited for: a zombie");
    assert_eq!(got.rss_kib, 0, "a zombie's memory is already freed");
    assert_eq!(got.fds, 0, "a zombie's fds are already closed");
    assert_eq!(got.threads, 1);
    assert_eq!(
        got.pss_kib, None,
        "a zombie has no smaps_rollup to read: PSS is None, not an error"
    );
    assert_eq!(
        got.cmd, "[monitoring-chil]",
        "a zombie's command line is empty: show `[comm]` (comm is at most 15 bytes)"
    );
    child.wait(DEFAULT_DEADLINE);
    assert!(
        inspect(pid).is_err(),
        "once reaped the pid is gone: inspect must fail"
    );
}

#[test]
fn fifty_open_files_are_counted() {
    let h = Helper::asleep(CHILD, &["fds", "50"]);
    let got = info(h.pid());
    let kernel = fd_count(h.pid());
    assert!(kernel >= 53, "the helper holds 50 files plus stdio");
    assert_eq!(
        got.fds, kernel,
        "fds: one entry per open descriptor in /proc/PID/fd"
    );
}

#[test]
fn sixty_four_mib_touched_shows_in_rss_and_pss_but_vsz_is_larger() {
    let h = Helper::asleep(CHILD, &["touch", "64"]);
    let got = info(h.pid());
    let ps_rss = ps_number(h.pid(), "rss");
    assert!(
        got.rss_kib.abs_diff(ps_rss) <= 1024,
        "RSS {} KiB, but `ps -o rss` says {ps_rss} KiB: /proc/PID/stat gives RSS in PAGES \
         (procfs::page_size() bytes each)",
        got.rss_kib
    );
    assert!(
        got.rss_kib >= 64 * 1024,
        "64 MiB were touched: RSS {} KiB",
        got.rss_kib
    );
    assert!(
        got.vsz_kib >= got.rss_kib,
        "everything resident is mapped: VSZ {} >= RSS {}",
        got.vsz_kib,
        got.rss_kib
    );
    // PSS moves whenever another process maps or unmaps a page this one shares (the helper's
    // binary, libc: other tests run the same helper meanwhile). So the kernel's figure is read
    // just before and just after the learner's, and all three again if it moved in between.
    let kernel_pss = || proc_value(h.pid(), "smaps_rollup", "Pss").expect("Pss in smaps_rollup");
    let mut tries = 0;
    let (pss, before, after) = loop {
        let before = kernel_pss();
        let pss = info(h.pid())
            .pss_kib
            .expect("a live process has a /proc/PID/smaps_rollup: PSS must be Some");
        let after = kernel_pss();
        tries += 1;
        if before == after || tries == 5 {
            break (pss, before, after);
        }
    };
    assert!(
        pss + 256 >= before.min(after) && pss <= before.max(after) + 256,
        "PSS {pss} KiB, smaps_rollup says {before} kB just before and {after} kB just after"
    );
    assert!(
        pss >= 64 * 1024 && pss <= got.rss_kib,
        "private memory counts fully in PSS, shared pages only in part: PSS {pss} must be \
         between 64 MiB and RSS {}",
        got.rss_kib
    );
}

#[test]
fn io_counts_the_bytes_written() {
    let h = Helper::asleep(CHILD, &["write-bytes", "1048576"]);
    let got = info(h.pid());
    let (rchar, wchar) = got
        .io_chars
        .expect("/proc/PID/io of our own child is readable");
    assert_eq!(
        wchar,
        proc_value(h.pid(), "io", "wchar").expect("wchar"),
        "write chars: `wchar` of /proc/PID/io"
    );
    assert!(wchar >= 1 << 20, "the child wrote 1 MiB: wchar {wchar}");
    assert_eq!(rchar, proc_value(h.pid(), "io", "rchar").expect("rchar"));
    // A sleeping process's CPU times do not move: they must equal the kernel's exactly.
    assert_eq!(
        (got.utime_ticks, got.stime_ticks),
        (stat_field(h.pid(), 14), stat_field(h.pid(), 15)),
        "(utime, stime): fields 14 and 15 of /proc/PID/stat, in clock ticks"
    );
}

#[test]
fn start_time_is_in_ticks_since_boot_and_matches_ps() {
    let h = Helper::asleep(CHILD, &["sleep"]);
    let got = info(h.pid());
    assert_eq!(
        got.start_ticks,
        stat_field(h.pid(), 22),
        "start time: field 22 of /proc/PID/stat, clock ticks since boot"
    );
    // `ps -o lstart` prints the start as a date to the second; `date -d` turns it into seconds
    // since the epoch. The two must agree within 2 s.
    let lstart = ps(h.pid(), &["lstart"]).remove(0);
    let out = Command::new("date")
        .args(["+%s", "-d", &lstart])
        .output()
        .expect("run date");
    let ps_epoch: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("date -d {lstart:?}: {e}"));
    let yours = got
        .started
        .duration_since(UNIX_EPOCH)
        .expect("a start after 1970")
        .as_secs();
    assert!(
        yours.abs_diff(ps_epoch) <= 2,
        "you say the child started at {yours} s since the epoch, `ps -o lstart` says {lstart} \
         ({ps_epoch}): boot time + start ticks / CLK_TCK"
    );
    // To the millisecond: btime (the boot, in seconds since the epoch, from /proc/stat) plus the
    // start ticks over the tick rate.
    let btime: u64 = std::fs::read_to_string("/proc/stat")
        .expect("read /proc/stat")
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        .expect("btime in /proc/stat");
    let exact = UNIX_EPOCH
        + Duration::from_secs(btime)
        + Duration::from_nanos(got.start_ticks * 1_000_000_000 / clk_tck());
    let off = got
        .started
        .duration_since(exact)
        .unwrap_or_else(|e| e.duration());
    assert!(
        off < Duration::from_millis(1),
        "started is {off:?} away from btime + start_ticks / CLK_TCK ({exact:?})"
    );
}

#[test]
fn a_missing_pid_is_an_error() {
    let mut child = ChildGuard::spawn(Command::new(CHILD).args(["exit", "0"]));
    let pid = child.id() as i32;
    child.wait(DEFAULT_DEADLINE);
    assert!(
        matches!(inspect(pid), Err(procfs::ProcError::NotFound(_))),
        "pid {pid} was reaped: NotFound"
    );
}
