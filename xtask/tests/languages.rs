//! The runner's languages: the `xtask` binary on a private copy of the fixture course speaks
//! Simplified Chinese when `PROCLINGS_LANG` or the locale asks for it, and English otherwise;
//! the course's hints come from `docs/po/course/zh-CN.po` when it translates them, in English
//! when it does not.

use std::process::Command;

mod common;
use common::{Course, Run};

/// `xtask ARGS` on `course` with the locale variables given and every other one removed.
fn run_with(course: &Course, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd: Command = course.command(args);
    for var in [
        "PROCLINGS_LANG",
        "LC_ALL",
        "LC_MESSAGES",
        "LANG",
        "LANGUAGE",
    ] {
        cmd.env_remove(var);
    }
    for (var, value) in env {
        cmd.env(var, value);
    }
    course.run(cmd, args)
}

#[test]
fn list_speaks_chinese_when_asked_and_english_in_the_c_locale() {
    let course = Course::new("lang-list");
    let chinese = run_with(&course, &["list"], &[("PROCLINGS_LANG", "zh-CN")]);
    chinese
        .assert_code(0)
        .assert_stdout_has("Basics（basics）：第 1 周，第 1-2 天")
        .assert_stdout_has("[下一个]")
        .assert_stdout_has("basics/passing");
    // The locale alone chooses too, in POSIX precedence (LC_ALL first).
    run_with(&course, &["list"], &[("LANG", "zh_CN.UTF-8")]).assert_stdout_has("[下一个]");
    run_with(
        &course,
        &["list"],
        &[("LC_ALL", "C"), ("LANG", "zh_CN.UTF-8")],
    )
    .assert_stdout_lacks("[下一个]");
    // PROCLINGS_LANG overrides the locale.
    run_with(
        &course,
        &["list"],
        &[("PROCLINGS_LANG", "en"), ("LC_ALL", "zh_CN.UTF-8")],
    )
    .assert_stdout_has("[next]");
    for env in [&[("LANG", "C")][..], &[("LANG", "zh_TW.UTF-8")], &[]] {
        let english = run_with(&course, &["list"], env);
        english
            .assert_code(0)
            .assert_stdout_has("Basics (basics): week 1, days 1-2")
            .assert_stdout_has("[next]")
            .assert_stdout_lacks("第 1 周")
            .assert_stdout_lacks("下一个");
    }
}

#[test]
fn hints_come_from_the_course_po_and_fall_back_to_english() {
    let course = Course::new("lang-hint");
    std::fs::create_dir_all(course.path("docs/po/course")).expect("create docs/po/course");
    // A translation of the first hint of basics/passing only; the second stays English, and a
    // fuzzy entry is not used.
    course.write(
        "docs/po/course/zh-CN.po",
        "msgid \"\"\nmsgstr \"\"\n\"Language: zh_CN\\n\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\n\
         #: curriculum.toml:basics/passing:hint1\n\
         msgid \"The answer is already there.\"\nmsgstr \"答案已经在那里了。\"\n\n\
         #, fuzzy\n#: curriculum.toml:basics/passing:hint2\n\
         msgid \"Run the check.\"\nmsgstr \"运行检查。\"\n",
    );
    let first = run_with(
        &course,
        &["hint", "basics/passing"],
        &[("LANG", "zh_CN.UTF-8")],
    );
    first
        .assert_code(0)
        .assert_stdout_has("提示 1/2")
        .assert_stdout_has("答案已经在那里了。")
        .assert_stdout_lacks("The answer is already there.");
    let second = run_with(
        &course,
        &["hint", "basics/passing"],
        &[("PROCLINGS_LANG", "zh-CN")],
    );
    second
        .assert_code(0)
        .assert_stdout_has("提示 2/2")
        .assert_stdout_has("Run the check.")
        .assert_stdout_lacks("运行检查。");
    // In English the PO is not read at all.
    let english = run_with(&course, &["hint", "basics/passing"], &[("LANG", "C")]);
    english
        .assert_code(0)
        .assert_stdout_has("hint 2 of 2")
        .assert_stdout_has("Run the check.")
        .assert_stdout_lacks("提示");
}

#[test]
fn the_usage_text_follows_the_language() {
    let course = Course::new("lang-usage");
    run_with(&course, &["--help"], &[("PROCLINGS_LANG", "zh-CN")])
        .assert_code(0)
        .assert_stdout_has("用法：cargo xtask [子命令] [参数]");
    run_with(&course, &["--help"], &[("LANG", "C")])
        .assert_code(0)
        .assert_stdout_has("usage: cargo xtask [VERB] [ARGS]");
}
