//! polars DataFrames in and out of QuestDB (feature `polars`, polars 0.55).
//!
//! - [`QuestDb::flush_polars_dataframe`] sends a `DataFrame` to a table:
//!   the frame is cut into slices of at most [`PolarsIngestOptions::max_rows`]
//!   rows, each slice becomes an Arrow `RecordBatch` **without copying column
//!   buffers**, and the batches go through the streaming ingest path
//!   ([`QuestDb::ingest`]): frames pipelined, each slice committed
//!   atomically, replayed after a dropped connection (at-least-once).
//!   Every slice is converted (and so type-checked) before the first byte is
//!   sent, so an unsupported column fails the call with nothing written.
//! - On a query [`Cursor`]: [`Cursor::next_polars`] (one batch as a
//!   DataFrame, streaming), [`Cursor::iter_polars`] (one DataFrame per batch,
//!   an error if a batch's schema differs from the first one's) and
//!   [`Cursor::fetch_all_polars`] (the whole result in one DataFrame).
//!
//! Arrays cross between arrow-rs and polars-arrow through the Arrow C Data
//! Interface, in the crate's audited `unsafe` module (`audited::polars_ffi`,
//! see `audited`): buffers are shared, never copied.
//!
//! ## Type mapping
//!
//! | polars dtype (ingest) | QuestDB column | polars dtype (query result) |
//! |---|---|---|
//! | Boolean | BOOLEAN | Boolean |
//! | Int8 / Int16 / Int32 / Int64 | BYTE / SHORT / INT / LONG | same |
//! | UInt8 / UInt16 / UInt32 / UInt64 | SHORT / INT / LONG / LONG (range-checked) | Int16 / Int32 / Int64 |
//! | Float32 / Float64 | FLOAT / DOUBLE | same |
//! | String | VARCHAR (SYMBOL with [`ColumnOverride::Symbol`]) | String |
//! | Categorical / Enum | SYMBOL | Categorical |
//! | Binary | BINARY | Binary |
//! | Datetime(ns, tz) | TIMESTAMP_NANOS (the instant; QuestDB keeps UTC) | Datetime(ns, "UTC") |
//! | Datetime(µs or ms, tz) | TIMESTAMP (µs) | Datetime(µs, "UTC") |
//! | Date | DATE (milliseconds) | Datetime(ms) |
//! | Duration(unit) | LONG (the count of `unit`s) | Int64 |
//! | Decimal(p, s) | DECIMAL128 (scale kept) | Decimal(38, s) |
//! | — (query results only) | DECIMAL64 / DECIMAL256 | Decimal(38, s) (a DECIMAL256 value beyond 38 digits is an error) |
//! | List(Float64) / List(Int64) (rectangular) | DOUBLE_ARRAY / LONG_ARRAY | List(Float64) / List(Int64) |
//! | — (query results only) | UUID / LONG256 | String (`8-4-4-4-12` hex / `0x…` hex) |
//! | Time, Struct, Object, Null-typed lists | — an `Unsupported` error naming the column | — |
//!
//! Nulls are preserved in both directions, except where QuestDB has no NULL:
//! BOOLEAN, BYTE and SHORT (so Boolean, Int8, Int16 and UInt8) store a null
//! as false / 0.
//!
//! ```no_run
//! use polars::prelude::*;
//! use questdb_arrow::client::QuestDb;
//! use questdb_arrow::polars_io::PolarsIngestOptions;
//! let db = QuestDb::connect("ws::addr=localhost:9000;")?;
//! let df = df!("sym" => ["a", "b"], "px" => [1.5, 2.5]).unwrap();
//! db.flush_polars_dataframe("prices", &df, &PolarsIngestOptions::new())?;
//! let back = db.query_arrow("SELECT * FROM prices")?.fetch_all_polars()?;
//! println!("{back}");
//! # Ok::<(), questdb_arrow::Error>(())
//! ```

use crate::audited::polars_ffi as ffi;

/// The `polars` crate (0.55) this module is built against.
pub use ::polars;

use std::sync::Arc;

use ::polars::prelude::{Column, CompatLevel, DataFrame, PolarsError};
use arrow::array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, FixedSizeBinaryArray, RecordBatch, StringArray,
};
use arrow::datatypes::Int32Type;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::bridge::ColumnOverride;
use crate::client::{AckLevel, Cursor, IngestOptions, IngestSummary, QuestDb};
use crate::{Error, ErrorKind, Result};

/// Rows per ingested slice when [`PolarsIngestOptions::max_rows`] is not set.
pub const DEFAULT_MAX_ROWS: usize = 65_536;

