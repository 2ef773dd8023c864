//! Arrow [`RecordBatch`] → ILP lines.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, UInt64Type};
use rayon::prelude::*;

use super::escape::{Padded, validate_column_name, validate_table_name, write_quoted_string_in};
use super::numbers::write_i64;
use super::values::{
    Dec, Levels, Prepared, Strs, Syms, Vals, minimal_twos_complement, write_f64, write_long256,
};
use super::{BINARY_DECIMAL, BINARY_MARKER, IlpVersion, write_escaped_name};
use crate::bridge::types::type_name;
use crate::bridge::{ColumnOverride, QwpType, apply_overrides, qwp_type_of};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::ColumnType;

/// How one column's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Double,
    Str,
    Symbol,
    /// Raw value × `mul` is µs (or ns when `nanos`).
    Ts {
        mul: i64,
        nanos: bool,
    },
    /// Milliseconds, written as µs.
    Date,
    Long256,
    Array {
        dims: u8,
    },
    Decimal {
        scale: u8,
    },
}

#[derive(Debug, Clone)]
struct Column {
    index: usize,
    name: String,
    /// `,`, the escaped name, `=`.
    key: Padded,
    kind: Kind,
}

#[derive(Debug, Clone)]
struct Designated {
    index: usize,
    name: String,
    mul: i64,
    nanos: bool,
}

/// Encodes Arrow batches of one schema as ILP lines for one table.
///
/// Built once per (table, schema, version): every name and column type is
/// checked then, so an unsupported column is refused before anything is
/// written. Row data errors (a UInt64 above `i64::MAX`, a ragged array, a
/// NULL or negative designated timestamp, a row with nothing but NULLs)
/// are found while encoding; the output buffer is then left as it was.
#[derive(Debug, Clone)]
pub struct IlpEncoder {
    table: String,
    table_escaped: Padded,
    version: IlpVersion,
    schema: SchemaRef,
    overrides: Vec<(String, ColumnOverride)>,
    symbols: Vec<Column>,
    fields: Vec<Column>,
    ts: Option<Designated>,
}

fn unsupported(table: &str, f: &Field, t: QwpType, why: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "table {table}, column {:?} (Arrow {}, QuestDB {}): {why}",
            f.name(),
            f.data_type(),
            type_name(t.ty)
        ),
    )
}

fn kind_of(table: &str, f: &Field, t: QwpType, version: IlpVersion) -> Result<Kind> {
    Ok(match t.ty {
        ColumnType::Boolean => Kind::Bool,
        ColumnType::Byte | ColumnType::Short | ColumnType::Int | ColumnType::Long => Kind::Int,
        ColumnType::Float | ColumnType::Double => Kind::Double,
        ColumnType::Symbol => Kind::Symbol,
        ColumnType::Varchar => Kind::Str,
        ColumnType::Timestamp => Kind::Ts {
            mul: t.ts_multiplier,
            nanos: false,
        },
        ColumnType::TimestampNanos => Kind::Ts {
            mul: 1,
            nanos: true,
        },
        ColumnType::Date => Kind::Date,
        ColumnType::Long256 => Kind::Long256,
        ColumnType::DoubleArray if version < IlpVersion::V2 => {
            return Err(unsupported(
                table,
                f,
                t,
                "arrays need ILP protocol version 2 or later",
            ));
        }
        ColumnType::DoubleArray => Kind::Array { dims: t.array_dims },
        ColumnType::Decimal64 | ColumnType::Decimal128 | ColumnType::Decimal256
            if version < IlpVersion::V3 =>
        {
            return Err(unsupported(
                table,
                f,
                t,
                "decimals need ILP protocol version 3 or later",
            ));
        }
        ColumnType::Decimal64 | ColumnType::Decimal128 | ColumnType::Decimal256 => {
            Kind::Decimal { scale: t.scale }
        }
        ColumnType::LongArray => {
            return Err(unsupported(
                table,
                f,
                t,
                "ILP arrays hold DOUBLE elements only; cast the list to Float64",
            ));
        }
        ColumnType::Uuid
        | ColumnType::Char
        | ColumnType::Ipv4
        | ColumnType::Geohash
        | ColumnType::Binary => {
            return Err(unsupported(
                table,
                f,
                t,
                "the line protocol has no syntax for this type; cast it to a string \
                 (QuestDB casts strings into existing UUID, CHAR and GEOHASH columns) or drop it",
            ));
        }
    })
}

