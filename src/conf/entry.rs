//! What one entry of the key table is: the [`Key`] type, and the [`Codec`]
//! that moves a key's value between the connect string and [`Conf`], made
//! by the `codec!` macro for the common kinds of field and by the functions
//! below for the rest.

use std::time::Duration;

use super::grammar::{parse_i64, parse_num};
use super::values::{Addr, InitialConnectRetry, SfDurability, TlsCa, Transport};
use super::{Conf, MAX_BATCH_ROWS_LIMIT};
use crate::{Error, Result};

/// Which part of the crate reads a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// The ingest sender and the query client.
    Both,
    /// The ingest sender.
    Ingest,
    /// The query client.
    Query,
    /// The pooled facade.
    Pool,
    /// The `udp` transport, which this crate does not have.
    Udp,
}

impl Use {
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Use::Both => "ingest, query",
            Use::Ingest => "ingest",
            Use::Query => "query",
            Use::Pool => "pool",
            Use::Udp => "udp",
        }
    }
}

/// Whether a key is acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Parsed and acted on.
    Honoured,
    /// Parsing the key is an error giving this reason.
    Refused(&'static str),
}

/// One connect-string key. `default`, `used_by`, `meaning` and `since` are
/// read only by the docs table (`doc_table.rs`, built with the tests).
#[derive(Clone, Copy)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Key {
    /// Canonical spelling.
    pub(crate) name: &'static str,
    /// Other accepted spellings.
    pub(crate) aliases: &'static [&'static str],
    /// The default as shown in the docs.
    pub(crate) default: &'static str,
    /// Who reads it.
    pub(crate) used_by: Use,
    /// Honoured or refused.
    pub(crate) status: Status,
    /// Its value is never echoed.
    pub(crate) secret: bool,
    /// May be given more than once (only `addr`).
    pub(crate) repeatable: bool,
    /// Other keys whose fields it sets too (`pool_size`, `pool_max`): giving
    /// both is a duplicate.
    pub(crate) covers: &'static [&'static str],
    /// One line for the docs.
    pub(crate) meaning: &'static str,
    /// The crate version that added it.
    pub(crate) since: &'static str,
    /// The transports that honour it; given with another scheme it is an
    /// error naming it.
    pub(crate) transports: &'static [Transport],
    /// Sets the field.
    pub(crate) apply: Apply,
    /// Writes the field back.
    pub(crate) write: Write,
}

/// Every transport: QWP over WebSocket and both ILP transports.
pub(crate) const ALL: &[Transport] = &[Transport::Ws, Transport::Http, Transport::Tcp];

pub(crate) const fn key(
    name: &'static str,
    default: &'static str,
    used_by: Use,
    meaning: &'static str,
    codec: Codec,
) -> Key {
    Key {
        name,
        aliases: &[],
        default,
        used_by,
        status: Status::Honoured,
        secret: false,
        repeatable: false,
        covers: &[],
        meaning,
        since: "0.1",
        transports: &[Transport::Ws],
        apply: codec.apply,
        write: codec.write,
    }
}

