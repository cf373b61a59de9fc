//! Tests for `signals/reload_thread`: a thread over `Signals` reloads on SIGHUP, reports on
//! SIGUSR1 and stops on SIGTERM.
//!
//! The code runs in the `reload_thread` driver, a child process that prints `ready` once the
//! handlers are registered and then every line the signal thread sends. The tests wait for those
//! lines (the effect of each signal), never for time.

use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::{ChildGuard, DEFAULT_DEADLINE, LineReader, describe_status, temp_dir};

const WAIT: Duration = DEFAULT_DEADLINE;

struct Driver {
    guard: ChildGuard,
    out: LineReader,
}

impl Driver {
    fn start(config: &std::path::Path) -> Driver {
        let (r, w) = std::io::pipe().expect("pipe");
        let w2 = w.try_clone().expect("dup");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reload_thread"));
        cmd.arg(config).stdin(Stdio::null()).stdout(w).stderr(w2);
        let guard = ChildGuard::spawn(&mut cmd);
        drop(cmd);
        let mut out = LineReader::new(r, "the reload_thread driver");
        out.expect("ready", WAIT);
        Driver { guard, out }
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.guard.id() as i32), sig).expect("kill our own child");
    }

    /// Sends `sig` and returns the next line, which must be the thread's answer to it.
    fn ask(&mut self, sig: Signal) -> String {
        self.signal(sig);
        match self.out.next_line(WAIT) {
            Some(line) => line,
            None => {
                let status = self.guard.wait(WAIT);
                panic!(
                    "the driver ended ({}) instead of answering {sig}; output:\n{}\n\
                     (a signal with no handler registered yet kills the process)",
                    describe_status(status),
                    self.out.seen().join("\n")
                )
            }
        }
    }

    fn stop(mut self) -> Vec<String> {
        self.signal(Signal::SIGTERM);
        let rest = self.out.rest(WAIT);
        let status = self.guard.wait(WAIT);
        assert_eq!(
            status.code(),
            Some(0),
            "after SIGTERM the thread returns and the driver exits 0, got {}; output:\n{}",
            describe_status(status),
            self.out.seen().join("\n")
        );
        rest
    }
}

#[test]
fn sighup_rereads_the_config_file() {
    let dir = temp_dir("reload-hup");
    let cfg = dir.path().join("app.conf");
    std::fs::write(&cfg, "colour=blue\n").unwrap();
    let mut d = Driver::start(&cfg);
    std::fs::write(&cfg, "colour=green\n").unwrap();
    assert_eq!(d.ask(Signal::SIGHUP), "reloaded: colour=green");
    std::fs::write(&cfg, "colour=red\n").unwrap();
    assert_eq!(d.ask(Signal::SIGHUP), "reloaded: colour=red");
    let rest = d.stop();
    assert_eq!(rest, ["stopping after 2 reloads", "exit reloads=2"]);
}

#[test]
fn sigusr1_dumps_the_state_and_keeps_running() {
    let dir = temp_dir("reload-usr1");
    let cfg = dir.path().join("app.conf");
    std::fs::write(&cfg, "workers=4").unwrap();
    let mut d = Driver::start(&cfg);
    assert_eq!(d.ask(Signal::SIGUSR1), "state: config=workers=4 reloads=0");
    std::fs::write(&cfg, "workers=8").unwrap();
    assert_eq!(d.ask(Signal::SIGHUP), "reloaded: workers=8");
    // Still alive and answering: SIGUSR1 did not stop it, and the state is the new one.
    assert_eq!(d.ask(Signal::SIGUSR1), "state: config=workers=8 reloads=1");
    d.stop();
}

#[test]
fn a_failed_reload_keeps_the_old_config() {
    let dir = temp_dir("reload-fail");
    let cfg = dir.path().join("app.conf");
    std::fs::write(&cfg, "mode=safe").unwrap();
    let mut d = Driver::start(&cfg);
    std::fs::remove_file(&cfg).unwrap();
    let line = d.ask(Signal::SIGHUP);
    assert!(
        line.starts_with("reload failed: ") && line.ends_with("; keeping: mode=safe"),
        "a reload of a missing file must report the error and keep the old config, got {line:?}"
    );
    assert_eq!(d.ask(Signal::SIGUSR1), "state: config=mode=safe reloads=0");
    d.stop();
}

#[test]
fn the_handlers_are_in_place_when_start_returns() {
    let dir = temp_dir("reload-cgt");
    let cfg = dir.path().join("app.conf");
    std::fs::write(&cfg, "x").unwrap();
    let d = Driver::start(&cfg);
    // The driver read its own SigCgt as soon as `start` returned, while its other threads were
    // held back from running.
    let caught = d
        .out
        .seen()
        .iter()
        .find_map(|l| l.strip_prefix("caught at return: "))
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .expect("the driver prints `caught at return: HEX` before `ready`");
    let missing: Vec<&str> = [Signal::SIGHUP, Signal::SIGUSR1, Signal::SIGTERM]
        .into_iter()
        .filter(|&sig| caught & (1 << (sig as i32 - 1)) == 0)
        .map(Signal::as_str)
        .collect();
    assert!(
        missing.is_empty(),
        "when `start` returned, SigCgt was {caught:016x}: no handler for {missing:?} yet. \
         Create `Signals` on the calling thread, before spawning the thread: registered inside \
         the thread, the handlers may come after `start` returned, and a signal sent in \
         between meets the default action, which kills the process"
    );
    d.stop();
}

#[test]
fn sigterm_stops_the_thread_and_the_process_exits_0() {
    let dir = temp_dir("reload-term");
    let cfg = dir.path().join("app.conf");
    std::fs::write(&cfg, "x").unwrap();
    let d = Driver::start(&cfg);
    let rest = d.stop();
    assert_eq!(
        rest,
        ["stopping after 0 reloads", "exit reloads=0"],
        "SIGTERM must make the thread send its last line and return"
    );
}
