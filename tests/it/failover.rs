//! Query failover with replay: three embedded servers share one storage,
//! a query streaming 200 small batches loses its node after 50 of them,
//! and the cursor replays it on another node only when the caller opted
//! in (`on_failover_reset` / `on_failover_progress`), never for a
//! statement that may write unless `replay_writes(true)`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use questdb_arrow::client::{
    AckLevel, Cursor, FailoverEvent, FailoverPhase, Query, QuestDb, Terminal,
};
use questdb_arrow::server::{Faults, Server, ServerHandle};
use questdb_arrow::{Error, ErrorKind};

use crate::support::rows;

/// Rows of the table: 200 result batches of [`BATCH_ROWS`].
const ROWS: i64 = 10_000;
const BATCH_ROWS: usize = 50;
/// Batches the client takes before its node is shut down.
const BEFORE: usize = 50;

/// Three nodes on one storage, small result batches; the first one with
/// `faults`. The table `t` holds ids `0..ROWS`.
fn cluster(faults: Faults) -> Vec<ServerHandle> {
    let first = Server::builder()
        .bind("127.0.0.1:0")
        .max_batch_rows(BATCH_ROWS)
        .faults(faults)
        .start()
        .unwrap();
    let storage = first.storage();
    let mut nodes = vec![first];
    for _ in 0..2 {
        nodes.push(
            Server::builder()
                .bind("127.0.0.1:0")
                .max_batch_rows(BATCH_ROWS)
                .shared_storage(storage.clone())
                .start()
                .unwrap(),
        );
    }
    QuestDb::connect(&nodes[1].conf_string())
        .unwrap()
        .flush_arrow_batch("t", &rows(0..ROWS), Some("ts"), &[], AckLevel::Ok)
        .unwrap();
    nodes
}

fn connect(nodes: &[ServerHandle], extra: &str) -> QuestDb {
    let list: Vec<String> = nodes.iter().map(|n| n.addr().to_string()).collect();
    QuestDb::connect(&format!("ws::addr={};{extra}", list.join(","))).unwrap()
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    let mut v: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    v.sort_unstable();
    v
}

/// One event as a callback saw it: the phase, the failed and the new
/// endpoint.
type Logged = (FailoverPhase, String, Option<String>);

/// What the callbacks saw.
#[derive(Clone, Default)]
struct Seen {
    events: Arc<Mutex<Vec<Logged>>>,
    resets: Arc<AtomicUsize>,
}

