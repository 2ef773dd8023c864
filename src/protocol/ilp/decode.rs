//! Sans-IO ILP parser: bytes → borrowed [`Line`]s.

use std::borrow::Cow;
use std::fmt;

use super::line::{FieldValue, Line, LineDecimal, LineTimestamp};
use super::numbers::{parse_decimal, parse_i64, signed};
use super::scan::{
    NAME_STOPS, QUOTED_STOPS, TABLE_STOPS, TIMESTAMP_END, VALUE_END, digits, ends, find_any,
};
use super::{BINARY_DOUBLE, BINARY_MARKER, IlpVersion, TimestampUnit};
use crate::error::Error;

// The binary values of protocol versions 2 and 3.
#[path = "decode_binary.rs"]
mod binary;

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
    /// The input ended inside the line (a token, a string or a binary
    /// value ran into its end): the line may parse once more bytes follow
    /// it, so a reader of a stream waits for them before failing.
    pub incomplete: bool,
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
        terminated: false,
        names: Vec::new(),
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
    /// Whether the line last returned ended with its newline.
    terminated: bool,
    /// Column names met so far, each at its first place in the input (at
    /// most [`REMEMBERED_NAMES`]): a name found again is handed out at
    /// that place, so a reader that knows columns by place knows it even
    /// when lines leave columns out.
    names: Vec<&'a str>,
}

/// Column names a [`ParseLines`] remembers.
const REMEMBERED_NAMES: usize = 64;

