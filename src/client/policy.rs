//! Ingest error policies: what a server rejection of a batch does to
//! [`Sender::ingest`](super::Sender::ingest) and
//! [`Sender::flush_arrow_batch`](super::Sender::flush_arrow_batch).
//!
//! A rejection's status falls in one [`Category`]; its [`Policy`] is, from
//! the first source that names one:
//!
//! 1. [`IngestOptions::on_error`](super::IngestOptions::on_error) (code);
//! 2. the category's connect-string key (`on_schema_error`, ...) unless it
//!    is `auto` (its default);
//! 3. `on_server_error` unless it is `auto` (its default);
//! 4. the category's default: [`Category::default_policy`].
//!
//! | Status | Category | Key | Default |
//! |---|---|---|---|
//! | SCHEMA_MISMATCH | [`Category::SchemaMismatch`] | `on_schema_error` | halt |
//! | PARSE_ERROR | [`Category::ParseError`] | `on_parse_error` | halt |
//! | INTERNAL_ERROR | [`Category::InternalError`] | `on_internal_error` | retry |
//! | SECURITY_ERROR | [`Category::SecurityError`] | `on_security_error` | halt |
//! | WRITE_ERROR | [`Category::WriteError`] | `on_write_error` | retry |
//!
//! Fixed, whatever is configured: NOT_WRITABLE is retried on the next
//! endpoint, DICTIONARY_GAP is retried (a reconnect re-registers the whole
//! symbol dictionary); any other status (an unknown byte, an egress-only
//! status such as LIMIT_EXCEEDED) and a protocol violation halt. A dropped
//! connection (I/O error, close, acknowledgement timeout) is retried on the
//! next endpoint.
//!
//! The connect string cannot ask for [`Policy::DropAndContinue`]: the
//! protocol's policy values (`terminal`, `retriable`, `retriable_other`)
//! have no drop, so dropping data is a choice made in code only.

use crate::conf::{Conf, ErrorPolicy};
use crate::protocol::Status;

/// A class of server rejection that has a configurable [`Policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// SCHEMA_MISMATCH: a column's type does not fit the table.
    SchemaMismatch,
    /// PARSE_ERROR: the server could not read the frame.
    ParseError,
    /// INTERNAL_ERROR: the server failed.
    InternalError,
    /// SECURITY_ERROR: not authorized.
    SecurityError,
    /// WRITE_ERROR: the table does not take writes now (disk, suspended).
    WriteError,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 5] = [
        Category::SchemaMismatch,
        Category::ParseError,
        Category::InternalError,
        Category::SecurityError,
        Category::WriteError,
    ];

    /// The category of a rejection status; `None` for a status whose
    /// handling is fixed (see the module docs).
    pub fn of(status: Status) -> Option<Category> {
        match status {
            Status::SchemaMismatch => Some(Category::SchemaMismatch),
            Status::ParseError => Some(Category::ParseError),
            Status::InternalError => Some(Category::InternalError),
            Status::SecurityError => Some(Category::SecurityError),
            Status::WriteError => Some(Category::WriteError),
            _ => None,
        }
    }

    /// Its connect-string key (`"on_schema_error"`, ...).
    pub fn key(self) -> &'static str {
        match self {
            Category::SchemaMismatch => "on_schema_error",
            Category::ParseError => "on_parse_error",
            Category::InternalError => "on_internal_error",
            Category::SecurityError => "on_security_error",
            Category::WriteError => "on_write_error",
        }
    }

    /// The policy when neither code nor the connect string sets one: halt
    /// for schema, parse and security errors, retry for internal and write
    /// errors.
    pub fn default_policy(self) -> Policy {
        match self {
            Category::SchemaMismatch | Category::ParseError | Category::SecurityError => {
                Policy::Halt
            }
            Category::InternalError | Category::WriteError => Policy::Retry,
        }
    }

    fn configured(self, conf: &Conf) -> ErrorPolicy {
        match self {
            Category::SchemaMismatch => conf.on_schema_error(),
            Category::ParseError => conf.on_parse_error(),
            Category::InternalError => conf.on_internal_error(),
            Category::SecurityError => conf.on_security_error(),
            Category::WriteError => conf.on_write_error(),
        }
    }
}

/// What a rejection of a batch does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Stop (`terminal`): the call returns the rejection as an
    /// [`ErrorKind::Server`](crate::ErrorKind::Server) error with its
    /// status, naming the table, the batch and its rows; batches committed
    /// before it stay committed, the rest of the stream is not sent.
    Halt,
    /// Drop the rejected batch and go on (code only): nothing of the batch
    /// is committed (the server rolls back its frames), it is listed in
    /// [`IngestSummary::dropped`](super::IngestSummary::dropped), and the
    /// other batches are committed as usual. The call succeeds.
    DropAndContinue,
    /// Reconnect, to the same endpoint first, and resend every batch not
    /// committed (`retriable`), within `reconnect_max_duration_millis`; at
    /// `max_frame_rejections` rejections in a row without a commit the
    /// rejection halts. [`Sender::flush_arrow_batch`](super::Sender::flush_arrow_batch)
    /// never resends: there it halts.
    Retry,
    /// As [`Policy::Retry`], but reconnect to the next endpoint of `addr`
    /// first (`retriable_other`).
    RetryOther,
}

