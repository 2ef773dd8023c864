//! A table's buffered rows as Arrow batches for a flush.

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::Schema;

use super::TableCols;
use crate::client::sender::TableBatch;
use crate::error::{Error, ErrorKind, Result};

/// One table's batches: all rows, or runs split where the designated
/// timestamp switches between given and server-assigned.
pub(super) fn lend_table(t: &mut TableCols, out: &mut Vec<TableBatch>) -> Result<()> {
    let mut fields = Vec::new();
    let mut arrays = Vec::new();
    for c in t.cols.iter_mut().filter(|c| c.used) {
        fields.push(c.field());
        arrays.push(c.lend()?);
    }
    let ts = match &mut t.ts {
        Some(c) => {
            fields.push(c.field());
            Some(c.lend()?)
        }
        None => None,
    };
    let n = fields.len();
    if let Some(a) = &ts {
        arrays.push(a.clone());
    }
    let schema = std::sync::Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema, arrays)
        .map_err(|e| Error::arrow(ErrorKind::Internal, "building the batch", e))?;
    let name = t.name.clone();
    let Some(ts) = ts else {
        out.push((name, batch, None));
        return Ok(());
    };
    let without_ts = || {
        batch
            .project(&(0..n - 1).collect::<Vec<_>>())
            .map_err(|e| Error::arrow(ErrorKind::Internal, "building the batch", e))
    };
    let Some(nulls) = ts.logical_nulls().filter(|n| n.null_count() > 0) else {
        out.push((name, batch, Some(String::new())));
        return Ok(());
    };
    if nulls.null_count() == ts.len() {
        out.push((name, without_ts()?, None));
        return Ok(());
    }
    // Runs of rows with and without a timestamp, in order.
    let plain = without_ts()?;
    let mut start = 0;
    while start < ts.len() {
        let given = nulls.is_valid(start);
        let mut end = start + 1;
        while end < ts.len() && nulls.is_valid(end) == given {
            end += 1;
        }
        if given {
            out.push((
                name.clone(),
                batch.slice(start, end - start),
                Some(String::new()),
            ));
        } else {
            out.push((name.clone(), plain.slice(start, end - start), None));
        }
        start = end;
    }
    Ok(())
}
