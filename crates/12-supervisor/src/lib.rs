//! proclings week 8, days 1-7: a service supervisor.
//!
//! One module per exercise. Without the `solution` feature each module is the learner's stub
//! from `exercises/12-supervisor/`; with it, the reference solution from `solutions/12-supervisor/`.
//! The chapter is `docs/src/12-supervisor.md`; `cargo run -p supervisor` narrates the topic.
