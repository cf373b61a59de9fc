//! SCAFFOLD: the exercise's title.
//!
//! Scenario: SCAFFOLD: the situation, as the learner meets it.
//!
//! Goal: implement [`request_reply`]: SCAFFOLD: what it must do and its contract (not how).
//!
//! Chapter: `docs/src/13-work-queue.md#request_reply`. Check it with `cargo xtask check work-queue/request_reply`.

/// SCAFFOLD: what this function does, its arguments, what it returns, its errors.
pub fn request_reply() -> std::io::Result<()> {
    // SCAFFOLD: finish the solution; the stub's TODO was: SCAFFOLD: the step to write, on the exact line where it goes.
    todo!("request_reply")
}
