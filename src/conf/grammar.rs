//! The connect-string grammar: schemes, `key=value;` pairs with `;;`
//! escaping, and the value parsers (integers, milliseconds, sizes, on/off).

use std::fmt;
use std::time::Duration;

use super::values::Scheme;
use super::{REDACTED, keys};
use crate::{Error, ErrorKind, Result};

pub(crate) const KIB: u64 = 1024;
pub(crate) const MIB: u64 = 1024 * KIB;
pub(crate) const GIB: u64 = 1024 * MIB;

pub(crate) fn parse_scheme(s: &str) -> Result<Scheme> {
    const EXPECTED: &str = "ws::, wss::, http::, https::, tcp:: or tcps::";
    match s {
        "ws" | "qwpws" => Ok(Scheme::Ws),
        "wss" | "qwpwss" => Ok(Scheme::Wss),
        "http" => Ok(Scheme::Http),
        "https" => Ok(Scheme::Https),
        "tcp" => Ok(Scheme::Tcp),
        "tcps" => Ok(Scheme::Tcps),
        "udp" => Err(Error::new(
            ErrorKind::Config,
            format!("scheme udp is not supported by questdb-arrow (expected {EXPECTED})"),
        )),
        "" => Err(Error::new(
            ErrorKind::Config,
            format!("empty scheme (expected {EXPECTED})"),
        )),
        _ => Err(Error::new(
            ErrorKind::Config,
            format!("unknown scheme {s:?} (expected {EXPECTED})"),
        )),
    }
}

pub(crate) fn is_control(c: char) -> bool {
    c <= '\u{1f}' || ('\u{7f}'..='\u{9f}').contains(&c)
}

/// Splits `key=value;...` into pairs, unescaping `;;` and rejecting empty or
/// malformed keys, control characters and empty values. `base` is the byte
/// offset of `rest` in the whole string, for messages.
pub(crate) fn split_pairs(rest: &str, base: usize) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while let Some(&(start, _)) = chars.peek() {
        let mut key = String::new();
        let mut has_eq = false;
        for (_, c) in chars.by_ref() {
            match c {
                '=' => {
                    has_eq = true;
                    break;
                }
                ';' => break,
                _ => key.push(c),
            }
        }
        let at = base + start;
        if !has_eq {
            // The text is not echoed: it may be the tail of a password
            // with an unescaped `;`.
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "missing `=` after the key at byte {at} (expected `key=value;`; \
                     write a literal `;` in a value as `;;`)"
                ),
            ));
        }
        if key.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("empty key at byte {at}"),
            ));
        }
        if let Some(c) = key
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "invalid character {c:?} in key at byte {at} \
                     (keys are ASCII letters, digits and `_`)"
                ),
            ));
        }

        let secret = keys::lookup(&key).is_some_and(|k| k.secret);
        let mut value = String::new();
        while let Some((i, c)) = chars.next() {
            if c == ';' {
                if chars.next_if(|&(_, c)| c == ';').is_some() {
                    value.push(';');
                    continue;
                }
                break;
            }
            if is_control(c) {
                let shown = if secret { REDACTED } else { value.as_str() };
                return Err(Error::config(
                    &key,
                    shown,
                    format!(
                        "control character U+{:04X} at byte {} is not allowed",
                        c as u32,
                        base + i
                    ),
                ));
            }
            value.push(c);
        }
        if value.is_empty() {
            return Err(Error::config(&key, "", "value must not be empty"));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Rejects an empty value or one with a control character, as
/// [`split_pairs`] does (for values given in code).
pub(crate) fn check_value(key: &str, value: &str, secret: bool) -> Result<()> {
    if value.is_empty() {
        return Err(Error::config(key, "", "value must not be empty"));
    }
    if let Some((i, c)) = value.char_indices().find(|&(_, c)| is_control(c)) {
        let shown = if secret { REDACTED } else { &value[..i] };
        return Err(Error::config(
            key,
            shown,
            format!(
                "control character U+{:04X} at byte {i} is not allowed",
                c as u32
            ),
        ));
    }
    Ok(())
}

/// A non-empty string of ASCII digits as a number; `None` on anything else
/// or overflow.
pub(crate) fn parse_digits(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

pub(crate) fn parse_u64(key: &str, v: &str) -> Result<u64> {
    parse_digits(v).ok_or_else(|| Error::config(key, v, "expected a non-negative integer"))
}

/// A non-negative integer that fits `T`.
pub(crate) fn parse_num<T: TryFrom<u64>>(key: &str, v: &str) -> Result<T> {
    T::try_from(parse_u64(key, v)?).map_err(|_| Error::config(key, v, "number is too large"))
}

pub(crate) fn parse_i64(key: &str, v: &str) -> Result<i64> {
    let (neg, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v),
    };
    let n = parse_digits(digits).ok_or_else(|| Error::config(key, v, "expected an integer"))?;
    let n = i64::try_from(n).map_err(|_| Error::config(key, v, "number is too large"))?;
    Ok(if neg { -n } else { n })
}

pub(crate) fn parse_ms(key: &str, v: &str) -> Result<Duration> {
    parse_digits(v)
        .map(Duration::from_millis)
        .ok_or_else(|| Error::config(key, v, "expected a non-negative integer of milliseconds"))
}

pub(crate) fn parse_on_off(key: &str, v: &str) -> Result<bool> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(Error::config(key, v, "expected on or off")),
    }
}

/// `off` as `None`, anything else through `parse`.
pub(crate) fn parse_or_off<T>(v: &str, parse: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
    if v == "off" {
        Ok(None)
    } else {
        parse().map(Some)
    }
}

/// A byte size: digits with an optional case-insensitive 1024-based suffix
/// (`k`, `kb`, `m`, `mb`, `g`, `gb`, `t`, `tb`).
pub(crate) fn parse_size(key: &str, v: &str) -> Result<u64> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, suffix) = v.split_at(split);
    let n = parse_digits(num).ok_or_else(|| {
        Error::config(
            key,
            v,
            "expected a size in bytes, optionally with a k/kb, m/mb, g/gb or t/tb suffix",
        )
    })?;
    let mult = match suffix.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kb" => KIB,
        "m" | "mb" => MIB,
        "g" | "gb" => GIB,
        "t" | "tb" => 1024 * GIB,
        _ => {
            return Err(Error::config(
                key,
                v,
                "unknown size suffix (expected k/kb, m/mb, g/gb or t/tb)",
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| Error::config(key, v, "size is too large"))
}

/// `off` for `None`, else the value.
pub(crate) fn off_or<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "off".to_owned(), |n| n.to_string())
}

/// Appends `key=value;` to a connect string, escaping `;` in the value.
pub(crate) fn push_pair(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push('=');
    out.push_str(&value.replace(';', ";;"));
    out.push(';');
}
