//! Reading and changing a [`Conf`] in code: one read accessor per honoured
//! key, and [`Conf::set`] / [`Conf::with`], which go through the key table
//! like [`Conf::parse`] (so a refused key is refused here too).

use std::path::Path;
use std::time::Duration;

use super::values::{
    Addr, Compression, ErrorPolicy, InitialConnectRetry, PoolReap, Scheme, Target, TlsCa, TlsVerify,
};
use super::{Conf, entry_for, grammar};
use crate::Result;

impl Conf {
    /// Sets one key as a connect string would: `conf.set("compression",
    /// "zstd")?`. Aliases are accepted; unknown and refused keys, empty
    /// values, control characters and bad values are errors naming the key.
    /// `addr` appends endpoints; any other key replaces its value. Rules
    /// that join several keys (e.g. `token` excludes `username`) are
    /// checked by [`Conf::validate`].
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Conf> {
        let entry = entry_for(key, Some(self.scheme))?;
        grammar::check_value(key, value, entry.secret)?;
        (entry.apply)(self, key, value)?;
        Ok(self)
    }

    /// [`Conf::set`] by value, for chaining:
    /// `Conf::new(Scheme::Ws, vec![]).with("addr", "db:9000")?`.
    pub fn with(mut self, key: &str, value: &str) -> Result<Conf> {
        self.set(key, value)?;
        Ok(self)
    }

    /// The scheme; [`Scheme::Wss`] means TLS.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether the connection uses TLS (`wss`).
    pub fn is_tls(&self) -> bool {
        self.scheme.is_tls()
    }

    /// Endpoints in the order given (`addr`), never empty after parsing.
    pub fn addrs(&self) -> &[Addr] {
        &self.addrs
    }

