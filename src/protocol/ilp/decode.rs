//! Sans-IO ILP parser: bytes → borrowed [`Line`]s, and QuestDB's type
//! inference for first-seen fields.

use std::borrow::Cow;
use std::fmt;

use arrow::datatypes::i256;

use super::escape::byte_set;
use super::numbers::{parse_decimal, parse_i64};
use super::{
    ARRAY_ELEM_DOUBLE, BINARY_ARRAY, BINARY_DECIMAL, BINARY_DOUBLE, BINARY_MARKER, IlpVersion,
    MAX_ARRAY_DIM_LEN, MAX_ARRAY_DIMS, MAX_DECIMAL_BYTES, MAX_DECIMAL_SCALE, TimestampUnit,
};
use crate::error::Error;
use crate::protocol::ColumnType;

/// A malformed line: its 1-based number, the byte offset (into the whole
/// input) where the problem is, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IlpError {
    /// 1-based line number (blank and comment lines count).
    pub line_no: usize,
    /// Byte offset into the parsed input.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for IlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ILP line {} (byte {}): {}",
            self.line_no, self.offset, self.message
        )
    }
}

impl std::error::Error for IlpError {}

impl From<IlpError> for Error {
    fn from(e: IlpError) -> Error {
        Error::protocol(e.offset, format!("ILP line {}: {}", e.line_no, e.message))
    }
}

/// A timestamp value and its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LineTimestamp {
    /// Units since the Unix epoch.
    pub value: i64,
    /// The unit of `value`.
    pub unit: TimestampUnit,
}

/// A binary n-dimensional DOUBLE array (v2+), borrowing its shape and
/// values from the input (so a [`FieldValue`] stays small to move).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DoubleArray<'a> {
    /// The shape (`dims` × u32 little-endian, outermost first), then the
    /// values (f64 little-endian, row-major, `8 × product(shape)` bytes).
    raw: &'a [u8],
    /// Number of dimensions (1..=[`MAX_ARRAY_DIMS`]).
    dims: u8,
}

impl<'a> DoubleArray<'a> {
    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        usize::from(self.dims)
    }

    /// Length of each dimension, outermost first.
    pub fn shape(&self) -> impl Iterator<Item = u32> + 'a {
        self.raw[..4 * self.dims()]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    fn data(&self) -> &'a [u8] {
        &self.raw[4 * self.dims()..]
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.data().len() / 8
    }

    /// Whether the array holds no values.
    pub fn is_empty(&self) -> bool {
        self.data().is_empty()
    }

    /// The values in row-major order.
    pub fn values(&self) -> impl Iterator<Item = f64> + 'a {
        self.data().chunks_exact(8).map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            f64::from_le_bytes(b)
        })
    }
}

/// A decimal: `unscaled × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// The unscaled value.
    pub unscaled: i256,
    /// Digits after the decimal point (0..=76).
    pub scale: u8,
}

/// A decimal as the line wrote it (checked when parsed), borrowing the
/// input; [`LineDecimal::value`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineDecimal<'a> {
    /// Binary: the unscaled value, big-endian two's complement (1..=32
    /// bytes). Text: the digits before the `d`.
    raw: &'a [u8],
    /// Binary: the scale.
    scale: u8,
    /// Whether `raw` is the text form.
    text: bool,
}

impl LineDecimal<'_> {
    /// The value (`None` only for input the parser would have refused).
    pub fn value(&self) -> Option<Decimal> {
        if self.text {
            return parse_decimal(self.raw);
        }
        let len = self.raw.len();
        if len == 0 || len > MAX_DECIMAL_BYTES {
            return None;
        }
        let negative = self.raw[0] & 0x80 != 0;
        let mut be = [if negative { 0xFF } else { 0 }; 32];
        be[32 - len..].copy_from_slice(self.raw);
        Some(Decimal {
            unscaled: i256::from_be_bytes(be),
            scale: self.scale,
        })
    }
}

