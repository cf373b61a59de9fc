//! The other end of a `shmchan` channel in the practice project's tests:
//! `shmchan-peer SCENARIO NAME ARGS...`.
//!
//! It prints one line per fact on stdout and exits 0 (1 with the error on stderr). Scenarios
//! that must stay alive until the test kills them wait for end-of-file on stdin.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use shared_memory::shmchan::{self, Error, MAX_MESSAGE};
use shared_memory::support::fuzz_message;

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shmchan-peer {}: {e}", args.join(" "));
            ExitCode::FAILURE
        }
    }
}

fn say(line: impl std::fmt::Display) {
    println!("{line}");
    let _ = io::stdout().flush();
}

fn wait_for_eof() {
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
}

fn run(args: &[String]) -> Res {
    let get = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}"))
    };
    let (scenario, name) = (get(0)?, get(1)?);
    match scenario {
        // Echoes every message back until the test closes its end.
        "echo" => {
            let mut chan = shmchan::open(name)?;
            say("connected");
            let mut buf = Vec::new();
            loop {
                match chan.recv_into(&mut buf) {
                    Ok(()) => chan.send(&buf)?,
                    Err(Error::Closed) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            say("closed");
        }
        // Sends COUNT fuzz messages from SEED, then receives one message (which the test sent
        // before we opened) and reports it, then closes.
        "fuzz-send" => {
            let seed: u64 = get(2)?.parse()?;
            let count: u64 = get(3)?.parse()?;
            let mut chan = shmchan::open(name)?;
            say("connected");
            for i in 0..count {
                chan.send(&fuzz_message(seed, i, MAX_MESSAGE))?;
            }
            let back = chan.recv()?;
            say(format!("got {}", String::from_utf8_lossy(&back)));
            chan.close()?;
            say("sent");
        }
        // Opens, then does nothing until killed (or stdin closes).
        "open-and-hang" => {
            let _chan = shmchan::open(name)?;
            say("connected");
            wait_for_eof();
        }
        // Creates, then does nothing until killed (or stdin closes).
        "create-and-hang" => {
            let _chan = shmchan::create(name)?;
            say("created");
            wait_for_eof();
        }
        // Opens, sends COUNT numbered messages (`m0`, `m1`, ...) without closing, then does
        // nothing until killed (or stdin closes).
        "send-and-hang" => {
            let count: u64 = get(2)?.parse()?;
            let mut chan = shmchan::open(name)?;
            for i in 0..count {
                chan.send(format!("m{i}").as_bytes())?;
            }
            say("sent");
            wait_for_eof();
            std::mem::forget(chan);
        }
        // Opens and blocks in recv; reports how it ended.
        "open-and-recv" => {
            let mut chan = shmchan::open(name)?;
            say(format!("connected pid {}", std::process::id()));
            match chan.recv() {
                Ok(msg) => say(format!("got {}", String::from_utf8_lossy(&msg))),
                Err(e) => say(format!("recv error: {e}")),
            }
        }
        // Creates, waits for a message, and reports how recv ended.
        "create-and-recv" => {
            let mut chan = shmchan::create(name)?;
            say("created");
            match chan.recv() {
                Ok(msg) => say(format!("got {}", String::from_utf8_lossy(&msg))),
                Err(e) => say(format!("recv error: {e}")),
            }
        }
        other => return Err(format!("unknown scenario {other}").into()),
    }
    Ok(())
}
