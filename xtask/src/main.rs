//! The proclings runner: `cargo xtask [VERB] [ARGS]`.
//!
//! `main` is a flat `match` on the verb; each verb is its own module with a `run` function that
//! returns the process exit status (0 pass, 1 fail, 2 usage error). Shared modules: `manifest`
//! (curriculum.toml), `progress` (.proclings/progress.toml), `term` (colour), `sandbox` (the
//! time-limited, leak-checked run of a test binary), `libtest` (reading test output) and `tidy`
//! (the repository's conventions, also checked by a `#[test]`).

mod bench;
mod book;
mod cargo;
mod check;
mod classroom;
mod doc_commands;
mod doctor;
mod explain;
mod fetch;
mod hint;
mod i18n;
mod libtest;
mod list;
mod manifest;
mod mistakes;
mod po;
mod pristine;
mod progress;
mod reset;
mod scaffold;
mod solution;
mod status;
mod sync;
mod term;
mod tidy;
mod verify;
mod watch;

use std::io::Write;
use std::process::ExitCode;

/// The mdbook release the book is built with (by `.ci/run` and `verify`).
pub const MDBOOK_VERSION: &str = "0.5.4";

/// The mdbook-i18n-helpers release (mdbook-xgettext, mdbook-gettext) that extracts, checks and
/// builds the book's translations (installed by `.ci/run`; used by `sync`, `tidy`, `verify` and
/// `book`).
pub const MDBOOK_I18N_HELPERS_VERSION: &str = "0.4.0";

use crate::i18n::tr;

/// The usage text printed by `--help` and after an unknown verb.
fn usage() -> &'static str {
    tr!("main.usage")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (verb, rest) = args
        .split_first()
        .map_or(("status", &[][..]), |(v, r)| (v.as_str(), r));
    if matches!(
        verb,
        "status" | "list" | "hint" | "solution" | "pristine" | "explain" | "tidy"
    ) {
        // A closed stdout (`cargo xtask list | head`) is a normal way for these verbs to end: let
        // SIGPIPE end the process quietly instead of `println!` panicking on EPIPE. (Not for
        // `check` or `verify`, which must outlive their output to clean up what they ran.)
        // SAFETY: restoring a signal's default disposition touches no memory of ours, and no
        // other thread exists yet.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let result = match verb {
        "status" => status::run(rest),
        "list" => list::run(rest),
        "check" => check::run(rest),
        "hint" => hint::run(rest),
        "verify" => verify::run(rest),
        "bench" => bench::run(rest),
        "book" => book::run(rest),
        "doctor" => doctor::run(rest),
        "explain" => explain::run(rest),
        "watch" => watch::run(rest),
        "reset" => reset::run(rest),
        "solution" => solution::run(rest),
        "pristine" => pristine::run(rest),
        "sync" => sync::run(rest),
        "tidy" => tidy::run(rest),
        "mistakes" => mistakes::run(rest),
        "classroom" => classroom::run(rest),
        "new" => scaffold::run_new(rest),
        "new-topic" => scaffold::run_new_topic(rest),
        "help" | "--help" | "-h" => {
            println!("{}", usage());
            Ok(ExitCode::SUCCESS)
        }
        other => {
            eprintln!(
                "{}",
                tr!("main.unknown_verb", verb = other, usage = usage())
            );
            Ok(ExitCode::from(2))
        }
    };
    let _ = std::io::stdout().flush();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Returns the exit status for a usage error after printing `message` and the usage text.
pub fn usage_error(message: &str) -> ExitCode {
    eprintln!("{}", tr!("main.usage_error", message, usage = usage()));
    ExitCode::from(2)
}
