//! One column of a row buffer: typed growable values plus validity, lent
//! to Arrow without a copy for a flush and taken back afterwards.

use std::collections::HashMap;
use std::mem;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayData, ArrayRef, BooleanArray, BooleanBufferBuilder, DictionaryArray, Float64Array,
    Int64Array, ListArray, PrimitiveArray, make_array,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{ArrowNativeType, Field, Int32Type, i256};

use super::sym::SymCol;
use crate::bridge::sym_dict::same_bytes;
use crate::bridge::types::{QwpType, arrow_type};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::ColumnType;

/// The QuestDB type of a buffered column, with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    Byte,
    Short,
    Int,
    Long,
    Float,
    Double,
    Char,
    Ipv4,
    Date,
    Ts,
    TsNanos,
    Geohash(u8),
    Dec64(u8),
    Dec128(u8),
    Dec256(u8),
    Uuid,
    Long256,
    Varchar,
    Binary,
    Symbol,
    DoubleArray,
    LongArray,
}

impl Kind {
    /// The QWP type it is sent as.
    pub(super) fn qwp(self) -> QwpType {
        let (ty, geohash_bits, scale) = match self {
            Kind::Bool => (ColumnType::Boolean, 0, 0),
            Kind::Byte => (ColumnType::Byte, 0, 0),
            Kind::Short => (ColumnType::Short, 0, 0),
            Kind::Int => (ColumnType::Int, 0, 0),
            Kind::Long => (ColumnType::Long, 0, 0),
            Kind::Float => (ColumnType::Float, 0, 0),
            Kind::Double => (ColumnType::Double, 0, 0),
            Kind::Char => (ColumnType::Char, 0, 0),
            Kind::Ipv4 => (ColumnType::Ipv4, 0, 0),
            Kind::Date => (ColumnType::Date, 0, 0),
            Kind::Ts => (ColumnType::Timestamp, 0, 0),
            Kind::TsNanos => (ColumnType::TimestampNanos, 0, 0),
            Kind::Geohash(b) => (ColumnType::Geohash, b, 0),
            Kind::Dec64(s) => (ColumnType::Decimal64, 0, s),
            Kind::Dec128(s) => (ColumnType::Decimal128, 0, s),
            Kind::Dec256(s) => (ColumnType::Decimal256, 0, s),
            Kind::Uuid => (ColumnType::Uuid, 0, 0),
            Kind::Long256 => (ColumnType::Long256, 0, 0),
            Kind::Varchar => (ColumnType::Varchar, 0, 0),
            Kind::Binary => (ColumnType::Binary, 0, 0),
            Kind::Symbol => (ColumnType::Symbol, 0, 0),
            Kind::DoubleArray => (ColumnType::DoubleArray, 0, 0),
            Kind::LongArray => (ColumnType::LongArray, 0, 0),
        };
        QwpType {
            geohash_bits,
            scale,
            ..QwpType::plain(ty)
        }
    }

    fn empty(self) -> Vals {
        match self {
            Kind::Bool => Vals::Bool(BooleanBufferBuilder::new(0)),
            Kind::Byte => Vals::I8(Vec::new()),
            Kind::Short => Vals::I16(Vec::new()),
            Kind::Char => Vals::U16(Vec::new()),
            Kind::Int => Vals::I32(Vec::new()),
            Kind::Ipv4 => Vals::U32(Vec::new()),
            Kind::Float => Vals::F32(Vec::new()),
            Kind::Double => Vals::F64(Vec::new()),
            Kind::Long
            | Kind::Date
            | Kind::Ts
            | Kind::TsNanos
            | Kind::Geohash(_)
            | Kind::Dec64(_) => Vals::I64(Vec::new()),
            Kind::Dec128(_) => Vals::I128(Vec::new()),
            Kind::Dec256(_) => Vals::I256(Vec::new()),
            Kind::Uuid => Vals::Fixed(16, Vec::new()),
            Kind::Long256 => Vals::Fixed(32, Vec::new()),
            Kind::Varchar | Kind::Binary => Vals::Var(vec![0], Vec::new()),
            Kind::Symbol => Vals::Sym(Box::default()),
            Kind::DoubleArray => Vals::ListF64(vec![0], Vec::new()),
            Kind::LongArray => Vals::ListI64(vec![0], Vec::new()),
        }
    }
}

