//! The proclings runner (placeholder while the runner is being written).
fn main() {}