impl Seen {
    fn progress(&self) -> impl Fn(&FailoverEvent<'_>) + Send + 'static {
        let events = self.events.clone();
        move |ev| {
            events.lock().unwrap().push((
                ev.phase,
                ev.failed_endpoint.to_string(),
                ev.new_endpoint.map(str::to_string),
            ));
        }
    }

    fn reset(&self) -> impl Fn(&FailoverEvent<'_>) + Send + 'static {
        let resets = self.resets.clone();
        move |ev| {
            assert_eq!(ev.phase, FailoverPhase::Reset);
            resets.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// `q` with both callbacks installed.
    fn watch<'q>(&self, q: Query<'q>) -> Query<'q> {
        q.on_failover_reset(self.reset())
            .on_failover_progress(self.progress())
    }

    fn phases(&self) -> Vec<FailoverPhase> {
        self.events.lock().unwrap().iter().map(|e| e.0).collect()
    }
}

/// Starts `SELECT id FROM t` on the first node (with a small credit, so
/// the server cannot run ahead and finish before it goes away), takes
/// [`BEFORE`] batches, shuts the first node down and collects the rest
/// with `fetch_all_arrow`.
fn read_through_a_shutdown(
    nodes: Vec<ServerHandle>,
    extra: &str,
    configure: impl FnOnce(Query<'_>) -> Query<'_>,
) -> (Result<Vec<RecordBatch>, Error>, Vec<ServerHandle>) {
    collect_through_a_shutdown(nodes, extra, configure, |c| c.fetch_all_arrow())
}

/// [`read_through_a_shutdown`] collecting the rest with `collect`.
fn collect_through_a_shutdown<T>(
    mut nodes: Vec<ServerHandle>,
    extra: &str,
    configure: impl FnOnce(Query<'_>) -> Query<'_>,
    collect: impl FnOnce(&mut Cursor<'_>) -> Result<T, Error>,
) -> (Result<T, Error>, Vec<ServerHandle>) {
    let db = connect(&nodes, extra);
    let first = nodes.remove(0);
    let q = db.query("SELECT id FROM t").unwrap().initial_credit(2048);
    let mut cur = configure(q).execute().unwrap();
    for k in 0..BEFORE {
        assert!(cur.next_arrow_batch().unwrap().is_some(), "batch {k}");
    }
    // Down before the rest is read: the credit holds the server at a few
    // batches ahead, and its query loop sees the stop while it waits for
    // credit, so the shutdown returns without the cursor. (Shut down from
    // another thread while the rest was read, the cursor could finish
    // first on a loaded machine, and no failover happened.)
    first.shutdown();
    let rest = collect(&mut cur);
    if rest.is_ok() {
        assert_eq!(
            cur.terminal(),
            Some(&Terminal::ResultEnd {
                total_rows: ROWS as u64,
                final_seq: (ROWS as u64).div_ceil(BATCH_ROWS as u64) - 1,
            })
        );
    }
    (rest, nodes)
}

#[test]
fn a_lost_query_is_replayed_once_on_the_next_node_and_equals_a_single_server_read() {
    let nodes = cluster(Faults::default());
    let first = nodes[0].addr().to_string();
    let second = nodes[1].addr().to_string();
    let seen = Seen::default();
    let (rest, nodes) = read_through_a_shutdown(nodes, "", |q| seen.watch(q));
    let rest = rest.unwrap();
    assert_eq!(seen.resets.load(Ordering::SeqCst), 1);
    assert_eq!(
        seen.phases(),
        vec![
            FailoverPhase::Disconnected,
            FailoverPhase::Retrying { attempt: 2 },
            FailoverPhase::Reset
        ]
    );
    let events = seen.events.lock().unwrap().clone();
    assert!(events.iter().all(|e| e.1 == first), "{first}");
    assert_eq!(events[2].2.as_deref(), Some(second.as_str()));
    // What fetch_all_arrow returned is the replay, whole: what it had
    // collected from the lost node was discarded.
    let single = connect(&nodes[1..2], "")
        .query_arrow("SELECT id FROM t")
        .and_then(|mut c| c.fetch_all_arrow())
        .unwrap();
    let got = ids(&rest);
    assert_eq!(got.len(), ROWS as usize);
    assert_eq!(got, ids(&single));
    assert_eq!(got, (0..ROWS).collect::<Vec<_>>());
}

#[test]
fn a_streaming_reader_that_honours_reset_gets_every_row_once() {
    let mut nodes = cluster(Faults::default());
    let db = connect(&nodes, "");
    let mut first = Some(nodes.remove(0));
    let reset = Arc::new(AtomicUsize::new(0));
    let r2 = reset.clone();
    let mut cur: Cursor<'_> = db
        .query("SELECT id FROM t")
        .unwrap()
        .initial_credit(2048)
        .on_failover_reset(move |_| {
            r2.fetch_add(1, Ordering::SeqCst);
        })
        .execute()
        .unwrap();
    let mut kept: Vec<RecordBatch> = Vec::new();
    let mut seen_resets = 0;
    let mut killer = None;
    // Through the RecordBatchReader interface, honouring Reset as the
    // callback reports it.
    for b in cur.by_ref() {
        let b = b.unwrap();
        let now = reset.load(Ordering::SeqCst);
        if now != seen_resets {
            seen_resets = now;
            kept.clear();
        }
        kept.push(b);
        if kept.len() == BEFORE
            && seen_resets == 0
            && let Some(node) = first.take()
        {
            killer = Some(std::thread::spawn(move || node.shutdown()));
        }
    }
    killer.unwrap().join().unwrap();
    assert_eq!(seen_resets, 1);
    assert_eq!(cur.failover_resets(), 1);
    let got = ids(&kept);
    assert_eq!(got.len(), ROWS as usize);
    assert_eq!(got, (0..ROWS).collect::<Vec<_>>());
}

#[test]
fn without_an_opt_in_the_lost_connection_is_the_error() {
    let (rest, _nodes) = read_through_a_shutdown(cluster(Faults::default()), "", |q| q);
    let e = rest.unwrap_err();
    assert_transport(&e);
    let msg = e.to_string();
    assert!(msg.contains("query failover is not enabled"), "{msg}");
    assert!(msg.contains("on_failover_reset"), "{msg}");
}

#[test]
fn failover_off_fails_even_with_callbacks() {
    let seen = Seen::default();
    let (rest, _nodes) =
        read_through_a_shutdown(cluster(Faults::default()), "failover=off;", |q| {
            seen.watch(q)
        });
    let e = rest.unwrap_err();
    assert_transport(&e);
    assert!(e.to_string().contains("failover=off"), "{e}");
    assert!(seen.phases().is_empty());
    assert_eq!(seen.resets.load(Ordering::SeqCst), 0);
}

#[test]
fn one_attempt_gives_up_at_once() {
    let seen = Seen::default();
    let (rest, _nodes) = read_through_a_shutdown(
        cluster(Faults::default()),
        "failover_max_attempts=1;",
        |q| seen.watch(q),
    );
    let e = rest.unwrap_err();
    assert_transport(&e);
    assert!(
        e.to_string()
            .contains("gave up after 1 attempt(s) (failover_max_attempts=1)"),
        "{e}"
    );
    assert_eq!(
        seen.phases(),
        vec![FailoverPhase::Disconnected, FailoverPhase::GaveUp]
    );
    assert_eq!(seen.resets.load(Ordering::SeqCst), 0);
}

#[test]
fn a_write_is_replayed_only_with_replay_writes() {
    const INSERT: &str = "INSERT INTO w VALUES (1)";
    // The first node drops the connection of whoever sends INSERT.
    let nodes = cluster(Faults {
        panic_on_sql: Some(INSERT.to_string()),
        ..Faults::default()
    });
    let second = QuestDb::connect(&nodes[1].conf_string()).unwrap();
    let count = || {
        let b = second.borrow_reader().unwrap().rows("SELECT x FROM w");
        b.unwrap().num_rows()
    };
    second
        .borrow_reader()
        .unwrap()
        .sql("CREATE TABLE w (x LONG)")
        .unwrap();
    let before: Vec<usize> = nodes[1..]
        .iter()
        .map(|n| n.connections_accepted())
        .collect();
    let db = connect(&nodes, "");
    let seen = Seen::default();
    let e = seen.watch(db.query(INSERT).unwrap()).execute().unwrap_err();
    assert_transport(&e);
    assert!(e.to_string().contains("not replayed"), "{e}");
    assert!(e.to_string().contains("replay_writes"), "{e}");
    assert!(seen.phases().is_empty());
    // No other node was even connected to, and nothing was inserted.
    let after: Vec<usize> = nodes[1..]
        .iter()
        .map(|n| n.connections_accepted())
        .collect();
    assert_eq!(after, before);
    assert_eq!(count(), 0);
    // With replay_writes the statement runs again on the next node.
    let seen = Seen::default();
    let mut cur = db
        .query(INSERT)
        .unwrap()
        .on_failover_reset(seen.reset())
        .replay_writes(true)
        .execute()
        .unwrap();
    assert!(cur.next_arrow_batch().unwrap().is_none());
    assert!(matches!(
        cur.terminal(),
        Some(Terminal::ExecDone {
            rows_affected: 1,
            ..
        })
    ));
    drop(cur);
    assert_eq!(seen.resets.load(Ordering::SeqCst), 1);
    assert_eq!(count(), 1);
}

/// The error of a lost connection: a transport kind, never a server error.
fn assert_transport(e: &Error) {
    assert!(
        matches!(e.kind(), ErrorKind::Closed | ErrorKind::Io),
        "{:?}: {e}",
        e.kind()
    );
    assert_eq!(e.status(), None, "{e}");
}

#[cfg(feature = "polars")]
#[test]
fn fetch_all_polars_discards_what_it_had_on_a_reset() {
    let seen = Seen::default();
    let (df, _nodes) = collect_through_a_shutdown(
        cluster(Faults::default()),
        "",
        |q| q.on_failover_reset(seen.reset()),
        |c| c.fetch_all_polars(),
    );
    let df = df.unwrap();
    assert_eq!(seen.resets.load(Ordering::SeqCst), 1);
    let mut got: Vec<i64> = df
        .column("id")
        .unwrap()
        .i64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    got.sort_unstable();
    assert_eq!(got.len(), ROWS as usize);
    assert_eq!(got, (0..ROWS).collect::<Vec<_>>());
}
