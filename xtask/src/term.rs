//! Terminal output: ANSI colour when stdout is a terminal, plain text when it is not, when
//! `NO_COLOR` is set (<https://no-color.org>) or when `TERM=dumb`; file paths as OSC 8
//! hyperlinks on terminals known to support them.
//!
//! Hand-written escapes keep the runner free of dependencies: it is built first on a fresh clone.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// Whether to colour stdout.
pub fn colour() -> bool {
    static COLOUR: OnceLock<bool> = OnceLock::new();
    *COLOUR.get_or_init(|| {
        std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
    })
}

fn paint(code: &str, text: &str) -> String {
    if colour() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Green: passed, done.
pub fn green(text: &str) -> String {
    paint("32", text)
}

/// Red: failed, leaked.
pub fn red(text: &str) -> String {
    paint("31", text)
}

/// Yellow: warnings, hints.
pub fn yellow(text: &str) -> String {
    paint("33", text)
}

/// Bold: commands to type, headings.
pub fn bold(text: &str) -> String {
    paint("1", text)
}

/// Dim: secondary details.
pub fn dim(text: &str) -> String {
    paint("2", text)
}

/// Whether to print file paths as OSC 8 hyperlinks: on a terminal known to support them (the
/// environment variables it sets say so), never with `NO_COLOR`; `FORCE_HYPERLINK=1` or `=0`
/// decides outright (also when stdout is not a terminal, such as through `less -R`).
pub fn hyperlinks() -> bool {
    static LINKS: OnceLock<bool> = OnceLock::new();
    *LINKS.get_or_init(|| {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if var("NO_COLOR").is_some() {
            return false;
        }
        if let Some(force) = var("FORCE_HYPERLINK") {
            return force != "0";
        }
        if !colour() {
            return false;
        }
        var("DOMTERM").is_some()
            || var("WT_SESSION").is_some()
            || var("KONSOLE_VERSION").is_some()
            || var("VTE_VERSION")
                .and_then(|v| v.parse::<u32>().ok())
                .is_some_and(|v| v >= 5000)
            || var("TERM_PROGRAM").is_some_and(|p| {
                matches!(
                    p.as_str(),
                    "Hyper"
                        | "iTerm.app"
                        | "terminology"
                        | "WezTerm"
                        | "vscode"
                        | "ghostty"
                        | "zed"
                )
            })
            || var("TERM").is_some_and(|t| {
                matches!(
                    t.as_str(),
                    "xterm-kitty" | "alacritty" | "alacritty-direct" | "xterm-ghostty" | "foot"
                )
            })
    })
}

/// `rel` (a path relative to `root`) as shown to the user: an OSC 8 hyperlink to the file when
/// [`hyperlinks`] says so, so that a click opens it; the plain path otherwise.
pub fn link(root: &std::path::Path, rel: &std::path::Path) -> String {
    link_to(root, rel, None)
}

/// [`link`] to a section of a file: shown as `rel#fragment`, linking to the file's section.
pub fn link_to(root: &std::path::Path, rel: &std::path::Path, fragment: Option<&str>) -> String {
    let mut text = rel.display().to_string();
    if let Some(fragment) = fragment {
        text = format!("{text}#{fragment}");
    }
    if !hyperlinks() {
        return text;
    }
    let absolute = root.join(rel);
    let absolute = absolute.canonicalize().unwrap_or(absolute);
    let mut url = String::from("file://");
    url.push_str(&hostname());
    for byte in absolute.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    if let Some(fragment) = fragment {
        url = format!("{url}#{fragment}");
    }
    format!("\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\")
}

/// This machine's name, which a `file://` link carries so that a terminal connected over ssh
/// does not open a local file of the same path; empty when it cannot be read.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is what gethostname is told.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        name
    } else {
        String::new()
    }
}

/// A text progress bar such as `[#######.............]`.
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0).min(width);
    format!(
        "[{}{}]",
        green(&"#".repeat(filled)),
        ".".repeat(width - filled)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn bar_fills_in_proportion_and_handles_an_empty_course() {
        // Tests do not run on a terminal, so there are no escapes.
        assert_eq!(super::bar(1, 4, 8), "[##......]");
        assert_eq!(super::bar(0, 0, 4), "[....]");
        assert_eq!(super::bar(4, 4, 4), "[####]");
    }
}
