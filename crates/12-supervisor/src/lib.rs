//! proclings week 8, days 1-7: a service supervisor.
//!
//! One module per exercise. Without the `solution` feature each module is the learner's stub
//! from `exercises/12-supervisor/`; with it, the reference solution from `solutions/12-supervisor/`.
//! The chapter is `docs/src/12-supervisor.md`; `cargo run -p supervisor` narrates the topic.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/12-supervisor/config.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod config;
#[cfg(feature = "solution")]
#[path = "../../../solutions/12-supervisor/config.rs"]
pub mod config;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/12-supervisor/reaper.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod reaper;
#[cfg(feature = "solution")]
#[path = "../../../solutions/12-supervisor/reaper.rs"]
pub mod reaper;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/12-supervisor/readiness.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod readiness;
#[cfg(feature = "solution")]
#[path = "../../../solutions/12-supervisor/readiness.rs"]
pub mod readiness;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/12-supervisor/backoff.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod backoff;
#[cfg(feature = "solution")]
#[path = "../../../solutions/12-supervisor/backoff.rs"]
pub mod backoff;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/12-supervisor/logs.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod logs;
#[cfg(feature = "solution")]
#[path = "../../../solutions/12-supervisor/logs.rs"]
pub mod logs;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/12-supervisor/control.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod control;
#[cfg(feature = "solution")]
#[path = "../../../solutions/12-supervisor/control.rs"]
pub mod control;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/12-supervisor/svd.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod svd;
#[cfg(feature = "solution")]
#[path = "../../../solutions/12-supervisor/svd.rs"]
pub mod svd;
