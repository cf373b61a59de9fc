//! `cargo xtask doctor`: checks that this machine can run the course, in plain words.
//!
//! Each check prints `ok`, `note` (works, but read this) or `FAIL` (a part of the course cannot
//! work here) with one sentence saying what was found and what to do. The exit status is 1 when
//! any check failed, 0 otherwise.

use std::process::{Command, ExitCode, Stdio};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Everything the course needs is there.
    Ok,
    /// Works, with a caveat worth reading.
    Note,
    /// Some exercises cannot work on this machine.
    Fail,
}

/// The outcome of one check.
#[derive(Debug)]
pub struct Finding {
    /// Short name of what was checked.
    pub what: &'static str,
    /// How it came out.
    pub level: Level,
    /// What was found, and what to do about it.
    pub detail: String,
}

fn finding(what: &'static str, level: Level, detail: impl Into<String>) -> Finding {
    Finding {
        what,
        level,
        detail: detail.into(),
    }
}

/// The `rust-version` the workspace declares, read from the root Cargo.toml.
const MIN_RUST: (u32, u32) = (1, 90);

/// Parses `rustc 1.95.0 (...)` into (1, 95).
fn parse_rustc_version(s: &str) -> Option<(u32, u32)> {
    let v = s.split_whitespace().nth(1)?;
    let mut parts = v.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn check_platform() -> Finding {
    if cfg!(windows) {
        return finding(
            "platform",
            Level::Fail,
            "Windows has no fork, signals or Unix sockets as this course teaches them: install \
             WSL 2 (wsl --install), clone the course inside it, and run it there",
        );
    }
    let version = std::fs::read_to_string("/proc/version").unwrap_or_default();
    if version.to_lowercase().contains("microsoft") {
        return finding(
            "platform",
            Level::Note,
            "Linux under WSL: everything works; keep the course inside the Linux file system \
             (not under /mnt/c), where file watching and permissions behave",
        );
    }
    if cfg!(target_os = "linux") {
        finding("platform", Level::Ok, "Linux: every exercise can run")
    } else {
        finding(
            "platform",
            Level::Note,
            "a Unix other than Linux: the POSIX exercises work; Linux-only parts (subreaper, \
             /proc, abstract sockets, pidfd, futex) are skipped or fail, as their chapters say",
        )
    }
}

fn check_rust() -> Finding {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("--version")
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
            match parse_rustc_version(&text) {
                Some(v) if v >= MIN_RUST => finding("rust", Level::Ok, text),
                Some(_) => finding(
                    "rust",
                    Level::Fail,
                    format!(
                        "{text} is older than the course's rust-version {}.{}: run `rustup update`",
                        MIN_RUST.0, MIN_RUST.1
                    ),
                ),
                None => finding(
                    "rust",
                    Level::Note,
                    format!("cannot read the version in `{text}`"),
                ),
            }
        }
        _ => finding(
            "rust",
            Level::Fail,
            format!("cannot run `{rustc} --version`: install Rust with rustup"),
        ),
    }
}

fn check_dev_shm() -> Finding {
    let probe = format!("/dev/shm/proclings-doctor-{}", std::process::id());
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            finding(
                "/dev/shm",
                Level::Ok,
                "present and writable (POSIX shared memory works)",
            )
        }
        Err(e) => finding(
            "/dev/shm",
            Level::Fail,
            format!(
                "cannot create a file in /dev/shm ({e}): shm_open will fail; on Linux mount it \
                 with `mount -t tmpfs tmpfs /dev/shm` (as root)"
            ),
        ),
    }
}

fn check_mqueue() -> Finding {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mounted = mounts
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some("mqueue"));
    if mounted {
        finding(
            "/dev/mqueue",
            Level::Ok,
            "mounted: message queues work and the runner can list leftover queues",
        )
    } else if cfg!(target_os = "linux") {
        finding(
            "/dev/mqueue",
            Level::Note,
            "not mounted: message queues still work (mq_open), but the runner cannot list \
             leftover queues after a check; as root: `mkdir -p /dev/mqueue && mount -t mqueue \
             none /dev/mqueue`",
        )
    } else {
        finding(
            "/dev/mqueue",
            Level::Note,
            "not a Linux system: queues are not listed",
        )
    }
}

fn check_limit(
    what: &'static str,
    resource: libc::c_int,
    want: libc::rlim_t,
    advice: &str,
) -> Finding {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the valid, exclusively borrowed `lim`.
    let rc = unsafe { libc::getrlimit(resource as _, &mut lim) };
    if rc != 0 {
        return finding(what, Level::Note, "cannot read the limit");
    }
    let show = |v: libc::rlim_t| {
        if v == libc::RLIM_INFINITY {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    let text = format!("soft {} / hard {}", show(lim.rlim_cur), show(lim.rlim_max));
    if lim.rlim_cur == libc::RLIM_INFINITY || lim.rlim_cur >= want {
        finding(what, Level::Ok, text)
    } else {
        finding(what, Level::Note, format!("{text}: below {want}; {advice}"))
    }
}

#[cfg(target_os = "linux")]
fn check_subreaper() -> Finding {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer argument and changes only this process's
    // own flag; doctor starts no children that depend on it.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        finding(
            "subreaper",
            Level::Ok,
            "available: the runner sees and kills orphaned and daemonized leftovers of a check",
        )
    } else {
        finding(
            "subreaper",
            Level::Note,
            format!(
                "prctl(PR_SET_CHILD_SUBREAPER) failed ({}): leftovers that daemonize escape \
                 the runner's leak check",
                std::io::Error::last_os_error()
            ),
        )
    }
}

