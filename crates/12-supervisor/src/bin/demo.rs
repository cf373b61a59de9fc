//! A narrated tour of a service supervisor. Independent of the exercises; exits by itself and leaves
//! nothing behind.
//!
//! Run it with `cargo run -p supervisor`.

fn main() {
    // SCAFFOLD: each step of the tour, narrated: what runs, its pids, fds and signals.
    println!("== done");
}
