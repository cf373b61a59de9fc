//! `cargo xtask explain [TOPIC|ERRNO|SYMPTOM]`: the course's diagnosis tree as a command.
//!
//! Each entry answers one "why does my process do this?" question: the symptom as a learner
//! meets it, a command that confirms it, the fix, and the chapter that teaches it. Entries are
//! found by id (`zombie`), by errno name or number (`EPIPE`, `32`), or by words of the message a
//! learner sees (`broken pipe`, `Permission denied`). `check` calls [`suggestions`] on a failing
//! run's output to point at the entries that match.
//!
//! The entries are the branches of the diagnosis tree of the course's mind map: spawn failures
//! (not found, permission denied, resource limits), IPC failures (broken pipe, shared-memory
//! races, socket connect failures and stale socket files), zombies (no wait, SIGCHLD),
//! unresponsive signals (masked, no handler) and leaks (fds, memory, shared memory), plus the
//! few errors the exercises meet on the way. `docs/src/diagnosis.md` has one section per entry.

use std::process::ExitCode;

/// One branch of the diagnosis tree.
#[derive(Debug)]
pub struct Entry {
    /// Stable id, also the anchor of its section in `docs/src/diagnosis.md`.
    pub id: &'static str,
    /// The branch of the tree it belongs to.
    pub branch: &'static str,
    /// One line: what goes wrong.
    pub title: &'static str,
    /// errno values (from `libc`) that point here.
    pub errnos: &'static [(&'static str, i32)],
    /// Lower-case words or phrases of messages that point here.
    pub phrases: &'static [&'static str],
    /// What the learner sees.
    pub symptom: &'static str,
    /// Commands and checks that confirm it.
    pub confirm: &'static [&'static str],
    /// What to do about it.
    pub fix: &'static str,
    /// The chapter (path under docs/src) that teaches it.
    pub chapter: &'static str,
}

