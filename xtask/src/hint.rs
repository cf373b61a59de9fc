//! `cargo xtask hint [ID]`: the next hint level of an exercise on each call (a nudge, then the
//! API, then the approach); once all are shown, the last one again.

use std::process::ExitCode;

use crate::i18n::{self, tr};
use crate::manifest::Curriculum;
use crate::progress::Progress;
use crate::term;

/// Runs `hint`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if args.len() > 1 {
        return Ok(crate::usage_error(tr!("hint.usage")));
    }
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let mut progress = Progress::load(&root)?;
    let ex = match crate::check::pick_exercise(&curriculum, &progress, args.first())? {
        Ok(ex) => ex,
        Err(code) => return Ok(code),
    };
    let paths = curriculum.paths(ex);
    if progress.is_done(&ex.id) {
        crate::solution::print_all_hints(&root, ex, &paths);
        return Ok(ExitCode::SUCCESS);
    }
    let total = ex.hints.len();
    if total == 0 {
        println!("{}", tr!("hint.none", id = ex.id, section = paths.section));
        return Ok(ExitCode::SUCCESS);
    }
    let shown = usize::try_from(progress.get(&ex.id).hint).unwrap_or(usize::MAX);
    let level = (shown + 1).min(total);
    println!(
        "{} {}",
        term::yellow(&tr!("hint.level", level, total)),
        term::dim(&tr!("hint.for", id = ex.id))
    );
    println!("{}", i18n::course(&ex.hints[level - 1]));
    // From the second hint on, one known mistake of this exercise, a different one each time.
    if level >= 2
        && let Ok(mistakes) = crate::mistakes::load(&root, &paths)
        && !mistakes.is_empty()
    {
        let m = &mistakes[(shown + 1 - 2) % mistakes.len()];
        println!(
            "{} {}",
            term::yellow(tr!("hint.mistake")),
            i18n::course(m.what.trim())
        );
    }
    if shown >= total {
        println!(
            "{}",
            term::dim(&tr!("hint.last_again", section = paths.section))
        );
    } else if level < total {
        println!("{}", term::dim(&tr!("hint.again", id = ex.id)));
    }
    progress.set_hint_level(&ex.id, u32::try_from(level).unwrap_or(u32::MAX));
    progress.save()?;
    Ok(ExitCode::SUCCESS)
}