impl Policy {
    fn from_conf(p: ErrorPolicy) -> Option<Policy> {
        match p {
            ErrorPolicy::Auto => None,
            ErrorPolicy::Terminal => Some(Policy::Halt),
            ErrorPolicy::Retriable => Some(Policy::Retry),
            ErrorPolicy::RetriableOther => Some(Policy::RetryOther),
        }
    }
}

/// What the sender does with one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Return the error.
    Halt,
    /// Record the batch as dropped and go on.
    Drop,
    /// Reconnect and resend; `rotate`: start at the next endpoint.
    Retry { rotate: bool },
}

/// The resolved policy of every category for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policies([Policy; 5]);

impl Default for Policies {
    fn default() -> Self {
        Policies::resolve(&[], None)
    }
}

impl Policies {
    /// Code overrides (the last one for a category wins) over the connect
    /// string over the defaults.
    pub(crate) fn resolve(overrides: &[(Category, Policy)], conf: Option<&Conf>) -> Policies {
        Policies(Category::ALL.map(|c| {
            overrides
                .iter()
                .rev()
                .find(|(o, _)| *o == c)
                .map(|(_, p)| *p)
                .or_else(|| conf.and_then(|f| Policy::from_conf(c.configured(f))))
                .or_else(|| conf.and_then(|f| Policy::from_conf(f.on_server_error())))
                .unwrap_or_else(|| c.default_policy())
        }))
    }

    /// The policy of `c`.
    pub(crate) fn of(&self, c: Category) -> Policy {
        let i = Category::ALL.iter().position(|x| *x == c).unwrap_or(0);
        self.0[i]
    }

    /// What a rejection with `status` does.
    pub(crate) fn action(&self, status: Status) -> Action {
        match Category::of(status) {
            Some(c) => match self.of(c) {
                Policy::Halt => Action::Halt,
                Policy::DropAndContinue => Action::Drop,
                Policy::Retry => Action::Retry { rotate: false },
                Policy::RetryOther => Action::Retry { rotate: true },
            },
            None => match status {
                Status::NotWritable => Action::Retry { rotate: true },
                Status::DictionaryGap => Action::Retry { rotate: false },
                _ => Action::Halt,
            },
        }
    }
}

/// A batch a [`Policy::DropAndContinue`] rejection dropped: nothing of it
/// was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The table it was for.
    pub table: String,
    /// Its position among the batches of the call, from 0.
    pub batch: u64,
    /// Its rows.
    pub rows: u64,
    /// The server's status.
    pub status: Status,
    /// The server's message.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(s: &str) -> Conf {
        Conf::parse(&format!("ws::addr=h:1;{s}")).unwrap()
    }

    #[test]
    fn defaults_follow_the_spec() {
        let p = Policies::default();
        assert_eq!(p.action(Status::SchemaMismatch), Action::Halt);
        assert_eq!(p.action(Status::ParseError), Action::Halt);
        assert_eq!(p.action(Status::SecurityError), Action::Halt);
        let retry = Action::Retry { rotate: false };
        assert_eq!(p.action(Status::InternalError), retry);
        assert_eq!(p.action(Status::WriteError), retry);
        assert_eq!(p.action(Status::DictionaryGap), retry);
        assert_eq!(
            p.action(Status::NotWritable),
            Action::Retry { rotate: true }
        );
        for s in [
            Status::Unknown(0x42),
            Status::LimitExceeded,
            Status::Cancelled,
        ] {
            assert_eq!(p.action(s), Action::Halt, "{s}");
        }
        assert_eq!(Policies::resolve(&[], Some(&conf(""))), p);
    }

    #[test]
    fn code_beats_category_key_beats_server_key_beats_default() {
        let c = conf("on_server_error=retriable_other;on_schema_error=retriable");
        let p = Policies::resolve(&[], Some(&c));
        assert_eq!(p.of(Category::SchemaMismatch), Policy::Retry);
        assert_eq!(p.of(Category::ParseError), Policy::RetryOther);
        assert_eq!(p.of(Category::WriteError), Policy::RetryOther);
        let p = Policies::resolve(
            &[
                (Category::SchemaMismatch, Policy::Halt),
                (Category::SchemaMismatch, Policy::DropAndContinue),
            ],
            Some(&c),
        );
        assert_eq!(p.of(Category::SchemaMismatch), Policy::DropAndContinue);
        assert_eq!(p.of(Category::ParseError), Policy::RetryOther);
        let c = conf("on_write_error=terminal;on_server_error=auto");
        let p = Policies::resolve(&[], Some(&c));
        assert_eq!(p.of(Category::WriteError), Policy::Halt);
        assert_eq!(p.of(Category::InternalError), Policy::Retry);
    }

    #[test]
    fn fixed_statuses_ignore_every_setting() {
        let c = conf("on_server_error=terminal");
        let over: Vec<_> = Category::ALL
            .iter()
            .map(|c| (*c, Policy::DropAndContinue))
            .collect();
        let p = Policies::resolve(&over, Some(&c));
        assert_eq!(p.action(Status::Unknown(0x30)), Action::Halt);
        assert_eq!(
            p.action(Status::NotWritable),
            Action::Retry { rotate: true }
        );
        assert_eq!(p.action(Status::WriteError), Action::Drop);
    }
}
