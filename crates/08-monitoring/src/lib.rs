//! proclings week 5: monitoring processes.
//!
//! One module per exercise: the learner's stub from `exercises/08-monitoring/`, or with the
//! `solution` feature the reference solution from `solutions/08-monitoring/`. The binary
//! `monitoring-child` is a process with a known behaviour (sleeping, spinning, holding fds,
//! touching memory, beating a heartbeat) that the tests compare the learner's figures against;
//! `pmon` is the practice project's binary.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/08-monitoring/cpu_percent.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod cpu_percent;
#[cfg(feature = "solution")]
#[path = "../../../solutions/08-monitoring/cpu_percent.rs"]
pub mod cpu_percent;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/08-monitoring/heartbeat.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod heartbeat;
#[cfg(feature = "solution")]
#[path = "../../../solutions/08-monitoring/heartbeat.rs"]
pub mod heartbeat;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/08-monitoring/limits.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod limits;
#[cfg(feature = "solution")]
#[path = "../../../solutions/08-monitoring/limits.rs"]
pub mod limits;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/08-monitoring/pmon.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod pmon;
#[cfg(feature = "solution")]
#[path = "../../../solutions/08-monitoring/pmon.rs"]
pub mod pmon;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/08-monitoring/proc_info.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod proc_info;
#[cfg(feature = "solution")]
#[path = "../../../solutions/08-monitoring/proc_info.rs"]
pub mod proc_info;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/08-monitoring/rusage.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod rusage;
#[cfg(feature = "solution")]
#[path = "../../../solutions/08-monitoring/rusage.rs"]
pub mod rusage;
#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/08-monitoring/sysinfo_view.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod sysinfo_view;
#[cfg(feature = "solution")]
#[path = "../../../solutions/08-monitoring/sysinfo_view.rs"]
pub mod sysinfo_view;
