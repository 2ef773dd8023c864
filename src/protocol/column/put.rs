//! Writing column bodies straight from value slices (what the Arrow
//! bridge uses): exact sizes and `put_*` writers for fixed-width,
//! timestamp, boolean, variable-length and symbol-id columns.

use super::*;

/// Size of a null-free fixed-width column body of `n` values of `width`
/// bytes.
#[inline]
pub fn fixed_column_len(n: usize, width: usize) -> usize {
    1 + n * width
}

/// Writes a null-free fixed-width column body from typed values.
pub fn put_fixed_column<T: WireFixed>(values: &[T], out: &mut Out<'_>) {
    out.u8(0);
    put_all(values, out);
}

/// Writes a null-free fixed-width column body whose values are already
/// little-endian bytes (for example an Arrow buffer): one masked copy.
pub fn put_fixed_column_bytes(le_bytes: &[u8], out: &mut Out<'_>) {
    out.u8(0);
    out.put(le_bytes);
}

/// Sizes a null-free TIMESTAMP-like column body of type `ty`: returns the
/// body length and, when Gorilla was chosen, the Gorilla stream length to
/// pass to [`put_timestamp_column`].
pub fn timestamp_column_len(ts: &[i64], ty: ColumnType, layout: &Layout) -> (usize, Option<usize>) {
    if layout.has_encoding_flag(ty) {
        let plan = ts_plan(ts, layout);
        (2 + plan.unwrap_or(ts.len() * 8), plan)
    } else {
        (1 + ts.len() * 8, None)
    }
}

/// Writes a null-free TIMESTAMP-like column body sized by
/// [`timestamp_column_len`].
pub fn put_timestamp_column(
    ts: &[i64],
    ty: ColumnType,
    layout: &Layout,
    gorilla_len: Option<usize>,
    out: &mut Out<'_>,
) {
    out.u8(0);
    if layout.has_encoding_flag(ty) {
        match gorilla_len {
            Some(len) => {
                out.u8(1);
                gorilla::encode(ts, len, out);
            }
            None => {
                out.u8(0);
                put_all(ts, out);
            }
        }
    } else {
        put_all(ts, out);
    }
}

/// Size of a bit-packed boolean/bitmap section for `n` bits.
#[inline]
pub fn bitmap_len(n: usize) -> usize {
    n.div_ceil(8)
}

/// Writes `bits` (LSB-first, 1 = true) as packed bytes.
pub fn put_bitmap_bools(bits: &[bool], out: &mut Out<'_>) {
    out.with_raw(bits.len().div_ceil(8), |buf| {
        buf.fill(0);
        for (i, &b) in bits.iter().enumerate() {
            if b {
                buf[i / 8] |= 1 << (i % 8);
            }
        }
    });
}

/// Size of a VARCHAR/BINARY value section: `(n + 1)` offsets plus the data.
#[inline]
pub fn varlen_len(n_values: usize, data_bytes: usize) -> usize {
    (n_values + 1) * 4 + data_bytes
}

/// Writes a VARCHAR/BINARY value section from individual values.
pub fn put_varlen<'v>(values: impl Iterator<Item = &'v [u8]> + Clone, out: &mut Out<'_>) {
    let mut off: u32 = 0;
    out.u32(0);
    for v in values.clone() {
        off = off.wrapping_add(v.len() as u32);
        out.u32(off);
    }
    for v in values {
        out.put(v);
    }
}

/// Size of the varint ids of a SYMBOL column.
pub fn symbol_ids_len(ids: &[u32]) -> usize {
    ids.iter().map(|&i| varint_len(u64::from(i))).sum()
}
