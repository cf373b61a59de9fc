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
    let mut cmd = Command::new(program);
    // Order matters: `env_clear` also forgets every `env` set before it on this Command, so it
    // comes first. Nothing here touches our own process: a Command only records what the child
    // gets, and std applies it in the child (or passes it to posix_spawn as a new envp).
    if plan.clear {
        cmd.env_clear();
        for &name in plan.keep {
            // `var_os`, not `var`: a value need not be UTF-8. An unset variable stays unset.
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
    }
    for &(name, value) in plan.set {
        cmd.env(name, value);
    }
    for &name in plan.remove {
        cmd.env_remove(name);
    }
    // The child changes directory after the fork, before exec; `std::env::set_current_dir`
    // would instead move the whole parent process (every thread) and race with other code.
    if let Some(dir) = plan.dir {
        cmd.current_dir(dir);
    }
    cmd
}