impl Key {
    pub(crate) const fn alias(mut self, aliases: &'static [&'static str]) -> Key {
        self.aliases = aliases;
        self
    }

    pub(crate) const fn refused(mut self, why: &'static str) -> Key {
        self.status = Status::Refused(why);
        self
    }

    /// Honoured by `transports` (the default: WebSocket only).
    pub(crate) const fn on(mut self, transports: &'static [Transport]) -> Key {
        self.transports = transports;
        self
    }

    /// Added in crate version `v`.
    pub(crate) const fn since(mut self, v: &'static str) -> Key {
        self.since = v;
        self
    }

    /// Whether `scheme`'s transport honours it.
    pub(crate) fn serves(&self, t: Transport) -> bool {
        self.transports.contains(&t)
    }

    /// The error for this key given (as `spelling`) with a scheme of
    /// transport `t` that does not honour it.
    pub(crate) fn wrong_transport(&self, spelling: &str, scheme: &str, t: Transport) -> Error {
        let served: Vec<&str> = self.transports.iter().map(|t| t.schemes()).collect();
        let why = match t {
            Transport::Ws => format!(
                "an ILP key (only {}); {scheme}:: speaks QWP over WebSocket",
                served.join(", ")
            ),
            _ if self.transports == [Transport::Ws] => format!(
                "a QWP/WebSocket key (only ws:: or wss::); the ILP sender of {scheme}:: does not honour it"
            ),
            _ => format!(
                "only used by {}; {scheme}:: does not honour it",
                served.join(", ")
            ),
        };
        Error::new(crate::ErrorKind::Config, format!("`{spelling}`: {why}"))
    }

    pub(crate) const fn covers(mut self, keys: &'static [&'static str]) -> Key {
        self.covers = keys;
        self
    }

    pub(crate) const fn secret(mut self) -> Key {
        self.secret = true;
        self
    }

    /// Whether `spelling` names this key.
    pub(crate) fn is(&self, spelling: &str) -> bool {
        self.name == spelling || self.aliases.contains(&spelling)
    }
}

/// Sets the field(s) of one key: `(conf, key as spelled, value)`.
pub(crate) type Apply = fn(&mut Conf, &str, &str) -> Result<()>;
/// The value to write for one key, or `None` when it is at its default
/// (`(conf, defaults)`).
pub(crate) type Write = fn(&Conf, &Conf) -> Option<String>;

/// How one key's value is read into and written from [`Conf`].
#[derive(Clone, Copy)]
pub(crate) struct Codec {
    /// Sets the field.
    pub(crate) apply: Apply,
    /// Writes the field back.
    pub(crate) write: Write,
}

/// `Some(value)` when `value` differs from `default`.
pub(crate) fn changed<T: PartialEq>(
    value: T,
    default: T,
    show: impl FnOnce(T) -> String,
) -> Option<String> {
    (value != default).then(|| show(value))
}

pub(crate) fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

/// Codecs for the common kinds of field. The `apply`/`write` arm takes the
/// two functions as they are.
macro_rules! codec {
    // `field = parse(key, value)`, written back with `show` when it differs
    // from the default.
    (field $f:ident, $parse:expr, $show:expr) => {
        $crate::conf::entry::Codec {
            apply: |c, k, v| {
                c.$f = $parse(k, v)?;
                Ok(())
            },
            write: |c, d| $crate::conf::entry::changed(c.$f.clone(), d.$f.clone(), $show),
        }
    };
    // An `Option` field: `Some(parse(key, value))`, written back whenever
    // it is set.
    (opt $f:ident, $parse:expr, $show:expr) => {
        $crate::conf::entry::Codec {
            apply: |c, k, v| {
                c.$f = Some($parse(k, v)?);
                Ok(())
            },
            write: |c, _| c.$f.as_ref().map($show),
        }
    };
    (ms $f:ident) => {
        codec!(field $f, $crate::conf::grammar::parse_ms, $crate::conf::entry::millis)
    };
    // Optional milliseconds: `0` is `None`.
    (ms_or_zero $f:ident) => {
        codec!(
            field $f,
            |k, v| $crate::conf::grammar::parse_ms(k, v).map(|d| Some(d).filter(|d| !d.is_zero())),
            |t: Option<std::time::Duration>| t.map_or(0, |t| t.as_millis()).to_string()
        )
    };
    (on_off $f:ident) => {
        codec!(field $f, $crate::conf::grammar::parse_on_off, |b| {
            if b { "on" } else { "off" }.to_owned()
        })
    };
    (size $f:ident) => {
        codec!(field $f, $crate::conf::grammar::parse_size, |n: u64| n.to_string())
    };
    (size_opt $f:ident) => {
        codec!(opt $f, $crate::conf::grammar::parse_size, |n: &u64| n.to_string())
    };
    (num $f:ident) => {
        codec!(field $f, $crate::conf::grammar::parse_num, |n| n.to_string())
    };
    (text $f:ident) => {
        codec!(opt $f, |_, v: &str| Ok::<_, $crate::Error>(v.to_owned()), |t: &String| t.clone())
    };
    (path $f:ident) => {
        codec!(
            opt $f,
            |_, v: &str| Ok::<_, $crate::Error>(::std::path::PathBuf::from(v)),
            |p: &::std::path::PathBuf| p.to_string_lossy().into_owned()
        )
    };
    (enum $f:ident: $t:ident) => {
        codec!(field $f, $t::from_conf, |e: $t| e.to_string())
    };
    // `pool_size` and `pool_max`: one number for both pools, never written
    // back (the per-kind keys are).
    (both $a:ident $b:ident) => {
        $crate::conf::entry::Codec {
            apply: |c, k, v| {
                c.$a = $crate::conf::grammar::parse_num(k, v)?;
                c.$b = c.$a;
                Ok(())
            },
            write: |_, _| None,
        }
    };
    (apply $apply:expr, write $write:expr) => {
        $crate::conf::entry::Codec {
            apply: $apply,
            write: $write,
        }
    };
}

