use super::tests_keys::ALL_KEYS;
use super::*;

pub(super) fn parse(s: &str) -> Conf {
    match Conf::parse(s) {
        Ok(c) => c,
        Err(e) => panic!("parse({s:?}) failed: {e}"),
    }
}

fn with(extra: &str) -> Conf {
    parse(&format!("ws::addr=localhost:9000;{extra}"))
}

pub(super) fn err(s: &str) -> Error {
    match Conf::parse(s) {
        Ok(c) => panic!("parse({s:?}) should fail, got {c:?}"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            e
        }
    }
}

/// Parses without refusing refused keys, so that their value parsers and
/// checks (kept for when they are honoured) can be tested.
pub(super) fn parse_raw(s: &str) -> Conf {
    match Conf::parse_values(s, false) {
        Ok(c) => c,
        Err(e) => panic!("parse_values({s:?}) failed: {e}"),
    }
}

fn raw(extra: &str) -> Conf {
    parse_raw(&format!("ws::addr=localhost:9000;{extra}"))
}

/// [`err_with`] for refused keys: their value errors, not the refusal.
fn raw_err_with(extra: &str, needles: &[&str]) {
    let s = format!("ws::addr=h;{extra}");
    let e = Conf::parse_values(&s, false).expect_err(&s);
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    for n in needles {
        assert!(e.to_string().contains(n), "{extra:?}: {e} lacks {n:?}");
    }
}

/// Asserts that `ws::addr=h;<extra>` fails with a message holding every
/// one of `needles`.
fn err_with(extra: &str, needles: &[&str]) {
    let e = err(&format!("ws::addr=h;{extra}"));
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "{extra:?}: {msg:?} lacks {n:?}");
    }
}

#[test]
fn defaults() {
    let c = parse("ws::addr=localhost;");
    assert_eq!(c, Conf::new(Scheme::Ws, vec![Addr::new("localhost", 9000)]));
    assert_eq!(c.scheme, Scheme::Ws);
    assert!(!c.is_tls());
    assert_eq!(c.addrs, vec![Addr::new("localhost", 9000)]);
    assert_eq!(c.username, None);
    assert_eq!(c.password, None);
    assert_eq!(c.token, None);
    assert_eq!(c.auth_timeout, ms(15_000));
    assert_eq!(c.connect_timeout, None);
    assert_eq!(c.tls_verify, TlsVerify::On);
    assert_eq!(c.tls_ca, TlsCa::WebpkiRoots);
    assert_eq!(c.tls_roots, None);
    assert_eq!(c.tls_roots_password, None);
    assert!(c.auto_flush);
    assert_eq!(c.auto_flush_rows, Some(1000));
    assert_eq!(c.auto_flush_interval, Some(ms(100)));
    assert_eq!(c.auto_flush_bytes, None);
    assert_eq!(c.init_buf_size, 65536);
    assert_eq!(c.max_buf_size, 104_857_600);
    assert_eq!(c.max_name_len, 127);
    assert_eq!(c.max_datagram_size, None);
    assert_eq!(c.sf_dir, None);
    assert_eq!(c.sender_id, "default");
    assert_eq!(c.sf_durability, SfDurability::Memory);
    assert_eq!(c.sf_sync_interval, ms(5_000));
    assert_eq!(c.sf_max_segment_bytes, 64 << 20);
    assert_eq!(c.sf_max_total_bytes, None);
    assert_eq!(c.sf_max_total_bytes_or_default(), 128 << 20);
    assert_eq!(c.sf_append_deadline, ms(30_000));
    assert!(!c.drain_orphans);
    assert_eq!(c.max_background_drainers, 4);
    assert_eq!(c.catch_up_cap_gap_min_escalation_window, ms(300_000));
    assert!(!c.transaction);
    assert_eq!(c.reconnect_initial_backoff, ms(100));
    assert_eq!(c.reconnect_max_backoff, ms(5_000));
    assert_eq!(c.reconnect_max_duration, ms(300_000));
    assert_eq!(c.initial_connect_retry, InitialConnectRetry::Off);
    assert_eq!(c.close_flush_timeout, ms(5_000));
    assert!(!c.request_durable_ack);
    assert_eq!(c.durable_ack_keepalive_interval, Some(ms(200)));
    assert_eq!(c.error_inbox_capacity, 256);
    assert_eq!(c.connection_listener_inbox_capacity, 64);
    assert_eq!(c.on_server_error, ErrorPolicy::Auto);
    assert_eq!(c.on_schema_error, ErrorPolicy::Auto);
    assert_eq!(c.on_parse_error, ErrorPolicy::Auto);
    assert_eq!(c.on_internal_error, ErrorPolicy::Auto);
    assert_eq!(c.on_security_error, ErrorPolicy::Auto);
    assert_eq!(c.on_write_error, ErrorPolicy::Auto);
    assert_eq!(c.max_frame_rejections, 4);
    assert_eq!(c.poison_min_escalation_window, ms(5_000));
    assert_eq!(c.target, Target::Any);
    assert_eq!(c.zone, None);
    assert!(c.failover);
    assert_eq!(c.failover_max_attempts, 8);
    assert_eq!(c.failover_backoff_initial, ms(50));
    assert_eq!(c.failover_backoff_max, ms(1_000));
    assert_eq!(c.failover_max_duration, Some(ms(30_000)));
    assert_eq!(c.compression, Compression::Raw);
    assert_eq!(c.compression_level, 1);
    assert_eq!(c.initial_credit, 0);
    assert_eq!(c.max_batch_rows, None);
    assert_eq!(c.client_id, None);
    assert_eq!(c.query_close_timeout, ms(5_000));
    assert_eq!(c.buffer_pool_size, 4);
    assert_eq!(c.sender_pool_min, 1);
    assert_eq!(c.sender_pool_max, 64);
    assert_eq!(c.query_pool_min, 1);
    assert_eq!(c.query_pool_max, 64);
    assert_eq!(c.acquire_timeout, None);
    assert_eq!(c.idle_timeout, Some(ms(60_000)));
    assert_eq!(c.max_lifetime, Some(ms(1_800_000)));
    assert_eq!(c.housekeeper_interval, ms(5_000));
    assert!(!c.lazy_connect);
    assert_eq!(c.pool_reap, PoolReap::Auto);
    assert_eq!(c.to_conf_string(), "ws::addr=localhost:9000;");
}

