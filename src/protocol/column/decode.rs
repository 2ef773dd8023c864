//! Decoding column bodies: [`decode_column`] borrows from the frame
//! wherever the wire layout is the value layout.

use super::*;

/// Timestamps of a TIMESTAMP-like column as found on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum TimestampsView<'a> {
    /// Raw i64 LE values, borrowed from the frame.
    Raw(&'a [u8]),
    /// Gorilla-decoded values.
    Decoded(Vec<i64>),
}

/// One array value borrowed from the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayView<'a> {
    /// Dimension lengths.
    pub dims: Vec<u32>,
    /// `product(dims)` elements as 8-byte LE values.
    pub data: &'a [u8],
}

/// The values part of a decoded column.
#[derive(Debug, Clone, PartialEq)]
pub enum ValuesView<'a> {
    /// Bit-packed booleans, LSB-first.
    Boolean(&'a [u8]),
    /// Fixed-width LE values (BYTE..DOUBLE, CHAR, IPv4, UUID, LONG256, DATE on
    /// ingress).
    Fixed(&'a [u8]),
    /// TIMESTAMP / TIMESTAMP_NANOS (and DATE on egress).
    Timestamps(TimestampsView<'a>),
    /// DECIMAL64/128/256 unscaled values.
    Decimal {
        /// Digits after the point.
        scale: u8,
        /// `width` bytes per value, two's complement LE.
        data: &'a [u8],
    },
    /// GEOHASH values, `ceil(precision_bits / 8)` bytes each.
    Geohash {
        /// Precision in bits (1..=60).
        precision_bits: u8,
        /// The values.
        data: &'a [u8],
    },
    /// SYMBOL ids into the connection dictionary.
    Symbols(Vec<u32>),
    /// SYMBOL indexes into a per-column dictionary.
    SymbolDict {
        /// The column's dictionary.
        dict: Vec<&'a str>,
        /// Indexes into `dict` (checked in range).
        ids: Vec<u32>,
    },
    /// VARCHAR / BINARY: `n + 1` u32 LE offsets (checked: start 0,
    /// non-decreasing, end = data length) and the data.
    Varlen {
        /// Offsets bytes.
        offsets: &'a [u8],
        /// Concatenated values. VARCHAR: checked to be valid UTF-8 per
        /// value, except in egress views ([`Direction::Egress`]), whose
        /// consumer, the Arrow bridge, checks it when it builds the
        /// `StringArray` (so the check runs once).
        data: &'a [u8],
    },
    /// DOUBLE_ARRAY / LONG_ARRAY values.
    Arrays(Vec<ArrayView<'a>>),
}

/// A decoded column body.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnView<'a> {
    /// The column's type.
    pub ty: ColumnType,
    /// Rows in the block.
    pub row_count: usize,
    /// NULL bitmap (1 = NULL), `ceil(row_count / 8)` bytes, if bitmap mode.
    pub nulls: Option<&'a [u8]>,
    /// NULL rows according to the bitmap (0 in sentinel mode).
    pub null_count: usize,
    /// The values: `row_count - null_count` of them.
    pub values: ValuesView<'a>,
}

/// Whether bit `i` of an LSB-first bitmap is set.
#[inline]
pub fn bit_is_set(bits: &[u8], i: usize) -> bool {
    bits[i / 8] & (1 << (i % 8)) != 0
}

fn count_bits(bits: &[u8], n: usize) -> usize {
    let full = n / 8;
    let mut c: usize = bits[..full].iter().map(|b| b.count_ones() as usize).sum();
    if !n.is_multiple_of(8) {
        c += (bits[full] & ((1u8 << (n % 8)) - 1)).count_ones() as usize;
    }
    c
}

/// Decodes one column body of type `ty` with `row_count` rows.
pub fn decode_column<'a>(
    r: &mut Reader<'a>,
    ty: ColumnType,
    row_count: usize,
    layout: &Layout,
) -> Result<ColumnView<'a>> {
    let null_flag = r.u8("null_flag")?;
    let (nulls, null_count) = if null_flag != 0 {
        let bm = r.bytes(bitmap_len(row_count), "null bitmap")?;
        (Some(bm), count_bits(bm, row_count))
    } else {
        (None, 0)
    };
    let n = row_count - null_count;
    let values = decode_values(r, ty, n, layout)?;
    Ok(ColumnView {
        ty,
        row_count,
        nulls,
        null_count,
        values,
    })
}

