//! `cargo xtask solution ID [--diff] [--yes]`: the reference solution of an exercise, or with
//! `--diff` the lines where the learner's file and the solution differ.
//!
//! Seeing a solution before trying is a choice the learner makes knowingly: before the exercise
//! is done the command asks for confirmation on the terminal, and without a terminal it needs
//! `--yes` (it never waits for an answer that cannot come). Also here: what `hint` shows once an
//! exercise is done, every hint level and where the solution is.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::i18n::{self, tr};
use crate::manifest::{Curriculum, Exercise, ExercisePaths};
use crate::progress::Progress;
use crate::term;

/// Lines of unchanged context around each change in a diff.
const CONTEXT: usize = 3;

/// Runs `solution`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let mut yes = false;
    let mut diff = false;
    let mut id = None;
    for arg in args {
        match arg.as_str() {
            "--yes" | "-y" => yes = true,
            "--diff" => diff = true,
            other if other.starts_with('-') => {
                return Ok(crate::usage_error(&tr!(
                    "solution.unknown_option",
                    option = other
                )));
            }
            other if id.is_none() => id = Some(other.to_owned()),
            _ => return Ok(crate::usage_error(tr!("solution.one_id"))),
        }
    }
    let Some(id) = id else {
        return Ok(crate::usage_error(tr!("solution.needs_id")));
    };
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    let progress = Progress::load(&root)?;
    let ex = match crate::check::pick_exercise(&curriculum, &progress, Some(&id))? {
        Ok(ex) => ex,
        Err(code) => return Ok(code),
    };
    let paths = curriculum.paths(ex);
    if !progress.is_done(&ex.id) && !yes {
        let question = tr!("solution.ask", id = ex.id);
        match crate::reset::confirm(&question) {
            Some(true) => {}
            Some(false) => {
                println!("{}", tr!("solution.not_shown"));
                return Ok(ExitCode::FAILURE);
            }
            None => {
                eprintln!(
                    "{}",
                    tr!(
                        "solution.no_terminal",
                        id = ex.id,
                        diff = if diff { " --diff" } else { "" }
                    )
                );
                return Ok(ExitCode::from(2));
            }
        }
    }
    let solution_file = root.join(&paths.solution);
    let solution = std::fs::read_to_string(&solution_file)
        .with_context(|| format!("cannot read {}", solution_file.display()))?;
    if !diff {
        println!(
            "{} {}  {}",
            term::bold(tr!("solution.of")),
            term::bold(&ex.id),
            term::link(&root, &paths.solution)
        );
        println!();
        print!("{solution}");
        if !solution.ends_with('\n') {
            println!();
        }
        return Ok(ExitCode::SUCCESS);
    }
    let stub_file = root.join(&paths.stub);
    let yours = std::fs::read_to_string(&stub_file)
        .with_context(|| format!("cannot read {}", stub_file.display()))?;
    let lines = diff_lines(&yours, &solution);
    if lines.iter().all(|l| matches!(l, Line::Same(_))) {
        println!(
            "{}",
            tr!(
                "solution.same",
                stub = term::link(&root, &paths.stub),
                solution = term::link(&root, &paths.solution)
            )
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}",
        term::red(&tr!("solution.diff_yours", path = paths.stub.display()))
    );
    println!(
        "{}",
        term::green(&tr!(
            "solution.diff_reference",
            path = paths.solution.display()
        ))
    );
    print!("{}", unified(&lines, CONTEXT));
    Ok(ExitCode::SUCCESS)
}

