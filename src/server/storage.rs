//! Tables of the embedded server: Arrow batches in memory, kept in
//! designated-timestamp order, optionally persisted (write-ahead log +
//! Parquet checkpoints, see [`Catalog`]).

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use arrow::compute::{concat_batches, take};
use arrow::datatypes::{Field, Schema, SchemaRef};

use super::dedup;
use crate::bridge::{meta, qwp_type_of};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::Status;

/// Name given to the designated timestamp of tables created by ingestion.
pub const DEFAULT_TS_NAME: &str = "timestamp";

/// One table.
#[derive(Debug, Clone)]
pub struct Table {
    /// Name as first written.
    pub name: String,
    /// Columns with `questdb.*` metadata.
    pub schema: SchemaRef,
    /// Rows, in designated-timestamp order when there is one.
    pub batches: Vec<RecordBatch>,
    /// Index of the designated timestamp column.
    pub designated: Option<usize>,
    /// Commits so far (the seqTxn reported in OK responses).
    pub txn: i64,
    /// Unique id within the catalogue (names the table's part files).
    pub(crate) id: u64,
}

impl Table {
    /// A new empty table.
    pub fn new(name: &str, schema: SchemaRef, designated: Option<usize>) -> Table {
        Table {
            name: name.to_string(),
            schema,
            batches: Vec::new(),
            designated,
            txn: 0,
            id: 0,
        }
    }

