//! Tests of the key table itself: the docs generated from it, and that
//! every key is either refused or honoured by [`Conf::parse`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::tests::{err, parse, parse_raw};
use super::*;

/// The key table in `docs/connect-string.md` (also the `conf` module docs)
/// is generated from `keys::KEYS`; this fails when they drift apart.
#[test]
fn docs_key_table_matches_the_key_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/connect-string.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let want =
        doc_table::splice_table(&doc).expect("docs/connect-string.md lacks the table markers");
    if std::env::var_os("QA_REGEN_CONF_DOCS").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    assert!(
        doc == want,
        "docs/connect-string.md does not match src/conf/keys.rs; regenerate it with \
         `QA_REGEN_CONF_DOCS=1 cargo test --all-features --lib conf::tests_keys::docs_key_table`"
    );
}

/// A valid non-default value for every key (every spelling of it).
fn sample_values() -> HashMap<&'static str, String> {
    let d = Conf::new(Scheme::Ws, Vec::new());
    let mut out = HashMap::new();
    for c in [
        parse_raw(ALL_KEYS),
        parse_raw("ws::addr=h;token=t;tls_verify=unsafe_off"),
    ] {
        for k in keys::KEYS {
            if let Some(v) = (k.write)(&c, &d) {
                out.entry(k.name).or_insert(v);
            }
        }
    }
    // Never written back (the per-kind pool keys are).
    out.insert("pool_size", "2".to_owned());
    out.insert("pool_max", "8".to_owned());
    out
}

/// Every refused key, in every spelling, is a one-line error naming it
/// (whatever its value); every honoured key parses and sets its field.
#[test]
fn refused_keys_are_refused_and_honoured_keys_parse() {
    let samples = sample_values();
    for k in keys::KEYS {
        let v = samples
            .get(k.name)
            .unwrap_or_else(|| panic!("no sample value for `{}`: add it to ALL_KEYS", k.name));
        for spelling in std::iter::once(&k.name).chain(k.aliases) {
            let pair = format!("{spelling}={}", v.replace(';', ";;"));
            // Keys that only make sense with another.
            let needs = match k.name {
                "sf_durability" => "sf_dir=/tmp/sf;",
                "sf_sync_interval_millis" => "sf_dir=/tmp/sf;sf_durability=periodic;",
                "token_x" => "username=k;token=d;token_y=y;",
                "token_y" => "username=k;token=d;token_x=x;",
                _ => "",
            };
            // A scheme whose transport honours the key.
            let scheme = match k.transports[0] {
                Transport::Ws => "wss",
                Transport::Http => "https",
                Transport::Tcp => "tcps",
            };
            let s = if k.name == "addr" {
                format!("{scheme}::{pair}")
            } else {
                format!("{scheme}::addr=h;{needs}{pair}")
            };
            match k.status {
                entry::Status::Refused(why) => {
                    for s in [s.clone(), format!("{scheme}::addr=h;{spelling}=not%valid")] {
                        let e = err(&s);
                        assert_eq!(e.message(), format!("`{spelling}`: {why}"));
                        assert!(!e.to_string().contains('\n'), "{e}");
                    }
                }
                entry::Status::Honoured => {
                    let c = parse(&s);
                    let d = Conf::new(c.scheme, Vec::new());
                    let got = (k.write)(&c, &d);
                    if k.covers.is_empty() {
                        assert_eq!(got.as_ref(), Some(v), "{s}");
                    } else {
                        // Written back as the keys it covers.
                        assert_eq!(got, None, "{s}");
                        for covered in k.covers {
                            let e = keys::KEYS.iter().find(|e| e.name == *covered).unwrap();
                            assert_eq!((e.write)(&c, &d).as_ref(), Some(v), "{s}: {covered}");
                        }
                    }
                }
            }
        }
    }
}

