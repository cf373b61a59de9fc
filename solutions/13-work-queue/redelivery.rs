//! SCAFFOLD: the exercise's title.
//!
//! Scenario: SCAFFOLD: the situation, as the learner meets it.
//!
//! Goal: implement [`redelivery`]: SCAFFOLD: what it must do and its contract (not how).
//!
//! Chapter: `docs/src/13-work-queue.md#redelivery`. Check it with `cargo xtask check work-queue/redelivery`.

/// SCAFFOLD: what this function does, its arguments, what it returns, its errors.
pub fn redelivery() -> std::io::Result<()> {
    // SCAFFOLD: finish the solution; the stub's TODO was: SCAFFOLD: the step to write, on the exact line where it goes.
    todo!("redelivery")
}
