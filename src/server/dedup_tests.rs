use super::*;
use crate::server::storage::{Change, Table};
use arrow::array::{Array, AsArray, Int64Array, TimestampMicrosecondArray};
use arrow::datatypes::{Int64Type, TimeUnit, TimestampMicrosecondType};
use proptest::prelude::*;

/// `(ts, id, v)`: `ts` designated, `(ts, id)` the upsert keys when on.
type R = (i64, Option<i64>, i64);

fn schema(dedup: bool) -> SchemaRef {
    let s = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("id", DataType::Int64, true),
        Field::new("v", DataType::Int64, false),
    ]));
    if dedup { with_keys(&s, &[0, 1]) } else { s }
}

fn batch(rows: &[R], dedup: bool) -> RecordBatch {
    RecordBatch::try_new(
        schema(dedup),
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                rows.iter().map(|r| r.0),
            )),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .unwrap()
}

fn rows_of(batches: &[RecordBatch]) -> Vec<R> {
    let mut out = Vec::new();
    for b in batches {
        let ts = b.column(0).as_primitive::<TimestampMicrosecondType>();
        let id = b.column(1).as_primitive::<Int64Type>();
        let v = b.column(2).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            out.push((ts.value(i), id.is_valid(i).then(|| id.value(i)), v.value(i)));
        }
    }
    out
}

fn commit(t: &mut Table, rows: &[R]) {
    let mut c = Change::of(t);
    c.append(&t.batches, batch(rows, false)).unwrap();
    c.apply(t);
}

/// Turns dedup on for `t` as `ALTER TABLE … DEDUP ENABLE` does.
fn enable(t: &mut Table) {
    t.schema = schema(true);
    t.batches = t
        .batches
        .iter()
        .map(|b| RecordBatch::try_new(t.schema.clone(), b.columns().to_vec()).unwrap())
        .collect();
}

/// The model: each new row, in order, replaces every row with its key in
/// place, or is appended; then a stable sort by timestamp.
fn model_commit(stored: &mut Vec<R>, rows: &[R]) {
    for &r in rows {
        let mut hit = false;
        for s in stored.iter_mut() {
            if (s.0, s.1) == (r.0, r.1) {
                *s = r;
                hit = true;
            }
        }
        if !hit {
            stored.push(r);
        }
    }
    stored.sort_by_key(|r| r.0);
}

#[test]
fn keys_round_trip_through_metadata() {
    assert_eq!(keys_of(&schema(false)), Vec::<usize>::new());
    assert_eq!(keys_of(&schema(true)), vec![0, 1]);
    assert_eq!(keys_of(&with_keys(&schema(true), &[])), Vec::<usize>::new());
    assert!(unmarked(schema(true).field(1)).metadata().is_empty());
}

#[test]
fn resolve_enforces_questdb_rules() {
    let s = schema(false);
    let names = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        resolve("t", &s, Some(0), &names(&["ID", "ts"])).unwrap(),
        [0, 1]
    );
    let e = resolve("t", &s, Some(0), &names(&["id"])).unwrap_err();
    assert_eq!(e.status, Status::ParseError);
    assert!(
        e.message
            .contains("must include dedicated timestamp column"),
        "{}",
        e.message
    );
    assert!(e.message.contains("table=t") && e.message.contains("timestamp=ts"));
    let e = resolve("t", &s, Some(0), &names(&["ts", "nope"])).unwrap_err();
    assert!(
        e.message
            .contains("deduplicate key column not found [table=t, column=nope]")
    );
    let e = resolve("t", &s, None, &names(&["ts"])).unwrap_err();
    assert!(
        e.message.contains("designated timestamp [table=t]"),
        "{}",
        e.message
    );
    let arr = Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new_list("a", Field::new_list_field(DataType::Float64, true), true),
    ]);
    let e = resolve("t", &arr, Some(0), &names(&["ts", "a"])).unwrap_err();
    assert!(
        e.message
            .contains("cannot include ARRAY [table=t, column=a"),
        "{}",
        e.message
    );
}

#[test]
fn duplicates_in_one_batch_keep_the_last_in_the_first_place() {
    let new = batch(
        &[
            (1, Some(1), 10),
            (1, Some(2), 11),
            (1, Some(1), 12),
            (0, None, 13),
            (0, None, 14),
        ],
        true,
    );
    let m = merge(&schema(true), &[], &new, 0, &[0, 1]).unwrap();
    assert_eq!(
        rows_of(&[m]),
        [(0, None, 14), (1, Some(1), 12), (1, Some(2), 11)]
    );
}

#[test]
fn a_new_row_replaces_every_stored_duplicate() {
    let old = batch(&[(5, Some(1), 1), (5, Some(1), 2), (5, Some(2), 3)], true);
    let new = batch(&[(5, Some(1), 9), (5, Some(3), 8)], true);
    let m = merge(&schema(true), &[old], &new, 0, &[0, 1]).unwrap();
    assert_eq!(
        rows_of(&[m]),
        [
            (5, Some(1), 9),
            (5, Some(1), 9),
            (5, Some(2), 3),
            (5, Some(3), 8)
        ]
    );
}

#[test]
fn appends_after_the_last_timestamp_are_not_copied() {
    let mut t = Table::new("t", schema(true), Some(0));
    commit(&mut t, &[(1, Some(1), 1), (2, Some(1), 2)]);
    let first = t.batches[0].column(2).clone();
    commit(&mut t, &[(3, Some(1), 3), (4, Some(1), 4)]);
    assert_eq!(t.batches.len(), 2);
    assert!(Arc::ptr_eq(&first, t.batches[0].column(2)), "not rewritten");
    // Only the rows from the new minimum on are merged: the first batch
    // keeps its arrays, the second is cut where the overlap starts.
    commit(&mut t, &[(4, Some(1), 5), (4, Some(2), 6)]);
    assert!(Arc::ptr_eq(&first, t.batches[0].column(2)), "not rewritten");
    assert_eq!(
        rows_of(&t.batches),
        [
            (1, Some(1), 1),
            (2, Some(1), 2),
            (3, Some(1), 3),
            (4, Some(1), 5),
            (4, Some(2), 6)
        ]
    );
    assert_eq!(t.batches[1].num_rows(), 1, "the slice before the overlap");
}

fn rows_strategy(max: usize) -> impl Strategy<Value = Vec<(i64, Option<i64>)>> {
    proptest::collection::vec((0i64..6, proptest::option::of(0i64..3)), 0..max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Commits through `Change::append` (the catalogue's one path) against
    /// the model: stored rows from before dedup keep their duplicates; every
    /// later commit upserts.
    #[test]
    fn commits_match_the_model(
        before in proptest::collection::vec(rows_strategy(6), 0..4),
        after in proptest::collection::vec(rows_strategy(8), 1..6),
    ) {
        let mut t = Table::new("t", schema(false), Some(0));
        let mut model: Vec<R> = Vec::new();
        let mut v = 0;
        let mut tag = |rows: &[(i64, Option<i64>)]| -> Vec<R> {
            rows.iter().map(|&(ts, id)| { v += 1; (ts, id, v) }).collect()
        };
        for rows in &before {
            let rows = tag(rows);
            commit(&mut t, &rows);
            model.extend(rows);
            model.sort_by_key(|r| r.0);
        }
        enable(&mut t);
        for rows in &after {
            let rows = tag(rows);
            commit(&mut t, &rows);
            model_commit(&mut model, &rows);
            prop_assert_eq!(rows_of(&t.batches), model.clone());
        }
        prop_assert!(t.batches.iter().all(|b| b.schema() == t.schema));
    }
}