/// Every entry, in the order of the diagnosis tree.
pub static ENTRIES: &[Entry] = &[
    Entry {
        id: "not-found",
        branch: "spawning fails",
        title: "the command (or its directory) does not exist",
        errnos: &[("ENOENT", libc::ENOENT)],
        phrases: &[
            "no such file or directory",
            "command not found",
            "not found",
        ],
        symptom: "spawn() returns an error of kind NotFound (ENOENT, os error 2); a shell says \
                  `command not found` and exits 127",
        confirm: &[
            "command -v NAME            # is it on PATH at all?",
            "echo \"$PATH\"               # the PATH the child will search (env_clear() empties it)",
            "ls -l /path/to/program     # a relative path is relative to the child's cwd",
            "head -1 script | cat -A    # a script's #! interpreter missing also gives ENOENT",
        ],
        fix: "Use an absolute path or fix PATH (remember env_clear() removes it). ENOENT from \
              spawn can also mean that current_dir() does not exist, or that a script's \
              interpreter is missing: check all three, and report which one in your error.",
        chapter: "01-command-basics.md",
    },
    Entry {
        id: "permission-denied",
        branch: "spawning fails",
        title: "the file exists but may not be executed or opened",
        errnos: &[("EACCES", libc::EACCES), ("EPERM", libc::EPERM)],
        phrases: &["permission denied", "operation not permitted"],
        symptom: "spawn() or open() fails with PermissionDenied (EACCES, os error 13); a shell \
                  exits 126",
        confirm: &[
            "ls -l FILE                 # is the x bit set for you?",
            "findmnt -T FILE            # a noexec mount refuses to execute anything on it",
            "ls -ld DIR                 # every directory on the path needs x (search) permission",
        ],
        fix: "chmod +x the program, move it off a noexec mount, or fix the directory's \
              permissions. For a socket file, connect() needs write permission on the socket \
              file and search permission on its directories. Do not \"fix\" it by running as \
              root: the course's tests must pass as a normal user.",
        chapter: "01-command-basics.md",
    },
    Entry {
        id: "resource-limits",
        branch: "spawning fails",
        title: "a process or memory limit stops fork/spawn",
        errnos: &[
            ("EAGAIN", libc::EAGAIN),
            ("ENOMEM", libc::ENOMEM),
            ("E2BIG", libc::E2BIG),
        ],
        phrases: &[
            "resource temporarily unavailable",
            "cannot allocate memory",
            "argument list too long",
        ],
        symptom: "spawn() fails with EAGAIN (os error 11) or ENOMEM (os error 12) although the \
                  program is fine, often after many spawns",
        confirm: &[
            "ulimit -u                  # max user processes (RLIMIT_NPROC)",
            "ps -u \"$USER\" | wc -l       # how many you already have (zombies count too)",
            "cat /proc/sys/kernel/pid_max /proc/sys/kernel/threads-max",
            "getconf ARG_MAX            # E2BIG: arguments + environment too large",
        ],
        fix: "Reap your children (zombies keep their process slot), bound how many run at once \
              (a pool or a semaphore), raise the soft limit with `ulimit -u` / setrlimit where \
              allowed, and pass large data on stdin instead of the command line.",
        chapter: "01-command-basics.md",
    },
    Entry {
        id: "broken-pipe",
        branch: "IPC fails",
        title: "writing to a pipe or socket whose reader is gone",
        errnos: &[("EPIPE", libc::EPIPE), ("ECONNRESET", libc::ECONNRESET)],
        phrases: &["broken pipe", "sigpipe", "connection reset", "signal 13"],
        symptom: "write() returns BrokenPipe (EPIPE, os error 32); a C program or a child with \
                  the default SIGPIPE disposition dies silently, `killed by signal 13`",
        confirm: &[
            "ps -o pid,stat,cmd -p READER_PID   # has the reading side exited?",
            "ls -l /proc/PID/fd                 # does anyone still hold the read end?",
            "strace -f -e trace=write,close -p PID",
        ],
        fix: "Treat EPIPE as a normal end of the conversation (the reader is done), not as a \
              crash. Rust ignores SIGPIPE at start-up so you get the error instead of dying. \
              std's Command puts the default back in the children it spawns (so `yes | head` \
              ends as in a shell), but a child made by hand with fork and exec inherits \
              \"ignored\" across exec: restore SIG_DFL before exec.",
        chapter: "03-pipes.md",
    },
    Entry {
        id: "pipe-hang",
        branch: "IPC fails",
        title: "a read never sees EOF, or both sides block on full pipes",
        errnos: &[],
        phrases: &[
            "timed out",
            "deadlock",
            "hangs",
            "never returns",
            "eof never",
        ],
        symptom: "the program hangs: read_to_end() never returns, or writing stdin and reading \
                  stdout block each other",
        confirm: &[
            "ls -l /proc/PID/fd         # who still holds a write end? pipe:[INODE] on both sides",
            "cat /proc/PID/stack        # (root) or: cat /proc/PID/wchan -> pipe_read / pipe_write",
            "ps -o pid,stat,wchan:20,cmd -p PID",
        ],
        fix: "EOF arrives only when EVERY write end is closed: drop the parent's copy of a write \
              end after spawning (Stdio::piped does it for you; a pipe you made yourself does \
              not). When you both write a child's stdin and read its stdout, do one of them on \
              another thread (or poll): a pipe holds only 64 KiB.",
        chapter: "03-pipes.md",
    },
    Entry {
        id: "shm-race",
        branch: "IPC fails",
        title: "shared memory read while another process writes it",
        errnos: &[],
        phrases: &["torn", "data race", "shared memory", "inconsistent"],
        symptom: "values read from shared memory are half old and half new, or a count is lost, \
                  and only sometimes",
        confirm: &[
            "run the test in a loop: for i in $(seq 100); do cargo xtask check ID || break; done",
            "look for plain (non-atomic) reads and writes of shared fields",
        ],
        fix: "Publish data with a Release store and read it with an Acquire load of the same \
              atomic (index or flag), or protect it with a process-shared lock. Never rely on \
              timing: another core may see writes in a different order.",
        chapter: "07-shared-memory.md",
    },
    Entry {
        id: "socket-connect",
        branch: "IPC fails",
        title: "connect() to a Unix socket fails, or bind() finds the path taken",
        errnos: &[
            ("ECONNREFUSED", libc::ECONNREFUSED),
            ("EADDRINUSE", libc::EADDRINUSE),
            ("ENAMETOOLONG", libc::ENAMETOOLONG),
        ],
        phrases: &[
            "connection refused",
            "address already in use",
            "address in use",
            "stale socket",
            "file name too long",
        ],
        symptom: "connect() fails with ConnectionRefused (nobody listens at that path: a stale \
                  socket file) or NotFound; bind() fails with AddrInUse (EADDRINUSE, os error 98)",
        confirm: &[
            "ls -l PATH                 # type s? A socket file outlives its server",
            "ss -xlp | grep PATH        # does a live process listen on it?",
            "echo -n PATH | wc -c       # sun_path holds about 108 bytes",
        ],
        fix: "Before binding, try to connect: refused means the file is stale, so remove it and \
              bind; success means a live server owns it, so refuse. Remove the file when your \
              server shuts down (a guard), keep paths short, or use a Linux abstract name.",
        chapter: "04-unix-sockets.md",
    },
    Entry {
        id: "zombie",
        branch: "zombies",
        title: "a child exited but was never waited for",
        errnos: &[],
        phrases: &[
            "zombie",
            "defunct",
            "<defunct>",
            "not reaped",
            "never waited",
        ],
        symptom: "`ps` shows the child as Z / <defunct>; it keeps its pid and process-table slot \
                  until its parent waits",
        confirm: &[
            "ps -eo pid,ppid,stat,cmd | awk '$3 ~ /^Z/'",
            "grep State /proc/PID/status",
        ],
        fix: "Call wait() (or waitpid) on every child you start, also on error paths; dropping \
              a std::process::Child does NOT wait. A zombie goes away when its parent waits or \
              exits (then init, or a subreaper, adopts and reaps it).",
        chapter: "01-command-basics.md",
    },
    Entry {
        id: "sigchld",
        branch: "zombies",
        title: "children exiting together leave some unreaped",
        errnos: &[("ECHILD", libc::ECHILD)],
        phrases: &["sigchld", "no child processes", "coalesce"],
        symptom: "with many children exiting at once, a SIGCHLD-driven reaper leaves zombies: \
                  several exits produced ONE signal",
        confirm: &[
            "ps -eo pid,ppid,stat,cmd | awk '$3 ~ /^Z/'   # zombies whose ppid is your program",
        ],
        fix: "On each SIGCHLD, reap in a loop: waitpid(-1, WNOHANG) until it says no more \
              children are ready (or ECHILD, none left). Standard signals do not queue: one \
              pending SIGCHLD may stand for many exits.",
        chapter: "05-signals.md",
    },
    Entry {
        id: "signal-masked",
        branch: "signals are not answered",
        title: "the signal is blocked or ignored",
        errnos: &[],
        phrases: &["sigblk", "sigign", "blocked", "ignored", "masked"],
        symptom: "kill -TERM PID does nothing; the process keeps running",
        confirm: &[
            "grep -E 'Sig(Blk|Ign|Cgt)' /proc/PID/status   # hex bitmasks: bit N-1 is signal N",
        ],
        fix: "Masks and ignored dispositions are inherited across fork AND exec: a child started \
              from a thread that blocked signals, or with SIGINT ignored, inherits that. Unblock \
              or reset the disposition in the child (pre_exec) or in the program itself.",
        chapter: "05-signals.md",
    },
    Entry {
        id: "no-handler",
        branch: "signals are not answered",
        title: "no handler was registered, or the handler's work never happens",
        errnos: &[("EINTR", libc::EINTR)],
        phrases: &[
            "signal 15",
            "signal 2",
            "sigterm",
            "sigint",
            "sighup",
            "interrupted system call",
        ],
        symptom: "the process dies of the signal (exit 128+N, `killed by signal 15`) instead of \
                  shutting down cleanly, or the flag is set but the loop never checks it",
        confirm: &[
            "grep SigCgt /proc/PID/status   # caught signals: is the bit of yours set?",
            "strace -e trace=signal -p PID",
        ],
        fix: "Register the handler (signal-hook flag::register or an iterator thread) before you \
              report ready, and check the flag in every loop that may block: use timeouts or a \
              self-pipe so a blocking call wakes up. A handler itself may only do \
              async-signal-safe work: set a flag, write a byte to a pipe.",
        chapter: "05-signals.md",
    },
    Entry {
        id: "leftover-process",
        branch: "leaks",
        title: "a process outlived the run (orphan, background job or daemon)",
        errnos: &[("ESRCH", libc::ESRCH)],
        phrases: &[
            "left running",
            "still running",
            "leftover",
            "orphan",
            "no such process",
        ],
        symptom: "after your code returned, a process it started is still alive (the runner, a \
                  child subreaper, lists and kills it)",
        confirm: &["ps -eo pid,ppid,pgid,sid,stat,cmd --forest"],
        fix: "Wait for every child, and kill what you no longer need (kill, then wait). A child \
              you spawn from a shell script may start its own children: run it in its own \
              process group (CommandExt::process_group(0)) and signal the whole group.",
        chapter: "01-command-basics.md",
    },
    Entry {
        id: "fd-leak",
        branch: "leaks",
        title: "file descriptors are opened and never closed",
        errnos: &[("EMFILE", libc::EMFILE), ("ENFILE", libc::ENFILE)],
        phrases: &[
            "too many open files",
            "file descriptor",
            "fd leak",
            "leaked",
        ],
        symptom: "open/pipe/socket fails with EMFILE (os error 24) after a while, or a pipe \
                  never sees EOF because a leaked copy of its write end is open",
        confirm: &[
            "ls -l /proc/PID/fd         # every open fd and what it points to",
            "ulimit -n                  # the per-process limit",
        ],
        fix: "Own fds in types that close on drop (File, OwnedFd, std pipes) instead of raw \
              integers; keep O_CLOEXEC (std sets it) so fds do not leak into exec'd children; \
              drop what you hand over.",
        chapter: "03-pipes.md",
    },
    Entry {
        id: "shm-leak",
        branch: "leaks",
        title: "shared memory or a message queue outlived its processes",
        errnos: &[("EEXIST", libc::EEXIST)],
        phrases: &["/dev/shm", "shm_open", "mqueue", "segment", "file exists"],
        symptom: "entries pile up in /dev/shm (or /dev/mqueue) and memory stays used after the \
                  programs exit; a later O_EXCL open fails with EEXIST (os error 17)",
        confirm: &[
            "ls -l /dev/shm /dev/mqueue",
            "free -h                    # shm counts as \"shared\" memory",
        ],
        fix: "shm_unlink / mq_unlink when done (a guard that unlinks on drop), or unlink right \
              after every process has opened it: the memory lives until the last mapping goes.",
        chapter: "07-shared-memory.md",
    },
];

