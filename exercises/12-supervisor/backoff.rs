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
    #[allow(dead_code)] // used once on_exit is written
    jitter: Box<dyn FnMut() -> f64 + Send>,
    // TODO: the state the rules need.
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backoff")
            .field("policy", &self.policy)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Backoff {
    /// A fresh state: no death yet, [`current`](Self::current) is zero. The jitter comes from
    /// std's randomly keyed hasher ([`random_fraction`]).
    pub fn new(policy: BackoffPolicy, limit: StartLimit) -> Backoff {
        // TODO: a fresh state; the jitter from `random_fraction` below.
        todo!("a fresh backoff")
    }

    /// Replaces the random source: `source()` must return values in `[0, 1)`.
    pub fn with_jitter_source(self, source: impl FnMut() -> f64 + Send + 'static) -> Backoff {
        // TODO: use `source` for the jitter from now on.
        todo!("replace the random source")
    }

    /// Records a death at `now` after a run of `ran_for`, and decides.
    pub fn on_exit(&mut self, now: Instant, ran_for: Duration) -> Decision {
        // TODO: the start limit, the reset after a stable run, the next delay with its jitter.
        todo!("decide after a death")
    }

    /// The last delay decided (zero before the first death).
    pub fn current(&self) -> Duration {
        // TODO: the last delay decided.
        todo!("the current delay")
    }

    /// Whether the start limit was hit.
    pub fn is_failed(&self) -> bool {
        // TODO: was the start limit hit?
        todo!("failed?")
    }

    /// Back to a fresh state (an operator started the service by hand): no failure, no death
    /// remembered, the sequence from `initial`.
    pub fn reset(&mut self) {
        // TODO: back to a fresh state.
        todo!("reset")
    }
}

/// Whether `policy` restarts a service that ended with `status`.
///
/// `Always` restarts whatever the end; `OnFailure` unless it exited 0; `Never` never. A
/// status that is not an end (stopped, continued, still alive) is not restarted.
pub fn wants_restart(policy: Restart, status: &WaitStatus) -> bool {
    // TODO: apply the policy to the status.
    todo!("the restart policy")
}

#[allow(dead_code)] // for Backoff::new
/// A random fraction in `[0, 1)` at each call. std's `RandomState` gives every instance fresh
/// SipHash keys (random per thread, then incremented), so hashing nothing is enough: plenty
/// for spreading delays apart, and no dependency. Not for secrets.
fn random_fraction() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    // The top 53 bits, the precision of an f64, as a fraction of 2^53.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
