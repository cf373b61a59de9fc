//! `cargo xtask doctor`: checks that this machine can run the course, in plain words.
//!
//! Each check prints `ok`, `note` (works, but read this) or `FAIL` (a part of the course cannot
//! work here) with one sentence saying what was found and what to do. The exit status is 1 when
//! any check failed, 0 otherwise.

use std::process::{Command, ExitCode, Stdio};

use crate::i18n::{self, tr};

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

/// The name of a check as the learner reads it, in the run's language; `what` itself for the
/// names of files and programs (`/dev/shm`, `socat`), which are never translated.
fn label(what: &'static str) -> &'static str {
    match what {
        "platform" => tr!("doctor.item_platform"),
        "rust" => tr!("doctor.item_rust"),
        "user" => tr!("doctor.item_user"),
        "open files" => tr!("doctor.item_open_files"),
        "processes" => tr!("doctor.item_processes"),
        "subreaper" => tr!("doctor.item_subreaper"),
        "offline" => tr!("doctor.item_offline"),
        "containment: pid namespace" => tr!("doctor.item_pid_namespace"),
        "containment: mount namespace" => tr!("doctor.item_mount_namespace"),
        "containment: ipc namespace" => tr!("doctor.item_ipc_namespace"),
        "containment: task cap" => tr!("doctor.item_task_cap"),
        other => other,
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
        return finding("platform", Level::Fail, tr!("doctor.windows"));
    }
    let version = std::fs::read_to_string("/proc/version").unwrap_or_default();
    if version.to_lowercase().contains("microsoft") {
        return finding("platform", Level::Note, tr!("doctor.wsl"));
    }
    if cfg!(target_os = "linux") {
        finding("platform", Level::Ok, tr!("doctor.linux"))
    } else {
        finding("platform", Level::Note, tr!("doctor.other_unix"))
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
                    tr!(
                        "doctor.rust_old",
                        text,
                        version = format!("{}.{}", MIN_RUST.0, MIN_RUST.1)
                    ),
                ),
                None => finding(
                    "rust",
                    Level::Note,
                    tr!("doctor.rust_version_unreadable", text),
                ),
            }
        }
        _ => finding("rust", Level::Fail, tr!("doctor.no_rust", rustc)),
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
            finding("/dev/shm", Level::Ok, tr!("doctor.shm_ok"))
        }
        Err(e) => finding("/dev/shm", Level::Fail, tr!("doctor.shm_fail", error = e)),
    }
}

fn check_mqueue() -> Finding {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mounted = mounts
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some("mqueue"));
    if mounted {
        finding("/dev/mqueue", Level::Ok, tr!("doctor.mqueue_ok"))
    } else if cfg!(target_os = "linux") {
        finding("/dev/mqueue", Level::Note, tr!("doctor.mqueue_not_mounted"))
    } else {
        finding("/dev/mqueue", Level::Note, tr!("doctor.mqueue_not_linux"))
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
        return finding(what, Level::Note, tr!("doctor.limit_unreadable"));
    }
    let show = |v: libc::rlim_t| {
        if v == libc::RLIM_INFINITY {
            tr!("doctor.unlimited").to_string()
        } else {
            v.to_string()
        }
    };
    let text = tr!(
        "doctor.soft_hard",
        soft = show(lim.rlim_cur),
        hard = show(lim.rlim_max)
    );
    if lim.rlim_cur == libc::RLIM_INFINITY || lim.rlim_cur >= want {
        finding(what, Level::Ok, text)
    } else {
        finding(
            what,
            Level::Note,
            tr!("doctor.limit_low", text, want, advice),
        )
    }
}

#[cfg(target_os = "linux")]
fn check_subreaper() -> Finding {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer argument and changes only this process's
    // own flag; doctor starts no children that depend on it.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        finding("subreaper", Level::Ok, tr!("doctor.subreaper_ok"))
    } else {
        finding(
            "subreaper",
            Level::Note,
            tr!(
                "doctor.subreaper_fail",
                error = std::io::Error::last_os_error()
            ),
        )
    }
}

#[cfg(not(target_os = "linux"))]
fn check_subreaper() -> Finding {
    finding("subreaper", Level::Note, tr!("doctor.subreaper_not_linux"))
}

fn check_user() -> Finding {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        finding("user", Level::Note, tr!("doctor.root"))
    } else {
        finding("user", Level::Ok, tr!("doctor.not_root", euid))
    }
}

fn check_tool(what: &'static str, program: &str, args: &[&str], missing: &str) -> Finding {
    let ok = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        finding(what, Level::Ok, tr!("doctor.installed"))
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
                finding(what, Level::Ok, tr!("doctor.on", how = p.how))
            } else {
                let fix = p
                    .fix
                    .map(|f| tr!("doctor.turn_on", fix = f))
                    .unwrap_or_default();
                finding(what, Level::Note, tr!("doctor.off", how = p.how, fix))
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
            tr!("doctor.nofile_advice"),
        ),
        check_limit(
            "processes",
            libc::RLIMIT_NPROC as libc::c_int,
            512,
            tr!("doctor.nproc_advice"),
        ),
        check_subreaper(),
        check_offline(),
        check_tool(
            "cargo-nextest",
            "cargo",
            &["nextest", "--version"],
            tr!("doctor.nextest"),
        ),
        check_tool("socat", "socat", &["-V"], tr!("doctor.socat")),
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
            tr!("doctor.nats"),
        ),
    ];
    all.extend(check_containment());
    all
}

/// Runs `cargo xtask doctor`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(a) = args.first() {
        if a == "-h" || a == "--help" {
            println!("{}", tr!("doctor.usage"));
            return Ok(ExitCode::SUCCESS);
        }
        anyhow::bail!("{}", tr!("doctor.no_arguments", arg = a));
    }
    let all = findings();
    for f in &all {
        let tag = match f.level {
            Level::Ok => tr!("doctor.ok"),
            Level::Note => tr!("doctor.note"),
            Level::Fail => tr!("doctor.fail"),
        };
        let tag = format!("{tag}{}", i18n::pad(tag, 4, 0));
        let name = label(f.what);
        println!("{tag}  {name}{} {}", i18n::pad(name, 14, 0), f.detail);
    }
    let failed = all.iter().filter(|f| f.level == Level::Fail).count();
    if failed == 0 {
        println!("\n{}", tr!("doctor.all_ok"));
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\n{}", tr!("doctor.failed", failed));
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
