//! `get_objects` at every depth and with every filter, and
//! `get_table_schema` with the catalog and schema it lists.

use adbc_core::Connection;
use adbc_core::options::ObjectDepth;
use arrow::array::{Array, AsArray, RecordBatch, StructArray};
use arrow::datatypes::{Int16Type, Int32Type};
use questdb_arrow_adbc::{CATALOG, DB_SCHEMA, QuestDbConnection, TABLE_TYPE};

use crate::support::{Env, start, update};

/// One column: name, ordinal, xdbc type name, xdbc data type, nullable.
type Col = (String, i32, String, Option<i16>, String);
/// One table: name, type, columns (`None`: not at this depth).
type Tbl = (String, String, Option<Vec<Col>>);
/// One schema: name, tables (`None`: not at this depth).
type Sch = (String, Option<Vec<Tbl>>);
/// One catalog: name, schemas (`None`: not at this depth).
type Cat = (String, Option<Vec<Sch>>);

fn field<'a>(s: &'a StructArray, name: &str) -> &'a dyn Array {
    s.column_by_name(name).unwrap().as_ref()
}

fn text(a: &dyn Array, i: usize) -> String {
    a.as_string::<i32>().value(i).to_string()
}

/// The rows `i` of list array `a` as structs, `None` for a null list.
fn items(a: &dyn Array, i: usize) -> Option<StructArray> {
    let l = a.as_list::<i32>();
    l.is_valid(i).then(|| l.value(i).as_struct().clone())
}

fn columns(s: &StructArray) -> Vec<Col> {
    (0..s.len())
        .map(|i| {
            let dt = field(s, "xdbc_data_type").as_primitive::<Int16Type>();
            (
                text(field(s, "column_name"), i),
                field(s, "ordinal_position")
                    .as_primitive::<Int32Type>()
                    .value(i),
                text(field(s, "xdbc_type_name"), i),
                dt.is_valid(i).then(|| dt.value(i)),
                text(field(s, "xdbc_is_nullable"), i),
            )
        })
        .collect()
}

fn tables(s: &StructArray) -> Vec<Tbl> {
    (0..s.len())
        .map(|i| {
            (
                text(field(s, "table_name"), i),
                text(field(s, "table_type"), i),
                items(field(s, "table_columns"), i).map(|c| columns(&c)),
            )
        })
        .collect()
}

