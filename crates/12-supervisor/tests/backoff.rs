//! Tests for `supervisor::backoff`: delays grow by the factor up to the cap, jitter moves each
//! one within its bound, a stable run starts the sequence again, and the start limit marks the
//! service failed, driven by real crash-looping children and, where the rule is about time, by
//! instants the test chooses (no sleeping through a backoff).

use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use supervisor::backoff::{Backoff, Decision, wants_restart};
use supervisor::config::{BackoffPolicy, Restart, StartLimit};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn policy(initial: u64, factor: f64, max: u64, jitter: f64) -> BackoffPolicy {
    BackoffPolicy {
        initial: ms(initial),
        factor,
        max: ms(max),
        jitter,
        reset_after: Duration::from_secs(30),
    }
}

fn no_limit() -> StartLimit {
    StartLimit {
        burst: 1000,
        interval: Duration::from_secs(1),
    }
}

/// Runs a child that crashes at once (`exit 3`) and returns how long it ran, measured.
fn crash() -> Duration {
    let start = Instant::now();
    let status = Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .status()
        .expect("run the crashing child");
    assert_eq!(status.code(), Some(3), "the child crashed with status 3");
    start.elapsed()
}

/// The delay of a decision that must be a restart.
#[track_caller]
fn delay(d: Decision) -> Duration {
    match d {
        Decision::RestartAfter(d) => d,
        Decision::Failed => panic!("expected a restart, got Failed"),
    }
}

/// Two durations equal to the microsecond (delays are computed in floating point).
#[track_caller]
fn close(got: Duration, want: Duration, what: &str) {
    let diff = got.abs_diff(want);
    assert!(
        diff <= Duration::from_micros(1),
        "{what}: expected {want:?}, got {got:?}"
    );
}

#[test]
fn delays_grow_by_the_factor_up_to_the_cap() {
    let mut b = Backoff::new(policy(100, 2.0, 1000, 0.0), no_limit());
    assert_eq!(b.current(), Duration::ZERO, "no death yet");
    // The clock is the test's: each restart happens `delay` after the death, and the child's
    // real run time is added.
    let mut now = Instant::now();
    let mut got = Vec::new();
    for _ in 0..7 {
        let ran = crash();
        now += ran;
        let d = delay(b.on_exit(now, ran));
        assert_eq!(b.current(), d, "current() is the last delay decided");
        got.push(d);
        now += d;
    }
    let want = [100, 200, 400, 800, 1000, 1000, 1000].map(ms);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        close(
            *g,
            w,
            &format!("delay {i} of 100 ms x2 capped at 1 s, without jitter"),
        );
    }
}

#[test]
fn a_zero_initial_delay_restarts_at_once_every_time() {
    let mut b = Backoff::new(policy(0, 2.0, 1000, 0.5), no_limit());
    let mut now = Instant::now();
    for i in 0..5 {
        now += crash();
        assert_eq!(
            b.on_exit(now, ms(1)),
            Decision::RestartAfter(Duration::ZERO),
            "death {i}: backoff 0 restarts at once, jitter or not"
        );
    }
}

#[test]
fn jitter_moves_each_delay_within_its_bound() {
    let base = Instant::now();
    // r = 0 is the low end: delay * (1 - jitter).
    let mut low =
        Backoff::new(policy(1000, 2.0, 60_000, 0.25), no_limit()).with_jitter_source(|| 0.0);
    close(
        delay(low.on_exit(base, ms(5))),
        ms(750),
        "r = 0, jitter 0.25",
    );
    close(
        delay(low.on_exit(base + ms(800), ms(5))),
        ms(1500),
        "r = 0, second delay",
    );
    // r = 0.5 is the middle: the delay itself.
    let mut mid =
        Backoff::new(policy(1000, 2.0, 60_000, 0.25), no_limit()).with_jitter_source(|| 0.5);
    close(delay(mid.on_exit(base, ms(5))), ms(1000), "r = 0.5");
    // r near 1 is the high end, but never above the cap.
    let mut high =
        Backoff::new(policy(1000, 2.0, 1100, 0.5), no_limit()).with_jitter_source(|| 0.999_999_9);
    let d = delay(high.on_exit(base, ms(5)));
    assert!(
        d > ms(1099) && d <= ms(1100),
        "r ~ 1 with jitter 0.5 would give ~1.5 s, clamped to the 1.1 s cap; got {d:?}"
    );
    close(
        delay(high.on_exit(base + d, ms(5))),
        ms(1100),
        "at the cap, jitter cannot go above it",
    );

    // The default source: every delay within ±20 % of 1 s, and not all the same.
    let mut b = Backoff::new(policy(1000, 1.0, 10_000, 0.2), no_limit());
    let mut now = base;
    let mut seen = Vec::new();
    for _ in 0..40 {
        let d = delay(b.on_exit(now, ms(5)));
        assert!(
            d >= ms(800) && d <= ms(1200),
            "jitter 0.2 keeps 1 s within [0.8 s, 1.2 s]; got {d:?}"
        );
        seen.push(d);
        now += d;
    }
    seen.sort();
    seen.dedup();
    assert!(
        seen.len() > 10,
        "40 jittered delays should not be (nearly) all equal: {} distinct; is the jitter random?",
        seen.len()
    );
}

