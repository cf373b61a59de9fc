//! `cargo xtask` / `cargo xtask status`: progress per week, the current exercise, its files and
//! the exact next command.

use std::collections::BTreeMap;
use std::process::ExitCode;

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
            "{} {} needs {}: do that first, {}",
            term::yellow("note:"),
            ex.name(),
            term::bold(&need.id),
            term::bold(&format!("cargo xtask check {}", need.id))
        );
    }
    !undone.is_empty()
}

/// Prints where to go next after `ex` (or that the course is done).
pub fn print_next_steps(curriculum: &Curriculum, ex: &Exercise) {
    let paths = curriculum.paths(ex);
    println!(
        "{} {}  {}  {}",
        term::bold("current:"),
        term::bold(&ex.id),
        ex.title,
        term::dim(&format!("(week {}, day {})", ex.week, ex.day))
    );
    println!(
        "  edit  {}",
        term::link(&crate::manifest::root(), &paths.stub)
    );
    println!(
        "  read  {}",
        term::link_to(&crate::manifest::root(), &paths.chapter, Some(ex.name()))
    );
    println!(
        "  next  {}",
        term::bold(&format!("cargo xtask check {}", ex.id))
    );
    println!(
        "        {}",
        term::dim(&format!("(stuck? cargo xtask hint {})", ex.id))
    );
}

/// Runs `status`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(extra) = args.first() {
        return Ok(crate::usage_error(&format!(
            "`status` takes no arguments (got `{extra}`)"
        )));
    }
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    crate::fetch::ensure(&root);
    let progress = Progress::load(&root)?;
    let total = curriculum.exercises.len();
    if total == 0 {
        println!("proclings: the curriculum has no exercises yet.");
        return Ok(ExitCode::SUCCESS);
    }
    let done = curriculum
        .exercises
        .iter()
        .filter(|e| progress.is_done(&e.id))
        .count();
    println!(
        "{}  {done} of {total} exercises done  {}  {}%",
        term::bold("proclings"),
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
        println!(
            "  week {week:<2} {}  {done}/{total}",
            term::bar(done, total, 20)
        );
    }
    println!();
    match current(&curriculum, &progress) {
        Some(ex) => {
            print_undone_requirements(&curriculum, &progress, ex);
            print_next_steps(&curriculum, ex);
        }
        None => println!(
            "{}",
            term::green("Every exercise is done. Well done! `cargo xtask list` shows them all.")
        ),
    }
    Ok(ExitCode::SUCCESS)
}
