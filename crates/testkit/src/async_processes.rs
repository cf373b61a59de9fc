//! Helpers for the tests of week 3 (async processes), which run many children at once and must
//! tell from `/proc` which of them are alive, even while other tests of the same binary run
//! their own children in parallel.
//!
//! The trick is a tag: a test puts a unique word (from [`crate::unique_name`]) into the command
//! line of every child it starts (`sh -c 'read x # TAG'`), and counts only the children whose
//! command line carries it.

use std::path::Path;
use std::time::Duration;

use crate::{children_of, proc_cmdline, proc_state, try_wait_until};

/// The pids of this process's children that are alive (not zombies) and whose command line
/// contains `tag`.
pub fn live_children_tagged(tag: &str) -> Vec<u32> {
    children_of(std::process::id())
        .into_iter()
        .filter(|&(pid, state)| state != 'Z' && proc_cmdline(pid).contains(tag))
        .map(|(pid, _)| pid)
        .collect()
}

/// True when `pid` no longer runs: gone from `/proc`, or a zombie waiting for its parent.
pub fn is_dead(pid: u32) -> bool {
    matches!(proc_state(pid), None | Some('Z'))
}

/// Waits until `pid` no longer runs, or panics with `why` (and its state) after `deadline`.
#[track_caller]
pub fn wait_dead(pid: u32, deadline: Duration, why: &str) {
    if let Err(msg) = try_wait_until(deadline, &format!("pid {pid} to die"), || is_dead(pid)) {
        panic!(
            "{msg}: {why} (it is still running, state {:?}, command line {:?})",
            proc_state(pid),
            proc_cmdline(pid)
        );
    }
}

/// Waits until the file at `path` holds a pid followed by a newline (a child wrote
/// `echo $! > FILE`) and returns it.
#[track_caller]
pub fn read_pid_file(path: &Path, deadline: Duration) -> u32 {
    let mut pid = None;
    let what = format!("a pid in {}", path.display());
    if let Err(msg) = try_wait_until(deadline, &what, || {
        pid = std::fs::read_to_string(path)
            .ok()
            .filter(|s| s.ends_with('\n'))
            .and_then(|s| s.trim().parse().ok());
        pid.is_some()
    }) {
        panic!("{msg}: the child never wrote it");
    }
    pid.expect("set when the wait succeeded")
}

/// Sends SIGKILL to every pid and process group it holds when dropped, also when a test
/// panics: the last defence against a test leaving processes behind.
#[derive(Debug, Default)]
pub struct KillOnDrop {
    pids: Vec<u32>,
    groups: Vec<u32>,
}

impl KillOnDrop {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Kill `pid` on drop, if it still runs and is not a zombie by then.
    pub fn pid(&mut self, pid: u32) {
        self.pids.push(pid);
    }

    /// Kill the process group `pgid` on drop.
    pub fn group(&mut self, pgid: u32) {
        self.groups.push(pgid);
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &g in &self.groups {
            let Ok(g) = i32::try_from(g) else { continue };
            // SAFETY: kill(2) with a negative pid signals a process group; it touches no memory.
            unsafe { libc::kill(-g, libc::SIGKILL) };
        }
        for &p in &self.pids {
            let Ok(p) = i32::try_from(p) else { continue };
            if !is_dead(p as u32) {
                // SAFETY: kill(2) only sends a signal; it touches no memory.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
    }
}

/// Every live process (not a zombie), whoever its parent, whose command line contains `tag`.
/// With a tag from [`crate::unique_name`] these are the processes one test started, also those
/// its children started or left behind.
pub fn live_processes_tagged(tag: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| !is_dead(pid) && proc_cmdline(pid).contains(tag))
        .collect()
}

/// Kills (SIGKILL) every live process whose command line contains its tag when dropped, also
/// when a test panics: the children a test started and whatever they left behind.
#[derive(Debug)]
pub struct KillTagged(pub String);

impl Drop for KillTagged {
    fn drop(&mut self) {
        for pid in live_processes_tagged(&self.0) {
            let Ok(pid) = i32::try_from(pid) else {
                continue;
            };
            // SAFETY: kill(2) only sends a signal, here to a process carrying this test's
            // unique tag.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}
