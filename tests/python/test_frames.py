"""polars and pandas on the driver's DBAPI connection."""

import pandas as pd
import polars as pl
import pyarrow as pa
from polars.testing import assert_frame_equal


def test_polars_write_database_then_read_database(conn, table):
    df = pl.DataFrame(
        {
            "timestamp": pl.datetime_range(
                pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1, 0, 1, 39), "1s",
                time_unit="us", time_zone="UTC", eager=True,
            ),
            "sym": pl.Series([f"s{i % 4}" for i in range(100)], dtype=pl.Categorical),
            "px": [i * 0.5 for i in range(100)],
            "qty": pl.Series(range(100), dtype=pl.Int64),
            "note": [None if i % 3 == 0 else f"n{i}" for i in range(100)],
        }
    )
    rows = df.write_database(table, conn, engine="adbc", if_table_exists="append")
    assert rows == 100
    back = pl.read_database(f"SELECT * FROM {table}", conn)
    assert_frame_equal(back, df, check_dtypes=False)
    assert back.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert back.schema["px"] == pl.Float64
    assert back.schema["qty"] == pl.Int64
    # replace: the table holds only the new frame.
    df.head(7).write_database(table, conn, engine="adbc", if_table_exists="replace")
    assert pl.read_database(f"SELECT count(*) AS n FROM {table}", conn)["n"][0] == 7


def test_polars_read_database_iter_batches(conn, table):
    with conn.cursor() as cur:
        cur.adbc_ingest(table, pa.table({"v": pa.array(range(5000), pa.int64())}))
    frames = list(
        pl.read_database(f"SELECT v FROM {table}", conn, iter_batches=True, batch_size=1000)
    )
    assert sum(f.height for f in frames) == 5000
    assert sorted(pl.concat(frames)["v"].to_list()) == list(range(5000))


def test_pandas_read_sql(conn, table):
    with conn.cursor() as cur:
        cur.adbc_ingest(
            table,
            pa.table({"k": ["a", "b", "c"], "x": pa.array([1.5, None, 3.5])}),
        )
    df = pd.read_sql(f"SELECT k, x FROM {table} ORDER BY k", conn)
    assert list(df.columns) == ["k", "x"]
    assert df["k"].tolist() == ["a", "b", "c"]
    assert df["x"].iloc[0] == 1.5 and pd.isna(df["x"].iloc[1]) and df["x"].iloc[2] == 3.5
