//! ILP ingest for the embedded server: a body of lines → one Arrow batch
//! per table → one commit (the same [`Catalog::commit`] QWP ingest uses,
//! so one transaction per table, all tables of a body atomically).
//!
//! Column types follow QuestDB: a new column gets [`infer_type`]'s type
//! (tags become SYMBOL); a known column keeps its type and takes the
//! values QuestDB converts (an integer into a DOUBLE, FLOAT, TIMESTAMP,
//! DATE or DECIMAL column, a string or tag into a SYMBOL or VARCHAR
//! column, any timestamp unit into a TIMESTAMP, TIMESTAMP_NANOS or DATE
//! column). A value that does not fit is an error naming the line, table
//! and column, and nothing of the body is committed. New tables get a
//! designated TIMESTAMP named `timestamp`; lines without a timestamp get
//! the server's time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::{ArrayRef, RecordBatch, TimestampMicrosecondArray, TimestampNanosecondArray};
use arrow::datatypes::{Field, Schema, SchemaRef};

use super::Shared;
use super::ilp_columns::{Col, Data, build, put, tight};
use super::storage::{Catalog, DEFAULT_TS_NAME, key};
use crate::bridge::types::{QwpType, arrow_field, qwp_type_of, type_name};
use crate::protocol::ColumnType;
use crate::protocol::Status;
use crate::protocol::ilp::{
    FieldValue, IlpVersion, Line, LineTimestamp, TimestampUnit, infer_type, parse_lines,
    same_short, validate_column_name, validate_table_name,
};

/// Rows one commit writes: `(table, batch, designated column name)`.
pub(crate) type Writes = Vec<(String, RecordBatch, Option<String>)>;

/// The unit of timestamps written without a suffix (`/write?precision=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precision {
    /// `n`, `ns` (the default).
    Nanos,
    /// `u`, `us`.
    Micros,
    /// `ms`.
    Millis,
    /// `s`.
    Seconds,
}

impl Precision {
    /// The precision a `precision=` value names.
    pub(crate) fn parse(s: &str) -> Option<Precision> {
        match s {
            "n" | "ns" => Some(Precision::Nanos),
            "u" | "us" => Some(Precision::Micros),
            "ms" => Some(Precision::Millis),
            "s" => Some(Precision::Seconds),
            _ => None,
        }
    }

    /// An unsuffixed timestamp in this precision, as nanoseconds.
    fn to_nanos(self, v: i64) -> Option<i64> {
        match self {
            Precision::Nanos => Some(v),
            Precision::Micros => v.checked_mul(1_000),
            Precision::Millis => v.checked_mul(1_000_000),
            Precision::Seconds => v.checked_mul(1_000_000_000),
        }
    }
}

/// Why a body was refused: the line (1-based) when one is to blame.
#[derive(Debug, Clone)]
pub(crate) struct IlpFailure {
    /// The line at fault.
    pub(crate) line: Option<usize>,
    /// What is wrong (names table and column).
    pub(crate) message: String,
    /// A server-side failure (storage), not the client's data.
    pub(crate) internal: bool,
}

/// Parses `body`, builds the batches and commits them (nothing in sink
/// mode). Acknowledge only after `Ok`: the rows are then as durable as an
/// acknowledged QWP frame.
pub(crate) fn ingest(shared: &Shared, body: &[u8], precision: Precision) -> Result<(), IlpFailure> {
    let writes = to_writes(&shared.catalog, body, precision, now_micros())?;
    commit(shared, writes)
}

/// Commits `writes` in one transaction (nothing in sink mode).
pub(crate) fn commit(shared: &Shared, writes: Writes) -> Result<(), IlpFailure> {
    if shared.cfg.sink || writes.is_empty() {
        return Ok(());
    }
    shared
        .catalog
        .commit(writes)
        .map(|_| ())
        .map_err(|r| IlpFailure {
            line: None,
            message: r.message,
            internal: matches!(r.status, Status::WriteError | Status::InternalError),
        })
}

/// The server's time in microseconds since the epoch.
pub(crate) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Parses `body` into one batch per table (in first-seen order); `now`
/// (µs) stamps lines without a timestamp.
pub(crate) fn to_writes(
    catalog: &Catalog,
    body: &[u8],
    precision: Precision,
    now: i64,
) -> Result<Writes, IlpFailure> {
    let mut w = BodyWrites::new(catalog, precision, now, body.len());
    w.feed(body, true)?;
    w.finish()
}

