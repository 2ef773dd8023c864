//! Query failover: when a query's connection is lost mid-stream, the
//! [`Cursor`] reconnects through the endpoint walk and replays the query
//! from the start, if the caller opted in. The rules are documented for
//! users in the `client` module ("Query failover").

use std::time::{Duration, Instant};

use crate::conf::{Addr, Conf};
use crate::error::{Error, ErrorKind, Result};

use super::connect::{self, Backoff};
use super::query::{Cursor, Query};

/// Where a query's failover is (see [`FailoverEvent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailoverPhase {
    /// The query's connection was lost (the cause is the transport error).
    Disconnected,
    /// Another execution of the query is being tried: a round over the
    /// endpoints, then the query from its start. `attempt` counts the
    /// first execution (so the first retry is attempt 2).
    Retrying {
        /// This attempt's number, ≥ 2.
        attempt: u32,
    },
    /// The query runs again from its start on `new_endpoint`: the batches
    /// received before belong to the lost execution and must be discarded.
    /// Fired once per replay, before its first batch.
    Reset,
    /// The failover stopped (attempts or time spent, or a terminal error
    /// such as failed authentication); the query returns the error.
    GaveUp,
}

/// What a failover callback is told
/// ([`Query::on_failover_reset`](super::Query::on_failover_reset),
/// [`Query::on_failover_progress`](super::Query::on_failover_progress)).
#[derive(Debug)]
#[non_exhaustive]
pub struct FailoverEvent<'e> {
    /// Where the failover is.
    pub phase: FailoverPhase,
    /// The SQL text of the query.
    pub sql: &'e str,
    /// The endpoint (`host:port`) whose connection was lost.
    pub failed_endpoint: &'e str,
    /// With [`FailoverPhase::Reset`]: the endpoint the query is replayed
    /// on; `None` otherwise.
    pub new_endpoint: Option<&'e str>,
    /// Executions of the query so far, counting the first.
    pub attempts: u32,
    /// The error that started this failover (with
    /// [`FailoverPhase::GaveUp`]: the last error).
    pub cause: &'e Error,
}

/// A failover callback.
pub(crate) type Callback<'a> = Box<dyn Fn(&FailoverEvent<'_>) + Send + 'a>;

/// What the caller asked of failover for one query, and where it is.
#[derive(Default)]
pub(crate) struct Failover<'a> {
    pub(crate) on_reset: Option<Callback<'a>>,
    pub(crate) on_progress: Option<Callback<'a>>,
    pub(crate) replay_writes: bool,
    /// Replays so far (each one fired [`FailoverPhase::Reset`]).
    pub(crate) replays: u64,
    /// Whether the server answered with a result set (a RESULT_BATCH),
    /// which makes the statement a query, safe to replay.
    pub(crate) result_set: bool,
    budget: Option<Budget>,
}

impl Failover<'_> {
    fn opted_in(&self) -> bool {
        self.on_reset.is_some() || self.on_progress.is_some()
    }

    fn emit(&self, ev: &FailoverEvent<'_>) {
        if let (FailoverPhase::Reset, Some(f)) = (ev.phase, &self.on_reset) {
            f(ev);
        }
        if let Some(f) = &self.on_progress {
            f(ev);
        }
    }
}

/// Whether `e` means the connection was lost (worth another endpoint), as
/// opposed to a server error (a QWP status), a malformed frame, a
/// client-side error or a terminal condition.
pub(crate) fn is_transport(e: &Error) -> bool {
    connect::lost_connection(e)
        || matches!(
            e.kind(),
            ErrorKind::Tls | ErrorKind::Handshake | ErrorKind::RoleReject
        )
}

/// Whether `sql` certainly only reads: its first keyword (after comments,
/// blanks and opening parentheses) is SELECT, SHOW, EXPLAIN or DESCRIBE,
/// or WITH with no INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, TRUNCATE,
/// RENAME, COPY, VACUUM or REINDEX anywhere in the text. Anything else
/// (including QuestDB's bare `table_name` query) counts as a write: the
/// check only has to be conservative.
pub(crate) fn read_only_sql(sql: &str) -> bool {
    const WRITES: &[&str] = &[
        "insert", "update", "delete", "create", "drop", "alter", "truncate", "rename", "copy",
        "vacuum", "reindex",
    ];
    let words = words(sql);
    match words.first().map(String::as_str) {
        Some("select" | "show" | "explain" | "describe") => true,
        Some("with") => !words.iter().any(|w| WRITES.contains(&w.as_str())),
        _ => false,
    }
}

