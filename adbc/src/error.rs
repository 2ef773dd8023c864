//! questdb-arrow errors as ADBC errors: an ADBC status and a SQLSTATE
//! chosen by the error's kind (and, for a server rejection, its QWP
//! status), the whole message (kind, status name, context and the text of
//! every source), and for a server rejection its QWP status as the vendor
//! code and as the error details [`DETAIL_STATUS`] and
//! [`DETAIL_STATUS_CODE`] (through the C ABI of ADBC 1.1 the vendor code
//! is reserved for signalling details).

use std::error::Error as _;
use std::os::raw::c_char;

use adbc_core::error::{Error, Status};
use questdb_arrow::error::Status as Qwp;
use questdb_arrow::{Error as QdbError, ErrorKind};

/// The SQLSTATE of an error the driver raises itself, or of a server
/// status without a better fit.
const NO_SQLSTATE: &str = "\0\0\0\0\0";

/// An ADBC error with `status`, `sqlstate` (five ASCII characters) and
/// `message`.
pub(crate) fn adbc_error(status: Status, sqlstate: &str, message: impl Into<String>) -> Error {
    let mut e = Error::with_message_and_status(message, status);
    e.sqlstate = sqlstate_bytes(sqlstate);
    e
}

fn sqlstate_bytes(s: &str) -> [c_char; 5] {
    let mut out = [0 as c_char; 5];
    for (o, b) in out.iter_mut().zip(s.bytes()) {
        *o = b as c_char;
    }
    out
}

/// A feature this driver does not offer: [`Status::NotImplemented`],
/// SQLSTATE `0A000` (feature not supported).
pub(crate) fn not_implemented(message: impl Into<String>) -> Error {
    adbc_error(Status::NotImplemented, "0A000", message)
}

/// A bad argument or option value: [`Status::InvalidArguments`].
pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
    adbc_error(Status::InvalidArguments, "HY024", message)
}

/// A call out of order (no query set, nothing bound, ...):
/// [`Status::InvalidState`].
pub(crate) fn invalid_state(message: impl Into<String>) -> Error {
    adbc_error(Status::InvalidState, "HY010", message)
}

/// A bug or a broken assumption of the driver: [`Status::Internal`].
pub(crate) fn internal(message: impl Into<String>) -> Error {
    adbc_error(Status::Internal, "XX000", message)
}

/// An option key this driver does not know, refused naming the key.
pub(crate) fn unknown_option(scope: &str, key: &str) -> Error {
    adbc_error(
        Status::NotImplemented,
        "HY092",
        format!("unknown {scope} option {key:?}"),
    )
}

/// The ADBC status and SQLSTATE of a QWP status the server rejected a
/// request with.
fn of_server_status(s: Qwp) -> (Status, &'static str) {
    match s {
        Qwp::SchemaMismatch => (Status::InvalidData, "42804"),
        Qwp::ParseError => (Status::InvalidArguments, "42601"),
        Qwp::InternalError => (Status::Internal, "XX000"),
        Qwp::SecurityError => (Status::Unauthorized, "42501"),
        Qwp::WriteError => (Status::IO, "58030"),
        Qwp::Cancelled => (Status::Cancelled, "57014"),
        Qwp::LimitExceeded => (Status::Internal, "54000"),
        Qwp::NotWritable => (Status::InvalidState, "25006"),
        _ => (Status::Unknown, NO_SQLSTATE),
    }
}

/// The ADBC status and SQLSTATE of an error kind.
fn of_kind(k: ErrorKind) -> (Status, &'static str) {
    match k {
        ErrorKind::Config => (Status::InvalidArguments, "HY024"),
        ErrorKind::Io | ErrorKind::Tls | ErrorKind::Handshake | ErrorKind::RoleReject => {
            (Status::IO, "08001")
        }
        ErrorKind::Closed => (Status::IO, "08006"),
        ErrorKind::Auth => (Status::Unauthenticated, "28000"),
        ErrorKind::Incompatible => (Status::NotImplemented, "08004"),
        ErrorKind::Protocol => (Status::Internal, "08P01"),
        ErrorKind::Unsupported => (Status::NotImplemented, "0A000"),
        ErrorKind::InvalidData => (Status::InvalidData, "22000"),
        ErrorKind::Timeout => (Status::Timeout, "HYT00"),
        ErrorKind::PoolExhausted => (Status::InvalidState, "53300"),
        _ => (Status::Internal, "XX000"),
    }
}

