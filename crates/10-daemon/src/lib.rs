//! proclings week 6, days 4-7: daemons, old style and new.
//!
//! One module per exercise: the learner's stub from `exercises/10-daemon/`, or with the
//! `solution` feature the reference solution from `solutions/10-daemon/`. The binaries in
//! `src/bin/` other than `demo` are thin drivers: the tests run them as child processes, so that
//! forks, locks, signals and daemons stay out of the test harness. Linux only: close_range(2),
//! pidfd_open(2), /proc and abstract socket names are Linux features.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/10-daemon/control.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod control;
#[cfg(feature = "solution")]
#[path = "../../../solutions/10-daemon/control.rs"]
pub mod control;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/10-daemon/counterd.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod counterd;
#[cfg(feature = "solution")]
#[path = "../../../solutions/10-daemon/counterd.rs"]
pub mod counterd;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/10-daemon/detach.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod detach;
#[cfg(feature = "solution")]
#[path = "../../../solutions/10-daemon/detach.rs"]
pub mod detach;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/10-daemon/logs.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod logs;
#[cfg(feature = "solution")]
#[path = "../../../solutions/10-daemon/logs.rs"]
pub mod logs;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/10-daemon/notify.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod notify;
#[cfg(feature = "solution")]
#[path = "../../../solutions/10-daemon/notify.rs"]
pub mod notify;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/10-daemon/pidfile.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod pidfile;
#[cfg(feature = "solution")]
#[path = "../../../solutions/10-daemon/pidfile.rs"]
pub mod pidfile;
