//! wish, the week-1 command executor: a tiny shell.
//!
//! The scenario: everything of week 1 in one program. `wish` reads command lines, one at a time,
//! from a file (`wish FILE`, batch mode) or from its standard input with the prompt `wish> `
//! (`wish`, interactive mode), and runs them:
//!
//! - built-ins, run by the shell itself: `exit`, `cd DIR`, `path [DIR ...]`;
//! - any other command is searched in the search path (initially `/bin`), started with its
//!   arguments (and its name as typed, not the path found, as its argv[0]) and waited for;
//! - `CMD ARGS > FILE` sends the command's stdout AND stderr to FILE (created or truncated);
//! - `CMD1 & CMD2 & CMD3` starts every command before waiting for any of them.
//!
//! Every error prints exactly `An error has occurred` (and a newline) on stderr, and the shell
//! goes on with the next line. Only a bad command line (more than one argument, a FILE that
//! cannot be read) ends the shell, with status 1. At end of input, or on `exit`, it ends with 0.
//!
//! The goal: write the parser, the built-ins, the path search and the run loop; redirection with
//! one shared open file; parallel commands that all run before any is waited for, and a shell
//! that never leaves a zombie behind. The skeleton below is a suggestion: the tests only run the
//! `wish` binary, so you may shape the code as you like, as long as `main` stays.
//!
//! Read: `docs/src/02-redirection.md#wish`.
//! Check: `cargo xtask check redirection/wish`.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode};

/// The one error message the shell ever prints, whatever went wrong.
pub const ERROR_MESSAGE: &str = "An error has occurred\n";

/// The prompt of interactive mode.
pub const PROMPT: &str = "wish> ";

/// Prints [`ERROR_MESSAGE`] on stderr.
pub fn report_error() {
    let _ = io::stderr().write_all(ERROR_MESSAGE.as_bytes());
}

/// One command of a line: its words, and the file its output goes to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    /// The program name (or built-in) followed by its arguments; never empty.
    pub argv: Vec<String>,
    /// The file after `>`: receives both stdout and stderr.
    pub output: Option<PathBuf>,
}

/// What the shell does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// `exit` was run: end the shell with status 0.
    Exit,
}

/// Splits a line into its parallel commands (separated by `&`); empty ones are dropped, so an
/// empty or blank line gives no command at all.
///
/// Errors (the whole line is then rejected): nothing before `>`, no file after it, more than
/// one file, more than one `>`.
pub fn parse_line(line: &str) -> io::Result<Vec<ParsedCommand>> {
    // TODO: split on '&' (not on words: `a&b` and `ls>out` need no spaces), drop blank commands,
    // then split each command once on '>' and check both sides.
    todo!("parse a line into its commands")
}

/// The shell's state: its search path. (The current directory is the process's own, changed by
/// `cd`, and inherited by every command it starts.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shell {
    /// The directories searched for a command, in order; absolute.
    pub path: Vec<PathBuf>,
}

impl Default for Shell {
    /// A shell whose search path is `/bin`.
    fn default() -> Self {
        // TODO: the initial search path.
        todo!("a shell with the initial search path")
    }
}

impl Shell {
    /// Runs one input line: parses it, runs built-ins in the shell, starts every other command,
    /// then waits for all the commands it started. Reports each error and goes on.
    pub fn run_line(&mut self, line: &str) -> Flow {
        // TODO: parse; for each command: `exit` (no argument), `cd`, `path`, or spawn it.
        // TODO: wait for every child only after ALL of them were started (that is what `&` means).
        todo!("run one line")
    }

    /// `cd DIR`: changes the shell's current directory (exactly one argument).
    pub fn cd(&mut self, args: &[String]) -> io::Result<()> {
        // TODO: std::env::set_current_dir, with exactly one argument.
        todo!("cd")
    }

    /// `path [DIR ...]`: replaces the search path with exactly these directories; relative ones
    /// are taken relative to the current directory now, not when a command is searched.
    pub fn set_path(&mut self, dirs: &[String]) -> io::Result<()> {
        // TODO: replace (not extend) the path; make relative directories absolute now.
        todo!("path")
    }

    /// The first `DIR/name`, for DIR in the search path in order, that is an executable file.
    pub fn find_executable(&self, name: &str) -> Option<PathBuf> {
        // TODO: a regular file with an execute bit (fs::metadata, PermissionsExt::mode).
        todo!("search the path")
    }

    /// Starts one external command with its redirection; does not wait for it.
    pub fn spawn(&self, command: &ParsedCommand) -> io::Result<Child> {
        // TODO: find the program, pass the arguments, and for `> FILE` give stdout and stderr
        // the SAME open file (File::create once, then try_clone).
        todo!("start one command")
    }
}

/// Runs every line of `input` in a fresh shell until `exit` or end of input; prints the prompt
/// before each line when `interactive`.
pub fn run(input: impl BufRead, interactive: bool) -> ExitCode {
    // TODO: prompt (and flush!) when interactive, read a line, run it; a read error is exit 1.
    todo!("the read-run loop")
}

/// Runs the shell with the given command-line arguments (program name excluded).
pub fn main(args: Vec<String>) -> ExitCode {
    // TODO: no argument: stdin, interactive. One: that file, batch. More, or a file that cannot
    // be opened: report the error and exit with status 1.
    todo!("choose the input")
}
