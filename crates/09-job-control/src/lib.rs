//! proclings week 6, days 1-3: sessions, terminals and job control.
//!
//! One module per exercise: the learner's stub from `exercises/09-job-control/`, or with the
//! `solution` feature the reference solution from `solutions/09-job-control/`. The binaries in
//! `src/bin/` other than `demo` and `tsh` are drivers and helper programs: the tests run them as
//! child processes (often on a pseudo-terminal), so that forks, signal masks, process groups and
//! terminals stay out of the test harness.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/09-job-control/foreground.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod foreground;
#[cfg(feature = "solution")]
#[path = "../../../solutions/09-job-control/foreground.rs"]
pub mod foreground;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/09-job-control/process_group.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod process_group;
#[cfg(feature = "solution")]
#[path = "../../../solutions/09-job-control/process_group.rs"]
pub mod process_group;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/09-job-control/pty_session.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod pty_session;
#[cfg(feature = "solution")]
#[path = "../../../solutions/09-job-control/pty_session.rs"]
pub mod pty_session;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/09-job-control/sigchld_race.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod sigchld_race;
#[cfg(feature = "solution")]
#[path = "../../../solutions/09-job-control/sigchld_race.rs"]
pub mod sigchld_race;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/09-job-control/tsh.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod tsh;
#[cfg(feature = "solution")]
#[path = "../../../solutions/09-job-control/tsh.rs"]
pub mod tsh;
