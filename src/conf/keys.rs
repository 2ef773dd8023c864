//! The one table of connect-string keys. Each entry ([`Key`]) gives the
//! key's canonical name, its aliases, the default shown in the docs, who
//! reads it, whether it is honoured, a one-line meaning, and the two
//! functions that move its value between the connect string and [`Conf`]. Parsing, alias
//! resolution, secret redaction, [`Conf::to_conf_string`] and the key table
//! in `docs/connect-string.md` are all driven by [`KEYS`].

use std::time::Duration;

use super::entry::{
    ALL, Key, Use, apply_addr, apply_compression_level, apply_initial_connect_retry,
    apply_max_batch_rows, apply_sf_durability, apply_tls_ca, changed, codec, key, millis,
    write_addr,
};
use super::grammar::{off_or, parse_i64, parse_ms, parse_or_off, parse_size, parse_u64};
use super::values::{
    Compression, ErrorPolicy, PoolReap, ProtocolVersion, SfDurability, Target, TlsVerify, Transport,
};
use crate::Error;

/// The key named by `spelling` (canonical or alias).
pub(crate) fn lookup(spelling: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.is(spelling))
}

/// Why keys are refused, by family. Each is the tail of a one-line error
/// `` `key`: <reason> ``.
const SF: &str = "questdb-arrow gives the store-and-forward catch-up no escalation window: \
    a replay is bounded by `reconnect_max_duration_millis` and `max_frame_rejections`";
const TRANSACTION: &str = "transactions spanning several flushes are not available in this version of questdb-arrow \
    (each flush, publish or batch commits on its own; a row buffer commits all its tables at once)";
const KEEPALIVE: &str = "this version of questdb-arrow sends no keepalive pings while it waits for durable \
    acknowledgements";
const LISTENER: &str = "connection listeners are not available in this version of questdb-arrow";
const UDP: &str = "a UDP key; questdb-arrow has no UDP transport (use http::, tcp:: or ws::)";

const WS_HTTP: &[Transport] = &[Transport::Ws, Transport::Http];
const WS_TCP: &[Transport] = &[Transport::Ws, Transport::Tcp];
const HTTP: &[Transport] = &[Transport::Http];
const TCP: &[Transport] = &[Transport::Tcp];
const ILP: &[Transport] = &[Transport::Http, Transport::Tcp];
const POOL: &str = "connection pools always connect on first use; connecting eagerly is not available in this version of questdb-arrow";
const POISON: &str = "the docs give the poison-frame escalation window no meaning; questdb-arrow \
    gives up on a batch after `max_frame_rejections` rejections in a row";
const KEYSTORE: &str = "Java keystores (JKS/PKCS#12) are not supported by questdb-arrow; \
    give tls_roots a PEM file";