/// The batches of a body whose lines are parsed as its bytes arrive
/// ([`feed`](Self::feed) what came, [`finish`](Self::finish) at the end):
/// a server reading a large request parses what it has while the rest is
/// on its way, and a stream (ILP over TCP) is parsed in pieces.
pub(crate) struct BodyWrites<'c> {
    catalog: &'c Catalog,
    precision: Precision,
    now: i64,
    tables: Vec<TableAcc>,
    index: HashMap<String, usize>,
    /// The table of the previous line (and where its name was): bodies
    /// usually hold runs of one table, so most lines need no lookup.
    last: Option<(usize, Option<Place>)>,
    /// Lines taken so far (later lines' numbers count on from here).
    lines: usize,
    /// Bytes of the body not taken yet (as announced; sizes the first
    /// table's columns).
    left: usize,
    /// See [`good`](Self::good).
    good: usize,
}

impl<'c> BodyWrites<'c> {
    /// An empty body of about `len` bytes in all.
    pub(crate) fn new(catalog: &'c Catalog, precision: Precision, now: i64, len: usize) -> Self {
        BodyWrites {
            catalog,
            precision,
            now,
            tables: Vec::new(),
            index: HashMap::new(),
            last: None,
            lines: 0,
            left: len,
            good: 0,
        }
    }

    /// Takes the complete lines at the start of `avail` (the body's next
    /// bytes) and returns how many bytes they span; the caller hands the
    /// rest again, with more bytes, to the next call. With `end` (`avail`
    /// ends the body) every line is taken, and a bad one is the error.
    /// Otherwise a line is complete when the parser finds its newline
    /// (a byte `\n` can also be inside a binary value or an escape, so
    /// the parser decides, not a search), and a line that fails only
    /// because `avail` ends inside it waits for more bytes.
    pub(crate) fn feed(&mut self, avail: &[u8], end: bool) -> Result<usize, IlpFailure> {
        // Bytes and lines taken (the lines up to the last line taken).
        let (mut taken, mut lines_taken) = (0, 0);
        let lines = self.lines;
        let res = self.take_lines(avail, end, &mut taken, &mut lines_taken);
        self.lines = lines + lines_taken;
        self.left = self.left.saturating_sub(taken);
        self.good = taken;
        res.map(|()| taken)
    }

    /// The bytes the last [`feed`](Self::feed) took, or on its error the
    /// good lines before the bad one (which a stream commits: their rows
    /// in `self` may hold part of the bad line).
    pub(crate) fn good(&self) -> usize {
        self.good
    }

    fn take_lines(
        &mut self,
        avail: &[u8],
        end: bool,
        taken: &mut usize,
        lines_taken: &mut usize,
    ) -> Result<(), IlpFailure> {
        let mut parse = parse_lines(avail, IlpVersion::V3);
        let span = avail.as_ptr_range();
        let span = span.start as usize..span.end as usize;
        // One line's vectors, reused by every line of `avail`.
        let mut line = Line::empty();
        let lines = self.lines;
        loop {
            let at = parse.offset();
            let Some(item) = parse.next_into(&mut line) else {
                // The end of `avail`: what follows the last line taken is
                // blank or comment lines, which (but at the body's end)
                // are read again with the next bytes.
                if end {
                    (*taken, *lines_taken) = (avail.len(), parse.line_no());
                }
                return Ok(());
            };
            if !end
                && match &item {
                    Ok(()) => !parse.terminated(),
                    Err(e) => e.incomplete,
                }
            {
                return Ok(());
            }
            if let Err(e) = item {
                let no = lines + e.line_no;
                return Err(IlpFailure {
                    line: Some(no),
                    message: format!("error in line {no}: {}", e.message),
                    internal: false,
                });
            }
            let next = parse.offset();
            self.add(&line, &span, avail.len(), at, next, lines + parse.line_no())?;
            (*taken, *lines_taken) = (next, parse.line_no());
        }
    }

