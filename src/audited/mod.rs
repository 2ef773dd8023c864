//! All of the crate's `unsafe` code, in one small module to audit.
//!
//! The crate is `#![deny(unsafe_code)]`; this module alone is allowed it.
//! The policy for what lives here:
//!
//! - every `unsafe` block (and `unsafe fn`) carries a `// SAFETY:` comment
//!   that says which contract it relies on and why the contract holds
//!   *from this module's own code*, not from what callers promise;
//! - each item is wrapped in a safe function whose callers cannot break
//!   that argument, whatever they pass;
//! - each names the tests that exercise it, and an `unsafe` block is added
//!   only for a measured gain or an interface that cannot be had without
//!   it.
//!
//! Contents:
//!
//! - [`arrow_unchecked`]: a dictionary array built without arrow's per-key
//!   validation, after one branch-free pass over the keys (SYMBOL columns
//!   of query results), and a string array without its per-offset search
//!   (VARCHAR columns);
//! - [`avx2`]: hot loops of query decoding (the test for NULL sentinels
//!   in a fixed-width column, the largest dictionary key) compiled for
//!   AVX2 too, that copy picked at run time on CPUs that have it;
//! - [`file_map`]: a file mapped shared for writing, bytes copied in
//!   through raw pointers (the disk store-and-forward queue's recycled
//!   segments);
//! - [`socket`]: the receive low-water mark of a TCP socket
//!   (`SO_RCVLOWAT`), so a client waiting for the rest of a frame is
//!   woken once rather than per segment;
//! - [`text`]: bytes as text with an ASCII fast path (the short names
//!   and values of ILP lines the embedded server parses);
//! - [`varint`]: the symbol ids of query results decoded with BMI2's
//!   `pext` on CPUs that have it;
//! - `polars_ffi` (feature `polars`): moving arrays between arrow-rs and
//!   polars-arrow through the Arrow C Data Interface.

pub(crate) mod arrow_unchecked;
pub(crate) mod avx2;
pub(crate) mod file_map;
#[cfg(feature = "polars")]
pub(crate) mod polars_ffi;
pub(crate) mod socket;
pub(crate) mod text;
pub(crate) mod varint;
