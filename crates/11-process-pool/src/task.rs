//! The tasks a pool worker knows how to run, and how an outcome travels in a frame body.
//!
//! This is the worker's payload, not the lesson: the exercises are about getting tasks to
//! workers and results back, whatever the tasks do.

use std::hash::Hasher;
use std::io::Read;
use std::time::Duration;

/// Runs one task line and returns its result or the reason it failed.
///
/// `spin N` (a CPU-bound loop of N steps, answering a checksum), `sleep MS`, `hash PATH` (a
/// 64-bit FNV-1a digest of the file, in hex), `count PATH` (words), `crash` (the worker kills
/// itself with SIGKILL), and for the tests: `echo TEXT`, `pid` (the worker's pid) and
/// `block PATH` (opens the FIFO at PATH and reads it to its end: the task finishes when the
/// writer closes it).
pub fn run(line: &str) -> Result<String, String> {
    let line = line.trim();
    let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
    let arg = arg.trim();
    match verb {
        "spin" => {
            let n: u64 = number(arg)?;
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for i in 0..n {
                x = std::hint::black_box(x.rotate_left(5) ^ i).wrapping_mul(0x100_0000_01b3);
            }
            Ok(format!("{x:016x}"))
        }
        "sleep" => {
            std::thread::sleep(Duration::from_millis(number(arg)?));
            Ok("slept".to_string())
        }
        "hash" => {
            let bytes = read_file(arg)?;
            let mut h = Fnv1a::default();
            h.write(&bytes);
            Ok(format!("{:016x}", h.finish()))
        }
        "count" => {
            let bytes = read_file(arg)?;
            Ok(String::from_utf8_lossy(&bytes)
                .split_whitespace()
                .count()
                .to_string())
        }
        "crash" => {
            // SIGKILL cannot be caught or ignored: the worker dies here, mid-task, as it would
            // after an out-of-memory kill or a segfault.
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            Err("still alive after SIGKILL".to_string())
        }
        "echo" => Ok(arg.to_string()),
        "pid" => Ok(std::process::id().to_string()),
        "block" => {
            let mut fifo = std::fs::File::open(arg).map_err(|e| format!("{arg}: {e}"))?;
            let mut sink = Vec::new();
            fifo.read_to_end(&mut sink)
                .map_err(|e| format!("{arg}: {e}"))?;
            Ok("released".to_string())
        }
        "" => Err("empty task".to_string()),
        other => Err(format!("unknown task {:?}", cut(other, 200))),
    }
}

fn number(arg: &str) -> Result<u64, String> {
    arg.parse()
        .map_err(|_| format!("expected a number, got {arg:?}"))
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

/// 64-bit FNV-1a: small, dependency-free, good enough to tell files apart (not a cryptographic
/// digest).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The most bytes a frame body may hold: a frame's length counts its 8-byte id too.
const MAX_BODY: usize = crate::frame::MAX_FRAME as usize - 8;

/// A task's outcome as a frame body: `ok RESULT` or `error REASON`, always small enough for a
/// frame. A body that could not be framed would leave the worker unable to answer at all: it
/// would die, and the task be retried on worker after worker.
pub fn encode(outcome: &Result<String, String>) -> Vec<u8> {
    const MARK: &str = " [cut to fit a frame]";
    match outcome {
        Ok(result) if result.len() + 3 <= MAX_BODY => format!("ok {result}").into_bytes(),
        Ok(result) => format!(
            "error the result ({} bytes) does not fit in a frame",
            result.len()
        )
        .into_bytes(),
        Err(reason) if reason.len() + 6 <= MAX_BODY => format!("error {reason}").into_bytes(),
        Err(reason) => {
            format!("error {}{MARK}", cut(reason, MAX_BODY - 6 - MARK.len())).into_bytes()
        }
    }
}

/// The outcome a frame body carries; a body that is neither form is an error outcome.
pub fn decode(body: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(body);
    if let Some(result) = text.strip_prefix("ok ") {
        Ok(result.to_string())
    } else if let Some(reason) = text.strip_prefix("error ") {
        Err(reason.to_string())
    } else {
        Err(format!("malformed answer {text:?}"))
    }
}
