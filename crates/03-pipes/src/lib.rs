//! proclings week 2, days 1-2: pipes.
//!
//! One module per exercise. Without the `solution` feature each module is the learner's stub
//! from `exercises/03-pipes/`; with it, the reference solution from `solutions/03-pipes/`.
//! The chapter is `docs/src/03-pipes.md`; `cargo run -p pipes` narrates the topic.

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/03-pipes/two_stage.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod two_stage;
#[cfg(feature = "solution")]
#[path = "../../../solutions/03-pipes/two_stage.rs"]
pub mod two_stage;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/03-pipes/pipeline.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod pipeline;
#[cfg(feature = "solution")]
#[path = "../../../solutions/03-pipes/pipeline.rs"]
pub mod pipeline;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/03-pipes/fan_in.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod fan_in;
#[cfg(feature = "solution")]
#[path = "../../../solutions/03-pipes/fan_in.rs"]
pub mod fan_in;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/03-pipes/capacity.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod capacity;
#[cfg(feature = "solution")]
#[path = "../../../solutions/03-pipes/capacity.rs"]
pub mod capacity;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/03-pipes/dead_reader.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod dead_reader;
#[cfg(feature = "solution")]
#[path = "../../../solutions/03-pipes/dead_reader.rs"]
pub mod dead_reader;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/03-pipes/fifo.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod fifo;
#[cfg(feature = "solution")]
#[path = "../../../solutions/03-pipes/fifo.rs"]
pub mod fifo;

#[cfg(not(feature = "solution"))]
#[path = "../../../exercises/03-pipes/worker.rs"]
#[allow(unused_variables, unused_imports)] // a stub's parameters are used once it is solved
pub mod worker;
#[cfg(feature = "solution")]
#[path = "../../../solutions/03-pipes/worker.rs"]
pub mod worker;