impl<'a> Iterator for ParseLines<'a> {
    type Item = Result<Line<'a>, IlpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = Line::empty();
        self.next_into(&mut line).map(|r| r.map(|()| line))
    }
}

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

    /// The byte offset in the input where the next line starts (after
    /// the line last returned).
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Whether the line last returned ended with its newline (`\n` or
    /// `\r\n`), not at the end of the input: a reader of a stream knows
    /// it whole (the input's last bytes may be a line cut off, and a byte
    /// `\n` may be inside a binary value).
    pub fn terminated(&self) -> bool {
        self.terminated
    }

    /// The 1-based number of the line last returned (blank and comment
    /// lines count); 0 before the first.
    pub fn line_no(&self) -> usize {
        self.line_no
    }

    #[inline(always)]
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.buf.get(self.pos + ahead).copied()
    }

    /// A malformed line; `incomplete` when the cursor stands at the end of
    /// the input (the error may be the input's end, not the line's).
    #[cold]
    fn err<T>(&self, offset: usize, message: impl Into<String>) -> Parsed<T> {
        let short = self.pos >= self.buf.len();
        self.err_at(offset, message.into(), short)
    }

    /// A line that needs bytes past the end of the input (a binary value
    /// or an escape cut off).
    #[cold]
    fn err_short<T>(&self, offset: usize, message: impl Into<String>) -> Parsed<T> {
        self.err_at(offset, message.into(), true)
    }

    fn err_at<T>(&self, offset: usize, message: String, incomplete: bool) -> Parsed<T> {
        Err(Box::new(IlpError {
            line_no: self.line_no,
            offset,
            message,
            incomplete,
        }))
    }

    /// `bytes` of the input (from `start`) as text.
    #[inline(always)]
    fn utf8(&self, start: usize, bytes: &'a [u8], what: &dyn fmt::Display) -> Parsed<&'a str> {
        match crate::audited::text::utf8(bytes) {
            Ok(s) => Ok(s),
            Err(e) => self.err(start + e.valid_up_to(), format!("{what} is not UTF-8")),
        }
    }

    /// Unescaped text (from `start` in the input) as text.
    #[cold]
    fn utf8_owned(
        &self,
        start: usize,
        bytes: Vec<u8>,
        what: &dyn fmt::Display,
    ) -> Parsed<Cow<'a, str>> {
        match String::from_utf8(bytes) {
            Ok(s) => Ok(Cow::Owned(s)),
            Err(_) => self.err(start, format!("{what} is not UTF-8")),
        }
    }

    /// Unquoted text up to an unescaped byte of `stop` (one of the
    /// `*_STOPS` sets: they hold the line ends and `\\`), into `slot`;
    /// `\\x` stands for `x`.
    ///
    /// `slot` holds the same item of the previous line: text equal to it
    /// is left there, checked as UTF-8 already (names repeat line after
    /// line). The text is written in place, not
    /// returned: a returned `Cow` was copied through memory right after it
    /// was stored, a stall the profile showed on every name.
    ///
    /// The common case, the slot's text again, is inlined into the line's
    /// loop; the rest is [`text_into_slow`](Self::text_into_slow) (a call
    /// per name was a fifth of the parser's instructions).
    #[inline(always)]
    fn text_into<const N: usize>(
        &mut self,
        stop: [u8; N],
        slot: &mut Cow<'a, str>,
        what: &dyn fmt::Display,
    ) -> Parsed<()> {
        if let Cow::Borrowed(p) = slot
            && self.here(p, stop)
        {
            self.pos += p.len();
            return Ok(());
        }
        self.text_into_slow(stop, slot, what)
    }

    /// Whether the input at the cursor is `p` (a previous item, which
    /// holds no byte of `stop`) ending at a stop byte: then it is taken
    /// without a scan.
    #[inline(always)]
    fn here<const N: usize>(&self, p: &str, stop: [u8; N]) -> bool {
        let start = self.pos;
        let p_end = start + p.len();
        !p.is_empty()
            && self
                .buf
                .get(p_end)
                .is_none_or(|&b| b != b'\\' && stop.contains(&b))
            && self
                .buf
                .get(start..p_end)
                .is_some_and(|t| same_short(p.as_bytes(), t))
    }

    /// A column name (the line's `at`-th, into `slot`) that is not the
    /// previous line's at this position (lines that leave columns out
    /// shift the next line's names against the previous line's): a name
    /// met before in the input, or else scanned and remembered. The names
    /// met after it become what the `later` slots expect.
    #[inline(never)]
    fn field_name_slow(
        &mut self,
        slot: &mut Cow<'a, str>,
        later: &mut [(Cow<'a, str>, FieldValue<'a>)],
        at: usize,
    ) -> Parsed<()> {
        // Looked for from the line's position on (a left-out column puts
        // the name one further), then from the start.
        let from = at.min(self.names.len());
        let known = self.names[from..]
            .iter()
            .position(|p| self.here(p, NAME_STOPS))
            .map(|i| from + i)
            .or_else(|| {
                self.names[..from]
                    .iter()
                    .position(|p| self.here(p, NAME_STOPS))
            });
        if let Some(i) = known {
            let p = self.names[i];
            self.pos += p.len();
            *slot = Cow::Borrowed(p);
            // The names met after this one are the likely next names of
            // this line: the later slots expect them (instead of the
            // previous line's, which the left-out column shifted).
            for ((later, _), &q) in later.iter_mut().zip(&self.names[i + 1..]) {
                *later = Cow::Borrowed(q);
            }
            return Ok(());
        }
        self.text_into_slow(NAME_STOPS, slot, &"a column name")?;
        if let Cow::Borrowed(s) = *slot
            && self.names.len() < REMEMBERED_NAMES
        {
            // At the line's position: a name the first lines left out
            // goes between its neighbours, so the names stay in the
            // order lines give them and are found from a line's position
            // (a body parsed in pieces meets the names again per piece).
            self.names.insert(at.min(self.names.len()), s);
        }
        Ok(())
    }

    /// [`text_into`](Self::text_into) when the slot's text is not next:
    /// the text scanned.
    #[inline(never)]
    fn text_into_slow<const N: usize>(
        &mut self,
        stop: [u8; N],
        slot: &mut Cow<'a, str>,
        what: &dyn fmt::Display,
    ) -> Parsed<()> {
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let end = find_any(self.buf, self.pos, stop);
            if let Some(o) = &mut owned {
                o.extend_from_slice(&self.buf[self.pos..end]);
            }
            self.pos = end;
            if self.peek(0) != Some(b'\\') {
                break;
            }
            match self.peek(1) {
                None => return self.err_short(self.pos, format!("{what} ends with a lone '\\'")),
                Some(c) => self.unescape(start, &mut owned, c),
            }
        }
        if self.pos == start {
            return self.err(start, format!("{what} is empty"));
        }
        match owned {
            Some(v) => *slot = self.utf8_owned(start, v, what)?,
            None => {
                let buf: &'a [u8] = self.buf;
                let text = &buf[start..self.pos];
                if let Cow::Borrowed(p) = slot
                    && same_short(p.as_bytes(), text)
                {
                    return Ok(());
                }
                *slot = Cow::Borrowed(self.utf8(start, text, what)?);
            }
        }
        Ok(())
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

    /// Moves the cursor to the next byte of `stops` (or the end).
    #[inline(always)]
    fn skip_to<const N: usize>(&mut self, stops: [u8; N]) {
        self.pos = find_any(self.buf, self.pos, stops);
    }

    /// Takes byte `b`, or fails with `what` (made only for the error: a
    /// `format_args!` would be built before the call, on every line).
    #[inline(always)]
    fn expect_with(&mut self, b: u8, what: impl FnOnce() -> String) -> Parsed<()> {
        if self.peek(0) == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            self.unexpected(b, &what())
        }
    }

    #[cold]
    fn unexpected(&self, b: u8, what: &dyn fmt::Display) -> Parsed<()> {
        let found = match self.peek(0) {
            None => "the end of the input".to_string(),
            Some(c) => format!("{:?}", c as char),
        };
        self.err(
            self.pos,
            format!("expected {:?} {what}, found {found}", b as char),
        )
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
        self.text_into(TABLE_STOPS, &mut out.table, &"the table name")?;
        let symbols = &mut out.symbols;
        let mut n = 0;
        while self.peek(0) == Some(b',') {
            self.pos += 1;
            if symbols.len() == n {
                symbols.push((Cow::Borrowed(""), Cow::Borrowed("")));
            }
            let (name, value) = &mut symbols[n];
            self.text_into(NAME_STOPS, name, &"a symbol name")?;
            self.expect_with(b'=', || format!("after symbol name {name:?}"))?;
            if matches!(self.peek(0), Some(b',') | Some(b' ')) || is_line_end(self.peek(0)) {
                *value = Cow::Borrowed("");
            } else {
                self.text_into(TABLE_STOPS, value, &"a symbol value")?;
            }
            n += 1;
        }
        symbols.truncate(n);
        let fields = &mut out.fields;
        let mut n: usize = 0;
        let mut timestamp = None;
        if self.peek(0) == Some(b' ') {
            self.pos += 1;
            if self.at_field() {
                loop {
                    if fields.len() == n {
                        fields.push((Cow::Borrowed(""), FieldValue::Boolean(false)));
                    }
                    // The previous line's name here (inline), or else a
                    // name met before (a line that leaves a column out
                    // shifts the names after it) or a new one.
                    let same = match &fields[n].0 {
                        Cow::Borrowed(p) if self.here(p, NAME_STOPS) => Some(p.len()),
                        _ => None,
                    };
                    match same {
                        Some(len) => self.pos += len,
                        None => {
                            let (this, later) = fields[n..].split_at_mut(1);
                            self.field_name_slow(&mut this[0].0, later, n)?;
                        }
                    }
                    let (name, value) = &mut fields[n];
                    self.expect_with(b'=', || format!("after column name {name:?}"))?;
                    self.value_into(name, value)?;
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
        self.terminated = true;
        match (self.peek(0), self.peek(1)) {
            (None, _) => self.terminated = false,
            (Some(b'\n'), _) => self.pos += 1,
            (Some(b'\r'), Some(b'\n')) => self.pos += 2,
            (Some(b'\r'), None) => {
                return self.err_short(self.pos, "the line ends with a lone '\\r'");
            }
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
        if let Some((value, suffix, end)) = self.integer_token(b"tn", true, TIMESTAMP_END) {
            self.pos = end;
            let unit = match suffix {
                Some(b't') => TimestampUnit::Micros,
                _ => TimestampUnit::Nanos,
            };
            return Ok(LineTimestamp { value, unit });
        }
        self.skip_to(TIMESTAMP_END);
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

    /// The value of column `name`, into `slot` (in place, as
    /// [`text_into`](Self::text_into) writes names): binary doubles,
    /// integers, timestamps and strings directly, the rarer values
    /// through their readers.
    fn value_into(&mut self, name: &str, slot: &mut FieldValue<'a>) -> Parsed<()> {
        match self.peek(0) {
            Some(b'"') => self.quoted_into(name, slot),
            Some(BINARY_MARKER) => {
                if self.version >= IlpVersion::V2
                    && self.peek(1) == Some(BINARY_DOUBLE)
                    && let Some(w) = self
                        .buf
                        .get(self.pos + 2..)
                        .and_then(|r| r.first_chunk::<8>())
                {
                    *slot = FieldValue::Float(f64::from_le_bytes(*w));
                    self.pos += 10;
                    return Ok(());
                }
                *slot = self.binary(name)?;
                Ok(())
            }
            Some(b',') | Some(b' ') | None | Some(b'\n') | Some(b'\r') => {
                self.err(self.pos, format!("column {name:?} has no value"))
            }
            Some(_) => {
                if let Some((value, suffix, end)) = self.integer_token(b"itn", false, VALUE_END) {
                    self.pos = end;
                    *slot = match suffix {
                        Some(b'i') => FieldValue::Integer(value),
                        Some(b't') => FieldValue::Timestamp(LineTimestamp {
                            value,
                            unit: TimestampUnit::Micros,
                        }),
                        _ => FieldValue::Timestamp(LineTimestamp {
                            value,
                            unit: TimestampUnit::Nanos,
                        }),
                    };
                    return Ok(());
                }
                *slot = self.text_value(name)?;
                Ok(())
            }
        }
    }

    fn quoted_into(&mut self, name: &str, slot: &mut FieldValue<'a>) -> Parsed<()> {
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
                            .err_short(start - 1, format!("column {name:?}: unterminated string"));
                    }
                    Some(c) => self.unescape(start, &mut owned, c),
                },
                Some(_) => {
                    let run_start = self.pos;
                    self.skip_to(QUOTED_STOPS);
                    if let Some(o) = &mut owned {
                        o.extend_from_slice(&self.buf[run_start..self.pos]);
                    }
                }
            }
        }
        let end = self.pos;
        self.pos += 1;
        let what = format_args!("column {name:?}'s string");
        let text = match owned {
            Some(v) => self.utf8_owned(start, v, &what)?,
            None => {
                let buf: &'a [u8] = self.buf;
                Cow::Borrowed(self.utf8(start, &buf[start..end], &what)?)
            }
        };
        *slot = FieldValue::String(text);
        Ok(())
    }

    /// The common form of an integer token read in one pass: `[-]digits`,
    /// then one byte of `suffixes` (or, with `bare`, none), then a byte of
    /// `stops` or the end. Returns the value, the suffix and where the
    /// token ends; `None` for any other token (or an out-of-range value),
    /// which the general path reads, or refuses, as it always did.
    #[inline(always)]
    fn integer_token<const N: usize>(
        &self,
        suffixes: &[u8],
        bare: bool,
        stops: [u8; N],
    ) -> Option<(i64, Option<u8>, usize)> {
        let neg = self.peek(0) == Some(b'-');
        let first = self.pos + usize::from(neg);
        let (end, magnitude) = digits(self.buf, first);
        if end == first {
            return None;
        }
        let suffix = self.buf.get(end).copied().filter(|b| suffixes.contains(b));
        if suffix.is_none() && !bare {
            return None;
        }
        let after = end + usize::from(suffix.is_some());
        if !ends(self.buf.get(after), stops) {
            return None;
        }
        Some((signed(neg, magnitude?)?, suffix, after))
    }

    /// An unquoted value that is not the common form of an integer or
    /// timestamp ([`value_into`](Self::value_into) reads those).
    fn text_value(&mut self, name: &str) -> Parsed<FieldValue<'a>> {
        let start = self.pos;
        self.skip_to(VALUE_END);
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
