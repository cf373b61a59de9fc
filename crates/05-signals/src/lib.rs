//! proclings week 2, days 5-7: signals and graceful shutdown.
//!
//! One module per exercise: the learner's stub from `exercises/05-signals/`, or with the
//! `solution` feature the reference solution from `solutions/05-signals/`. The binaries in
//! `src/bin/` other than `demo` are thin drivers: the tests run them as child processes, so that
//! handlers, masks and signals stay out of the test harness.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/05-signals/forward.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod forward;
#[cfg(feature = "solution")]
#[path = "../../../solutions/05-signals/forward.rs"]
pub mod forward;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/05-signals/graceful.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod graceful;
#[cfg(feature = "solution")]
#[path = "../../../solutions/05-signals/graceful.rs"]
pub mod graceful;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/05-signals/masks.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod masks;
#[cfg(feature = "solution")]
#[path = "../../../solutions/05-signals/masks.rs"]
pub mod masks;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/05-signals/reap_children.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod reap_children;
#[cfg(feature = "solution")]
#[path = "../../../solutions/05-signals/reap_children.rs"]
pub mod reap_children;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/05-signals/reload_thread.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod reload_thread;
#[cfg(feature = "solution")]
#[path = "../../../solutions/05-signals/reload_thread.rs"]
pub mod reload_thread;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/05-signals/shutdown_flag.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod shutdown_flag;
#[cfg(feature = "solution")]
#[path = "../../../solutions/05-signals/shutdown_flag.rs"]
pub mod shutdown_flag;
