//! Tests for `supervisor::config`: a good file gives every key with its defaults, every mistake
//! is refused at load as `FILE:LINE: reason` with the line of the mistake, and the start order
//! puts each service after what it depends on, the same on every run.

use std::path::Path;
use std::time::Duration;

use nix::sys::resource::Resource;
use nix::sys::signal::Signal;
use supervisor::config::{
    self, BackoffPolicy, Condition, ConfigError, HealthCheck, LogPolicy, Ready, Restart, StartLimit,
};

/// Parses `text` as if it came from `svd.toml`.
fn parse(text: &str) -> Result<config::Config, ConfigError> {
    config::parse(text, Path::new("svd.toml"))
}

/// Parses `text`, expects a refusal, and checks it names `svd.toml`, `line` and every word of
/// `words` (case-insensitive).
#[track_caller]
fn refused(text: &str, line: usize, words: &[&str]) -> ConfigError {
    let err = match parse(text) {
        Ok(cfg) => panic!(
            "this config should be refused, but it was accepted as {cfg:#?}\n--- config ---\n{text}"
        ),
        Err(e) => e,
    };
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("svd.toml:{line}: ")),
        "the error should start with `svd.toml:{line}: ` (the file and the line of the mistake); \
         got `{shown}`\n--- config ---\n{text}"
    );
    assert_eq!(err.line, Some(line), "ConfigError::line for `{shown}`");
    let lower = shown.to_lowercase();
    for w in words {
        assert!(
            lower.contains(&w.to_lowercase()),
            "the error should say `{w}`; got `{shown}`"
        );
    }
    assert!(
        !shown.contains('\n'),
        "the error should be one line; got:\n{shown}"
    );
    err
}

const FULL: &str = r#"
[service.db]
command = ["/bin/sleep", "60"]
ready = "notify"

[service.web]
command = ["/usr/bin/env", "python3", "-m", "http.server"]
env = { LANG = "C.UTF-8", PORT = "8000" }
cwd = "/tmp"
restart = "always"
backoff = { initial_ms = 100, factor = 3.0, max_ms = 5000, jitter = 0.5, reset_after_s = 2.5 }
start_limit = { burst = 4, interval_s = 20 }
depends_on = { db = "ready" }
ready = { connect = "127.0.0.1:8000" }
ready_timeout_s = 7
stop_signal = "INT"
stop_timeout_s = 0.5
rlimits = { nofile = 256, core = 0 }
health = { exec = ["/bin/true"], interval_s = 3, timeout_s = 1, threshold = 2 }
log = { max_bytes = 4096, files = 3 }
"#;

#[test]
fn every_key_of_a_service_is_read() {
    let cfg = parse(FULL).unwrap_or_else(|e| panic!("a valid config was refused: {e}"));
    assert_eq!(
        cfg.path,
        Path::new("svd.toml"),
        "Config::path is the origin"
    );
    assert_eq!(
        cfg.services.keys().collect::<Vec<_>>(),
        ["db", "web"],
        "two services"
    );
    let web = &cfg.services["web"];
    assert_eq!(web.name, "web");
    assert_eq!(
        web.command,
        ["/usr/bin/env", "python3", "-m", "http.server"],
        "command: the program and its arguments"
    );
    assert_eq!(web.env.get("PORT").map(String::as_str), Some("8000"));
    assert_eq!(web.env.len(), 2, "env: {:?}", web.env);
    assert_eq!(web.cwd.as_deref(), Some(Path::new("/tmp")));
    assert_eq!(web.restart, Restart::Always);
    assert_eq!(
        web.backoff,
        BackoffPolicy {
            initial: Duration::from_millis(100),
            factor: 3.0,
            max: Duration::from_millis(5000),
            jitter: 0.5,
            reset_after: Duration::from_millis(2500),
        }
    );
    assert_eq!(
        web.start_limit,
        StartLimit {
            burst: 4,
            interval: Duration::from_secs(20)
        }
    );
    assert_eq!(web.depends_on.get("db"), Some(&Condition::Ready));
    assert_eq!(web.ready, Ready::Connect("127.0.0.1:8000".into()));
    assert_eq!(web.ready_timeout, Duration::from_secs(7));
    assert_eq!(
        web.stop_signal,
        Signal::SIGINT,
        "`stop_signal = \"INT\"` is SIGINT"
    );
    assert_eq!(web.stop_timeout, Duration::from_millis(500));
    assert_eq!(
        web.rlimits,
        [(Resource::RLIMIT_CORE, 0), (Resource::RLIMIT_NOFILE, 256)],
        "rlimits, sorted by name"
    );
    let health = web.health.as_ref().expect("web has a health check");
    assert_eq!(health.check, HealthCheck::Exec(vec!["/bin/true".into()]));
    assert_eq!(
        (health.interval, health.timeout, health.threshold),
        (Duration::from_secs(3), Duration::from_secs(1), 2)
    );
    assert_eq!(
        web.log,
        LogPolicy {
            max_bytes: 4096,
            files: 3
        }
    );
    assert_eq!(cfg.services["db"].ready, Ready::Notify);
}

