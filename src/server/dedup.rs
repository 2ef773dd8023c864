//! Deduplication (`DEDUP UPSERT KEYS`) of the embedded server's tables, as
//! QuestDB does it: with keys set, a row whose key columns equal those of a
//! stored row replaces that row (every such row, should the table hold
//! duplicates from before dedup was enabled) instead of being added, and
//! rows of one commit sharing a key keep the last. NULLs in a key compare
//! equal. The keys must include the designated timestamp, so two rows can
//! only match when their timestamps are equal: a commit is compared only
//! with the stored rows from its smallest timestamp on.
//!
//! The keys are persisted like the designated timestamp: as field
//! metadata ([`DEDUP_KEY`]) of the table's schema, which the write-ahead
//! log and the checkpoint manifest carry.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::row::{RowConverter, Rows, SortField};

use super::storage::{Reject, Table, ts_values};
use crate::bridge::qwp_type_of;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::Status;

/// Field-metadata key: `"true"` on each column of the table's
/// `DEDUP UPSERT KEYS`.
pub const DEDUP_KEY: &str = "questdb.dedup_key";

/// The table's upsert key columns (indices), empty when dedup is off.
pub(super) fn keys_of(schema: &Schema) -> Vec<usize> {
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.metadata().get(DEDUP_KEY).is_some_and(|v| v == "true"))
        .map(|(i, _)| i)
        .collect()
}

/// `schema` with exactly `keys` marked as upsert keys.
pub(super) fn with_keys(schema: &SchemaRef, keys: &[usize]) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut md = f.metadata().clone();
            if keys.contains(&i) {
                md.insert(DEDUP_KEY.into(), "true".into());
            } else {
                md.remove(DEDUP_KEY);
            }
            f.as_ref().clone().with_metadata(md)
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `field` without the upsert-key mark (for columns copied from another
/// table's schema).
pub(super) fn unmarked(field: &Field) -> Field {
    let mut md = field.metadata().clone();
    md.remove(DEDUP_KEY);
    field.clone().with_metadata(md)
}

fn reject(msg: String) -> Reject {
    Reject::new(Status::ParseError, msg)
}

/// Resolves `names` (matched case-insensitively, as QuestDB does) to the
/// columns of table `table`, enforcing QuestDB's rules: the table has a
/// designated timestamp, the keys include it, no key is an array.
pub(super) fn resolve(
    table: &str,
    schema: &Schema,
    designated: Option<usize>,
    names: &[String],
) -> std::result::Result<Vec<usize>, Reject> {
    let Some(d) = designated else {
        return Err(reject(format!(
            "deduplication is possible only on WAL tables, which need a designated timestamp [table={table}]"
        )));
    };
    if names.is_empty() {
        return Err(reject(format!(
            "deduplicate key column list expected [table={table}]"
        )));
    }
    let mut keys = Vec::with_capacity(names.len());
    for n in names {
        let i = schema
            .fields()
            .iter()
            .position(|f| f.name().eq_ignore_ascii_case(n))
            .ok_or_else(|| {
                reject(format!(
                    "deduplicate key column not found [table={table}, column={n}]"
                ))
            })?;
        let f = schema.field(i);
        if is_array(f) {
            let ty = qwp_type_of(f)
                .map(|q| q.ty.name().to_string())
                .unwrap_or_else(|_| f.data_type().to_string());
            return Err(reject(format!(
                "dedup key columns cannot include ARRAY [table={table}, column={n}, type={ty}]"
            )));
        }
        if !keys.contains(&i) {
            keys.push(i);
        }
    }
    if !keys.contains(&d) {
        return Err(reject(format!(
            "deduplicate key list must include dedicated timestamp column [table={table}, timestamp={}]",
            schema.field(d).name()
        )));
    }
    keys.sort_unstable();
    Ok(keys)
}

/// What `ALTER TABLE … DEDUP` (`keys` empty: `DISABLE`) makes of `t`: its
/// schema with the keys marked and its batches carrying that schema (the
/// same arrays). Existing rows are left as they are, duplicates included:
/// dedup applies to rows written after it is enabled.
pub(super) fn altered(
    t: &Table,
    keys: &[String],
) -> std::result::Result<(SchemaRef, Vec<RecordBatch>), Reject> {
    let idx = if keys.is_empty() {
        Vec::new()
    } else {
        resolve(&t.name, &t.schema, t.designated, keys)?
    };
    let schema = with_keys(&t.schema, &idx);
    let batches = t
        .batches
        .iter()
        .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Reject::new(Status::InternalError, format!("table {}: {e}", t.name)))?;
    Ok((schema, batches))
}

