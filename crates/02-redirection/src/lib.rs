//! proclings week 1, days 4-7: redirection, the log capture tool and the command executor
