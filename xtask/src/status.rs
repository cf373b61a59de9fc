//! `cargo xtask` / `cargo xtask status`: progress per week, the current exercise, its files and
//! the exact next command.

use std::collections::BTreeMap;
use std::process::ExitCode;

use crate::i18n::{self, tr};
use crate::manifest::{Curriculum, Exercise};
use crate::progress::Progress;
use crate::term;

/// The current exercise, by one rule everywhere (`status`, `check`, `watch`, `list`, `hint`):
/// the one the learner chose with `check ID` or `watch ID` until it passes, otherwise the first
/// exercise not done, in course order.
pub fn current<'c>(curriculum: &'c Curriculum, progress: &Progress) -> Option<&'c Exercise> {
    progress
        .chosen()
        .and_then(|id| curriculum.find(id))
        .or_else(|| {
            curriculum
                .exercises
                .iter()
                .find(|e| !progress.is_done(&e.id))
        })
}

/// Prints, for each prerequisite of `ex` that is not done, a line naming it and how to check
/// it; returns whether there was any.
pub fn print_undone_requirements(
    curriculum: &Curriculum,
    progress: &Progress,
    ex: &Exercise,
) -> bool {
    let undone = curriculum.undone_requirements(ex, |id| progress.is_done(id));
    for need in &undone {
        println!(
            "{} {}",
            term::yellow(tr!("status.note")),
            tr!(
                "status.needs",
                name = ex.name(),
                need = term::bold(&need.id),
                command = term::bold(&format!("cargo xtask check {}", need.id))
            )
        );
    }
    !undone.is_empty()
}

/// Prints where to go next after `ex` (or that the course is done).
pub fn print_next_steps(curriculum: &Curriculum, ex: &Exercise) {
    let paths = curriculum.paths(ex);
    println!(
        "{} {}  {}  {}",
        term::bold(tr!("status.current")),
        term::bold(&ex.id),
        i18n::course(&ex.title),
        term::dim(&tr!("status.week_day", week = ex.week, day = ex.day))
    );
    println!(
        "  {}  {}",
        tr!("status.edit"),
        term::link(&crate::manifest::root(), &paths.stub)
    );
    println!(
        "  {}  {}",
        tr!("status.read"),
        term::link_to(&crate::manifest::root(), &paths.chapter, Some(ex.name()))
    );
    println!(
        "  {}  {}",
        tr!("status.next"),
        term::bold(&format!("cargo xtask check {}", ex.id))
    );
    println!("        {}", term::dim(&tr!("status.stuck", id = ex.id)));
}

/// Runs `status`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(extra) = args.first() {
        return Ok(crate::usage_error(&tr!("status.no_arguments", extra)));
    }
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    crate::fetch::ensure(&root);
    let progress = Progress::load(&root)?;
    let total = curriculum.exercises.len();
    if total == 0 {
        println!("{}", tr!("status.empty"));
        return Ok(ExitCode::SUCCESS);
    }
    let done = curriculum
        .exercises
        .iter()
        .filter(|e| progress.is_done(&e.id))
        .count();
    println!(
        "{}  {}  {}  {}%",
        term::bold("proclings"),
        tr!("status.done_of", done, total),
        term::bar(done, total, 30),
        done * 100 / total
    );
    let mut weeks: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for e in &curriculum.exercises {
        let week = weeks.entry(e.week).or_default();
        week.1 += 1;
        if progress.is_done(&e.id) {
            week.0 += 1;
        }
    }
    for (week, (done, total)) in weeks {
        // Weeks 1 to 9 are padded to the width of week 10.
        let pad = " ".repeat(2usize.saturating_sub(week.to_string().len()));
        println!(
            "  {}{pad} {}  {done}/{total}",
            tr!("status.week", week),
            term::bar(done, total, 20)
        );
    }
    println!();
    match current(&curriculum, &progress) {
        Some(ex) => {
            print_undone_requirements(&curriculum, &progress, ex);
            print_next_steps(&curriculum, ex);
        }
        None => println!("{}", term::green(tr!("status.all_done"))),
    }
    Ok(ExitCode::SUCCESS)
}
