//! [`Buffer`]: rows accumulated column-wise, per table.

use super::column::{Column, FastMap, Kind, Vals, offset, same};
use super::{Timestamp, check_column_name, check_table_name};
use crate::client::sender::TableBatch;
use crate::conf::Conf;
use crate::error::{Error, ErrorKind, Result};

mod lend;
mod numeric;

use lend::lend_table;

/// Default `init_buf_size`: 64 KiB.
pub const DEFAULT_INIT_BUF_SIZE: usize = 64 * 1024;
/// Default `max_buf_size`: 100 MiB.
pub const DEFAULT_MAX_BUF_SIZE: usize = 100 * 1024 * 1024;
/// Default `max_name_len`: 127 bytes, QuestDB's own limit.
pub const DEFAULT_MAX_NAME_LEN: usize = 127;

/// The rows of one table.
struct TableCols {
    name: String,
    cols: Vec<Column>,
    by_name: FastMap<String, usize>,
    /// The designated timestamp (NULL where `at_now` left it to the
    /// server), once some row gave one.
    ts: Option<Column>,
    rows: usize,
    /// Where the next column of the row is expected (rows usually set
    /// their columns in the same order).
    hint: usize,
}

impl TableCols {
    /// The index of column `name`: where the row's previous setter
    /// points first, else by name.
    #[inline]
    fn find(&self, name: &str) -> Option<usize> {
        match self.cols.get(self.hint) {
            Some(c) if same(&c.name, name) => Some(self.hint),
            _ => self.find_by_name(name),
        }
    }

    #[inline(never)]
    fn find_by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The column for a value of `kind` where the plain case (`found`,
    /// unset in the row, of that kind) did not hold: an error for a column
    /// set twice or holding another kind, an unused column re-kinded, a
    /// new column created.
    #[cold]
    #[inline(never)]
    fn column_for(
        &mut self,
        found: Option<usize>,
        name: &str,
        kind: Kind,
        max_name_len: usize,
    ) -> Result<usize> {
        let Some(ci) = found else {
            check_column_name(name, max_name_len)?;
            self.cols.push(Column::new(name, kind, self.rows));
            self.by_name.insert(name.to_string(), self.cols.len() - 1);
            return Ok(self.cols.len() - 1);
        };
        let c = &mut self.cols[ci];
        if c.len > self.rows {
            return Err(api("set twice in one row".into()));
        }
        if c.kind != kind {
            if c.used {
                return Err(api(format!(
                    "the column holds {} values, not {}",
                    super::kind_name(c.kind),
                    super::kind_name(kind)
                )));
            }
            c.rekind(kind);
        }
        Ok(ci)
    }
}

/// The row being built.
struct RowState {
    table: usize,
    new_table: bool,
    cols_before: usize,
    bytes_before: usize,
    had_ts: bool,
    /// Columns the row set so far. A column holds a value of the row
    /// when its length is past the table's rows.
    set: usize,
}

/// Rows for one or several tables, accumulated column by column (typed
/// growable vectors with validity; symbols as a dictionary per column),
/// flushed through the same frame encoder as Arrow batches: each table's
/// columns become an Arrow `RecordBatch` without a copy, and all tables of
/// the buffer go out as one transaction (one frame with a table block per
/// table when it fits).
///
/// A row is `table(t)`, any setters, then [`Buffer::at`] or
/// [`Buffer::at_now`]; only these add it. A column a row does not set is
/// NULL in that row; a column first set at row *k* is NULL in the rows
/// before. A failing call (a bad name, a type that differs from the
/// column's, a column set twice, `max_buf_size` exceeded, ...) rolls the
/// unfinished row back and leaves the buffer as it was before the row; the
/// error names the table, the row (its index among the table's rows in the
/// buffer) and the column.
///
/// `Send`; not shared (`&mut` to write). [`Buffer::clear`] keeps the
/// allocations for the next rows.
///
/// ```
/// use questdb_arrow::client::rows::{Buffer, TimestampMicros};
/// let mut buf = Buffer::new();
/// buf.table("trades")?
///     .symbol("sym", "ETH-USD")?
///     .column_f64("price", 2615.54)?
///     .at(TimestampMicros::new(1_700_000_000_000_000))?;
/// buf.table("trades")?.symbol("sym", "BTC-USD")?.at_now()?;
/// assert_eq!(buf.row_count(), 2);
/// # Ok::<(), questdb_arrow::Error>(())
/// ```
pub struct Buffer {
    tables: Vec<TableCols>,
    index: FastMap<String, usize>,
    last_table: usize,
    row: Option<RowState>,
    rows: usize,
    bytes: usize,
    init_buf_size: usize,
    max_buf_size: usize,
    max_name_len: usize,
}

const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Buffer>();
};

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer")
            .field("rows", &self.rows)
            .field("len", &self.bytes)
            .field("tables", &self.tables.iter().filter(|t| t.rows > 0).count())
            .field("max_buf_size", &self.max_buf_size)
            .field("max_name_len", &self.max_name_len)
            .finish_non_exhaustive()
    }
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer::new()
    }
}