fn key_of(name: &str) -> Padded {
    let mut key = Vec::with_capacity(name.len() + 2);
    key.push(b',');
    write_escaped_name(&mut key, name);
    key.push(b'=');
    Padded::new(key)
}

impl IlpEncoder {
    /// An encoder of `schema`'s batches into lines for `table` in
    /// `version`. `ts_col` names the designated timestamp column (an Arrow
    /// `Timestamp`; its value ends each line), or `None` to let the server
    /// stamp rows. `overrides` are the same per-column type choices the QWP
    /// sender takes ([`ColumnOverride::Symbol`] sends a string column as a
    /// SYMBOL). Errors name the table and column: invalid names
    /// ([`ErrorKind::InvalidData`]) and types this version cannot carry
    /// ([`ErrorKind::Unsupported`]).
    pub fn new(
        table: &str,
        schema: &Schema,
        version: IlpVersion,
        ts_col: Option<&str>,
        overrides: &[(String, ColumnOverride)],
    ) -> Result<IlpEncoder> {
        validate_table_name(table)?;
        let schema = Arc::new(schema.clone());
        let empty = RecordBatch::new_empty(schema.clone());
        let annotated = apply_overrides(table, &empty, overrides)?.schema();
        if let Some(ts) = ts_col
            && annotated.index_of(ts).is_err()
        {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("table {table}: designated timestamp column {ts:?} is not in the schema"),
            ));
        }
        let mut symbols = Vec::new();
        let mut fields = Vec::new();
        let mut designated = None;
        for (index, f) in annotated.fields().iter().enumerate() {
            let t = qwp_type_of(f).map_err(|e| e.context(format!("table {table}")))?;
            if ts_col == Some(f.name().as_str()) {
                if !matches!(f.data_type(), DataType::Timestamp(_, _)) {
                    return Err(unsupported(
                        table,
                        f,
                        t,
                        "the designated timestamp must be an Arrow Timestamp; cast it or pick another column",
                    ));
                }
                designated = Some(Designated {
                    index,
                    name: f.name().clone(),
                    mul: t.ts_multiplier,
                    nanos: t.ty == ColumnType::TimestampNanos,
                });
                continue;
            }
            validate_column_name(f.name()).map_err(|e| e.context(format!("table {table}")))?;
            let kind = kind_of(table, f, t, version)?;
            let col = Column {
                index,
                name: f.name().clone(),
                key: key_of(f.name()),
                kind,
            };
            if kind == Kind::Symbol {
                symbols.push(col);
            } else {
                fields.push(col);
            }
        }
        let mut table_escaped = Vec::with_capacity(table.len());
        write_escaped_name(&mut table_escaped, table);
        let table_escaped = Padded::new(table_escaped);
        Ok(IlpEncoder {
            table: table.to_string(),
            table_escaped,
            version,
            schema,
            overrides: overrides.to_vec(),
            symbols,
            fields,
            ts: designated,
        })
    }

    /// The protocol version lines are written in.
    pub fn version(&self) -> IlpVersion {
        self.version
    }

    /// The table the lines are for.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Appends the lines of `batch`'s `rows` to `out`. On error `out` is
    /// left as it was; the error names the table, column and row.
    pub fn encode(&self, batch: &RecordBatch, rows: Range<usize>, out: &mut Vec<u8>) -> Result<()> {
        let p = self.prepare(batch)?;
        self.check_range(batch, &rows)?;
        let start = out.len();
        let r = rows
            .into_iter()
            .try_for_each(|row| self.write_row(&p, row, out));
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    /// The lines of every row of `batch`, encoded in parallel over row
    /// ranges (rayon) and concatenated in row order. On error, the first
    /// failing row's error.
    pub fn encode_parallel(&self, batch: &RecordBatch) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_parallel_into(batch, &mut out, &mut Vec::new())?;
        Ok(out)
    }

    /// [`encode_parallel`](Self::encode_parallel) appending to `out` (so a
    /// request body is filled in place, its capacity reused). `scratch`
    /// holds the buffers the row ranges are encoded into before they are
    /// appended: keep it between calls and their memory is reused too (it
    /// grows to about the largest batch's lines). On error `out` is left
    /// as it was.
    pub fn encode_parallel_into(
        &self,
        batch: &RecordBatch,
        out: &mut Vec<u8>,
        scratch: &mut Vec<Vec<u8>>,
    ) -> Result<()> {
        let n = batch.num_rows();
        let chunk = n.div_ceil(rayon::current_num_threads() * 4).max(1024);
        if n <= chunk {
            return self.encode(batch, 0..n, out);
        }
        let p = self.prepare(batch)?;
        let ranges: Vec<Range<usize>> = (0..n)
            .step_by(chunk)
            .map(|s| s..(s + chunk).min(n))
            .collect();
        let k = ranges.len();
        if scratch.len() < k {
            scratch.resize_with(k, Vec::new);
        }
        let done: Vec<Result<()>> = ranges
            .into_par_iter()
            .zip(scratch[..k].par_iter_mut())
            .map(|(r, buf)| {
                buf.clear();
                r.into_iter()
                    .try_for_each(|row| self.write_row(&p, row, buf))
            })
            .collect();
        done.into_iter().collect::<Result<()>>()?;
        out.reserve(scratch[..k].iter().map(Vec::len).sum());
        for b in &scratch[..k] {
            out.extend_from_slice(b);
        }
        Ok(())
    }

    /// An upper bound of the bytes [`encode`](Self::encode) writes for
    /// `batch`'s `rows` (for buffer budgeting: split a batch so each request
    /// stays under a size limit).
    pub fn encoded_len(&self, batch: &RecordBatch, rows: Range<usize>) -> Result<usize> {
        let p = self.prepare(batch)?;
        self.check_range(batch, &rows)?;
        Ok(rows.map(|row| self.row_len_max(&p, row)).sum())
    }

    fn check_range(&self, batch: &RecordBatch, rows: &Range<usize>) -> Result<()> {
        if rows.start > rows.end || rows.end > batch.num_rows() {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "table {}: rows {rows:?} are outside the batch's {} rows",
                    self.table,
                    batch.num_rows()
                ),
            ));
        }
        Ok(())
    }

    fn row_len_max(&self, p: &Prepared, row: usize) -> usize {
        // Table, line end, designated timestamp (space, 20 digits, suffix).
        let mut n = self.table_escaped.len() + 1 + 22;
        for (c, s) in self.symbols.iter().zip(&p.symbols) {
            n += s.len_max(row, &c.key).unwrap_or(0);
        }
        for (c, v) in self.fields.iter().zip(&p.fields) {
            if v.is_null(row) {
                continue;
            }
            n += c.key.len();
            n += match v {
                Vals::Bool(_) => 1,
                Vals::Int(_) | Vals::I64(_) => 21,
                Vals::Double(_) if self.version == IlpVersion::V1 => 24,
                Vals::Double(_) => 10,
                Vals::Str(s) => 2 + 2 * s.get(row).map_or(0, str::len),
                Vals::Long256(_) => 67,
                Vals::Array(a) => {
                    let leaf = a.leaf_range(row);
                    4 + 4 * a.levels.len() + 8 * leaf.len()
                }
                Vals::Decimal(_) => 4 + 32,
            };
        }
        n
    }

    fn data_error(&self, column: &str, row: usize, what: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::InvalidData,
            format!("table {}, column {column:?}, row {row}: {what}", self.table),
        )
    }

    fn write_row(&self, p: &Prepared, row: usize, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        self.table_escaped.put(out);
        let mut written = 0usize;
        for (c, s) in self.symbols.iter().zip(&p.symbols) {
            written += usize::from(s.write(row, &c.key, out));
        }
        let mut first = true;
        for (c, v) in self.fields.iter().zip(&p.fields) {
            if v.is_null(row) {
                continue;
            }
            let at = out.len();
            c.key.put(out);
            if first {
                // The first column follows the symbols after a space.
                out[at] = b' ';
                first = false;
            }
            if let Err(e) = self.write_value(c, v, row, out) {
                out.truncate(start);
                return Err(e);
            }
            written += 1;
        }
        if written == 0 {
            out.truncate(start);
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "table {}, row {row}: every column is NULL; an ILP line needs at least one \
                     symbol or column value",
                    self.table
                ),
            ));
        }
        if let (Some(ts), Some(values)) = (&self.ts, &p.ts)
            && let Err(e) = self.write_designated(ts, values, row, out)
        {
            out.truncate(start);
            return Err(e);
        }
        out.push(b'\n');
        Ok(())
    }

    fn write_designated(
        &self,
        ts: &Designated,
        values: &Int64Array,
        row: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if values.is_null(row) {
            return Err(self.data_error(&ts.name, row, "the designated timestamp is NULL"));
        }
        let v = values.value(row).checked_mul(ts.mul).ok_or_else(|| {
            self.data_error(&ts.name, row, "timestamp overflows i64 microseconds")
        })?;
        if v < 0 {
            return Err(self.data_error(
                &ts.name,
                row,
                format!("the designated timestamp {v} is negative"),
            ));
        }
        out.push(b' ');
        if self.version == IlpVersion::V1 {
            // v1: nanoseconds, no suffix.
            let ns = if ts.nanos {
                Some(v)
            } else {
                v.checked_mul(1000)
            };
            let ns = ns.ok_or_else(|| {
                self.data_error(&ts.name, row, "timestamp overflows i64 nanoseconds")
            })?;
            write_i64(out, ns);
        } else {
            write_i64(out, v);
            out.push(if ts.nanos { b'n' } else { b't' });
        }
        Ok(())
    }

    fn write_value(&self, c: &Column, v: &Vals, row: usize, out: &mut Vec<u8>) -> Result<()> {
        match (v, c.kind) {
            (Vals::Bool(a), _) => out.push(if a.value(row) { b't' } else { b'f' }),
            (Vals::Int(a), _) => {
                write_i64(out, a.value(row));
                out.push(b'i');
            }
            (Vals::Double(a), _) => write_f64(self.version, a.value(row), out),
            (Vals::Str(s), _) => {
                let (v, tail) = s.get_tail(row).unwrap_or_default();
                write_quoted_string_in(out, v, tail);
            }
            (Vals::I64(a), Kind::Ts { mul, nanos }) => {
                let x = a.value(row).checked_mul(mul).ok_or_else(|| {
                    self.data_error(&c.name, row, "timestamp overflows i64 microseconds")
                })?;
                if nanos && self.version == IlpVersion::V1 {
                    write_i64(out, x / 1000);
                    out.push(b't');
                } else {
                    write_i64(out, x);
                    out.push(if nanos { b'n' } else { b't' });
                }
            }
            (Vals::I64(a), _) => {
                let x = a.value(row).checked_mul(1000).ok_or_else(|| {
                    self.data_error(&c.name, row, "date overflows i64 microseconds")
                })?;
                write_i64(out, x);
                out.push(b't');
            }
            (Vals::Long256(a), _) => write_long256(a.value(row), out),
            (Vals::Array(a), _) => a
                .write(row, out)
                .map_err(|what| self.data_error(&c.name, row, what))?,
            (Vals::Decimal(d), Kind::Decimal { scale }) => {
                let mut be = [0u8; 32];
                let bytes = match d {
                    Dec::D128(a) => {
                        be[16..].copy_from_slice(&a.value(row).to_be_bytes());
                        be[..16].fill(if a.value(row) < 0 { 0xFF } else { 0 });
                        minimal_twos_complement(&be)
                    }
                    Dec::D256(a) => {
                        be.copy_from_slice(&a.value(row).to_be_bytes());
                        minimal_twos_complement(&be)
                    }
                };
                out.extend_from_slice(&[BINARY_MARKER, BINARY_DECIMAL, scale, bytes.len() as u8]);
                out.extend_from_slice(bytes);
            }
            (Vals::Decimal(_), _) => unreachable!("decimal values only belong to decimal columns"),
        }
        Ok(())
    }

    fn prepare(&self, batch: &RecordBatch) -> Result<Prepared> {
        let schema = batch.schema();
        let same = schema.fields().len() == self.schema.fields().len()
            && schema
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "table {}: the batch's schema differs from the one the ILP encoder was built for",
                    self.table
                ),
            ));
        }
        let batch = apply_overrides(&self.table, batch, &self.overrides)?;
        let arrow_err = |c: &str, e| {
            Error::arrow(
                ErrorKind::Unsupported,
                format!("table {}, column {c:?}", self.table),
                e,
            )
        };
        let mut symbols = Vec::with_capacity(self.symbols.len());
        for c in &self.symbols {
            symbols
                .push(Syms::new(batch.column(c.index), &c.key).map_err(|e| arrow_err(&c.name, e))?);
        }
        let mut fields = Vec::with_capacity(self.fields.len());
        for c in &self.fields {
            fields.push(self.prepare_column(c, batch.column(c.index), &arrow_err)?);
        }
        let ts = match &self.ts {
            Some(d) => Some(
                arrow::compute::cast(batch.column(d.index), &DataType::Int64)
                    .map_err(|e| arrow_err(&d.name, e))?
                    .as_primitive::<Int64Type>()
                    .clone(),
            ),
            None => None,
        };
        Ok(Prepared {
            symbols,
            fields,
            ts,
        })
    }

    fn prepare_column(
        &self,
        c: &Column,
        a: &ArrayRef,
        arrow_err: &dyn Fn(&str, arrow::error::ArrowError) -> Error,
    ) -> Result<Vals> {
        let cast = |a: &ArrayRef, to: &DataType| {
            arrow::compute::cast(a, to).map_err(|e| arrow_err(&c.name, e))
        };
        Ok(match c.kind {
            Kind::Bool => Vals::Bool(a.as_boolean().clone()),
            Kind::Int => {
                if let DataType::UInt64 = a.data_type() {
                    let u = a.as_primitive::<UInt64Type>();
                    if let Some(row) =
                        (0..u.len()).find(|&r| u.is_valid(r) && u.value(r) > i64::MAX as u64)
                    {
                        return Err(self.data_error(
                            &c.name,
                            row,
                            format!("UInt64 value {} does not fit QuestDB's LONG", u.value(row)),
                        ));
                    }
                }
                Vals::Int(
                    cast(a, &DataType::Int64)?
                        .as_primitive::<Int64Type>()
                        .clone(),
                )
            }
            Kind::Double => Vals::Double(
                cast(a, &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .clone(),
            ),
            Kind::Str | Kind::Symbol => Vals::Str(Strs::new(a).map_err(|e| arrow_err(&c.name, e))?),
            Kind::Ts { .. } => Vals::I64(
                cast(a, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .clone(),
            ),
            Kind::Date => {
                let ms = match a.data_type() {
                    DataType::Date32 => cast(a, &DataType::Date64)?,
                    _ => a.clone(),
                };
                Vals::I64(
                    cast(&ms, &DataType::Int64)?
                        .as_primitive::<Int64Type>()
                        .clone(),
                )
            }
            Kind::Long256 => Vals::Long256(a.as_fixed_size_binary().clone()),
            Kind::Array { dims } => {
                let mut target = DataType::Float64;
                for _ in 0..dims {
                    target = DataType::List(Arc::new(Field::new("item", target, true)));
                }
                let top = cast(a, &target)?;
                let mut levels = Vec::with_capacity(dims as usize);
                let mut cur = top;
                for _ in 0..dims {
                    let l = cur.as_list::<i32>().clone();
                    cur = l.values().clone();
                    levels.push(l);
                }
                Vals::Array(Levels {
                    levels,
                    leaf: cur.as_primitive::<Float64Type>().clone(),
                })
            }
            Kind::Decimal { .. } => match a.data_type() {
                DataType::Decimal256(_, _) => Vals::Decimal(Dec::D256(
                    a.as_primitive::<arrow::datatypes::Decimal256Type>().clone(),
                )),
                DataType::Decimal32(_, s)
                | DataType::Decimal64(_, s)
                | DataType::Decimal128(_, s) => {
                    let d = cast(a, &DataType::Decimal128(38, *s))?;
                    Vals::Decimal(Dec::D128(
                        d.as_primitive::<arrow::datatypes::Decimal128Type>().clone(),
                    ))
                }
                other => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "table {}, column {:?}: {other} is not a decimal",
                            self.table, c.name
                        ),
                    ));
                }
            },
        })
    }
}
