//! The ILP keys of a [`Conf`] (`http::`, `https::`, `tcp::`, `tcps::`):
//! their accessors and the checks that join them.

use std::net::IpAddr;
use std::time::Duration;

use super::Conf;
use super::values::{ProtocolVersion, Transport};
use crate::{Error, Result};

impl Conf {
    /// The ILP protocol version (`protocol_version`): `auto` by default on
    /// HTTP, `1` on TCP (which cannot ask the server).
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.protocol_version
    }

    /// How long a failed HTTP request is retried (`retry_timeout`); zero =
    /// never.
    pub fn retry_timeout(&self) -> Duration {
        self.retry_timeout
    }

    /// The base timeout of an HTTP request (`request_timeout`).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Bytes per second the request timeout allows for the body
    /// (`request_min_throughput`); 0 = no allowance.
    pub fn request_min_throughput(&self) -> u64 {
        self.request_min_throughput
    }

    /// The timeout of an HTTP request with a body of `body_len` bytes:
    /// `request_timeout + body_len / request_min_throughput`.
    pub fn request_timeout_for(&self, body_len: usize) -> Duration {
        let extra = match self.request_min_throughput {
            0 => Duration::ZERO,
            bps => Duration::from_secs_f64(body_len as f64 / bps as f64),
        };
        self.request_timeout.saturating_add(extra)
    }

    /// The local address TCP connections are made from (`bind_interface`).
    pub fn bind_interface(&self) -> Option<IpAddr> {
        self.bind_interface
    }

    /// The ECDSA public key's `x`, base64url (`token_x`).
    pub fn token_x(&self) -> Option<&str> {
        self.token_x.as_deref()
    }

    /// The ECDSA public key's `y`, base64url (`token_y`).
    pub fn token_y(&self) -> Option<&str> {
        self.token_y.as_deref()
    }

    /// The checks joining ILP keys: `auto` needs HTTP; TCP authentication
    /// needs `username`, `token`, `token_x` and `token_y` together; the
    /// request timeout is positive. (A key the scheme's transport does not
    /// honour, such as `password` on TCP, is refused by the key table.)
    pub(super) fn check_ilp(&self) -> Result<()> {
        let t = self.scheme.transport();
        if t == Transport::Tcp {
            if self.protocol_version == ProtocolVersion::Auto {
                return Err(Error::config(
                    "protocol_version",
                    "auto",
                    "needs http:: or https:: (auto asks the server's /settings; over TCP give 1, 2 or 3)",
                ));
            }
            let parts = [
                ("username", self.username.is_some()),
                ("token", self.token.is_some()),
                ("token_x", self.token_x.is_some()),
                ("token_y", self.token_y.is_some()),
            ];
            if parts.iter().any(|p| p.1)
                && let Some((missing, _)) = parts.iter().find(|p| !p.1)
            {
                let given: Vec<&str> = parts.iter().filter(|p| p.1).map(|p| p.0).collect();
                return Err(Error::config(
                    missing,
                    "",
                    format!(
                        "is missing: ECDSA authentication over TCP needs username, token, token_x and token_y (given: {})",
                        given.join(", ")
                    ),
                ));
            }
        }
        if t == Transport::Http && self.request_timeout.is_zero() {
            return Err(Error::config(
                "request_timeout",
                "0",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}