/// The full text of `e`: its `Display` (kind, status, message, first
/// source) and every deeper source.
fn full_text(e: &QdbError) -> String {
    let mut text = e.to_string();
    let mut src = e.source().and_then(|s| s.source());
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

/// Converts a questdb-arrow error; see the module docs.
pub(crate) fn from_qdb(e: QdbError) -> Error {
    let (status, sqlstate) = match e.status() {
        Some(s) if e.kind() == ErrorKind::Server => of_server_status(s),
        _ => of_kind(e.kind()),
    };
    let mut out = adbc_error(status, sqlstate, full_text(&e));
    if let Some(s) = e.status() {
        out.vendor_code = i32::from(s.code());
        // ADBC 1.1 callers get `vendor_code` reserved for error details:
        // the status travels in those too.
        out.details = Some(vec![
            (DETAIL_STATUS.into(), s.name().as_bytes().to_vec()),
            (DETAIL_STATUS_CODE.into(), s.code().to_string().into_bytes()),
        ]);
    }
    out
}

/// The error detail with the QWP status name (`PARSE_ERROR`, ...) of a
/// server rejection.
pub const DETAIL_STATUS: &str = "questdb.status";

/// The error detail with the QWP status byte, in decimal text.
pub const DETAIL_STATUS_CODE: &str = "questdb.status_code";

/// Converts an Arrow error from a bound stream or a result: this crate's
/// error inside it keeps its status, anything else is [`Status::Internal`]
/// with the Arrow text.
pub(crate) fn from_arrow(e: arrow::error::ArrowError) -> Error {
    from_qdb(QdbError::arrow(ErrorKind::InvalidData, "", e))
}

/// `?` on questdb-arrow results inside the driver.
pub(crate) trait OrAdbc<T> {
    /// The result with its error converted by [`from_qdb`].
    fn or_adbc(self) -> adbc_core::error::Result<T>;
}

impl<T> OrAdbc<T> for questdb_arrow::Result<T> {
    fn or_adbc(self) -> adbc_core::error::Result<T> {
        self.map_err(from_qdb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_rejection_keeps_status_and_message() {
        let e = from_qdb(QdbError::server(Qwp::ParseError, "unexpected token [FROM]"));
        assert_eq!(e.status, Status::InvalidArguments);
        assert_eq!(e.vendor_code, 0x05);
        assert_eq!(e.sqlstate, sqlstate_bytes("42601"));
        assert!(e.message.contains("PARSE_ERROR"), "{}", e.message);
        assert!(
            e.message.contains("unexpected token [FROM]"),
            "{}",
            e.message
        );
        let details = e.details.unwrap();
        assert!(details.contains(&(DETAIL_STATUS.into(), b"PARSE_ERROR".to_vec())));
        assert!(details.contains(&(DETAIL_STATUS_CODE.into(), b"5".to_vec())));
    }

    #[test]
    fn kinds_map_to_statuses() {
        let e = from_qdb(QdbError::new(ErrorKind::Auth, "bad password"));
        assert_eq!(e.status, Status::Unauthenticated);
        assert_eq!(e.sqlstate, sqlstate_bytes("28000"));
        assert_eq!(e.vendor_code, 0);
        let e = from_qdb(QdbError::new(ErrorKind::Config, "addr: empty"));
        assert_eq!(e.status, Status::InvalidArguments);
    }

    /// An error whose text leaves its source out.
    #[derive(Debug)]
    struct Layer(std::io::Error);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("layer")
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn nested_sources_are_in_the_message() {
        let layer = Layer(std::io::Error::other("inner cause"));
        let e = from_qdb(QdbError::wrap(ErrorKind::Io, "reading", layer));
        assert_eq!(e.status, Status::IO);
        assert!(
            e.message.ends_with("reading: layer: inner cause"),
            "{}",
            e.message
        );
    }
}
