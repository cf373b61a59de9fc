//! The chapters' commands, run as written: every fenced `console` block of `docs/src/` is a
//! transcript that `verify` replays from the course's root, in the sandbox, on the course's own
//! target directory (as a learner types it).
//!
//! In a block, a line `$ COMMAND` is a command and the lines after it, up to the next `$ `, are
//! what it shows. One shell runs the whole block, so `$!` and variables carry from line to line.
//! The rules:
//! - A command whose shown output is empty must exit 0. A command that shows output need not
//!   (a tool that reports a failing child exits non-zero on purpose), but the first word of each
//!   line it shows must begin a line of what it printed (stdout and stderr together), digits
//!   aside: pids, times and the order of two streams vary, the words that say what happened do
//!   not.
//! - A command ending in ` &` runs in the background for the rest of the block; its output is not
//!   compared. The command after it is tried again, every 100 ms for up to 60 s, until it exits 0:
//!   a server needs a moment before it answers.
//! - Whatever is still running when the block ends goes with the block's PID namespace.
//!
//! A block that only illustrates (a session with a human at the keyboard, an error shown for its
//! message) uses another info string (`text`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long one block may run, builds included.
const BLOCK_LIMIT: Duration = Duration::from_secs(900);

/// One command of a block and the output it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The command line, without `$ `.
    pub command: String,
    /// It ends in ` &`.
    pub background: bool,
    /// The lines shown after it.
    pub shown: Vec<String>,
}

/// A `console` block of a chapter.
#[derive(Debug, Clone)]
pub struct Block {
    /// The chapter, relative to the root.
    pub file: PathBuf,
    /// The line of the opening fence (1-based).
    pub line: usize,
    /// Its commands.
    pub steps: Vec<Step>,
}

/// The `console` blocks of `text`.
pub fn parse(file: &Path, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_end();
        match &mut open {
            None => {
                if trimmed.trim_start() == "```console" {
                    open = Some(Block {
                        file: file.to_path_buf(),
                        line: n + 1,
                        steps: Vec::new(),
                    });
                }
            }
            Some(block) => {
                if trimmed.trim_start().starts_with("```") {
                    blocks.push(open.take().expect("a block is open"));
                } else if let Some(command) = trimmed.strip_prefix("$ ") {
                    let background = command.trim_end().ends_with(" &");
                    block.steps.push(Step {
                        command: command.to_owned(),
                        background,
                        shown: Vec::new(),
                    });
                } else if let Some(step) = block.steps.last_mut()
                    && !trimmed.trim().is_empty()
                {
                    step.shown.push(trimmed.to_owned());
                }
            }
        }
    }
    blocks
}

/// Every `console` block of the book.
pub fn blocks(root: &Path) -> Vec<Block> {
    let mut files: Vec<PathBuf> = crate::tidy::files_under(&root.join("docs/src"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            parse(f.strip_prefix(root).unwrap_or(f), &text)
        })
        .collect()
}

/// The shell script that replays `block`, writing each command's output and status into `work`.
fn script(root: &Path, block: &Block, work: &Path) -> String {
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let mut s = format!("cd {}\n", quote(root));
    let mut after_background = false;
    for (i, step) in block.steps.iter().enumerate() {
        let out = quote(&work.join(format!("out.{i}")));
        let status = quote(&work.join(format!("status.{i}")));
        if step.background {
            let command = step.command.trim_end().trim_end_matches('&').trim_end();
            let _ = writeln!(s, "{command} > {out} 2>&1 &");
            after_background = true;
            continue;
        }
        if after_background {
            // Tried again until it succeeds; its last status is kept.
            let _ = writeln!(
                s,
                "tries=0\nwhile :; do\n{{ {cmd}\n}} > {out} 2>&1 && {{ echo 0 > {status}; break; }}\n\
                 st=$?; tries=$((tries + 1))\n\
                 if [ \"$tries\" -ge 600 ]; then echo \"$st\" > {status}; break; fi\n\
                 sleep 0.1\ndone",
                cmd = step.command
            );
        } else {
            let _ = writeln!(
                s,
                "{{ {}\n}} > {out} 2>&1; echo $? > {status}",
                step.command
            );
        }
        after_background = false;
    }
    s
}

