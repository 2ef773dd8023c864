//! `AdbcConnectionGetObjects`, answered from QuestDB's catalogue
//! functions over the client: `tables()` for the table names and
//! `table_columns('t')` for each listed table's columns.
//!
//! QuestDB has one database and one schema: they are listed as catalog
//! [`CATALOG`] and database schema [`DB_SCHEMA`] (the names QuestDB's
//! `current_database()` and `current_schema()` give). Every table is of
//! type [`TABLE_TYPE`](crate::TABLE_TYPE). The filters are SQL `LIKE`
//! patterns (`%` any run of characters, `_` one character), compared case
//! sensitively; a catalog or schema that passes its filter is listed even
//! when no table of it passes the table filters.

use std::sync::Arc;

use adbc_core::error::Result;
use adbc_core::options::ObjectDepth;
use adbc_core::schemas::{
    COLUMN_SCHEMA, CONSTRAINT_SCHEMA, GET_OBJECTS_SCHEMA, OBJECTS_DB_SCHEMA_SCHEMA, TABLE_SCHEMA,
};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int16Array, Int32Array, ListArray, RecordBatch,
    RecordBatchReader, StringArray, StructArray, new_empty_array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, FieldRef, Fields};
use questdb_arrow::client::QuestDb;
use questdb_arrow::error::Status as Qwp;

use crate::error::{OrAdbc, from_arrow};
use crate::info::{TABLE_TYPE, one_batch};
use crate::xdbc::Xdbc;

/// The catalog QuestDB's tables are listed in.
pub const CATALOG: &str = "qdb";

/// The database schema QuestDB's tables are listed in.
pub const DB_SCHEMA: &str = "public";

/// The filters of one `get_objects` call.
pub(crate) struct Filters<'a> {
    pub(crate) depth: ObjectDepth,
    pub(crate) catalog: Option<&'a str>,
    pub(crate) db_schema: Option<&'a str>,
    pub(crate) table_name: Option<&'a str>,
    pub(crate) table_type: Option<Vec<&'a str>>,
    pub(crate) column_name: Option<&'a str>,
}