    /// Adds `line` (bytes `at..next` of `avail`, which lies at `span`
    /// and has `len` bytes; numbered `no`) to its table's rows. Inlined
    /// into the line loop, as it was before bodies came in pieces.
    #[inline(always)]
    fn add(
        &mut self,
        line: &Line<'_>,
        span: &std::ops::Range<usize>,
        len: usize,
        at: usize,
        next: usize,
        no: usize,
    ) -> Result<(), IlpFailure> {
        let fail = |m: String| IlpFailure {
            line: Some(no),
            message: format!("error in line {no}: {m}"),
            internal: false,
        };
        let place = place(span, &line.table);
        let tables = &mut self.tables;
        let ti = match self.last.filter(|&(i, p)| {
            (p.is_some() && p == place) || tables[i].name.eq_ignore_ascii_case(&line.table)
        }) {
            Some((i, _)) => i,
            None => {
                let k = key(&line.table);
                match self.index.get(&k) {
                    Some(&i) => i,
                    None => {
                        // The first table's columns get room for the rows
                        // of the body if its lines are like its first, with
                        // a quarter more for lines shorter than it (a
                        // column that outgrows its room is copied whole;
                        // room never written costs no memory, and
                        // `finish` gives it back).
                        let rows = if tables.is_empty() {
                            let rest = self.left.max(len).saturating_sub(at);
                            let est = rest / (next - at).max(1) + 1;
                            est + est / 4 + 16
                        } else {
                            0
                        };
                        let acc = TableAcc::new(self.catalog, &line.table, rows).map_err(fail)?;
                        tables.push(acc);
                        self.index.insert(k, tables.len() - 1);
                        tables.len() - 1
                    }
                }
            }
        };
        self.last = Some((ti, place));
        let t = &mut tables[ti];
        t.add_line(line, span, self.precision, self.now)
            .map_err(|m| fail(format!("table {}, {m}", t.name)))
    }

    /// Whether no line was taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Forgets where names were: the bytes fed so far moved (a name at
    /// one of their places may be another now).
    pub(crate) fn forget_places(&mut self) {
        self.last = None;
        for t in &mut self.tables {
            for c in &mut t.cols {
                c.place = None;
            }
        }
    }

    /// The batches of the lines taken.
    pub(crate) fn finish(self) -> Result<Writes, IlpFailure> {
        self.tables
            .into_iter()
            .map(TableAcc::finish)
            .collect::<Result<Writes, String>>()
            .map_err(|m| IlpFailure {
                line: None,
                message: m,
                internal: true,
            })
    }
}

/// Columns of a table looked through one by one before a lookup by name.
const FEW_COLUMNS: usize = 32;

/// Where a name borrowed from the body is: its address and length.
pub(super) type Place = (usize, usize);

/// The [`Place`] of `name` if it lies in the body (`span`), which does not
/// change while read: a name at the same place is the same name. `None`
/// for a name unescaped into a buffer (a later one may reuse it).
fn place(span: &std::ops::Range<usize>, name: &str) -> Option<Place> {
    let at = name.as_ptr() as usize;
    (span.contains(&at) && at + name.len() <= span.end).then_some((at, name.len()))
}

/// The rows of one table in a body.
struct TableAcc {
    name: String,
    /// Designated column: name and whether it is TIMESTAMP_NANOS (`None`:
    /// an existing table without one; line timestamps are dropped).
    designated: Option<(String, bool)>,
    /// The stored designated field, for an existing table.
    designated_field: Option<Arc<Field>>,
    existing: Option<SchemaRef>,
    ts: Vec<i64>,
    cols: Vec<Col>,
    by_name: HashMap<String, usize>,
    rows: usize,
    /// Rows to make room for in the columns of the first line.
    room: usize,
}

impl TableAcc {
    /// The rows of table `name`, with room for `room` rows.
    fn new(catalog: &Catalog, name: &str, room: usize) -> Result<TableAcc, String> {
        let mut acc = TableAcc {
            name: name.to_string(),
            designated: Some((DEFAULT_TS_NAME.to_string(), false)),
            designated_field: None,
            existing: None,
            ts: Vec::with_capacity(room),
            cols: Vec::new(),
            by_name: HashMap::new(),
            rows: 0,
            room,
        };
        match catalog.schema_of(name) {
            Some((stored, schema, designated)) => {
                acc.name = stored;
                acc.designated = designated.map(|i| {
                    let f = schema.field(i);
                    let nanos = qwp_type_of(f).is_ok_and(|t| t.ty == ColumnType::TimestampNanos);
                    (f.name().clone(), nanos)
                });
                acc.designated_field = designated.map(|i| Arc::new(schema.field(i).clone()));
                acc.existing = Some(schema);
            }
            None => validate_table_name(name).map_err(|e| e.to_string())?,
        }
        Ok(acc)
    }