/// A column (field) value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// `42i`.
    Integer(i64),
    /// `0x1fi`: the hex digits (without `0x` and `i`), 1..=64 of them.
    Long256(&'a str),
    /// `1.5`, `NaN`, `Infinity`, or a v2 binary double.
    Float(f64),
    /// `t`, `true`, `f`, `false` (any of QuestDB's spellings).
    Boolean(bool),
    /// `"..."`, unescaped.
    String(Cow<'a, str>),
    /// `123t` (µs) or `123n` (ns).
    Timestamp(LineTimestamp),
    /// A v2 binary DOUBLE array.
    DoubleArray(DoubleArray<'a>),
    /// A v3 decimal (`1.25d` or binary).
    Decimal(LineDecimal<'a>),
}

/// One parsed line. Names and strings borrow the input unless they held
/// escapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// The table name.
    pub table: Cow<'a, str>,
    /// Symbol (tag) names and values, in line order.
    pub symbols: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Column (field) names and values, in line order.
    pub fields: Vec<(Cow<'a, str>, FieldValue<'a>)>,
    /// The designated timestamp, if the line has one (`None`: server time).
    /// Without a suffix its unit is nanoseconds.
    pub timestamp: Option<LineTimestamp>,
}

impl Line<'_> {
    /// A line with no table, symbols or fields, to be filled by
    /// [`ParseLines::next_into`].
    pub fn empty() -> Self {
        Line {
            table: Cow::Borrowed(""),
            symbols: Vec::new(),
            fields: Vec::new(),
            timestamp: None,
        }
    }
}

/// Scale of a decimal column QuestDB creates from a first-seen decimal
/// value (precision 18, so a [`ColumnType::Decimal64`]).
pub const INFERRED_DECIMAL_SCALE: u8 = 3;

/// The column type QuestDB creates for a first-seen field with this value:
/// integer → LONG, `0x..i` → LONG256, float → DOUBLE, boolean → BOOLEAN,
/// string → VARCHAR, `t` → TIMESTAMP, `n` → TIMESTAMP_NANOS, array →
/// DOUBLE_ARRAY, decimal → DECIMAL(18, [`INFERRED_DECIMAL_SCALE`]), i.e.
/// [`ColumnType::Decimal64`]. (Symbols always make a
/// [`ColumnType::Symbol`] column.)
pub fn infer_type(value: &FieldValue<'_>) -> ColumnType {
    match value {
        FieldValue::Integer(_) => ColumnType::Long,
        FieldValue::Long256(_) => ColumnType::Long256,
        FieldValue::Float(_) => ColumnType::Double,
        FieldValue::Boolean(_) => ColumnType::Boolean,
        FieldValue::String(_) => ColumnType::Varchar,
        FieldValue::Timestamp(t) => match t.unit {
            TimestampUnit::Micros => ColumnType::Timestamp,
            TimestampUnit::Nanos => ColumnType::TimestampNanos,
        },
        FieldValue::DoubleArray(_) => ColumnType::DoubleArray,
        FieldValue::Decimal(_) => ColumnType::Decimal64,
    }
}

/// Parses `input` as ILP lines of `version`. The iterator yields each line
/// (skipping blank lines and `#` comment lines) and stops after the first
/// error. Never panics.
pub fn parse_lines(input: &[u8], version: IlpVersion) -> ParseLines<'_> {
    ParseLines {
        buf: input,
        pos: 0,
        line_no: 0,
        version,
        done: false,
    }
}

/// A parse step's result: the error boxed, so results stay small to move.
type Parsed<T> = Result<T, Box<IlpError>>;

/// The iterator of [`parse_lines`].
#[derive(Debug, Clone)]
pub struct ParseLines<'a> {
    buf: &'a [u8],
    pos: usize,
    line_no: usize,
    version: IlpVersion,
    done: bool,
}

impl<'a> Iterator for ParseLines<'a> {
    type Item = Result<Line<'a>, IlpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = Line::empty();
        self.next_into(&mut line).map(|r| r.map(|()| line))
    }
}

/// Sets `v[i]` (replacing the previous line's item) or appends it.
fn put_at<T>(v: &mut Vec<T>, i: usize, item: T) {
    match v.get_mut(i) {
        Some(slot) => *slot = item,
        None => v.push(item),
    }
}

/// Where a table name or symbol value ends (or an escape starts).
static TABLE_STOPS: [bool; 256] = byte_set(b", \n\r\\");
/// Where a symbol or column name ends (or an escape starts).
static NAME_STOPS: [bool; 256] = byte_set(b"=, \n\r\\");
/// Where an unquoted value ends.
static VALUE_END: [bool; 256] = byte_set(b", \n\r");
/// Where a run of plain bytes in a quoted string ends.
static QUOTED_STOPS: [bool; 256] = byte_set(b"\"\\\n\r");
/// Where the designated timestamp ends.
static TIMESTAMP_END: [bool; 256] = byte_set(b" \n\r");