/// The lowercase words of `sql` outside comments, in order.
fn words(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let comment = match (c, chars.peek()) {
            ('-', Some('-')) => Some(false),
            ('/', Some('*')) => Some(true),
            _ => None,
        };
        if c.is_alphanumeric() || c == '_' {
            word.extend(c.to_lowercase());
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        match comment {
            Some(false) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            Some(true) => {
                chars.next();
                let mut star = false;
                for c in chars.by_ref() {
                    if star && c == '/' {
                        break;
                    }
                    star = c == '*';
                }
            }
            None => {}
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The attempts and time one query may spend failing over.
pub(crate) struct Budget {
    max_attempts: u32,
    /// Executions so far, counting the first.
    used: u32,
    backoff: Backoff,
    deadline: Option<Instant>,
    /// Pauses made so far (for tests).
    pauses: u32,
}

impl Budget {
    /// From `failover_*`, the time budget starting now (at the first lost
    /// connection); the first execution counts as one attempt.
    pub(crate) fn new(conf: &Conf) -> Budget {
        Budget::with(
            conf.failover_max_attempts(),
            conf.failover_backoff_initial(),
            conf.failover_backoff_max(),
            conf.failover_max_duration(),
        )
    }

    fn with(
        max_attempts: u32,
        initial: Duration,
        max: Duration,
        within: Option<Duration>,
    ) -> Budget {
        let deadline = within.and_then(|d| Instant::now().checked_add(d));
        Budget {
            max_attempts,
            used: 1,
            backoff: Backoff::with(initial, max, deadline),
            deadline,
            pauses: 0,
        }
    }

    /// Executions so far, counting the first.
    pub(crate) fn used(&self) -> u32 {
        self.used
    }

    /// The next attempt's number, after the pause between rounds (none
    /// before the first retry); the reason, naming the key, once the
    /// attempts or the time are spent.
    fn next(&mut self) -> std::result::Result<u32, String> {
        if self.used >= self.max_attempts {
            return Err(format!(
                "query failover gave up after {} attempt(s) (failover_max_attempts={})",
                self.used, self.max_attempts
            ));
        }
        let spent =
            || "query failover gave up: its time budget (failover_max_duration_ms) is spent";
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(spent().to_string());
        }
        if self.used >= 2 {
            self.pauses += 1;
            if !self.backoff.pause() {
                return Err(spent().to_string());
            }
        }
        self.used += 1;
        Ok(self.used)
    }
}

/// Why a transport error was not failed over, for callers that did not
/// opt in.
const NOT_ENABLED: &str = "query failover is not enabled for this query: install \
    Query::on_failover_reset (or on_failover_progress) to replay it from the start on another \
    endpoint";

impl Cursor<'_> {
    /// After `cause` ended the running execution: when it is a transport
    /// error and failover applies, reconnects (a round from the endpoint
    /// after the failed one, honouring `target` and `zone`) and replays the
    /// query from the start with a fresh request id, within the budget.
    /// `Ok` once the query runs again ([`FailoverPhase::Reset`] fired);
    /// otherwise the error to return, with the reason in its context.
    pub(super) fn fail_over(&mut self, cause: Error) -> Result<()> {
        if !is_transport(&cause) {
            return Err(cause);
        }
        let Some(conf) = self.home.reader().conf.clone() else {
            // A reader made from explicit options has no endpoint list.
            return Err(if self.failover.opted_in() {
                cause.context(
                    "query failover needs a reader made from a connect string \
                     (Reader::connect or QuestDb), not Reader::connect_with",
                )
            } else {
                cause
            });
        };
        if !self.failover.opted_in() {
            return Err(cause.context(NOT_ENABLED));
        }
        if !conf.failover() {
            return Err(cause.context(
                "query failover is off (failover=off in the connect string): not replayed",
            ));
        }
        if !(self.failover.replay_writes
            || self.failover.result_set
            || read_only_sql(&self.req.sql))
        {
            return Err(cause.context(
                "not replayed: the statement may have changed data (only queries are replayed; \
                 Query::replay_writes(true) replays it too)",
            ));
        }
        let mut budget = self
            .failover
            .budget
            .take()
            .unwrap_or_else(|| Budget::new(&conf));
        let r = self.replay(&mut budget, cause);
        self.failover.budget = Some(budget);
        r
    }

    fn replay(&mut self, budget: &mut Budget, mut cause: Error) -> Result<()> {
        let failed = self.endpoint();
        let sql = self.req.sql.clone();
        let say = |f: &Failover<'_>, phase, new: Option<&str>, attempts, cause: &Error| {
            f.emit(&FailoverEvent {
                phase,
                sql: &sql,
                failed_endpoint: &failed,
                new_endpoint: new,
                attempts,
                cause,
            });
        };
        say(
            &self.failover,
            FailoverPhase::Disconnected,
            None,
            budget.used(),
            &cause,
        );
        loop {
            let attempt = match budget.next() {
                Ok(n) => n,
                Err(why) => {
                    say(
                        &self.failover,
                        FailoverPhase::GaveUp,
                        None,
                        budget.used(),
                        &cause,
                    );
                    return Err(cause.context(why));
                }
            };
            let retrying = FailoverPhase::Retrying { attempt };
            say(&self.failover, retrying, None, attempt, &cause);
            match self.relaunch() {
                Ok(()) => {
                    self.failover.replays += 1;
                    let new = self.endpoint();
                    say(
                        &self.failover,
                        FailoverPhase::Reset,
                        Some(&new),
                        attempt,
                        &cause,
                    );
                    return Ok(());
                }
                Err(e) if !connect::retriable(&e) => {
                    say(&self.failover, FailoverPhase::GaveUp, None, attempt, &e);
                    return Err(e.context(format!(
                        "query failover stopped at attempt {attempt} (a terminal error)"
                    )));
                }
                Err(e) => cause = e,
            }
        }
    }

    /// The endpoint (`host:port`) of the reader's connection, or of the
    /// one it had last.
    fn endpoint(&mut self) -> String {
        let o = &self.home.reader().opts;
        Addr::new(o.host.clone(), o.port).to_string()
    }

    /// How many times the query was replayed after a lost connection (each
    /// replay fired [`FailoverPhase::Reset`] before its first batch).
    pub fn failover_resets(&self) -> u64 {
        self.failover.replays
    }
}