    /// The column `name`, added (typed by `value`) when the body or the
    /// table does not have it yet. `hint` is where it probably is (lines
    /// of a table usually name their columns in the same order), checked
    /// before any lookup; `place` is where `name` is in the body (the
    /// parser hands out a name equal to the previous line's, and a field
    /// name met before, at the place it had then, so a column is known
    /// again by it).
    ///
    /// The hint's check is inlined into the line's loop; the lookups are
    /// out of line ([`column_slow`](Self::column_slow)).
    #[inline(always)]
    fn column(
        &mut self,
        name: &str,
        place: Option<Place>,
        value: &FieldValue<'_>,
        tag: bool,
        hint: usize,
    ) -> Result<usize, String> {
        if self.named_at(hint, place) {
            return Ok(hint);
        }
        self.column_slow(name, place, value, tag, hint)
    }

    /// Whether column `i` was last named by the name at `place` (so is
    /// the column of that name; an unescaped name has no place).
    #[inline(always)]
    fn named_at(&self, i: usize, place: Option<Place>) -> bool {
        place.is_some() && self.cols.get(i).is_some_and(|c| c.place == place)
    }

    /// [`column`](Self::column) when the name is not at the hint's place.
    #[inline(never)]
    fn column_slow(
        &mut self,
        name: &str,
        place: Option<Place>,
        value: &FieldValue<'_>,
        tag: bool,
        hint: usize,
    ) -> Result<usize, String> {
        // A line that leaves a column out puts the next one's name here.
        if self.named_at(hint + 1, place) {
            return Ok(hint + 1);
        }
        if let Some(c) = self.cols.get_mut(hint) {
            // Lines usually spell a column the same way: compared exactly
            // first.
            if same_short(c.name.as_bytes(), name.as_bytes()) || c.name.eq_ignore_ascii_case(name) {
                c.place = place;
                return Ok(hint);
            }
        }
        // A line that leaves a column out moves the later ones: found by
        // place, or by name among a few, before a lookup.
        if self.cols.len() <= FEW_COLUMNS {
            let found = (0..self.cols.len()).find(|&i| {
                self.named_at(i, place) || same_short(self.cols[i].name.as_bytes(), name.as_bytes())
            });
            if let Some(i) = found {
                self.cols[i].place = place;
                return Ok(i);
            }
        }
        let k = key(name);
        if let Some(&i) = self.by_name.get(&k) {
            self.cols[i].place = place;
            return Ok(i);
        }
        if self
            .designated
            .as_ref()
            .is_some_and(|(d, _)| d.eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "column {name}: it is the designated timestamp; send it as the line's timestamp"
            ));
        }
        let stored = self
            .existing
            .as_ref()
            .and_then(|s| {
                s.fields()
                    .iter()
                    .find(|f| f.name().eq_ignore_ascii_case(name))
            })
            .cloned();
        let (col_name, ty) = match &stored {
            Some(f) => (
                f.name().clone(),
                qwp_type_of(f).map_err(|e| format!("column {}: {e}", f.name()))?,
            ),
            None => {
                validate_column_name(name).map_err(|e| e.to_string())?;
                let ty = if tag {
                    QwpType::plain(ColumnType::Symbol)
                } else {
                    let mut t = QwpType::plain(infer_type(value));
                    match value {
                        FieldValue::DoubleArray(a) => t.array_dims = a.dims() as u8,
                        FieldValue::Decimal(_) => {
                            t.scale = crate::protocol::ilp::INFERRED_DECIMAL_SCALE
                        }
                        _ => {}
                    }
                    t
                };
                (name.to_string(), ty)
            }
        };
        let room = if self.rows == 0 { self.room } else { 0 };
        let Some(data) = Data::for_type(ty.ty, room) else {
            return Err(format!(
                "column {col_name}: ILP cannot write a {} column",
                type_name(ty.ty).to_ascii_uppercase()
            ));
        };
        // The rows before this one are padded with NULLs at its first
        // value (see `add_value`).
        self.cols.push(Col {
            name: col_name,
            field: stored,
            ty,
            data,
            len: 0,
            place,
        });
        self.by_name.insert(k, self.cols.len() - 1);
        Ok(self.cols.len() - 1)
    }

    /// Adds the row of `line` (whose names lie in `span` unless they were
    /// unescaped).
    fn add_line(
        &mut self,
        line: &Line<'_>,
        span: &std::ops::Range<usize>,
        precision: Precision,
        now: i64,
    ) -> Result<(), String> {
        // Where the next value's column probably is.
        let mut hint = 0;
        for (name, value) in &line.symbols {
            let value = FieldValue::String(Cow::Borrowed(value.as_ref()));
            hint = self.add_value(name, place(span, name), &value, true, hint)?;
        }
        for (name, value) in &line.fields {
            hint = self.add_value(name, place(span, name), value, false, hint)?;
        }
        if let Some((_, nanos)) = &self.designated {
            let ts = match line.timestamp {
                Some(t) => designated_value(t, precision, *nanos)?,
                None if *nanos => now.saturating_mul(1_000),
                None => now,
            };
            self.ts.push(ts);
        }
        self.rows += 1;
        Ok(())
    }

    /// Adds one value of the current row; returns the index after its
    /// column (the next value's likely column). Inlined into the line's
    /// loops (a call per value was a fifth of its instructions).
    #[inline(always)]
    fn add_value(
        &mut self,
        name: &str,
        place: Option<Place>,
        value: &FieldValue<'_>,
        tag: bool,
        hint: usize,
    ) -> Result<usize, String> {
        let i = self.column(name, place, value, tag, hint)?;
        let col = &mut self.cols[i];
        if col.len != self.rows {
            col.catch_up(self.rows)?;
        }
        put(col, value, tag).map_err(|m| format!("column {}: {m}", col.name))?;
        col.len += 1;
        Ok(i + 1)
    }

    fn finish(self) -> Result<(String, RecordBatch, Option<String>), String> {
        let mut fields: Vec<Arc<Field>> = Vec::with_capacity(self.cols.len() + 1);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.cols.len() + 1);
        let table = self.name.clone();
        for mut c in self.cols {
            c.catch_up(self.rows)?;
            let field = c
                .field
                .unwrap_or_else(|| Arc::new(arrow_field(&c.name, c.ty, false)));
            let arr = build(c.data, c.ty)
                .map_err(|e| format!("table {table}, column {}: {e}", c.name))?;
            arrays.push(conform(arr, &field)?);
            fields.push(field);
        }
        let ts_name = self.designated.as_ref().map(|(n, _)| n.clone());
        if let Some((name, nanos)) = self.designated {
            let field = self.designated_field.unwrap_or_else(|| {
                Arc::new(arrow_field(
                    &name,
                    QwpType::plain(ColumnType::Timestamp),
                    true,
                ))
            });
            let arr: ArrayRef = if nanos {
                Arc::new(TimestampNanosecondArray::new(tight(self.ts), None).with_timezone("UTC"))
            } else {
                Arc::new(TimestampMicrosecondArray::new(tight(self.ts), None).with_timezone("UTC"))
            };
            arrays.push(conform(arr, &field)?);
            fields.push(field);
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| format!("table {table}: {e}"))?;
        Ok((table, batch, ts_name))
    }
}

/// Casts `arr` to the stored field's exact Arrow type when they differ
/// (e.g. another time-zone spelling).
fn conform(arr: ArrayRef, field: &Field) -> Result<ArrayRef, String> {
    if arr.data_type() == field.data_type() {
        return Ok(arr);
    }
    arrow::compute::cast(&arr, field.data_type())
        .map_err(|e| format!("column {}: {e}", field.name()))
}

/// The designated timestamp of a line in the column's unit.
fn designated_value(t: LineTimestamp, precision: Precision, nanos: bool) -> Result<i64, String> {
    let overflow = || format!("designated timestamp {} is out of range", t.value);
    let ns = match t.unit {
        TimestampUnit::Nanos => precision.to_nanos(t.value).ok_or_else(overflow)?,
        TimestampUnit::Micros if nanos => t.value.checked_mul(1_000).ok_or_else(overflow)?,
        TimestampUnit::Micros => return Ok(t.value),
    };
    Ok(if nanos { ns } else { ns.div_euclid(1_000) })
}

#[cfg(test)]
#[path = "ilp_tests.rs"]
mod tests;
