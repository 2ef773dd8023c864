"""The driver through Python's DBAPI (`adbc_driver_manager.dbapi`): queries
into Arrow, binds, bulk ingest of every mapped type, errors."""

import adbc_driver_manager
import pyarrow as pa
import pytest

from types_table import as_read, every_type, expected

TS = pa.timestamp("us", "UTC")


def trades(n: int) -> pa.Table:
    return pa.table(
        {
            "timestamp": pa.array([1_700_000_000_000_000 + i for i in range(n)], TS),
            "sym": pa.array([["BTC-USD", "ETH-USD", "SOL-USD"][i % 3] for i in range(n)])
            .dictionary_encode(),
            "px": pa.array([100.0 + i * 0.25 for i in range(n)]),
            "qty": pa.array([i * 10 for i in range(n)], pa.int64()),
            "note": pa.array([None if i % 4 == 0 else f"n{i}" for i in range(n)]),
        }
    )


def ingest(conn, table: str, data, mode: str = "create", ts: str = "timestamp") -> int:
    with conn.cursor() as cur:
        cur.adbc_statement.set_options(**{"questdb.ingest.timestamp_column": ts})
        return cur.adbc_ingest(table, data, mode=mode)


def fetch(conn, sql: str, params=None) -> pa.Table:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()


def test_fetch_arrow_table_equals_what_was_written(conn, table):
    data = trades(1000)
    assert ingest(conn, table, data) == 1000
    back = fetch(conn, f"SELECT * FROM {table}")
    assert back.column_names == data.column_names
    assert back.schema.field("timestamp").type == TS
    assert pa.types.is_dictionary(back.schema.field("sym").type)
    for name in data.column_names:
        assert as_read(back[name]).equals(as_read(data[name])), name


def test_binds_and_rows_affected(conn, table):
    ingest(conn, table, trades(100))
    back = fetch(conn, f"SELECT qty FROM {table} WHERE qty >= $1 AND sym = $2", (900, "ETH-USD"))
    assert back["qty"].to_pylist() == [910, 940, 970]
    # Rows affected come from ExecuteUpdate (DBAPI's execute runs queries,
    # whose count ADBC reports as unknown).
    with conn.cursor() as cur:
        cur.adbc_statement.set_sql_query(
            f"INSERT INTO {table} (timestamp, sym, px, qty) VALUES (1, 'X', 1.0, 7)"
        )
        assert cur.adbc_statement.execute_update() == 1
    assert fetch(conn, f"SELECT count(*) AS n FROM {table}")["n"].to_pylist() == [101]


def test_execute_schema_describes_without_rows(conn, table):
    data = trades(1000)
    ingest(conn, table, data)
    with conn.cursor() as cur:
        schema = cur.adbc_execute_schema(f"SELECT * FROM {table}")
        assert schema.names == data.column_names
        assert schema.field("timestamp").type == TS
        assert pa.types.is_dictionary(schema.field("sym").type)
        # A write is refused, not run.
        with pytest.raises(adbc_driver_manager.NotSupportedError, match="would run"):
            cur.adbc_execute_schema(
                f"INSERT INTO {table} (timestamp, sym, px, qty) VALUES (1, 'X', 1.0, 7)"
            )
    assert fetch(conn, f"SELECT count(*) AS n FROM {table}")["n"].to_pylist() == [1000]


def test_ingest_of_every_mapped_type(conn, table):
    data, stored = every_type(300)
    assert ingest(conn, table, data, ts="ts") == 300
    types = fetch(conn, f"SELECT \"column\", type FROM table_columns('{table}')")
    assert types.to_pylist() == [{"column": c, "type": t} for c, t, _ in stored]
    back = fetch(conn, f"SELECT * FROM {table}")
    assert back.column_names == [c for c, _, _ in stored]
    for (name, qdb, back_type), source in zip(stored, data.column_names):
        assert back.schema.field(name).type == back_type, name
        want = expected(data[source], qdb, back_type)
        assert as_read(back[name]).equals(want), name


def test_ingest_modes(conn, table):
    assert ingest(conn, table, trades(10), mode="create") == 10
    with pytest.raises(adbc_driver_manager.Error) as e:
        ingest(conn, table, trades(10), mode="create")
    assert e.value.status_code == adbc_driver_manager.AdbcStatusCode.ALREADY_EXISTS
    assert ingest(conn, table, trades(5), mode="append") == 5
    assert fetch(conn, f"SELECT count(*) AS n FROM {table}")["n"].to_pylist() == [15]
    assert ingest(conn, table, trades(3), mode="replace") == 3
    assert ingest(conn, table, trades(2), mode="create_append") == 2
    assert fetch(conn, f"SELECT count(*) AS n FROM {table}")["n"].to_pylist() == [5]


def test_a_bad_statement_raises_with_the_server_status(conn):
    with conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.ProgrammingError) as e:
            cur.execute("SELEC nonsense")
    assert e.value.status_code == adbc_driver_manager.AdbcStatusCode.INVALID_ARGUMENT
    assert e.value.sqlstate == "42601"
    assert "SELEC nonsense" in str(e.value)
    # The connection goes on.
    assert fetch(conn, "SELECT 1 AS one")["one"].to_pylist() == [1]
