//! proclings week 2, days 5-7: signals and graceful shutdown