/// Options of [`QuestDb::flush_polars_dataframe`]: the slice size plus
/// the [`IngestOptions`] each slice is sent with.
#[derive(Debug, Clone, Default)]
pub struct PolarsIngestOptions {
    max_rows: Option<usize>,
    ingest: IngestOptions,
}

impl PolarsIngestOptions {
    /// Defaults: slices of [`DEFAULT_MAX_ROWS`], server-assigned timestamps,
    /// no overrides, wait for OK.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `rows` rows per slice; each slice commits atomically. `0`
    /// means the default.
    pub fn max_rows(mut self, rows: usize) -> Self {
        self.max_rows = (rows > 0).then_some(rows);
        self
    }

    /// The column holding the designated timestamp (a Datetime or Date
    /// column); without it the server stamps each row on arrival.
    pub fn timestamp_column(mut self, column: impl Into<String>) -> Self {
        self.ingest = self.ingest.timestamp_column(column);
        self
    }

    /// A per-column QuestDB type choice (for example a String column sent as
    /// SYMBOL).
    pub fn column_override(mut self, column: impl Into<String>, o: ColumnOverride) -> Self {
        self.ingest = self.ingest.column_override(column, o);
        self
    }

    /// Several overrides at once.
    pub fn overrides(self, overrides: &[(&str, ColumnOverride)]) -> Self {
        overrides
            .iter()
            .fold(self, |acc, (c, o)| acc.column_override(*c, *o))
    }

    /// The acknowledgement each slice waits for.
    pub fn ack_level(mut self, level: AckLevel) -> Self {
        self.ingest = self.ingest.ack(level);
        self
    }
}

fn polars_err(what: &str, e: PolarsError) -> Error {
    Error::wrap(ErrorKind::Unsupported, what, e)
}

/// Converts a DataFrame into Arrow batches of at most `max_rows` rows,
/// sharing the column buffers (no copy unless a column is split across
/// polars chunks inside one slice, which is concatenated).
pub fn dataframe_to_batches(df: &DataFrame, max_rows: usize) -> Result<Vec<RecordBatch>> {
    if df.width() == 0 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "the DataFrame has no columns; there is nothing to send",
        ));
    }
    let max_rows = max_rows.max(1);
    let height = df.height();
    let mut out = Vec::with_capacity(height.div_ceil(max_rows));
    let mut offset = 0;
    while offset < height {
        let len = max_rows.min(height - offset);
        out.push(slice_to_batch(df, offset, len)?);
        offset += len;
    }
    Ok(out)
}

fn slice_to_batch(df: &DataFrame, offset: usize, len: usize) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(df.width());
    let mut arrays = Vec::with_capacity(df.width());
    for col in df.columns() {
        let s = col.as_materialized_series().slice(offset as i64, len);
        let s = if s.n_chunks() == 1 { s } else { s.rechunk() };
        let pa_field = s
            .dtype()
            .to_arrow_field(s.name().clone(), CompatLevel::newest());
        let (field, array) = ffi::polars_to_arrow(s.to_arrow(0, CompatLevel::newest()), &pa_field)?;
        fields.push(field);
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| {
        Error::arrow(
            ErrorKind::Unsupported,
            "building an Arrow batch from the DataFrame",
            e,
        )
    })
}

/// Converts one Arrow batch (a query result, say) into a DataFrame, sharing
/// the column buffers. UUID and LONG256 columns become Strings.
pub fn batch_to_dataframe(batch: &RecordBatch) -> Result<DataFrame> {
    let mut cols = Vec::with_capacity(batch.num_columns());
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let (field, array) = polars_ready(field, array)?;
        let (pa_field, pa_array) = ffi::arrow_to_polars(&array, &field)?;
        let s = ::polars::prelude::Series::try_from((&pa_field, pa_array))
            .map_err(|e| polars_err(&format!("column {:?} into polars", field.name()), e))?;
        cols.push(Column::from(s));
    }
    DataFrame::new(batch.num_rows(), cols).map_err(|e| polars_err("building the DataFrame", e))
}

