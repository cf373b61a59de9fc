//! The `daemon-logger` driver for the `logs` tests: logs what it reads on stdin through the
//! learner's `logs::FileLog` and `logs::Syslog`, and reopens the file on SIGHUP.
//!
//! `daemon-logger --log FILE --syslog SOCKET`: each stdin line `info|warn|err MESSAGE` is
//! written to both, then `logged` is printed; after each SIGHUP, `reopened` is printed.

use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, Mutex};

use daemon::logs::{FileLog, Severity, Syslog};
use signal_hook::consts::SIGHUP;
use signal_hook::iterator::Signals;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(log), Some(syslog)) = (value("--log"), value("--syslog")) else {
        eprintln!("usage: daemon-logger --log FILE --syslog SOCKET");
        std::process::exit(2);
    };
    let file = match FileLog::open(Path::new(&log)) {
        Ok(f) => Arc::new(Mutex::new(f)),
        Err(e) => {
            eprintln!("daemon-logger: {log}: {e}");
            std::process::exit(1);
        }
    };
    let sys = match Syslog::connect(Path::new(&syslog), "daemon-logger") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("daemon-logger: {syslog}: {e}");
            std::process::exit(1);
        }
    };
    let mut signals = Signals::new([SIGHUP]).expect("register SIGHUP");
    let on_hup = Arc::clone(&file);
    std::thread::spawn(move || {
        for _ in signals.forever() {
            let r = on_hup.lock().map(|mut f| f.reopen());
            match r {
                Ok(Ok(())) => println!("reopened"),
                Ok(Err(e)) => println!("reopen failed: {e}"),
                Err(_) => println!("reopen failed: poisoned"),
            }
        }
    });
    println!("ready");
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (level, message) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let severity = match level {
            "err" => Severity::Err,
            "warn" => Severity::Warning,
            _ => Severity::Info,
        };
        let written = file.lock().map(|mut f| f.line(message));
        if !matches!(written, Ok(Ok(()))) {
            println!("file write failed");
            continue;
        }
        match sys.send(severity, message) {
            Ok(()) => println!("logged"),
            Err(e) => println!("syslog send failed: {e}"),
        }
    }
}