    /// Rows stored.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// The last designated timestamp of a non-empty batch (cast of one value,
/// not of the column).
fn last_ts_of(b: &RecordBatch, d: usize) -> i64 {
    let col = b.column(d);
    ts_values(&col.slice(col.len().saturating_sub(1), 1))
        .first()
        .copied()
        .unwrap_or(i64::MIN)
}

/// The values of a timestamp (or integer) column as `i64` (empty when the
/// column cannot be cast).
pub(super) fn ts_values(a: &ArrayRef) -> Vec<i64> {
    arrow::compute::cast(a, &arrow::datatypes::DataType::Int64)
        .ok()
        .map(|x| {
            x.as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .map(|p| p.values().to_vec())
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

/// The designated timestamp at row `i` (cast of one value).
fn ts_at(b: &RecordBatch, d: usize, i: usize) -> i64 {
    ts_values(&b.column(d).slice(i, 1))
        .first()
        .copied()
        .unwrap_or(i64::MIN)
}

/// The first row of `b` (sorted by `d`) whose timestamp is `>= t`, by
/// binary search.
fn first_at_or_after(b: &RecordBatch, d: usize, t: i64) -> usize {
    let (mut lo, mut hi) = (0, b.num_rows());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ts_at(b, d, mid) < t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A rejection that becomes an error response with a QWP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The status code.
    pub status: Status,
    /// The message (names table and column).
    pub message: String,
}

impl Reject {
    /// A new rejection.
    pub fn new(status: Status, message: impl Into<String>) -> Reject {
        Reject {
            status,
            message: message.into(),
        }
    }
}

pub(super) fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn same_type(a: &Field, b: &Field) -> bool {
    match (qwp_type_of(a), qwp_type_of(b)) {
        (Ok(x), Ok(y)) => x.ty == y.ty && x.geohash_bits == y.geohash_bits && x.scale == y.scale,
        _ => a.data_type() == b.data_type(),
    }
}

/// Makes `batch` (whose columns are a subset/superset of `schema`) match
/// `schema`: missing columns become NULL.
pub(super) fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match batch.schema().index_of(f.name()) {
            Ok(i) => batch.column(i).clone(),
            Err(_) => new_null_array(f.data_type(), batch.num_rows()),
        })
        .collect();
    RecordBatch::try_new(schema.clone(), cols)
        .map_err(|e| Error::new(ErrorKind::InvalidData, e.to_string()))
}

pub(super) fn check_fields(
    table: &str,
    schema: &Schema,
    fields: &[Arc<Field>],
) -> std::result::Result<(), Reject> {
    for f in fields {
        if let Ok(i) = schema.index_of(f.name()) {
            let have = schema.field(i);
            if !same_type(have, f) {
                let tn = |x: &Field| {
                    qwp_type_of(x)
                        .map(|q| q.ty.name().to_string())
                        .unwrap_or_else(|_| x.data_type().to_string())
                };
                return Err(Reject::new(
                    Status::SchemaMismatch,
                    format!(
                        "table {table}, column {}: cannot write {} into a {} column",
                        f.name(),
                        tn(f),
                        tn(have)
                    ),
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn mark_designated(schema: SchemaRef, d: Option<usize>) -> SchemaRef {
    let Some(d) = d else { return schema };
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut md = f.metadata().clone();
            if i == d {
                md.insert(meta::DESIGNATED_TIMESTAMP.into(), "true".into());
            } else {
                md.remove(meta::DESIGNATED_TIMESTAMP);
            }
            f.as_ref().clone().with_metadata(md)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Rows being added to one table by a commit, computed without touching
/// (or copying the list of) the table's stored batches: the table keeps
/// its first `keep` batches as they are and `tail` follows them. A commit
/// therefore costs what it adds (plus, when rows arrive out of order, the
/// stored batches they overlap), never O(batches in the table).
#[derive(Debug)]
pub(super) struct Change {
    /// Stored batches kept unchanged.
    pub keep: usize,
    /// Batches that follow them (new rows, merged or conformed ones).
    pub tail: Vec<RecordBatch>,
    /// The table's schema after the change.
    pub schema: SchemaRef,
    /// The designated timestamp column.
    pub designated: Option<usize>,
}

impl Change {
    /// No change yet to `t`.
    pub fn of(t: &Table) -> Change {
        Change {
            keep: t.batches.len(),
            tail: Vec::new(),
            schema: t.schema.clone(),
            designated: t.designated,
        }
    }

    /// The batch at position `i` of the changed table (`base` is the
    /// table's stored batches).
    fn at<'a>(&'a self, base: &'a [RecordBatch], i: usize) -> &'a RecordBatch {
        if i < self.keep {
            &base[i]
        } else {
            &self.tail[i - self.keep]
        }
    }

    fn len(&self) -> usize {
        self.keep + self.tail.len()
    }

    /// Makes positions `from..` part of the tail (cloning the stored
    /// batches moved there: reference counts, not data).
    fn own_from(&mut self, base: &[RecordBatch], from: usize) {
        if from < self.keep {
            let mut tail = base[from..self.keep].to_vec();
            tail.append(&mut self.tail);
            self.tail = tail;
            self.keep = from;
        }
    }

    /// Appends `batch` to the changed table (`base`: its stored batches):
    /// adds columns it lacks, keeps designated-timestamp order.
    pub fn append(&mut self, base: &[RecordBatch], batch: RecordBatch) -> Result<()> {
        // Schema evolution: add columns the table lacks (every batch is
        // conformed, so this one change is O(table)).
        let new_fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .filter(|f| self.schema.index_of(f.name()).is_err())
            .map(|f| {
                let mut md = f.metadata().clone();
                md.remove(meta::DESIGNATED_TIMESTAMP);
                md.remove(dedup::DEDUP_KEY);
                f.as_ref().clone().with_metadata(md)
            })
            .collect();
        if !new_fields.is_empty() {
            let mut fields: Vec<Field> = self
                .schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields.extend(new_fields);
            let schema = Arc::new(Schema::new(fields));
            self.own_from(base, 0);
            self.tail = self
                .tail
                .iter()
                .map(|b| conform(b, &schema))
                .collect::<Result<_>>()?;
            self.schema = schema;
        }
        let batch = conform(&batch, &self.schema)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let Some(d) = self.designated else {
            self.tail.push(batch);
            return Ok(());
        };
        let keys = dedup::keys_of(&self.schema);
        if !keys.is_empty() {
            return self.append_dedup(base, batch, d, &keys);
        }
        let ts = ts_values(batch.column(d));
        let sorted = ts.windows(2).all(|w| w[0] <= w[1]);
        let last = (0..self.len())
            .rev()
            .map(|i| self.at(base, i))
            .find(|b| b.num_rows() > 0)
            .map(|b| last_ts_of(b, d));
        let after = last.is_none_or(|last| ts.first().is_none_or(|&f| f >= last));
        if sorted && after {
            self.tail.push(batch);
            return Ok(());
        }
        // Out of order: merge the new rows with the tail of the table they
        // overlap (the batches, in timestamp order, whose last timestamp is
        // above the new rows' first), not with the whole table; earlier
        // rows of equal timestamp stay first.
        let new_min = ts.iter().copied().min().unwrap_or(i64::MIN);
        let mut k = self.len();
        while k > 0 {
            let b = self.at(base, k - 1);
            if b.num_rows() > 0 && last_ts_of(b, d) <= new_min {
                break;
            }
            k -= 1;
        }
        self.own_from(base, k);
        let mut overlap = self.tail.split_off(k - self.keep);
        overlap.push(batch);
        let err = |e: arrow::error::ArrowError| Error::new(ErrorKind::InvalidData, e.to_string());
        let all = concat_batches(&self.schema, &overlap).map_err(err)?;
        // A stable sort (arrow's `sort_to_indices` is not): rows of equal
        // timestamp keep their order, the stored ones first.
        let all_ts = ts_values(all.column(d));
        let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
        order.sort_by_key(|&i| all_ts.get(i as usize).copied().unwrap_or(i64::MIN));
        let idx = arrow::array::UInt32Array::from(order);
        let cols = all
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &idx, None))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(err)?;
        self.tail
            .push(RecordBatch::try_new(self.schema.clone(), cols).map_err(err)?);
        Ok(())
    }

    /// [`Change::append`] on a table with upsert keys (see
    /// [`dedup::merge`]): the new rows are compared only with the stored
    /// rows from their smallest timestamp on (a slice of the first batch
    /// that reaches there, the batches after it); rows all after the
    /// table's last timestamp and strictly increasing are appended as they
    /// are.
    fn append_dedup(
        &mut self,
        base: &[RecordBatch],
        batch: RecordBatch,
        d: usize,
        keys: &[usize],
    ) -> Result<()> {
        let ts = ts_values(batch.column(d));
        let Some(&new_min) = ts.iter().min() else {
            return Ok(());
        };
        let last = (0..self.len())
            .rev()
            .map(|i| self.at(base, i))
            .find(|b| b.num_rows() > 0)
            .map(|b| last_ts_of(b, d));
        if last.is_none_or(|last| new_min > last) && ts.windows(2).all(|w| w[0] < w[1]) {
            self.tail.push(batch);
            return Ok(());
        }
        // The stored batches holding rows at or after `new_min`.
        let mut k = self.len();
        while k > 0 {
            let b = self.at(base, k - 1);
            if b.num_rows() > 0 && last_ts_of(b, d) < new_min {
                break;
            }
            k -= 1;
        }
        self.own_from(base, k);
        let mut overlap = self.tail.split_off(k - self.keep);
        overlap.retain(|b| b.num_rows() > 0);
        if let Some(first) = overlap.first().cloned() {
            let p = first_at_or_after(&first, d, new_min);
            if p > 0 {
                self.tail.push(first.slice(0, p));
                overlap[0] = first.slice(p, first.num_rows() - p);
            }
        }
        let merged = dedup::merge(&self.schema, &overlap, &batch, d, keys)?;
        self.tail.push(merged);
        Ok(())
    }

    /// Applies the change to the table it was computed against.
    pub fn apply(self, t: &mut Table) {
        t.batches.truncate(self.keep);
        t.batches.extend(self.tail);
        t.schema = self.schema;
    }
}

pub use super::catalog::{CHECKPOINT_IDLE, Catalog, DEFAULT_CHECKPOINT_BYTES, StorageOptions};
pub use super::dedup::DEDUP_KEY;
pub use super::wal::StorageFaults;

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};

    fn batch(ts: &[i64], tag: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("tag", DataType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(TimestampMicrosecondArray::from(ts.to_vec())),
                Arc::new(Int64Array::from(vec![tag; ts.len()])),
            ],
        )
        .unwrap()
    }

    fn append(t: &mut Table, b: RecordBatch) -> Result<()> {
        let mut c = Change::of(t);
        c.append(&t.batches, b)?;
        c.apply(t);
        Ok(())
    }

    #[test]
    fn out_of_order_rows_merge_with_the_overlapping_tail_only() {
        let first = batch(&(0..10).collect::<Vec<_>>(), 0);
        let mut t = Table::new("t", first.schema(), Some(0));
        append(&mut t, first).unwrap();
        append(&mut t, batch(&(10..20).collect::<Vec<_>>(), 1)).unwrap();
        append(&mut t, batch(&(20..30).collect::<Vec<_>>(), 2)).unwrap();
        let head = t.batches[0].column(0).clone();
        // Unsorted, reaching back into the second batch; 15 ties an
        // existing row.
        append(&mut t, batch(&[25, 15], 9)).unwrap();
        assert_eq!(t.batches.len(), 2, "the first batch is left alone");
        assert!(Arc::ptr_eq(&head, t.batches[0].column(0)), "not rewritten");
        let all = concat_batches(&t.schema, &t.batches).unwrap();
        let ts: Vec<i64> = all
            .column(0)
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec();
        let mut want: Vec<i64> = (0..30).chain([15, 25]).collect();
        want.sort();
        assert_eq!(ts, want);
        // Equal timestamps: the row that was there first stays first.
        let tags = all.column(1).as_primitive::<Int64Type>();
        let at15 = ts.iter().position(|&x| x == 15).unwrap();
        assert_eq!((tags.value(at15), tags.value(at15 + 1)), (1, 9));
        // A row before everything merges with the whole table.
        append(&mut t, batch(&[-1], 7)).unwrap();
        assert_eq!(t.batches.len(), 1);
        assert_eq!(t.rows(), 33);
    }
}
