//! Rows, one at a time: a [`Buffer`] and the [`RowSender`] that flushes it
//! (automatically by row count, bytes or age, or when asked).
//!
//! ```no_run
//! use questdb_arrow::client::QuestDb;
//! use questdb_arrow::client::rows::TimestampNanos;
//! let db = QuestDb::connect("ws::addr=localhost:9000;")?;
//! let mut sender = db.borrow_row_sender()?;
//! for (sym, price) in [("ETH-USD", 2615.54), ("BTC-USD", 65432.10)] {
//!     sender
//!         .table("trades")?
//!         .symbol("symbol", sym)?
//!         .column_f64("price", price)?
//!         .at(TimestampNanos::now())?; // .at_now(): the server's time
//! }
//! sender.flush()?; // blocks until the server acknowledged the rows
//! # Ok::<(), questdb_arrow::Error>(())
//! ```
//!
//! Rows are stored column-wise per table and sent through the same frame
//! encoder as Arrow batches: each table's columns become an Arrow
//! `RecordBatch` (without a copy) and all tables of a flush go out as one
//! transaction — one frame with a table block per table when it fits.
//!
//! | QuestDB type | setter |
//! |---|---|
//! | SYMBOL | `symbol(name, &str)` |
//! | BOOLEAN | `column_bool` |
//! | BYTE / SHORT / INT / LONG | `column_i8` / `column_i16` / `column_i32` / `column_i64` |
//! | FLOAT / DOUBLE | `column_f32` / `column_f64` |
//! | VARCHAR / BINARY | `column_str(name, &str)` / `column_binary(name, &[u8])` |
//! | CHAR | `column_char(name, u16)` (a UTF-16 code unit) |
//! | UUID | `column_uuid(name, lo, hi)` |
//! | LONG256 | `column_long256(name, &[u8; 32])` |
//! | IPv4 | `column_ipv4(name, Ipv4Addr)` |
//! | DATE | `column_date(name, millis)` |
//! | GEOHASH | `column_geohash(name, bits, precision_bits)` |
//! | DECIMAL64 / 128 / 256 | `column_dec64` / `column_dec128` / `column_dec256` (unscaled value and scale), `column_dec(name, "12.345")` |
//! | DOUBLE[] / LONG[] (1-D) | `column_arr_f64(name, &[f64])` / `column_arr_i64(name, &[i64])` |
//! | TIMESTAMP / TIMESTAMP_NANOS | `column_ts(name, TimestampMicros / TimestampNanos)` |
//! | designated timestamp | `at(TimestampMicros / TimestampNanos)` or `at_now()` |
//!
//! Arrays of more than one dimension are not offered here (send them as
//! Arrow `List` columns).
//!
//! Names: 1..=`max_name_len` bytes (default 127). Table names may not
//! contain `? , ' " \ / : ( ) + * % ~`, CR, LF, NUL, U+0001–U+000F, U+007F
//! or U+FEFF, nor start or end with a dot or hold two in a row; column
//! names may contain neither those characters nor `-` or `.`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};

mod buffer;
mod column;
mod sender;
mod sym;

pub use buffer::{Buffer, DEFAULT_INIT_BUF_SIZE, DEFAULT_MAX_BUF_SIZE, DEFAULT_MAX_NAME_LEN};
pub use sender::{AutoFlush, PooledRowSender, Row, RowSender};

use column::Kind;

/// A timestamp in microseconds or nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// Microseconds (TIMESTAMP).
    Micros(i64),
    /// Nanoseconds (TIMESTAMP_NANOS).
    Nanos(i64),
}

/// Microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampMicros(i64);

/// Nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampNanos(i64);

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl TimestampMicros {
    /// `micros` since the epoch.
    pub fn new(micros: i64) -> Self {
        TimestampMicros(micros)
    }

    /// The system clock now.
    pub fn now() -> Self {
        TimestampMicros(since_epoch().as_micros() as i64)
    }

    /// The value.
    pub fn as_i64(self) -> i64 {
        self.0
    }
}

impl TimestampNanos {
    /// `nanos` since the epoch.
    pub fn new(nanos: i64) -> Self {
        TimestampNanos(nanos)
    }

    /// The system clock now.
    pub fn now() -> Self {
        TimestampNanos(since_epoch().as_nanos() as i64)
    }

    /// The value.
    pub fn as_i64(self) -> i64 {
        self.0
    }
}

impl From<TimestampMicros> for Timestamp {
    fn from(t: TimestampMicros) -> Self {
        Timestamp::Micros(t.0)
    }
}

impl From<TimestampNanos> for Timestamp {
    fn from(t: TimestampNanos) -> Self {
        Timestamp::Nanos(t.0)
    }
}

/// QuestDB's type name of a kind, for messages.
fn kind_name(k: Kind) -> &'static str {
    crate::bridge::types::type_name(k.qwp().ty)
}

fn bad_char(c: char) -> bool {
    matches!(
        c,
        '?' | ','
            | '\''
            | '"'
            | '\\'
            | '/'
            | ':'
            | '('
            | ')'
            | '+'
            | '*'
            | '%'
            | '~'
            | '\r'
            | '\n'
            | '\0'
            | '\u{1}'..='\u{f}' | '\u{7f}' | '\u{feff}'
    )
}

fn check_len(what: &str, name: &str, max: usize) -> Result<()> {
    if name.is_empty() || name.len() > max {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "{what} name {name:?} is {} bytes; it must be 1..={max} bytes (max_name_len)",
                name.len()
            ),
        ));
    }
    Ok(())
}

fn illegal(what: &str, name: &str, c: char) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!("{what} name {name:?} contains the illegal character {c:?}"),
    )
}

/// A table name: length, characters, dots.
pub(crate) fn check_table_name(name: &str, max: usize) -> Result<()> {
    check_len("table", name, max)?;
    if let Some(c) = name.chars().find(|&c| bad_char(c)) {
        return Err(illegal("table", name, c));
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("table name {name:?}: a dot may not start or end it, nor follow another dot"),
        ));
    }
    Ok(())
}

/// A column name: length and characters (no `-`, no `.`).
pub(crate) fn check_column_name(name: &str, max: usize) -> Result<()> {
    check_len("column", name, max)?;
    match name.chars().find(|&c| bad_char(c) || c == '-' || c == '.') {
        Some(c) => Err(illegal("column", name, c)),
        None => Ok(()),
    }
}

/// `"-12.345"` as `(-12345, 3)`; `None` when it is not a decimal or does
/// not fit 38 digits.
fn parse_decimal(text: &str) -> Option<(i128, u8)> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v: i128 = 0;
    for c in int.chars().chain(frac.chars()) {
        let d = c.to_digit(10)?;
        v = v.checked_mul(10)?.checked_add(i128::from(d))?;
    }
    if int.len() + frac.len() > 38 || frac.len() > 38 {
        return None;
    }
    Some((if neg { -v } else { v }, frac.len() as u8))
}

#[cfg(test)]
mod tests;