fn decode_values<'a>(
    r: &mut Reader<'a>,
    ty: ColumnType,
    n: usize,
    layout: &Layout,
) -> Result<ValuesView<'a>> {
    Ok(match ty {
        ColumnType::Boolean => ValuesView::Boolean(r.bytes(bitmap_len(n), "BOOLEAN values")?),
        ColumnType::Timestamp | ColumnType::TimestampNanos | ColumnType::Date
            if layout.has_encoding_flag(ty) =>
        {
            let at = r.offset();
            match r.u8("timestamp encoding flag")? {
                0 => ValuesView::Timestamps(TimestampsView::Raw(r.array(n, 8, ty.name())?)),
                1 => ValuesView::Timestamps(TimestampsView::Decoded(gorilla::decode(r, n)?)),
                f => {
                    return Err(Error::protocol(
                        at,
                        format!("{ty} encoding flag 0x{f:02X} is neither 0 (raw) nor 1 (gorilla)"),
                    ));
                }
            }
        }
        ColumnType::Timestamp | ColumnType::TimestampNanos => {
            ValuesView::Timestamps(TimestampsView::Raw(r.array(n, 8, ty.name())?))
        }
        ColumnType::Decimal64 | ColumnType::Decimal128 | ColumnType::Decimal256 => {
            let at = r.offset();
            let scale = r.u8("decimal scale")?;
            let max = max_decimal_scale(ty);
            if scale > max {
                return Err(Error::protocol(
                    at,
                    format!("{ty} scale {scale} above the maximum {max}"),
                ));
            }
            let w = ty.fixed_width().unwrap_or(8);
            ValuesView::Decimal {
                scale,
                data: r.array(n, w, ty.name())?,
            }
        }
        ColumnType::Geohash => {
            let at = r.offset();
            let p = r.varint("geohash precision")?;
            if p == 0 || p > u64::from(MAX_GEOHASH_BITS) {
                return Err(Error::protocol(
                    at,
                    format!("geohash precision {p} outside 1..=60"),
                ));
            }
            let p = p as u8;
            ValuesView::Geohash {
                precision_bits: p,
                data: r.array(n, geohash_width(p), "GEOHASH values")?,
            }
        }
        ColumnType::Symbol if layout.delta_dict => {
            let mut ids = Vec::with_capacity(n.min(r.remaining()));
            // Fast path: ids of at most 4 bytes (below 2^28), straight from
            // the bytes; anything else (and every error) goes through the
            // checked reader from where the fast path stopped.
            let p = crate::audited::varint::short_ids(r.rest(), n, &mut ids);
            r.bytes(p, "symbol ids")?;
            while ids.len() < n {
                ids.push(r.varint_max(u64::from(u32::MAX), "symbol id")? as u32);
            }
            ValuesView::Symbols(ids)
        }
        ColumnType::Symbol => {
            let at = r.offset();
            let size = r.varint_max(MAX_SYMBOL_DICT_ENTRIES as u64, "symbol dictionary size")?;
            if size > r.remaining() {
                return Err(Error::protocol(
                    at,
                    format!("symbol dictionary of {size} entries exceeds the frame"),
                ));
            }
            let mut dict = Vec::with_capacity(size);
            for _ in 0..size {
                dict.push(r.str_varint(MAX_VARLEN_VALUE_BYTES, "symbol")?);
            }
            let mut ids = Vec::with_capacity(n.min(r.remaining()));
            for _ in 0..n {
                let at = r.offset();
                let id = r.varint("symbol index")?;
                if id >= size as u64 {
                    return Err(Error::protocol(
                        at,
                        format!("symbol index {id} outside a {size}-entry column dictionary"),
                    ));
                }
                ids.push(id as u32);
            }
            ValuesView::SymbolDict { dict, ids }
        }
        ColumnType::Varchar | ColumnType::Binary => {
            decode_varlen(r, ty, n, layout.direction != Direction::Egress)?
        }
        ColumnType::DoubleArray | ColumnType::LongArray => {
            let mut v = Vec::with_capacity(n.min(r.remaining()));
            for _ in 0..n {
                let at = r.offset();
                let nd = r.u8("array n_dims")? as usize;
                if nd == 0 || nd > MAX_ARRAY_DIMS {
                    return Err(Error::protocol(
                        at,
                        format!("array with {nd} dimensions (1..=32 allowed)"),
                    ));
                }
                let mut dims = Vec::with_capacity(nd);
                let mut elems: usize = 1;
                for _ in 0..nd {
                    let at = r.offset();
                    let d = r.i32("array dimension")?;
                    if d < 0 {
                        return Err(Error::protocol(at, format!("negative array dimension {d}")));
                    }
                    elems = elems.saturating_mul(d as usize);
                    dims.push(d as u32);
                }
                if elems > MAX_ARRAY_ELEMENTS {
                    return Err(Error::protocol(
                        at,
                        format!("array of {elems} elements exceeds {MAX_ARRAY_ELEMENTS}"),
                    ));
                }
                v.push(ArrayView {
                    dims,
                    data: r.array(elems, 8, "array elements")?,
                });
            }
            ValuesView::Arrays(v)
        }
        _ => {
            let w = ty.fixed_width().unwrap_or(8);
            ValuesView::Fixed(r.array(n, w, ty.name())?)
        }
    })
}

