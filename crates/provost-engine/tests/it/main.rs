//! Engine integration tests: the engine against a reference model, and its parsers under fuzzing.
//! (The conformance scenarios run on the engine from `provost-testkit`'s tests.)

mod fuzz;
mod properties;
