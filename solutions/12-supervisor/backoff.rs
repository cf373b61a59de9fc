//! Restart with exponential backoff and jitter, and give up at the start limit.
//!
//! Scenario: a service crashes at start (its database is down, its config is wrong). Restarting
//! it at once, forever, burns a core and floods the log; restarting it a fixed 100 ms later
//! does the same more slowly; and a hundred services restarted on the same schedule after a
//! network blip all hit the database again in the same millisecond. So the delay grows (times a
//! factor, up to a cap), each delay is moved by a random fraction (jitter) so that services
//! drift apart, a run that lasted long enough starts the sequence again, and a service that
//! dies too often in a short time is marked failed and left alone until someone starts it.
//!
//! Goal: [`Backoff`], a state machine with no clock of its own: the caller says when each death
//! happened and how long that run lasted, and gets a [`Decision`]. The random source of the
//! jitter can be replaced ([`Backoff::with_jitter_source`]) so that a test can choose it.
//! [`wants_restart`] applies the restart policy to an exit status.
//!
//! The rules, for a [`BackoffPolicy`] `{ initial, factor, max, jitter, reset_after }` and a
//! [`StartLimit`] `{ burst, interval }`:
//! - a run of at least `reset_after` resets the sequence: the next delay is `initial` again;
//! - the k-th delay of a sequence (k = 0, 1, ...) is `initial * factor^k`, at most `max`; it is
//!   then multiplied by `1 + jitter * (2r - 1)` for a random `r` in `[0, 1)`, and clamped to
//!   `[0, max]`;
//! - a death that makes `burst` deaths within the last `interval` (this one included) gives
//!   [`Decision::Failed`], and so does every death after it, until [`Backoff::reset`].
//!
//! Chapter: `docs/src/12-supervisor.md#backoff`. Check it with `cargo xtask check supervisor/backoff`.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::{Duration, Instant};

use nix::sys::wait::WaitStatus;

use crate::config::{BackoffPolicy, Restart, StartLimit};

/// What to do after a death.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Start the service again after this delay.
    RestartAfter(Duration),
    /// The start limit was hit: do not restart.
    Failed,
}

/// The restart state of one service.
pub struct Backoff {
    policy: BackoffPolicy,
    limit: StartLimit,
    /// Position in the current sequence of delays.
    attempt: u32,
    /// The instants of the deaths still inside the start-limit interval, oldest first.
    deaths: VecDeque<Instant>,
    current: Duration,
    failed: bool,
    jitter: Box<dyn FnMut() -> f64 + Send>,
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backoff")
            .field("policy", &self.policy)
            .field("limit", &self.limit)
            .field("attempt", &self.attempt)
            .field("deaths", &self.deaths.len())
            .field("current", &self.current)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Backoff {
    /// A fresh state: no death yet, [`current`](Self::current) is zero. The jitter comes from
    /// std's randomly keyed hasher ([`random_fraction`]).
    pub fn new(policy: BackoffPolicy, limit: StartLimit) -> Backoff {
        Backoff {
            policy,
            limit,
            attempt: 0,
            deaths: VecDeque::new(),
            current: Duration::ZERO,
            failed: false,
            jitter: Box::new(random_fraction),
        }
    }

    /// Replaces the random source: `source()` must return values in `[0, 1)`.
    pub fn with_jitter_source(mut self, source: impl FnMut() -> f64 + Send + 'static) -> Backoff {
        self.jitter = Box::new(source);
        self
    }

    /// Records a death at `now` after a run of `ran_for`, and decides.
    pub fn on_exit(&mut self, now: Instant, ran_for: Duration) -> Decision {
        // The start limit: forget deaths older than the interval, then count this one.
        while let Some(&oldest) = self.deaths.front() {
            if now.saturating_duration_since(oldest) >= self.limit.interval {
                self.deaths.pop_front();
            } else {
                break;
            }
        }
        self.deaths.push_back(now);
        if self.failed || self.deaths.len() >= self.limit.burst as usize {
            self.failed = true;
            return Decision::Failed;
        }
        // A stable run: whatever killed it now is a new problem, not the old one again.
        if ran_for >= self.policy.reset_after {
            self.attempt = 0;
        }
        let p = &self.policy;
        // powi on the factor, and the product in f64 seconds, so that a long sequence saturates
        // at the cap instead of overflowing a Duration.
        let exp = i32::try_from(self.attempt).unwrap_or(i32::MAX);
        // After enough deaths factor^k is infinite, and 0 * inf is NaN, which `min` would turn
        // into the cap: a zero first delay stays zero, however many deaths.
        let base = if p.initial.is_zero() {
            0.0
        } else {
            (p.initial.as_secs_f64() * p.factor.powi(exp)).min(p.max.as_secs_f64())
        };
        let r = (self.jitter)().clamp(0.0, 1.0);
        let jittered = base * (1.0 + p.jitter * (2.0 * r - 1.0));
        let delay = jittered.clamp(0.0, p.max.as_secs_f64());
        self.current = Duration::from_secs_f64(delay);
        self.attempt = self.attempt.saturating_add(1);
        Decision::RestartAfter(self.current)
    }

    /// The last delay decided (zero before the first death).
    pub fn current(&self) -> Duration {
        self.current
    }

    /// Whether the start limit was hit.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Back to a fresh state (an operator started the service by hand): no failure, no death
    /// remembered, the sequence from `initial`.
    pub fn reset(&mut self) {
        self.attempt = 0;
        self.deaths.clear();
        self.current = Duration::ZERO;
        self.failed = false;
    }
}

/// Whether `policy` restarts a service that ended with `status`.
///
/// `Always` restarts whatever the end; `OnFailure` unless it exited 0; `Never` never. A
/// status that is not an end (stopped, continued, still alive) is not restarted.
pub fn wants_restart(policy: Restart, status: &WaitStatus) -> bool {
    let ended = matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..));
    let clean = matches!(status, WaitStatus::Exited(_, 0));
    match policy {
        Restart::Always => ended,
        Restart::OnFailure => ended && !clean,
        Restart::Never => false,
    }
}

/// A random fraction in `[0, 1)` at each call. std's `RandomState` gives every instance fresh
/// SipHash keys (random per thread, then incremented), so hashing nothing is enough: plenty
/// for spreading delays apart, and no dependency. Not for secrets.
fn random_fraction() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    // The top 53 bits, the precision of an f64, as a fraction of 2^53.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
