//! proclings week 2, days 3-4: Unix domain sockets