fn api(msg: String) -> Error {
    Error::new(ErrorKind::InvalidData, msg)
}

impl Buffer {
    /// An empty buffer with the default sizes: `init_buf_size` 64 KiB,
    /// `max_buf_size` 100 MiB, `max_name_len` 127.
    pub fn new() -> Buffer {
        Buffer {
            tables: Vec::new(),
            index: FastMap::default(),
            last_table: 0,
            row: None,
            rows: 0,
            bytes: 0,
            init_buf_size: DEFAULT_INIT_BUF_SIZE,
            max_buf_size: DEFAULT_MAX_BUF_SIZE,
            max_name_len: DEFAULT_MAX_NAME_LEN,
        }
    }

    /// An empty buffer with the `init_buf_size`, `max_buf_size` and
    /// `max_name_len` of `conf`.
    pub fn from_conf(conf: &Conf) -> Buffer {
        Buffer::new()
            .with_init_buf_size(usize::try_from(conf.init_buf_size()).unwrap_or(usize::MAX))
            .with_max_buf_size(usize::try_from(conf.max_buf_size()).unwrap_or(usize::MAX))
            .with_max_name_len(conf.max_name_len())
    }

    /// Bytes each table reserves once its first row is in: room for as
    /// many rows of that size (`init_buf_size`).
    pub fn with_init_buf_size(mut self, bytes: usize) -> Buffer {
        self.init_buf_size = bytes;
        self
    }

    /// The most bytes the buffer may hold ([`Buffer::len`]); a row that
    /// would pass it is refused with an error naming `max_buf_size`.
    pub fn with_max_buf_size(mut self, bytes: usize) -> Buffer {
        self.max_buf_size = bytes.max(1);
        self
    }

    /// The longest table or column name in UTF-8 bytes (`max_name_len`,
    /// ≥ 1; QuestDB's own limit is 127).
    pub fn with_max_name_len(mut self, bytes: usize) -> Buffer {
        self.max_name_len = bytes.max(1);
        self
    }

    /// `init_buf_size` in bytes.
    pub fn init_buf_size(&self) -> usize {
        self.init_buf_size
    }

    /// `max_buf_size` in bytes.
    pub fn max_buf_size(&self) -> usize {
        self.max_buf_size
    }

    /// `max_name_len` in bytes.
    pub fn max_name_len(&self) -> usize {
        self.max_name_len
    }

    /// Bytes of the buffered values: each value's width (strings, binary
    /// and arrays: their bytes plus 4; symbols: 4 plus each new
    /// dictionary entry's bytes; designated timestamps: 8). NULLs count 0.
    pub fn len(&self) -> usize {
        self.bytes
    }

    /// Whether no row is buffered.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Rows added (by `at` / `at_now`) since the last clear, all tables.
    pub fn row_count(&self) -> usize {
        self.rows
    }

