//! Exercise `command-basics/environment`: decide what a child inherits.
//!
//! Scenario: a test runner starts the program under test. Sometimes the child should see the
//! runner's whole environment plus one variable; sometimes (reproducible builds, sandboxes)
//! *only* what is asked for, and in its own working directory. By default a child inherits
//! everything: every environment variable and the working directory of its parent.
//!
//! Goal: `command` builds a `Command` for `program` that follows an [`EnvPlan`]: start from
//! the parent's environment or from nothing (`clear`), copy back the variables to `keep`, add
//! `set`, drop `remove`, and run in `dir`. The parent's own environment and working directory
//! must not change.
//!
//! Read: `docs/src/01-command-basics.md#environment`.
//! Check: `cargo xtask check command-basics/environment`.

use std::path::Path;
use std::process::Command;

/// What the child's environment and working directory should be.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvPlan<'a> {
    /// Start from an empty environment instead of a copy of the parent's.
    pub clear: bool,
    /// With `clear`: variables of the parent to copy into the child anyway (e.g. `PATH`).
    /// A name the parent does not have is skipped, not set to an empty value.
    pub keep: &'a [&'a str],
    /// Variables to set in the child (added, or replacing an inherited value).
    pub set: &'a [(&'a str, &'a str)],
    /// Variables the child must not have.
    pub remove: &'a [&'a str],
    /// The child's working directory; `None` inherits the parent's.
    pub dir: Option<&'a Path>,
}

/// Builds a command for `program` whose environment and working directory follow `plan`.
///
/// # References
/// `environ(7)`, `chdir(2)`.
pub fn command(program: &str, plan: &EnvPlan<'_>) -> Command {
    // TODO: start a `Command` for `program`.
    // TODO: with `plan.clear`, empty its environment first, then copy the `keep` variables the
    // parent has (see `std::env::var_os`).
    // TODO: set the `set` variables, remove the `remove` ones.
    // TODO: run it in `plan.dir` if given, without changing our own working directory.
    todo!("build the Command according to the plan")
}
