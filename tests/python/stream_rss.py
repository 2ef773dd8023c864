"""Streams a query's result through the driver batch by batch
(`fetch_record_batch`) and prints, as JSON, the rows and batches read, the
largest batch's size and this process's peak resident set (VmHWM) before
and after. A separate process: the peak is this read's alone.

    python stream_rss.py LIB CONNECT_STRING SQL
"""

import json
import sys

import adbc_driver_manager.dbapi as dbapi

from qa_server import vm_hwm_bytes


def main(lib: str, conf: str, sql: str) -> None:
    conn = dbapi.connect(driver=lib, db_kwargs={"uri": conf}, autocommit=True)
    cur = conn.cursor()
    # The baseline: the interpreter, pyarrow, the driver and an open
    # connection that has run a query.
    cur.execute("SELECT 1 AS one")
    cur.fetch_arrow_table()
    before = vm_hwm_bytes()
    cur.execute(sql)
    reader = cur.fetch_record_batch()
    rows = batches = largest = 0
    for batch in reader:
        rows += batch.num_rows
        batches += 1
        largest = max(largest, batch.get_total_buffer_size())
    after = vm_hwm_bytes()
    cur.close()
    conn.close()
    print(
        json.dumps(
            {
                "rows": rows,
                "batches": batches,
                "largest_batch_bytes": largest,
                "hwm_before": before,
                "hwm_after": after,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