/// `a == b` for the short names of a line, compared in place (a slice
/// `==` calls `memcmp`, which costs more than the compare for a few
/// bytes).
#[inline]
pub(crate) fn same_short(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn is_line_end(b: Option<u8>) -> bool {
    matches!(b, None | Some(b'\n') | Some(b'\r'))
}

impl<'a> ParseLines<'a> {
    /// Parses the next line into `line`, reusing its vectors (the
    /// allocation-free form of [`Iterator::next`]): `None` at the end of
    /// the input or after an error, `Some(Err)` for a malformed line.
    /// `line` holds the line only after `Some(Ok(()))`.
    pub fn next_into(&mut self, line: &mut Line<'a>) -> Option<Result<(), IlpError>> {
        loop {
            if self.done {
                return None;
            }
            let b = *self.buf.get(self.pos)?;
            self.line_no += 1;
            match b {
                b'\n' => self.pos += 1,
                b'\r' if self.peek(1) == Some(b'\n') => self.pos += 2,
                b'#' => {
                    self.pos = match self.buf[self.pos..].iter().position(|&c| c == b'\n') {
                        Some(i) => self.pos + i + 1,
                        None => self.buf.len(),
                    }
                }
                _ => {
                    let r = self.line(line);
                    if r.is_err() {
                        self.done = true;
                    }
                    return Some(r.map_err(|e| *e));
                }
            }
        }
    }

    /// The 1-based number of the line last returned (blank and comment
    /// lines count); 0 before the first.
    pub fn line_no(&self) -> usize {
        self.line_no
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.buf.get(self.pos + ahead).copied()
    }

    fn err<T>(&self, offset: usize, message: impl Into<String>) -> Parsed<T> {
        Err(Box::new(IlpError {
            line_no: self.line_no,
            offset,
            message: message.into(),
        }))
    }

    fn utf8(
        &self,
        start: usize,
        bytes: Cow<'a, [u8]>,
        what: &dyn fmt::Display,
    ) -> Parsed<Cow<'a, str>> {
        match bytes {
            Cow::Borrowed(b) => match std::str::from_utf8(b) {
                Ok(s) => Ok(Cow::Borrowed(s)),
                Err(e) => self.err(start + e.valid_up_to(), format!("{what} is not UTF-8")),
            },
            Cow::Owned(v) => match String::from_utf8(v) {
                Ok(s) => Ok(Cow::Owned(s)),
                Err(_) => self.err(start, format!("{what} is not UTF-8")),
            },
        }
    }

    /// Unquoted text up to an unescaped byte of `stop` (one of the
    /// `*_STOPS` sets: they hold the line ends and `\\`); `\\x` stands for
    /// `x`.
    ///
    /// `prev` is the same item of the previous line: text equal to it is
    /// taken from it, checked as UTF-8 already (names repeat line after
    /// line).
    fn unquoted(
        &mut self,
        stop: &[bool; 256],
        prev: Option<&Cow<'a, str>>,
        what: &dyn fmt::Display,
    ) -> Parsed<Cow<'a, str>> {
        let start = self.pos;
        // The same text as `prev` (which holds no byte of `stop`) ending at
        // a stop byte: taken without a scan.
        if let Some(Cow::Borrowed(p)) = prev {
            let p_end = start + p.len();
            if !p.is_empty()
                && self
                    .buf
                    .get(p_end)
                    .is_none_or(|&b| stop[usize::from(b)] && b != b'\\')
                && self
                    .buf
                    .get(start..p_end)
                    .is_some_and(|t| same_short(p.as_bytes(), t))
            {
                self.pos = p_end;
                return Ok(Cow::Borrowed(p));
            }
        }
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let rest = &self.buf[self.pos..];
            let n = rest
                .iter()
                .position(|&b| stop[usize::from(b)])
                .unwrap_or(rest.len());
            if let Some(o) = &mut owned {
                o.extend_from_slice(&rest[..n]);
            }
            self.pos += n;
            if self.peek(0) != Some(b'\\') {
                break;
            }
            match self.peek(1) {
                None => return self.err(self.pos, format!("{what} ends with a lone '\\'")),
                Some(c) => self.unescape(start, &mut owned, c),
            }
        }
        if self.pos == start {
            return self.err(start, format!("{what} is empty"));
        }
        let bytes = match owned {
            Some(v) => Cow::Owned(v),
            None => {
                let buf: &'a [u8] = self.buf;
                let text = &buf[start..self.pos];
                if let Some(Cow::Borrowed(p)) = prev
                    && same_short(p.as_bytes(), text)
                {
                    return Ok(Cow::Borrowed(p));
                }
                Cow::Borrowed(text)
            }
        };
        self.utf8(start, bytes, what)
    }

    /// Takes the escaped byte `c` (the cursor is on its `\\`) into `owned`,
    /// which starts as a copy of the text since `start`.
    fn unescape(&mut self, start: usize, owned: &mut Option<Vec<u8>>, c: u8) {
        let pos = self.pos;
        owned
            .get_or_insert_with(|| self.buf[start..pos].to_vec())
            .push(c);
        self.pos += 2;
    }

    /// Moves the cursor to the next byte in `set` (or the end).
    fn skip_to(&mut self, set: &[bool; 256]) {
        let rest = &self.buf[self.pos..];
        self.pos += rest
            .iter()
            .position(|&b| set[usize::from(b)])
            .unwrap_or(rest.len());
    }

    /// `what` is formatted only for the error (no cost per line).
    fn expect(&mut self, b: u8, what: &dyn fmt::Display) -> Parsed<()> {
        if self.peek(0) == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            let found = match self.peek(0) {
                None => "the end of the input".to_string(),
                Some(c) => format!("{:?}", c as char),
            };
            self.err(
                self.pos,
                format!("expected {:?} {what}, found {found}", b as char),
            )
        }
    }

    /// Whether the token at the cursor is a `name=value` pair (an unescaped
    /// `=` before a space, comma or line end).
    fn at_field(&self) -> bool {
        let mut i = self.pos;
        while let Some(&b) = self.buf.get(i) {
            match b {
                b'=' => return true,
                b' ' | b',' | b'\n' | b'\r' => return false,
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        false
    }

    fn line(&mut self, out: &mut Line<'a>) -> Parsed<()> {
        let line_start = self.pos;
        // `out` still holds the previous line: its names (and symbol
        // values) are compared with this line's before they are replaced.
        out.table = self.unquoted(&TABLE_STOPS, Some(&out.table), &"the table name")?;
        let symbols = &mut out.symbols;
        let mut n = 0;
        while self.peek(0) == Some(b',') {
            self.pos += 1;
            let prev = symbols.get(n);
            let name = self.unquoted(&NAME_STOPS, prev.map(|p| &p.0), &"a symbol name")?;
            self.expect(b'=', &format_args!("after symbol name {name:?}"))?;
            let value =
                if matches!(self.peek(0), Some(b',') | Some(b' ')) || is_line_end(self.peek(0)) {
                    Cow::Borrowed("")
                } else {
                    self.unquoted(&TABLE_STOPS, prev.map(|p| &p.1), &"a symbol value")?
                };
            put_at(symbols, n, (name, value));
            n += 1;
        }
        symbols.truncate(n);
        let fields = &mut out.fields;
        let mut n = 0;
        let mut timestamp = None;
        if self.peek(0) == Some(b' ') {
            self.pos += 1;
            if self.at_field() {
                loop {
                    let prev = fields.get(n).map(|p| &p.0);
                    let name = self.unquoted(&NAME_STOPS, prev, &"a column name")?;
                    self.expect(b'=', &format_args!("after column name {name:?}"))?;
                    let value = self.value(&name)?;
                    put_at(fields, n, (name, value));
                    n += 1;
                    if self.peek(0) == Some(b',') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                if self.peek(0) == Some(b' ') {
                    self.pos += 1;
                    timestamp = Some(self.designated()?);
                }
            } else {
                timestamp = Some(self.designated()?);
            }
        }
        match (self.peek(0), self.peek(1)) {
            (None, _) => {}
            (Some(b'\n'), _) => self.pos += 1,
            (Some(b'\r'), Some(b'\n')) => self.pos += 2,
            (Some(c), _) => {
                return self.err(
                    self.pos,
                    format!("unexpected {:?}; expected the end of the line", c as char),
                );
            }
        }
        fields.truncate(n);
        if symbols.is_empty() && fields.is_empty() {
            return self.err(line_start, "the line has no symbols and no columns");
        }
        out.timestamp = timestamp;
        Ok(())
    }

    fn designated(&mut self) -> Parsed<LineTimestamp> {
        let start = self.pos;
        self.skip_to(&TIMESTAMP_END);
        let tok = &self.buf[start..self.pos];
        let (digits, unit) = match tok.split_last() {
            Some((b'n', d)) => (d, TimestampUnit::Nanos),
            Some((b't', d)) => (d, TimestampUnit::Micros),
            _ => (tok, TimestampUnit::Nanos),
        };
        match parse_i64(digits) {
            Some(value) => Ok(LineTimestamp { value, unit }),
            None => self.err(start, "the designated timestamp is not an integer"),
        }
    }

    fn value(&mut self, name: &str) -> Parsed<FieldValue<'a>> {
        match self.peek(0) {
            Some(b'"') => self.quoted(name),
            Some(BINARY_MARKER) => self.binary(name),
            Some(b',') | Some(b' ') | None | Some(b'\n') | Some(b'\r') => {
                self.err(self.pos, format!("column {name:?} has no value"))
            }
            Some(_) => self.text_value(name),
        }
    }

    fn quoted(&mut self, name: &str) -> Parsed<FieldValue<'a>> {
        self.pos += 1;
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            match self.peek(0) {
                None => {
                    return self.err(start - 1, format!("column {name:?}: unterminated string"));
                }
                Some(b'"') => break,
                Some(b'\n') | Some(b'\r') => {
                    return self.err(
                        self.pos,
                        format!("column {name:?}: a line break in a string must be escaped"),
                    );
                }
                Some(b'\\') => match self.peek(1) {
                    None => {
                        return self
                            .err(start - 1, format!("column {name:?}: unterminated string"));
                    }
                    Some(c) => self.unescape(start, &mut owned, c),
                },
                Some(_) => {
                    let run_start = self.pos;
                    self.skip_to(&QUOTED_STOPS);
                    if let Some(o) = &mut owned {
                        o.extend_from_slice(&self.buf[run_start..self.pos]);
                    }
                }
            }
        }
        let bytes = match owned {
            Some(v) => Cow::Owned(v),
            None => Cow::Borrowed(&self.buf[start..self.pos]),
        };
        self.pos += 1;
        Ok(FieldValue::String(self.utf8(
            start,
            bytes,
            &format_args!("column {name:?}'s string"),
        )?))
    }

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
            None => self.err(
                self.pos,
                format!("column {name:?}: the input ends inside the binary {what}"),
            ),
        }
    }

    fn byte(&mut self, name: &str, what: &str) -> Parsed<u8> {
        Ok(self.take(1, name, what)?[0])
    }

    fn binary(&mut self, name: &str) -> Parsed<FieldValue<'a>> {
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

    fn text_value(&mut self, name: &str) -> Parsed<FieldValue<'a>> {
        let start = self.pos;
        self.skip_to(&VALUE_END);
        let buf: &'a [u8] = self.buf;
        let tok = &buf[start..self.pos];
        let bad = |this: &Self| {
            this.err(
                start,
                format!(
                    "column {name:?}: {:?} is not a valid value",
                    String::from_utf8_lossy(tok)
                ),
            )
        };
        match tok {
            b"t" | b"T" | b"true" | b"True" | b"TRUE" => return Ok(FieldValue::Boolean(true)),
            b"f" | b"F" | b"false" | b"False" | b"FALSE" => return Ok(FieldValue::Boolean(false)),
            _ => {}
        }
        // Typed by the last byte; integers are read from the bytes (only
        // digits pass, so no UTF-8 check is needed).
        let Some((&last, body)) = tok.split_last() else {
            return bad(self);
        };
        let v = match last {
            b'i' => match body
                .strip_prefix(b"0x")
                .or_else(|| body.strip_prefix(b"0X"))
            {
                Some(hex)
                    if !hex.is_empty()
                        && hex.len() <= 64
                        && hex.iter().all(u8::is_ascii_hexdigit) =>
                {
                    std::str::from_utf8(hex).ok().map(FieldValue::Long256)
                }
                Some(_) => None,
                None => parse_i64(body).map(FieldValue::Integer),
            },
            b't' => parse_i64(body).map(|value| {
                FieldValue::Timestamp(LineTimestamp {
                    value,
                    unit: TimestampUnit::Micros,
                })
            }),
            b'n' => parse_i64(body).map(|value| {
                FieldValue::Timestamp(LineTimestamp {
                    value,
                    unit: TimestampUnit::Nanos,
                })
            }),
            b'd' if self.version >= IlpVersion::V3 => parse_decimal(body).map(|_| {
                FieldValue::Decimal(LineDecimal {
                    raw: body,
                    scale: 0,
                    text: true,
                })
            }),
            _ => std::str::from_utf8(tok)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .map(FieldValue::Float),
        };
        match v {
            Some(v) => Ok(v),
            None => bad(self),
        }
    }
}
