"""Connection metadata: get_objects, get_table_schema, get_table_types."""

import pyarrow as pa


def make(conn, name: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {name} (ts TIMESTAMP, sym SYMBOL, px DOUBLE, qty LONG) "
            "TIMESTAMP(ts) PARTITION BY DAY WAL"
        )


def only_catalog(objects: pa.Table):
    rows = objects.to_pylist()
    assert [r["catalog_name"] for r in rows] == ["qdb"]
    return rows[0]["catalog_db_schemas"]


def test_get_objects_at_every_depth_with_filters(conn, table):
    make(conn, table)
    make(conn, table + "_b")
    catalogs = conn.adbc_get_objects(depth="catalogs").read_all()
    assert only_catalog(catalogs) is None
    schemas = only_catalog(conn.adbc_get_objects(depth="db_schemas").read_all())
    assert schemas == [{"db_schema_name": "public", "db_schema_tables": None}]

    tables = only_catalog(
        conn.adbc_get_objects(depth="tables", table_name_filter=table + "%").read_all()
    )[0]["db_schema_tables"]
    assert [(t["table_name"], t["table_type"], t["table_columns"]) for t in tables] == [
        (table, "TABLE", None),
        (table + "_b", "TABLE", None),
    ]

    full = only_catalog(
        conn.adbc_get_objects(
            depth="all",
            catalog_filter="qdb",
            db_schema_filter="public",
            table_name_filter=table,
            table_types_filter=["TABLE"],
            column_name_filter="%s%",
        ).read_all()
    )[0]["db_schema_tables"]
    assert len(full) == 1
    cols = [
        (c["column_name"], c["ordinal_position"], c["xdbc_type_name"], c["xdbc_data_type"])
        for c in full[0]["table_columns"]
    ]
    assert cols == [("ts", 1, "TIMESTAMP", 93), ("sym", 2, "SYMBOL", 12)]

    none = conn.adbc_get_objects(depth="all", table_types_filter=["VIEW"]).read_all()
    assert only_catalog(none)[0]["db_schema_tables"] == []


def test_table_schema_and_types(conn, table):
    make(conn, table)
    schema = conn.adbc_get_table_schema(table)
    assert schema.names == ["ts", "sym", "px", "qty"]
    assert schema.field("px").type == pa.float64()
    assert conn.adbc_get_table_schema(table, catalog_filter="qdb", db_schema_filter="public") == schema
    assert conn.adbc_get_table_types() == ["TABLE"]
