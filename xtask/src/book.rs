//! `cargo xtask book [--lang LANG] [--open]`: builds the book into target/book (a translation
//! into target/book/LANG, with the English book beside it for the links between the two) and
//! opens it or says where it is.

use std::path::Path;
use std::process::ExitCode;

use crate::po;
use crate::term;

/// Runs `book`.
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let mut lang = String::from("en");
    let mut open = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--open" => open = true,
            "--lang" => match args.next() {
                Some(l) => lang.clone_from(l),
                None => return Ok(crate::usage_error("`--lang` needs a language, e.g. zh-CN")),
            },
            other => match other.strip_prefix("--lang=") {
                Some(l) => lang = l.to_owned(),
                None => {
                    return Ok(crate::usage_error(&format!(
                        "unknown option for `book`: `{other}`"
                    )));
                }
            },
        }
    }
    let root = crate::manifest::root();
    let languages = po::languages(&root)?;
    if lang != "en" && !languages.contains_key(&lang) {
        let known: Vec<&str> = std::iter::once("en")
            .chain(languages.keys().map(String::as_str))
            .collect();
        eprintln!(
            "error: the book has no `{lang}` version; the languages are: {}",
            known.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let translated = (lang != "en").then_some(lang.as_str());
    let needed = std::iter::once("mdbook").chain(translated.map(|_| "mdbook-gettext"));
    for tool in needed {
        if !po::on_path(tool) {
            eprintln!(
                "error: {tool} is not on PATH; install it with `{}`",
                po::install_command(tool)
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    // The English book first: building it empties target/book, translations included.
    let english = root.join("target/book");
    if !build(&root, None, &english)? {
        return Ok(ExitCode::FAILURE);
    }
    let dest = match translated {
        Some(lang) => {
            let dest = english.join(lang);
            if !build(&root, Some(lang), &dest)? {
                return Ok(ExitCode::FAILURE);
            }
            dest
        }
        None => english,
    };
    let index = dest.join("index.html");
    if open && po::on_path("xdg-open") {
        println!("{} opening {}", term::green("ok"), index.display());
        let status = std::process::Command::new("xdg-open").arg(&index).status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("error: xdg-open could not open {}", index.display());
            return Ok(ExitCode::FAILURE);
        }
    } else {
        println!(
            "{} the book is in {} (open it in a browser)",
            term::green("ok"),
            index.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the book in `lang` (`None`: English) into `dest`; prints mdbook's output when it fails.
fn build(root: &Path, lang: Option<&str>, dest: &Path) -> anyhow::Result<bool> {
    let output = po::mdbook_command(root, lang, dest)
        .output()
        .map_err(|e| anyhow::anyhow!("mdbook could not start: {e}"))?;
    if output.status.success() {
        return Ok(true);
    }
    eprint!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "error: `mdbook build docs` ({}) failed with {}",
        lang.unwrap_or("en"),
        output.status
    );
    Ok(false)
}
