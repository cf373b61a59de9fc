//! Reading libtest's plain output: `test NAME ... ok|FAILED|ignored` lines and the `failures:`
//! section with its `---- NAME stdout ----` blocks; and `--list` output (`NAME: test`).

use std::collections::BTreeMap;

/// The result of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Passed,
    /// It failed.
    Failed,
    /// It was ignored.
    Ignored,
}

/// What a test binary's output says.
#[derive(Debug, Default)]
pub struct Report {
    /// Every test with a result line, in the order reported.
    pub results: Vec<(String, Outcome)>,
    /// The captured output of each failed test (its `---- NAME stdout ----` block).
    pub failures: BTreeMap<String, String>,
}

impl Report {
    /// Names of the tests with this outcome.
    pub fn with(&self, outcome: Outcome) -> Vec<&str> {
        self.results
            .iter()
            .filter(|(_, o)| *o == outcome)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// The outcome of `name`, if reported.
    pub fn outcome(&self, name: &str) -> Option<Outcome> {
        self.results
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, outcome)| *outcome)
    }
}

/// Parses the result lines and failure blocks of libtest's plain output.
///
/// A child process that shares the test's stderr can write between `test NAME ... ` and its
/// result, newlines included, and leave no whole result line: the summary's list of failed
/// tests (`failures:` then one indented name per line) still names the test.
pub fn parse(output: &str) -> Report {
    let mut report = Report::default();
    let mut block: Option<(String, Vec<&str>)> = None;
    let mut listed_failures: Vec<&str> = Vec::new();
    let mut in_list = false;
    for line in output.lines() {
        if line == "failures:" {
            in_list = true;
        } else if line.starts_with("test result:") {
            in_list = false;
        } else if in_list
            && block.is_none()
            && let Some(name) = line.strip_prefix("    ")
            && !name.is_empty()
            && !name.contains(char::is_whitespace)
        {
            listed_failures.push(name);
        }
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            if let Some((name, lines)) = block.take() {
                report.failures.insert(name, lines.join("\n"));
            }
            block = Some((name.to_owned(), Vec::new()));
            continue;
        }
        if let Some((_, lines)) = &mut block {
            if line == "failures:" || line.starts_with("test result:") {
                if let Some((name, lines)) = block.take() {
                    report.failures.insert(name, lines.join("\n"));
                }
            } else {
                lines.push(line);
                continue;
            }
        }
        if let Some((name, outcome)) = result_line(line) {
            report.results.push((name, outcome));
        }
    }
    if let Some((name, lines)) = block.take() {
        report.failures.insert(name, lines.join("\n"));
    }
    for name in listed_failures {
        if report.outcome(name).is_none() {
            report.results.push((name.to_owned(), Outcome::Failed));
        }
    }
    for text in report.failures.values_mut() {
        *text = text.trim_end().to_owned();
    }
    report
}

/// `test NAME ... RESULT`, where the result may follow output a child process wrote between.
fn result_line(line: &str) -> Option<(String, Outcome)> {
    let rest = line.strip_prefix("test ")?;
    let (name, result) = rest.split_once(" ... ")?;
    let result = result.trim();
    let outcome = if result.ends_with("FAILED") || result.starts_with("FAILED") {
        Outcome::Failed
    } else if result == "ok" || result.ends_with(" ok") {
        Outcome::Passed
    } else if result.starts_with("ignored") {
        Outcome::Ignored
    } else {
        return None;
    };
    Some((name.trim().to_owned(), outcome))
}

/// The test names in the output of `TESTBINARY --list`.
pub fn parse_list(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\nrunning 3 tests\ntest a_passes ... ok\ntest b_fails ... FAILED\ntest c_skipped ... ignored, slow\n\nfailures:\n\n---- b_fails stdout ----\n\nthread 'b_fails' panicked at tests/x.rs:3:5:\nexpected 1, got 2\nnote: run with `RUST_BACKTRACE=1`\n\n\nfailures:\n    b_fails\n\ntest result: FAILED. 1 passed; 1 failed; 1 ignored\n";

    #[test]
    fn results_and_failure_messages_are_read() {
        let report = parse(OUTPUT);
        assert_eq!(report.with(Outcome::Passed), ["a_passes"]);
        assert_eq!(report.with(Outcome::Failed), ["b_fails"]);
        assert_eq!(report.with(Outcome::Ignored), ["c_skipped"]);
        let message = &report.failures["b_fails"];
        assert!(message.contains("expected 1, got 2"), "got {message:?}");
        assert!(!message.contains("failures:"), "got {message:?}");
    }

    #[test]
    fn a_result_line_broken_by_a_child_s_output_is_read_from_the_summary() {
        let output = "\nrunning 2 tests\ntest a_passes ... ok\ntest b_fails ... thread 'main' \
                      panicked at src/x.rs:74:5:\nnot yet implemented\nnote: run with \
                      `RUST_BACKTRACE=1`\nFAILED\n\nfailures:\n\n---- b_fails stdout ----\n\n\
                      thread 'b_fails' panicked at tests/x.rs:3:5:\n    the driver ended\n\n\n\
                      failures:\n    b_fails\n\ntest result: FAILED. 1 passed; 1 failed\n";
        let report = parse(output);
        assert_eq!(report.with(Outcome::Passed), ["a_passes"]);
        assert_eq!(report.with(Outcome::Failed), ["b_fails"]);
        assert!(report.failures["b_fails"].contains("the driver ended"));
    }

    #[test]
    fn list_output_gives_test_names() {
        let list = "a_passes: test\nb_fails: test\n\n2 tests, 0 benchmarks\n";
        assert_eq!(parse_list(list), ["a_passes", "b_fails"]);
    }
}
