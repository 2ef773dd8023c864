//! QWP status codes: what a server answers a frame or a query with.

use std::fmt;

/// A QWP status code, shared by ingress responses and egress `QUERY_ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0x00: batch accepted.
    Ok,
    /// 0x02: batch durably uploaded (Enterprise).
    DurableAck,
    /// 0x03: column type incompatible with the table (or bind with placeholder).
    SchemaMismatch,
    /// 0x05: malformed message or SQL syntax error.
    ParseError,
    /// 0x06: server-side error.
    InternalError,
    /// 0x08: authorization failure.
    SecurityError,
    /// 0x09: write failure.
    WriteError,
    /// 0x0A: query cancelled.
    Cancelled,
    /// 0x0B: a server limit was hit.
    LimitExceeded,
    /// 0x0C: node cannot accept writes (reserved).
    NotWritable,
    /// 0x0D: delta dictionary starts beyond the server's dictionary.
    DictionaryGap,
    /// Any other byte (treated as retriable).
    Unknown(u8),
}

impl Status {
    /// The status for a wire byte.
    pub fn from_code(c: u8) -> Status {
        match c {
            0x00 => Status::Ok,
            0x02 => Status::DurableAck,
            0x03 => Status::SchemaMismatch,
            0x05 => Status::ParseError,
            0x06 => Status::InternalError,
            0x08 => Status::SecurityError,
            0x09 => Status::WriteError,
            0x0A => Status::Cancelled,
            0x0B => Status::LimitExceeded,
            0x0C => Status::NotWritable,
            0x0D => Status::DictionaryGap,
            other => Status::Unknown(other),
        }
    }

    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0x00,
            Status::DurableAck => 0x02,
            Status::SchemaMismatch => 0x03,
            Status::ParseError => 0x05,
            Status::InternalError => 0x06,
            Status::SecurityError => 0x08,
            Status::WriteError => 0x09,
            Status::Cancelled => 0x0A,
            Status::LimitExceeded => 0x0B,
            Status::NotWritable => 0x0C,
            Status::DictionaryGap => 0x0D,
            Status::Unknown(c) => c,
        }
    }

    /// The spec's name (`"SCHEMA_MISMATCH"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::DurableAck => "DURABLE_ACK",
            Status::SchemaMismatch => "SCHEMA_MISMATCH",
            Status::ParseError => "PARSE_ERROR",
            Status::InternalError => "INTERNAL_ERROR",
            Status::SecurityError => "SECURITY_ERROR",
            Status::WriteError => "WRITE_ERROR",
            Status::Cancelled => "CANCELLED",
            Status::LimitExceeded => "LIMIT_EXCEEDED",
            Status::NotWritable => "NOT_WRITABLE",
            Status::DictionaryGap => "DICTIONARY_GAP",
            Status::Unknown(_) => "UNKNOWN",
        }
    }

    /// Whether the spec's default policy retries a frame rejected with this
    /// status (after recycling the connection) rather than failing for good.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            Status::InternalError
                | Status::WriteError
                | Status::NotWritable
                | Status::DictionaryGap
                | Status::Unknown(_)
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} 0x{:02X}", self.name(), self.code())
    }
}