#[test]
fn other_values() {
    let c = with("token=t;tls_verify=unsafe_off;tls_ca=webpki_and_os_roots;compression=auto");
    assert_eq!(c.token.as_deref(), Some("t"));
    assert_eq!(c.tls_verify, TlsVerify::UnsafeOff);
    assert_eq!(c.tls_ca, TlsCa::WebpkiAndOsRoots);
    assert_eq!(c.compression, Compression::Auto);
    assert_eq!(raw("target=primary").target, Target::Primary);
    assert_eq!(with("tls_ca=webpki_roots").tls_ca, TlsCa::WebpkiRoots);
    // pem_file is accepted with tls_roots and leaves the store default.
    let c = with("tls_ca=pem_file;tls_roots=/r.pem");
    assert_eq!(c.tls_ca, TlsCa::WebpkiRoots);
    assert_eq!(c.tls_roots, Some(PathBuf::from("/r.pem")));
    // Aliases.
    let c = with("user=bob;pass=secret");
    assert_eq!(c.username.as_deref(), Some("bob"));
    assert_eq!(c.password.as_deref(), Some("secret"));
    // auto_flush values.
    let c = raw("auto_flush=on;auto_flush_rows=off;auto_flush_interval=250;auto_flush_bytes=off");
    assert!(c.auto_flush);
    assert_eq!(c.auto_flush_rows, None);
    assert_eq!(c.auto_flush_interval, Some(ms(250)));
    assert_eq!(c.auto_flush_bytes, None);
    assert_eq!(raw("auto_flush_bytes=0").auto_flush_bytes, None);
    assert_eq!(raw("auto_flush_bytes=100").auto_flush_bytes, Some(100));
    // Signed millisecond keys.
    assert_eq!(
        raw("close_flush_timeout_millis=0").close_flush_timeout,
        Duration::ZERO
    );
    assert_eq!(
        raw("close_flush_timeout_millis=7").close_flush_timeout,
        ms(7)
    );
    let c = raw("durable_ack_keepalive_interval_millis=-5");
    assert_eq!(c.durable_ack_keepalive_interval, None);
    let c = raw("durable_ack_keepalive_interval_millis=300");
    assert_eq!(c.durable_ack_keepalive_interval, Some(ms(300)));
    assert_eq!(
        raw("failover_max_duration_ms=10").failover_max_duration,
        Some(ms(10))
    );
    assert_eq!(raw("idle_timeout_ms=10").idle_timeout, Some(ms(10)));
    assert_eq!(raw("max_lifetime_ms=10").max_lifetime, Some(ms(10)));
    // SF default cap depends on the mode.
    assert_eq!(raw("sf_dir=/x").sf_max_total_bytes_or_default(), 10 << 30);
    // Schemes and their spellings.
    assert_eq!(parse("qwpws::addr=h").scheme, Scheme::Ws);
    assert_eq!(parse("qwpwss::addr=h").scheme, Scheme::Wss);
    assert_eq!(parse("wss::addr=h").addrs, vec![Addr::new("h", 9000)]);
    assert_eq!(Conf::default_port(Scheme::Wss), 9000);
    assert_eq!(Conf::default_port(Scheme::Ws), 9000);
    // FromStr.
    let c: Conf = "ws::addr=h:1".parse().unwrap();
    assert_eq!(c.addrs, vec![Addr::new("h", 1)]);
}

