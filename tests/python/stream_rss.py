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


def read(reader) -> tuple[int, int, int]:
    """Rows, batches and the largest batch's bytes of `reader`, read batch
    by batch."""
    rows = batches = largest = 0
    for batch in reader:
        rows += batch.num_rows
        batches += 1
        largest = max(largest, batch.get_total_buffer_size())
    return rows, batches, largest


def main(lib: str, conf: str, sql: str) -> None:
    conn = dbapi.connect(driver=lib, db_kwargs={"uri": conf}, autocommit=True)
    cur = conn.cursor()
    # The baseline: the interpreter, pyarrow, the driver and an open
    # connection that has streamed one row of the same query the same way:
    # the code that decodes, imports and measures its column types is
    # paged in (about 1 MiB of the debug driver's code for a SYMBOL
    # column, once), its buffers hold one row.
    cur.execute(f"SELECT * FROM ({sql}) LIMIT 1")
    read(cur.fetch_record_batch())
    before = vm_hwm_bytes()
    cur.execute(sql)
    rows, batches, largest = read(cur.fetch_record_batch())
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
