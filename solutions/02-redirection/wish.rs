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
//! that never leaves a zombie behind.
//!
//! Read: `docs/src/02-redirection.md#wish`.
//! Check: `cargo xtask check redirection/wish`.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode};

/// The one error message the shell ever prints, whatever went wrong.
pub const ERROR_MESSAGE: &str = "An error has occurred\n";

/// The prompt of interactive mode.
pub const PROMPT: &str = "wish> ";

/// Prints [`ERROR_MESSAGE`] on stderr.
pub fn report_error() {
    // stderr is unbuffered, so the message is out before the next command runs. If even stderr
    // is gone there is nobody left to tell: ignoring the write error is all we can do.
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
    // Splitting on the operator characters themselves, not on whitespace-separated words, is
    // what makes `ls>out` and `a&b` work.
    line.split('&')
        .filter(|text| !text.trim().is_empty())
        .map(parse_command)
        .collect()
}

/// Parses one command (the text between two `&`).
fn parse_command(text: &str) -> io::Result<ParsedCommand> {
    let syntax = |why: &str| io::Error::new(ErrorKind::InvalidInput, why.to_string());
    let (words, output) = match text.split_once('>') {
        None => (text, None),
        Some((before, after)) => {
            if after.contains('>') {
                return Err(syntax("more than one `>`"));
            }
            let mut files = after.split_whitespace();
            match (files.next(), files.next()) {
                (Some(file), None) => (before, Some(PathBuf::from(file))),
                (None, _) => return Err(syntax("no file after `>`")),
                (Some(_), Some(_)) => return Err(syntax("more than one file after `>`")),
            }
        }
    };
    let argv: Vec<String> = words.split_whitespace().map(String::from).collect();
    if argv.is_empty() {
        // Blank commands were filtered out before, so this one had a `>` and nothing before it.
        return Err(syntax("no command before `>`"));
    }
    Ok(ParsedCommand { argv, output })
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
        Shell {
            path: vec![PathBuf::from("/bin")],
        }
    }
}

impl Shell {
    /// Runs one input line: parses it, runs built-ins in the shell, starts every other command,
    /// then waits for all the commands it started. Reports each error and goes on.
    pub fn run_line(&mut self, line: &str) -> Flow {
        let commands = match parse_line(line) {
            Ok(commands) => commands,
            Err(_) => {
                report_error();
                return Flow::Continue;
            }
        };
        let mut flow = Flow::Continue;
        let mut children = Vec::new();
        for command in &commands {
            let result = match command.argv[0].as_str() {
                "exit" if command.argv.len() == 1 => {
                    // Stop starting commands, but still wait below for those already started:
                    // a shell that exits without waiting leaves orphans behind.
                    flow = Flow::Exit;
                    break;
                }
                "exit" => Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    "exit takes no argument",
                )),
                // A built-in runs inside the shell and ignores a `> FILE` (a shortcut: it prints
                // nothing but the error message, which belongs on the shell's own stderr).
                "cd" => self.cd(&command.argv[1..]),
                "path" => self.set_path(&command.argv[1..]),
                // Spawn now, wait later: every command of the line is running before the shell
                // waits for the first one, which is what makes `&` parallel.
                _ => self.spawn(command).map(|child| children.push(child)),
            };
            if result.is_err() {
                report_error();
            }
        }
        for mut child in children {
            // The command's own exit status is its business, not a shell error. Waiting is what
            // matters: it reaps the child, so no zombie is left behind.
            if child.wait().is_err() {
                report_error();
            }
        }
        flow
    }

    /// `cd DIR`: changes the shell's current directory (exactly one argument).
    pub fn cd(&mut self, args: &[String]) -> io::Result<()> {
        match args {
            [dir] => std::env::set_current_dir(dir),
            _ => Err(io::Error::new(
                ErrorKind::InvalidInput,
                "cd takes exactly one argument",
            )),
        }
    }

    /// `path [DIR ...]`: replaces the search path with exactly these directories; relative ones
    /// are taken relative to the current directory now, not when a command is searched.
    pub fn set_path(&mut self, dirs: &[String]) -> io::Result<()> {
        let cwd = std::env::current_dir()?;
        // `join` keeps an absolute `dir` as it is and puts a relative one under `cwd`.
        self.path = dirs.iter().map(|dir| cwd.join(dir)).collect();
        Ok(())
    }

    /// The first `DIR/name`, for DIR in the search path in order, that is an executable file.
    pub fn find_executable(&self, name: &str) -> Option<PathBuf> {
        self.path
            .iter()
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    }

    /// Starts one external command with its redirection; does not wait for it.
    pub fn spawn(&self, command: &ParsedCommand) -> io::Result<Child> {
        let name = &command.argv[0];
        let program = self.find_executable(name).ok_or_else(|| {
            io::Error::new(ErrorKind::NotFound, format!("{name}: command not found"))
        })?;
        let mut child = std::process::Command::new(program);
        // `Command::new(path)` would make argv[0] the whole path (`/bin/ls`), and programs
        // name themselves by their argv[0] in their messages (`/bin/ls: cannot access ...`).
        // A shell executes the file it found but passes the name as typed, as every shell does.
        child.arg0(name).args(&command.argv[1..]);
        if let Some(file) = &command.output {
            // ONE open file for both streams (what `> FILE 2>&1` does): both fds share one file
            // offset, so the writes land one after the other in the order they were made. Two
            // separate `File::create` would each write from offset 0, over each other.
            let out = File::create(file)?;
            child.stderr(out.try_clone()?);
            child.stdout(out);
        }
        // std starts the child (fork and exec, or posix_spawn) and dup2()s the file onto its
        // fds 1 and 2 before the program runs.
        // The `Command` (and its copies of the file) drops at the end of this function, so the
        // shell keeps no fd of the file open.
        child.spawn()
    }
}

/// A regular file (after following symlinks) with at least one execute bit set.
fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Runs every line of `input` in a fresh shell until `exit` or end of input; prints the prompt
/// before each line when `interactive`.
pub fn run(mut input: impl BufRead, interactive: bool) -> ExitCode {
    let mut shell = Shell::default();
    let mut line = Vec::new();
    loop {
        if interactive {
            let mut stdout = io::stdout().lock();
            // The prompt has no newline, and stdout is line-buffered: without the flush it
            // would sit in the buffer while the shell waits for input.
            let _ = stdout.write_all(PROMPT.as_bytes());
            let _ = stdout.flush();
        }
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(_) => {}
            // A directory opens fine as FILE, but its first read fails (EISDIR): the input
            // cannot be read, the same as a missing FILE.
            Err(_) => {
                report_error();
                return ExitCode::FAILURE;
            }
        }
        // Bytes that are not UTF-8 become U+FFFD: a shortcut, a real shell passes raw bytes.
        if shell.run_line(&String::from_utf8_lossy(&line)) == Flow::Exit {
            return ExitCode::SUCCESS;
        }
    }
}

/// Runs the shell with the given command-line arguments (program name excluded).
pub fn main(args: Vec<String>) -> ExitCode {
    match args.as_slice() {
        [] => run(io::stdin().lock(), true),
        [file] => match File::open(file) {
            Ok(file) => run(BufReader::new(file), false),
            Err(_) => {
                report_error();
                ExitCode::FAILURE
            }
        },
        _ => {
            report_error();
            ExitCode::FAILURE
        }
    }
}
