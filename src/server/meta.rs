//! QuestDB's catalogue functions in the embedded server's SQL:
//! `tables()` (one row a table) and `table_columns('t')` (one row a column
//! of `t`), with QuestDB's column names and types, registered as DataFusion
//! table functions in every query session so they filter, project and join
//! like tables.
//!
//! `tables()` has QuestDB's basic columns (`id`, `table_name`,
//! `designatedTimestamp`, `partitionBy`, `walEnabled`, `dedup`, `ttlValue`,
//! `ttlUnit`, `matView`) and `table_row_count`; `table_columns()` has
//! `column`, `type`, `indexed`, `indexBlockCapacity`, `symbolCached`,
//! `symbolCapacity`, `designated`, `upsertKey`. Where a QuestDB feature
//! this server does not have would fill a column, it holds the value
//! QuestDB gives a table without that feature: no partitions
//! (`partitionBy` `NONE`), no TTL (`0`), no column indexes, no symbol
//! caches. `walEnabled` is whether the server logs writes ahead (it has a
//! data directory).

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use super::dedup;
use super::storage::Table;
use crate::bridge::qwp_type_of;
use crate::protocol::ColumnType;

/// What the catalogue functions know of one table (its rows left out).
#[derive(Debug)]
struct Entry {
    id: u64,
    name: String,
    schema: SchemaRef,
    designated: Option<usize>,
    rows: i64,
}

/// The tables of one session's snapshot.
#[derive(Debug)]
struct Tables {
    entries: Vec<Entry>,
    /// Writes go through the server's write-ahead log.
    wal: bool,
}

/// Registers `tables()` and `table_columns(name)` in `ctx`, answering from
/// `snapshot` (the session's tables); `wal` is whether the server logs
/// writes ahead (`walEnabled`).
pub(super) fn register(ctx: &SessionContext, snapshot: &[Table], wal: bool) {
    let mut entries: Vec<Entry> = snapshot
        .iter()
        .map(|t| Entry {
            id: t.id,
            name: t.name.clone(),
            schema: t.schema.clone(),
            designated: t.designated,
            rows: i64::try_from(t.rows()).unwrap_or(i64::MAX),
        })
        .collect();
    entries.sort_by_key(|e| e.id);
    let tables = Arc::new(Tables { entries, wal });
    ctx.register_udtf("tables", Arc::new(TablesFn(tables.clone())));
    ctx.register_udtf("table_columns", Arc::new(TableColumnsFn(tables)));
}

fn one_batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> Result<Arc<dyn TableProvider>> {
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

fn text(values: impl IntoIterator<Item = Option<String>>) -> ArrayRef {
    Arc::new(values.into_iter().collect::<StringArray>())
}

fn flags(values: impl IntoIterator<Item = bool>) -> ArrayRef {
    Arc::new(values.into_iter().map(Some).collect::<BooleanArray>())
}

fn ints(values: impl IntoIterator<Item = i32>) -> ArrayRef {
    Arc::new(values.into_iter().collect::<Int32Array>())
}

/// `tables()`.
#[derive(Debug)]
struct TablesFn(Arc<Tables>);

impl TableFunctionImpl for TablesFn {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !args.exprs().is_empty() {
            return plan_err!("tables() takes no arguments");
        }
        let t = &self.0;
        let e = &t.entries;
        let n = e.len();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("table_name", DataType::Utf8, false),
            Field::new("designatedTimestamp", DataType::Utf8, true),
            Field::new("partitionBy", DataType::Utf8, false),
            Field::new("walEnabled", DataType::Boolean, false),
            Field::new("dedup", DataType::Boolean, false),
            Field::new("ttlValue", DataType::Int32, false),
            Field::new("ttlUnit", DataType::Utf8, false),
            Field::new("matView", DataType::Boolean, false),
            Field::new("table_row_count", DataType::Int64, false),
        ]));
        one_batch(
            schema,
            vec![
                ints(e.iter().map(|e| i32::try_from(e.id).unwrap_or(i32::MAX))),
                text(e.iter().map(|e| Some(e.name.clone()))),
                text(
                    e.iter()
                        .map(|e| e.designated.map(|d| e.schema.field(d).name().clone())),
                ),
                text((0..n).map(|_| Some("NONE".into()))),
                flags((0..n).map(|_| t.wal)),
                flags(e.iter().map(|e| !dedup::keys_of(&e.schema).is_empty())),
                ints((0..n).map(|_| 0)),
                text((0..n).map(|_| Some("HOUR".into()))),
                flags((0..n).map(|_| false)),
                Arc::new(e.iter().map(|e| e.rows).collect::<Int64Array>()),
            ],
        )
    }
}

