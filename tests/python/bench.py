"""Benchmark, printed not asserted: W1 rows (QA_BENCH_ROWS, default
5 000 000) into the embedded server and back, through this ADBC driver
and through the official QuestDB Python client (`questdb`), one after the
other on the same server.

Ingest: `adbc_ingest` of a pyarrow table vs the client's
`Sender.dataframe()` of the same data as pandas (over QWP/WebSocket,
`ws::`, and over ILP/HTTP, `http::`) and its pooled `QuestDB.dataframe()`,
one call per 200 000 rows (a commit each, as the driver commits 16 MiB
slices).
Read: `fetch_arrow_table` vs the client's `QuestDB.query(sql).to_arrow()`.

    python tests/python/bench.py      # QA_SERVER_BIN / QA_ADBC_LIB as for the suite
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pandas as pd  # noqa: E402
import questdb  # noqa: E402

from qa_server import Server, connect  # noqa: E402
from w1 import w1, w1_pandas  # noqa: E402

ROWS = int(os.environ.get("QA_BENCH_ROWS", "5000000"))
# Rows per Sender.dataframe call and flush: about 16 MiB of W1.
CHUNK = 200_000


def count(conn, table: str) -> int:
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) AS n FROM {table}")
        return cur.fetchone()[0]


def timed(what: str, fn) -> float:
    start = time.perf_counter()
    fn()
    secs = time.perf_counter() - start
    print(f"  {what:<44} {secs:7.2f} s  {ROWS / secs:>12,.0f} rows/s", flush=True)
    return ROWS / secs


def own(part: pd.DataFrame) -> pd.DataFrame:
    """A row slice with buffers of its own (the client takes string
    columns only as one contiguous buffer from offset zero)."""
    part = part.reset_index(drop=True)
    part["note"] = pd.array(part["note"].to_numpy(), dtype=part["note"].dtype)
    return part


def main() -> None:
    srv = Server()
    conn = connect(srv)
    try:
        table = w1(ROWS)
        frame = w1_pandas(ROWS)
        chunks = [own(frame.iloc[i : i + CHUNK]) for i in range(0, ROWS, CHUNK)]
        http_conf = srv.conf.replace("ws::", "http::", 1)
        print(f"W1, {ROWS:,} rows; server {srv.conf}")
        print("ingest")

        def adbc_ingest():
            with conn.cursor() as cur:
                cur.adbc_statement.set_options(**{"questdb.ingest.timestamp_column": "ts"})
                cur.adbc_ingest("b_adbc", table, mode="replace")

        ours = timed("adbc_ingest (pyarrow)", adbc_ingest)

        def sender(conf: str, name: str):
            # One call and flush (a commit) per CHUNK rows, as the driver
            # commits its 16 MiB slices: one 5 M-row transaction exceeds
            # the server's budget of uncommitted rows.
            def run():
                with questdb.Sender.from_conf(conf) as s:
                    for part in chunks:
                        s.dataframe(part, table_name=name, symbols=["sym"], at="ts")
                        s.flush()
            return run

        ws = timed("questdb Sender.dataframe (pandas, ws::)", sender(srv.conf, "b_sender_ws"))
        http = timed("questdb Sender.dataframe (pandas, http::)", sender(http_conf, "b_sender_http"))

        db = questdb.connect(srv.conf)
        try:
            def pooled():
                for part in chunks:
                    db.dataframe(part, table_name="b_pooled", symbols=["sym"], at="ts")

            pool = timed("questdb QuestDB.dataframe (pandas, ws::)", pooled)
            for t in ("b_adbc", "b_sender_ws", "b_sender_http", "b_pooled"):
                n = count(conn, t)
                if n != ROWS:
                    print(f"  note: {t} holds {n:,} rows, not {ROWS:,}")
            print(
                f"  ratio adbc_ingest / Sender.dataframe: ws {ours / ws:.2f}, "
                f"http {ours / http:.2f}; / QuestDB.dataframe {ours / pool:.2f}"
            )

            print("read (SELECT * FROM b_adbc into a pyarrow table)")

            def fetch():
                with conn.cursor() as cur:
                    cur.execute("SELECT * FROM b_adbc")
                    assert cur.fetch_arrow_table().num_rows == ROWS

            read_ours = timed("fetch_arrow_table", fetch)

            def query():
                assert db.query("SELECT * FROM b_adbc").to_arrow().num_rows == ROWS

            read_theirs = timed("questdb QuestDB.query().to_arrow()", query)
            print(f"  ratio fetch_arrow_table / query().to_arrow(): {read_ours / read_theirs:.2f}")
        finally:
            db.close()
    finally:
        conn.close()
        srv.stop()


if __name__ == "__main__":
    main()
