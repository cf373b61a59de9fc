//! Tests for `monitoring/sysinfo_view`: sysinfo's view of real children agrees with `/proc` and
//! `ps`, only the pids asked for are refreshed (the cost of a full refresh is the lesson), a
//! vanished pid is skipped, and CPU usage appears on the second refresh.

use std::process::Command;

use monitoring::sysinfo_view::{Portable, refresh};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sysinfo::System;
use testkit::monitoring::{Helper, cpu_ticks, ps_number, stat_field, wait_for_state};
use testkit::{ChildGuard, DEFAULT_DEADLINE, wait_until};

const CHILD: &str = env!("CARGO_BIN_EXE_monitoring-child");

fn page_size() -> u64 {
    // SAFETY: sysconf takes an integer and touches no memory.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as u64 }
}

#[test]
fn only_the_pids_asked_for_are_refreshed() {
    let a = Helper::asleep(CHILD, &["sleep"]);
    let b = Helper::asleep(CHILD, &["sleep"]);
    let mut sys = System::new();
    let got = refresh(&mut sys, &[b.guard.id(), a.guard.id()]);
    let pids: Vec<u32> = got.iter().map(|p| p.pid).collect();
    assert_eq!(
        pids,
        [b.guard.id(), a.guard.id()],
        "one entry per pid, in the order asked"
    );
    assert_eq!(
        sys.processes().len(),
        2,
        "the System now caches {} processes: refresh only the pids you watch \
         (ProcessesToUpdate::Some), a full refresh reads every /proc/PID of the machine",
        sys.processes().len()
    );
}

#[test]
fn a_sleeping_child_agrees_with_proc_and_ps() {
    let h = Helper::asleep(CHILD, &["touch", "16"]);
    let pid = h.guard.id();
    let mut sys = System::new();
    let got = refresh(&mut sys, &[pid]);
    let [p]: [Portable; 1] = got.try_into().expect("one process");
    assert_eq!(p.parent, Some(std::process::id()), "the test is the parent");
    assert_eq!(p.name, "monitoring-chil", "comm: the name cut to 15 bytes");
    assert_eq!(p.status, "Sleeping");
    let rss = stat_field(pid as i32, 24) * page_size();
    assert!(
        p.memory_bytes.abs_diff(rss) <= 1 << 20,
        "memory: RSS in bytes; /proc/PID/stat says {rss}, you say {} (the kernel's RSS counters \
         are batched per CPU, so two reads may differ by a few pages)",
        p.memory_bytes
    );
    assert!(
        (p.memory_bytes / 1024).abs_diff(ps_number(pid as i32, "rss")) <= 1024,
        "memory vs `ps -o rss` (KiB)"
    );
    assert!(p.memory_bytes >= 16 << 20, "16 MiB were touched");
    assert_eq!(
        p.virtual_memory_bytes,
        ps_number(pid as i32, "vsz") * 1024,
        "virtual memory vs `ps -o vsz` (KiB)"
    );
    assert_eq!(
        p.cpu_percent, 0.0,
        "the first refresh has no CPU figure yet"
    );
}

#[test]
fn a_stopped_child_is_stopped() {
    let h = Helper::asleep(CHILD, &["sleep"]);
    kill(Pid::from_raw(h.pid()), Signal::SIGSTOP).expect("SIGSTOP");
    wait_for_state(h.pid(), 'T', DEFAULT_DEADLINE);
    let got = refresh(&mut System::new(), &[h.guard.id()]);
    assert_eq!(got[0].status, "Stopped");
}

#[test]
fn cpu_time_is_the_kernels() {
    let h = Helper::asleep(CHILD, &["work", "200"]);
    let got = refresh(&mut System::new(), &[h.guard.id()]);
    let ticks = cpu_ticks(h.pid());
    let hz = testkit::monitoring::clk_tck();
    assert!(
        got[0].cpu_time_ms.abs_diff(ticks * 1000 / hz) <= 1000 / hz,
        "cpu time {} ms, /proc says {ticks} ticks",
        got[0].cpu_time_ms
    );
    assert!(got[0].cpu_time_ms >= 150);
}

#[test]
fn cpu_usage_appears_on_the_second_refresh() {
    let spinner = Helper::start(CHILD, &["spin"]);
    let sleeper = Helper::asleep(CHILD, &["sleep"]);
    let pids = [spinner.guard.id(), sleeper.guard.id()];
    // sysinfo computes nothing for a process whose first sample had 0 ticks: let it use some.
    wait_until(DEFAULT_DEADLINE * 3, "the spinner to use CPU", || {
        cpu_ticks(spinner.pid()) > 2
    });
    let mut sys = System::new();
    refresh(&mut sys, &pids);
    let start = cpu_ticks(spinner.pid());
    // A generous deadline: on a loaded machine a spinner may get a few percent of a core.
    wait_until(
        DEFAULT_DEADLINE * 3,
        "the spinner to use 5 more ticks",
        || cpu_ticks(spinner.pid()) >= start + 5,
    );
    let got = refresh(&mut sys, &pids);
    assert!(
        got[0].cpu_percent > 0.0,
        "between two refreshes the spinner used CPU; sysinfo says {}% (the same System must \
         be refreshed twice, with CPU in the refresh kind)",
        got[0].cpu_percent
    );
    assert!(
        got[1].cpu_percent < 1.0,
        "the sleeper used none: {}",
        got[1].cpu_percent
    );
}

#[test]
fn a_vanished_pid_is_skipped_and_forgotten() {
    let live = Helper::asleep(CHILD, &["sleep"]);
    let mut gone = ChildGuard::spawn(Command::new(CHILD).args(["sleep"]));
    let gone_pid = gone.id();
    let mut sys = System::new();
    assert_eq!(refresh(&mut sys, &[live.guard.id(), gone_pid]).len(), 2);
    let _ = gone.child().kill();
    gone.wait(DEFAULT_DEADLINE);
    let got = refresh(&mut sys, &[live.guard.id(), gone_pid]);
    let pids: Vec<u32> = got.iter().map(|p| p.pid).collect();
    assert_eq!(
        pids,
        [live.guard.id()],
        "a process that exited is not an error: it is just not there; one still described after \
         it was reaped comes from the cache: the cache must forget a dead pid \
         (remove_dead_processes)"
    );
    assert!(
        sys.process(sysinfo::Pid::from_u32(gone_pid)).is_none(),
        "the cache must forget a dead pid (remove_dead_processes), or it keeps stale figures"
    );
}