    /// Bytes the buffer has allocated for values (kept across
    /// [`Buffer::clear`] and flushes).
    pub fn capacity(&self) -> usize {
        self.tables
            .iter()
            .flat_map(|t| t.cols.iter().chain(t.ts.as_ref()))
            .map(Column::capacity_bytes)
            .sum()
    }

    /// Whether a row is begun (`table` called) and not yet finished.
    pub fn in_row(&self) -> bool {
        self.row.is_some()
    }

    /// Drops every row (an unfinished one too), keeping the allocations.
    pub fn clear(&mut self) {
        self.row = None;
        for t in &mut self.tables {
            for c in &mut t.cols {
                c.clear();
            }
            t.ts = None;
            t.rows = 0;
            t.hint = 0;
        }
        self.rows = 0;
        self.bytes = 0;
    }

    /// Begins a row of `table` (created in the buffer when new; its name
    /// checked against `max_name_len` and QuestDB's rules). Calling it
    /// while a row is unfinished rolls that row back and is an error.
    #[inline]
    pub fn table(&mut self, table: &str) -> Result<&mut Buffer> {
        match self.tables.get(self.last_table) {
            Some(t) if self.row.is_none() && same(&t.name, table) => {
                self.begin(self.last_table, false);
                Ok(self)
            }
            _ => self.table_slow(table),
        }
    }

    /// [`Self::table`] for another table than the last row's, a new one,
    /// or a call while a row is unfinished.
    #[inline(never)]
    fn table_slow(&mut self, table: &str) -> Result<&mut Buffer> {
        if let Some(r) = &self.row {
            let t = &self.tables[r.table];
            let msg = format!(
                "table {}, row {}: table({table:?}) called before the row was finished with at() or at_now(); the row is rolled back",
                t.name, t.rows
            );
            self.rollback();
            return Err(api(msg));
        }
        let i = match self.tables.get(self.last_table) {
            Some(t) if same(&t.name, table) => Some(self.last_table),
            _ => self.index.get(table).copied(),
        };
        let (i, new_table) = match i {
            Some(i) => (i, false),
            None => {
                check_table_name(table, self.max_name_len)?;
                self.tables.push(TableCols {
                    name: table.to_string(),
                    cols: Vec::new(),
                    by_name: FastMap::default(),
                    ts: None,
                    rows: 0,
                    hint: 0,
                });
                self.index.insert(table.to_string(), self.tables.len() - 1);
                (self.tables.len() - 1, true)
            }
        };
        self.begin(i, new_table);
        Ok(self)
    }

    /// Starts a row of table `i`.
    #[inline]
    fn begin(&mut self, i: usize, new_table: bool) {
        self.last_table = i;
        let t = &self.tables[i];
        self.row = Some(RowState {
            table: i,
            new_table,
            cols_before: t.cols.len(),
            bytes_before: self.bytes,
            had_ts: t.ts.is_some(),
            set: 0,
        });
    }

    /// Drops the unfinished row, if any, leaving the buffer as it was
    /// before its `table` call.
    pub fn discard_row(&mut self) {
        self.rollback();
    }

    /// Undoes the unfinished row, if any.
    fn rollback(&mut self) {
        let Some(r) = self.row.take() else {
            return;
        };
        self.bytes = r.bytes_before;
        if r.new_table {
            if let Some(t) = self.tables.pop() {
                self.index.remove(&t.name);
            }
            self.last_table = 0;
            return;
        }
        let t = &mut self.tables[r.table];
        for c in t.cols.drain(r.cols_before..) {
            t.by_name.remove(&c.name);
        }
        let rows = t.rows;
        for c in &mut t.cols {
            c.truncate(rows);
        }
        if !r.had_ts {
            t.ts = None;
        } else if let Some(ts) = &mut t.ts {
            ts.truncate(rows);
        }
        t.hint = 0;
    }

