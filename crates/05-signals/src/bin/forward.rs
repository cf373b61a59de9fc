//! The `forward` wrapper: `forward PROGRAM [ARGS...]` runs PROGRAM in its own process group,
//! forwards SIGINT and SIGTERM to that group and exits with the child's status, 128 + N when
//! signal N killed it (the shell's convention). Its logic is the `forward` exercise module.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: forward PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let rest: Vec<String> = args.collect();
    match signals::forward::run_forwarding(&program, &rest) {
        Ok(status) => {
            let code = match (status.code(), status.signal()) {
                (Some(code), _) => code,
                (None, Some(sig)) => 128 + sig,
                (None, None) => 1,
            };
            ExitCode::from(u8::try_from(code).unwrap_or(255))
        }
        Err(e) => {
            eprintln!("forward: cannot run {program}: {e}");
            ExitCode::from(127)
        }
    }
}
