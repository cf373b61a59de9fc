//! A narrated tour of a work queue beyond one machine. Independent of the exercises; exits by itself and leaves
//! nothing behind.
//!
//! Run it with `cargo run -p work-queue`.

fn main() {
    // SCAFFOLD: each step of the tour, narrated: what runs, its pids, fds and signals.
    println!("== done");
}
