//! proclings week 2, days 1-2: pipes