#[test]
fn sizes() {
    for (v, n) in [
        ("0", 0u64),
        ("123", 123),
        ("1k", 1 << 10),
        ("1K", 1 << 10),
        ("2kb", 2 << 10),
        ("2KB", 2 << 10),
        ("3m", 3 << 20),
        ("3Mb", 3 << 20),
        ("4g", 4 << 30),
        ("4gB", 4 << 30),
        ("5t", 5 << 40),
        ("5TB", 5 << 40),
    ] {
        assert_eq!(
            with(&format!("initial_credit={v}")).initial_credit,
            n,
            "{v}"
        );
    }
    raw_err_with(
        "init_buf_size=1x",
        &["init_buf_size=\"1x\"", "unknown size suffix"],
    );
    raw_err_with(
        "init_buf_size=k",
        &["init_buf_size=\"k\"", "expected a size"],
    );
    raw_err_with("init_buf_size=-1", &["init_buf_size=\"-1\""]);
    raw_err_with("init_buf_size=1 k", &["init_buf_size=\"1 k\""]);
    raw_err_with(
        "sf_max_total_bytes=99999999t",
        &["sf_max_total_bytes", "too large"],
    );
}

#[test]
fn initial_connect_retry_modes() {
    use InitialConnectRetry::*;
    for (v, m) in [
        ("off", Off),
        ("false", Off),
        ("on", Sync),
        ("true", Sync),
        ("sync", Sync),
    ] {
        let c = with(&format!("initial_connect_retry={v}"));
        assert_eq!(c.initial_connect_retry, m);
        assert_eq!(Conf::parse(&c.to_conf_string()).unwrap(), c);
    }
    assert_eq!(
        with("initial_connect_retry=async").initial_connect_retry,
        InitialConnectRetry::Async
    );
    // A reconnect key promotes it to on, unless it is given.
    for k in [
        "reconnect_initial_backoff_millis",
        "reconnect_max_backoff_millis",
        "reconnect_max_duration_millis",
    ] {
        assert_eq!(with(&format!("{k}=100")).initial_connect_retry, Sync, "{k}");
        let c = with(&format!("{k}=100;initial_connect_retry=off"));
        assert_eq!(c.initial_connect_retry, Off, "explicit wins for {k}");
        // Written back explicitly, so the round trip keeps it.
        assert_eq!(Conf::parse(&c.to_conf_string()).unwrap(), c, "{k}");
    }
    raw_err_with(
        "initial_connect_retry=maybe",
        &["initial_connect_retry=\"maybe\"", "async"],
    );
}

