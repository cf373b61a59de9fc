//! The `pool-worker` binary: a persistent pool worker serving task frames on stdin and stdout
//! until its stdin ends; its loop is the `worker_loop` exercise.

use std::io::{BufReader, BufWriter};
use std::process::ExitCode;

fn main() -> ExitCode {
    let input = BufReader::new(std::io::stdin().lock());
    let output = BufWriter::new(std::io::stdout().lock());
    match process_pool::worker_loop::serve(input, output, process_pool::task::run) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pool-worker: {e}");
            ExitCode::FAILURE
        }
    }
}