/// Every key, in the order [`Conf::to_conf_string`] writes them.
pub(crate) static KEYS: &[Key] = &[
    Key {
        repeatable: true,
        ..key(
            "addr",
            "required",
            Use::Both,
            "`host[:port]`, comma-separated and/or repeated; `[v6]:port`",
            codec!(apply apply_addr, write write_addr),
        )
    }
    .on(ALL),
    key(
        "username",
        "unset",
        Use::Both,
        "HTTP basic-auth user name; on tcp:: the key id (`kid`) of ECDSA authentication",
        codec!(text username),
    )
    .on(ALL)
    .alias(&["user"]),
    key(
        "password",
        "unset",
        Use::Both,
        "HTTP basic-auth password",
        codec!(text password),
    )
    .on(WS_HTTP)
    .alias(&["pass"])
    .secret(),
    key(
        "token",
        "unset",
        Use::Both,
        "bearer token (excludes username/password); on tcp:: the ECDSA private key `d`, base64url",
        codec!(text token),
    )
    .on(ALL)
    .secret(),
    key(
        "auth_timeout_ms",
        "15000",
        Use::Both,
        "bound on the upgrade and auth phase (tcp: the ECDSA challenge), per host, ms",
        codec!(ms auth_timeout),
    )
    .on(WS_TCP)
    .alias(&["auth_timeout"]),
    key(
        "connect_timeout",
        "unset",
        Use::Both,
        "bound on each TCP connect, ms, > 0 (unset: the OS default)",
        codec!(
            apply | c,
            k,
            v | {
                let d = parse_ms(k, v)?;
                if d.is_zero() {
                    return Err(Error::config(k, v, "must be greater than 0"));
                }
                c.connect_timeout = Some(d);
                Ok(())
            },
            write | c,
            _ | c.connect_timeout.map(millis)
        ),
    )
    .on(ALL),
    key(
        "tls_verify",
        "on",
        Use::Both,
        "`on` / `unsafe_off` (tests only); wss, https, tcps",
        codec!(enum tls_verify: TlsVerify),
    )
    .on(ALL),
    key(
        "tls_ca",
        "webpki_roots",
        Use::Both,
        "`webpki_roots` / `os_roots` / `webpki_and_os_roots` (`pem_file` with `tls_roots`); wss, https, tcps",
        codec!(apply apply_tls_ca, write |c, d| changed(c.tls_ca, d.tls_ca, |e| e.to_string())),
    )
    .on(ALL),
    key(
        "tls_roots",
        "unset",
        Use::Both,
        "PEM file of root certificates; not with `tls_verify=unsafe_off`; wss, https, tcps",
        codec!(path tls_roots),
    )
    .on(ALL),
    key(
        "tls_roots_password",
        "unset",
        Use::Both,
        "keystore password; needs `tls_roots`",
        codec!(text tls_roots_password),
    )
    .on(ALL)
    .secret()
    .refused(KEYSTORE),
    key(
        "auto_flush",
        "on",
        Use::Ingest,
        "`on` / `off`",
        codec!(on_off auto_flush),
    )
    .on(ALL),
    key(
        "auto_flush_rows",
        "1000",
        Use::Ingest,
        "flush after this many rows; int ≥ 1 or `off`",
        codec!(
            apply | c,
            k,
            v | {
                c.auto_flush_rows = parse_or_off(v, || parse_u64(k, v))?;
                Ok(())
            },
            write | c,
            d | changed(c.auto_flush_rows, d.auto_flush_rows, off_or)
        ),
    )
    .on(ALL),
    key(
        "auto_flush_interval",
        "100",
        Use::Ingest,
        "flush after this many ms; > 0 or `off`",
        codec!(
            apply | c,
            k,
            v | {
                c.auto_flush_interval = parse_or_off(v, || parse_ms(k, v))?;
                Ok(())
            },
            write | c,
            d | changed(c.auto_flush_interval, d.auto_flush_interval, |t| {
                off_or(t.map(|t| t.as_millis()))
            })
        ),
    )
    .on(ALL),
    key(
        "auto_flush_bytes",
        "off",
        Use::Ingest,
        "flush at this many buffered bytes; size or `off` (`0` = off)",
        codec!(
            apply | c,
            k,
            v | {
                c.auto_flush_bytes = parse_or_off(v, || parse_size(k, v))?.filter(|&n| n != 0);
                Ok(())
            },
            write | c,
            d | changed(c.auto_flush_bytes, d.auto_flush_bytes, off_or)
        ),
    )
    .on(ALL),
    key(
        "init_buf_size",
        "64k",
        Use::Ingest,
        "initial buffer capacity; size, ≤ `max_buf_size`",
        codec!(size init_buf_size),
    )
    .on(ALL),
    key(
        "max_buf_size",
        "100m",
        Use::Ingest,
        "largest buffer; size",
        codec!(size max_buf_size),
    )
    .on(ALL),
    key(
        "max_name_len",
        "127",
        Use::Ingest,
        "longest table or column name in bytes; int ≥ 1",
        codec!(num max_name_len),
    )
    .on(ALL),
    key(
        "max_datagram_size",
        "unset",
        Use::Udp,
        "largest UDP datagram; size",
        codec!(size_opt max_datagram_size),
    )
    .on(ALL)
    .refused(UDP),
    key(
        "sf_dir",
        "unset",
        Use::Ingest,
        "`AsyncSender` store-and-forward directory (unset: the queue is in memory)",
        codec!(path sf_dir),
    ),
    key(
        "sender_id",
        "default",
        Use::Ingest,
        "slot name under `sf_dir`; `[A-Za-z0-9_-]`",
        codec!(
            apply | c,
            _,
            v | {
                c.sender_id = v.to_owned();
                Ok(())
            },
            write | c,
            d | changed(&c.sender_id, &d.sender_id, String::clone)
        ),
    ),
    key(
        "sf_durability",
        "memory",
        Use::Ingest,
        "`memory` / `periodic` (needs `sf_dir`)",
        codec!(
            apply apply_sf_durability,
            write |c, d| changed(c.sf_durability, d.sf_durability, |e| e.to_string())
        ),
    ),
    key(
        "sf_sync_interval_millis",
        "5000",
        Use::Ingest,
        "`fsync` interval; only with `sf_durability=periodic`",
        codec!(
            apply | c,
            k,
            v | {
                c.sf_sync_interval = parse_ms(k, v)?;
                Ok(())
            },
            write | c,
            d | {
                (c.sf_durability == SfDurability::Periodic)
                    .then(|| changed(c.sf_sync_interval, d.sf_sync_interval, millis))
                    .flatten()
            }
        ),
    ),
    key(
        "sf_max_segment_bytes",
        "64m",
        Use::Ingest,
        "size of one segment file (at most half of `sf_max_total_bytes`)",
        codec!(size sf_max_segment_bytes),
    ),
    key(
        "sf_max_total_bytes",
        "10g with `sf_dir`, else 128m",
        Use::Ingest,
        "cap on the `AsyncSender` queue (memory, or segment files per slot, the spares kept for reuse included); size",
        codec!(size_opt sf_max_total_bytes),
    ),
    key(
        "sf_append_deadline_millis",
        "30000",
        Use::Ingest,
        "how long an `AsyncSender` publish blocks on a full queue",
        codec!(ms sf_append_deadline),
    ),
    key(
        "drain_orphans",
        "off",
        Use::Ingest,
        "`AsyncSender` also drains slots under `sf_dir` that no live sender holds",
        codec!(on_off drain_orphans),
    ),
    key(
        "max_background_drainers",
        "4",
        Use::Ingest,
        "orphaned slots drained at once",
        codec!(num max_background_drainers),
    ),
    key(
        "catch_up_cap_gap_min_escalation_window_millis",
        "300000",
        Use::Ingest,
        "store-and-forward catch-up escalation window",
        codec!(ms catch_up_cap_gap_min_escalation_window),
    )
    .refused(SF),
    key(
        "transaction",
        "off",
        Use::Ingest,
        "`on` / `off`",
        codec!(on_off transaction),
    )
    .refused(TRANSACTION),
    key(
        "reconnect_initial_backoff_millis",
        "100",
        Use::Ingest,
        "first backoff when the sender reconnects",
        codec!(ms reconnect_initial_backoff),
    ),
    key(
        "reconnect_max_backoff_millis",
        "5000",
        Use::Ingest,
        "cap on the reconnect backoff",
        codec!(ms reconnect_max_backoff),
    ),
    key(
        "reconnect_max_duration_millis",
        "300000",
        Use::Ingest,
        "time budget of one reconnect-and-replay",
        codec!(ms reconnect_max_duration),
    ),
    key(
        "initial_connect_retry",
        "off",
        Use::Ingest,
        "first connect: `off`/`false` (one round over the endpoints), `on`/`true`/`sync` (rounds with backoff within `reconnect_max_duration_millis`); `async` (an `AsyncSender` only: it returns at once and connects on its delivery thread; refused by pooled senders and readers). Unset, any `reconnect_*` key in the connect string makes it `on`",
        codec!(
            apply apply_initial_connect_retry,
            // Written whenever a reconnect key is, so the promotion rule
            // cannot change it on the way back.
            write |c, d| (c.initial_connect_retry != d.initial_connect_retry
                || c.reconnect_initial_backoff != d.reconnect_initial_backoff
                || c.reconnect_max_backoff != d.reconnect_max_backoff
                || c.reconnect_max_duration != d.reconnect_max_duration)
                .then(|| c.initial_connect_retry.to_string())
        ),
    ),
    key(
        "close_flush_timeout_millis",
        "5000",
        Use::Ingest,
        "`AsyncSender::close` waits this long for acks; `0` or negative = fast close",
        codec!(
            apply | c,
            k,
            v | {
                let n = parse_i64(k, v)?;
                c.close_flush_timeout = Duration::from_millis(u64::try_from(n).unwrap_or(0));
                Ok(())
            },
            write | c,
            d | changed(c.close_flush_timeout, d.close_flush_timeout, millis)
        ),
    ),
    key(
        "request_durable_ack",
        "off",
        Use::Ingest,
        "ask for durable acks (`X-QWP-Request-Durable-Ack`)",
        codec!(on_off request_durable_ack),
    ),
    key(
        "durable_ack_keepalive_interval_millis",
        "200",
        Use::Ingest,
        "keepalive PING cadence while waiting for durable acks; `≤ 0` disables",
        codec!(
            apply | c,
            k,
            v | {
                let n = parse_i64(k, v)?;
                c.durable_ack_keepalive_interval = u64::try_from(n)
                    .ok()
                    .filter(|&n| n > 0)
                    .map(Duration::from_millis);
                Ok(())
            },
            write | c,
            d | changed(
                c.durable_ack_keepalive_interval,
                d.durable_ack_keepalive_interval,
                |t| t.map_or(0, |t| t.as_millis()).to_string()
            )
        ),
    )
    .refused(KEEPALIVE),
    key(
        "error_inbox_capacity",
        "256",
        Use::Both,
        "`AsyncSender` error inbox size; ≥ 16",
        codec!(num error_inbox_capacity),
    ),
    key(
        "connection_listener_inbox_capacity",
        "64",
        Use::Both,
        "connection-listener inbox size; ≥ 1",
        codec!(num connection_listener_inbox_capacity),
    )
    .refused(LISTENER),
    key(
        "on_server_error",
        "auto",
        Use::Ingest,
        "ingest policy for every rejection category whose own `on_*_error` key is `auto`: `terminal` (stop with the error), `retriable` (reconnect to the same endpoint first and resend), `retriable_other` (reconnect to the next endpoint and resend); `auto` = each category's default",
        codec!(enum on_server_error: ErrorPolicy),
    ),
    key(
        "on_schema_error",
        "auto (= terminal)",
        Use::Ingest,
        "ingest policy for SCHEMA_MISMATCH rejections: values as `on_server_error`; `auto` takes that key's value, or this default when it is `auto` too",
        codec!(enum on_schema_error: ErrorPolicy),
    ),
    key(
        "on_parse_error",
        "auto (= terminal)",
        Use::Ingest,
        "ingest policy for PARSE_ERROR rejections: values as `on_server_error`; `auto` takes that key's value, or this default when it is `auto` too",
        codec!(enum on_parse_error: ErrorPolicy),
    ),
    key(
        "on_internal_error",
        "auto (= retriable)",
        Use::Ingest,
        "ingest policy for INTERNAL_ERROR rejections: values as `on_server_error`; `auto` takes that key's value, or this default when it is `auto` too",
        codec!(enum on_internal_error: ErrorPolicy),
    ),
    key(
        "on_security_error",
        "auto (= terminal)",
        Use::Ingest,
        "ingest policy for SECURITY_ERROR rejections: values as `on_server_error`; `auto` takes that key's value, or this default when it is `auto` too",
        codec!(enum on_security_error: ErrorPolicy),
    ),
    key(
        "on_write_error",
        "auto (= retriable)",
        Use::Ingest,
        "ingest policy for WRITE_ERROR rejections: values as `on_server_error`; `auto` takes that key's value, or this default when it is `auto` too",
        codec!(enum on_write_error: ErrorPolicy),
    ),
    key(
        "max_frame_rejections",
        "4",
        Use::Ingest,
        "retriable server rejections in a row without a commit in between before ingest gives up (the error is terminal); ≥ 1",
        codec!(num max_frame_rejections),
    ),
    key(
        "poison_min_escalation_window_millis",
        "5000",
        Use::Ingest,
        "poison-frame escalation window",
        codec!(ms poison_min_escalation_window),
    )
    .refused(POISON),
    key(
        "target",
        "any",
        Use::Query,
        "role a query connection needs (from SERVER_INFO): `any` / `primary` (PRIMARY, PRIMARY_CATCHUP, STANDALONE) / `replica`; ingest follows the primary whatever it says",
        codec!(enum target: Target),
    ),
    key(
        "zone",
        "unset",
        Use::Query,
        "queries prefer endpoints of this zone (case-insensitive), others are the fallback; not with `target=primary`; ingest is zone-blind",
        codec!(text zone),
    ),
    key(
        "failover",
        "on",
        Use::Query,
        "a query whose connection is lost mid-stream is replayed from the start on another endpoint, when the caller opted in (`Query::on_failover_reset` / `on_failover_progress`); `off`: the transport error is returned",
        codec!(on_off failover),
    ),
    key(
        "failover_max_attempts",
        "8",
        Use::Query,
        "attempts per query, counting the first; ≥ 1",
        codec!(num failover_max_attempts),
    ),
    key(
        "failover_backoff_initial_ms",
        "50",
        Use::Query,
        "pause between failover rounds, doubling up to `failover_backoff_max_ms` (the first retry is immediate)",
        codec!(ms failover_backoff_initial),
    ),
    key(
        "failover_backoff_max_ms",
        "1000",
        Use::Query,
        "cap on the failover backoff",
        codec!(ms failover_backoff_max),
    ),
    key(
        "failover_max_duration_ms",
        "30000",
        Use::Query,
        "failover time budget of a query, from its first lost connection; `0` = unbounded",
        codec!(ms_or_zero failover_max_duration),
    ),
    key(
        "compression",
        "raw",
        Use::Query,
        "result compression: `raw` / `zstd` (demand) / `auto` (accept)",
        codec!(enum compression: Compression),
    ),
    key(
        "compression_level",
        "1",
        Use::Query,
        "zstd level, 1–22",
        codec!(
            apply apply_compression_level,
            write |c, d| changed(c.compression_level, d.compression_level, |n| n.to_string())
        ),
    ),
    key(
        "initial_credit",
        "0 (unbounded)",
        Use::Query,
        "initial byte credit per query; size",
        codec!(size initial_credit),
    ),
    key(
        "max_batch_rows",
        "server default",
        Use::Query,
        "rows per result batch, 1–1048576",
        codec!(
            apply apply_max_batch_rows,
            write |c, _| c.max_batch_rows.map(|n| n.to_string())
        ),
    ),
    key(
        "client_id",
        "crate default",
        Use::Both,
        "sent as `X-QWP-Client-Id`",
        codec!(text client_id),
    )
    .on(WS_HTTP),
    key(
        "query_close_timeout_ms",
        "5000",
        Use::Query,
        "bound on the close-path drain; > 0",
        codec!(ms query_close_timeout),
    )
    .refused("the query close timeout is fixed in this version of questdb-arrow"),
    key(
        "buffer_pool_size",
        "4",
        Use::Query,
        "decoded-batch buffers; ≥ 1",
        codec!(num buffer_pool_size),
    )
    .refused("the read-ahead buffer count is fixed in this version of questdb-arrow"),
    key(
        "sender_pool_min",
        "1",
        Use::Pool,
        "warm ingest connections the reaper keeps (opened on demand, never at connect); ≤ `sender_pool_max`",
        codec!(num sender_pool_min),
    )
    .on(ALL),
    key(
        "sender_pool_max",
        "64",
        Use::Pool,
        "cap of ingest connections, borrowed and idle; ≥ 1",
        codec!(num sender_pool_max),
    )
    .on(ALL),
    key(
        "query_pool_min",
        "1",
        Use::Pool,
        "warm query connections the reaper keeps; ≤ `query_pool_max`",
        codec!(num query_pool_min),
    )
    .on(ALL),
    key(
        "query_pool_max",
        "64",
        Use::Pool,
        "cap of query connections, borrowed and idle; ≥ 1",
        codec!(num query_pool_max),
    )
    .on(ALL),
    key(
        "acquire_timeout_ms",
        "0",
        Use::Pool,
        "how long a borrow at the cap waits for a connection to come back; `0` = fail at once with `PoolExhausted` (a blocked borrow hides a pool too small for the load)",
        codec!(ms_or_zero acquire_timeout),
    )
    .on(ALL),
    key(
        "idle_timeout_ms",
        "60000",
        Use::Pool,
        "idle connections above the warm size are closed after this; `0` = never",
        codec!(ms_or_zero idle_timeout),
    )
    .on(ALL)
    .alias(&["pool_idle_timeout_ms"]),
    key(
        "max_lifetime_ms",
        "1800000",
        Use::Pool,
        "replace connections older than this; `0` = never",
        codec!(ms_or_zero max_lifetime),
    )
    .on(ALL),
    key(
        "housekeeper_interval_ms",
        "5000",
        Use::Pool,
        "how often the reaper looks; > 0",
        codec!(ms housekeeper_interval),
    )
    .on(ALL),
    key(
        "lazy_connect",
        "off",
        Use::Pool,
        "connect on first use",
        codec!(on_off lazy_connect),
    )
    .on(ALL)
    .refused(POOL),
    // questdb-rs spellings that set both pools at once.
    key(
        "pool_size",
        "1",
        Use::Pool,
        "warm minimum of each pool (sets `sender_pool_min` and `query_pool_min`)",
        codec!(both sender_pool_min query_pool_min),
    )
    .on(ALL)
    .covers(&["sender_pool_min", "query_pool_min"]),
    key(
        "pool_max",
        "64",
        Use::Pool,
        "cap of each pool (sets `sender_pool_max` and `query_pool_max`)",
        codec!(both sender_pool_max query_pool_max),
    )
    .on(ALL)
    .covers(&["sender_pool_max", "query_pool_max"]),
    key(
        "pool_reap",
        "auto",
        Use::Pool,
        "`auto` (a background reaper closes idle connections) / `manual` (`reap_idle()` does)",
        codec!(enum pool_reap: PoolReap),
    )
    .on(ALL),
    key(
        "protocol_version",
        "`auto` (http), `1` (tcp)",
        Use::Ingest,
        "ILP version: `1` (text), `2` (binary doubles, arrays; QuestDB 9.0+), `3` (decimals; 9.2+), `auto` (HTTP only: the highest both sides support, from `GET /settings` once per connection; a 404 means 1)",
        codec!(enum protocol_version: ProtocolVersion),
    )
    .on(ILP)
    .since("0.2"),
    key(
        "retry_timeout",
        "10000",
        Use::Ingest,
        "ms to keep retrying a failed HTTP request (connection errors and 421, 500, 503, 504, 507, 509, 523, 524, 529, 599; each retry to the next `addr`), backoff 10 ms doubling to 1 s with jitter; `0` = no retry",
        codec!(ms retry_timeout),
    )
    .on(HTTP)
    .since("0.2"),
    key(
        "request_timeout",
        "10000",
        Use::Ingest,
        "ms an HTTP request may take, plus body bytes / `request_min_throughput`; > 0",
        codec!(ms request_timeout),
    )
    .on(HTTP)
    .since("0.2"),
    key(
        "request_min_throughput",
        "102400",
        Use::Ingest,
        "bytes/s the request timeout allows for the body; `0` = no allowance",
        codec!(num request_min_throughput),
    )
    .on(HTTP)
    .since("0.2"),
    key(
        "bind_interface",
        "unset",
        Use::Ingest,
        "local IP address the TCP connection is made from",
        codec!(
            apply | c,
            k,
            v | {
                c.bind_interface = Some(
                    v.parse::<std::net::IpAddr>()
                        .map_err(|_| Error::config(k, v, "expected an IP address"))?,
                );
                Ok(())
            },
            write | c,
            _ | c.bind_interface.map(|ip| ip.to_string())
        ),
    )
    .on(TCP)
    .since("0.2"),
    key(
        "token_x",
        "unset",
        Use::Ingest,
        "ECDSA public key `x`, base64url (with `username` and `token`)",
        codec!(text token_x),
    )
    .secret()
    .on(TCP)
    .since("0.2"),
    key(
        "token_y",
        "unset",
        Use::Ingest,
        "ECDSA public key `y`, base64url (with `username` and `token`)",
        codec!(text token_y),
    )
    .secret()
    .on(TCP)
    .since("0.2"),
];
