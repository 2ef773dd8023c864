//! Helpers shared by the integration tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use questdb_arrow::server::ServerHandle;

/// Rows `ids`, one per id, with a designated timestamp and a string.
pub fn rows(ids: std::ops::Range<i64>) -> RecordBatch {
    rows_with(ids, "note", |i| format!("n{i}"))
}

/// Rows `ids` of ts, id LONG and a VARCHAR column `name` holding
/// `text(id)`.
pub fn rows_with(
    ids: std::ops::Range<i64>,
    name: &str,
    text: impl Fn(i64) -> String,
) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("id", DataType::Int64, false),
        Field::new(name, DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                ids.clone().map(|i| 1_700_000_000_000_000 + i),
            )),
            Arc::new(Int64Array::from_iter_values(ids.clone())),
            Arc::new(StringArray::from_iter_values(ids.map(text))),
        ],
    )
    .unwrap()
}

/// The ids stored in `table` (via the handle's snapshot).
pub fn ids(srv: &ServerHandle, table: &str) -> Vec<i64> {
    let Some(b) = srv.table_batch(table) else {
        return Vec::new();
    };
    let i = b.schema().index_of("id").unwrap();
    let mut v = b.column(i).as_primitive::<Int64Type>().values().to_vec();
    v.sort();
    v
}

/// `rows(ids)` but with `id` as a string: a type change for table `t`.
pub fn string_ids(ids: std::ops::Range<i64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("id", DataType::Utf8, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                ids.clone().map(|i| 1_700_000_000_000_000 + i),
            )),
            Arc::new(StringArray::from_iter_values(ids.map(|i| i.to_string()))),
        ],
    )
    .unwrap()
}

/// A self-signed certificate for `localhost` written as PEM files in a
/// fresh temporary folder named after `tag`: `(cert, key, folder)`.
pub fn self_signed_pem(tag: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("qa-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key, dir)
}

/// An empty scratch directory `qa-{name}-{pid}` under the system's temp
/// directory (removed first if a run before left it).
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("qa-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// How long [`eventually`] waits for what must happen.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Polls `cond` until it holds, failing after [`PATIENCE`]: for what must
/// happen, never to time an outcome.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < end, "not within {PATIENCE:?}: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
