//! `cargo xtask list [--pending|--done] [--topic T] [--week N]`: the curriculum with its status.

use std::process::ExitCode;

use crate::i18n::{self, tr};
use crate::manifest::Curriculum;
use crate::progress::Progress;
use crate::term;

/// Runs `list`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let mut only_done = None;
    let mut topic = None;
    let mut week = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--pending" => only_done = Some(false),
            "--done" => only_done = Some(true),
            "--topic" => match args.next() {
                Some(t) => topic = Some(t.clone()),
                None => return Ok(crate::usage_error(tr!("list.topic_needs_name"))),
            },
            "--week" => match args.next().and_then(|w| w.parse::<u32>().ok()) {
                Some(w) => week = Some(w),
                None => return Ok(crate::usage_error(tr!("list.week_needs_number"))),
            },
            other => {
                return Ok(crate::usage_error(&tr!(
                    "list.unknown_option",
                    option = other
                )));
            }
        }
    }
    let root = crate::manifest::root();
    let curriculum = Curriculum::load(&root)?;
    if let Some(t) = &topic
        && curriculum.topic(t).is_none()
    {
        let names: Vec<&str> = curriculum.topics.iter().map(|t| t.name.as_str()).collect();
        eprintln!(
            "{}",
            tr!("list.no_topic", topic = t, topics = names.join(", "))
        );
        return Ok(ExitCode::from(2));
    }
    let progress = Progress::load(&root)?;
    let current = crate::status::current(&curriculum, &progress).map(|e| e.id.clone());
    for t in &curriculum.topics {
        if topic.as_ref().is_some_and(|wanted| *wanted != t.name)
            || week.is_some_and(|w| w != t.week)
        {
            continue;
        }
        let rows: Vec<_> = curriculum
            .exercises
            .iter()
            .filter(|e| e.topic() == t.name)
            .filter(|e| only_done.is_none_or(|d| progress.is_done(&e.id) == d))
            .collect();
        if rows.is_empty() && only_done.is_some() {
            continue;
        }
        println!(
            "{}",
            term::bold(&tr!(
                "list.topic",
                title = i18n::course(&t.title),
                name = t.name,
                week = t.week,
                days = t.days
            ))
        );
        if rows.is_empty() {
            println!("  {}", term::dim(tr!("list.no_exercises")));
        }
        for e in rows {
            let mark = if progress.is_done(&e.id) {
                term::green(tr!("list.done"))
            } else if current.as_deref() == Some(e.id.as_str()) {
                term::yellow(tr!("list.next"))
            } else {
                tr!("list.pending").to_owned()
            };
            let needs: Vec<&str> = curriculum
                .undone_requirements(e, |id| progress.is_done(id))
                .iter()
                .map(|n| n.id.as_str())
                .collect();
            let needs = if needs.is_empty() || progress.is_done(&e.id) {
                String::new()
            } else {
                format!(
                    "  {}",
                    term::dim(&tr!("list.needs_first", needs = needs.join(", ")))
                )
            };
            println!(
                "  {mark} w{}d{}  {:<40} {}{needs}",
                e.week,
                e.day,
                e.id,
                i18n::course(&e.title)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