/// Whether `text` matches the SQL `LIKE` pattern `pattern` (no pattern:
/// everything matches).
pub(crate) fn like(pattern: Option<&str>, text: &str) -> bool {
    let Some(p) = pattern else { return true };
    let (p, t): (Vec<char>, Vec<char>) = (p.chars().collect(), text.chars().collect());
    // The classic two-pointer match with backtracking to the last `%`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('%') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '_' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

/// One column as `table_columns()` gives it.
struct Column {
    name: String,
    /// 1-based position in the table.
    ordinal: i32,
    type_name: String,
    designated: bool,
}

/// One listed table and, at column depth, its columns.
struct Table {
    name: String,
    columns: Vec<Column>,
}

/// A text column of a catalogue result, as strings.
fn strings(b: &RecordBatch, col: &str) -> Result<Vec<Option<String>>> {
    let a = b
        .column_by_name(col)
        .ok_or_else(|| crate::error::internal(format!("the catalogue result has no {col:?}")))?;
    let a = arrow::compute::cast(a, &DataType::Utf8).map_err(from_arrow)?;
    Ok(a.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect())
}

/// `text` as a SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The columns of `table`, `None` when it was dropped since `tables()`
/// listed it.
fn columns_of(db: &QuestDb, table: &str, pattern: Option<&str>) -> Result<Option<Vec<Column>>> {
    let sql = format!(
        "SELECT \"column\", type, designated FROM table_columns({})",
        literal(table)
    );
    let b = match db.borrow_reader().or_adbc()?.rows(&sql) {
        Ok(b) => b,
        Err(e)
            if e.status() == Some(Qwp::ParseError)
                && e.to_string().contains("table does not exist") =>
        {
            return Ok(None);
        }
        Err(e) => return Err(crate::error::from_qdb(e)),
    };
    let names = strings(&b, "column")?;
    let types = strings(&b, "type")?;
    let designated = b
        .column_by_name("designated")
        .and_then(|a| a.as_boolean_opt())
        .ok_or_else(|| crate::error::internal("table_columns() has no BOOLEAN \"designated\""))?;
    let mut out = Vec::new();
    for (i, (name, ty)) in names.into_iter().zip(types).enumerate() {
        let (Some(name), Some(type_name)) = (name, ty) else {
            continue;
        };
        if like(pattern, &name) {
            out.push(Column {
                name,
                ordinal: i32::try_from(i + 1).unwrap_or(i32::MAX),
                type_name,
                designated: designated.is_valid(i) && designated.value(i),
            });
        }
    }
    Ok(Some(out))
}

/// The tables that pass the filters (with their columns at column depth),
/// by name.
fn tables(db: &QuestDb, f: &Filters) -> Result<Vec<Table>> {
    if f.table_type
        .as_ref()
        .is_some_and(|types| !types.contains(&TABLE_TYPE))
    {
        return Ok(Vec::new());
    }
    let b = db
        .borrow_reader()
        .or_adbc()?
        .rows("SELECT table_name FROM tables()")
        .or_adbc()?;
    let mut names: Vec<String> = strings(&b, "table_name")?
        .into_iter()
        .flatten()
        .filter(|n| like(f.table_name, n))
        .collect();
    names.sort();
    let with_columns = matches!(f.depth, ObjectDepth::All | ObjectDepth::Columns);
    let mut out = Vec::new();
    for name in names {
        let columns = if with_columns {
            match columns_of(db, &name, f.column_name)? {
                Some(c) => c,
                None => continue,
            }
        } else {
            Vec::new()
        };
        out.push(Table { name, columns });
    }
    Ok(out)
}

/// The struct fields of an ADBC schema's struct type.
fn fields_of(t: &DataType) -> Fields {
    match t {
        DataType::Struct(f) => f.clone(),
        _ => Fields::empty(),
    }
}

/// The item field of the list column `name` of `parent`.
fn item_of(parent: &Fields, name: &str) -> Result<FieldRef> {
    match parent.find(name).map(|(_, f)| f.data_type()) {
        Some(DataType::List(item)) => Ok(item.clone()),
        _ => Err(crate::error::internal(format!(
            "adbc_core's schema has no list {name:?}"
        ))),
    }
}

/// A list array of `values`, one list per entry of `lengths` (`None`: a
/// null list).
fn list(item: FieldRef, values: ArrayRef, lengths: &[Option<usize>]) -> Result<ArrayRef> {
    let offsets = OffsetBuffer::from_lengths(lengths.iter().map(|l| l.unwrap_or(0)));
    let nulls = NullBuffer::from(lengths.iter().map(Option::is_some).collect::<Vec<_>>());
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    Ok(Arc::new(
        ListArray::try_new(item, offsets, values, nulls).map_err(from_arrow)?,
    ))
}

fn structs(t: &DataType, columns: Vec<ArrayRef>) -> Result<ArrayRef> {
    Ok(Arc::new(
        StructArray::try_new(fields_of(t), columns, None).map_err(from_arrow)?,
    ))
}

/// The `COLUMN_SCHEMA` structs of every table's columns, in order.
fn column_structs(tables: &[Table]) -> Result<ArrayRef> {
    let cols: Vec<&Column> = tables.iter().flat_map(|t| &t.columns).collect();
    let x: Vec<Xdbc> = cols
        .iter()
        .map(|c| Xdbc::of(&c.type_name, c.designated))
        .collect();
    let text = |v: Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
    let i16s = |v: Vec<Option<i16>>| -> ArrayRef { Arc::new(Int16Array::from(v)) };
    let i32s = |v: Vec<Option<i32>>| -> ArrayRef { Arc::new(Int32Array::from(v)) };
    let n = cols.len();
    let none = || text(vec![None; n]);
    structs(
        &COLUMN_SCHEMA,
        vec![
            text(cols.iter().map(|c| Some(c.name.clone())).collect()),
            i32s(cols.iter().map(|c| Some(c.ordinal)).collect()),
            none(),
            i16s(x.iter().map(|x| x.data_type).collect()),
            text(cols.iter().map(|c| Some(c.type_name.clone())).collect()),
            i32s(x.iter().map(|x| x.column_size).collect()),
            i16s(x.iter().map(|x| x.decimal_digits).collect()),
            i16s(x.iter().map(|x| x.radix).collect()),
            i16s(x.iter().map(|x| Some(i16::from(x.nullable))).collect()),
            none(),
            i16s(x.iter().map(|x| x.sql_data_type).collect()),
            i16s(x.iter().map(|x| x.datetime_sub).collect()),
            i32s(vec![None; n]),
            text(
                x.iter()
                    .map(|x| Some(if x.nullable { "YES" } else { "NO" }.into()))
                    .collect(),
            ),
            none(),
            none(),
            none(),
            Arc::new(BooleanArray::from(vec![Some(false); n])),
            Arc::new(BooleanArray::from(vec![Some(false); n])),
        ],
    )
}

/// The `TABLE_SCHEMA` structs of `tables` (columns and constraints null
/// unless `with_columns`).
fn table_structs(tables: &[Table], with_columns: bool) -> Result<ArrayRef> {
    let fields = fields_of(&TABLE_SCHEMA);
    let n = tables.len();
    let (col_lens, con_lens): (Vec<Option<usize>>, Vec<Option<usize>>) = if with_columns {
        (
            tables.iter().map(|t| Some(t.columns.len())).collect(),
            vec![Some(0); n],
        )
    } else {
        (vec![None; n], vec![None; n])
    };
    let columns = list(
        item_of(&fields, "table_columns")?,
        column_structs(tables)?,
        &col_lens,
    )?;
    let constraints = list(
        item_of(&fields, "table_constraints")?,
        new_empty_array(&CONSTRAINT_SCHEMA),
        &con_lens,
    )?;
    structs(
        &TABLE_SCHEMA,
        vec![
            Arc::new(StringArray::from_iter_values(
                tables.iter().map(|t| t.name.as_str()),
            )),
            Arc::new(StringArray::from(vec![TABLE_TYPE; n])),
            columns,
            constraints,
        ],
    )
}

/// `get_objects`; see the module docs.
pub(crate) fn get_objects(
    db: &QuestDb,
    f: &Filters,
) -> Result<Box<dyn RecordBatchReader + Send + 'static>> {
    let has_catalog = like(f.catalog, CATALOG);
    let depth_schemas = !matches!(f.depth, ObjectDepth::Catalogs);
    let has_schema = has_catalog && depth_schemas && like(f.db_schema, DB_SCHEMA);
    let depth_tables = depth_schemas && !matches!(f.depth, ObjectDepth::Schemas);
    let tables = if has_schema && depth_tables {
        tables(db, f)?
    } else {
        Vec::new()
    };
    let with_columns = matches!(f.depth, ObjectDepth::All | ObjectDepth::Columns);
    let schema_fields = fields_of(&OBJECTS_DB_SCHEMA_SCHEMA);
    let n_schemas = usize::from(has_schema);
    let schemas = structs(
        &OBJECTS_DB_SCHEMA_SCHEMA,
        vec![
            Arc::new(StringArray::from(vec![DB_SCHEMA; n_schemas])),
            list(
                item_of(&schema_fields, "db_schema_tables")?,
                table_structs(&tables, with_columns)?,
                &vec![depth_tables.then_some(tables.len()); n_schemas],
            )?,
        ],
    )?;
    let catalog_lens = vec![depth_schemas.then_some(n_schemas); usize::from(has_catalog)];
    let top_fields = GET_OBJECTS_SCHEMA.fields();
    let catalogs = RecordBatch::try_new(
        GET_OBJECTS_SCHEMA.clone(),
        vec![
            Arc::new(StringArray::from(vec![CATALOG; usize::from(has_catalog)])),
            list(
                item_of(top_fields, "catalog_db_schemas")?,
                schemas,
                &catalog_lens,
            )?,
        ],
    )
    .map_err(from_arrow)?;
    Ok(one_batch(catalogs))
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn like_patterns() {
        assert!(like(None, "anything"));
        assert!(like(Some("trades"), "trades"));
        assert!(!like(Some("trades"), "trades2"));
        assert!(like(Some("tr%"), "trades"));
        assert!(like(Some("%"), ""));
        assert!(like(Some("%des"), "trades"));
        assert!(like(Some("t_ades"), "trades"));
        assert!(!like(Some("t_des"), "trades"));
        assert!(like(Some("%a%e%"), "trades"));
        assert!(!like(Some("%x%"), "trades"));
        assert!(!like(Some("T%"), "trades"), "case sensitive");
        assert!(like(Some("%_"), "é"));
        assert!(!like(Some("_"), ""));
    }
}