#[test]
fn missing_keys_get_the_documented_defaults() {
    let cfg = parse("[service.solo]\ncommand = [\"/bin/true\"]\n")
        .unwrap_or_else(|e| panic!("a minimal config was refused: {e}"));
    let s = &cfg.services["solo"];
    assert_eq!(s.restart, Restart::OnFailure);
    assert_eq!(
        s.backoff,
        BackoffPolicy {
            initial: Duration::from_millis(500),
            factor: 2.0,
            max: Duration::from_secs(60),
            jitter: 0.2,
            reset_after: Duration::from_secs(30),
        }
    );
    assert_eq!(
        s.start_limit,
        StartLimit {
            burst: 5,
            interval: Duration::from_secs(60)
        }
    );
    assert_eq!(s.ready, Ready::None);
    assert_eq!(s.ready_timeout, Duration::from_secs(30));
    assert_eq!(s.stop_signal, Signal::SIGTERM);
    assert_eq!(s.stop_timeout, Duration::from_secs(10));
    assert!(s.env.is_empty() && s.cwd.is_none() && s.depends_on.is_empty());
    assert!(s.rlimits.is_empty() && s.health.is_none());
    assert_eq!(
        s.log,
        LogPolicy {
            max_bytes: 1024 * 1024,
            files: 5
        }
    );
    // Partly given tables keep the defaults of the keys they leave out.
    let cfg = parse(
        "[service.x]\ncommand = [\"/bin/true\"]\nbackoff = { initial_ms = 0 }\nhealth = { connect = \"/run/x.sock\" }\n",
    )
    .unwrap_or_else(|e| panic!("a config with partial tables was refused: {e}"));
    let x = &cfg.services["x"];
    assert_eq!(x.backoff.initial, Duration::ZERO);
    assert_eq!(
        (x.backoff.factor, x.backoff.max),
        (2.0, Duration::from_secs(60))
    );
    let h = x.health.as_ref().expect("health");
    assert_eq!(h.check, HealthCheck::Connect("/run/x.sock".into()));
    assert_eq!(
        (h.interval, h.timeout, h.threshold),
        (Duration::from_secs(10), Duration::from_secs(5), 3)
    );
    assert!(
        parse("")
            .expect("an empty file is a valid, empty config")
            .services
            .is_empty(),
        "no services"
    );
}

#[test]
fn a_syntax_error_names_the_file_and_its_line() {
    refused(
        "[service.a]\ncommand = [\"/bin/true\"]\n\n[service.b]\ncommand = [\"/bin/true\"\n",
        5,
        &[],
    );
}

#[test]
fn a_misspelt_key_is_refused_not_ignored() {
    refused(
        "[service.a]\ncommand = [\"/bin/true\"]\nrestrat = \"always\"\n",
        3,
        &["restrat"],
    );
    refused(
        "[service.a]\ncommand = [\"/bin/true\"]\nbackoff = { intial_ms = 10 }\n",
        3,
        &["intial_ms"],
    );
    refused("[servise.a]\ncommand = [\"/bin/true\"]\n", 1, &["servise"]);
}