fn is_array(f: &Field) -> bool {
    matches!(
        f.data_type(),
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
    )
}

fn arrow_err(e: arrow::error::ArrowError) -> Error {
    Error::new(ErrorKind::InvalidData, e.to_string())
}

/// Merges `new` rows into `old` (stored rows in designated-timestamp order;
/// the caller passes only those at or after `new`'s smallest timestamp,
/// the others cannot match) with upsert semantics
/// on the key columns `keys` (which include the designated timestamp `d`):
/// each row of `new`, in order, replaces every row with the same key (in
/// its place), or is inserted after the rows of equal timestamp when none
/// matches. Returns all the rows in timestamp order. Rows of `old` are not
/// deduplicated among themselves (a table may hold duplicates from before
/// dedup was enabled). Costs `O(n log n)` in the rows given; keys are
/// compared (in Arrow's row format) only within runs of equal timestamps
/// that contain new rows.
pub(super) fn merge(
    schema: &SchemaRef,
    old: &[RecordBatch],
    new: &RecordBatch,
    d: usize,
    keys: &[usize],
) -> Result<RecordBatch> {
    debug_assert!(keys.contains(&d), "the keys include the timestamp");
    let mut parts: Vec<RecordBatch> = old.iter().filter(|b| b.num_rows() > 0).cloned().collect();
    let n_old: usize = parts.iter().map(|b| b.num_rows()).sum();
    parts.push(new.clone());
    let all = match parts.as_slice() {
        [one] => one.clone(),
        _ => concat_batches(schema, &parts).map_err(arrow_err)?,
    };
    let n = all.num_rows();
    if u32::try_from(n).is_err() {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("deduplication: {n} rows overlap, above the limit of 2^32"),
        ));
    }
    let ts = ts_values(all.column(d));
    if ts.len() != n {
        return Err(Error::new(
            ErrorKind::InvalidData,
            "deduplication: the designated timestamp is not a timestamp column",
        ));
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    // Stable: stored rows stay before new ones, new ones in arrival order.
    order.sort_by_key(|&i| ts[i as usize]);
    let mut rows: Option<Rows> = None;
    let mut out: Vec<u32> = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let t = ts[order[start] as usize];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| ts[i as usize] == t)
                .count();
        let run = &order[start..end];
        start = end;
        let has_new = run.iter().any(|&i| i as usize >= n_old);
        if run.len() == 1 || !has_new {
            out.extend_from_slice(run);
            continue;
        }
        if rows.is_none() {
            rows = Some(key_rows(&all, keys)?);
        }
        let Some(rows) = rows.as_ref() else {
            continue;
        };
        // Key → the output positions holding it.
        let mut slots: HashMap<arrow::row::Row<'_>, Vec<usize>> = HashMap::new();
        for &i in run {
            let key = rows.row(i as usize);
            if (i as usize) < n_old {
                slots.entry(key).or_default().push(out.len());
                out.push(i);
            } else if let Some(at) = slots.get(&key) {
                for &p in at {
                    out[p] = i;
                }
            } else {
                slots.insert(key, vec![out.len()]);
                out.push(i);
            }
        }
    }
    if out.len() == n && out.iter().enumerate().all(|(p, &i)| p == i as usize) {
        return Ok(all);
    }
    let idx = UInt32Array::from(out);
    let cols = all
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &idx, None))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(arrow_err)?;
    RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err)
}

/// The key columns of `all` in Arrow's row format (equal keys, NULLs
/// included, give equal rows).
fn key_rows(all: &RecordBatch, keys: &[usize]) -> Result<Rows> {
    let fields = keys
        .iter()
        .map(|&k| SortField::new(all.schema().field(k).data_type().clone()))
        .collect();
    let conv = RowConverter::new(fields).map_err(arrow_err)?;
    let cols: Vec<_> = keys.iter().map(|&k| all.column(k).clone()).collect();
    conv.convert_columns(&cols).map_err(arrow_err)
}

#[cfg(test)]
#[path = "dedup_tests.rs"]
mod tests;
