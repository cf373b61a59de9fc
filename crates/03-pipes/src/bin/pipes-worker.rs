//! The worker process of the `pipes/worker` exercise: it runs [`pipes::worker::serve`] (your
//! code) on its stdin and stdout.
//!
//! Each request is answered with the same bytes in upper case. The request `crash` makes the
//! worker exit with status 3 without answering, the way a real worker dies mid-request.
//!
//! Run by the tests; by hand: `cargo run -p pipes --bin pipes-worker` (it reads frames, not lines).

use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let result = pipes::worker::serve(io::stdin().lock(), io::stdout().lock(), |request| {
        if request == b"crash" {
            std::process::exit(3);
        }
        request.to_ascii_uppercase()
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker: {e}");
            ExitCode::from(2)
        }
    }
}