#[test]
fn escaping() {
    assert_eq!(
        with("password=p;;ssw;;rd;").password.as_deref(),
        Some("p;ssw;rd")
    );
    assert_eq!(with("password=ab;;;").password.as_deref(), Some("ab;"));
    assert_eq!(with("password=ab;;").password.as_deref(), Some("ab;"));
    assert_eq!(with("password=;;").password.as_deref(), Some(";"));
    assert_eq!(with("password=;;;;;").password.as_deref(), Some(";;"));
    let c = with("password=ab;;;username=x");
    assert_eq!(c.password.as_deref(), Some("ab;"));
    assert_eq!(c.username.as_deref(), Some("x"));
    // Trailing `;` is optional; `=` inside a value is literal.
    assert_eq!(
        parse("ws::addr=h;client_id=a=b").client_id.as_deref(),
        Some("a=b")
    );
    assert_eq!(parse("ws::addr=h").addrs.len(), 1);
    // Non-ASCII values are fine.
    assert_eq!(
        with("client_id=zürich").client_id.as_deref(),
        Some("zürich")
    );
}

#[test]
fn addresses() {
    let c = parse("ws::addr=a:1,b,c:3;addr=d;addr=[::1]:9001,[fe80::2];");
    assert_eq!(
        c.addrs,
        vec![
            Addr::new("a", 1),
            Addr::new("b", 9000),
            Addr::new("c", 3),
            Addr::new("d", 9000),
            Addr::new("::1", 9001),
            Addr::new("fe80::2", 9000),
        ]
    );
    assert_eq!(c.addrs[4].to_string(), "[::1]:9001");
    assert_eq!(c.addrs[0].to_string(), "a:1");
    assert_eq!(
        parse("wss::addr=10.0.0.1").addrs,
        vec![Addr::new("10.0.0.1", 9000)]
    );
    assert_eq!(parse("ws::addr=h:65535").addrs[0].port, 65535);

    for (addr, needles) in [
        ("a,,b", &["addr=\"\"", "empty entry"][..]),
        (",a", &["empty entry"]),
        ("a,", &["empty entry"]),
        ("a:0", &["addr=\"a:0\"", "invalid port"]),
        ("a:65536", &["addr=\"a:65536\"", "invalid port"]),
        ("a:x", &["addr=\"a:x\"", "invalid port"]),
        ("a:", &["addr=\"a:\"", "missing port"]),
        (":80", &["addr=\":80\"", "empty host"]),
        ("::1", &["addr=\"::1\"", "brackets"]),
        ("[::1", &["addr=\"[::1\"", "missing `]`"]),
        ("[nope]:1", &["addr=\"[nope]:1\"", "IPv6"]),
        ("[::1]x", &["addr=\"[::1]x\"", "expected `:port`"]),
        ("a b", &["addr=\"a b\"", "whitespace"]),
        (
            "a:1,b,a:1",
            &["addr=\"a:1,b,a:1\"", "duplicate addr entry: a:1"],
        ),
        ("a,A:9000", &["duplicate addr entry: A:9000"]),
        ("[::1],[0::1]:9000", &["duplicate addr entry: [0::1]:9000"]),
    ] {
        let e = err(&format!("ws::addr={addr};"));
        for n in needles {
            assert!(e.to_string().contains(n), "{addr}: {e} lacks {n}");
        }
    }
    let e = err("ws::addr=a:1;addr=a:1");
    assert!(e.to_string().contains("duplicate addr entry: a:1"), "{e}");
    let e = err("ws::addr=;");
    assert!(
        e.to_string().contains("addr=\"\": value must not be empty"),
        "{e}"
    );
    let e = err("ws::username=u;");
    assert!(e.to_string().contains("missing required key `addr`"), "{e}");
    let e = err("ws::");
    assert!(e.to_string().contains("missing required key `addr`"), "{e}");
}