/// A string setting every key (but `token`, which excludes
/// username/password) to a non-default value. It holds refused keys, so it
/// goes through [`parse_raw`].
pub(super) const ALL_KEYS: &str = "wss::addr=a:1;username=u;password=p;;w;auth_timeout_ms=1001;\
    connect_timeout=1002;tls_ca=os_roots;tls_roots=/etc/roots.p12;tls_roots_password=kp;\
    auto_flush=off;auto_flush_rows=5;auto_flush_interval=off;auto_flush_bytes=8m;\
    init_buf_size=1k;max_buf_size=2MB;max_name_len=200;max_datagram_size=1400;\
    sf_dir=/tmp/sf;sender_id=Ab_9-x;sf_durability=periodic;sf_sync_interval_millis=1003;\
    sf_max_segment_bytes=1Gb;sf_max_total_bytes=2t;sf_append_deadline_millis=1004;\
    drain_orphans=on;max_background_drainers=7;\
    catch_up_cap_gap_min_escalation_window_millis=1005;transaction=on;\
    reconnect_initial_backoff_millis=1006;reconnect_max_backoff_millis=1007;\
    reconnect_max_duration_millis=1008;initial_connect_retry=on;\
    close_flush_timeout_millis=-1;request_durable_ack=on;\
    durable_ack_keepalive_interval_millis=0;error_inbox_capacity=16;\
    connection_listener_inbox_capacity=1;on_server_error=retriable_other;\
    on_schema_error=retriable;on_parse_error=retriable;on_internal_error=terminal;\
    on_security_error=retriable_other;on_write_error=terminal;max_frame_rejections=1;\
    poison_min_escalation_window_millis=1009;target=replica;zone=EU-1;failover=off;\
    failover_max_attempts=1;failover_backoff_initial_ms=1010;failover_backoff_max_ms=1011;\
    failover_max_duration_ms=0;compression=zstd;compression_level=22;initial_credit=64k;\
    max_batch_rows=1048576;client_id=me/1.0;query_close_timeout_ms=1012;\
    buffer_pool_size=1;sender_pool_min=0;sender_pool_max=9;query_pool_min=2;\
    query_pool_max=3;acquire_timeout_ms=1013;idle_timeout_ms=0;max_lifetime_ms=0;\
    housekeeper_interval_ms=1014;lazy_connect=on;pool_reap=manual;protocol_version=2;\
    retry_timeout=1015;request_timeout=1016;request_min_throughput=1017;\
    bind_interface=10.0.0.1;token_x=tx;token_y=ty";

