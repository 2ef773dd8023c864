//! Egress (`/read/v1`): SQL queries from client to server, result streams
//! back.
//!
//! Client → server frames have **no** 12-byte header: the payload starts with
//! the message kind. Server → client frames carry the header, then a payload
//! starting with the message kind.
//!
//! The module is split by job: `request` (client → server messages and
//! binds), `control` (SERVER_INFO, roles and the other owned server
//! messages), `result` (a RESULT_BATCH as the server frames it) and
//! `inbound` (a server frame as the client decodes it).

mod control;
mod inbound;
mod request;
mod result;
#[cfg(test)]
mod tests;

pub use control::{Role, ServerControl, ServerInfo};
pub use inbound::{BatchView, Inflater, RawBatch, ServerMessage, decode_server_message};
pub use request::{ClientMessage, QueryRequest, bind_len, decode_bind, put_bind};
pub use result::{
    ResultBatch, put_result_batch_head, raw_result_batch_frame, result_batch_frame,
    result_batch_head_len,
};

/// Message kind: QUERY_REQUEST (C→S).
pub const MSG_QUERY_REQUEST: u8 = 0x10;
/// Message kind: RESULT_BATCH (S→C).
pub const MSG_RESULT_BATCH: u8 = 0x11;
/// Message kind: RESULT_END (S→C).
pub const MSG_RESULT_END: u8 = 0x12;
/// Message kind: QUERY_ERROR (S→C).
pub const MSG_QUERY_ERROR: u8 = 0x13;
/// Message kind: CANCEL (C→S).
pub const MSG_CANCEL: u8 = 0x14;
/// Message kind: CREDIT (C→S).
pub const MSG_CREDIT: u8 = 0x15;
/// Message kind: EXEC_DONE (S→C).
pub const MSG_EXEC_DONE: u8 = 0x16;
/// Message kind: CACHE_RESET (S→C).
pub const MSG_CACHE_RESET: u8 = 0x17;
/// Message kind: SERVER_INFO (S→C).
pub const MSG_SERVER_INFO: u8 = 0x18;

/// SERVER_INFO capability: zone fields follow `node_id`.
pub const CAP_ZONE: u32 = 0x01;
/// SERVER_INFO capability: the server parses the `query_flags` trailer.
pub const CAP_QUERY_FLAGS: u32 = 0x02;
/// Query flag: clear the connection symbol dictionary before this query.
pub const QUERY_FLAG_RESET_DICT: u64 = 0x01;
/// Query flag: a `timeout_ms` varint follows the flags (needs a server
/// capability this crate's server does not advertise).
pub const QUERY_FLAG_TIMEOUT: u64 = 0x02;
/// CACHE_RESET mask bit: clear the symbol dictionary.
pub const RESET_MASK_DICT: u8 = 0x01;