#[test]
fn grammar_errors() {
    let e = err("addr=h");
    assert!(e.to_string().contains("missing `::`"), "{e}");
    let e = err("ws::addr=h;foo=1");
    assert!(e.to_string().contains("unknown key `foo`"), "{e}");
    let e = err("ws::addr=h;Username=x");
    assert!(e.to_string().contains("unknown key `Username`"), "{e}");
    let e = err("ws::addr=h;=x");
    assert!(e.to_string().contains("empty key"), "{e}");
    // `;;` right after a value is an escaped `;` inside it, not a
    // separator: the host becomes "h;", which is invalid.
    let e = err("ws::addr=h;;");
    assert!(
        e.to_string()
            .contains("addr=\"h;\": invalid character in host"),
        "{e}"
    );
    let e = err("ws::addr=h;client_id");
    assert!(e.to_string().contains("missing `=`"), "{e}");
    let e = err("ws::addr=h;password=a;bc;");
    let msg = e.to_string();
    assert!(msg.contains("missing `=`") && msg.contains(";;"), "{msg}");
    assert!(
        !msg.contains("bc"),
        "must not echo a possible secret: {msg}"
    );
    let e = err("ws::addr=h;zo-ne=x");
    assert!(
        e.to_string().contains("invalid character '-' in key"),
        "{e}"
    );
    let e = err("ws::addr=h;client_id=");
    assert!(
        e.to_string()
            .contains("client_id=\"\": value must not be empty"),
        "{e}"
    );
    // Duplicates, including through an alias.
    err_with(
        "client_id=a;client_id=b",
        &["client_id=\"b\"", "more than once"],
    );
    err_with(
        "username=a;user=b",
        &["user=\"b\"", "duplicates `username`"],
    );
    err_with(
        "pass=a;password=b",
        &["password=\"<redacted>\"", "duplicates `pass`"],
    );
}

#[test]
fn control_characters() {
    for c in [
        '\u{0}', '\u{9}', '\n', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}',
    ] {
        let e = err(&format!("ws::addr=h;client_id=a{c}b"));
        let code = format!("U+{:04X}", c as u32);
        assert!(e.to_string().contains("client_id=\"a\""), "{e}");
        assert!(e.to_string().contains(&code), "{e}");
    }
    // Secrets are not echoed.
    let e = err("ws::addr=h;password=hunter2\n");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(e.to_string().contains("password=\"<redacted>\""), "{e}");
    // U+00A0 is not a control character.
    assert_eq!(
        with("client_id=a\u{a0}b").client_id.as_deref(),
        Some("a\u{a0}b")
    );
}

#[test]
fn schemes() {
    for (s, scheme, port, tls) in [
        ("ws", Scheme::Ws, 9000, false),
        ("qwpwss", Scheme::Wss, 9000, true),
        ("http", Scheme::Http, 9000, false),
        ("https", Scheme::Https, 9000, true),
        ("tcp", Scheme::Tcp, 9009, false),
        ("tcps", Scheme::Tcps, 9009, true),
    ] {
        let c = parse(&format!("{s}::addr=localhost;"));
        assert_eq!(c.scheme, scheme, "{s}");
        assert_eq!(c.addrs[0].port, port, "{s}");
        assert_eq!(c.is_tls(), tls, "{s}");
        assert_eq!(c.scheme.is_ilp(), !s.contains("ws"), "{s}");
    }
    let e = err("udp::addr=localhost:9000;");
    assert!(
        e.message().starts_with("scheme udp is not supported"),
        "{e}"
    );
    let e = err("wsx::addr=h");
    assert!(e.to_string().contains("unknown scheme \"wsx\""), "{e}");
    let e = err("WS::addr=h");
    assert!(e.to_string().contains("unknown scheme \"WS\""), "{e}");
    let e = err("::addr=h");
    assert!(e.to_string().contains("empty scheme"), "{e}");
}