#[test]
fn a_stable_run_starts_the_sequence_again() {
    let mut b = Backoff::new(
        BackoffPolicy {
            reset_after: Duration::from_secs(10),
            ..policy(100, 3.0, 60_000, 0.0)
        },
        no_limit(),
    );
    let mut now = Instant::now();
    for want in [100, 300, 900] {
        now += Duration::from_secs(1);
        close(
            delay(b.on_exit(now, Duration::from_secs(1))),
            ms(want),
            "crash loop",
        );
    }
    // Ran 9.999 s: not stable yet.
    now += Duration::from_secs(10);
    close(
        delay(b.on_exit(now, ms(9_999))),
        ms(2700),
        "a run shorter than reset_after continues the sequence",
    );
    // Ran 10 s: stable.
    now += Duration::from_secs(10);
    close(
        delay(b.on_exit(now, Duration::from_secs(10))),
        ms(100),
        "a run of reset_after starts again from initial",
    );
    now += Duration::from_secs(1);
    close(delay(b.on_exit(now, ms(5))), ms(300), "and grows again");
}

#[test]
fn the_start_limit_marks_a_crash_loop_failed_until_reset() {
    let limit = StartLimit {
        burst: 3,
        interval: Duration::from_secs(10),
    };
    let mut b = Backoff::new(policy(0, 2.0, 1000, 0.0), limit);
    let t0 = Instant::now();
    // Real children crash; the clock says each death came one second after the last.
    let mut restarts = 0;
    let mut decisions = Vec::new();
    for i in 0..6u64 {
        let ran = crash();
        let d = b.on_exit(t0 + Duration::from_secs(i), ran);
        decisions.push(d);
        if d == Decision::Failed {
            break;
        }
        restarts += 1;
    }
    assert_eq!(
        decisions,
        vec![
            Decision::RestartAfter(Duration::ZERO),
            Decision::RestartAfter(Duration::ZERO),
            Decision::Failed
        ],
        "3 deaths within 10 s (the burst): the third marks the service failed"
    );
    assert_eq!(restarts, 2);
    assert!(b.is_failed());
    assert_eq!(
        b.on_exit(t0 + Duration::from_secs(60), ms(1)),
        Decision::Failed,
        "failed stays failed, even long after"
    );
    b.reset();
    assert!(!b.is_failed(), "reset clears the failure");
    assert_eq!(b.current(), Duration::ZERO, "and the delay");
    assert_eq!(
        b.on_exit(t0 + Duration::from_secs(61), ms(1)),
        Decision::RestartAfter(Duration::ZERO),
        "after a reset, the deaths before it are forgotten"
    );
}

#[test]
fn deaths_spread_wider_than_the_interval_never_fail() {
    let limit = StartLimit {
        burst: 3,
        interval: Duration::from_secs(10),
    };
    let mut b = Backoff::new(policy(100, 2.0, 1000, 0.0), limit);
    let t0 = Instant::now();
    // One death every 5 s: at most 2 inside any 10 s window (a death exactly 10 s old is out).
    for i in 0..20u64 {
        let d = b.on_exit(t0 + Duration::from_secs(5 * i), ms(50));
        assert!(
            matches!(d, Decision::RestartAfter(_)),
            "death {i} at {} s: only deaths within the last 10 s count toward the burst of 3; \
             got {d:?}",
            5 * i
        );
    }
    // Two quick ones then: three within 10 s.
    let last = t0 + Duration::from_secs(95);
    assert!(matches!(
        b.on_exit(last + ms(100), ms(50)),
        Decision::Failed
    ));
}

#[test]
fn the_restart_policy_reads_the_exit_status() {
    let pid = Pid::from_raw(1234);
    let ok = WaitStatus::Exited(pid, 0);
    let bad = WaitStatus::Exited(pid, 1);
    let killed = WaitStatus::Signaled(pid, Signal::SIGSEGV, true);
    let stopped = WaitStatus::Stopped(pid, Signal::SIGSTOP);
    let table = [
        (Restart::Always, ok, true),
        (Restart::Always, bad, true),
        (Restart::Always, killed, true),
        (Restart::Always, stopped, false),
        (Restart::OnFailure, ok, false),
        (Restart::OnFailure, bad, true),
        (Restart::OnFailure, killed, true),
        (Restart::OnFailure, stopped, false),
        (Restart::Never, ok, false),
        (Restart::Never, bad, false),
        (Restart::Never, killed, false),
    ];
    for (policy, status, want) in table {
        assert_eq!(
            wants_restart(policy, &status),
            want,
            "restart = {policy:?} after {status:?}"
        );
    }
}

#[test]
fn a_zero_initial_delay_stays_zero_after_thousands_of_deaths() {
    // 2^1024 is infinite in f64, and 0 * inf is NaN: a formula that multiplies first and
    // clamps after jumps to the cap here.
    let limit = StartLimit {
        burst: 100_000,
        interval: Duration::from_secs(1),
    };
    let mut b = Backoff::new(policy(0, 2.0, 60_000, 0.0), limit);
    let mut now = Instant::now();
    for i in 0..1100 {
        // Deaths spread out, so that the start limit never counts more than one.
        now += Duration::from_secs(2);
        let d = delay(b.on_exit(now, ms(1)));
        assert_eq!(
            d,
            Duration::ZERO,
            "death {i}: with initial_ms = 0 every delay is 0; got {d:?} (0 * factor^k is NaN \
             once factor^k overflows to infinity, and min(NaN, cap) is the cap)"
        );
    }
}
