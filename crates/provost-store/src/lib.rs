//! Provost persistence (being written).
