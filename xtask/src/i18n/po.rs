//! A small reader and writer of gettext PO files, enough for the course's translations
//! (`docs/po/course/`): `msgctxt`, `msgid`, `msgstr` (and `msgstr[0]`), strings continued over
//! several lines, the escapes `\" \\ \n \t`, `#:` references and `#,` flags. An entry flagged
//! `fuzzy` is read but marked so (its translation is not used), and obsolete entries (`#~`) are
//! skipped.

use std::fmt::Write as _;

/// One entry of a PO file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// `msgctxt`, when the entry has one.
    pub ctxt: Option<String>,
    /// `msgid`: the English text.
    pub id: String,
    /// `msgstr`: the translation, empty when there is none yet.
    pub text: String,
    /// Whether a `#, fuzzy` flag marks the translation as needing review.
    pub fuzzy: bool,
}

impl Message {
    /// Whether the entry has a translation that may be shown: not empty, not fuzzy.
    pub fn translated(&self) -> bool {
        !self.text.is_empty() && !self.fuzzy
    }
}

/// Which string a continuation line (`"..."` alone) adds to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Ctxt,
    Id,
    Str,
    Other,
}

/// The entries of a PO file, header (the entry with an empty `msgid`) included, in file order.
pub fn parse(text: &str) -> Result<Vec<Message>, String> {
    let mut out = Vec::new();
    let mut current = Message::default();
    let mut started = false;
    let mut field = Field::None;
    let finish = |current: &mut Message, started: &mut bool, out: &mut Vec<Message>| {
        if *started {
            out.push(std::mem::take(current));
        }
        *current = Message::default();
        *started = false;
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = |why: &str| format!("line {}: {why}", n + 1);
        if line.is_empty() {
            finish(&mut current, &mut started, &mut out);
            field = Field::None;
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if comment.starts_with('~') {
                field = Field::Other; // obsolete: skipped, continuation lines included
                continue;
            }
            // A comment after a complete entry begins the next one.
            if started && field != Field::None && field != Field::Other {
                finish(&mut current, &mut started, &mut out);
                field = Field::None;
            }
            if let Some(flags) = comment.strip_prefix(',') {
                current.fuzzy |= flags.split(',').any(|f| f.trim() == "fuzzy");
            }
            continue;
        }
        let (keyword, rest) = match line.find(char::is_whitespace) {
            Some(i) if !line.starts_with('"') => (&line[..i], line[i..].trim_start()),
            _ => ("", line),
        };
        let value = unquote(rest).map_err(|e| at(&e))?;
        match keyword {
            "" => match field {
                Field::Ctxt => current.ctxt.get_or_insert_default().push_str(&value),
                Field::Id => current.id.push_str(&value),
                Field::Str => current.text.push_str(&value),
                Field::Other => {}
                Field::None => return Err(at("a string outside an entry")),
            },
            "msgctxt" => {
                if started && field == Field::Str {
                    let fuzzy = std::mem::take(&mut current.fuzzy);
                    finish(&mut current, &mut started, &mut out);
                    current.fuzzy = fuzzy;
                }
                started = true;
                current.ctxt = Some(value);
                field = Field::Ctxt;
            }
            "msgid" => {
                if started && field == Field::Str {
                    finish(&mut current, &mut started, &mut out);
                }
                started = true;
                current.id = value;
                field = Field::Id;
            }
            "msgid_plural" => field = Field::Other,
            "msgstr" | "msgstr[0]" => {
                current.text = value;
                field = Field::Str;
            }
            k if k.starts_with("msgstr[") => field = Field::Other,
            other => return Err(at(&format!("unknown keyword `{other}`"))),
        }
    }
    finish(&mut current, &mut started, &mut out);
    Ok(out)
}

