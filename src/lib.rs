//! # questdb-arrow
//!
//! Move Apache Arrow data into and out of [QuestDB](https://questdb.io) over
//! QWP, QuestDB's columnar binary protocol carried over WebSocket.
//!
//! ## Layers
//!
//! | module | what it does | knows about |
//! |---|---|---|
//! | [`protocol`] | sans-IO QWP codec for both directions: headers, delta symbol dictionary, table blocks, all 23 column types in both null modes, Gorilla timestamps, every egress message, binds, zstd bodies | bytes only |
//! | [`conf`] | the connect-string grammar (`ws::addr=host:9000;...`), every key with its default and validation, `QDB_CLIENT_CONF` | strings only |
//! | [`transport`] | blocking WebSocket client over TCP or rustls TLS: the `/write/v4` and `/read/v1` upgrades, QWP headers, auth, one-pass frame masking | protocol constants |
//! | [`error`] | one [`Error`] with a [`kind()`](Error::kind) to match on | — |
//! | [`bridge`] | the Arrow ⇄ QWP type mapping, overrides, zero-copy/parallel column encoders, QWP → Arrow decoders | arrow + protocol |
//! | [`client`] | [`client::QuestDb`] (lazy, pooled): `flush_arrow_batch`, streaming `ingest`; SQL queries | everything above |
//! | `parquet_io` (feature `parquet`) | streaming Parquet load (`ingest_parquet`) and export (`export_parquet`) | client + parquet |
//! | `polars_io` (feature `polars`) | `QuestDb::flush_polars_dataframe`, `Cursor::next_polars` / `iter_polars` / `fetch_all_polars`, over the Arrow C Data Interface bridge to polars-arrow | client + polars |
//! | `server` (feature `server`) | the embedded DataFusion-backed QWP server | everything above |
//!
//! ## QWP column types
//!
//! The default Arrow mapping the Arrow bridge applies (overridable per
//! column; `questdb.*` field metadata wins):
//!
//! | Arrow (ingest) | QuestDB / QWP type | Arrow (query result) |
//! |---|---|---|
//! | Boolean | BOOLEAN `0x01` | Boolean |
//! | Int8 / Int16 / Int32 / Int64 | BYTE `0x02` / SHORT `0x03` / INT `0x04` / LONG `0x05` | same widths |
//! | UInt8/16/32 | next wider signed type | — |
//! | Float16/32, Float64 | FLOAT `0x06`, DOUBLE `0x07` | Float32, Float64 |
//! | Utf8, LargeUtf8, Utf8View | VARCHAR `0x0F` | Utf8 |
//! | Dictionary(int, Utf8) | SYMBOL `0x09` | Dictionary(Int32, Utf8) |
//! | Binary, LargeBinary, BinaryView, FixedSizeBinary | BINARY `0x17` | Binary |
//! | FixedSizeBinary(16) + `arrow.uuid` | UUID `0x0C` | same |
//! | FixedSizeBinary(32) + long256 | LONG256 `0x0D` | FixedSizeBinary(32) |
//! | Timestamp(s/ms/µs) | TIMESTAMP `0x0A` (µs) | Timestamp(µs, "UTC") |
//! | Timestamp(ns) | TIMESTAMP_NANOS `0x10` | Timestamp(ns, "UTC") |
//! | Date32 / Date64 | DATE `0x0B` | Date64 |
//! | Duration(unit) | LONG `0x05` (the count of units) | Int64 |
//! | Decimal64/128/256 | DECIMAL64 `0x13` / DECIMAL128 `0x14` / DECIMAL256 `0x15` | same |
//! | List of Float64 / Int64 (rectangular) | DOUBLE_ARRAY `0x11` / LONG_ARRAY `0x12` | List |
//! | UInt16 + char, UInt32 + ipv4, Int64 + geohash bits | CHAR `0x16` / IPv4 `0x18` / GEOHASH `0x0E` | same + metadata |
//!
//! QuestDB stores no NULL in BOOLEAN, BYTE, SHORT and CHAR columns: a null
//! sent there reads back as false / 0 (the embedded server does the same).
//!
//! ## Buffering vs streaming
//!
//! | call | buffers | streams |
//! |---|---|---|
//! | [`client::QuestDb::flush_arrow_batch`] | nothing beyond the caller's batch: frames are encoded from the Arrow buffers into a reused send buffer | frame by frame; returns when the whole batch is acknowledged |
//! | [`client::QuestDb::ingest`] | two frame buffers plus the input batches not yet acknowledged (at most `in_flight_frames + 1`) | batch by batch from any `RecordBatchReader`; frames pipelined |
//! | [`client::Cursor::next_arrow_batch`], the `Cursor` as `RecordBatchReader` | the decoded batches read ahead ([`client::Query::read_ahead`], 4 by default; none with [`client::Query::decode_on_demand`]) and the one being decoded, bounded by the byte credit; the received frame | batch by batch |
//! | [`client::Cursor::fetch_all_arrow`], [`client::Reader::sql`], [`client::Reader::rows`] | the whole result | — |
//!
//! The codec never buffers: encoders write into a caller-sized buffer after an
//! exact sizing step, decoders borrow from the received frame. The
//! transport keeps one reused send buffer per connection and hands out one
//! received message at a time.
//!
//! ## Ingest in one call
//!
//! ```no_run
//! use questdb_arrow::client::{IngestOptions, QuestDb};
//! # fn reader() -> impl arrow::array::RecordBatchReader { arrow::array::RecordBatchIterator::new(Vec::new(), std::sync::Arc::new(arrow::datatypes::Schema::empty())) }
//! let db = QuestDb::connect("ws::addr=localhost:9000;")?;
//! let sum = db.ingest("trades", reader(), &IngestOptions::new().timestamp_column("ts"))?;
//! println!("{} rows, {:.0} rows/s", sum.rows, sum.rows_per_sec());
//! # Ok::<(), questdb_arrow::Error>(())
//! ```
//!
//! Delivery across reconnects is at-least-once (see [`client::sender`]):
//! give tables deduplication keys when a duplicate batch matters.
//!
//! ## Errors
//!
//! ```
//! use questdb_arrow::{conf::Conf, ErrorKind};
//! let err = Conf::parse("ws::addr=localhost:9000;bogus=1;").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Config);
//! assert!(err.to_string().contains("bogus"));
//! ```
#![warn(missing_docs)]
#![deny(unsafe_code)]

// The crate's only `unsafe` code, each block justified there.
#[allow(unsafe_code)]
mod audited;
pub mod bridge;
pub mod client;
pub mod conf;
pub mod error;
#[cfg(feature = "parquet")]
pub mod parquet_io;
#[cfg(feature = "polars")]
pub mod polars_io;
pub mod protocol;
#[cfg(feature = "server")]
pub mod server;
pub mod transport;

/// The `arrow` crate this library is built against (arrow 59, the major
/// DataFusion 55 uses), so users never fight versions.
pub use ::arrow;
pub use error::{Error, ErrorKind, Result};
