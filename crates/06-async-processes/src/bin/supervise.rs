//! The `async-processes-supervise` driver: `async-processes-supervise PROGRAM [ARGS...]` runs
//! PROGRAM under the `signals` exercise's `supervise`, prints `ready PID` on stderr once it is
//! ready for signals, and exits with the child's status (128 + N when signal N killed it), 130
//! after SIGINT, 143 after SIGTERM. The tests run it as a child, so that the signals they send
//! never reach the test harness.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use async_processes::signals::{Ending, supervise};

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
        Ok(Ending::Interrupted(_)) => ExitCode::from(130),
        Ok(Ending::Terminated(_)) => ExitCode::from(143),
        Err(e) => {
            eprintln!("async-processes-supervise: cannot run {program}: {e}");
            ExitCode::from(127)
        }
    }
}

/// The status as a shell's `$?`: the code, or 128 + the signal.
fn shell_code(status: ExitStatus) -> u8 {
    let code = status
        .code()
        .or(status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    u8::try_from(code).unwrap_or(255)
}