#[test]
fn validation_errors() {
    let cases: &[(&str, &[&str])] = &[
        (
            "auth_timeout_ms=abc",
            &["auth_timeout_ms=\"abc\"", "milliseconds"],
        ),
        ("auth_timeout_ms=-1", &["auth_timeout_ms=\"-1\""]),
        (
            "connect_timeout=0",
            &["connect_timeout=\"0\"", "greater than 0"],
        ),
        ("connect_timeout=x", &["connect_timeout=\"x\""]),
        ("tls_verify=off", &["tls_verify=\"off\"", "on, unsafe_off"]),
        ("tls_ca=mine", &["tls_ca=\"mine\"", "webpki_roots"]),
        (
            "tls_ca=pem_file",
            &["tls_ca=\"pem_file\"", "requires tls_roots"],
        ),
        (
            "tls_roots=/r.pem;tls_verify=unsafe_off",
            &["tls_roots=\"/r.pem\"", "unsafe_off"],
        ),
        (
            "tls_roots_password=x",
            &["tls_roots_password", "requires tls_roots"],
        ),
        ("token=t;username=u", &["token", "username/password"]),
        ("password=p;token=t", &["token", "username/password"]),
        ("auto_flush=yes", &["auto_flush=\"yes\"", "on or off"]),
        (
            "auto_flush_rows=0",
            &["auto_flush_rows=\"0\"", "at least 1"],
        ),
        ("auto_flush_rows=x", &["auto_flush_rows=\"x\""]),
        (
            "auto_flush_interval=0",
            &["auto_flush_interval=\"0\"", "greater than 0"],
        ),
        ("auto_flush_interval=1s", &["auto_flush_interval=\"1s\""]),
        ("auto_flush_bytes=1q", &["auto_flush_bytes=\"1q\""]),
        (
            "init_buf_size=2m;max_buf_size=1m",
            &["init_buf_size=\"2097152\"", "max_buf_size"],
        ),
        ("max_buf_size=0", &["max_buf_size=\"0\"", "greater than 0"]),
        ("max_name_len=0", &["max_name_len=\"0\"", "at least 1"]),
        ("max_name_len=99999999999999999999999", &["max_name_len"]),
        ("sender_id=a/b", &["sender_id=\"a/b\"", "letters, digits"]),
        ("sender_id=a.b", &["sender_id=\"a.b\""]),
        ("sender_id=a b", &["sender_id=\"a b\""]),
        (
            "sf_durability=flush",
            &["sf_durability=\"flush\"", "not supported"],
        ),
        (
            "sf_durability=append",
            &["sf_durability=\"append\"", "not supported"],
        ),
        (
            "sf_durability=disk",
            &["sf_durability=\"disk\"", "memory, periodic"],
        ),
        (
            "sf_durability=periodic",
            &["sf_durability=\"periodic\"", "requires sf_dir"],
        ),
        (
            "sf_sync_interval_millis=10",
            &["sf_sync_interval_millis=\"10\"", "sf_durability=periodic"],
        ),
        (
            "sf_dir=/d;sf_durability=memory;sf_sync_interval_millis=10",
            &["sf_sync_interval_millis", "periodic"],
        ),
        ("sf_max_segment_bytes=0", &["sf_max_segment_bytes=\"0\""]),
        ("sf_max_total_bytes=0", &["sf_max_total_bytes=\"0\""]),
        ("drain_orphans=1", &["drain_orphans=\"1\"", "on or off"]),
        (
            "max_background_drainers=99999999999",
            &["max_background_drainers", "too large"],
        ),
        ("transaction=true", &["transaction=\"true\""]),
        (
            "close_flush_timeout_millis=--1",
            &["close_flush_timeout_millis=\"--1\""],
        ),
        ("request_durable_ack=yes", &["request_durable_ack=\"yes\""]),
        (
            "durable_ack_keepalive_interval_millis=x",
            &["durable_ack_keepalive_interval_millis"],
        ),
        (
            "error_inbox_capacity=15",
            &["error_inbox_capacity=\"15\"", "at least 16"],
        ),
        (
            "connection_listener_inbox_capacity=0",
            &["connection_listener_inbox_capacity=\"0\""],
        ),
        (
            "on_server_error=ignore",
            &["on_server_error=\"ignore\"", "retriable_other"],
        ),
        ("on_schema_error=x", &["on_schema_error=\"x\""]),
        ("on_parse_error=x", &["on_parse_error=\"x\""]),
        ("on_internal_error=x", &["on_internal_error=\"x\""]),
        ("on_security_error=x", &["on_security_error=\"x\""]),
        ("on_write_error=x", &["on_write_error=\"x\""]),
        (
            "max_frame_rejections=0",
            &["max_frame_rejections=\"0\"", "at least 1"],
        ),
        (
            "poison_min_escalation_window_millis=x",
            &["poison_min_escalation_window_millis"],
        ),
        (
            "target=master",
            &["target=\"master\"", "any, primary, replica"],
        ),
        ("failover=x", &["failover=\"x\""]),
        (
            "failover_max_attempts=0",
            &["failover_max_attempts=\"0\"", "at least 1"],
        ),
        (
            "failover_backoff_initial_ms=x",
            &["failover_backoff_initial_ms=\"x\""],
        ),
        (
            "failover_backoff_max_ms=x",
            &["failover_backoff_max_ms=\"x\""],
        ),
        (
            "failover_max_duration_ms=x",
            &["failover_max_duration_ms=\"x\""],
        ),
        (
            "compression=gzip",
            &["compression=\"gzip\"", "raw, zstd, auto"],
        ),
        (
            "compression_level=0",
            &["compression_level=\"0\"", "between 1 and 22"],
        ),
        (
            "compression_level=23",
            &["compression_level=\"23\"", "between 1 and 22"],
        ),
        ("compression_level=-3", &["compression_level=\"-3\""]),
        ("compression_level=x", &["compression_level=\"x\""]),
        ("initial_credit=x", &["initial_credit=\"x\""]),
        (
            "max_batch_rows=0",
            &["max_batch_rows=\"0\"", "between 1 and 1048576"],
        ),
        ("max_batch_rows=1048577", &["max_batch_rows=\"1048577\""]),
        (
            "query_close_timeout_ms=0",
            &["query_close_timeout_ms=\"0\"", "greater than 0"],
        ),
        (
            "buffer_pool_size=0",
            &["buffer_pool_size=\"0\"", "at least 1"],
        ),
        (
            "sender_pool_min=65",
            &["sender_pool_min=\"65\"", "sender_pool_max"],
        ),
        (
            "sender_pool_max=0;sender_pool_min=0",
            &["sender_pool_max=\"0\""],
        ),
        (
            "query_pool_min=9;query_pool_max=8",
            &["query_pool_min=\"9\"", "query_pool_max"],
        ),
        ("query_pool_max=x", &["query_pool_max=\"x\""]),
        ("acquire_timeout_ms=x", &["acquire_timeout_ms=\"x\""]),
        ("idle_timeout_ms=x", &["idle_timeout_ms=\"x\""]),
        ("max_lifetime_ms=x", &["max_lifetime_ms=\"x\""]),
        (
            "housekeeper_interval_ms=0",
            &["housekeeper_interval_ms=\"0\""],
        ),
        ("lazy_connect=x", &["lazy_connect=\"x\""]),
        (
            "pool_reap=sometimes",
            &["pool_reap=\"sometimes\"", "auto, manual"],
        ),
        ("pool_size=x", &["pool_size=\"x\""]),
        ("pool_max=-1", &["pool_max=\"-1\""]),
        (
            "sf_append_deadline_millis=x",
            &["sf_append_deadline_millis=\"x\""],
        ),
        (
            "reconnect_max_backoff_millis=1.5",
            &["reconnect_max_backoff_millis=\"1.5\""],
        ),
        ("max_datagram_size=0", &["max_datagram_size=\"0\""]),
    ];
    for (extra, needles) in cases {
        // Refused keys are checked through their value parsers.
        let refused = extra.split(';').any(|pair| {
            pair.split_once('=')
                .and_then(|(k, _)| keys::lookup(k))
                .is_some_and(|k| k.status != entry::Status::Honoured)
        });
        if refused {
            raw_err_with(extra, needles);
        } else {
            err_with(extra, needles);
        }
    }
}