#[test]
fn a_service_without_a_command_is_refused() {
    refused(
        "[service.a]\ncommand = [\"/bin/true\"]\n\n[service.b]\nrestart = \"never\"\n",
        4,
        &["command"],
    );
    refused("[service.a]\ncommand = []\n", 2, &["command"]);
}

#[test]
fn values_out_of_their_range_are_refused_at_their_line() {
    let head = "[service.a]\ncommand = [\"/bin/true\"]\n";
    let cases: &[(&str, &[&str])] = &[
        ("restart = \"sometimes\"", &["sometimes"]),
        ("stop_signal = \"SIGFOO\"", &["SIGFOO"]),
        ("stop_signal = \"KILL\"", &["stop_signal"]),
        ("backoff = { factor = 0.5 }", &["factor"]),
        ("backoff = { jitter = 1.5 }", &["jitter"]),
        ("backoff = { initial_ms = 9000, max_ms = 10 }", &["max_ms"]),
        ("start_limit = { burst = 0 }", &["burst"]),
        ("rlimits = { files = 10 }", &["files", "nofile"]),
        ("ready = \"soon\"", &["ready"]),
        ("ready = { connect = \"\" }", &["ready"]),
        ("depends_on = { a = \"running\" }", &["running"]),
        ("stop_timeout_s = -1", &["stop_timeout_s"]),
        ("health = { interval_s = 1 }", &["health"]),
        ("health = { exec = [] }", &["health"]),
        ("health = { connect = \"\" }", &["health"]),
        (
            "ready = { connect = \"127.0.0.1:1\", retries = 3 }",
            &["ready"],
        ),
        ("log = { files = 0 }", &["log"]),
        ("stop_timeout_s = \"10\"", &[]),
    ];
    for (line, words) in cases {
        refused(&format!("{head}\n{line}\n"), 4, words);
    }
    refused(
        "[service.\"web server\"]\ncommand = [\"/bin/true\"]\n",
        1,
        &["web server"],
    );
}

#[test]
fn a_connect_address_is_a_socket_path_or_a_numeric_ip_and_port() {
    let head = "[service.a]\ncommand = [\"/bin/true\"]\n";
    // A name would be resolved with getaddrinfo(3), which can block svd's loop for seconds.
    for (line, name) in [
        ("ready = { connect = \"localhost:8000\" }", "localhost:8000"),
        ("ready = { connect = \"8000\" }", "8000"),
        (
            "health = { connect = \"db.example.com:5432\" }",
            "db.example.com:5432",
        ),
        ("health = { connect = \"run/app.sock\" }", "run/app.sock"),
    ] {
        refused(&format!("{head}\n{line}\n"), 4, &[name, "numeric"]);
    }
    let cfg = parse(&format!(
        "{head}ready = {{ connect = \"[::1]:8000\" }}\n\
         health = {{ connect = \"/run/app.sock\" }}\n"
    ))
    .expect("an IPv6 address and a socket path are accepted");
    let svc = &cfg.services["a"];
    assert_eq!(svc.ready, Ready::Connect("[::1]:8000".into()));
    assert_eq!(
        svc.health.as_ref().map(|h| &h.check),
        Some(&HealthCheck::Connect("/run/app.sock".into()))
    );
}

#[test]
fn a_dependency_on_an_undefined_service_is_refused() {
    let err = refused(
        "[service.web]\ncommand = [\"/bin/true\"]\ndepends_on = { dbb = \"ready\" }\n\n[service.db]\ncommand = [\"/bin/true\"]\n",
        3,
        &["web", "dbb"],
    );
    assert!(err.reason.contains("dbb"), "{err:?}");
    refused(
        "[service.a]\ncommand = [\"/bin/true\"]\n\n[service.b]\ncommand = [\"/bin/true\"]\ndepends_on = { b = \"started\" }\n",
        6,
        &["b"],
    );
}