/// Rewrites the columns polars has no type for, and drops field metadata
/// (Arrow extension names would otherwise ask polars for extension types).
fn polars_ready(field: &Field, array: &ArrayRef) -> Result<(Field, ArrayRef)> {
    let plain = Field::new(field.name(), field.data_type().clone(), field.is_nullable());
    match field.data_type() {
        DataType::FixedSizeBinary(n @ (16 | 32)) => {
            let a = array
                .as_any()
                .downcast_ref::<FixedSizeBinaryArray>()
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Unsupported,
                        format!("{}: not a FixedSizeBinary array", field.name()),
                    )
                })?;
            let text: StringArray = (0..a.len())
                .map(|i| {
                    a.is_valid(i).then(|| {
                        if *n == 16 {
                            uuid_text(a.value(i))
                        } else {
                            long256_text(a.value(i))
                        }
                    })
                })
                .collect();
            Ok((
                Field::new(field.name(), DataType::Utf8, field.is_nullable()),
                Arc::new(text),
            ))
        }
        DataType::Decimal32(_, scale)
        | DataType::Decimal64(_, scale)
        | DataType::Decimal256(_, scale) => {
            let to = DataType::Decimal128(38, *scale);
            let a = arrow::compute::cast(array, &to).map_err(|e| {
                let what = format!(
                    "column {:?}: values do not fit polars' 128-bit decimals",
                    field.name()
                );
                Error::arrow(ErrorKind::Unsupported, what, e)
            })?;
            Ok((Field::new(field.name(), to, field.is_nullable()), a))
        }
        DataType::Dictionary(k, _) if **k == DataType::Int32 && importable(field.data_type()) => {
            Ok((plain, used_values_only(array)?))
        }
        dt if importable(dt) => Ok((plain, array.clone())),
        dt => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "column {:?}: polars has no type for Arrow {dt}",
                field.name()
            ),
        )),
    }
}

/// A SYMBOL column keeps only the dictionary values its rows use: query
/// batches share the connection's whole dictionary, which polars would
/// otherwise turn into categories batch after batch.
fn used_values_only(array: &ArrayRef) -> Result<ArrayRef> {
    let Some(d) = array.as_any().downcast_ref::<DictionaryArray<Int32Type>>() else {
        return Ok(array.clone());
    };
    if d.values().len() <= d.len() {
        return Ok(array.clone());
    }
    let used = d.occupancy();
    let mut remap = vec![0i32; d.values().len()];
    for (new, old) in used.set_indices().enumerate() {
        // `new` < values().len(), which the Int32 keys already index.
        remap[old] = new as i32;
    }
    // NULL rows may hold any key; 0 keeps them in range.
    let keys = d
        .keys()
        .unary::<_, Int32Type>(|k| remap.get(k as usize).copied().unwrap_or(0));
    let values = arrow::compute::filter(d.values(), &BooleanArray::new(used, None))
        .map_err(|e| Error::arrow(ErrorKind::Internal, "compacting a dictionary", e))?;
    let out = DictionaryArray::<Int32Type>::try_new(keys, values)
        .map_err(|e| Error::arrow(ErrorKind::Internal, "compacting a dictionary", e))?;
    Ok(Arc::new(out))
}

/// The Arrow types polars-arrow imports (it panics on others, so they are
/// refused before the hand-over).
fn importable(dt: &DataType) -> bool {
    use DataType as D;
    match dt {
        D::Null
        | D::Boolean
        | D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::Float32
        | D::Float64
        | D::Utf8
        | D::LargeUtf8
        | D::Utf8View
        | D::Binary
        | D::LargeBinary
        | D::BinaryView
        | D::FixedSizeBinary(_)
        | D::Date32
        | D::Date64
        | D::Timestamp(_, _)
        | D::Duration(_)
        | D::Decimal128(_, _) => true,
        D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _) => importable(f.data_type()),
        D::Dictionary(k, v) => {
            k.is_integer() && matches!(v.as_ref(), D::Utf8 | D::LargeUtf8 | D::Utf8View)
        }
        _ => false,
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(s: &mut String, byte: u8) {
    s.push(char::from(HEX[usize::from(byte >> 4)]));
    s.push(char::from(HEX[usize::from(byte & 0x0f)]));
}

fn uuid_text(b: &[u8]) -> String {
    let mut s = String::with_capacity(36);
    for (i, &byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        push_hex(&mut s, byte);
    }
    s
}

/// LONG256 arrives as 32 little-endian bytes; QuestDB prints it `0x` + hex,
/// most significant first.
fn long256_text(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("0x");
    for &byte in b.iter().rev() {
        push_hex(&mut s, byte);
    }
    s
}

/// One DataFrame per Arrow batch, with a check that every batch has the
/// schema of the first (column names and types). Made by
/// [`Cursor::iter_polars`]; [`DataFrames::new`] wraps any batch iterator.
pub struct DataFrames<I> {
    batches: I,
    first: Option<SchemaRef>,
    index: usize,
    failed: bool,
}

impl<I: Iterator<Item = Result<RecordBatch>>> DataFrames<I> {
    /// Wraps an iterator of batches.
    pub fn new(batches: I) -> Self {
        DataFrames {
            batches,
            first: None,
            index: 0,
            failed: false,
        }
    }

    fn check(&mut self, b: &RecordBatch) -> Result<()> {
        let schema = b.schema();
        let Some(first) = &self.first else {
            self.first = Some(schema);
            return Ok(());
        };
        let same = first.fields().len() == schema.fields().len()
            && first
                .fields()
                .iter()
                .zip(schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if same {
            return Ok(());
        }
        let show = |s: &Schema| {
            s.fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "schema drift: batch {} has columns [{}], the first batch had [{}]",
                self.index,
                show(&schema),
                show(first)
            ),
        ))
    }
}

