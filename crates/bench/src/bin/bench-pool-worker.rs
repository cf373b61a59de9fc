//! The worker program of the process-pool benches: the reference solution's worker loop on
//! stdin and stdout.

use std::io::{BufReader, BufWriter};
use std::process::ExitCode;

fn main() -> ExitCode {
    let input = BufReader::new(std::io::stdin().lock());
    let output = BufWriter::new(std::io::stdout().lock());
    match proclings_bench::worker_loop::serve(input, output, proclings_bench::task::run) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-pool-worker: {e}");
            ExitCode::FAILURE
        }
    }
}
