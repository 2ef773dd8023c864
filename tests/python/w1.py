"""Workload W1 of the crate's benchmarks (benches/common): designated
timestamp `ts` (µs, jittered), `sym` SYMBOL of 64 values, four DOUBLEs
`d0`..`d3`, two LONGs `l0`, `l1`, `note` VARCHAR of 16 characters; as a
pyarrow table or a pandas frame, built with numpy (fast at millions of
rows)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

T0 = 1_700_000_000_000_000
SYMBOLS = [f"SYM{i:05}" for i in range(64)]


def w1(rows: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(rows, dtype=np.int64) * 1000 + rng.integers(-200, 200, rows)
    ts.sort()
    cols = {
        "ts": pa.array(ts, pa.timestamp("us")),
        "sym": pa.DictionaryArray.from_arrays(
            pa.array(rng.integers(0, len(SYMBOLS), rows, dtype=np.int32)),
            pa.array(SYMBOLS),
        ),
    }
    for i in range(4):
        cols[f"d{i}"] = pa.array(rng.random(rows) * 1000.0)
    for i in range(2):
        cols[f"l{i}"] = pa.array(rng.integers(0, 10**12, rows, dtype=np.int64))
    notes = pa.array([f"n{i:015}" for i in range(4096)])
    cols["note"] = pc.take(notes, pa.array(rng.integers(0, 4096, rows)))
    return pa.table(cols)


def w1_pandas(rows: int, seed: int = 7) -> pd.DataFrame:
    """W1 as pandas: `sym` categorical, `ts` datetime64[us], `note` str."""
    t = w1(rows, seed)
    df = t.to_pandas()
    df["ts"] = df["ts"].astype("datetime64[us]")
    df["sym"] = df["sym"].astype("category")
    return df
