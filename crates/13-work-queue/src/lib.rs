//! proclings week 9, days 1-7: a work queue beyond one machine.
//!
//! One module per exercise. Without the `solution` feature each module is the learner's stub
//! from `exercises/13-work-queue/`; with it, the reference solution from `solutions/13-work-queue/`.
//! The chapter is `docs/src/13-work-queue.md`; `cargo run -p work-queue` narrates the topic.
//!
//! [`natsd`] is not an exercise: it starts and stops the real `nats-server` that the tests, the
//! demo and the helper binaries talk to.

pub mod natsd;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/13-work-queue/request_reply.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod request_reply;
#[cfg(feature = "solution")]
#[path = "../../../solutions/13-work-queue/request_reply.rs"]
pub mod request_reply;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/13-work-queue/pull_consumer.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod pull_consumer;
#[cfg(feature = "solution")]
#[path = "../../../solutions/13-work-queue/pull_consumer.rs"]
pub mod pull_consumer;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/13-work-queue/redelivery.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod redelivery;
#[cfg(feature = "solution")]
#[path = "../../../solutions/13-work-queue/redelivery.rs"]
pub mod redelivery;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/13-work-queue/leases.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod leases;
#[cfg(feature = "solution")]
#[path = "../../../solutions/13-work-queue/leases.rs"]
pub mod leases;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/13-work-queue/poison.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod poison;
#[cfg(feature = "solution")]
#[path = "../../../solutions/13-work-queue/poison.rs"]
pub mod poison;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/13-work-queue/drain.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod drain;
#[cfg(feature = "solution")]
#[path = "../../../solutions/13-work-queue/drain.rs"]
pub mod drain;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/13-work-queue/jobq.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod jobq;
#[cfg(feature = "solution")]
#[path = "../../../solutions/13-work-queue/jobq.rs"]
pub mod jobq;
