//! Escaping and name rules of the line protocol.

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::MAX_NAME_BYTES;

/// A membership table of `bytes`, for scans that stop at any of them (a
/// byte test is one load, not a chain of compares).
pub(super) const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

/// Bytes that take a `\` before them in unquoted text (table, symbol and
/// column names, symbol values).
static ESCAPE_UNQUOTED: [bool; 256] = byte_set(b" ,=\n\r\\");

/// Bytes that take a `\` before them inside a quoted string value.
static ESCAPE_QUOTED: [bool; 256] = byte_set(b"\"\\\n\r");

#[inline]
fn write_escaped(out: &mut Vec<u8>, s: &str, esc: &[bool; 256]) {
    let bytes = s.as_bytes();
    // Most text needs no escape: one scan, one copy.
    let Some(first) = bytes.iter().position(|&b| esc[usize::from(b)]) else {
        out.extend_from_slice(bytes);
        return;
    };
    out.reserve(bytes.len() + 8);
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if esc[usize::from(b)] {
            out.extend_from_slice(&bytes[start..i]);
            out.push(b'\\');
            start = i;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Writes a table name, symbol name, column name or symbol value with a
/// `\` before each space, `,`, `=`, `\n`, `\r` and `\`.
pub fn write_escaped_name(out: &mut Vec<u8>, s: &str) {
    write_escaped(out, s, &ESCAPE_UNQUOTED);
}

/// Writes a string column value in quotes with a `\` before each `"`,
/// `\`, `\n` and `\r`.
pub fn write_quoted_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_escaped(out, s, &ESCAPE_QUOTED);
    out.push(b'"');
}

/// Bytes copied at once by the `*_in` writers.
const RUN: usize = 32;

/// [`write_escaped`] of `s`, whose bytes start `tail` (`s` followed by
/// the rest of its buffer): short text with nothing to escape is one
/// fixed-size copy of `tail`'s first bytes, cut back to `s`'s length (no
/// `memcpy` call for a few bytes).
#[inline]
fn write_escaped_in(out: &mut Vec<u8>, s: &str, tail: &[u8], esc: &[bool; 256]) {
    let bytes = s.as_bytes();
    if bytes.len() <= RUN
        && let Some(run) = tail.first_chunk::<RUN>()
        && !bytes.iter().any(|&b| esc[usize::from(b)])
    {
        let at = out.len();
        out.extend_from_slice(run);
        out.truncate(at + bytes.len());
        return;
    }
    write_escaped(out, s, esc);
}

/// [`write_escaped_name`] of `s`, whose bytes start `tail`.
pub(super) fn write_escaped_name_in(out: &mut Vec<u8>, s: &str, tail: &[u8]) {
    write_escaped_in(out, s, tail, &ESCAPE_UNQUOTED);
}

/// [`write_quoted_string`] of `s`, whose bytes start `tail`.
pub(super) fn write_quoted_string_in(out: &mut Vec<u8>, s: &str, tail: &[u8]) {
    out.push(b'"');
    write_escaped_in(out, s, tail, &ESCAPE_QUOTED);
    out.push(b'"');
}

/// A short constant of the lines (a table name, a `,name=` key), appended
/// as one fixed-size copy of its padded bytes cut back to its length.
#[derive(Debug, Clone)]
pub(super) struct Padded {
    padded: [u8; RUN],
    bytes: Vec<u8>,
}

impl Padded {
    pub(super) fn new(bytes: Vec<u8>) -> Padded {
        let mut padded = [0u8; RUN];
        if let Some(p) = padded.get_mut(..bytes.len()) {
            p.copy_from_slice(&bytes);
        }
        Padded { padded, bytes }
    }

    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    #[inline]
    pub(super) fn put(&self, out: &mut Vec<u8>) {
        if self.bytes.len() <= RUN {
            let at = out.len();
            out.extend_from_slice(&self.padded);
            out.truncate(at + self.bytes.len());
        } else {
            out.extend_from_slice(&self.bytes);
        }
    }
}

/// The most bytes [`write_escaped_name`] writes for `s`.
pub(crate) fn escaped_name_max(s: &str) -> usize {
    2 * s.len()
}

fn forbidden_anywhere(c: char) -> bool {
    matches!(
        c,
        '?' | ',' | '\'' | '"' | '\\' | '/' | ':' | ')' | '(' | '+' | '*' | '%' | '~' | '\u{feff}'
    ) || (c.is_control() && c != ' ')
}

fn name_error(what: &str, name: &str, why: String) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!("{what} {name:?} is not a valid QuestDB name: {why}"),
    )
}

fn check_len(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(name_error(what, name, "it is empty".into()));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(name_error(
            what,
            name,
            format!("it has {} bytes, at most {MAX_NAME_BYTES}", name.len()),
        ));
    }
    Ok(())
}

/// Checks a table name against QuestDB's rules: 1..=127 bytes, none of
/// `? , ' " \ / : ( ) + * % ~`, no control character or UTF-8 BOM, and no
/// `.` first, last or twice in a row. The error names the table.
pub fn validate_table_name(name: &str) -> Result<()> {
    check_len("table name", name)?;
    let mut prev = '\0';
    for (i, c) in name.char_indices() {
        if forbidden_anywhere(c) {
            return Err(name_error(
                "table name",
                name,
                format!("it has {c:?} at byte {i}"),
            ));
        }
        if c == '.' && (i == 0 || i + 1 == name.len() || prev == '.') {
            return Err(name_error(
                "table name",
                name,
                format!("a '.' at byte {i} may not start or end it or follow another '.'"),
            ));
        }
        prev = c;
    }
    Ok(())
}

/// Checks a column (or symbol) name against QuestDB's rules: 1..=127
/// bytes, none of `? . , ' " \ / : ( ) + - * % ~`, no control character or
/// UTF-8 BOM. The error names the column.
pub fn validate_column_name(name: &str) -> Result<()> {
    check_len("column name", name)?;
    for (i, c) in name.char_indices() {
        if forbidden_anywhere(c) || c == '.' || c == '-' {
            return Err(name_error(
                "column name",
                name,
                format!("it has {c:?} at byte {i}"),
            ));
        }
    }
    Ok(())
}