pub(crate) fn apply_addr(c: &mut Conf, _key: &str, v: &str) -> Result<()> {
    for entry in v.split(',') {
        let addr = Addr::parse(entry, c.scheme.default_port())?;
        if c.addrs.iter().any(|a| a.dedup_key() == addr.dedup_key()) {
            return Err(Error::config(
                "addr",
                v,
                format!("duplicate addr entry: {addr}"),
            ));
        }
        c.addrs.push(addr);
    }
    Ok(())
}

pub(crate) fn write_addr(c: &Conf, _: &Conf) -> Option<String> {
    let addrs: Vec<String> = c.addrs.iter().map(Addr::to_string).collect();
    Some(addrs.join(","))
}

pub(crate) fn apply_tls_ca(c: &mut Conf, k: &str, v: &str) -> Result<()> {
    // `pem_file` is the official Rust client's spelling for "use
    // tls_roots"; Conf::parse checks that tls_roots is present.
    if v != "pem_file" {
        c.tls_ca = TlsCa::from_conf(k, v).map_err(|_| {
            Error::config(
                k,
                v,
                "expected one of: webpki_roots, os_roots, webpki_and_os_roots, pem_file",
            )
        })?;
    }
    Ok(())
}

pub(crate) fn apply_sf_durability(c: &mut Conf, k: &str, v: &str) -> Result<()> {
    c.sf_durability = match v {
        "flush" | "append" => {
            return Err(Error::config(
                k,
                v,
                "is not supported (use memory or periodic)",
            ));
        }
        _ => SfDurability::from_conf(k, v)?,
    };
    Ok(())
}

pub(crate) fn apply_initial_connect_retry(c: &mut Conf, k: &str, v: &str) -> Result<()> {
    c.initial_connect_retry = match v {
        "off" | "false" => InitialConnectRetry::Off,
        "on" | "true" | "sync" => InitialConnectRetry::Sync,
        "async" => InitialConnectRetry::Async,
        _ => {
            return Err(Error::config(
                k,
                v,
                "expected one of: off, false, on, true, sync, async",
            ));
        }
    };
    Ok(())
}

pub(crate) fn apply_compression_level(c: &mut Conf, k: &str, v: &str) -> Result<()> {
    let n = parse_i64(k, v)?;
    c.compression_level = match i32::try_from(n) {
        Ok(n) if (1..=22).contains(&n) => n,
        _ => return Err(Error::config(k, v, "must be between 1 and 22")),
    };
    Ok(())
}

pub(crate) fn apply_max_batch_rows(c: &mut Conf, k: &str, v: &str) -> Result<()> {
    let n: u32 = parse_num(k, v)?;
    if !(1..=MAX_BATCH_ROWS_LIMIT).contains(&n) {
        return Err(Error::config(k, v, "must be between 1 and 1048576"));
    }
    c.max_batch_rows = Some(n);
    Ok(())
}

pub(crate) use codec;