    /// Where the row stands, for messages.
    fn at_row(&self) -> String {
        match &self.row {
            Some(r) => {
                let t = &self.tables[r.table];
                format!("table {}, row {}", t.name, t.rows)
            }
            None => String::from("no row"),
        }
    }

    /// Sets one value of the row: finds or creates the column, checks its
    /// kind, and lets `push` append the value (`bytes` counted). Any error
    /// rolls the row back.
    #[inline]
    fn put(
        &mut self,
        name: &str,
        kind: Kind,
        bytes: usize,
        push: impl FnOnce(&mut Column) -> Result<usize>,
    ) -> Result<&mut Buffer> {
        match self.put_inner(name, kind, bytes, push) {
            Ok(()) => Ok(self),
            Err(e) => Err(self.put_failed(name, e)),
        }
    }

    /// `e` in the row's context (table, row, column `name`), the row
    /// rolled back.
    #[cold]
    #[inline(never)]
    pub(super) fn put_failed(&mut self, name: &str, e: Error) -> Error {
        let e = e.context(format!("{}, column {name:?}", self.at_row()));
        self.rollback();
        e
    }

    #[inline]
    fn put_inner(
        &mut self,
        name: &str,
        kind: Kind,
        bytes: usize,
        push: impl FnOnce(&mut Column) -> Result<usize>,
    ) -> Result<()> {
        let Some(r) = &mut self.row else {
            return Err(api(format!(
                "column {name:?} set outside a row: call table() first"
            )));
        };
        let t = &mut self.tables[r.table];
        let ci = match t.find(name) {
            Some(ci) if t.cols[ci].len == t.rows && t.cols[ci].kind == kind => ci,
            found => t.column_for(found, name, kind, self.max_name_len)?,
        };
        t.hint = ci + 1;
        let extra = push(&mut t.cols[ci])?;
        r.set += 1;
        self.bytes += bytes + extra;
        Ok(())
    }

    /// The kind of column `name` of the row's table when it holds values.
    fn used_kind(&self, name: &str) -> Option<Kind> {
        let t = &self.tables[self.row.as_ref()?.table];
        t.find(name)
            .map(|i| &t.cols[i])
            .filter(|c| c.used)
            .map(|c| c.kind)
    }

    /// A SYMBOL value (kept in a dictionary per column; sent as ids).
    #[inline]
    pub fn symbol(&mut self, name: &str, value: &str) -> Result<&mut Buffer> {
        self.put(name, Kind::Symbol, 4, |c| {
            let Vals::Sym(s) = &mut c.vals else {
                return Ok(0);
            };
            let (k, new) = s.key(value)?;
            s.keys.push(k);
            if new {
                c.dict_row = Some(c.len);
            }
            c.pushed();
            Ok(if new { value.len() } else { 0 })
        })
    }

