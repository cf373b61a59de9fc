//! Tests for `monitoring/cpu_percent`: the tick rate against `getconf CLK_TCK`, samples against
//! `/proc/PID/stat` and against a child's own accounting (`getrusage(RUSAGE_SELF)`), the
//! arithmetic on samples built by hand, and a spinning and a sleeping child measured for real.
//!
//! No timing assertion: the spinner is measured against the kernel's own counters over the same
//! stretch of time (read here before and after the learner's call), so a loaded machine that
//! gives the spinner half a core makes both figures read about 50.

use std::process::Command;
use std::time::{Duration, Instant};

use monitoring::cpu_percent::{CpuSample, cpu_percent, measure, sample, ticks_per_second};
use testkit::ChildGuard;
use testkit::monitoring::{Helper, clk_tck, cpu_ticks};

const CHILD: &str = env!("CARGO_BIN_EXE_monitoring-child");

#[test]
fn ticks_per_second_is_what_getconf_says() {
    assert_eq!(
        ticks_per_second(),
        clk_tck(),
        "the clock-tick rate must come from sysconf(_SC_CLK_TCK), like `getconf CLK_TCK`"
    );
}

#[test]
fn a_sample_counts_user_and_system_ticks_as_the_child_itself_does() {
    // The child burns 300 ms of CPU, about a third of it in the kernel, reports its own getrusage
    // figures, then sleeps: its counters stop moving, so the learner's sample must equal the
    // kernel's exactly, user and system ticks together.
    let h = Helper::asleep(CHILD, &["work", "300"]);
    let s = sample(h.pid()).unwrap_or_else(|e| panic!("sample({}) failed: {e}", h.pid()));
    let kernel = cpu_ticks(h.pid());
    assert_eq!(
        s.ticks, kernel,
        "ticks: utime + stime (fields 14 and 15 of /proc/PID/stat)"
    );
    let own_us: u64 = h
        .said
        .iter()
        .find_map(|l| {
            let mut w = l.strip_prefix("used ")?.split(' ');
            Some(w.next()?.parse::<u64>().ok()? + w.next()?.parse::<u64>().ok()?)
        })
        .expect("the child reports `used USER_US SYS_US`");
    let yours_us = s.ticks * 1_000_000 / clk_tck();
    assert!(
        yours_us.abs_diff(own_us) <= 30_000,
        "your sample says {yours_us} us of CPU, the child's own getrusage says {own_us} us"
    );
}

#[test]
fn the_percentage_is_cpu_seconds_over_wall_seconds() {
    let t0 = Instant::now();
    let at = |ticks, ms| CpuSample {
        ticks,
        taken: t0 + Duration::from_millis(ms),
    };
    let close = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() < 1e-6,
            "{what}: expected {want}, got {got}"
        );
    };
    close(
        cpu_percent(&at(100, 0), &at(150, 1000), 100),
        50.0,
        "50 ticks at 100 Hz in 1 s",
    );
    close(
        cpu_percent(&at(100, 0), &at(150, 500), 100),
        100.0,
        "50 ticks at 100 Hz in 0.5 s",
    );
    close(
        cpu_percent(&at(0, 0), &at(50, 1000), 1000),
        5.0,
        "50 ticks at 1000 Hz in 1 s: use the rate you are given",
    );
    close(
        cpu_percent(&at(0, 0), &at(300, 1000), 100),
        300.0,
        "three cores' worth in 1 s: not capped at 100",
    );
    close(
        cpu_percent(&at(7, 0), &at(7, 1000), 100),
        0.0,
        "no ticks used",
    );
    close(
        cpu_percent(&at(7, 200), &at(9, 200), 100),
        0.0,
        "no time passed: 0, not infinity or NaN",
    );
    close(
        cpu_percent(&at(9, 0), &at(7, 1000), 100),
        0.0,
        "a counter that went backwards (pid reused by a new process): 0, not a wrap-around",
    );
}

#[test]
fn a_spinning_child_reads_what_the_kernel_counted() {
    let h = Helper::start(CHILD, &["spin"]);
    let hz = clk_tck() as f64;
    let (t0, k0) = (Instant::now(), cpu_ticks(h.pid()));
    let got = measure(h.pid(), Duration::from_millis(500))
        .unwrap_or_else(|e| panic!("measure failed: {e}"));
    let (t1, k1) = (Instant::now(), cpu_ticks(h.pid()));
    let reference = 100.0 * (k1 - k0) as f64 / hz / (t1 - t0).as_secs_f64();
    assert!(
        (got - reference).abs() <= 25.0,
        "a spinner measured over 500 ms: you say {got:.1}%, the kernel's counters over the same \
         stretch say {reference:.1}% (100% = one core busy all the time)"
    );
    assert!(got > 0.0, "a child that never sleeps cannot read {got:.1}%");
}

#[test]
fn a_sleeping_child_reads_zero() {
    let h = Helper::asleep(CHILD, &["sleep"]);
    let got = measure(h.pid(), Duration::from_millis(300))
        .unwrap_or_else(|e| panic!("measure failed: {e}"));
    assert!(
        got < 1.0,
        "a child asleep in read(2) uses no CPU, you say {got:.1}%"
    );
}

#[test]
fn a_missing_pid_is_an_error() {
    let mut child = ChildGuard::spawn(Command::new(CHILD).args(["exit", "0"]));
    let pid = child.id() as i32;
    child.wait(testkit::DEFAULT_DEADLINE);
    assert!(sample(pid).is_err(), "pid {pid} was reaped: an error");
    assert!(measure(pid, Duration::from_millis(1)).is_err());
}
