//! Bound Arrow data: what `bind` / `bind_stream` hold, and one row of it
//! as the typed QWP bind values of one execution (`$1`, `$2`, ... in column
//! order), following the crate's Arrow → QuestDB type mapping.

use arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchReader};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use arrow::error::ArrowError;
use questdb_arrow::bridge::column_data::SymbolDict;
use questdb_arrow::bridge::{QwpType, encode_array, qwp_type_of};
use questdb_arrow::protocol::{ColumnData, ColumnType};
use questdb_arrow::{Error, ErrorKind, Result};

/// What was bound to a statement.
pub(crate) enum Bound {
    /// One batch (`bind`): kept, so the statement can run again.
    Batch(RecordBatch),
    /// A stream (`bind_stream`): read once, by the next execution.
    Stream(Box<dyn RecordBatchReader + Send>),
}

impl Bound {
    /// The bound data as batches, for one execution. A batch stays bound;
    /// a stream is handed over (the statement has nothing bound after).
    pub(crate) fn take_batches(slot: &mut Option<Bound>) -> Option<Batches> {
        match slot.take()? {
            Bound::Batch(b) => {
                *slot = Some(Bound::Batch(b.clone()));
                Some(Box::new(std::iter::once(Ok(b))))
            }
            Bound::Stream(s) => Some(Box::new(s)),
        }
    }
}

/// Bound batches as an iterator, the form `ingest` reads.
pub(crate) type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// The bind values of row `row` of `batch`, one per column. SYMBOL
/// columns (string dictionaries) are bound as VARCHAR: a bind carries no
/// dictionary.
pub(crate) fn row_binds(batch: &RecordBatch, row: usize) -> Result<Vec<ColumnData>> {
    let schema = batch.schema();
    let mut symbols = SymbolDict::default();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .enumerate()
        .map(|(i, (field, col))| {
            bind_value(field, &col.slice(row, 1), &mut symbols)
                .map_err(|e| e.context(format!("bind parameter ${} (row {row})", i + 1)))
        })
        .collect()
}

fn bind_value(field: &Field, one: &ArrayRef, symbols: &mut SymbolDict) -> Result<ColumnData> {
    let t = qwp_type_of(field)?;
    if t.ty != ColumnType::Symbol {
        return encode_array(field, one, t, symbols);
    }
    let text = cast(one, &DataType::Utf8).map_err(|e| {
        Error::arrow(
            ErrorKind::Unsupported,
            format!("column {:?}: a SYMBOL bind as VARCHAR", field.name()),
            e,
        )
    })?;
    let as_text = Field::new(field.name(), DataType::Utf8, true);
    encode_array(
        &as_text,
        &text,
        QwpType::plain(ColumnType::Varchar),
        symbols,
    )
}

/// Parameter rows: each item is one execution's bind values.
pub(crate) type ParamRows = Box<dyn Iterator<Item = Result<Vec<ColumnData>>> + Send>;

/// The rows of bound batches, each as one execution's bind values; no
/// bound data is one execution without binds.
pub(crate) fn param_rows(bound: Option<Batches>) -> ParamRows {
    let Some(batches) = bound else {
        return Box::new(std::iter::once(Ok(Vec::new())));
    };
    Box::new(batches.flat_map(|b| -> Box<dyn Iterator<Item = _> + Send> {
        match b {
            Ok(b) => Box::new((0..b.num_rows()).map(move |r| row_binds(&b, r))),
            Err(e) => Box::new(std::iter::once(Err(Error::arrow(
                ErrorKind::InvalidData,
                "reading the bound parameters",
                e,
            )))),
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{DictionaryArray, Int64Array, StringArray};
    use arrow::datatypes::{Int32Type, Schema};
    use questdb_arrow::protocol::Values;

    use super::*;

    fn batch() -> RecordBatch {
        let sym: DictionaryArray<Int32Type> = vec!["a", "b"].into_iter().collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("n", DataType::Int64, true),
                Field::new("s", DataType::Utf8, true),
                Field::new("k", sym.data_type().clone(), true),
            ])),
            vec![
                Arc::new(Int64Array::from(vec![Some(7), None])),
                Arc::new(StringArray::from(vec!["x", "y"])),
                Arc::new(sym),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_row_becomes_typed_binds() {
        let b = row_binds(&batch(), 1).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].nulls, Some(vec![true]), "{:?}", b[0]);
        assert!(matches!(&b[1].values, Values::Varchar(v) if v == &["y".to_string()]));
        assert!(matches!(&b[2].values, Values::Varchar(v) if v == &["b".to_string()]));
    }

    #[test]
    fn every_row_is_an_execution_and_a_batch_stays_bound() {
        let mut slot = Some(Bound::Batch(batch()));
        let rows: Vec<_> = param_rows(Bound::take_batches(&mut slot)).collect();
        assert_eq!(rows.len(), 2);
        assert!(matches!(slot, Some(Bound::Batch(_))));
        let none: Vec<_> = param_rows(None).collect();
        assert_eq!(none.len(), 1);
        assert!(none[0].as_ref().unwrap().is_empty());
    }
}
