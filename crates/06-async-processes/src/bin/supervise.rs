//! The `async-processes-supervise` driver: `async-processes-supervise PROGRAM [ARGS...]` runs
//! PROGRAM under the `signals` exercise's `supervise`, prints `ready PID` on stderr once it is
//! ready for signals, and exits with the child's status (128 + N when signal N killed it).
//! After SIGINT or SIGTERM, once the child's group is stopped, it says `stopped by SIGINT` (or
//! SIGTERM) and dies of that signal, as its default action would have killed it: a shell
//! running it shows 130 or 143, and a shell loop around it stops too, which an `exit(130)`
//! would not do. The tests run it as a child, so that the signals they send never reach the
//! test harness.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use async_processes::signals::{Ending, supervise};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, raise, sigprocmask};

/// How long the child's group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: async-processes-supervise PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(args);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("async-processes-supervise: cannot start a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let ending = runtime.block_on(supervise(cmd, GRACE, |pid| eprintln!("ready {pid}")));
    match ending {
        Ok(Ending::Exited(status)) => ExitCode::from(shell_code(status)),
        Ok(Ending::Interrupted(_)) => die_of(runtime, Signal::SIGINT),
        Ok(Ending::Terminated(_)) => die_of(runtime, Signal::SIGTERM),
        Err(e) => {
            eprintln!("async-processes-supervise: cannot run {program}: {e}");
            ExitCode::from(127)
        }
    }
}

/// Says which signal stopped us, then dies of it: restores its default action (tokio's handler
/// stays installed for the life of the process otherwise), unblocks it and raises it.
fn die_of(runtime: tokio::runtime::Runtime, sig: Signal) -> ExitCode {
    eprintln!("stopped by {sig}");
    drop(runtime);
    // SAFETY: SIG_DFL installs no handler; the runtime whose handler it replaces is gone.
    let _ = unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) };
    let mut set = SigSet::empty();
    set.add(sig);
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    let _ = raise(sig);
    // Not reached: the default action of SIGINT and SIGTERM ends the process.
    ExitCode::from(128 + sig as u8)
}

/// The status as a shell's `$?`: the code, or 128 + the signal.
fn shell_code(status: ExitStatus) -> u8 {
    let code = status
        .code()
        .or(status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    u8::try_from(code).unwrap_or(255)
}
