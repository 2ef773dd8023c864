//! Choosing an endpoint: the walk over the connect string's `addr` list
//! that every connect and reconnect makes, for ingest and for queries. The
//! rules are documented for users in the `client` module.

use std::time::{Duration, Instant};

use crate::conf::{Conf, InitialConnectRetry, Target};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::egress::{Role, ServerInfo};
use crate::transport::{Auth, ConnectOptions, RootStore, TlsOptions};

/// How an endpoint that answered fits what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// Take it.
    Yes,
    /// Right role, other zone: the fallback of the round.
    OtherZone,
    /// The role (from SERVER_INFO) does not pass `target`.
    WrongRole(Role),
}

/// How a query connection's SERVER_INFO fits `target` and `zone`.
pub(crate) fn query_fit(conf: &Conf, info: &ServerInfo) -> Fit {
    let role_ok = match conf.target() {
        Target::Any => true,
        Target::Primary => matches!(
            info.role,
            Role::Primary | Role::PrimaryCatchup | Role::Standalone
        ),
        Target::Replica => info.role == Role::Replica,
    };
    if !role_ok {
        return Fit::WrongRole(info.role);
    }
    match (conf.zone(), &info.zone_id, conf.target()) {
        (_, _, Target::Primary) | (None, _, _) => Fit::Yes,
        (Some(want), Some(have), _) if want.eq_ignore_ascii_case(have) => Fit::Yes,
        _ => Fit::OtherZone,
    }
}

/// Whether an error means the connection was lost mid-stream (worth a
/// reconnect, whatever the server said before).
pub(crate) fn lost_connection(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Io | ErrorKind::Closed | ErrorKind::Timeout
    )
}

/// Whether a failure of one endpoint ends the whole walk (every endpoint
/// would answer the same).
fn terminal(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Auth | ErrorKind::Config | ErrorKind::Incompatible
    )
}

/// One round over `conf.addrs` from index `start`: the first connection
/// `open` gives whose fit is [`Fit::Yes`] (or, failing that, the first
/// [`Fit::OtherZone`]), with its options and index.
pub(crate) fn round<T>(
    conf: &Conf,
    start: usize,
    open: &impl Fn(&ConnectOptions) -> Result<T>,
    fit: &impl Fn(&T) -> Fit,
) -> Result<(T, ConnectOptions, usize)> {
    let n = conf.addrs().len();
    if n == 0 {
        return Err(Error::new(
            ErrorKind::Config,
            "no addr in the connect string",
        ));
    }
    let mut fallback = None;
    let mut outcomes = Vec::with_capacity(n);
    let mut last_transport: Option<Error> = None;
    let mut role_rejects = 0usize;
    let mut last_reject: Option<Error> = None;
    for k in 0..n {
        let i = (start + k) % n;
        let addr = &conf.addrs()[i];
        let opts = ConnectOptions::from_conf(conf, addr);
        match open(&opts) {
            Ok(c) => match fit(&c) {
                Fit::Yes => return Ok((c, opts, i)),
                Fit::OtherZone => {
                    outcomes.push(format!("{addr}: other zone"));
                    if fallback.is_none() {
                        fallback = Some((c, opts, i));
                    }
                }
                Fit::WrongRole(role) => {
                    role_rejects += 1;
                    outcomes.push(format!("{addr}: role {}", role.name()));
                    last_reject = Some(Error::role_reject(
                        Some(role.name().to_string()),
                        None,
                        format!("{addr}: role {}", role.name()),
                    ));
                }
            },
            Err(e) if terminal(&e) => return Err(e.context(format!("endpoint {addr}"))),
            Err(e) if e.kind() == ErrorKind::RoleReject => {
                role_rejects += 1;
                outcomes.push(format!("{addr}: {}", e.message()));
                last_reject = Some(e);
            }
            Err(e) => {
                outcomes.push(format!("{addr}: {e}"));
                last_transport = Some(e);
            }
        }
    }
    if let Some(f) = fallback {
        return Ok(f);
    }
    let listed = outcomes.join("; ");
    match (last_reject, last_transport) {
        (Some(r), _) => {
            let what = if role_rejects == n {
                "every endpoint answered and none has the role asked for"
            } else {
                "no reachable endpoint has the role asked for"
            };
            Err(Error::role_reject(
                r.role().map(str::to_string),
                r.zone().map(str::to_string),
                format!("{what} (target={}): {listed}", conf.target().as_str()),
            ))
        }
        (None, Some(e)) => Err(e.context(format!("no endpoint reachable ({listed})"))),
        (None, None) => Err(Error::new(
            ErrorKind::Config,
            "no addr in the connect string",
        )),
    }
}

/// Whether a failed round is worth another after a pause: anything but an
/// authentication, configuration or compatibility error (a role reject
/// too: a replica may be promoted).
pub(crate) fn retriable(e: &Error) -> bool {
    !terminal(e)
}

/// The backoff between rounds, with the budget.
pub(crate) struct Backoff {
    step: Duration,
    max: Duration,
    /// `None`: no time budget.
    deadline: Option<Instant>,
    seed: u64,
}

impl Backoff {
    /// From `reconnect_*`, the budget starting now.
    pub(crate) fn new(conf: &Conf) -> Backoff {
        Backoff::until(Some(conf), Instant::now() + conf.reconnect_max_duration())
    }

    /// From `reconnect_*` (100 ms doubling to 5 s without a connect
    /// string), rounds until `deadline`.
    pub(crate) fn until(conf: Option<&Conf>, deadline: Instant) -> Backoff {
        let (step, max) = conf.map_or((Duration::from_millis(100), Duration::from_secs(5)), |c| {
            (c.reconnect_initial_backoff(), c.reconnect_max_backoff())
        });
        Backoff::with(step, max, Some(deadline))
    }

