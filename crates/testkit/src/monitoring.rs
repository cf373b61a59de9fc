//! Test support for the monitoring topic: processes with a known behaviour, and the kernel's own
//! figures about them read independently of the code under test (straight from `/proc`, and
//! through `ps`), so a test can compare the two.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, DEFAULT_DEADLINE, LineReader};

/// A helper process started with a mode (`sleep`, `spin`, `fds 50`, ...) that prints `ready`
/// once it is in the state it promises. Killed and reaped when dropped.
#[derive(Debug)]
pub struct Helper {
    /// The guarded child.
    pub guard: ChildGuard,
    /// Its stdout, line by line.
    pub out: LineReader,
    /// The lines it printed before `ready` (figures it measured about itself).
    pub said: Vec<String>,
    stdin: Option<ChildStdin>,
}

impl Helper {
    /// Starts `exe` with `args` and waits (with a deadline) for its `ready` line.
    #[track_caller]
    pub fn start(exe: &str, args: &[&str]) -> Helper {
        let mut h = Helper::spawn(exe, args);
        h.said = h.until_ready();
        h
    }

    /// Like [`Helper::start`], for a mode that sleeps once ready: also waits until the helper is
    /// asleep (state S) in `/proc`, so that its figures no longer move. Between printing `ready`
    /// and blocking in read(2) a process is still running for a moment.
    #[track_caller]
    pub fn asleep(exe: &str, args: &[&str]) -> Helper {
        let h = Helper::start(exe, args);
        wait_for_state(h.pid(), 'S', DEFAULT_DEADLINE);
        h
    }

    /// Starts `exe` with `args` without waiting for anything.
    #[track_caller]
    pub fn spawn(exe: &str, args: &[&str]) -> Helper {
        let mut cmd = Command::new(exe);
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut guard = ChildGuard::spawn(&mut cmd);
        let stdout = guard.child().stdout.take().expect("piped stdout");
        let stdin = guard.child().stdin.take();
        Helper {
            guard,
            out: LineReader::new(stdout, &format!("{exe} {}", args.join(" "))),
            said: Vec::new(),
            stdin,
        }
    }

    /// Reads lines until `ready`; returns the lines before it.
    #[track_caller]
    pub fn until_ready(&mut self) -> Vec<String> {
        let mut before = Vec::new();
        loop {
            match self.out.next_line(DEFAULT_DEADLINE * 3) {
                Some(line) if line == "ready" => return before,
                Some(line) => before.push(line),
                None => panic!(
                    "the helper pid {} ended before saying `ready`; it said: {:?}",
                    self.pid(),
                    self.out.seen()
                ),
            }
        }
    }

    /// The helper's pid.
    pub fn pid(&self) -> i32 {
        self.guard.id() as i32
    }

    /// Sends one line to the helper's stdin.
    pub fn send(&mut self, line: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = writeln!(stdin, "{line}");
            let _ = stdin.flush();
        }
    }

    /// Closes the helper's stdin, which ends the modes that sleep on it.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The number that follows `key ` in one of the lines said before `ready`.
    #[track_caller]
    pub fn said_number(&self, key: &str) -> u64 {
        self.said
            .iter()
            .find_map(|l| l.strip_prefix(key)?.trim().split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("the helper never said `{key} N`; it said {:?}", self.said))
    }
}

/// The fields of `/proc/PID/stat` after the command name, numbered as in `proc_pid_stat(5)`
/// minus 3: index 0 is the state (field 3), 1 the ppid (field 4), 11 utime (field 14), ...
pub fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Field `n` of `/proc/PID/stat` (1-based, as the man page numbers them; `n >= 3`) as a number.
#[track_caller]
pub fn stat_field(pid: i32, n: usize) -> u64 {
    let fields = stat_fields(pid).unwrap_or_else(|| panic!("/proc/{pid}/stat is gone"));
    fields[n - 3]
        .parse()
        .unwrap_or_else(|e| panic!("field {n} of /proc/{pid}/stat: {e}"))
}

/// utime + stime of `pid` in clock ticks, read from `/proc/PID/stat`.
#[track_caller]
pub fn cpu_ticks(pid: i32) -> u64 {
    stat_field(pid, 14) + stat_field(pid, 15)
}

/// The number of entries in `/proc/PID/fd`.
#[track_caller]
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("cannot list /proc/{pid}/fd: {e}"))
        .count()
}

/// The value of `Key:` in a `key: value` file of `/proc/PID/` (`status`, `io`,
/// `smaps_rollup`), its first word parsed as a number (`kB` values stay in kB).
pub fn proc_value(pid: i32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.split_whitespace().next()?.parse().ok())?
    })
}

/// `ps -o FIELD= -p PID` for each of `fields`, trimmed: what procps says about `pid`.
#[track_caller]
pub fn ps(pid: i32, fields: &[&str]) -> Vec<String> {
    fields
        .iter()
        .map(|f| {
            let out = Command::new("ps")
                .args(["-o", &format!("{f}="), "-p", &pid.to_string()])
                .output()
                .unwrap_or_else(|e| panic!("cannot run ps: {e}"));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .collect()
}

/// `ps -o FIELD= -p PID` as a number.
#[track_caller]
pub fn ps_number(pid: i32, field: &str) -> u64 {
    let v = ps(pid, &[field]).remove(0);
    v.parse()
        .unwrap_or_else(|e| panic!("`ps -o {field}= -p {pid}` gave {v:?}: {e}"))
}

/// The clock-tick rate the kernel reports times in, from `getconf CLK_TCK`.
#[track_caller]
pub fn clk_tck() -> u64 {
    let out = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .unwrap_or_else(|e| panic!("cannot run getconf: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("getconf CLK_TCK: {e}"))
}

/// Waits until `pid`'s state letter in `/proc` is `state`, with a deadline.
#[track_caller]
pub fn wait_for_state(pid: i32, state: char, deadline: Duration) {
    crate::wait_until(
        deadline,
        &format!("pid {pid} to reach state {state}"),
        || crate::proc_state(pid as u32) == Some(state),
    );
}