#[test]
fn debug_redacts_secrets() {
    let c = raw("password=hunter2;tls_roots=/r;tls_roots_password=kspass");
    let d = format!("{c:?}");
    assert!(!d.contains("hunter2") && !d.contains("kspass"), "{d}");
    assert!(d.contains("password: Some(\"<redacted>\")"), "{d}");
    let d = format!("{:?}", with("token=tok123"));
    assert!(!d.contains("tok123"), "{d}");
    assert!(d.contains("token: Some(\"<redacted>\")"), "{d}");
    let e = err("ws::addr=h;token=abc;username=u");
    assert!(!e.to_string().contains("abc"), "{e}");
}

#[test]
fn round_trip() {
    let honoured = [
        "ws::addr=localhost",
        "ws::addr=a,[::1]:1;addr=b:2;token=x;;y;;;tls_verify=unsafe_off",
        "ws::addr=h;reconnect_max_backoff_millis=9",
        "wss::addr=h;user=u;pass=p;auth_timeout_ms=5;connect_timeout=7;tls_ca=os_roots;\
         tls_roots=/r.pem;compression=auto;compression_level=9;initial_credit=1m;\
         max_batch_rows=10;client_id=c;request_durable_ack=on;max_frame_rejections=2;\
         reconnect_initial_backoff_millis=1;reconnect_max_duration_millis=2",
    ];
    for s in honoured {
        let c = parse(s);
        let out = c.to_conf_string();
        assert_eq!(parse(&out), c, "{s} -> {out}");
        assert_eq!(parse(&out).to_conf_string(), out);
    }
    // Refused keys still write what their value parsers read.
    let refused = [
        ALL_KEYS,
        "ws::addr=h;reconnect_max_backoff_millis=9;initial_connect_retry=off",
        "ws::addr=h;initial_connect_retry=on;auto_flush_rows=off;auto_flush_bytes=1",
        "ws::addr=h;durable_ack_keepalive_interval_millis=0;close_flush_timeout_millis=0",
        "ws::addr=h;sf_dir=/a;;b;sf_durability=periodic;auto_flush_interval=off",
    ];
    for s in refused {
        let c = parse_raw(s);
        let out = c.to_conf_string();
        assert_eq!(parse_raw(&out), c, "{s} -> {out}");
        assert_eq!(parse_raw(&out).to_conf_string(), out);
    }
    let c = parse("ws::addr=h;token=x;;y;;;");
    assert_eq!(c.token.as_deref(), Some("x;y;"));
    assert_eq!(c.to_conf_string(), "ws::addr=h:9000;token=x;;y;;;");
    assert_eq!(
        parse("qwpwss::addr=[::1]").to_conf_string(),
        "wss::addr=[::1]:9000;"
    );
}

