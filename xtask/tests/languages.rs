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

/// A course PO translating the fixture's first diagnosis entry (its branch, title and fix) and
/// the first known mistake of basics/failing.
const COURSE_PO: &str = "msgid \"\"\nmsgstr \"\"\n\"Language: zh_CN\\n\"\n\
                         \"Content-Type: text/plain; charset=UTF-8\\n\"\n\n\
                         #: diagnosis.toml:branch:spawning-fails\n\
                         msgid \"spawning fails\"\nmsgstr \"启动失败\"\n\n\
                         #: diagnosis.toml:not-found:title\n\
                         msgid \"the command (or its directory) does not exist\"\n\
                         msgstr \"命令（或其所在目录）不存在\"\n\n\
                         #: diagnosis.toml:not-found:fix\n\
                         msgid \"Use an absolute path.\"\nmsgstr \"使用绝对路径。\"\n\n\
                         #: mistakes:basics/failing:adds-one\n\
                         msgid \"adds one instead of doubling\"\nmsgstr \"加了一，而不是乘以二\"\n";

#[test]
fn doctor_and_explain_speak_chinese_from_the_tables_and_the_course_po() {
    let course = Course::new("lang-doctor");
    std::fs::create_dir_all(course.path("docs/po/course")).expect("create docs/po/course");
    course.write("docs/po/course/zh-CN.po", COURSE_PO);
    let zh = [("PROCLINGS_LANG", "zh-CN")];
    // doctor's item names and verdicts are the runner's own words; its exit status depends on
    // the machine, so only the words are checked.
    run_with(&course, &["doctor"], &zh)
        .assert_stdout_has("平台")
        .assert_stdout_has("打开文件数")
        .assert_stdout_has("进程数")
        .assert_stdout_has("隔离：pid 命名空间")
        .assert_stdout_lacks("platform ")
        .assert_stdout_lacks("open files");
    run_with(&course, &["doctor"], &[("LANG", "C")])
        .assert_stdout_has("platform ")
        .assert_stdout_has("open files")
        .assert_stdout_has("containment: pid namespace")
        .assert_stdout_lacks("平台")
        .assert_stdout_lacks("打开文件数");
    // explain: the branch, title and fix from the PO, the labels from the tables; the
    // untranslated `see` stays English.
    run_with(&course, &["explain", "not-found"], &zh)
        .assert_code(0)
        .assert_stdout_has("not-found: 命令（或其所在目录）不存在")
        .assert_stdout_has("（启动失败）")
        .assert_stdout_has("解决：")
        .assert_stdout_has("使用绝对路径。")
        .assert_stdout_has("spawn() returning NotFound.")
        .assert_stdout_lacks("spawning fails");
    run_with(&course, &["explain"], &zh)
        .assert_code(0)
        .assert_stdout_has("\n启动失败\n")
        .assert_stdout_has("\nIPC fails\n");
    run_with(&course, &["explain", "not-found"], &[("LANG", "C")])
        .assert_code(0)
        .assert_stdout_has("not-found: the command (or its directory) does not exist")
        .assert_stdout_has("(spawning fails)")
        .assert_stdout_has("Use an absolute path.")
        .assert_stdout_lacks("启动失败")
        .assert_stdout_lacks("使用绝对路径");
}

#[test]
fn the_known_mistake_after_the_second_hint_comes_from_the_course_po() {
    let course = Course::new("lang-mistake");
    std::fs::create_dir_all(course.path("docs/po/course")).expect("create docs/po/course");
    course.write("docs/po/course/zh-CN.po", COURSE_PO);
    let zh = [("PROCLINGS_LANG", "zh-CN")];
    run_with(&course, &["hint", "basics/failing"], &zh).assert_stdout_lacks("这里常见的错误");
    // The second hint shows the first mistake, translated.
    run_with(&course, &["hint", "basics/failing"], &zh)
        .assert_code(0)
        .assert_stdout_has("这里常见的错误：")
        .assert_stdout_has("加了一，而不是乘以二")
        .assert_stdout_lacks("adds one instead of doubling");
    // Shown again in English, the same mistake is in English.
    std::fs::remove_file(course.path(".proclings/progress.toml")).expect("forget the hints shown");
    run_with(&course, &["hint", "basics/failing"], &[("LANG", "C")]);
    run_with(&course, &["hint", "basics/failing"], &[("LANG", "C")])
        .assert_stdout_has("adds one instead of doubling")
        .assert_stdout_lacks("加了一");
}