impl<'a> Query<'a> {
    /// Opts in to query failover and calls `f` with
    /// [`FailoverPhase::Reset`] each time the
    /// query is replayed. When the connection is lost mid-query (a
    /// transport error, never a server error), the query is run again from
    /// its start on another endpoint (a round from the endpoint after the
    /// failed one, honouring `target` and `zone`) with a fresh request id,
    /// within `failover_max_attempts` and `failover_max_duration_ms`, with
    /// a pause of `failover_backoff_initial_ms` doubling to
    /// `failover_backoff_max_ms` between rounds. `f` runs on the thread
    /// reading the cursor, before the first replayed batch is returned:
    /// everything received before belongs to the lost execution and must
    /// be discarded. [`Cursor::fetch_all_arrow`] (and `fetch_all_polars`)
    /// do that themselves; a caller streaming with
    /// [`Cursor::next_arrow_batch`] or the `RecordBatchReader` must do it
    /// in (or on a flag set by) `f`. Without this or
    /// [`Query::on_failover_progress`], or with `failover=off`, a lost
    /// connection is the query's error. Statements that may write are not
    /// replayed unless [`Query::replay_writes`] says so. Do not call back
    /// into the reader or cursor from `f`.
    ///
    /// ```no_run
    /// # use questdb_arrow::client::QuestDb;
    /// let db = QuestDb::connect("ws::addr=db1:9000,db2:9000;failover_max_attempts=4;")?;
    /// let mut cur = db
    ///     .query("SELECT * FROM trades")?
    ///     .on_failover_reset(|ev| eprintln!("replaying on {:?}: {}", ev.new_endpoint, ev.cause))
    ///     .execute()?;
    /// let whole = cur.fetch_all_arrow()?; // what came before a reset is discarded
    /// # Ok::<(), questdb_arrow::Error>(())
    /// ```
    pub fn on_failover_reset(mut self, f: impl Fn(&FailoverEvent<'_>) + Send + 'a) -> Self {
        self.failover.on_reset = Some(Box::new(f));
        self
    }

    /// Opts in to query failover (as [`Query::on_failover_reset`]) and
    /// calls `f` at every phase: `Disconnected`, `Retrying { attempt }`,
    /// `Reset` (also given to the `on_failover_reset` callback, after it)
    /// and `GaveUp` (the query then returns the error). Each event names
    /// the failed endpoint and carries the cause.
    pub fn on_failover_progress(mut self, f: impl Fn(&FailoverEvent<'_>) + Send + 'a) -> Self {
        self.failover.on_progress = Some(Box::new(f));
        self
    }

    /// Whether a statement that may change data is replayed too after a
    /// lost connection (default `false`; failover must still be opted in
    /// with a callback). A statement counts as a query, replayed without
    /// this, when the server answered it with a result set or its text
    /// certainly only reads (its first keyword is SELECT, SHOW, EXPLAIN or
    /// DESCRIBE, or WITH with no writing keyword in the text); anything
    /// else may have been applied before the connection was lost, so
    /// replaying it may apply it twice.
    pub fn replay_writes(mut self, on: bool) -> Self {
        self.failover.replay_writes = on;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn attempts_count_the_first_execution() {
        let mut b = Budget::with(1, ms(1), ms(2), None);
        let e = b.next().unwrap_err();
        assert!(
            e.contains("after 1 attempt(s) (failover_max_attempts=1)"),
            "{e}"
        );
        let mut b = Budget::with(3, ms(1), ms(2), None);
        assert_eq!(b.next(), Ok(2));
        assert_eq!(b.next(), Ok(3));
        let e = b.next().unwrap_err();
        assert!(e.contains("failover_max_attempts=3"), "{e}");
        assert_eq!(b.used(), 3);
    }

    #[test]
    fn the_first_retry_is_immediate_and_later_ones_back_off() {
        let mut b = Budget::with(8, ms(1), ms(2), None);
        assert_eq!(b.next(), Ok(2));
        assert_eq!(b.pauses, 0);
        assert_eq!(b.next(), Ok(3));
        assert_eq!(b.pauses, 1);
        assert_eq!(b.next(), Ok(4));
        assert_eq!(b.pauses, 2);
    }

    #[test]
    fn the_time_budget_ends_the_failover_and_zero_is_unbounded() {
        let mut b = Budget::with(100, ms(5), ms(5), Some(ms(30)));
        let mut n = 0;
        let e = loop {
            match b.next() {
                Ok(_) => n += 1,
                Err(e) => break e,
            }
        };
        assert!(n >= 1, "{n}");
        // Well before the 100 attempts.
        assert!(e.contains("failover_max_duration_ms"), "{e}");
        // No time budget: only the attempts bound it.
        let mut b = Budget::with(4, ms(1), ms(1), None);
        assert_eq!((b.next(), b.next(), b.next()), (Ok(2), Ok(3), Ok(4)));
        assert!(b.next().unwrap_err().contains("failover_max_attempts"));
    }

    #[test]
    fn only_certain_reads_count_as_read_only() {
        for sql in [
            "SELECT 1",
            "  select * from t",
            "(SELECT 1) UNION (SELECT 2)",
            "-- a comment\nSELECT x FROM t",
            "/* insert */ SELECT 1",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "SHOW TABLES",
            "EXPLAIN SELECT 1",
            "DESCRIBE t",
        ] {
            assert!(read_only_sql(sql), "{sql}");
        }
        for sql in [
            "INSERT INTO t VALUES (1)",
            "insert into t select * from u",
            "UPDATE t SET x = 1",
            "CREATE TABLE t (x INT)",
            "DROP TABLE t",
            "TRUNCATE TABLE t",
            "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a",
            "trades",
            "",
            "-- SELECT\nDELETE FROM t",
        ] {
            assert!(!read_only_sql(sql), "{sql}");
        }
    }

    #[test]
    fn transport_errors_are_failed_over_and_server_errors_are_not() {
        use crate::protocol::Status;
        for k in [ErrorKind::Io, ErrorKind::Closed, ErrorKind::Timeout] {
            assert!(is_transport(&Error::new(k, "x")), "{k:?}");
        }
        for k in [
            ErrorKind::Auth,
            ErrorKind::Config,
            ErrorKind::Protocol,
            ErrorKind::Incompatible,
            ErrorKind::Internal,
        ] {
            assert!(!is_transport(&Error::new(k, "x")), "{k:?}");
        }
        assert!(!is_transport(&Error::server(Status::InternalError, "x")));
    }
}
