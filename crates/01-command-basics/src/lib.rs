//! proclings week 1, days 1-3: running commands
