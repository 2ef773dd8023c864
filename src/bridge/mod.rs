//! The Arrow bridge (`src/bridge/`): QWP column types ⇄ Arrow data types, decoding QWP
//! column bodies into Arrow arrays and Arrow arrays into QWP columns.
//!
//! The type mapping lives in one place, [`types`]; see the crate docs for
//! the table. Field metadata uses the same keys as the official client
//! (`questdb.column_type`, `questdb.symbol`, `questdb.geohash_bits`,
//! `questdb.designated_timestamp`, `ARROW:extension:name=arrow.uuid`), so an
//! annotated batch means the same to both.

pub mod batch_decoder;
pub mod column_data;
pub mod column_encoder;
pub mod decode;
mod fixed;
pub mod frame;
pub mod overrides;
pub(crate) mod sym_dict;
pub mod symbol_values;
pub mod types;

pub use column_data::{SymbolIds, encode_array};
pub use decode::{SymbolLookup, decode_array};

pub use overrides::{ColumnOverride, apply_overrides};
pub use types::{QwpType, arrow_field, qwp_type_of};

/// Field-metadata keys shared with the official client.
pub mod meta {
    /// QuestDB native type name (lowercase, e.g. `"char"`, `"ipv4"`, `"long256"`).
    pub const COLUMN_TYPE: &str = "questdb.column_type";
    /// `"true"` on the designated timestamp field.
    pub const DESIGNATED_TIMESTAMP: &str = "questdb.designated_timestamp";
    /// Geohash precision in bits (1..=60).
    pub const GEOHASH_BITS: &str = "questdb.geohash_bits";
    /// `"true"` marks a string column as SYMBOL.
    pub const SYMBOL: &str = "questdb.symbol";
    /// Standard Arrow extension-name key.
    pub const ARROW_EXTENSION_NAME: &str = "ARROW:extension:name";
    /// Extension name of the canonical Arrow UUID (FixedSizeBinary(16),
    /// RFC 4122 big-endian bytes).
    pub const EXT_ARROW_UUID: &str = "arrow.uuid";
}
