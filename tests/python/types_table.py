"""A pyarrow table with one column per row of the driver's Arrow -> QuestDB
type mapping (every third value NULL), with the QuestDB type each column
must be stored as and the Arrow type it reads back as."""

import decimal
import uuid

import pyarrow as pa

T0 = 1_700_000_000_000_000


def _nulls(values):
    return [None if i % 3 == 1 else v for i, v in enumerate(values)]


def every_type(n: int):
    """`(table, [(column, questdb type, arrow type read back)])`. The
    designated timestamp `ts` is stored as `timestamp` (QuestDB's name for
    the designated timestamp of a table created by ingest)."""
    r = range(n)
    cols = []

    def add(name, typ, values, qdb, back, **meta):
        arr = values if isinstance(values, pa.Array) else pa.array(values, typ)
        field = pa.field(name, typ, name != "ts", metadata=meta or None)
        cols.append((field, arr, qdb, back))

    ts_us = pa.timestamp("us", "UTC")
    add("ts", pa.timestamp("us"), [T0 + i for i in r], "TIMESTAMP", ts_us)
    add("b", pa.bool_(), _nulls([i % 2 == 0 for i in r]), "BOOLEAN", pa.bool_())
    add("i8", pa.int8(), _nulls([i % 100 for i in r]), "BYTE", pa.int8())
    add("i16", pa.int16(), _nulls([3 * i for i in r]), "SHORT", pa.int16())
    add("i32", pa.int32(), _nulls([-7 * i for i in r]), "INT", pa.int32())
    add("i64", pa.int64(), _nulls([i * 10**12 for i in r]), "LONG", pa.int64())
    add("u8", pa.uint8(), _nulls([250 + i % 5 for i in r]), "SHORT", pa.int16())
    add("u16", pa.uint16(), _nulls([65000 + i for i in r]), "INT", pa.int32())
    add("u32", pa.uint32(), _nulls([4_000_000_000 + i for i in r]), "LONG", pa.int64())
    add("u64", pa.uint64(), _nulls([2**62 + i for i in r]), "LONG", pa.int64())
    f16 = pa.array(_nulls([0.5 * i for i in r]), pa.float32()).cast(pa.float16())
    add("f16", pa.float16(), f16, "FLOAT", pa.float32())
    add("f32", pa.float32(), _nulls([1.25 * i for i in r]), "FLOAT", pa.float32())
    add("f64", pa.float64(), _nulls([1.5 * i for i in r]), "DOUBLE", pa.float64())
    add("s", pa.string(), _nulls([f"w{i}" for i in r]), "VARCHAR", pa.string())
    add("ls", pa.large_string(), _nulls([f"l{i}" for i in r]), "VARCHAR", pa.string())
    add("sv", pa.string_view(), _nulls([f"v{i}" for i in r]), "VARCHAR", pa.string())
    sym = pa.dictionary(pa.int32(), pa.string())
    add(
        "ssym",
        pa.string(),
        _nulls([f"s{i % 2}" for i in r]),
        "SYMBOL",
        sym,
        **{"questdb.symbol": "true"},
    )
    words = pa.array(_nulls([f"d{i % 3}" for i in r])).dictionary_encode()
    add("dict", sym, words, "SYMBOL", sym)
    add("bin", pa.binary(), _nulls([bytes([i % 256, 1]) for i in r]), "BINARY", pa.binary())
    add("lbin", pa.large_binary(), _nulls([bytes([i % 256]) for i in r]), "BINARY", pa.binary())
    add("fsb", pa.binary(5), _nulls([bytes([i % 256] * 5) for i in r]), "BINARY", pa.binary())
    uuids = _nulls([uuid.UUID(int=i + 1).bytes for i in r])
    add("u", pa.uuid(), pa.array(uuids, pa.uuid()), "UUID", pa.uuid())
    add(
        "l256",
        pa.binary(32),
        _nulls([bytes([i % 256] * 32) for i in r]),
        "LONG256",
        pa.binary(32),
        **{"questdb.column_type": "long256"},
    )
    add("ts_s", pa.timestamp("s"), _nulls([1_700_000_000 + i for i in r]), "TIMESTAMP", ts_us)
    ms = pa.timestamp("ms", "UTC")
    add("ts_ms", ms, _nulls([1_700_000_000_000 + i for i in r]), "TIMESTAMP", ts_us)
    ns = [1_700_000_000_000_000_000 + i for i in r]
    add("ts_ns", pa.timestamp("ns"), _nulls(ns), "TIMESTAMP_NS", pa.timestamp("ns", "UTC"))
    add("d32", pa.date32(), _nulls([19000 + i for i in r]), "DATE", pa.date64())
    days = _nulls([1_700_006_400_000 + i * 86_400_000 for i in r])
    add("d64", pa.date64(), days, "DATE", pa.date64())
    dec = decimal.Decimal
    d64 = pa.decimal64(18, 3)
    add("dec64", d64, _nulls([dec(f"{i}.125") for i in r]), "DECIMAL(18,3)", d64)
    d128 = pa.decimal128(38, 4)
    add("dec128", d128, _nulls([dec(f"-{i}.5") for i in r]), "DECIMAL(38,4)", d128)
    d256 = pa.decimal256(76, 2)
    big = _nulls([dec(f"{i}12345678901234567890.25") for i in r])
    add("dec256", d256, big, "DECIMAL(76,2)", d256)
    lf = pa.list_(pa.float64())
    add("lf", lf, _nulls([[0.5 * i, 1.0] for i in r]), "DOUBLE[]", lf)
    li = pa.list_(pa.int64())
    add("li", li, _nulls([[i, 2, 3] for i in r]), "LONG[]", li)
    add(
        "ch",
        pa.uint16(),
        _nulls([ord("A") + i % 26 for i in r]),
        "CHAR",
        pa.uint16(),
        **{"questdb.column_type": "char"},
    )
    add(
        "ip",
        pa.uint32(),
        _nulls([0x0A000001 + i for i in r]),
        "IPv4",
        pa.uint32(),
        **{"questdb.column_type": "ipv4"},
    )
    add(
        "gh",
        pa.int64(),
        _nulls([i * 31 for i in r]),
        "GEOHASH(4c)",
        pa.int64(),
        **{"questdb.geohash_bits": "20"},
    )
    table = pa.Table.from_arrays(
        [c[1] for c in cols], schema=pa.schema([c[0] for c in cols])
    )
    stored = [("timestamp" if c[0].name == "ts" else c[0].name, c[2], c[3]) for c in cols]
    return table, stored


# QuestDB stores no NULL in these types: a NULL arrives as false / 0.
NOT_NULL = {"BOOLEAN": False, "BYTE": 0, "SHORT": 0, "CHAR": 0}


def expected(column: pa.ChunkedArray, qdb: str, back_type: pa.DataType) -> pa.ChunkedArray:
    """`column` (the input) as it reads back from a QuestDB column of type
    `qdb`: converted to `back_type`."""
    if qdb in NOT_NULL:
        column = column.fill_null(pa.scalar(NOT_NULL[qdb], column.type))
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_dictionary(back_type):
        return column.cast(back_type.value_type)
    if isinstance(back_type, pa.ExtensionType):
        return column
    return column.cast(back_type)


def as_read(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column read back, comparable with `expected`: dictionaries decoded."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column
