//! `AdbcConnectionGetInfo` and `AdbcConnectionGetTableTypes` results.

use std::collections::HashSet;
use std::sync::Arc;

use adbc_core::error::Result;
use adbc_core::options::InfoCode;
use adbc_core::schemas::{GET_INFO_SCHEMA, GET_TABLE_TYPES_SCHEMA};
use arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, RecordBatchIterator, RecordBatchReader,
    StringArray, UInt32Array, UnionArray, new_empty_array,
};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::DataType;

use crate::error::{from_arrow, internal};

/// The one table type QuestDB has for `get_table_types`.
pub const TABLE_TYPE: &str = "TABLE";

/// A value of the info union.
enum Value {
    Text(&'static str),
    Bool(bool),
    Int(i64),
}

/// ADBC API revision the driver implements (1.1.0).
const ADBC_VERSION_1_1_0: i64 = 1_001_000;

/// Every info the driver answers, in code order.
fn all() -> [(InfoCode, Value); 7] {
    [
        (InfoCode::VendorName, Value::Text("QuestDB")),
        (InfoCode::VendorSql, Value::Bool(true)),
        (InfoCode::VendorSubstrait, Value::Bool(false)),
        (
            InfoCode::DriverName,
            Value::Text("ADBC driver for QuestDB (questdb-arrow)"),
        ),
        (
            InfoCode::DriverVersion,
            Value::Text(env!("CARGO_PKG_VERSION")),
        ),
        (InfoCode::DriverArrowVersion, Value::Text("59")),
        (InfoCode::DriverAdbcVersion, Value::Int(ADBC_VERSION_1_1_0)),
    ]
}

/// The infos in `codes` (all when `None`; codes the driver does not know
/// are left out, as ADBC asks), as one batch of [`GET_INFO_SCHEMA`].
pub(crate) fn get_info(
    codes: Option<HashSet<InfoCode>>,
) -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
    let rows: Vec<(InfoCode, Value)> = all()
        .into_iter()
        .filter(|(c, _)| codes.as_ref().is_none_or(|set| set.contains(c)))
        .collect();
    let DataType::Union(fields, _) = GET_INFO_SCHEMA.field(1).data_type() else {
        return Err(internal(
            "adbc_core's GET_INFO_SCHEMA has no union of info values",
        ));
    };
    let mut names = Vec::new();
    let (mut type_ids, mut offsets) = (Vec::new(), Vec::new());
    let (mut texts, mut bools, mut ints) = (Vec::new(), Vec::new(), Vec::new());
    for (code, value) in &rows {
        names.push(u32::from(code));
        let (id, offset) = match value {
            Value::Text(s) => (0, push(&mut texts, *s)),
            Value::Bool(b) => (1, push(&mut bools, *b)),
            Value::Int(i) => (2, push(&mut ints, *i)),
        };
        type_ids.push(id);
        offsets.push(offset);
    }
    let children: Vec<ArrayRef> = fields
        .iter()
        .map(|(id, f)| -> ArrayRef {
            match id {
                0 => Arc::new(StringArray::from(texts.clone())),
                1 => Arc::new(BooleanArray::from(bools.clone())),
                2 => Arc::new(Int64Array::from(ints.clone())),
                _ => new_empty_array(f.data_type()),
            }
        })
        .collect();
    let union = UnionArray::try_new(
        fields.clone(),
        ScalarBuffer::from(type_ids),
        Some(ScalarBuffer::from(offsets)),
        children,
    )
    .map_err(from_arrow)?;
    let batch = RecordBatch::try_new(
        GET_INFO_SCHEMA.clone(),
        vec![Arc::new(UInt32Array::from(names)), Arc::new(union)],
    )
    .map_err(from_arrow)?;
    Ok(one_batch(batch))
}

/// Appends `v` and returns its offset in the union child.
fn push<T>(child: &mut Vec<T>, v: T) -> i32 {
    child.push(v);
    i32::try_from(child.len() - 1).unwrap_or(i32::MAX)
}

/// `get_table_types`: QuestDB's tables are of one type, [`TABLE_TYPE`].
pub(crate) fn get_table_types() -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
    let batch = RecordBatch::try_new(
        GET_TABLE_TYPES_SCHEMA.clone(),
        vec![Arc::new(StringArray::from(vec![TABLE_TYPE]))],
    )
    .map_err(from_arrow)?;
    Ok(one_batch(batch))
}

/// `batch` as a reader.
pub(crate) fn one_batch(batch: RecordBatch) -> Box<dyn RecordBatchReader + Send + 'static> {
    let schema = batch.schema();
    Box::new(RecordBatchIterator::new(vec![Ok(batch)], schema))
}