    /// HTTP basic-auth user name (`username`, alias `user`).
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// HTTP basic-auth password (`password`, alias `pass`).
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Bearer token (`token`); excludes `username`/`password`.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Bound on the upgrade and auth phase per host (`auth_timeout_ms`,
    /// alias `auth_timeout`).
    pub fn auth_timeout(&self) -> Duration {
        self.auth_timeout
    }

    /// Bound on each TCP connect (`connect_timeout`); `None` = OS default.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// Certificate verification (`tls_verify`).
    pub fn tls_verify(&self) -> TlsVerify {
        self.tls_verify
    }

    /// Root store when `tls_roots` is unset (`tls_ca`).
    pub fn tls_ca(&self) -> TlsCa {
        self.tls_ca
    }

    /// PEM file of root certificates (`tls_roots`).
    pub fn tls_roots(&self) -> Option<&Path> {
        self.tls_roots.as_deref()
    }

    /// First backoff when the sender reconnects
    /// (`reconnect_initial_backoff_millis`).
    pub fn reconnect_initial_backoff(&self) -> Duration {
        self.reconnect_initial_backoff
    }

    /// Cap on the reconnect backoff (`reconnect_max_backoff_millis`).
    pub fn reconnect_max_backoff(&self) -> Duration {
        self.reconnect_max_backoff
    }

    /// Time budget of one reconnect-and-replay
    /// (`reconnect_max_duration_millis`).
    pub fn reconnect_max_duration(&self) -> Duration {
        self.reconnect_max_duration
    }

    /// How the first connect handles failure (`initial_connect_retry`;
    /// unset with a `reconnect_*` key in the connect string:
    /// [`InitialConnectRetry::Sync`]).
    pub fn initial_connect_retry(&self) -> InitialConnectRetry {
        self.initial_connect_retry
    }

    /// Role a query connection needs (`target`).
    pub fn target(&self) -> Target {
        self.target
    }

    /// Preferred zone of query connections (`zone`).
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// Whether a query may fail over to another endpoint (`failover`);
    /// the caller still has to opt in per query (see `Query::on_failover_reset`).
    pub fn failover(&self) -> bool {
        self.failover
    }

    /// Executions of one query at most, counting the first
    /// (`failover_max_attempts`), ≥ 1.
    pub fn failover_max_attempts(&self) -> u32 {
        self.failover_max_attempts
    }

    /// First pause between failover rounds (`failover_backoff_initial_ms`).
    pub fn failover_backoff_initial(&self) -> Duration {
        self.failover_backoff_initial
    }

    /// Cap on the pause between failover rounds (`failover_backoff_max_ms`).
    pub fn failover_backoff_max(&self) -> Duration {
        self.failover_backoff_max
    }

    /// Time budget of one query's failover, from its first lost connection
    /// (`failover_max_duration_ms`); `None` = unbounded.
    pub fn failover_max_duration(&self) -> Option<Duration> {
        self.failover_max_duration
    }

    /// Warm ingest connections (`sender_pool_min`, or `pool_size`).
    pub fn sender_pool_min(&self) -> usize {
        self.sender_pool_min
    }

    /// Cap of ingest connections (`sender_pool_max`, or `pool_max`).
    pub fn sender_pool_max(&self) -> usize {
        self.sender_pool_max
    }

    /// Warm query connections (`query_pool_min`, or `pool_size`).
    pub fn query_pool_min(&self) -> usize {
        self.query_pool_min
    }

    /// Cap of query connections (`query_pool_max`, or `pool_max`).
    pub fn query_pool_max(&self) -> usize {
        self.query_pool_max
    }

    /// How long a borrow at the cap waits (`acquire_timeout_ms`); `None`:
    /// it fails at once.
    pub fn acquire_timeout(&self) -> Option<Duration> {
        self.acquire_timeout
    }

    /// Idle connections above the warm size close after this
    /// (`idle_timeout_ms`, alias `pool_idle_timeout_ms`); `None`: never.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// Connections older than this are replaced (`max_lifetime_ms`);
    /// `None`: never.
    pub fn max_lifetime(&self) -> Option<Duration> {
        self.max_lifetime
    }

    /// How often the reaper looks (`housekeeper_interval_ms`).
    pub fn housekeeper_interval(&self) -> Duration {
        self.housekeeper_interval
    }

    /// Who closes idle connections (`pool_reap`).
    pub fn pool_reap(&self) -> PoolReap {
        self.pool_reap
    }

    /// Whether row senders flush by themselves (`auto_flush`).
    pub fn auto_flush(&self) -> bool {
        self.auto_flush
    }

    /// Row count that triggers an automatic flush (`auto_flush_rows`);
    /// `None` = off.
    pub fn auto_flush_rows(&self) -> Option<u64> {
        self.auto_flush_rows
    }

    /// Buffered bytes that trigger an automatic flush
    /// (`auto_flush_bytes`); `None` = off.
    pub fn auto_flush_bytes(&self) -> Option<u64> {
        self.auto_flush_bytes
    }

    /// Age of the oldest buffered row that triggers an automatic flush
    /// (`auto_flush_interval`); `None` = off.
    pub fn auto_flush_interval(&self) -> Option<Duration> {
        self.auto_flush_interval
    }

    /// Bytes a row buffer reserves per table once it has a row
    /// (`init_buf_size`).
    pub fn init_buf_size(&self) -> u64 {
        self.init_buf_size
    }

    /// The most bytes a row buffer may hold (`max_buf_size`).
    pub fn max_buf_size(&self) -> u64 {
        self.max_buf_size
    }

    /// The longest table or column name of a row buffer, in bytes
    /// (`max_name_len`).
    pub fn max_name_len(&self) -> usize {
        self.max_name_len
    }

    /// Ask for durable acks (`request_durable_ack`).
    pub fn request_durable_ack(&self) -> bool {
        self.request_durable_ack
    }

    /// Server rejections of one batch before the sender gives up on it
    /// (`max_frame_rejections`), ≥ 1.
    pub fn max_frame_rejections(&self) -> u32 {
        self.max_frame_rejections
    }

    /// Ingest policy for every rejection category whose own key is
    /// [`ErrorPolicy::Auto`] (`on_server_error`).
    pub fn on_server_error(&self) -> ErrorPolicy {
        self.on_server_error
    }

    /// Ingest policy for SCHEMA_MISMATCH (`on_schema_error`).
    pub fn on_schema_error(&self) -> ErrorPolicy {
        self.on_schema_error
    }

    /// Ingest policy for PARSE_ERROR (`on_parse_error`).
    pub fn on_parse_error(&self) -> ErrorPolicy {
        self.on_parse_error
    }

    /// Ingest policy for INTERNAL_ERROR (`on_internal_error`).
    pub fn on_internal_error(&self) -> ErrorPolicy {
        self.on_internal_error
    }

    /// Ingest policy for SECURITY_ERROR (`on_security_error`).
    pub fn on_security_error(&self) -> ErrorPolicy {
        self.on_security_error
    }

    /// Ingest policy for WRITE_ERROR (`on_write_error`).
    pub fn on_write_error(&self) -> ErrorPolicy {
        self.on_write_error
    }

    /// Result compression (`compression`).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// zstd level, 1–22 (`compression_level`).
    pub fn compression_level(&self) -> i32 {
        self.compression_level
    }

    /// Initial byte credit per query; 0 = unbounded (`initial_credit`).
    pub fn initial_credit(&self) -> u64 {
        self.initial_credit
    }

    /// Rows per result batch (`max_batch_rows`); `None` = server default.
    pub fn max_batch_rows(&self) -> Option<u32> {
        self.max_batch_rows
    }

    /// `X-QWP-Client-Id` (`client_id`); `None` = this crate's default.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// Store-and-forward directory (`sf_dir`); `None` = the queue is in
    /// memory.
    pub fn sf_dir(&self) -> Option<&Path> {
        self.sf_dir.as_deref()
    }

    /// Slot name under `sf_dir` (`sender_id`).
    pub fn sender_id(&self) -> &str {
        &self.sender_id
    }

    /// Segment-file durability (`sf_durability`).
    pub fn sf_durability(&self) -> super::SfDurability {
        self.sf_durability
    }

    /// `fsync` period with `sf_durability=periodic`
    /// (`sf_sync_interval_millis`).
    pub fn sf_sync_interval(&self) -> Duration {
        self.sf_sync_interval
    }

    /// Size at which a segment file is rotated (`sf_max_segment_bytes`).
    pub fn sf_max_segment_bytes(&self) -> u64 {
        self.sf_max_segment_bytes
    }

    /// Cap on the queue (`sf_max_total_bytes`): 10 GiB with `sf_dir`, else
    /// 128 MiB, unless set.
    pub fn sf_max_total_bytes(&self) -> u64 {
        self.sf_max_total_bytes_or_default()
    }

    /// How long a publish blocks on a full queue
    /// (`sf_append_deadline_millis`).
    pub fn sf_append_deadline(&self) -> Duration {
        self.sf_append_deadline
    }

    /// Replay slots left by dead senders under `sf_dir` (`drain_orphans`).
    pub fn drain_orphans(&self) -> bool {
        self.drain_orphans
    }

    /// Orphaned slots drained at once (`max_background_drainers`).
    pub fn max_background_drainers(&self) -> u32 {
        self.max_background_drainers
    }

    /// Capacity of an asynchronous sender's error inbox
    /// (`error_inbox_capacity`).
    pub fn error_inbox_capacity(&self) -> usize {
        self.error_inbox_capacity
    }

    /// How long closing an asynchronous sender waits for its frames to be
    /// acknowledged (`close_flush_timeout_millis`; zero = do not wait).
    pub fn close_flush_timeout(&self) -> Duration {
        self.close_flush_timeout
    }
}
