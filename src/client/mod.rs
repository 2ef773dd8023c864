//! Client API.
//!
//! - [`QuestDb`]: the process-wide handle (lazy, pooled, `Send + Sync`) with
//!   [`QuestDb::flush_arrow_batch`] (one batch, committed atomically, waits
//!   for the acknowledgement) and [`QuestDb::ingest`] (a stream of batches,
//!   pipelined, bounded memory, at-least-once across reconnects). Its
//!   connections come from two bounded pools ([`pool`]: caps, warm size,
//!   idle trimming, fail-fast borrowing at the cap).
//! - [`Sender`]: the ingest engine over one `/write/v4` connection (what
//!   the handle pools). It never copies a batch: frames are encoded from
//!   the Arrow buffers straight into the send buffer.
//! - [`AsyncSender`] ([`QuestDb::async_sender`]): publish without
//!   waiting; a background thread delivers a store-and-forward queue (in
//!   memory, or on disk with `sf_dir`); see [`delivery`] for the model.
//! - [`Reader`] (borrowed from [`QuestDb::borrow_reader`]): SQL with binds
//!   into a streaming [`Cursor`] of Arrow batches (a `RecordBatchReader`);
//!   [`QuestDb::query_arrow`] in one call.
//!
//! # Endpoints, roles and zones
//!
//! Every connect and reconnect walks the connect string's `addr` list:
//!
//! - One **round** tries each endpoint once, from the first for a new
//!   connection and from the one after the endpoint last used for a
//!   reconnect (so a dead node is tried last). A role reject (HTTP 421
//!   with `X-QuestDB-Role`) or a role that does not fit moves on at once,
//!   without a pause.
//! - **Ingest is zone-blind**: it takes the first endpoint that accepts a
//!   write. Replicas, and a primary still catching up after a promotion,
//!   refuse writes with 421, so ingest follows the primary; `target` and
//!   `zone` have no effect on it.
//! - **Queries** read the server's SERVER_INFO and keep the endpoint only
//!   if its role passes `target` (`any`: all; `primary`: PRIMARY,
//!   PRIMARY_CATCHUP or STANDALONE; `replica`: REPLICA only). With `zone`
//!   (and a target other than `primary`, which follows the primary across
//!   zones) an endpoint of the same zone, compared case-insensitively,
//!   wins; one of another zone is used only when no endpoint of the round
//!   is in the zone.
//! - Authentication failures ([`ErrorKind::Auth`]), configuration errors
//!   and an incompatible server ([`ErrorKind::Incompatible`]: QWP version,
//!   durable acknowledgements) end the walk at once and are never retried.
//!   When endpoints answered and none has the role asked for, the error is
//!   [`ErrorKind::RoleReject`] ([`Error::role`] names the last role seen);
//!   when none could be reached it is the last transport error. Either way
//!   the message lists every endpoint's outcome.
//! - Between rounds the client pauses: `reconnect_initial_backoff_millis`
//!   doubling up to `reconnect_max_backoff_millis`, each pause drawn from
//!   half to one and a half times the step (clients restarted together do
//!   not reconnect in step), within `reconnect_max_duration_millis`. A
//!   reconnect during ingest always retries (a replica may be promoted
//!   meanwhile); a first connect retries only with
//!   `initial_connect_retry=on` (default `off`: one round, then the
//!   error). `initial_connect_retry=async` is refused: connecting in the
//!   background needs the asynchronous sender this version does not have.
//!
//! # Query failover
//!
//! A query whose connection is lost while its result streams (a transport
//! error: the node went away, the connection was reset or closed) can be
//! replayed on another endpoint, **only when the caller opted in** with
//! [`Query::on_failover_reset`] and/or [`Query::on_failover_progress`]:
//!
//! - The cursor makes a round from the endpoint after the failed one,
//!   honouring `target` and `zone` as above, and runs the query again
//!   **from its start** with a fresh request id. The first retry follows
//!   the loss at once; later rounds wait `failover_backoff_initial_ms`
//!   (50) doubling up to `failover_backoff_max_ms` (1000), drawn as for
//!   reconnects. At most `failover_max_attempts` (8) executions, counting
//!   the first, within `failover_max_duration_ms` (30000, `0` =
//!   unbounded) from the first loss; then the query's error says which
//!   budget was spent. An authentication, configuration or compatibility
//!   error ends the failover at once.
//! - Callbacks get a [`FailoverEvent`] (the failed endpoint, the cause and
//!   the attempts) at each [`FailoverPhase`]: `Disconnected`,
//!   `Retrying { attempt }`, `Reset` (once per replay, before its first
//!   batch) and `GaveUp`. They run on the thread reading the cursor.
//! - On `Reset` the batches received so far belong to the lost execution.
//!   [`Cursor::fetch_all_arrow`] (with it [`Reader::sql`] and
//!   [`Reader::rows`]) and `Cursor::fetch_all_polars` discard them
//!   themselves, so their result equals a single server's; a caller
//!   streaming with [`Cursor::next_arrow_batch`] or the
//!   `RecordBatchReader` iterator must discard them itself.
//!   [`Cursor::failover_resets`] counts the replays.
//! - Without a callback, or with `failover=off`, the transport error is
//!   the query's error (its message says failover was not enabled and how
//!   to enable it). A server error (a QWP status) is never failed over,
//!   nor is a lost connection while cancelling, nor the first connect.
//! - Only queries are replayed by default: a statement the server answered
//!   with a result set, or whose text certainly only reads (first keyword
//!   SELECT, SHOW, EXPLAIN or DESCRIBE, or WITH without a writing keyword
//!   anywhere). Anything else (INSERT, UPDATE, DDL, QuestDB's bare
//!   `table_name` query, ...) may have been applied before the connection
//!   was lost and is replayed only with [`Query::replay_writes`]`(true)`.
//!
//! [`ErrorKind::Auth`]: crate::ErrorKind::Auth
//! [`ErrorKind::Incompatible`]: crate::ErrorKind::Incompatible
//! [`ErrorKind::RoleReject`]: crate::ErrorKind::RoleReject
//! [`Error::role`]: crate::Error::role

mod connect;
pub mod db;
pub mod delivery;
mod failover;
pub mod ilp;
mod parallel;
pub mod policy;
pub mod pool;
pub mod query;
mod read_ahead;
pub mod rows;
pub mod sender;
pub mod sf;

pub use crate::bridge::overrides::ColumnOverride;
pub use db::{PooledReader, PooledSender, QuestDb};
pub use delivery::{AsyncSender, Counters, SenderError};
pub use failover::{FailoverEvent, FailoverPhase};
pub use parallel::Partitioned;
pub use policy::{Category, Dropped, Policy};
pub use pool::PoolOptions;
pub use query::{BatchDecoder, Cursor, Decoded, Query, QueryResult, Reader, Terminal};
pub use sender::{AckLevel, Gorilla, IngestOptions, IngestSummary, Progress, Sender};