/// Entries matching one query: an id, an errno name or number, or words of a message.
pub fn lookup(query: &str) -> Vec<&'static Entry> {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    if let Some(e) = ENTRIES.iter().find(|e| e.id == q) {
        return vec![e];
    }
    let by_errno: Vec<_> = ENTRIES
        .iter()
        .filter(|e| {
            e.errnos
                .iter()
                .any(|&(name, num)| name.eq_ignore_ascii_case(&q) || q.parse::<i32>() == Ok(num))
        })
        .collect();
    if !by_errno.is_empty() {
        return by_errno;
    }
    ENTRIES
        .iter()
        .filter(|e| {
            e.phrases
                .iter()
                .any(|p| q.contains(p) || p.contains(q.as_str()))
                || e.title.contains(q.as_str())
        })
        .collect()
}

/// The entries whose errno names, `os error N` codes or phrases appear in a run's output,
/// in tree order, at most three. `check` prints `cargo xtask explain ID` for each.
pub fn suggestions(output: &str) -> Vec<&'static Entry> {
    let lower = output.to_lowercase();
    let words: Vec<&str> = output
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() > 1)
        .collect();
    let os_errors: Vec<i32> = lower
        .match_indices("os error ")
        .filter_map(|(i, m)| {
            let rest = &lower[i + m.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    ENTRIES
        .iter()
        .filter(|e| {
            e.errnos
                .iter()
                .any(|&(name, num)| words.contains(&name) || os_errors.contains(&num))
                // Only the distinctive phrases: a bare "timed out" in a failing run points at
                // a hang, but generic words like "blocked" would match too much.
                || e.phrases
                    .iter()
                    .filter(|p| p.len() >= 9)
                    .any(|p| lower.contains(p))
        })
        .take(3)
        .collect()
}

/// Renders one entry for the terminal.
pub fn render(e: &Entry) -> String {
    let mut s = format!("{}: {}\n  ({})\n\n", e.id, e.title, e.branch);
    if !e.errnos.is_empty() {
        let names: Vec<String> = e
            .errnos
            .iter()
            .map(|&(n, v)| {
                let msg = std::io::Error::from_raw_os_error(v).to_string();
                let msg = msg.split(" (os error").next().unwrap_or(&msg).to_string();
                format!("{n} ({v}, \"{msg}\")")
            })
            .collect();
        s.push_str(&format!("errno:    {}\n", names.join(", ")));
    }
    s.push_str(&format!("symptom:  {}\n", one_line(e.symptom)));
    s.push_str("confirm:\n");
    for c in e.confirm {
        s.push_str(&format!("  $ {c}\n"));
    }
    s.push_str(&format!("fix:      {}\n", one_line(e.fix)));
    let docs = crate::manifest::root().join("docs/src");
    if docs.join(e.chapter).exists() {
        s.push_str(&format!(
            "read:     docs/src/{} (and docs/src/diagnosis.md#{})\n",
            e.chapter, e.id
        ));
    } else {
        s.push_str(&format!("read:     docs/src/diagnosis.md#{}\n", e.id));
    }
    s
}

/// Folds the runs of spaces that source line continuations leave in long strings.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs `cargo xtask explain [QUERY...]`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!(
            "usage: cargo xtask explain [ID | ERRNO | NUMBER | SYMPTOM WORDS]\n\n\
             With no argument, lists every entry of the diagnosis tree.\n\
             Examples: cargo xtask explain EPIPE; cargo xtask explain 13; \
             cargo xtask explain broken pipe; cargo xtask explain zombie"
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.is_empty() {
        println!("The diagnosis tree: `cargo xtask explain ID` shows one entry.\n");
        let mut branch = "";
        for e in ENTRIES {
            if e.branch != branch {
                branch = e.branch;
                println!("{branch}");
            }
            let errnos: Vec<&str> = e.errnos.iter().map(|&(n, _)| n).collect();
            let errnos = if errnos.is_empty() {
                String::new()
            } else {
                format!(" [{}]", errnos.join(", "))
            };
            println!("  {:<18} {}{}", e.id, e.title, errnos);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let query = args.join(" ");
    let found = lookup(&query);
    if found.is_empty() {
        eprintln!(
            "error: nothing in the diagnosis tree matches `{query}`\n\
             try an errno name (EPIPE), its number (32), words of the message (broken pipe), \
             or `cargo xtask explain` for the list"
        );
        return Ok(ExitCode::from(2));
    }
    for (i, e) in found.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print!("{}", render(e));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&Entry]) -> Vec<&'static str> {
        v.iter().map(|e| e.id).collect()
    }

    #[test]
    fn errno_names_numbers_and_messages_find_the_same_entry() {
        assert_eq!(ids(&lookup("EPIPE")), ["broken-pipe"]);
        assert_eq!(ids(&lookup("epipe")), ["broken-pipe"]);
        assert_eq!(ids(&lookup("32")), ["broken-pipe"]);
        assert_eq!(ids(&lookup("broken pipe")), ["broken-pipe"]);
        assert_eq!(ids(&lookup("zombie")), ["zombie"]);
        assert_eq!(ids(&lookup("13")), ["permission-denied"]);
    }

    #[test]
    fn unknown_queries_find_nothing() {
        assert!(lookup("frobnicate").is_empty());
        assert!(lookup("").is_empty());
    }

    #[test]
    fn failing_output_suggests_the_matching_entries() {
        let out = "thread 'x' panicked: write failed: Broken pipe (os error 32)";
        assert_eq!(ids(&suggestions(out)), ["broken-pipe"]);
        let out = "called `Result::unwrap()` on an `Err` value: Os { code: 2, kind: NotFound, \
                   message: \"No such file or directory\" }";
        assert_eq!(ids(&suggestions(out)), ["not-found"]);
        assert_eq!(
            ids(&suggestions("spawn: Permission denied (os error 13)")),
            ["permission-denied"]
        );
        assert_eq!(ids(&suggestions("got EPIPE from write")), ["broken-pipe"]);
        assert!(suggestions("assertion failed: left == right").is_empty());
    }

    #[test]
    fn every_branch_of_the_seed_tree_is_covered() {
        for branch in [
            "spawning fails",
            "IPC fails",
            "zombies",
            "signals are not answered",
            "leaks",
        ] {
            assert!(
                ENTRIES.iter().any(|e| e.branch == branch),
                "no entry for {branch}"
            );
        }
        for id in [
            "not-found",
            "permission-denied",
            "resource-limits",
            "broken-pipe",
            "shm-race",
            "socket-connect",
            "zombie",
            "sigchld",
            "signal-masked",
            "no-handler",
            "fd-leak",
            "shm-leak",
        ] {
            assert!(ENTRIES.iter().any(|e| e.id == id), "missing entry {id}");
        }
    }

    #[test]
    fn every_entry_has_a_section_in_the_diagnosis_chapter() {
        let root = crate::manifest::root();
        let chapter = std::fs::read_to_string(root.join("docs/src/diagnosis.md"))
            .expect("docs/src/diagnosis.md is readable");
        for e in ENTRIES {
            assert!(
                chapter.contains(&format!("{{#{}}}", e.id)),
                "docs/src/diagnosis.md has no section {{#{}}}",
                e.id
            );
        }
    }
}
