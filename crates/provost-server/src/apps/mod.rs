//! One module per app; each has its rules in `service` and its routes in `http`.

pub mod authz;
