//! The binary values of ILP protocol versions 2 and 3 (doubles,
//! n-dimensional double arrays, decimals), read by [`ParseLines`].

use super::super::line::{DoubleArray, FieldValue, LineDecimal};
use super::super::{
    ARRAY_ELEM_DOUBLE, BINARY_ARRAY, BINARY_DECIMAL, BINARY_DOUBLE, IlpVersion, MAX_ARRAY_DIM_LEN,
    MAX_ARRAY_DIMS, MAX_DECIMAL_BYTES, MAX_DECIMAL_SCALE,
};
use super::{ParseLines, Parsed};

impl<'a> ParseLines<'a> {
    #[inline(always)]
    fn take(&mut self, n: usize, name: &str, what: &str) -> Parsed<&'a [u8]> {
        let buf: &'a [u8] = self.buf;
        match self
            .pos
            .checked_add(n)
            .and_then(|end| buf.get(self.pos..end))
        {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => self.err_short(
                self.pos,
                format!("column {name:?}: the input ends inside the binary {what}"),
            ),
        }
    }

    #[inline(always)]
    fn byte(&mut self, name: &str, what: &str) -> Parsed<u8> {
        Ok(self.take(1, name, what)?[0])
    }

    pub(super) fn binary(&mut self, name: &str) -> Parsed<FieldValue<'a>> {
        let start = self.pos;
        if self.version < IlpVersion::V2 {
            return self.err(
                start,
                format!("column {name:?}: binary values need protocol version 2 or later"),
            );
        }
        self.pos += 1;
        let ty = self.byte(name, "value type")?;
        match ty {
            BINARY_DOUBLE => {
                let mut b = [0u8; 8];
                b.copy_from_slice(self.take(8, name, "double")?);
                Ok(FieldValue::Float(f64::from_le_bytes(b)))
            }
            BINARY_ARRAY => {
                let elem = self.byte(name, "array")?;
                if elem != ARRAY_ELEM_DOUBLE {
                    return self.err(
                        self.pos - 1,
                        format!("column {name:?}: array element type {elem} is not DOUBLE ({ARRAY_ELEM_DOUBLE})"),
                    );
                }
                let dims = self.byte(name, "array")? as usize;
                if dims == 0 || dims > MAX_ARRAY_DIMS {
                    return self.err(
                        self.pos - 1,
                        format!("column {name:?}: an array has 1..={MAX_ARRAY_DIMS} dimensions, not {dims}"),
                    );
                }
                let raw_start = self.pos;
                let mut count: usize = 1;
                for _ in 0..dims {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(self.take(4, name, "array shape")?);
                    let n = u32::from_le_bytes(b);
                    if n as usize > MAX_ARRAY_DIM_LEN {
                        return self.err(
                            self.pos - 4,
                            format!("column {name:?}: array dimension length {n} exceeds {MAX_ARRAY_DIM_LEN}"),
                        );
                    }
                    count = count.saturating_mul(n as usize);
                }
                self.take(count.saturating_mul(8), name, "array values")?;
                let buf: &'a [u8] = self.buf;
                Ok(FieldValue::DoubleArray(DoubleArray {
                    raw: &buf[raw_start..self.pos],
                    dims: dims as u8,
                }))
            }
            BINARY_DECIMAL if self.version >= IlpVersion::V3 => {
                let scale = self.byte(name, "decimal")?;
                if scale > MAX_DECIMAL_SCALE {
                    return self.err(
                        self.pos - 1,
                        format!(
                            "column {name:?}: decimal scale {scale} exceeds {MAX_DECIMAL_SCALE}"
                        ),
                    );
                }
                let len = self.byte(name, "decimal")? as usize;
                if len == 0 || len > MAX_DECIMAL_BYTES {
                    return self.err(
                        self.pos - 1,
                        format!("column {name:?}: a decimal has 1..={MAX_DECIMAL_BYTES} bytes, not {len}"),
                    );
                }
                let raw = self.take(len, name, "decimal")?;
                Ok(FieldValue::Decimal(LineDecimal {
                    raw,
                    scale,
                    text: false,
                }))
            }
            BINARY_DECIMAL => self.err(
                start,
                format!("column {name:?}: decimals need protocol version 3 or later"),
            ),
            other => self.err(
                start + 1,
                format!("column {name:?}: unknown binary value type {other}"),
            ),
        }
    }
}