/// A map with foldhash's fixed-seed hasher, for the buffer's name
/// lookups (the keys are the caller's own data: no DoS resistance needed).
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// `a == b`, inline for the short names rows repeat (no `memcmp` call per
/// setter).
#[inline]
pub(super) fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// An offset into a var-sized column's bytes.
pub(super) fn offset(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| {
        Error::new(
            ErrorKind::InvalidData,
            "a column holds more than 2 GiB of bytes; flush more often",
        )
    })
}

/// The values of a column, one variant per storage type.
pub(super) enum Vals {
    Bool(BooleanBufferBuilder),
    I8(Vec<i8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    I128(Vec<i128>),
    I256(Vec<i256>),
    /// FixedSizeBinary of this width.
    Fixed(usize, Vec<u8>),
    /// Offsets (starting at 0) and bytes.
    Var(Vec<i32>, Vec<u8>),
    Sym(Box<SymCol>),
    ListF64(Vec<i32>, Vec<f64>),
    ListI64(Vec<i32>, Vec<i64>),
}

macro_rules! each_prim {
    ($v:expr, $x:ident => $e:expr, $other:ident => $o:expr) => {
        match $v {
            Vals::I8($x) => $e,
            Vals::I16($x) => $e,
            Vals::U16($x) => $e,
            Vals::I32($x) => $e,
            Vals::U32($x) => $e,
            Vals::F32($x) => $e,
            Vals::I64($x) => $e,
            Vals::F64($x) => $e,
            Vals::I128($x) => $e,
            Vals::I256($x) => $e,
            $other => $o,
        }
    };
}

/// The values back from an Arrow buffer: without a copy when nothing else
/// holds it; else copied (`keep`) or a new vector of the same capacity.
fn vec_of<T: ArrowNativeType>(b: Buffer, keep: bool) -> Vec<T> {
    match b.into_vec::<T>() {
        Ok(v) => v,
        Err(b) if keep => b.typed_data::<T>().to_vec(),
        Err(b) => Vec::with_capacity(b.len() / size_of::<T>()),
    }
}

fn bools_of(b: Buffer, len: usize) -> BooleanBufferBuilder {
    match b.into_mutable() {
        Ok(m) => BooleanBufferBuilder::new_from_buffer(m, len),
        Err(b) => {
            let mut out = BooleanBufferBuilder::new(len);
            out.append_buffer(&BooleanBuffer::new(b, 0, len));
            out
        }
    }
}

impl Vals {
    fn push_null(&mut self) {
        match self {
            Vals::Bool(b) => b.append(false),
            Vals::Fixed(w, v) => v.resize(v.len() + *w, 0),
            Vals::Var(o, _) | Vals::ListF64(o, _) | Vals::ListI64(o, _) => {
                let last = o.last().copied().unwrap_or(0);
                o.push(last);
            }
            Vals::Sym(s) => s.keys.push(0),
            v => each_prim!(v, x => x.push(Default::default()), _o => {}),
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            Vals::Bool(b) => b.truncate(n),
            Vals::Fixed(w, v) => v.truncate(n * *w),
            Vals::Var(o, d) => {
                o.truncate(n + 1);
                if o.is_empty() {
                    o.push(0);
                }
                d.truncate(o.last().copied().unwrap_or(0) as usize);
            }
            Vals::ListF64(o, d) => {
                o.truncate(n + 1);
                if o.is_empty() {
                    o.push(0);
                }
                d.truncate(o.last().copied().unwrap_or(0) as usize);
            }
            Vals::ListI64(o, d) => {
                o.truncate(n + 1);
                if o.is_empty() {
                    o.push(0);
                }
                d.truncate(o.last().copied().unwrap_or(0) as usize);
            }
            Vals::Sym(s) => s.keys.truncate(n),
            v => each_prim!(v, x => x.truncate(n), _o => {}),
        }
    }

    fn reserve(&mut self, rows: usize) {
        match self {
            Vals::Bool(b) => b.reserve(rows),
            Vals::Fixed(w, v) => v.reserve(rows * *w),
            Vals::Var(o, _) | Vals::ListF64(o, _) | Vals::ListI64(o, _) => o.reserve(rows),
            Vals::Sym(s) => s.keys.reserve(rows),
            v => each_prim!(v, x => x.reserve(rows), _o => {}),
        }
    }

