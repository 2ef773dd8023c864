//! Tests of the ILP keys: defaults per transport, keys refused by the
//! transports that do not honour them, and the checks joining them.

use std::time::Duration;

use super::tests::{err, parse};
use super::*;

/// ILP keys: defaults per transport, the keys a transport does not honour
/// refused by name, and the checks joining them.
#[test]
fn ilp_keys() {
    let h = parse("http::addr=h;");
    assert_eq!(h.protocol_version(), ProtocolVersion::Auto);
    assert_eq!(h.retry_timeout(), Duration::from_secs(10));
    assert_eq!(h.request_timeout(), Duration::from_secs(10));
    assert_eq!(h.request_min_throughput(), 102_400);
    assert_eq!(
        h.request_timeout_for(204_800),
        Duration::from_secs(12),
        "request_timeout + body / request_min_throughput"
    );
    assert_eq!(
        parse("tcp::addr=h;").protocol_version(),
        ProtocolVersion::V1
    );
    let c = parse(
        "http::addr=h;protocol_version=3;retry_timeout=0;request_timeout=5;request_min_throughput=0;",
    );
    assert_eq!(c.protocol_version(), ProtocolVersion::V3);
    assert_eq!(c.retry_timeout(), Duration::ZERO);
    assert_eq!(c.request_timeout_for(1 << 30), Duration::from_millis(5));
    assert_eq!(Conf::parse(&c.to_conf_string()).unwrap(), c);
    let t = parse("tcps::addr=h;bind_interface=127.0.0.1;username=k;token=d;token_x=x;token_y=y;");
    assert_eq!(t.bind_interface(), Some([127, 0, 0, 1].into()));
    assert_eq!((t.token_x(), t.token_y()), (Some("x"), Some("y")));
    assert!(!format!("{t:?}").contains("token_x: Some(\"x\")"));
    assert_eq!(Conf::parse(&t.to_conf_string()).unwrap(), t);

    for (s, want) in [
        (
            "http::addr=h;token_x=a;",
            "`token_x`: only used by tcp:: or tcps::; http:: does not honour it",
        ),
        (
            "ws::addr=h;protocol_version=2;",
            "`protocol_version`: an ILP key (only http:: or https::, tcp:: or tcps::); ws:: speaks QWP over WebSocket",
        ),
        (
            "https::addr=h;sf_dir=/x;",
            "`sf_dir`: a QWP/WebSocket key (only ws:: or wss::); the ILP sender of https:: does not honour it",
        ),
        (
            "tcp::addr=h;request_timeout=5;",
            "`request_timeout`: only used by http:: or https::; tcp:: does not honour it",
        ),
        (
            "http::addr=h;auth_timeout_ms=5;",
            "`auth_timeout_ms`: only used by ws:: or wss::, tcp:: or tcps::; http:: does not honour it",
        ),
        (
            "tcp::addr=h;compression=zstd;",
            "`compression`: a QWP/WebSocket key (only ws:: or wss::); the ILP sender of tcp:: does not honour it",
        ),
    ] {
        assert_eq!(err(s).message(), want, "{s}");
    }
    let e = err("tcp::addr=h;protocol_version=auto;");
    assert!(e.message().contains("needs http:: or https::"), "{e}");
    let e = err("tcp::addr=h;username=k;token=d;token_x=x;");
    assert!(e.message().starts_with("token_y"), "{e}");
    assert!(
        e.message().contains("given: username, token, token_x"),
        "{e}"
    );
    let e = err("tcp::addr=h;password=p;");
    assert!(
        e.message()
            .starts_with("`password`: only used by ws:: or wss::, http::"),
        "{e}"
    );
    let e = err("http::addr=h;request_timeout=0;");
    assert!(e.message().contains("greater than 0"), "{e}");
    let e = err("tcp::addr=h;bind_interface=eth0;");
    assert!(e.message().contains("IP address"), "{e}");
    // set() checks the transport too; validate() catches fields set in code.
    let mut c = parse("http::addr=h;");
    let e = c.set("token_y", "y").unwrap_err();
    assert!(e.message().starts_with("`token_y`"), "{e}");
    let mut w = Conf::new(Scheme::Ws, vec![Addr::new("h", 1)]);
    w.retry_timeout = Duration::ZERO;
    let e = w.validate().unwrap_err();
    assert!(e.message().starts_with("`retry_timeout`"), "{e}");
}