/// `table_columns('name')`.
#[derive(Debug)]
struct TableColumnsFn(Arc<Tables>);

impl TableFunctionImpl for TableColumnsFn {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = match args.exprs() {
            [Expr::Literal(ScalarValue::Utf8(Some(s)), _)]
            | [Expr::Literal(ScalarValue::Utf8View(Some(s)), _)]
            | [Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)] => s,
            _ => return plan_err!("table_columns() takes one argument: a table name in quotes"),
        };
        let Some(e) = self
            .0
            .entries
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
        else {
            return plan_err!("table does not exist [table={name}]");
        };
        let fields = e.schema.fields();
        let n = fields.len();
        let keys = dedup::keys_of(&e.schema);
        let schema = Arc::new(Schema::new(vec![
            Field::new("column", DataType::Utf8, false),
            Field::new("type", DataType::Utf8, false),
            Field::new("indexed", DataType::Boolean, false),
            Field::new("indexBlockCapacity", DataType::Int32, false),
            Field::new("symbolCached", DataType::Boolean, false),
            Field::new("symbolCapacity", DataType::Int32, false),
            Field::new("designated", DataType::Boolean, false),
            Field::new("upsertKey", DataType::Boolean, false),
        ]));
        one_batch(
            schema,
            vec![
                text(fields.iter().map(|f| Some(f.name().clone()))),
                text(fields.iter().map(|f| Some(type_name(f)))),
                flags((0..n).map(|_| false)),
                ints((0..n).map(|_| 0)),
                flags((0..n).map(|_| false)),
                ints((0..n).map(|_| 0)),
                flags((0..n).map(|i| e.designated == Some(i))),
                flags((0..n).map(|i| keys.contains(&i))),
            ],
        )
    }
}

/// The type of a stored column as QuestDB names it in DDL and in
/// `table_columns()`: `TIMESTAMP`, `SYMBOL`, `DOUBLE[]`, `GEOHASH(5c)`,
/// `DECIMAL(18,3)`, ...
pub(crate) fn type_name(f: &Field) -> String {
    let Ok(t) = qwp_type_of(f) else {
        return f.data_type().to_string();
    };
    let dims = "[]".repeat(usize::from(t.array_dims));
    match t.ty {
        ColumnType::DoubleArray => format!("DOUBLE{dims}"),
        ColumnType::LongArray => format!("LONG{dims}"),
        ColumnType::TimestampNanos => "TIMESTAMP_NS".into(),
        ColumnType::Geohash if t.geohash_bits % 5 == 0 => {
            format!("GEOHASH({}c)", t.geohash_bits / 5)
        }
        ColumnType::Geohash => format!("GEOHASH({}b)", t.geohash_bits),
        ColumnType::Decimal64 | ColumnType::Decimal128 | ColumnType::Decimal256 => {
            let precision = match f.data_type() {
                DataType::Decimal32(p, _)
                | DataType::Decimal64(p, _)
                | DataType::Decimal128(p, _)
                | DataType::Decimal256(p, _) => *p,
                _ => 0,
            };
            format!("DECIMAL({precision},{})", t.scale)
        }
        other => other.name().into(),
    }
}