    fn capacity_bytes(&self) -> usize {
        fn cap<T>(v: &Vec<T>) -> usize {
            v.capacity() * size_of::<T>()
        }
        match self {
            Vals::Bool(b) => b.capacity() / 8,
            Vals::Fixed(_, v) => cap(v),
            Vals::Var(o, d) => cap(o) + cap(d),
            Vals::ListF64(o, d) => cap(o) + cap(d),
            Vals::ListI64(o, d) => cap(o) + cap(d),
            Vals::Sym(s) => s.capacity_bytes(),
            v => each_prim!(v, x => cap(x), _o => 0),
        }
    }
}

/// One buffered column.
pub(super) struct Column {
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) vals: Vals,
    nulls: Option<BooleanBufferBuilder>,
    /// Rows it holds (values and NULLs).
    pub(super) len: usize,
    /// Holds a value since the last clear (unused columns are not sent).
    pub(super) used: bool,
    /// The row whose value added the newest symbol dictionary entry
    /// (popped when that row is rolled back).
    pub(super) dict_row: Option<usize>,
    /// Buffers lent to the Arrow arrays of a flush in progress.
    lent: Option<Lent>,
}

struct Lent {
    vals: Vec<Buffer>,
    nulls: Option<Buffer>,
    len: usize,
}

impl Column {
    /// A column of `kind` holding `rows` NULLs.
    pub(super) fn new(name: &str, kind: Kind, rows: usize) -> Column {
        let mut c = Column {
            name: name.to_string(),
            kind,
            vals: kind.empty(),
            nulls: None,
            len: 0,
            used: false,
            dict_row: None,
            lent: None,
        };
        c.pad(rows);
        c
    }

    /// Gives an unused column another kind (its rows stay NULL).
    pub(super) fn rekind(&mut self, kind: Kind) {
        let rows = self.len;
        self.kind = kind;
        self.vals = kind.empty();
        self.nulls = None;
        self.len = 0;
        self.pad(rows);
    }

    /// Appends NULLs up to `rows` rows.
    pub(super) fn pad(&mut self, rows: usize) {
        while self.len < rows {
            self.push_null();
        }
    }

    pub(super) fn push_null(&mut self) {
        self.vals.push_null();
        let len = self.len;
        self.nulls
            .get_or_insert_with(|| {
                let mut b = BooleanBufferBuilder::new(len + 1);
                b.append_n(len, true);
                b
            })
            .append(false);
        self.len += 1;
    }

    /// Book-keeping after a value was pushed to `vals`.
    #[inline]
    pub(super) fn pushed(&mut self) {
        if let Some(n) = &mut self.nulls {
            n.append(true);
        }
        self.len += 1;
        self.used = true;
    }

    /// Back to `rows` rows (a rolled-back row).
    pub(super) fn truncate(&mut self, rows: usize) {
        if self.dict_row.is_some_and(|r| r >= rows) {
            if let Vals::Sym(s) = &mut self.vals {
                s.pop_entry();
            }
            self.dict_row = None;
        }
        self.vals.truncate(rows);
        if let Some(n) = &mut self.nulls {
            n.truncate(rows);
        }
        self.len = self.len.min(rows);
    }

    /// Empties it, keeping its allocations (and its kind until reused).
    pub(super) fn clear(&mut self) {
        self.truncate(0);
        if let Vals::Sym(s) = &mut self.vals {
            s.clear();
        }
        self.nulls = None;
        self.used = false;
    }

    pub(super) fn reserve(&mut self, rows: usize) {
        self.vals.reserve(rows);
    }

    pub(super) fn capacity_bytes(&self) -> usize {
        self.vals.capacity_bytes() + self.nulls.as_ref().map_or(0, |n| n.capacity() / 8)
    }

    /// The Arrow field it is sent as.
    pub(super) fn field(&self) -> Field {
        crate::bridge::types::arrow_field(&self.name, self.kind.qwp(), false)
    }