#[test]
fn a_dependency_cycle_is_refused_and_named() {
    let text = "\
[service.a]
command = [\"/bin/true\"]
depends_on = { b = \"started\" }

[service.b]
command = [\"/bin/true\"]
depends_on = { c = \"ready\" }

[service.c]
command = [\"/bin/true\"]
depends_on = { a = \"ready\" }

[service.d]
command = [\"/bin/true\"]
depends_on = { a = \"ready\" }
";
    let err = refused(text, 3, &["cycle"]);
    assert!(
        err.reason.contains("a -> b -> c -> a"),
        "the error should name the cycle as `a -> b -> c -> a`; got `{err}`"
    );
}

#[test]
fn load_reads_the_file_and_reports_its_path() {
    let dir = testkit::temp_dir("config-load");
    let path = dir.path().join("svd.toml");
    std::fs::write(&path, FULL).expect("write the config");
    let cfg = config::load(&path).unwrap_or_else(|e| panic!("load refused a valid file: {e}"));
    assert_eq!(cfg.path, path);
    assert_eq!(cfg.services.len(), 2);

    std::fs::write(&path, "[service.a]\ncommand = \"/bin/true\"\n").expect("write");
    let err = config::load(&path).expect_err("a string is not an array");
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2: ", path.display())),
        "load's errors name the real file and the line: got `{err}`"
    );

    let missing = dir.path().join("nope.toml");
    let err = config::load(&missing).expect_err("a missing file is an error, not a panic");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{}: ", missing.display())) && err.line.is_none(),
        "a file that cannot be read: `FILE: reason` without a line; got `{shown}` ({err:?})"
    );
    assert!(
        shown.contains("No such file"),
        "and the reason says why: got `{shown}`"
    );
}

#[test]
fn the_start_order_puts_dependencies_first_the_same_way_every_time() {
    let text = "\
[service.web]
command = [\"/bin/true\"]
depends_on = { api = \"ready\", cache = \"started\" }

[service.api]
command = [\"/bin/true\"]
depends_on = { db = \"ready\" }

[service.db]
command = [\"/bin/true\"]

[service.cache]
command = [\"/bin/true\"]

[service.aaa]
command = [\"/bin/true\"]
depends_on = { web = \"started\" }

[service.zzz]
command = [\"/bin/true\"]
";
    let cfg = parse(text).unwrap_or_else(|e| panic!("a valid config was refused: {e}"));
    // db and cache and zzz are free at first; in name order: cache, db, zzz. Then api (after
    // db), web (after api and cache), aaa (after web). Free services are taken by name.
    assert_eq!(
        cfg.start_order(),
        ["cache", "db", "api", "web", "aaa", "zzz"],
        "each service after its dependencies; among those free to start, the smallest name first"
    );
}

#[test]
fn a_long_chain_is_ordered_whatever_the_names() {
    // a depends on b, b on c, ..., y on z: the name order is the reverse of the only valid one.
    let names: Vec<char> = ('a'..='z').collect();
    let mut text = String::new();
    for (i, n) in names.iter().enumerate() {
        text.push_str(&format!("[service.{n}]\ncommand = [\"/bin/true\"]\n"));
        if let Some(next) = names.get(i + 1) {
            text.push_str(&format!("depends_on = {{ {next} = \"started\" }}\n"));
        }
    }
    let cfg = parse(&text).unwrap_or_else(|e| panic!("a chain was refused: {e}"));
    let order = cfg.start_order();
    let expected: Vec<String> = names.iter().rev().map(|c| c.to_string()).collect();
    assert_eq!(order, expected);
}

#[test]
fn values_on_the_edge_of_their_range_are_accepted() {
    let cfg = parse(
        r#"
[service.web-1]
command = ["/bin/true"]
ready = "none"
backoff = { initial_ms = 500, max_ms = 500 }
rlimits = { as = 1, core = 2, cpu = 3, data = 4, fsize = 5, memlock = 6, nofile = 7, nproc = 8, stack = 9 }

[service.db_2]
command = ["/bin/true"]
"#,
    )
    .unwrap_or_else(|e| panic!("a valid config was refused: {e}"));
    assert!(
        cfg.services.contains_key("db_2"),
        "`-` and `_` are allowed in a service name"
    );
    let web = &cfg.services["web-1"];
    assert_eq!(web.ready, Ready::None, "`ready = \"none\"` said explicitly");
    assert_eq!(
        (web.backoff.initial, web.backoff.max),
        (Duration::from_millis(500), Duration::from_millis(500)),
        "a cap equal to the first delay is a constant delay, not a mistake"
    );
    assert_eq!(
        web.rlimits,
        [
            (Resource::RLIMIT_AS, 1),
            (Resource::RLIMIT_CORE, 2),
            (Resource::RLIMIT_CPU, 3),
            (Resource::RLIMIT_DATA, 4),
            (Resource::RLIMIT_FSIZE, 5),
            (Resource::RLIMIT_MEMLOCK, 6),
            (Resource::RLIMIT_NOFILE, 7),
            (Resource::RLIMIT_NPROC, 8),
            (Resource::RLIMIT_STACK, 9),
        ],
        "every limit the chapter lists, each to its own resource"
    );
}

#[test]
fn values_too_large_to_use_are_refused_at_load_with_their_bound() {
    use supervisor::config::{MAX_DURATION, MAX_LOG_BYTES, MAX_LOG_FILES};
    let head = "[service.a]\ncommand = [\"/bin/true\"]\n";
    let week = MAX_DURATION.as_secs();
    let cases: &[(&str, &[&str])] = &[
        // Accepted, these crash the supervisor later (Instant + Duration past the clock's
        // range panics) or make it loop (a rotation renames every kept file).
        ("stop_timeout_s = 1e19", &["stop_timeout_s"]),
        ("ready_timeout_s = 1e12", &["ready_timeout_s"]),
        ("start_limit = { interval_s = 1e300 }", &["interval_s"]),
        ("backoff = { reset_after_s = 1e15 }", &["reset_after_s"]),
        (
            "backoff = { initial_ms = 9223372036854775807, max_ms = 9223372036854775807 }",
            &["initial_ms"],
        ),
        ("backoff = { max_ms = 9223372036854775807 }", &["max_ms"]),
        (
            "health = { exec = [\"/bin/true\"], interval_s = 1e18 }",
            &["interval_s"],
        ),
        (
            "health = { exec = [\"/bin/true\"], timeout_s = 1e18 }",
            &["timeout_s"],
        ),
        ("log = { files = 4294967295 }", &["files"]),
        ("log = { max_bytes = 9223372036854775807 }", &["max_bytes"]),
    ];
    for (line, words) in cases {
        let text = format!("{head}\n{line}\n");
        assert!(
            parse(&text).is_err(),
            "`{line}` was accepted: a value too large to use must be refused at load, with its \
             bound (MAX_DURATION for every `*_s` and `*_ms`, MAX_LOG_FILES, MAX_LOG_BYTES), or \
             it crashes the supervisor later (`Instant + Duration` panics past the clock's \
             range) or makes a rotation loop"
        );
        let err = refused(&text, 4, words);
        let shown = err.to_string();
        let bound = [
            week.to_string(),
            MAX_DURATION.as_millis().to_string(),
            MAX_LOG_FILES.to_string(),
            MAX_LOG_BYTES.to_string(),
        ];
        assert!(
            bound.iter().any(|b| shown.contains(b.as_str())),
            "`{line}` is refused, and the error says the largest value allowed; got `{shown}`"
        );
    }
    // The bounds are the ones the chapter states: a week, 1000 files, 1 TiB.
    assert_eq!(
        (week, MAX_LOG_FILES, MAX_LOG_BYTES),
        (7 * 24 * 3600, 1000, 1 << 40),
        "MAX_DURATION, MAX_LOG_FILES and MAX_LOG_BYTES are given: a week, 1000 and 1 TiB"
    );
    // The bounds themselves are fine.
    let edge = format!(
        "{head}stop_timeout_s = {week}\nbackoff = {{ max_ms = {} }}\nlog = {{ files = {MAX_LOG_FILES}, max_bytes = {MAX_LOG_BYTES} }}\n",
        MAX_DURATION.as_millis()
    );
    parse(&edge).unwrap_or_else(|e| panic!("values at their bound were refused: {e}\n{edge}"));
}
