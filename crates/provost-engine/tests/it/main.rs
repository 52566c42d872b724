//! Engine integration tests: the conformance scenario and the engine against a reference model.

mod fuzz;
mod properties;
mod scenario;