impl<I: Iterator<Item = Result<RecordBatch>>> Iterator for DataFrames<I> {
    type Item = Result<DataFrame>;

    fn next(&mut self) -> Option<Result<DataFrame>> {
        if self.failed {
            return None;
        }
        let r = match self.batches.next()? {
            Ok(b) => self.check(&b).and_then(|()| batch_to_dataframe(&b)),
            Err(e) => Err(e),
        };
        self.index += 1;
        self.failed = r.is_err();
        Some(r)
    }
}

/// The batches of a cursor as an iterator of this crate's `Result`.
pub struct CursorBatches<'c, 'a>(&'c mut Cursor<'a>);

impl Iterator for CursorBatches<'_, '_> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        self.0.next_arrow_batch().transpose()
    }
}

impl<'a> Cursor<'a> {
    /// The next batch as a DataFrame, `None` at the end. Streams.
    pub fn next_polars(&mut self) -> Result<Option<DataFrame>> {
        self.next_arrow_batch()?
            .map(|b| batch_to_dataframe(&b))
            .transpose()
    }

    /// One DataFrame per batch; an item is an error (and the last one) when
    /// a batch's schema differs from the first batch's.
    pub fn iter_polars(&mut self) -> DataFrames<CursorBatches<'_, 'a>> {
        DataFrames::new(CursorBatches(self))
    }

    /// The rest of the result as one DataFrame (buffers it all). An empty
    /// result gives an empty DataFrame with the result's columns. After a
    /// failover replay ([`Query::on_failover_reset`](crate::client::Query::on_failover_reset))
    /// what was collected is discarded: the DataFrame holds the whole
    /// result from its start, as a single server would give it.
    pub fn fetch_all_polars(&mut self) -> Result<DataFrame> {
        let schema = self.schema();
        let mut all: Option<DataFrame> = None;
        let mut frames = self.iter_polars();
        loop {
            let resets = frames.batches.0.failover_resets();
            let Some(df) = frames.next() else {
                break;
            };
            let df = df?;
            if frames.batches.0.failover_resets() != resets {
                all = None;
            }
            match &mut all {
                None => all = Some(df),
                Some(acc) => {
                    acc.vstack_mut_owned(df)
                        .map_err(|e| polars_err("appending a batch to the DataFrame", e))?;
                }
            }
        }
        match all {
            Some(mut df) => {
                df.rechunk_mut_par();
                Ok(df)
            }
            None => batch_to_dataframe(&RecordBatch::new_empty(schema)),
        }
    }
}

impl QuestDb {
    /// Sends `df` to `table`: slices of at most `max_rows` rows, each
    /// committed atomically, through the pipelined streaming ingest path;
    /// returns when every slice is acknowledged. All slices are converted
    /// (and type-checked) before anything is sent. See the
    /// [module docs](crate::polars_io) for the type mapping.
    pub fn flush_polars_dataframe(
        &self,
        table: &str,
        df: &DataFrame,
        opts: &PolarsIngestOptions,
    ) -> Result<IngestSummary> {
        let batches = dataframe_to_batches(df, opts.max_rows.unwrap_or(DEFAULT_MAX_ROWS))
            .map_err(|e| e.context(format!("table {table:?}")))?;
        self.ingest_batches(table, batches, &opts.ingest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_and_long256_text() {
        let mut u = [0u8; 16];
        u[0] = 0x12;
        u[15] = 0xff;
        assert_eq!(uuid_text(&u), "12000000-0000-0000-0000-0000000000ff");
        let mut l = [0u8; 32];
        l[0] = 1;
        assert_eq!(long256_text(&l), format!("0x{}01", "0".repeat(62)));
    }
}
