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

    /// Writes the block sized by [`Self::encoded_len`].
    pub fn write(&self, table: &str, with_schema: bool, out: &mut Out<'_>) {
        if with_schema {
            put_table_header(table, self.rows, self.columns.len(), out);
            for (n, t) in self.names.iter().zip(&self.types) {
                put_column_def(n, t.ty, out);
            }
        } else {
            out.str_varint(table.as_bytes());
            out.varint(self.rows as u64);
        }
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
}
