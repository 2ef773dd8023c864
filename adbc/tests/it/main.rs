//! The ADBC driver against the embedded server: through `adbc_core`'s
//! traits (the rlib), and through the C ABI as a driver manager loads the
//! cdylib by path.

mod errors;
// The mapping-table batch and its check, shared with the crate's tests.
#[allow(dead_code)]
#[path = "../../../tests/it/every_type.rs"]
mod every_type;
mod ffi;
mod ingest;
mod objects;
mod query;
mod support;