/// VARCHAR/BINARY offsets and data; `check_utf8`: VARCHAR data is checked
/// to be UTF-8 with every value on a character boundary.
fn decode_varlen<'a>(
    r: &mut Reader<'a>,
    ty: ColumnType,
    n: usize,
    check_utf8: bool,
) -> Result<ValuesView<'a>> {
    let at = r.offset();
    let offsets = r.array(n + 1, 4, "offsets")?;
    let off = |i: usize| u32::get(&offsets[i * 4..i * 4 + 4]) as usize;
    if off(0) != 0 {
        return Err(Error::protocol(
            at,
            format!("{ty} offsets start at {} instead of 0", off(0)),
        ));
    }
    // One branch-free pass (a decrease wraps to a huge step); the bad
    // offset is looked for only when there is one.
    let mut prev = 0usize;
    let mut ok = true;
    for c in offsets[4..].chunks_exact(4) {
        let o = u32::get(c) as usize;
        ok &= o.wrapping_sub(prev) <= MAX_VARLEN_VALUE_BYTES;
        prev = o;
    }
    if !ok {
        for i in 1..=n {
            let (o, before) = (off(i), off(i - 1));
            if o < before || o - before > MAX_VARLEN_VALUE_BYTES {
                return Err(Error::protocol(
                    at + i * 4,
                    format!("{ty} offset {i} is {o}, after {before}"),
                ));
            }
        }
    }
    let data_at = r.offset();
    let data = r.bytes(prev, "string data")?;
    if ty == ColumnType::Varchar && check_utf8 {
        let s = std::str::from_utf8(data)
            .map_err(|e| Error::protocol(data_at + e.valid_up_to(), "VARCHAR data is not UTF-8"))?;
        for i in 1..n {
            if !s.is_char_boundary(off(i)) {
                return Err(Error::protocol(
                    at + i * 4,
                    format!("VARCHAR value {i} does not start on a UTF-8 character boundary"),
                ));
            }
        }
    }
    Ok(ValuesView::Varlen { offsets, data })
}

impl<'a> ColumnView<'a> {
    /// Whether row `i` is NULL per the bitmap (sentinels are not inspected).
    pub fn is_null(&self, i: usize) -> bool {
        self.nulls.is_some_and(|b| bit_is_set(b, i))
    }

    /// Number of values present (`row_count - null_count`).
    pub fn value_count(&self) -> usize {
        self.row_count - self.null_count
    }