    /// A BOOLEAN value.
    pub fn column_bool(&mut self, name: &str, value: bool) -> Result<&mut Buffer> {
        self.put(name, Kind::Bool, 1, |c| {
            if let Vals::Bool(b) = &mut c.vals {
                b.append(value);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A VARCHAR value.
    #[inline]
    pub fn column_str(&mut self, name: &str, value: &str) -> Result<&mut Buffer> {
        self.put_var(name, Kind::Varchar, value.as_bytes())
    }

    /// A BINARY value.
    pub fn column_binary(&mut self, name: &str, value: &[u8]) -> Result<&mut Buffer> {
        self.put_var(name, Kind::Binary, value)
    }

    #[inline]
    fn put_var(&mut self, name: &str, kind: Kind, value: &[u8]) -> Result<&mut Buffer> {
        self.put(name, kind, 4 + value.len(), |c| {
            if let Vals::Var(o, d) = &mut c.vals {
                let end = offset(d.len() + value.len())?;
                d.extend_from_slice(value);
                o.push(end);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A 1-D DOUBLE array (`DOUBLE[]`).
    pub fn column_arr_f64(&mut self, name: &str, values: &[f64]) -> Result<&mut Buffer> {
        self.put(name, Kind::DoubleArray, 4 + 8 * values.len(), |c| {
            if let Vals::ListF64(o, d) = &mut c.vals {
                let end = offset(d.len() + values.len())?;
                d.extend_from_slice(values);
                o.push(end);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A 1-D LONG array (`LONG[]`).
    pub fn column_arr_i64(&mut self, name: &str, values: &[i64]) -> Result<&mut Buffer> {
        self.put(name, Kind::LongArray, 4 + 8 * values.len(), |c| {
            if let Vals::ListI64(o, d) = &mut c.vals {
                let end = offset(d.len() + values.len())?;
                d.extend_from_slice(values);
                o.push(end);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A UUID from its low and high 64 bits (as QuestDB's
    /// `to_uuid(lo, hi)`).
    pub fn column_uuid(&mut self, name: &str, lo: u64, hi: u64) -> Result<&mut Buffer> {
        let v = (u128::from(hi) << 64) | u128::from(lo);
        self.put_fixed(name, Kind::Uuid, &v.to_be_bytes())
    }

    /// A LONG256 from its 32 bytes (least significant first, as the Arrow
    /// bridge's FixedSizeBinary(32)).
    pub fn column_long256(&mut self, name: &str, value: &[u8; 32]) -> Result<&mut Buffer> {
        self.put_fixed(name, Kind::Long256, value)
    }

    fn put_fixed(&mut self, name: &str, kind: Kind, value: &[u8]) -> Result<&mut Buffer> {
        self.put(name, kind, value.len(), |c| {
            if let Vals::Fixed(_, v) = &mut c.vals {
                v.extend_from_slice(value);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// A TIMESTAMP (µs) or TIMESTAMP_NANOS column value; a column keeps
    /// the unit of its first value (later values are converted).
    pub fn column_ts(&mut self, name: &str, ts: impl Into<Timestamp>) -> Result<&mut Buffer> {
        let ts = ts.into();
        let kind = match (self.used_kind(name), ts) {
            (Some(k @ (Kind::Ts | Kind::TsNanos)), _) => k,
            (_, Timestamp::Micros(_)) => Kind::Ts,
            (_, Timestamp::Nanos(_)) => Kind::TsNanos,
        };
        match ts_in(ts, kind) {
            Some(v) => self.put_i64(name, kind, v),
            None => {
                Err(self.put_failed(name, api(format!("timestamp {ts:?} overflows nanoseconds"))))
            }
        }
    }

    /// A DATE from milliseconds since the epoch.
    pub fn column_date(&mut self, name: &str, millis: i64) -> Result<&mut Buffer> {
        self.put_i64(name, Kind::Date, millis)
    }

    #[inline]
    fn put_i64(&mut self, name: &str, kind: Kind, value: i64) -> Result<&mut Buffer> {
        self.put(name, kind, 8, |c| {
            if let Vals::I64(v) = &mut c.vals {
                v.push(value);
            }
            c.pushed();
            Ok(0)
        })
    }

    /// The designated timestamp of the row, which finishes it. Its unit
    /// (µs or ns) is the table's in this buffer from its first row; it
    /// must not be negative.
    pub fn at(&mut self, ts: impl Into<Timestamp>) -> Result<()> {
        self.finish(Some(ts.into()))
    }

    /// Finishes the row with the time assigned by the server when the
    /// rows arrive.
    pub fn at_now(&mut self) -> Result<()> {
        self.finish(None)
    }

    fn finish(&mut self, ts: Option<Timestamp>) -> Result<()> {
        let res = self.finish_inner(ts);
        if let Err(e) = res {
            let e = e.context(self.at_row());
            self.rollback();
            return Err(e);
        }
        Ok(())
    }

    fn finish_inner(&mut self, ts: Option<Timestamp>) -> Result<()> {
        let Some(r) = &self.row else {
            return Err(api(
                "at() / at_now() outside a row: call table() first".into()
            ));
        };
        let (ti, bytes_before, set) = (r.table, r.bytes_before, r.set);
        let t = &mut self.tables[ti];
        if set == 0 {
            return Err(api(
                "a row needs at least one column besides its timestamp".into()
            ));
        }
        let ts_bytes = usize::from(ts.is_some()) * 8;
        if self.bytes + ts_bytes > self.max_buf_size {
            return Err(Error::config(
                "max_buf_size",
                &self.max_buf_size.to_string(),
                format!(
                    "the buffer would hold {} bytes; flush it first or raise max_buf_size",
                    self.bytes + ts_bytes
                ),
            ));
        }
        let rows = t.rows;
        match ts {
            Some(ts) => {
                let kind = match (&t.ts, ts) {
                    (Some(c), _) => c.kind,
                    (None, Timestamp::Micros(_)) => Kind::Ts,
                    (None, Timestamp::Nanos(_)) => Kind::TsNanos,
                };
                let v = ts_in(ts, kind).filter(|v| *v >= 0).ok_or_else(|| {
                    api(format!(
                        "designated timestamp {ts:?} is negative or overflows nanoseconds"
                    ))
                })?;
                let c = t.ts.get_or_insert_with(|| Column::new("", kind, rows));
                if let Vals::I64(x) = &mut c.vals {
                    x.push(v);
                }
                c.pushed();
            }
            None => {
                if let Some(c) = &mut t.ts {
                    c.push_null();
                }
            }
        }
        if set < t.cols.len() {
            for c in t.cols.iter_mut().filter(|c| c.len == rows) {
                c.push_null();
            }
        }
        t.rows += 1;
        t.hint = 0;
        self.rows += 1;
        self.bytes += ts_bytes;
        self.row = None;
        if t.rows == 1 && self.init_buf_size > 0 {
            let per_row = (self.bytes - bytes_before).max(1);
            let reserve = self.init_buf_size / per_row;
            for c in t.cols.iter_mut().chain(t.ts.as_mut()) {
                c.reserve(reserve);
            }
        }
        Ok(())
    }

    /// Moves every table's rows into Arrow batches (no copy) for a flush:
    /// one per table, or one per run of rows when a table mixes `at` and
    /// `at_now` rows. [`Self::reclaim`] must follow.
    pub(crate) fn lend(&mut self) -> Result<Vec<TableBatch>> {
        if self.row.is_some() {
            return Err(api(format!(
                "{}: flush while a row is unfinished; finish it with at() or at_now()",
                self.at_row()
            )));
        }
        let mut out = Vec::new();
        for i in 0..self.tables.len() {
            if self.tables[i].rows == 0 {
                continue;
            }
            if let Err(e) = lend_table(&mut self.tables[i], &mut out) {
                let name = self.tables[i].name.clone();
                // The arrays go first, so the values come back without a copy.
                drop(out);
                self.reclaim(false);
                return Err(e.context(format!("table {name}")));
            }
        }
        Ok(out)
    }

    /// Takes back what [`Self::lend`] lent: `sent` empties the buffer
    /// (keeping its allocations), else the rows stay for another try.
    pub(crate) fn reclaim(&mut self, sent: bool) {
        for t in &mut self.tables {
            for c in t.cols.iter_mut().chain(t.ts.as_mut()) {
                c.reclaim(!sent);
            }
        }
        if sent {
            self.clear();
        }
    }
}

/// `ts` in the unit of `kind` (TIMESTAMP µs or TIMESTAMP_NANOS); `None`
/// on overflow.
fn ts_in(ts: Timestamp, kind: Kind) -> Option<i64> {
    match (ts, kind) {
        (Timestamp::Micros(v), Kind::TsNanos) => v.checked_mul(1000),
        (Timestamp::Nanos(v), Kind::Ts) => Some(v.div_euclid(1000)),
        (Timestamp::Micros(v) | Timestamp::Nanos(v), _) => Some(v),
    }
}

#[cfg(test)]
pub(super) fn same_for_tests(a: &str, b: &str) -> bool {
    same(a, b)
}
