//! How a batch goes on the wire: wire names, QWP types and layout, checked
//! before anything is sent.

use super::*;

/// How one input batch goes on the wire.
pub(super) struct Plan {
    pub(super) names: Vec<String>,
    pub(super) types: Vec<QwpType>,
    pub(super) layout: Layout,
    pub(super) max_rows: usize,
    pub(super) max_bytes: usize,
}

/// Wire names, QWP types and layout of the batch; errors before anything
/// is sent. `loopback`: the server is on this host (see [`Gorilla::Auto`]).
pub(super) fn plan_schema(
    table: &str,
    batch: &RecordBatch,
    opts: &IngestOptions,
    loopback: bool,
) -> Result<Plan> {
    if table.is_empty() || table.len() > crate::protocol::MAX_NAME_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("table name {table:?} must be 1..=127 bytes"),
        ));
    }
    let ts_col = opts.ts_column.as_deref();
    let schema = batch.schema();
    if let Some(ts) = ts_col
        && schema.index_of(ts).is_err()
    {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("table {table}: designated timestamp column {ts:?} is not in the batch"),
        ));
    }
    let mut names = Vec::new();
    let mut types = Vec::new();
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let t = qwp_type_of(field).map_err(|e| e.context(format!("table {table}")))?;
        let designated = ts_col == Some(field.name().as_str());
        if designated {
            check_designated(table, field.name(), array, t)?;
        }
        names.push(if designated {
            String::new()
        } else {
            field.name().clone()
        });
        types.push(t);
    }
    let ts_encoding = match opts.gorilla {
        Gorilla::Auto if loopback => TsEncoding::Cadence,
        Gorilla::Auto => TsEncoding::Auto,
        Gorilla::On => TsEncoding::Gorilla,
        Gorilla::Off => TsEncoding::Raw,
    };
    Ok(Plan {
        names,
        types,
        layout: Layout {
            ts_encoding,
            ..Layout::INGRESS
        },
        max_rows: opts
            .max_rows_per_frame
            .unwrap_or(MAX_ROWS_PER_TABLE_BLOCK)
            .min(MAX_ROWS_PER_TABLE_BLOCK),
        max_bytes: opts.max_bytes_per_frame.unwrap_or(usize::MAX),
    })
}

fn check_designated(table: &str, name: &str, array: &dyn Array, t: QwpType) -> Result<()> {
    if !matches!(array.data_type(), DataType::Timestamp(_, _))
        || !matches!(t.ty, ColumnType::Timestamp | ColumnType::TimestampNanos)
    {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "table {table}: designated timestamp column {name:?} is {}, not a Timestamp; cast it or pick another column",
                array.data_type()
            ),
        ));
    }
    if array.null_count() > 0
        && let Some(row) = (0..array.len()).find(|&r| array.is_null(r))
    {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("table {table}: designated timestamp column {name:?} is NULL at row {row}"),
        ));
    }
    // Every Timestamp unit is i64 underneath: read the values in place.
    let data = array.to_data();
    let values: &[i64] = &data.buffer::<i64>(0)[..array.len()];
    if let Some(row) = values.iter().position(|&x| x < 0) {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("table {table}: designated timestamp column {name:?} is negative at row {row}"),
        ));
    }
    Ok(())
}