#[test]
fn validate_programmatic() {
    let mut c = Conf::new(Scheme::Ws, vec![]);
    assert!(c.validate().unwrap_err().to_string().contains("addr"));
    c.addrs = vec![Addr::new("h", 1), Addr::new("H", 1)];
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("duplicate addr entry: H:1")
    );
    c.addrs.pop();
    assert!(c.validate().is_ok());
    c.compression_level = 30;
    let e = c.validate().unwrap_err();
    assert!(e.to_string().contains("compression_level=\"30\""), "{e}");
    // A field of a refused key is refused here too.
    c.compression_level = 1;
    c.transaction = true;
    let e = c.validate().unwrap_err();
    assert!(
        e.message()
            .starts_with("`transaction`: transactions spanning several flushes are not available"),
        "{e}"
    );
}

#[test]
fn from_env() {
    use std::env::VarError;
    let e = Conf::from_env_value(ENV_VAR, Err(VarError::NotPresent)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("QDB_CLIENT_CONF is not set"), "{e}");

    let c = Conf::from_env_value(ENV_VAR, Ok("wss::addr=db:1234;username=u;".into())).unwrap();
    assert_eq!(c.scheme, Scheme::Wss);
    assert_eq!(c.addrs, vec![Addr::new("db", 1234)]);
    assert_eq!(c.username.as_deref(), Some("u"));

    let e = Conf::from_env_value(ENV_VAR, Ok("ws::addr=db;bogus=1".into())).unwrap_err();
    assert!(e.to_string().contains("QDB_CLIENT_CONF"), "{e}");
    assert!(e.to_string().contains("unknown key `bogus`"), "{e}");

    let bad = VarError::NotUnicode(std::ffi::OsString::from("x"));
    let e = Conf::from_env_value(ENV_VAR, Err(bad)).unwrap_err();
    assert!(e.to_string().contains("not valid UTF-8"), "{e}");
}
