//! `cargo xtask reset ID [--yes]`: puts an exercise back as it was shipped and marks it pending.
//!
//! The original comes from the pristine mirror (see `pristine`), not from git, so a reset works
//! also after the learner committed their edits. The stub is restored, and the exercise's test
//! file too if it was edited. Before anything is overwritten the learner is asked (or passes
//! `--yes`); their version is kept under `.proclings/backup/` all the same. Without a terminal
//! to ask on and without `--yes`, nothing is touched and the command says how to proceed, rather
//! than waiting for an answer that cannot come.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::i18n::tr;
use crate::manifest::Curriculum;
use crate::pristine::{self, State};
use crate::progress::Progress;
use crate::term;

/// The answer to a yes/no question on the terminal: `None` when stdin is not a terminal (there
/// is nobody to ask), otherwise whether the answer was yes. The default is no.
pub fn confirm(question: &str) -> Option<bool> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    print!("{question} {} ", tr!("reset.yes_no"));
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return Some(false);
    }
    Some(matches!(
        answer.trim(),
        "y" | "Y" | "yes" | "Yes" | "YES" | "是" | "好"
    ))
}

/// Runs `reset`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let mut yes = false;
    let mut id = None;
    for arg in args {
        match arg.as_str() {
            "--yes" | "-y" => yes = true,
            other if other.starts_with('-') => {
                return Ok(crate::usage_error(&tr!(
                    "reset.unknown_option",
                    option = other
                )));
            }
            other if id.is_none() => id = Some(other.to_owned()),
            _ => return Ok(crate::usage_error(tr!("reset.one_id"))),
        }
    }
    let Some(id) = id else {
        return Ok(crate::usage_error(tr!("reset.needs_id")));
    };
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let mut progress = Progress::load(&root)?;
    let ex = match crate::check::pick_exercise(&curriculum, &progress, Some(&id))? {
        Ok(ex) => ex,
        Err(code) => return Ok(code),
    };
    let paths = curriculum.paths(ex);

    let mut to_restore: Vec<PathBuf> = Vec::new();
    for rel in [&paths.stub, &paths.test] {
        match pristine::state(&root, rel) {
            State::Pristine => {}
            State::Edited | State::Missing => to_restore.push(rel.clone()),
            State::NoCopy => {
                if rel == &paths.stub {
                    eprintln!(
                        "{}",
                        tr!(
                            "reset.no_original",
                            path = rel.display(),
                            copy = pristine::copy_of(std::path::Path::new(""), rel).display()
                        )
                    );
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }

    if to_restore.is_empty() {
        println!(
            "{} {}",
            term::green(tr!("reset.ok")),
            tr!("reset.as_shipped", path = term::link(&root, &paths.stub))
        );
    } else {
        let files: Vec<String> = to_restore
            .iter()
            .map(|rel| rel.display().to_string())
            .collect();
        if !yes {
            let question = tr!("reset.ask", files = files.join(tr!("reset.and")));
            match confirm(&question) {
                Some(true) => {}
                Some(false) => {
                    println!("{}", tr!("reset.unchanged"));
                    return Ok(ExitCode::FAILURE);
                }
                None => {
                    eprintln!(
                        "{}",
                        tr!(
                            "reset.no_terminal",
                            files = files.join(tr!("reset.and")),
                            id = ex.id
                        )
                    );
                    return Ok(ExitCode::from(2));
                }
            }
        }
        for rel in &to_restore {
            let Some(original) = pristine::original(&root, rel) else {
                continue;
            };
            let kept = if root.join(rel).exists() {
                Some(pristine::back_up(&root, rel)?)
            } else {
                None
            };
            let target = root.join(rel);
            std::fs::write(&target, original)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
            match kept {
                Some(kept) => println!(
                    "{} {}  {}",
                    term::green(tr!("reset.restored")),
                    term::link(&root, rel),
                    term::dim(&tr!("reset.kept", path = kept.display()))
                ),
                None => println!(
                    "{} {}",
                    term::green(tr!("reset.restored")),
                    term::link(&root, rel)
                ),
            }
        }
    }
    let was_done = progress.is_done(&ex.id);
    progress.mark_pending(&ex.id);
    progress.save()?;
    if was_done {
        println!("{}", tr!("reset.pending_again", id = ex.id));
    }
    println!(
        "  {}  {}",
        tr!("status.next"),
        term::bold(&format!("cargo xtask check {}", ex.id))
    );
    Ok(ExitCode::SUCCESS)
}