#[cfg(not(target_os = "linux"))]
fn check_subreaper() -> Finding {
    finding(
        "subreaper",
        Level::Note,
        "Linux only: here the runner only sees leftovers still in the run's process group",
    )
}

fn check_user() -> Finding {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        finding(
            "user",
            Level::Note,
            "running as root: root bypasses file permission checks, so permission exercises \
             may behave differently than for a normal user; the tests are written to hold for \
             both",
        )
    } else {
        finding("user", Level::Ok, format!("uid {euid} (not root)"))
    }
}

fn check_tool(what: &'static str, program: &str, args: &[&str], missing: &'static str) -> Finding {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        finding(what, Level::Ok, "installed")
    } else {
        finding(what, Level::Note, missing)
    }
}

fn check_offline() -> Finding {
    match crate::fetch::offline_ready(&crate::manifest::root()) {
        Ok(detail) => finding("offline", Level::Ok, detail),
        Err(detail) => finding("offline", Level::Note, detail),
    }
}

/// Each containment protection of a check (see `crates/sandbox`), on or off, and why.
fn check_containment() -> Vec<Finding> {
    sandbox::contain::protections()
        .into_iter()
        .map(|p| {
            let what: &'static str = match p.name {
                "pid namespace" => "containment: pid namespace",
                "mount namespace" => "containment: mount namespace",
                "ipc namespace" => "containment: ipc namespace",
                _ => "containment: task cap",
            };
            if p.on {
                finding(what, Level::Ok, format!("on: {}", p.how))
            } else {
                let fix = p
                    .fix
                    .map(|f| format!("; to turn it on: {f}"))
                    .unwrap_or_default();
                finding(
                    what,
                    Level::Note,
                    format!(
                        "off ({}): checks still run, but a mistake such as kill(-1) or a spawn \
                         loop can reach your other processes{fix}",
                        p.how
                    ),
                )
            }
        })
        .collect()
}

/// Runs every check.
pub fn findings() -> Vec<Finding> {
    let mut all = vec![
        check_platform(),
        check_rust(),
        check_user(),
        check_dev_shm(),
        check_mqueue(),
        check_limit(
            "open files",
            libc::RLIMIT_NOFILE as libc::c_int,
            1024,
            "some exercises open many pipes and sockets: `ulimit -n 4096`",
        ),
        check_limit(
            "processes",
            libc::RLIMIT_NPROC as libc::c_int,
            512,
            "spawning exercises start hundreds of short processes: `ulimit -u 4096`",
        ),
        check_subreaper(),
        check_offline(),
        check_tool(
            "cargo-nextest",
            "cargo",
            &["nextest", "--version"],
            "optional, not installed: `cargo install cargo-nextest` runs each test in its own \
             process; `cargo test` works without it",
        ),
        check_tool(
            "socat",
            "socat",
            &["-V"],
            "optional, not installed: one Unix-socket test talks to your server through socat \
             and says it skipped without it (`apt-get install socat`)",
        ),
        // Debian installs the broker in /usr/sbin, which is not on every user's PATH; the
        // work-queue tests look there too.
        check_tool(
            "nats-server",
            if std::path::Path::new("/usr/sbin/nats-server").is_file() {
                "/usr/sbin/nats-server"
            } else {
                "nats-server"
            },
            &["--version"],
            "optional, not installed: the work-queue tests (week 9) run a real NATS server and \
             say they skipped without it (`apt-get install nats-server`)",
        ),
    ];
    all.extend(check_containment());
    all
}

/// Runs `cargo xtask doctor`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(a) = args.first() {
        if a == "-h" || a == "--help" {
            println!("usage: cargo xtask doctor\n\nChecks that this machine can run the course.");
            return Ok(ExitCode::SUCCESS);
        }
        anyhow::bail!("doctor takes no arguments (got `{a}`)");
    }
    let all = findings();
    for f in &all {
        let tag = match f.level {
            Level::Ok => "ok  ",
            Level::Note => "note",
            Level::Fail => "FAIL",
        };
        println!("{tag}  {:<14} {}", f.what, f.detail);
    }
    let failed = all.iter().filter(|f| f.level == Level::Fail).count();
    if failed == 0 {
        println!("\nThis machine can run the course.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\n{failed} check(s) failed: see above.");
        Ok(ExitCode::from(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustc_versions_are_parsed() {
        assert_eq!(
            parse_rustc_version("rustc 1.95.0 (59807616e 2026-04-14)"),
            Some((1, 95))
        );
        assert_eq!(parse_rustc_version("rustc 1.90.0-nightly"), Some((1, 90)));
        assert_eq!(parse_rustc_version("garbage"), None);
    }

    #[test]
    fn this_machine_passes_the_checks_the_course_depends_on() {
        let all = findings();
        for f in &all {
            if ["platform", "rust", "/dev/shm"].contains(&f.what) {
                assert_ne!(f.level, Level::Fail, "{}: {}", f.what, f.detail);
            }
        }
        assert!(all.iter().any(|f| f.what == "subreaper"));
    }
}
