//! Server → client messages other than result batches: SERVER_INFO and
//! the role it announces, RESULT_END, QUERY_ERROR, EXEC_DONE and
//! CACHE_RESET.

use super::*;
use crate::protocol::wire::{Out, varint_len};
use crate::protocol::{HEADER_LEN, Header, Status, VERSION};

/// Replication role announced in SERVER_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// No replication; behaves like a primary.
    Standalone,
    /// Authoritative writer.
    Primary,
    /// Read-only, may lag.
    Replica,
    /// Promotion in progress; behaves like a primary.
    PrimaryCatchup,
    /// A role byte this crate does not know.
    Unknown(u8),
}

impl Role {
    /// From the wire byte.
    pub fn from_code(c: u8) -> Role {
        match c {
            0 => Role::Standalone,
            1 => Role::Primary,
            2 => Role::Replica,
            3 => Role::PrimaryCatchup,
            c => Role::Unknown(c),
        }
    }

    /// The wire byte.
    pub fn code(self) -> u8 {
        match self {
            Role::Standalone => 0,
            Role::Primary => 1,
            Role::Replica => 2,
            Role::PrimaryCatchup => 3,
            Role::Unknown(c) => c,
        }
    }

    /// The spec's name (`STANDALONE`, `PRIMARY`, `REPLICA`, `PRIMARY_CATCHUP`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Standalone => "STANDALONE",
            Role::Primary => "PRIMARY",
            Role::Replica => "REPLICA",
            Role::PrimaryCatchup => "PRIMARY_CATCHUP",
            Role::Unknown(_) => "UNKNOWN",
        }
    }
}

/// SERVER_INFO: the first frame after the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// Replication role.
    pub role: Role,
    /// Role epoch (a hint; 0 without fencing).
    pub epoch: u64,
    /// Capability bits (`CAP_*`).
    pub capabilities: u32,
    /// Server wall clock, ns since the epoch.
    pub server_wall_ns: i64,
    /// Cluster id.
    pub cluster_id: String,
    /// Node id.
    pub node_id: String,
    /// Zone id; written iff `capabilities & CAP_ZONE`.
    pub zone_id: Option<String>,
}

/// A server → client message other than a result batch, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerControl {
    /// RESULT_END: the cursor is exhausted.
    ResultEnd {
        /// Request id.
        request_id: i64,
        /// `batch_seq` of the last batch (0 if none).
        final_seq: u64,
        /// Total rows produced (0 if not tracked).
        total_rows: u64,
    },
    /// QUERY_ERROR: the request failed (terminal for it).
    QueryError {
        /// Request id (−1 when not attributable).
        request_id: i64,
        /// Why.
        status: Status,
        /// The server's message.
        message: String,
    },
    /// EXEC_DONE: a non-SELECT statement finished.
    ExecDone {
        /// Request id.
        request_id: i64,
        /// Statement type discriminator (opaque).
        op_type: u8,
        /// Rows inserted/updated; 0 for DDL.
        rows_affected: u64,
    },
    /// CACHE_RESET: clear connection caches per the mask.
    CacheReset {
        /// `RESET_MASK_*` bits; unknown bits are ignored.
        mask: u8,
    },
    /// SERVER_INFO.
    ServerInfo(ServerInfo),
}

impl ServerControl {
    fn payload_len(&self) -> usize {
        match self {
            ServerControl::ResultEnd {
                final_seq,
                total_rows,
                ..
            } => 9 + varint_len(*final_seq) + varint_len(*total_rows),
            ServerControl::QueryError { message, .. } => {
                9 + 1 + 2 + crate::protocol::ingress::clip_u16(message).len()
            }
            ServerControl::ExecDone { rows_affected, .. } => 10 + varint_len(*rows_affected),
            ServerControl::CacheReset { .. } => 2,
            ServerControl::ServerInfo(i) => {
                let zone = if i.capabilities & CAP_ZONE != 0 {
                    2 + i.zone_id.as_deref().map_or(0, |z| clip16(z).len())
                } else {
                    0
                };
                22 + 2 + clip16(&i.cluster_id).len() + 2 + clip16(&i.node_id).len() + zone
            }
        }
    }

    /// Encodes the whole frame (header included).
    pub fn to_frame(&self) -> Vec<u8> {
        let payload = self.payload_len();
        let mut frame = vec![0; HEADER_LEN + payload];
        let mut out = Out::plain(&mut frame);
        Header {
            version: VERSION,
            flags: 0,
            table_count: 0,
            payload_len: payload as u32,
        }
        .write(&mut out);
        match self {
            ServerControl::ResultEnd {
                request_id,
                final_seq,
                total_rows,
            } => {
                out.u8(MSG_RESULT_END);
                out.i64(*request_id);
                out.varint(*final_seq);
                out.varint(*total_rows);
            }
            ServerControl::QueryError {
                request_id,
                status,
                message,
            } => {
                out.u8(MSG_QUERY_ERROR);
                out.i64(*request_id);
                out.u8(status.code());
                out.str_u16(crate::protocol::ingress::clip_u16(message).as_bytes());
            }
            ServerControl::ExecDone {
                request_id,
                op_type,
                rows_affected,
            } => {
                out.u8(MSG_EXEC_DONE);
                out.i64(*request_id);
                out.u8(*op_type);
                out.varint(*rows_affected);
            }
            ServerControl::CacheReset { mask } => {
                out.u8(MSG_CACHE_RESET);
                out.u8(*mask);
            }
            ServerControl::ServerInfo(i) => {
                out.u8(MSG_SERVER_INFO);
                out.u8(i.role.code());
                out.put(&i.epoch.to_le_bytes());
                out.u32(i.capabilities);
                out.i64(i.server_wall_ns);
                out.str_u16(clip16(&i.cluster_id).as_bytes());
                out.str_u16(clip16(&i.node_id).as_bytes());
                if i.capabilities & CAP_ZONE != 0 {
                    out.str_u16(clip16(i.zone_id.as_deref().unwrap_or("")).as_bytes());
                }
            }
        }
        frame
    }
}

fn clip16(s: &str) -> &str {
    crate::protocol::ingress::clip_u16(s)
}
