//! The proclings runner: `cargo xtask [VERB]` (verbs are being written).

mod bench;
mod doctor;
mod explain;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (verb, rest) = args.split_first().map_or(("status", &[][..]), |(v, r)| (v.as_str(), r));
    let result = match verb {
        "bench" => bench::run(rest),
        "doctor" => doctor::run(rest),
        "explain" => explain::run(rest),
        other => Err(anyhow::anyhow!("unknown verb `{other}`")),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
