"""Five million rows (QA_LARGE_ROWS) in and out: `adbc_ingest` of a W1
table, then a streamed read whose peak memory stays within a fixed number
of batches, however many rows (measured in a separate process and
printed).

The batches a streamed read holds at once: the client's read-ahead queue
(4 decoded batches), the one its receiving thread decodes, the driver's
hand-off from its result thread (the batch it sends, the one in the
channel) and the consumer's own: 8, plus buffers of fixed size (the
WebSocket's, the threads'). The bound asserted over the interpreter's
baseline is those 8 batches and 4 MiB (with the server's 10 000-row W1
batches about 10 MiB, against the 400 MiB of the whole result)."""

import json
import os
import subprocess
import sys
import time

import pytest

from qa_server import adbc_lib, connect
from w1 import w1

ROWS = int(os.environ.get("QA_LARGE_ROWS", "5000000"))

# What a streamed read may add to the peak (see above): batches held at
# once, and buffers of fixed size.
HELD_BATCHES = 8
FIXED_BYTES = 4 << 20


@pytest.fixture(scope="module")
def loaded(server):
    table = "large_w1"
    data = w1(ROWS)
    conn = connect(server)
    try:
        with conn.cursor() as cur:
            cur.adbc_statement.set_options(**{"questdb.ingest.timestamp_column": "ts"})
            start = time.perf_counter()
            written = cur.adbc_ingest(table, data, mode="replace")
            secs = time.perf_counter() - start
        print(f"\nadbc_ingest: {ROWS} W1 rows in {secs:.1f} s ({ROWS / secs:,.0f} rows/s)")
        yield conn, table, written
    finally:
        conn.close()


def test_ingest_of_many_rows(loaded):
    conn, table, written = loaded
    assert written == ROWS
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) AS n, count(DISTINCT sym) AS s FROM {table}")
        assert cur.fetchone() == (ROWS, 64)


def test_streamed_read_holds_a_few_batches(server, loaded):
    _, table, _ = loaded
    here = os.path.dirname(__file__)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, os.path.join(here, "stream_rss.py"), adbc_lib(), server.conf,
         f"SELECT * FROM {table}"],
        check=True,
        capture_output=True,
        text=True,
    )
    secs = time.perf_counter() - start
    m = json.loads(out.stdout)
    grew = m["hwm_after"] - m["hwm_before"]
    batch = m["largest_batch_bytes"]
    print(
        f"\nstreamed read: {m['rows']} rows in {m['batches']} batches, {secs:.1f} s; "
        f"largest batch {batch / 2**20:.1f} MiB; peak RSS {m['hwm_before'] / 2**20:.0f} MiB "
        f"before, {m['hwm_after'] / 2**20:.0f} MiB after (+{grew / 2**20:.1f} MiB, "
        f"{grew / batch:.2f} batches)"
    )
    assert m["rows"] == ROWS
    assert m["batches"] > 10, "the result arrived in batches"
    assert grew < HELD_BATCHES * batch + FIXED_BYTES