#[test]
fn every_key_set() {
    let c = parse_raw(ALL_KEYS);
    assert_eq!(c.scheme, Scheme::Wss);
    assert!(c.is_tls());
    assert_eq!(c.addrs, vec![Addr::new("a", 1)]);
    assert_eq!(c.username.as_deref(), Some("u"));
    assert_eq!(c.password.as_deref(), Some("p;w"));
    assert_eq!(c.auth_timeout, ms(1001));
    assert_eq!(c.connect_timeout, Some(ms(1002)));
    assert_eq!(c.tls_verify, TlsVerify::On);
    assert_eq!(c.tls_ca, TlsCa::OsRoots);
    assert_eq!(c.tls_roots, Some(PathBuf::from("/etc/roots.p12")));
    assert_eq!(c.tls_roots_password.as_deref(), Some("kp"));
    assert!(!c.auto_flush);
    assert_eq!(c.auto_flush_rows, Some(5));
    assert_eq!(c.auto_flush_interval, None);
    assert_eq!(c.auto_flush_bytes, Some(8 << 20));
    assert_eq!(c.init_buf_size, 1024);
    assert_eq!(c.max_buf_size, 2 << 20);
    assert_eq!(c.max_name_len, 200);
    assert_eq!(c.max_datagram_size, Some(1400));
    assert_eq!(c.sf_dir, Some(PathBuf::from("/tmp/sf")));
    assert_eq!(c.sender_id, "Ab_9-x");
    assert_eq!(c.sf_durability, SfDurability::Periodic);
    assert_eq!(c.sf_sync_interval, ms(1003));
    assert_eq!(c.sf_max_segment_bytes, 1 << 30);
    assert_eq!(c.sf_max_total_bytes, Some(2 << 40));
    assert_eq!(c.sf_append_deadline, ms(1004));
    assert!(c.drain_orphans);
    assert_eq!(c.max_background_drainers, 7);
    assert_eq!(c.catch_up_cap_gap_min_escalation_window, ms(1005));
    assert!(c.transaction);
    assert_eq!(c.reconnect_initial_backoff, ms(1006));
    assert_eq!(c.reconnect_max_backoff, ms(1007));
    assert_eq!(c.reconnect_max_duration, ms(1008));
    assert_eq!(c.initial_connect_retry, InitialConnectRetry::Sync);
    assert_eq!(c.close_flush_timeout, Duration::ZERO);
    assert!(c.request_durable_ack);
    assert_eq!(c.durable_ack_keepalive_interval, None);
    assert_eq!(c.error_inbox_capacity, 16);
    assert_eq!(c.connection_listener_inbox_capacity, 1);
    assert_eq!(c.on_server_error, ErrorPolicy::RetriableOther);
    assert_eq!(c.on_schema_error, ErrorPolicy::Retriable);
    assert_eq!(c.on_parse_error, ErrorPolicy::Retriable);
    assert_eq!(c.on_internal_error, ErrorPolicy::Terminal);
    assert_eq!(c.on_security_error, ErrorPolicy::RetriableOther);
    assert_eq!(c.on_write_error, ErrorPolicy::Terminal);
    assert_eq!(c.max_frame_rejections, 1);
    assert_eq!(c.poison_min_escalation_window, ms(1009));
    assert_eq!(c.target, Target::Replica);
    assert_eq!(c.zone.as_deref(), Some("EU-1"));
    assert!(!c.failover);
    assert_eq!(c.failover_max_attempts, 1);
    assert_eq!(c.failover_backoff_initial, ms(1010));
    assert_eq!(c.failover_backoff_max, ms(1011));
    assert_eq!(c.failover_max_duration, None);
    assert_eq!(c.compression, Compression::Zstd);
    assert_eq!(c.compression_level, 22);
    assert_eq!(c.initial_credit, 65536);
    assert_eq!(c.max_batch_rows, Some(1_048_576));
    assert_eq!(c.client_id.as_deref(), Some("me/1.0"));
    assert_eq!(c.query_close_timeout, ms(1012));
    assert_eq!(c.buffer_pool_size, 1);
    assert_eq!(c.sender_pool_min, 0);
    assert_eq!(c.sender_pool_max, 9);
    assert_eq!(c.query_pool_min, 2);
    assert_eq!(c.query_pool_max, 3);
    assert_eq!(c.acquire_timeout, Some(ms(1013)));
    assert_eq!(c.idle_timeout, None);
    assert_eq!(c.max_lifetime, None);
    assert_eq!(c.housekeeper_interval, ms(1014));
    assert!(c.lazy_connect);
    assert_eq!(c.pool_reap, PoolReap::Manual);
    assert_eq!(c.sf_max_total_bytes_or_default(), 2 << 40);
    assert_eq!(c.protocol_version, ProtocolVersion::V2);
    assert_eq!(c.retry_timeout, ms(1015));
    assert_eq!(c.request_timeout, ms(1016));
    assert_eq!(c.request_min_throughput, 1017);
    assert_eq!(c.bind_interface, Some([10, 0, 0, 1].into()));
    assert_eq!(c.token_x.as_deref(), Some("tx"));
    assert_eq!(c.token_y.as_deref(), Some("ty"));
}

/// The questdb-rs spellings: `auth_timeout` is honoured like
/// `auth_timeout_ms`; `pool_size` and `pool_max` set both pools.
#[test]
fn questdb_rs_aliases() {
    let c = parse("ws::addr=h;auth_timeout=1234");
    assert_eq!(c.auth_timeout, Duration::from_millis(1234));
    assert_eq!(c.to_conf_string(), "ws::addr=h:9000;auth_timeout_ms=1234;");
    let e = err("ws::addr=h;auth_timeout_ms=1;auth_timeout=2");
    assert!(
        e.message()
            .contains("key `auth_timeout` duplicates `auth_timeout_ms`"),
        "{e}"
    );

    let c = parse("ws::addr=h;pool_size=2;pool_max=8;pool_idle_timeout_ms=10;pool_reap=manual");
    assert_eq!((c.sender_pool_min, c.query_pool_min), (2, 2));
    assert_eq!((c.sender_pool_max, c.query_pool_max), (8, 8));
    assert_eq!(c.idle_timeout, Some(Duration::from_millis(10)));
    assert_eq!(c.pool_reap, PoolReap::Manual);
    // pool_size and pool_max are written back as the per-kind keys.
    assert_eq!(
        c.to_conf_string(),
        "ws::addr=h:9000;sender_pool_min=2;sender_pool_max=8;query_pool_min=2;\
         query_pool_max=8;idle_timeout_ms=10;pool_reap=manual;"
    );
    // Both spellings of one setting are a duplicate, in either order.
    for s in [
        "ws::addr=h;pool_size=2;sender_pool_min=1",
        "ws::addr=h;query_pool_min=1;pool_size=2",
    ] {
        let e = Conf::parse_values(s, false).unwrap_err();
        assert!(e.message().contains("duplicates"), "{s}: {e}");
    }
    let e = Conf::parse_values("ws::addr=h;idle_timeout_ms=1;pool_idle_timeout_ms=2", false)
        .unwrap_err();
    assert!(
        e.message()
            .contains("key `pool_idle_timeout_ms` duplicates `idle_timeout_ms`"),
        "{e}"
    );
}