/// The text of a quoted PO string, its escapes replaced.
fn unquote(quoted: &str) -> Result<String, String> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .filter(|_| quoted.len() >= 2)
        .ok_or_else(|| format!("`{quoted}` is not a quoted string"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            other => return Err(format!("unknown escape `\\{}`", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

/// `text` as a PO string: one quoted line, or (when it holds newlines) `""` followed by one
/// quoted line per line of text, as gettext's tools write it.
fn quote(keyword: &str, text: &str) -> String {
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
    };
    if !text.contains('\n') || text == "\n" {
        return format!("{keyword} \"{}\"\n", escape(text));
    }
    let mut out = format!("{keyword} \"\"\n");
    for piece in text.split_inclusive('\n') {
        let _ = writeln!(out, "\"{}\"", escape(piece));
    }
    out
}

/// A PO template: `header` (each line a `#` comment), the header entry, then one entry per
/// message with its `#:` references, in the order given.
pub fn template(header: &str, messages: &[(String, Vec<String>)]) -> String {
    let mut out = String::new();
    for line in header.lines() {
        match line {
            "" => out.push_str("#\n"),
            _ => {
                let _ = writeln!(out, "# {line}");
            }
        }
    }
    out.push_str(
        "msgid \"\"\nmsgstr \"\"\n\"Project-Id-Version: proclings\\n\"\n\
         \"MIME-Version: 1.0\\n\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\
         \"Content-Transfer-Encoding: 8bit\\n\"\n",
    );
    for (id, references) in messages {
        out.push('\n');
        for r in references {
            let _ = writeln!(out, "#: {r}");
        }
        out.push_str(&quote("msgid", id));
        out.push_str("msgstr \"\"\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_escapes_and_continued_strings_are_read() {
        let po = "# header\nmsgid \"\"\nmsgstr \"\"\n\"Language: zh_CN\\n\"\n\n\
                  #: a:b\nmsgid \"one\"\nmsgstr \"一\"\n\n\
                  msgctxt \"menu\"\nmsgid \"\"\n\"two \\\"quoted\\\"\\n\"\n\"lines\\t\\\\\"\n\
                  msgstr \"\"\n\"二\\n\"\n\"行\"\n\n\
                  #, fuzzy, c-format\nmsgid \"three\"\nmsgstr \"三\"\n\n\
                  #~ msgid \"old\"\n#~ msgstr \"旧\"\n\n\
                  msgid \"four\"\nmsgstr \"\"\n";
        let got = parse(po).expect("a valid PO");
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[0].id, "");
        assert_eq!(got[0].text, "Language: zh_CN\n");
        assert_eq!((got[1].id.as_str(), got[1].text.as_str()), ("one", "一"));
        assert!(got[1].translated());
        assert_eq!(got[2].ctxt.as_deref(), Some("menu"));
        assert_eq!(got[2].id, "two \"quoted\"\nlines\t\\");
        assert_eq!(got[2].text, "二\n行");
        assert!(got[3].fuzzy && !got[3].translated());
        assert_eq!(got[4].id, "four");
        assert!(!got[4].translated());
        assert!(got.iter().all(|m| m.id != "old"));
    }

    #[test]
    fn entries_without_blank_lines_between_them_are_told_apart() {
        let got = parse("msgid \"a\"\nmsgstr \"甲\"\n#, fuzzy\nmsgid \"b\"\nmsgstr \"乙\"\n")
            .expect("a valid PO");
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(!got[0].fuzzy && got[1].fuzzy, "{got:?}");
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_it() {
        let err = parse("msgid \"a\"\nmsgstr unquoted\n").expect_err("not a string");
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(parse("msgid \"\\q\"\nmsgstr \"\"\n").is_err());
    }

    #[test]
    fn a_written_template_reads_back() {
        let messages = vec![
            ("plain".to_owned(), vec!["x.toml:a:title".to_owned()]),
            (
                "two\nlines with \"quotes\"".to_owned(),
                vec!["x.toml:a:hint1".to_owned(), "x.toml:b:hint2".to_owned()],
            ),
        ];
        let text = template("Course text.\n\nSecond paragraph.", &messages);
        assert!(text.starts_with("# Course text.\n#\n# Second paragraph.\nmsgid \"\""));
        assert!(text.contains("#: x.toml:a:hint1\n#: x.toml:b:hint2\nmsgid \"\"\n\"two\\n\"\n"));
        let back = parse(&text).expect("the template parses");
        let ids: Vec<&str> = back.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["", "plain", "two\nlines with \"quotes\""]);
    }
}