    /// Moves the values into an Arrow array without copying them; they
    /// come back with [`Self::reclaim`] (also after an error here).
    pub(super) fn lend(&mut self) -> Result<ArrayRef> {
        let len = self.len;
        let nulls = self.nulls.as_mut().map(|n| n.finish().into_inner());
        let bufs: Vec<Buffer> = match &mut self.vals {
            Vals::Bool(b) => vec![b.finish().into_inner()],
            Vals::Var(o, d) => vec![
                Buffer::from_vec(mem::take(o)),
                Buffer::from_vec(mem::take(d)),
            ],
            Vals::ListF64(o, d) => {
                vec![
                    Buffer::from_vec(mem::take(o)),
                    Buffer::from_vec(mem::take(d)),
                ]
            }
            Vals::ListI64(o, d) => {
                vec![
                    Buffer::from_vec(mem::take(o)),
                    Buffer::from_vec(mem::take(d)),
                ]
            }
            Vals::Sym(s) => vec![Buffer::from_vec(mem::take(&mut s.keys))],
            Vals::Fixed(_, x) => vec![Buffer::from_vec(mem::take(x))],
            v => each_prim!(v, x => vec![Buffer::from_vec(mem::take(x))], _o => Vec::new()),
        };
        self.lent = Some(Lent {
            vals: bufs.clone(),
            nulls: nulls.clone(),
            len,
        });
        let null_buf = nulls.map(|b| NullBuffer::new(BooleanBuffer::new(b, 0, len)));
        let dt = arrow_type(self.kind.qwp());
        let arrow_err = |e| Error::arrow(ErrorKind::Internal, format!("column {:?}", self.name), e);
        let mut bufs = bufs.into_iter();
        let mut next = || {
            bufs.next()
                .unwrap_or_else(|| Buffer::from_vec(Vec::<u8>::new()))
        };
        let array: ArrayRef = match &self.vals {
            Vals::Bool(_) => Arc::new(BooleanArray::new(
                BooleanBuffer::new(next(), 0, len),
                null_buf,
            )),
            Vals::Sym(s) => {
                let keys =
                    PrimitiveArray::<Int32Type>::new(ScalarBuffer::new(next(), 0, len), null_buf);
                Arc::new(
                    DictionaryArray::<Int32Type>::try_new(keys, Arc::new(s.values()?))
                        .map_err(arrow_err)?,
                )
            }
            Vals::ListF64(..) => {
                let (o, d) = (next(), next());
                let n = d.len() / 8;
                let values = Float64Array::new(ScalarBuffer::new(d, 0, n), None);
                list(o, Arc::new(values), null_buf, len).map_err(arrow_err)?
            }
            Vals::ListI64(..) => {
                let (o, d) = (next(), next());
                let n = d.len() / 8;
                let values = Int64Array::new(ScalarBuffer::new(d, 0, n), None);
                list(o, Arc::new(values), null_buf, len).map_err(arrow_err)?
            }
            Vals::Var(..) => {
                let data = ArrayData::builder(dt)
                    .len(len)
                    .add_buffer(next())
                    .add_buffer(next())
                    .nulls(null_buf)
                    .build()
                    .map_err(arrow_err)?;
                make_array(data)
            }
            _ => {
                let data = ArrayData::builder(dt)
                    .len(len)
                    .add_buffer(next())
                    .nulls(null_buf)
                    .build()
                    .map_err(arrow_err)?;
                make_array(data)
            }
        };
        Ok(array)
    }

    /// Takes back what [`Self::lend`] lent (once the arrays are dropped
    /// this is free; else the values are copied back). With `keep` the
    /// rows stay (a failed flush), else the column is emptied.
    pub(super) fn reclaim(&mut self, keep: bool) {
        let Some(lent) = self.lent.take() else {
            return;
        };
        let mut bufs = lent.vals.into_iter();
        let mut next = || {
            bufs.next()
                .unwrap_or_else(|| Buffer::from_vec(Vec::<u8>::new()))
        };
        match &mut self.vals {
            Vals::Bool(b) => *b = bools_of(next(), lent.len),
            Vals::Fixed(_, x) => *x = vec_of(next(), keep),
            Vals::Var(o, d) => {
                *o = vec_of(next(), keep);
                *d = vec_of(next(), keep);
            }
            Vals::ListF64(o, d) => {
                *o = vec_of(next(), keep);
                *d = vec_of(next(), keep);
            }
            Vals::ListI64(o, d) => {
                *o = vec_of(next(), keep);
                *d = vec_of(next(), keep);
            }
            Vals::Sym(s) => s.keys = vec_of(next(), keep),
            v => each_prim!(v, x => *x = vec_of(next(), keep), _o => {}),
        }
        self.nulls = lent.nulls.map(|b| bools_of(b, lent.len));
        if !keep {
            self.clear();
        }
    }
}

fn list(
    offsets: Buffer,
    values: ArrayRef,
    nulls: Option<NullBuffer>,
    len: usize,
) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
    let item = Arc::new(Field::new("item", values.data_type().clone(), true));
    let offsets = OffsetBuffer::new(ScalarBuffer::new(offsets, 0, len + 1));
    Ok(Arc::new(ListArray::try_new(item, offsets, values, nulls)?))
}