/// The first word of `line` with every run of digits made `N` (a timestamp, a pid).
fn first_word(line: &str) -> Option<String> {
    let word = line.split_whitespace().next()?;
    let mut out = String::new();
    for c in word.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('N') {
                out.push('N');
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Whether `output` shows what `shown` says (first words, see the module's rules).
pub fn shows(output: &str, shown: &[String]) -> Result<(), String> {
    for line in shown {
        let Some(word) = first_word(line) else {
            continue;
        };
        if !output
            .lines()
            .any(|l| first_word(l).as_deref() == Some(word.as_str()))
        {
            return Err(format!(
                "no line of its output begins with `{word}` (from `{line}`)"
            ));
        }
    }
    Ok(())
}

/// Replays `block`; `Ok` or what went wrong. `None` when interrupted.
pub fn run(root: &Path, block: &Block) -> anyhow::Result<Option<Result<(), String>>> {
    let work = tempfile_dir()?;
    let text = script(root, block, &work);
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(&text).current_dir(root);
    // As a learner types them: the course's own target directory.
    cmd.env_remove("CARGO_TARGET_DIR");
    let outcome = sandbox::run_capped(cmd, BLOCK_LIMIT, false, 4096)?;
    if outcome.interrupted {
        let _ = std::fs::remove_dir_all(&work);
        return Ok(None);
    }
    let mut verdict = Ok(());
    if outcome.timed_out {
        verdict = Err(format!(
            "the block did not finish within {} s",
            BLOCK_LIMIT.as_secs()
        ));
    }
    for (i, step) in block.steps.iter().enumerate() {
        if verdict.is_err() || step.background {
            continue;
        }
        let output = std::fs::read_to_string(work.join(format!("out.{i}"))).unwrap_or_default();
        let status = std::fs::read_to_string(work.join(format!("status.{i}")))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let tail = output.lines().rev().take(6).collect::<Vec<_>>();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        if step.shown.is_empty() && status != Some(0) {
            verdict = Err(format!(
                "`{}` ended with status {status:?}; its output ended with: {}",
                step.command,
                tail.join(" | ")
            ));
        } else if let Err(why) = shows(&output, &step.shown) {
            verdict = Err(format!(
                "`{}`: {why}; its output ended with: {}",
                step.command,
                tail.join(" | ")
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(Some(verdict))
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir();
    for n in 0..1000 {
        let dir = base.join(format!("proclings-doc-{}-{n}", std::process::id()));
        if std::fs::create_dir(&dir).is_ok() {
            return Ok(dir);
        }
    }
    anyhow::bail!("cannot create a directory under {}", base.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_read_as_commands_with_what_each_shows() {
        let text = "intro\n```console\n$ server /tmp/s &\nready\n$ client\nOK 1\n\n$ done\n```\n```text\n$ not run\n```\n";
        let blocks = parse(Path::new("c.md"), text);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].line, 2);
        let steps = &blocks[0].steps;
        assert_eq!(steps.len(), 3);
        assert!(steps[0].background);
        assert_eq!(steps[0].shown, ["ready"]);
        assert_eq!(steps[1].command, "client");
        assert_eq!(steps[1].shown, ["OK 1"]);
        assert!(steps[2].shown.is_empty() && !steps[2].background);
    }

    #[test]
    fn output_is_compared_on_the_first_word_of_each_shown_line() {
        let shown = vec!["db running 41230 3s 0 -".to_owned(), "web up".to_owned()];
        assert!(shows("web running 9 0s\ndb running 7 1s 0 -\n", &shown).is_ok());
        let stamped = vec!["2026-12-07T05:57:48.296Z out hi".to_owned()];
        assert!(shows("2027-01-01T00:00:00.1Z out hi\n", &stamped).is_ok());
        let err = shows("db running\n", &shown).unwrap_err();
        assert!(err.contains("`web`"), "{err}");
    }
}