/// What `hint` shows for an exercise that is done: every hint level, then the solution's path.
pub fn print_all_hints(root: &Path, ex: &Exercise, paths: &ExercisePaths) {
    println!(
        "{} {}",
        term::green(&tr!("solution.done", id = ex.id)),
        term::dim(tr!("solution.every_hint"))
    );
    let total = ex.hints.len();
    for (i, hint) in ex.hints.iter().enumerate() {
        println!(
            "{} {}",
            term::yellow(&tr!("solution.hint_level", level = i + 1, total)),
            i18n::course(hint)
        );
    }
    println!(
        "{}",
        tr!("solution.path", path = term::link(root, &paths.solution))
    );
    println!(
        "          {}",
        term::dim(&tr!("solution.compare", id = ex.id))
    );
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// In both files.
    Same(&'a str),
    /// Only in the first (old) file.
    Removed(&'a str),
    /// Only in the second (new) file.
    Added(&'a str),
}

/// The lines of `old` and `new` aligned by their longest common subsequence.
///
/// The table is quadratic in the number of lines, which is fine for exercise files (a few
/// hundred lines); equal leading and trailing lines are taken out first to keep it small.
pub fn diff_lines<'a>(old: &'a str, new: &'a str) -> Vec<Line<'a>> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (mid_a, mid_b) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let (n, m) = (mid_a.len(), mid_b.len());
    // lcs[i][j]: the length of the longest common subsequence of mid_a[i..] and mid_b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if mid_a[i] == mid_b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out: Vec<Line<'a>> = a[..prefix].iter().map(|l| Line::Same(l)).collect();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && mid_a[i] == mid_b[j] {
            out.push(Line::Same(mid_a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removed lines come before the added ones that replace them, as in `diff -u`.
            out.push(Line::Removed(mid_a[i]));
            i += 1;
        } else {
            out.push(Line::Added(mid_b[j]));
            j += 1;
        }
    }
    out.extend(a[a.len() - suffix..].iter().map(|l| Line::Same(l)));
    out
}

/// The diff as unified-diff hunks (`@@ -l,n +l,n @@`) with `context` unchanged lines around
/// each change; removed lines in red, added ones in green on a terminal.
pub fn unified(lines: &[Line<'_>], context: usize) -> String {
    let changed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, Line::Same(_)))
        .map(|(i, _)| i)
        .collect();
    // Group changes whose context windows touch into one hunk: [start, end) over `lines`.
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for &at in &changed {
        let start = at.saturating_sub(context);
        let end = (at + context + 1).min(lines.len());
        match hunks.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    let mut out = String::new();
    for (start, end) in hunks {
        // Line numbers (1-based) in each file where the hunk starts.
        let old_before = lines[..start]
            .iter()
            .filter(|l| !matches!(l, Line::Added(_)))
            .count();
        let new_before = lines[..start]
            .iter()
            .filter(|l| !matches!(l, Line::Removed(_)))
            .count();
        let hunk = &lines[start..end];
        let old_len = hunk.iter().filter(|l| !matches!(l, Line::Added(_))).count();
        let new_len = hunk
            .iter()
            .filter(|l| !matches!(l, Line::Removed(_)))
            .count();
        out.push_str(&term::dim(&format!(
            "@@ -{},{old_len} +{},{new_len} @@",
            old_before + usize::from(old_len > 0),
            new_before + usize::from(new_len > 0)
        )));
        out.push('\n');
        for line in hunk {
            let text = match line {
                Line::Same(l) => format!(" {l}"),
                Line::Removed(l) => term::red(&format!("-{l}")),
                Line::Added(l) => term::green(&format!("+{l}")),
            };
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_keeps_common_lines_and_marks_the_rest() {
        let lines = diff_lines("a\nb\nc\nd\n", "a\nx\nc\nd\ne\n");
        assert_eq!(
            lines,
            [
                Line::Same("a"),
                Line::Removed("b"),
                Line::Added("x"),
                Line::Same("c"),
                Line::Same("d"),
                Line::Added("e"),
            ]
        );
    }

    #[test]
    fn identical_texts_have_no_change() {
        let lines = diff_lines("a\nb\n", "a\nb\n");
        assert!(lines.iter().all(|l| matches!(l, Line::Same(_))));
        assert_eq!(unified(&lines, 3), "");
    }

    #[test]
    fn hunks_carry_line_numbers_and_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
        let new = "1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n";
        let text = unified(&diff_lines(old, new), 2);
        assert_eq!(text, "@@ -4,5 +4,5 @@\n 4\n 5\n-6\n+six\n 7\n 8\n");
    }
}