    /// VARCHAR/BINARY value `i` (of the dense values).
    pub fn varlen_value(&self, i: usize) -> Option<&'a [u8]> {
        match &self.values {
            ValuesView::Varlen { offsets, data } => {
                let o = |k: usize| u32::get(&offsets[k * 4..k * 4 + 4]) as usize;
                (i < offsets.len() / 4 - 1).then(|| &data[o(i)..o(i + 1)])
            }
            _ => None,
        }
    }

    /// Timestamps (raw or Gorilla-decoded) as i64 values.
    pub fn timestamps(&self) -> Option<Vec<i64>> {
        match &self.values {
            ValuesView::Timestamps(TimestampsView::Raw(b)) => {
                Some(b.chunks_exact(8).map(i64::get).collect())
            }
            ValuesView::Timestamps(TimestampsView::Decoded(v)) => Some(v.clone()),
            ValuesView::Fixed(b) if self.ty == ColumnType::Date => {
                Some(b.chunks_exact(8).map(i64::get).collect())
            }
            _ => None,
        }
    }

    /// Converts to an owned [`ColumnData`]. SYMBOL ids stay ids; sentinel
    /// values stay values (only the bitmap marks NULLs here).
    pub fn to_owned_data(&self) -> ColumnData {
        fn fixed<T: WireFixed>(b: &[u8]) -> Vec<T> {
            b.chunks_exact(T::WIDTH).map(T::get).collect()
        }
        let values = match &self.values {
            ValuesView::Boolean(b) => {
                Values::Boolean((0..self.value_count()).map(|i| bit_is_set(b, i)).collect())
            }
            ValuesView::Timestamps(_) => {
                let t = self.timestamps().unwrap_or_default();
                match self.ty {
                    ColumnType::TimestampNanos => Values::TimestampNanos(t),
                    ColumnType::Date => Values::Date(t),
                    _ => Values::Timestamp(t),
                }
            }
            ValuesView::Decimal { scale, data } => match self.ty {
                ColumnType::Decimal64 => Values::Decimal64 {
                    scale: *scale,
                    values: fixed(data),
                },
                ColumnType::Decimal128 => Values::Decimal128 {
                    scale: *scale,
                    values: fixed(data),
                },
                _ => Values::Decimal256 {
                    scale: *scale,
                    values: fixed(data),
                },
            },
            ValuesView::Geohash {
                precision_bits,
                data,
            } => {
                let w = geohash_width(*precision_bits);
                Values::Geohash {
                    precision_bits: *precision_bits,
                    values: data
                        .chunks_exact(w)
                        .map(|c| {
                            let mut a = [0u8; 8];
                            a[..w].copy_from_slice(c);
                            u64::from_le_bytes(a)
                        })
                        .collect(),
                }
            }
            ValuesView::Symbols(ids) => Values::Symbol(ids.clone()),
            ValuesView::SymbolDict { dict, ids } => Values::SymbolDict {
                dict: dict.iter().map(|s| s.to_string()).collect(),
                ids: ids.clone(),
            },
            ValuesView::Varlen { .. } => {
                let vals = (0..self.value_count()).filter_map(|i| self.varlen_value(i));
                if self.ty == ColumnType::Varchar {
                    Values::Varchar(
                        vals.map(|b| String::from_utf8_lossy(b).into_owned())
                            .collect(),
                    )
                } else {
                    Values::Binary(vals.map(|b| b.to_vec()).collect())
                }
            }
            ValuesView::Arrays(a) => {
                if self.ty == ColumnType::DoubleArray {
                    Values::DoubleArray(
                        a.iter()
                            .map(|x| ArrayValue {
                                dims: x.dims.clone(),
                                data: fixed(x.data),
                            })
                            .collect(),
                    )
                } else {
                    Values::LongArray(
                        a.iter()
                            .map(|x| ArrayValue {
                                dims: x.dims.clone(),
                                data: fixed(x.data),
                            })
                            .collect(),
                    )
                }
            }
            ValuesView::Fixed(b) => match self.ty {
                ColumnType::Byte => Values::Byte(fixed(b)),
                ColumnType::Short => Values::Short(fixed(b)),
                ColumnType::Int => Values::Int(fixed(b)),
                ColumnType::Long => Values::Long(fixed(b)),
                ColumnType::Float => Values::Float(fixed(b)),
                ColumnType::Double => Values::Double(fixed(b)),
                ColumnType::Date => Values::Date(fixed(b)),
                ColumnType::Timestamp => Values::Timestamp(fixed(b)),
                ColumnType::TimestampNanos => Values::TimestampNanos(fixed(b)),
                ColumnType::Uuid => Values::Uuid(fixed(b)),
                ColumnType::Long256 => Values::Long256(fixed(b)),
                ColumnType::Char => Values::Char(fixed(b)),
                _ => Values::Ipv4(fixed(b)),
            },
        };
        // A bitmap with no bit set means the same as no bitmap: normalise.
        let nulls = self
            .nulls
            .filter(|_| self.null_count > 0)
            .map(|bm| (0..self.row_count).map(|i| bit_is_set(bm, i)).collect());
        ColumnData {
            nulls,
            values,
            null_mode: NullMode::Bitmap,
        }
    }
}
