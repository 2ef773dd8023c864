//! Table blocks and whole frames from Arrow batches, sized exactly first and
//! written in one pass — columns in parallel (rayon) when the block is big
//! enough to pay for it.

use arrow::array::RecordBatch;
use rayon::prelude::*;

use super::column_data::SymbolIds;
use super::column_encoder::{ColumnEncoder, Part};
use super::types::QwpType;
use crate::error::Result;
use crate::protocol::Out;
use crate::protocol::column::Layout;
use crate::protocol::ingress::{
    column_def_len, put_column_def, put_table_header, table_header_len,
};

/// Blocks at least this large (bytes) have their columns written in parallel.
pub const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// Large plain-copy columns are cut into parts of at least this many bytes.
const PART_MIN_BYTES: usize = 64 * 1024;

/// A batch planned as one QWP table block.
pub struct BlockEncoder<'a> {
    names: Vec<String>,
    types: Vec<QwpType>,
    columns: Vec<ColumnEncoder<'a>>,
    rows: usize,
}

impl<'a> BlockEncoder<'a> {
    /// Plans every column of `batch` with the given types (one per column)
    /// and wire names (empty = designated timestamp).
    pub fn new(
        batch: &'a RecordBatch,
        names: Vec<String>,
        types: Vec<QwpType>,
        layout: &Layout,
        symbols: &mut dyn SymbolIds,
    ) -> Result<BlockEncoder<'a>> {
        let schema = batch.schema();
        let mut columns = Vec::with_capacity(types.len());
        for ((field, array), t) in schema.fields().iter().zip(batch.columns()).zip(&types) {
            columns.push(
                ColumnEncoder::new(field, array, *t, layout, symbols)
                    .map_err(|e| e.context(format!("column {:?}", field.name())))?,
            );
        }
        Ok(BlockEncoder {
            names,
            types,
            columns,
            rows: batch.num_rows(),
        })
    }

    /// Rows in the block.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn columns_len(&self) -> usize {
        self.columns.iter().map(|c| c.encoded_len()).sum()
    }

    /// Exact size of the block: `table` name (empty for results), row and
    /// column counts, the schema when `with_schema`, and the columns.
    pub fn encoded_len(&self, table: &str, with_schema: bool) -> usize {
        let head = if with_schema {
            table_header_len(table, self.rows, self.columns.len())
                + self.names.iter().map(|n| column_def_len(n)).sum::<usize>()
        } else {
            table_header_len(table, self.rows, 0) - 1
        };
        head + self.columns_len()
    }

    /// Size of what [`Self::write_head`] writes: the block without its
    /// columns.
    pub fn head_len(&self, table: &str, with_schema: bool) -> usize {
        self.encoded_len(table, with_schema) - self.columns_len()
    }

    /// Writes the block's `table` name, row and column counts and (when
    /// `with_schema`) the schema: [`Self::head_len`] bytes. The columns
    /// ([`Self::pieces`]) follow.
    pub fn write_head(&self, table: &str, with_schema: bool, out: &mut Out<'_>) {
        if with_schema {
            put_table_header(table, self.rows, self.columns.len(), out);
            for (n, t) in self.names.iter().zip(&self.types) {
                put_column_def(n, t.ty, out);
            }
        } else {
            out.str_varint(table.as_bytes());
            out.varint(self.rows as u64);
        }
    }

    /// The columns' bodies as parts in order (see
    /// [`ColumnEncoder::pieces`]): what follows [`Self::write_head`].
    pub fn pieces(&self) -> impl Iterator<Item = Part<'_>> {
        self.columns.iter().flat_map(|c| c.pieces())
    }

    /// Writes the block sized by [`Self::encoded_len`].
    pub fn write(&self, table: &str, with_schema: bool, out: &mut Out<'_>) {
        self.write_head(table, with_schema, out);
        let total = self.columns_len();
        if total < PARALLEL_MIN_BYTES {
            for c in &self.columns {
                c.write(out);
            }
            return;
        }
        // Parts of a column: whole, or (a large plain copy) cut so that
        // every thread gets a share. The output is split into one region
        // per part (each keeps its masking phase); the regions are filled
        // in parallel.
        let share = (total / (2 * rayon::current_num_threads())).max(PART_MIN_BYTES);
        let parts: Vec<Part<'_>> = self.columns.iter().flat_map(|c| c.parts(share)).collect();
        let mut regions = out.regions(parts.iter().map(Part::len));
        regions
            .par_iter_mut()
            .zip(parts.par_iter())
            .for_each(|(region, p)| p.write(region));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::bridge::column_encoder::Part;
    use crate::bridge::types::qwp_type_of;
    use crate::protocol::Direction;
    use crate::protocol::Reader;
    use crate::protocol::column::decode_column;
    use crate::protocol::ingress::decode_schema;

    use crate::bridge::column_data::SymbolDict as Dict;

    #[test]
    fn parallel_and_serial_blocks_are_identical_and_decode() {
        let n = 40_000;
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Float64, true),
            Field::new("c", DataType::Utf8, true),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| (i % 7 != 0).then_some(i as i64)),
            )),
            Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64))),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("v{i}")),
            )),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let types: Vec<QwpType> = schema
            .fields()
            .iter()
            .map(|f| qwp_type_of(f).unwrap())
            .collect();
        let names = vec!["a".into(), "b".into(), "c".into()];
        let layout = Layout {
            direction: Direction::Ingress,
            ..Layout::INGRESS
        };
        let enc = BlockEncoder::new(&batch, names, types, &layout, &mut Dict::default()).unwrap();
        let len = enc.encoded_len("t", true);
        assert!(enc.columns_len() >= PARALLEL_MIN_BYTES);
        let key = [1, 2, 3, 4];
        let mut par = vec![0u8; len];
        {
            let mut out = Out::masked(&mut par, key, 3);
            enc.write("t", true, &mut out);
        }
        // The same bytes written serially, column by column.
        let mut ser = vec![0u8; len];
        {
            let mut out = Out::masked(&mut ser, key, 3);
            put_table_header("t", n, 3, &mut out);
            for (nm, t) in enc.names.iter().zip(&enc.types) {
                put_column_def(nm, t.ty, &mut out);
            }
            for c in &enc.columns {
                c.write(&mut out);
            }
            assert!(out.is_full());
        }
        assert_eq!(par, ser);
        // Unmask and decode.
        for (i, b) in par.iter_mut().enumerate() {
            *b ^= key[(i + 3) % 4];
        }
        let mut r = Reader::new(&par);
        assert_eq!(r.str_varint(127, "name").unwrap(), "t");
        assert_eq!(r.varint("rows").unwrap(), n as u64);
        assert_eq!(r.varint("cols").unwrap(), 3);
        let s = decode_schema(&mut r, 3).unwrap();
        for (_, ty) in &s {
            decode_column(&mut r, *ty, n, &layout).unwrap();
        }
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn head_and_pieces_give_the_bytes_of_write() {
        use arrow::array::{Decimal128Array, TimestampMicrosecondArray};
        use arrow::datatypes::TimeUnit;
        let n = 300;
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Float64, false),
            Field::new("c", DataType::Utf8, true),
            Field::new("d", DataType::Utf8, false),
            Field::new("e", DataType::Decimal128(10, 2), false),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..n).map(|i| 1_000_000 + i * 1000 + i % 3),
            )),
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| (i % 7 != 0).then_some(i)),
            )),
            Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64))),
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| (i % 5 != 0).then(|| format!("c{i}"))),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("d{i}")),
            )),
            Arc::new(
                Decimal128Array::from_iter_values((0..n).map(i128::from))
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ];
        let whole = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let types: Vec<QwpType> = schema
            .fields()
            .iter()
            .map(|f| qwp_type_of(f).unwrap())
            .collect();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        // Offsets from 0 and (sliced) above 0; raw timestamps with and
        // without the encoding flag.
        for (from, rows) in [(0, 300), (17, 200), (299, 1), (5, 0)] {
            let batch = whole.slice(from, rows);
            for layout in [Layout::EGRESS, Layout::BIND] {
                let layout = Layout {
                    ts_encoding: crate::protocol::TsEncoding::Raw,
                    ..layout
                };
                let mut dict = Dict::default();
                let enc =
                    BlockEncoder::new(&batch, names.clone(), types.clone(), &layout, &mut dict)
                        .unwrap();
                for with_schema in [true, false] {
                    let len = enc.encoded_len("", with_schema);
                    let mut want = vec![0u8; len];
                    enc.write("", with_schema, &mut Out::plain(&mut want));
                    let mut got = vec![0u8; enc.head_len("", with_schema)];
                    enc.write_head("", with_schema, &mut Out::plain(&mut got));
                    let mut copies = 0;
                    for p in enc.pieces() {
                        if matches!(p, Part::Copy(b) if b.len() > 1) {
                            copies += 1;
                        }
                        let mut b = vec![0u8; p.len()];
                        let mut out = Out::plain(&mut b);
                        p.write(&mut out);
                        assert!(out.is_full());
                        got.extend(b);
                    }
                    assert_eq!(got, want, "rows {from}+{rows}, {layout:?}");
                    if rows > 35 {
                        // a and c have NULLs, e a scale: ts, b and d's
                        // bytes (and d's offsets when they start at 0) are
                        // the Arrow buffers themselves.
                        let offsets_too = usize::from(from == 0);
                        assert_eq!(copies, 3 + offsets_too, "rows {from}+{rows}");
                    }
                }
            }
        }
    }
}