fn decode(b: &RecordBatch) -> Vec<Cat> {
    let schemas = b.column(1);
    (0..b.num_rows())
        .map(|i| {
            let sch = items(schemas.as_ref(), i).map(|s| {
                (0..s.len())
                    .map(|j| {
                        (
                            text(field(&s, "db_schema_name"), j),
                            items(field(&s, "db_schema_tables"), j).map(|t| tables(&t)),
                        )
                    })
                    .collect()
            });
            (text(b.column(0).as_ref(), i), sch)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn objects(
    c: &QuestDbConnection,
    depth: ObjectDepth,
    catalog: Option<&str>,
    db_schema: Option<&str>,
    table: Option<&str>,
    types: Option<Vec<&str>>,
    column: Option<&str>,
) -> Vec<Cat> {
    let reader = c
        .get_objects(depth, catalog, db_schema, table, types, column)
        .unwrap();
    assert_eq!(
        reader.schema(),
        adbc_core::schemas::GET_OBJECTS_SCHEMA.clone()
    );
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    batches.iter().flat_map(decode).collect()
}

fn env() -> (Env, QuestDbConnection) {
    let env = start();
    let mut c = env.conn();
    update(
        &mut c,
        "CREATE TABLE trades (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG, amount DECIMAL(18,3)) \
         TIMESTAMP(ts) PARTITION BY DAY WAL",
    )
    .unwrap();
    update(&mut c, "CREATE TABLE quotes (bid DOUBLE, ok BOOLEAN)").unwrap();
    update(&mut c, "CREATE TABLE trades_eu (px DOUBLE)").unwrap();
    (env, c)
}

fn cat(schemas: Option<Vec<Sch>>) -> Vec<Cat> {
    vec![(CATALOG.into(), schemas)]
}

fn sch(tables: Option<Vec<Tbl>>) -> Option<Vec<Sch>> {
    Some(vec![(DB_SCHEMA.into(), tables)])
}

fn tbl(name: &str, cols: Option<Vec<Col>>) -> Tbl {
    (name.into(), TABLE_TYPE.into(), cols)
}

fn col(name: &str, ord: i32, ty: &str, code: Option<i16>, nullable: &str) -> Col {
    (name.into(), ord, ty.into(), code, nullable.into())
}

#[test]
fn every_depth() {
    let (_env, c) = env();
    let all = |d| objects(&c, d, None, None, None, None, None);
    assert_eq!(all(ObjectDepth::Catalogs), cat(None));
    assert_eq!(all(ObjectDepth::Schemas), cat(sch(None)));
    assert_eq!(
        all(ObjectDepth::Tables),
        cat(sch(Some(vec![
            tbl("quotes", None),
            tbl("trades", None),
            tbl("trades_eu", None),
        ])))
    );
    let full = cat(sch(Some(vec![
        tbl(
            "quotes",
            Some(vec![
                col("bid", 1, "DOUBLE", Some(8), "YES"),
                col("ok", 2, "BOOLEAN", Some(-7), "NO"),
            ]),
        ),
        tbl(
            "trades",
            Some(vec![
                col("ts", 1, "TIMESTAMP", Some(93), "NO"),
                col("sym", 2, "SYMBOL", Some(12), "YES"),
                col("px", 3, "DOUBLE", Some(8), "YES"),
                col("qty", 4, "LONG", Some(-5), "YES"),
                col("amount", 5, "DECIMAL(18,3)", Some(3), "YES"),
            ]),
        ),
        tbl(
            "trades_eu",
            Some(vec![col("px", 1, "DOUBLE", Some(8), "YES")]),
        ),
    ])));
    assert_eq!(all(ObjectDepth::Columns), full);
    assert_eq!(all(ObjectDepth::All), full);
}

#[test]
fn xdbc_fields_of_a_decimal_and_a_timestamp() {
    let (_env, c) = env();
    let reader = c
        .get_objects(ObjectDepth::All, None, None, Some("trades"), None, None)
        .unwrap();
    let b: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let schemas = items(b[0].column(1).as_ref(), 0).unwrap();
    let tables = items(field(&schemas, "db_schema_tables"), 0).unwrap();
    let cols = items(field(&tables, "table_columns"), 0).unwrap();
    let i16_at = |name: &str, i: usize| {
        let a = field(&cols, name).as_primitive::<Int16Type>();
        a.is_valid(i).then(|| a.value(i))
    };
    let size = field(&cols, "xdbc_column_size").as_primitive::<Int32Type>();
    // ts: SQL_TYPE_TIMESTAMP, verbose SQL_DATETIME / SQL_CODE_TIMESTAMP,
    // microseconds.
    assert_eq!(i16_at("xdbc_sql_data_type", 0), Some(9));
    assert_eq!(i16_at("xdbc_datetime_sub", 0), Some(3));
    assert_eq!(i16_at("xdbc_decimal_digits", 0), Some(6));
    assert_eq!(i16_at("xdbc_nullable", 0), Some(0));
    // amount DECIMAL(18,3): precision 18, scale 3, radix 10.
    assert_eq!(size.value(4), 18);
    assert_eq!(i16_at("xdbc_decimal_digits", 4), Some(3));
    assert_eq!(i16_at("xdbc_num_prec_radix", 4), Some(10));
    assert_eq!(i16_at("xdbc_nullable", 4), Some(1));
    // A table without constraints has an empty list at column depth.
    let constraints = tables
        .column_by_name("table_constraints")
        .unwrap()
        .as_list::<i32>();
    assert!(constraints.is_valid(0));
    assert_eq!(constraints.value(0).len(), 0);
}

#[test]
fn filters() {
    let (_env, c) = env();
    let tables = |table: Option<&str>, types: Option<Vec<&str>>| -> Vec<String> {
        let cats = objects(&c, ObjectDepth::Tables, None, None, table, types, None);
        cats[0].1.as_ref().unwrap()[0]
            .1
            .as_ref()
            .unwrap()
            .iter()
            .map(|t| t.0.clone())
            .collect()
    };
    assert_eq!(tables(Some("trades"), None), ["trades"]);
    assert_eq!(tables(Some("trades%"), None), ["trades", "trades_eu"]);
    assert_eq!(tables(Some("%e_"), None), ["quotes", "trades", "trades_eu"]);
    assert_eq!(tables(Some("%u"), None), ["trades_eu"]);
    assert_eq!(tables(Some("_uotes"), None), ["quotes"]);
    assert_eq!(tables(Some("TRADES"), None), Vec::<String>::new());
    assert_eq!(tables(None, Some(vec!["TABLE"])).len(), 3);
    assert_eq!(tables(None, Some(vec!["VIEW"])), Vec::<String>::new());

    // A catalog that is not QuestDB's: nothing. A schema that is not:
    // the catalog without schemas.
    let none = |d| objects(&c, d, Some("other"), None, None, None, None);
    assert_eq!(none(ObjectDepth::All), Vec::<Cat>::new());
    assert_eq!(
        objects(
            &c,
            ObjectDepth::All,
            Some("q%"),
            Some("nope"),
            None,
            None,
            None
        ),
        cat(Some(vec![]))
    );
    assert_eq!(
        objects(
            &c,
            ObjectDepth::Tables,
            Some(CATALOG),
            Some("pub%"),
            Some("nope"),
            None,
            None
        ),
        cat(sch(Some(vec![])))
    );

    // Column filter: tables listed, with the matching columns only.
    let cats = objects(
        &c,
        ObjectDepth::All,
        None,
        None,
        Some("trades%"),
        None,
        Some("p_"),
    );
    assert_eq!(
        cats,
        cat(sch(Some(vec![
            tbl("trades", Some(vec![col("px", 3, "DOUBLE", Some(8), "YES")])),
            tbl(
                "trades_eu",
                Some(vec![col("px", 1, "DOUBLE", Some(8), "YES")])
            ),
        ])))
    );
}

#[test]
fn table_schema_takes_the_listed_catalog_and_schema() {
    let (_env, c) = env();
    let s = c
        .get_table_schema(Some(CATALOG), Some(DB_SCHEMA), "quotes")
        .unwrap();
    assert_eq!(s.field(0).name(), "bid");
    let e = c
        .get_table_schema(Some("other"), None, "quotes")
        .unwrap_err();
    assert_eq!(e.status, adbc_core::error::Status::NotImplemented);
}

#[test]
fn an_empty_server_lists_its_catalog_and_schema() {
    let env = start();
    let c = env.conn();
    assert_eq!(
        objects(&c, ObjectDepth::All, None, None, None, None, None),
        cat(sch(Some(vec![])))
    );
}