/// `set` / `with` go through the key table like `parse`: aliases work,
/// refused and unknown keys and bad values are errors naming the key, and
/// the accessors read what was set.
#[test]
fn set_and_with_use_the_key_table() {
    let built = Conf::new(Scheme::Wss, Vec::new())
        .with("addr", "a:1,b")
        .and_then(|c| c.with("addr", "c:3"))
        .and_then(|c| c.with("user", "u"))
        .and_then(|c| c.with("pass", "p;w"))
        .and_then(|c| c.with("auth_timeout", "7"))
        .and_then(|c| c.with("tls_roots", "/r.pem"))
        .and_then(|c| c.with("compression", "auto"))
        .and_then(|c| c.with("max_batch_rows", "10"))
        .unwrap();
    let parsed = parse(
        "wss::addr=a:1,b;addr=c:3;username=u;password=p;;w;auth_timeout_ms=7;\
         tls_roots=/r.pem;compression=auto;max_batch_rows=10",
    );
    assert_eq!(built, parsed);
    assert!(built.is_tls());
    assert_eq!(built.scheme(), Scheme::Wss);
    let addrs: Vec<String> = built.addrs().iter().map(ToString::to_string).collect();
    assert_eq!(addrs, ["a:1", "b:9000", "c:3"]);
    assert_eq!(built.username(), Some("u"));
    assert_eq!(built.password(), Some("p;w"));
    assert_eq!(built.auth_timeout(), Duration::from_millis(7));
    assert_eq!(built.tls_roots(), Some(std::path::Path::new("/r.pem")));
    assert_eq!(built.compression(), Compression::Auto);
    assert_eq!(built.max_batch_rows(), Some(10));

    let mut c = Conf::new(Scheme::Ws, vec![Addr::new("h", 1)]);
    c.set("compression_level", "5").unwrap();
    c.set("compression_level", "6").unwrap();
    assert_eq!(c.compression_level(), 6, "set replaces");
    let e = c.set("transaction", "on").unwrap_err();
    assert!(
        e.message()
            .starts_with("`transaction`: transactions spanning several flushes are not available"),
        "{e}"
    );
    assert!(!c.transaction, "a refused key leaves the field alone");
    c.set("sf_dir", "/x").unwrap();
    assert_eq!(c.sf_dir(), Some(std::path::Path::new("/x")));
    c.set("pool_max", "3").unwrap();
    assert_eq!((c.sender_pool_max(), c.query_pool_max()), (3, 3));
    let e = c.set("lazy_connect", "on").unwrap_err();
    assert!(
        e.message()
            .starts_with("`lazy_connect`: connection pools always connect on first use"),
        "{e}"
    );
    let e = c.set("bogus", "1").unwrap_err();
    assert_eq!(e.message(), "unknown key `bogus`");
    let e = c.set("compression_level", "99").unwrap_err();
    assert!(e.message().contains("compression_level=\"99\""), "{e}");
    let e = c.set("client_id", "").unwrap_err();
    assert!(e.message().contains("must not be empty"), "{e}");
    let e = c.set("token", "sec\nret").unwrap_err();
    assert!(e.message().contains("token=\"<redacted>\""), "{e}");
    assert!(e.message().contains("U+000A at byte 3"), "{e}");
    let e = c.set("client_id", "ab\u{7f}").unwrap_err();
    assert!(e.message().contains("client_id=\"ab\""), "{e}");
    // Rules joining keys are validate()'s.
    c.set("token", "t").unwrap().set("username", "u").unwrap();
    let e = c.validate().unwrap_err();
    assert!(e.message().contains("username/password"), "{e}");
}