    /// `step` doubling up to `max`, rounds until `deadline` (none: no
    /// time budget).
    pub(crate) fn with(step: Duration, max: Duration, deadline: Option<Instant>) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.as_nanos() as u64)
            ^ (u64::from(std::process::id()) << 32);
        Backoff {
            step,
            max: max.max(step),
            deadline,
            seed: seed | 1,
        }
    }

    /// Waits before the next round: the step drawn from [½, 1½)× (centred
    /// jitter), cut to the budget; `false` once the budget is spent.
    pub(crate) fn pause(&mut self) -> bool {
        let left = self.deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        if left.is_zero() {
            return false;
        }
        // xorshift64: enough to spread clients, no dependency.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let frac = (self.seed >> 11) as f64 / (1u64 << 53) as f64;
        std::thread::sleep(self.step.mul_f64(0.5 + frac).min(left));
        self.step = (self.step * 2).min(self.max);
        true
    }
}

/// Rounds from `start` until one succeeds: one round only when `retry` is
/// false, else until the reconnect budget is spent (the last error then
/// says so).
pub(crate) fn connect<T>(
    conf: &Conf,
    start: usize,
    retry: bool,
    open: impl Fn(&ConnectOptions) -> Result<T>,
    fit: impl Fn(&T) -> Fit,
) -> Result<(T, ConnectOptions, usize)> {
    if conf.initial_connect_retry() == InitialConnectRetry::Async {
        return Err(Error::config(
            "initial_connect_retry",
            "async",
            "only an AsyncSender connects in the background; pooled senders and readers need the connection for the call: use on (retry on the caller's thread) or off",
        ));
    }
    let mut backoff = Backoff::new(conf);
    loop {
        match round(conf, start, &open, &fit) {
            Ok(x) => return Ok(x),
            Err(e) if !retry || !retriable(&e) => return Err(e),
            Err(e) => {
                if !backoff.pause() {
                    return Err(e.context("reconnect budget (reconnect_max_duration_millis) spent"));
                }
            }
        }
    }
}

/// Whether the first connect retries (`initial_connect_retry`).
pub(crate) fn initial_retry(conf: &Conf) -> bool {
    conf.initial_connect_retry() == InitialConnectRetry::Sync
}

impl ConnectOptions {
    /// Options for endpoint `addr` of a parsed connect string: TLS (roots,
    /// `tls_verify`), credentials, timeouts, client id and, per route,
    /// durable-ack and compression headers (`compression=zstd` sends
    /// `zstd;level=N`, `auto` sends `zstd;level=N,raw`, `raw` sends nothing).
    pub fn from_conf(conf: &Conf, addr: &crate::conf::Addr) -> ConnectOptions {
        use crate::conf::{Compression, TlsCa, TlsVerify};
        let mut o = ConnectOptions::new(addr.host.clone(), addr.port);
        if conf.is_tls() {
            o.tls = Some(TlsOptions {
                roots: match conf.tls_ca() {
                    TlsCa::WebpkiRoots => RootStore::Webpki,
                    TlsCa::OsRoots => RootStore::Os,
                    TlsCa::WebpkiAndOsRoots => RootStore::WebpkiAndOs,
                },
                roots_file: conf.tls_roots().map(Into::into),
                verify: conf.tls_verify() == TlsVerify::On,
            });
        }
        o.auth = match (conf.token(), conf.username(), conf.password()) {
            (Some(t), _, _) => Auth::Bearer(t.to_owned()),
            (None, Some(u), p) => Auth::Basic {
                username: u.to_owned(),
                password: p.unwrap_or_default().to_owned(),
            },
            _ => Auth::None,
        };
        o.connect_timeout = conf.connect_timeout();
        o.bind = conf.bind_interface();
        o.auth_timeout = conf.auth_timeout();
        if let Some(id) = conf.client_id() {
            o.client_id = id.to_owned();
        }
        o.request_durable_ack = conf.request_durable_ack();
        let level = conf.compression_level();
        o.accept_encoding = match conf.compression() {
            Compression::Raw => None,
            Compression::Zstd => Some(format!("zstd;level={level}")),
            Compression::Auto => Some(format!("zstd;level={level},raw")),
        };
        o.max_batch_rows = conf.max_batch_rows();
        o
    }
}

#[cfg(test)]
mod options_tests {
    use super::*;
    use crate::conf::Conf;

    #[test]
    fn options_follow_the_connect_string() {
        let c = Conf::parse(
            "wss::addr=db1:9010,db2;username=u;password=p;;w;tls_ca=os_roots;\
             compression=auto;compression_level=3;connect_timeout=250;client_id=me/1;",
        )
        .unwrap();
        let o = ConnectOptions::from_conf(&c, &c.addrs()[1]);
        assert_eq!((o.host.as_str(), o.port), ("db2", 9000));
        let tls = o.tls.as_ref().unwrap();
        assert_eq!(tls.roots, RootStore::Os);
        assert!(tls.verify);
        assert_eq!(
            o.auth,
            Auth::Basic {
                username: "u".into(),
                password: "p;w".into()
            }
        );
        assert_eq!(o.accept_encoding.as_deref(), Some("zstd;level=3,raw"));
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(250)));
        assert_eq!(o.client_id, "me/1");

        let c = Conf::parse("ws::addr=h;token=abc;compression=zstd;").unwrap();
        let o = ConnectOptions::from_conf(&c, &c.addrs()[0]);
        assert!(o.tls.is_none());
        assert_eq!(o.auth, Auth::Bearer("abc".into()));
        assert_eq!(o.accept_encoding.as_deref(), Some("zstd;level=1"));
    }
}
